"""What a training loop reports, and the one place that makes the reports.

The training loop (:mod:`mnist_demo.training.loop`) yields :class:`StepEvent` every ``log_every``
steps and at each epoch's end, and :class:`EpochEvent` after each epoch's test evaluation. A run
may also ask for test evaluations inside each epoch (the Retrain tab does for short runs, so that
its test curve has a shape): the StepEvent at such a step carries the test score. The CLI's
progress bar and the Retrain tab's charts read nothing else. :class:`Meter` counts the
steps, times the windows between events and stops a run whose loss has blown up.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass

from mnist_demo.training.evaluate import Evaluation

# Cross-entropy starts near ln(10) = 2.3 for ten classes. A mean loss a thousand times larger
# means the weights have blown up, even while the number is still finite.
DIVERGED_LOSS = 1e3


@dataclass(frozen=True)
class TrainingEvent:
    epoch: int  # 1-based.
    step: int  # Optimiser steps so far, over all epochs.
    total_steps: int
    train_loss: float
    train_accuracy: float

    @property
    def progress(self) -> float:
        return self.step / self.total_steps


@dataclass(frozen=True)
class StepEvent(TrainingEvent):
    """Every few steps; ``train_loss`` and ``train_accuracy`` are means over the batches since
    the previous event. ``test_loss`` and ``test_accuracy`` are None, except at the steps where
    the run evaluates the test set inside an epoch (see :func:`evaluation_steps`)."""

    samples_per_second: float
    elapsed_seconds: float
    test_loss: float | None = None
    test_accuracy: float | None = None


@dataclass(frozen=True)
class EpochEvent(TrainingEvent):
    """After an epoch; ``train_loss`` and ``train_accuracy`` are means over the whole epoch."""

    test_loss: float
    test_accuracy: float
    elapsed_seconds: float


# What a training loop yields.
Events = Iterator[StepEvent | EpochEvent]


class TrainingDiverged(RuntimeError):
    """The loss blew up (NaN, infinite or huge); the run stops and its model must not be used."""


def evaluation_steps(steps_per_epoch: int, tests_per_epoch: int) -> frozenset[int]:
    """The steps of an epoch (1-based) after which the test set is evaluated, besides its end:
    ``tests_per_epoch - 1`` of them, evenly spaced (quarters for 4)."""
    inside = {round(k * steps_per_epoch / tests_per_epoch) for k in range(1, tests_per_epoch)}
    return frozenset(inside - {0, steps_per_epoch})


class Meter:
    """One run's step count and clocks: when an event is due, and the event itself.

    A window is the stretch of steps between two progress events; its rate leaves out the time
    the caller spends on an event (the Retrain tab re-classifies a drawing there), and the time
    of a test evaluation inside the epoch.
    """

    def __init__(
        self,
        epochs: int,
        steps_per_epoch: int,
        log_every: int,
        learning_rate: float,
        tests_per_epoch: int = 1,
    ) -> None:
        self.steps_per_epoch, self.log_every = steps_per_epoch, log_every
        self.total_steps = epochs * steps_per_epoch
        self.learning_rate = learning_rate
        self.evaluation_steps = evaluation_steps(steps_per_epoch, tests_per_epoch)
        self.step = 0
        self.started = time.perf_counter()
        self.new_window()

    def new_window(self) -> None:
        self.window_samples, self.window_started = 0, time.perf_counter()

    def count(self, samples: int) -> bool:
        """Count one optimiser step on ``samples`` images; whether a progress event is due."""
        self.step += 1
        self.window_samples += samples
        in_epoch = self.step % self.steps_per_epoch
        return self.step % self.log_every == 0 or in_epoch == 0 or in_epoch in self.evaluation_steps

    @property
    def test_due(self) -> bool:
        """Whether the test set is evaluated after this step (inside an epoch, not at its end)."""
        return self.step % self.steps_per_epoch in self.evaluation_steps

    def step_event(self, epoch: int, window_loss: float, window_correct: float) -> StepEvent:
        """The window's event from its summed loss and correct count; raises TrainingDiverged."""
        mean_loss = window_loss / self.window_samples
        if not math.isfinite(mean_loss) or mean_loss > DIVERGED_LOSS:
            raise TrainingDiverged(
                f"the loss reached {mean_loss:.3g} at step {self.step}: the learning rate "
                f"({self.learning_rate:g}) is probably too high"
            )
        now = time.perf_counter()
        return StepEvent(
            epoch=epoch,
            step=self.step,
            total_steps=self.total_steps,
            train_loss=mean_loss,
            train_accuracy=window_correct / self.window_samples,
            samples_per_second=self.window_samples / max(now - self.window_started, 1e-9),
            elapsed_seconds=now - self.started,
        )

    def epoch_event(
        self, epoch: int, loss_sum: float, correct_sum: float, size: int, test: Evaluation
    ) -> EpochEvent:
        """The epoch's event from its summed loss and correct count over ``size`` images."""
        return EpochEvent(
            epoch=epoch,
            step=self.step,
            total_steps=self.total_steps,
            train_loss=loss_sum / size,
            train_accuracy=correct_sum / size,
            test_loss=test.loss,
            test_accuracy=test.accuracy,
            elapsed_seconds=time.perf_counter() - self.started,
        )
