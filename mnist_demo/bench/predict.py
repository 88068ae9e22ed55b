"""``mnist-demo bench predict``: latency measured side by side in one run (never timed tests).

``bench train`` lives in :mod:`mnist_demo.bench.train`.
"""

from __future__ import annotations

import os
import time

import torch

from mnist_demo.training.loop import TrainConfig, TrainingRun


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

    from mnist_demo.recognition.inference import shipped_predictor
    from mnist_demo.samples.templates import template_drawing

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

    from mnist_demo.recognition.inference import predict

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
