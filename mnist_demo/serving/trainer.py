"""The process's one trainer: a slot that one visitor holds at a time, and its budget.

No Gradio here, so the rules for a shared host are testable on their own: a second Start is told
the trainer is busy, a run is cut at the host's epoch and time limits, and the trainer gets
fewer threads than the machine has so predictions for other visitors stay fast.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from mnist_demo import settings
from mnist_demo.device import device_from_env


class TrainerBusy(RuntimeError):
    """Another visitor's training holds the trainer."""


@dataclass(frozen=True)
class Budget:
    """What one training run may use on this host, and how many may wait in line for it."""

    max_epochs: int = settings.MAX_EPOCHS.default
    max_seconds: float = settings.MAX_TRAIN_SECONDS.default
    threads: int = 1
    device: str = "cpu"  # Where Retrain, fine-tuning and Evaluate compute ($MNIST_DEMO_DEVICE).
    line_size: int = settings.TRAIN_LINE.default

    @classmethod
    def from_env(cls) -> Budget:
        # Leave a core for predictions: with 2 CPUs (a free Space) the trainer gets one.
        default_threads = max(1, (os.cpu_count() or 2) - 1)
        return cls(
            max_epochs=settings.MAX_EPOCHS.read(),
            max_seconds=settings.MAX_TRAIN_SECONDS.read(),
            threads=settings.TRAIN_THREADS.read(default_threads),
            device=device_from_env().type,
            line_size=settings.TRAIN_LINE.read(),
        )


class TrainerSlot:
    """Held by at most one training at a time; the holder must release it (use :meth:`hold`)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._since: float | None = None

    @property
    def busy(self) -> bool:
        return self._lock.locked()

    @contextmanager
    def hold(self) -> Iterator[None]:
        if not self._lock.acquire(blocking=False):
            since = self._since
            running = f" (running for {time.monotonic() - since:.0f} s)" if since else ""
            raise TrainerBusy(
                f"The trainer is busy with another visitor's run{running}. "
                "Only one training runs at a time on this server; press Start again in a moment."
            )
        self._since = time.monotonic()
        try:
            yield
        finally:
            self._since = None
            self._lock.release()


SLOT = TrainerSlot()
