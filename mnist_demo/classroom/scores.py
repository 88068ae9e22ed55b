"""Scoring a class's drawings: the pool's held-out part, a model's answers on 28x28 inputs in
batches, and a stored run's weights rebuilt and ranked (the board's arithmetic, no figures)."""

from __future__ import annotations

import hashlib

import numpy as np
import torch

from mnist_demo.config import IMAGE_SIZE, MNIST
from mnist_demo.data import normalize
from mnist_demo.recognition.checkpoint import build_model
from mnist_demo.recognition.inference import Predictor

# The share of the pool that no run of the class trains on and every run is scored on. Chosen by
# a hash of the drawing's id, so it never changes as the pool grows and needs no stored column.
HELD_OUT_PERCENT = 20
SCORE_BATCH = 512


def is_held_out(drawing_id: int) -> bool:
    """Whether a drawing is in the pool's held-out part (the same answer on every replica)."""
    digest = hashlib.blake2b(str(int(drawing_id)).encode(), digest_size=2).digest()
    return int.from_bytes(digest, "big") % 100 < HELD_OUT_PERCENT


def score_pixels(predictor: Predictor, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``pixels`` (N, 28, 28) in [0, 1], the model's input before normalisation -> (the answer
    (N,) int, its probability (N,) float) from ``predictor``'s served model, in batches."""
    if len(pixels) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.float64)
    model = predictor.model  # The predictor's private eval-mode copy: read, never trained.
    answers, confidences = [], []
    with torch.inference_mode():
        for start in range(0, len(pixels), SCORE_BATCH):
            chunk = torch.from_numpy(np.asarray(pixels[start : start + SCORE_BATCH], np.float32))
            inputs = normalize(chunk, predictor.spec).view(-1, 1, IMAGE_SIZE, IMAGE_SIZE)
            probabilities = torch.softmax(model(inputs).double(), dim=1)
            confidence, answer = probabilities.max(dim=1)
            answers.append(answer.numpy())
            confidences.append(confidence.numpy())
    return np.concatenate(answers), np.concatenate(confidences)


def accuracy_of(predictor: Predictor, drawings: list) -> float | None:
    """The share of ``drawings`` (store Drawings) that ``predictor`` labels as the student did."""
    if not drawings:
        return None
    answers, _ = score_pixels(predictor, np.stack([drawing.pixels for drawing in drawings]))
    labels = np.array([drawing.label for drawing in drawings])
    return float((answers == labels).mean())


def run_predictor(store, run_id: str) -> Predictor:
    """A stored run's weights, served like a visitor's retrained model."""
    return Predictor.from_model(run_model(store, run_id), MNIST.name)


def run_model(store, run_id: str):
    """A stored run's SmallCNN, rebuilt from its weights' own shapes."""
    return build_model(store.run_state_dict(run_id), {})


def ranked(runs: list) -> list:
    """Runs best first: by their held-out pool score, then their MNIST test score (unscored
    runs last)."""

    def key(run) -> tuple:
        pool = run.pool_accuracy if run.pool_accuracy is not None else -1.0
        test = run.test_accuracy if run.test_accuracy is not None else -1.0
        return (-pool, -test)

    return sorted(runs, key=key)
