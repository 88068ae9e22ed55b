"""``mnist-demo bench numbers``: whole numbers read through read_number (a benchmark, not a test).

Numbers of 2-6 MNIST digits, redrawn with a round brush (mnist_demo.samples.numbers), in two sets:
clear gaps between the digits, and touching or overlapping neighbours. For each set: how often the
whole number is read right, how often the count of digits is, each digit in place, each digit
drawn alone on the same canvas (the per-digit figure a number's accuracy is bounded by: about its
power of the length), each digit as MNIST scanned it (its own 28x28 image: what the restroke
costs), and the time read_number takes. Tune on ``train=True``; the test split gives the reported
figure.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from mnist_demo.data import denormalize, load_split
from mnist_demo.numbers.read import NUMBER, read_number
from mnist_demo.recognition.inference import shipped_predictor
from mnist_demo.samples.numbers import GAPS, iter_numbers


def bench_numbers(
    count: int = 500, seed: int = 0, train: bool = False, root: Any = None
) -> dict[str, Any]:
    """The figures for each set of ``count`` numbers (see the module docstring)."""
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    predictor = shipped_predictor("mnist")  # Loading the weights is a one-off: not timed.
    result: dict[str, Any] = {
        "digits_from": "MNIST training set" if train else "MNIST test set",
        "numbers_per_set": count,
        "seed": seed,
        "threads": 1,
    }
    split = load_split("mnist", train=train, root=root)
    for gaps in GAPS:
        result[gaps] = score_set(iter_numbers(count, gaps, train, seed, root), predictor, split)
    return result


def score_set(numbers, predictor, split) -> dict[str, Any]:
    """The figures for one set; ``split`` is the MNIST split the numbers' digits come from."""
    import torch

    torch.set_num_threads(1)
    whole = counted = sure = sure_right = in_place = in_place_total = 0
    lone = lone_total = scanned = 0
    times, lengths = [], []
    for number in numbers:
        started = time.perf_counter()
        reading = read_number(number.image, predictor)
        times.append((time.perf_counter() - started) * 1000)
        lengths.append(len(number.label))
        whole += reading.number == number.label
        sure += reading.verdict == NUMBER
        sure_right += reading.verdict == NUMBER and reading.number == number.label
        if len(reading.number) == len(number.label):
            counted += 1
            in_place += sum(a == b for a, b in zip(reading.number, number.label, strict=True))
            in_place_total += len(number.label)
        for position, label in enumerate(number.label):
            lone += predictor.predict_full(number.digit_alone(position)).top == label
            own = denormalize(split.images[number.source_indices[position], 0], split.spec)
            scanned += (
                predictor.predict_full(np.rint(own.numpy() * 255).astype(np.uint8)).top == label
            )
            lone_total += 1
    total = len(times)
    lone_accuracy = lone / lone_total
    p50, p95 = np.percentile(times, [50, 95])
    return {
        "whole_number_accuracy": round(whole / total, 4),
        "digit_count_accuracy": round(counted / total, 4),
        "digit_accuracy_in_place": round(in_place / max(in_place_total, 1), 4),
        "digit_accuracy_alone": round(lone_accuracy, 4),
        "expected_from_alone": round(float(np.mean(lone_accuracy ** np.array(lengths))), 4),
        "digit_accuracy_as_scanned": round(scanned / lone_total, 4),
        "expected_from_scanned": round(
            float(np.mean((scanned / lone_total) ** np.array(lengths))), 4
        ),
        "said_number": round(sure / total, 4),
        "right_when_said_number": round(sure_right / max(sure, 1), 4),
        "ms_per_number_p50": round(float(p50), 1),
        "ms_per_number_p95": round(float(p95), 1),
        "mean_length": round(float(np.mean(lengths)), 2),
    }
