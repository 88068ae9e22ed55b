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

from mnist_demo.device import device_from_env

MAX_EPOCHS_ENV = "MNIST_DEMO_MAX_EPOCHS"
MAX_SECONDS_ENV = "MNIST_DEMO_MAX_TRAIN_SECONDS"
THREADS_ENV = "MNIST_DEMO_TRAIN_THREADS"
LINE_SIZE_ENV = "MNIST_DEMO_TRAIN_LINE"


class TrainerBusy(RuntimeError):
    """Another visitor's training holds the trainer."""


def env_number(name: str, default: float, cast=int):
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        value = cast(raw)
    except ValueError:
        raise ValueError(f"${name} should be a number, not {raw!r}") from None
    if value <= 0:
        raise ValueError(f"${name} should be positive, not {raw!r}")
    return value


@dataclass(frozen=True)
class Budget:
    """What one training run may use on this host, and how many may wait in line for it."""

    max_epochs: int = 10
    max_seconds: float = 600.0
    threads: int = 1
    device: str = "cpu"  # Where Retrain, fine-tuning and Evaluate compute ($MNIST_DEMO_DEVICE).
    line_size: int = 40

    @classmethod
    def from_env(cls) -> Budget:
        # Leave a core for predictions: with 2 CPUs (a free Space) the trainer gets one.
        default_threads = max(1, (os.cpu_count() or 2) - 1)
        return cls(
            max_epochs=env_number(MAX_EPOCHS_ENV, cls.max_epochs),
            max_seconds=env_number(MAX_SECONDS_ENV, cls.max_seconds, float),
            threads=env_number(THREADS_ENV, default_threads),
            device=device_from_env().type,
            line_size=env_number(LINE_SIZE_ENV, cls.line_size),
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
