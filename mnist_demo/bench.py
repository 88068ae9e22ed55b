"""Benchmarks that print ratios measured side by side in one run (never timed tests)."""

from __future__ import annotations

import os
import time

import torch
import torch.nn.functional as F

from mnist_demo.config import MNIST, data_dir
from mnist_demo.data import load_split
from mnist_demo.evaluate import evaluate
from mnist_demo.model import SmallCNN
from mnist_demo.train import EpochEvent, TrainConfig, TrainingRun


def lesson_epoch(
    root: str | os.PathLike[str] | None, seed: int, batch_size: int
) -> tuple[float, float]:
    """One epoch the lesson's way: PIL samples through ToTensor and Normalize in a DataLoader.

    Returns (seconds for the training epoch, test accuracy after it).
    """
    from torchvision import datasets, transforms

    transform = transforms.Compose(
        [transforms.ToTensor(), transforms.Normalize((MNIST.mean,), (MNIST.std,))]
    )
    root = str(data_dir(root))
    train_set = datasets.MNIST(root, train=True, download=False, transform=transform)
    test_set = datasets.MNIST(root, train=False, download=False, transform=transform)
    torch.manual_seed(seed)
    loader = torch.utils.data.DataLoader(train_set, batch_size=batch_size, shuffle=True)
    model = SmallCNN()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    started = time.perf_counter()
    model.train()
    for images, labels in loader:
        optimizer.zero_grad()
        loss = F.cross_entropy(model(images), labels)
        loss.backward()
        optimizer.step()
    seconds = time.perf_counter() - started
    correct = 0
    model.eval()
    with torch.no_grad():
        for images, labels in torch.utils.data.DataLoader(test_set, batch_size=1000):
            correct += (model(images).argmax(1) == labels).sum().item()
    return seconds, correct / len(test_set)


def engine_epoch(
    root: str | os.PathLike[str] | None, seed: int, batch_size: int
) -> tuple[float, float]:
    """One epoch with our engine; the time excludes the test evaluation, as for the lesson."""
    config = TrainConfig(epochs=1, batch_size=batch_size, seed=seed, log_every=10**9)
    run = TrainingRun(config, root)
    load_split("mnist", train=True, root=root)  # Loading is a one-off per process: not timed.
    load_split("mnist", train=False, root=root)
    started = time.perf_counter()
    iterator = iter(run)
    seconds = accuracy = 0.0
    for event in iterator:
        if isinstance(event, EpochEvent):
            accuracy = event.test_accuracy
    # The epoch event comes after the test evaluation: time the training part alone.
    seconds = time.perf_counter() - started
    seconds -= timed_evaluation(run.model, root)
    return seconds, accuracy


def timed_evaluation(model: SmallCNN, root) -> float:
    started = time.perf_counter()
    evaluate(model, load_split("mnist", train=False, root=root))
    return time.perf_counter() - started


def bench_train(
    root=None, threads: int | None = None, seed: int = 0, batch_size: int = 128
) -> dict:
    threads = threads or torch.get_num_threads()
    torch.set_num_threads(threads)
    engine_seconds, engine_accuracy = engine_epoch(root, seed, batch_size)
    lesson_seconds, lesson_accuracy = lesson_epoch(root, seed, batch_size)
    return {
        "threads": threads,
        "batch_size": batch_size,
        "engine_seconds_per_epoch": round(engine_seconds, 3),
        "lesson_seconds_per_epoch": round(lesson_seconds, 3),
        "speedup": round(lesson_seconds / engine_seconds, 2),
        "engine_test_accuracy": engine_accuracy,
        "lesson_test_accuracy": lesson_accuracy,
    }


def bench_predict(
    repeats: int = 300,
    sizes: tuple[int, ...] = (280, 800),
    while_training: bool = False,
    root=None,
) -> dict:
    """predict() end to end (preprocessing + model) on Sketchpad values, one thread.

    The drawings are the ten template digits at a random size and place on each canvas, in the
    form gr.Sketchpad hands over; they need no dataset. Returns p50 and p95 in milliseconds.
    With ``while_training`` the same calls are timed again while a training run holds the
    trainer's share of the CPU (all cores but one, as on a hosted demo; needs MNIST), and the
    result adds those figures and the p50/p95 ratios, measured side by side in this one run.
    """
    import threading

    from mnist_demo.inference import shipped_predictor
    from mnist_demo.templates import template_drawing

    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    torch.set_num_threads(1)
    shipped_predictor("mnist")  # Loading the weights is a one-off: not timed.
    drawings = {
        size: [template_drawing(str(i % 10), size, seed=i // 10) for i in range(30)]
        for size in sizes
    }
    result: dict = {"threads": 1, "repeats": repeats, **_time_predictions(drawings, repeats)}
    if not while_training:
        return result

    trainer_threads = max(1, (os.cpu_count() or 2) - 1)
    run = TrainingRun(TrainConfig(epochs=1000, threads=trainer_threads), root)
    first_step = threading.Event()

    def train() -> None:
        for _ in run:
            first_step.set()
        first_step.set()  # Also when the run ended early (an error): never leave the bench hanging.

    trainer = threading.Thread(target=train, name="bench-trainer", daemon=True)
    trainer.start()
    first_step.wait()
    try:
        busy = _time_predictions(drawings, repeats)
    finally:
        run.stop()
        trainer.join()
    result["while_training"] = {"trainer_threads": trainer_threads, **busy}
    result["ratio_while_training"] = {
        stat: {size: round(busy[stat][size] / result[stat][size], 2) for size in result[stat]}
        for stat in ("p50_ms", "p95_ms")
    }
    return result


def _time_predictions(drawings: dict[int, list], repeats: int) -> dict:
    import numpy as np

    from mnist_demo.inference import predict

    timings: dict = {"p50_ms": {}, "p95_ms": {}}
    for size, batch in drawings.items():
        for drawing in batch:  # Warm-up: first calls pay for lazy allocations.
            predict(drawing)
        times = []
        for i in range(repeats):
            started = time.perf_counter()
            predict(batch[i % len(batch)])
            times.append((time.perf_counter() - started) * 1000)
        p50, p95 = np.percentile(times, [50, 95])
        timings["p50_ms"][str(size)] = round(float(p50), 3)
        timings["p95_ms"][str(size)] = round(float(p95), 3)
    return timings
