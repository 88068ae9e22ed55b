"""``mnist-demo bench train``: our engine vs the lesson's DataLoader, side by side in one run.

One epoch of each on the same device; then whole runs of the lesson's recipe and of the fast
preset (:data:`mnist_demo.training.options.PRESETS`), each timed to 99% test accuracy. Times are
training only: the per-epoch test evaluations are measured and left out, and the clock is read
after the device has finished its queued work.
"""

from __future__ import annotations

import dataclasses
import os
import time

import torch
import torch.nn.functional as F

from mnist_demo.config import MNIST, data_dir
from mnist_demo.data import load_split
from mnist_demo.device import describe, resolve_device, synchronize
from mnist_demo.recognition.model import SmallCNN
from mnist_demo.training.loop import EpochEvent, StepEvent, TrainConfig, TrainingRun
from mnist_demo.training.options import PRESETS

TARGET_ACCURACY = 0.99
# The presets timed to that accuracy: the lesson's own run, and the one made to be faster.
BENCH_PRESETS = ("lesson", "fast")


def lesson_epoch(
    root: str | os.PathLike[str] | None, seed: int, batch_size: int, device: torch.device
) -> tuple[float, float]:
    """One epoch the lesson's way: PIL samples through ToTensor and Normalize in a DataLoader,
    each batch moved to ``device``. Returns (seconds for the training epoch, test accuracy)."""
    from torchvision import datasets, transforms

    transform = transforms.Compose(
        [transforms.ToTensor(), transforms.Normalize((MNIST.mean,), (MNIST.std,))]
    )
    root = str(data_dir(root))
    train_set = datasets.MNIST(root, train=True, download=False, transform=transform)
    test_set = datasets.MNIST(root, train=False, download=False, transform=transform)
    torch.manual_seed(seed)
    loader = torch.utils.data.DataLoader(train_set, batch_size=batch_size, shuffle=True)
    model = SmallCNN().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    synchronize(device)
    started = time.perf_counter()
    model.train()
    for images, labels in loader:
        images, labels = images.to(device), labels.to(device)
        optimizer.zero_grad()
        loss = F.cross_entropy(model(images), labels)
        loss.backward()
        optimizer.step()
    synchronize(device)
    seconds = time.perf_counter() - started
    correct = 0
    model.eval()
    with torch.no_grad():
        for images, labels in torch.utils.data.DataLoader(test_set, batch_size=1000):
            predicted = model(images.to(device)).argmax(1).cpu()
            correct += (predicted == labels).sum().item()
    return seconds, correct / len(test_set)


@dataclasses.dataclass(frozen=True)
class TimedRun:
    """A whole run: training seconds (evaluations left out) and test accuracy per epoch."""

    config: TrainConfig
    train_seconds: list[float]  # Cumulative, at the end of each epoch.
    test_accuracy: list[float]

    def seconds_to(self, target: float) -> float | None:
        for seconds, accuracy in zip(self.train_seconds, self.test_accuracy, strict=True):
            if accuracy >= target:
                return seconds
        return None

    def as_dict(self, target: float = TARGET_ACCURACY) -> dict:
        reached = self.seconds_to(target)
        return {
            "epochs": self.config.epochs,
            "batch_size": self.config.batch_size,
            "learning_rate": self.config.learning_rate,
            "schedule": self.config.schedule,
            "train_seconds": round(self.train_seconds[-1], 3),
            "test_accuracy": self.test_accuracy[-1],
            "test_accuracy_per_epoch": self.test_accuracy,
            f"seconds_to_{target:.0%}": None if reached is None else round(reached, 3),
        }


def timed_run(config: TrainConfig, root: str | os.PathLike[str] | None) -> TimedRun:
    """Train ``config`` to the end, timing the training apart from the test evaluations.

    An epoch's last batch always yields a StepEvent (its sums are read, so the device has
    finished the epoch); the EpochEvent follows the test evaluation. The time between the two is
    the evaluation, and it is left out.
    """
    config = dataclasses.replace(config, log_every=10**9)
    load_split(config.dataset, train=True, root=root)  # Loading is a one-off: not timed.
    load_split(config.dataset, train=False, root=root)
    evaluating = 0.0
    epoch_end = None
    seconds, accuracy = [], []
    started = time.perf_counter()
    for event in TrainingRun(config, root):
        now = time.perf_counter()
        if isinstance(event, StepEvent):
            epoch_end = now
        elif isinstance(event, EpochEvent):
            evaluating += now - epoch_end
            seconds.append(now - started - evaluating)
            accuracy.append(event.test_accuracy)
    return TimedRun(config, seconds, accuracy)


def warm_up(device: torch.device) -> None:
    """Start the device's runtime (CUDA context, cuDNN, cuBLAS) before anything is timed."""
    model = SmallCNN().to(device)
    F.cross_entropy(
        model(torch.zeros(2, 1, 28, 28, device=device)),
        torch.zeros(2, dtype=torch.int64, device=device),
    ).backward()
    synchronize(device)


def bench_train(
    root=None,
    threads: int | None = None,
    seed: int = 0,
    batch_size: int = 128,
    device: str = "auto",
    recipes: bool = True,
) -> dict:
    """The one-epoch comparison, then (``recipes``) the lesson's run and the fast preset."""
    where = resolve_device(device)
    threads = threads or torch.get_num_threads()
    torch.set_num_threads(threads)
    warm_up(where)
    base = TrainConfig(batch_size=batch_size, seed=seed, threads=threads, device=where.type)
    engine = timed_run(dataclasses.replace(base, epochs=1), root)
    lesson_seconds, lesson_accuracy = lesson_epoch(root, seed, batch_size, where)
    result = {
        "device": describe(where),
        "threads": threads,
        "batch_size": batch_size,
        "engine_seconds_per_epoch": round(engine.train_seconds[0], 3),
        "lesson_seconds_per_epoch": round(lesson_seconds, 3),
        "speedup": round(lesson_seconds / engine.train_seconds[0], 2),
        "engine_test_accuracy": engine.test_accuracy[0],
        "lesson_test_accuracy": lesson_accuracy,
    }
    if recipes:
        result["recipes"] = {
            name: timed_run(dataclasses.replace(base, **PRESETS[name].values), root).as_dict()
            for name in BENCH_PRESETS
        }
    return result
