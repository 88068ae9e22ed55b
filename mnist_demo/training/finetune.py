"""Teach the model your handwriting: a few optimiser steps on a learner's corrected drawings.

A learner who corrects a wrong prediction adds the 28x28 picture the model saw, with the right
label, to a small personal set. :func:`finetune` trains a private copy of the model on batches
that mix MNIST training images with those drawings, so that it learns the learner's style
without forgetting MNIST (replaying the original data is the simplest guard against
catastrophic forgetting). The model passed in, the shipped weights and other sessions are never
touched: the result holds a new model.
"""

from __future__ import annotations

import copy
import numbers
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from mnist_demo.config import IMAGE_SIZE, MNIST, DatasetSpec
from mnist_demo.data import Augmentation, Split, augment_batch, batch_indices, load_split
from mnist_demo.recognition.model import SmallCNN
from mnist_demo.recognition.preprocess import to_tensor
from mnist_demo.training.evaluate import evaluate, predict_logits

# Milder than training's augmentation: the drawings must still be learnt as they are, and
# small changes are enough to keep the model from learning their exact pixels.
PERSONAL_AUGMENTATION = Augmentation(
    max_rotation_degrees=8.0,
    scale_range=(0.9, 1.1),
    max_shift_pixels=1.5,
    thicken_probability=0.2,
    thin_probability=0.1,
)


@dataclass(frozen=True)
class PersonalExample:
    """One corrected drawing: the (28, 28) uint8 ink-bright picture the model saw, and its label."""

    picture: np.ndarray
    label: int


@dataclass(frozen=True)
class FinetuneResult:
    """The fine-tuned copy (eval mode) and accuracies before and after fine-tuning.

    ``test_before``/``test_after`` are measured on the test split (or its first ``test_subset``
    images); ``seconds`` is the whole call, evaluations included: what the learner waits for.
    ``steps`` counts the optimiser steps taken, fewer than asked if ``stop`` ended them.
    """

    model: SmallCNN
    personal_before: float
    personal_after: float
    test_before: float
    test_after: float
    steps: int
    seconds: float


def check_example(example: PersonalExample, position: int) -> tuple[np.ndarray, int]:
    """The example's picture (contiguous, as to_tensor needs) and label, or a ValueError."""
    picture, label = np.asarray(example.picture), example.label
    if picture.shape != (IMAGE_SIZE, IMAGE_SIZE) or picture.dtype != np.uint8:
        raise ValueError(
            f"personal example {position}: expected a ({IMAGE_SIZE}, {IMAGE_SIZE}) uint8 picture "
            f"(Preprocessed.picture), got shape {picture.shape} and dtype {picture.dtype}"
        )
    if isinstance(label, bool) or not isinstance(label, numbers.Integral):
        raise ValueError(
            f"personal example {position}: the label must be a class index, not {label!r}"
        )
    return np.ascontiguousarray(picture), int(label)


def examples_tensor(
    examples: Sequence[PersonalExample], spec: DatasetSpec = MNIST
) -> tuple[torch.Tensor, torch.Tensor]:
    """The pictures as (N, 1, 28, 28) model input, normalised as for prediction, and (N,) labels.

    Raises ValueError for a picture that is not (28, 28) uint8 or a label that is not an integer.
    """
    if not examples:
        return torch.empty(0, 1, IMAGE_SIZE, IMAGE_SIZE), torch.empty(0, dtype=torch.int64)
    checked = [check_example(example, position) for position, example in enumerate(examples)]
    images = torch.cat([to_tensor(picture, spec) for picture, _ in checked])  # (N, 1, 28, 28)
    return images, torch.tensor([label for _, label in checked], dtype=torch.int64)


def endless_batches(
    size: int, batch_size: int, generator: torch.Generator
) -> Iterator[torch.Tensor]:
    """Batches of exactly ``batch_size`` indices from successive shuffles of ``range(size)``.

    Every index appears once per shuffle, so a personal set smaller than a batch is repeated
    evenly rather than at random, and a larger one is seen in full every few steps.
    """
    pending = torch.empty(0, dtype=torch.int64)
    while True:
        while len(pending) < batch_size:
            # One batch the size of the data is one whole shuffled permutation.
            pending = torch.cat([pending, *batch_indices(size, size, True, generator)])
        yield pending[:batch_size]
        pending = pending[batch_size:]


def accuracy(model: SmallCNN, images: torch.Tensor, labels: torch.Tensor) -> float:
    return (predict_logits(model, images).argmax(1) == labels).double().mean().item()


def check_examples(model: SmallCNN, labels: torch.Tensor, train: Split, test: Split | None) -> None:
    if len(labels) == 0:
        raise ValueError(
            "no personal examples to fine-tune on: correct at least one prediction first"
        )
    num_classes = model.config.num_classes
    outside = sorted({label for label in labels.tolist() if not 0 <= label < num_classes})
    if outside:
        raise ValueError(f"labels {outside} are outside the model's classes 0..{num_classes - 1}")
    if len(train.spec.class_names) != num_classes:
        raise ValueError(
            f"the training split ({train.spec.title}) has {len(train.spec.class_names)} classes "
            f"but the model has {num_classes}"
        )
    if test is not None and test.spec != train.spec:
        raise ValueError(
            f"the test split is {test.spec.title} but the training split is {train.spec.title}"
        )


def check_settings(*, learning_rate: float, **counts: int | None) -> None:
    """Every count (None where optional) must be at least 1 and the learning rate positive."""
    for name, value in counts.items():
        if value is not None and value < 1:
            raise ValueError(f"{name} must be at least 1, got {value}")
    if not learning_rate > 0:
        raise ValueError(f"learning_rate must be positive, got {learning_rate}")


@dataclass(frozen=True)
class Scores:
    """Accuracy on the personal examples and on the test split, at one moment."""

    personal: float
    test: float


def scores(model: SmallCNN, personal: tuple[torch.Tensor, torch.Tensor], test: Split) -> Scores:
    return Scores(accuracy(model, *personal), evaluate(model, test).accuracy)


@contextmanager
def thread_count(threads: int | None) -> Iterator[None]:
    """Torch's thread count set to ``threads`` (None: left alone) for the block only."""
    previous = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        if threads:
            torch.set_num_threads(previous)


def finetune(
    model: SmallCNN,
    examples: Sequence[PersonalExample],
    train: Split,
    test: Split | None = None,
    *,
    steps: int = 60,
    batch_size: int = 64,
    personal_per_batch: int = 16,
    learning_rate: float = 5e-4,
    augment: bool = True,
    seed: int = 0,
    threads: int | None = None,
    test_subset: int | None = None,
    stop: threading.Event | None = None,
    device: torch.device | str = "cpu",
) -> FinetuneResult:
    """Fine-tune a copy of ``model`` on the personal ``examples`` mixed into MNIST batches.

    Each step trains on ``batch_size`` images from ``train`` plus ``personal_per_batch`` personal
    examples (repeated as needed, slightly augmented when ``augment``), with Adam, cross-entropy
    and dropout active. ``test`` defaults to the test split of ``train``'s dataset.
    ``stop`` (set from any thread) ends the steps before the next one, as in
    :func:`mnist_demo.training.loop.train`; ``threads`` applies for this call only; the steps
    and evaluations run on ``device`` and the result's model is on the CPU. The same
    inputs and ``seed`` give the same result (unless another thread draws from torch's global
    random generator meanwhile: dropout uses it).
    """
    started = time.perf_counter()
    personal = examples_tensor(examples, train.spec)
    check_examples(model, personal[1], train, test)
    check_settings(
        learning_rate=learning_rate,
        steps=steps,
        batch_size=batch_size,
        personal_per_batch=personal_per_batch,
        threads=threads,
        test_subset=test_subset,
    )
    if test is None:
        test = load_split(train.spec.name, train=False)
    test = test.subset(test_subset)

    with thread_count(threads):
        # A private copy: the caller's model (perhaps the one serving predictions) stays as it
        # is. A served model has gradients switched off, so switch them back on for the copy.
        tuned = copy.deepcopy(model).to(device).requires_grad_(True)
        # channels_last makes CPU max-pooling and convolutions much faster (pytorch#51393).
        tuned.to(memory_format=torch.channels_last)
        before = scores(tuned, personal, test)
        # Dropout draws from torch's global generator: seed it here, and restore it afterwards
        # so that fine-tuning leaves no trace on anyone else's random numbers.
        gpu = [device] if torch.device(device).type == "cuda" else []  # Its dropout generator.
        with torch.random.fork_rng(devices=gpu):
            torch.manual_seed(seed)
            generator = torch.Generator().manual_seed(seed)
            done = train_steps(
                tuned,
                (train.images, train.labels),
                personal,
                train.spec,
                generator,
                steps=steps,
                batch_sizes=(batch_size, personal_per_batch),
                learning_rate=learning_rate,
                augmentation=PERSONAL_AUGMENTATION if augment else None,
                stop=stop,
            )
        tuned.eval()
        after = scores(tuned, personal, test)
        tuned.to("cpu")  # Predictions of single drawings run on the CPU.
    seconds = time.perf_counter() - started
    return FinetuneResult(
        tuned, before.personal, after.personal, before.test, after.test, done, seconds
    )


def train_steps(
    model: SmallCNN,
    mnist: tuple[torch.Tensor, torch.Tensor],
    personal: tuple[torch.Tensor, torch.Tensor],
    spec: DatasetSpec,
    generator: torch.Generator,
    *,
    steps: int,
    batch_sizes: tuple[int, int],
    learning_rate: float,
    augmentation: Augmentation | None,
    stop: threading.Event | None,
) -> int:
    """Train ``model`` in place on mixed batches; returns the number of steps taken."""
    mnist_batches = endless_batches(len(mnist[1]), batch_sizes[0], generator)
    personal_batches = endless_batches(len(personal[1]), batch_sizes[1], generator)
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate, fused=True)
    model.train()
    for step in range(steps):
        if stop is not None and stop.is_set():
            return step
        mnist_indices, personal_indices = next(mnist_batches), next(personal_batches)
        drawings = personal[0][personal_indices]
        if augmentation is not None:
            # Only the drawings: the MNIST images are there to be remembered as they are.
            drawings = augment_batch(drawings, spec, generator, augmentation)
        images = torch.cat([mnist[0][mnist_indices], drawings])
        labels = torch.cat([mnist[1][mnist_indices], personal[1][personal_indices]])
        # The batch is put together on the CPU (so the same seed picks the same images and
        # augmentation on any device) and moved to the model's device for the step.
        device = next(model.parameters()).device
        images, labels = images.to(device), labels.to(device)
        logits = model(images.contiguous(memory_format=torch.channels_last))
        loss = F.cross_entropy(logits, labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return steps
