"""A fair line for the process's one trainer: first come, first served, with an estimated wait.

When a class of thirty presses Start together, one run trains and the others wait in line,
each told their place and about how long it will be; when a turn comes the run starts by itself.
Leaving the page or pressing Stop leaves the line. Retrain runs and fine-tuning share it. The
wait is learnt per kind of run, so quick runs never make a lesson's wait read long.

No Gradio here: the rules (order, one place per visitor, the cap, leaving) are tested alone.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TypeVar

from mnist_demo.serving.trainer import SLOT, TrainerSlot

# Until a run has been timed on this host: the lesson's 5 epochs took 36 s on one thread of the
# 2-core CI machine, about 8,000 training images a second, test evaluations included.
DEFAULT_IMAGES_PER_SECOND = 8000.0
# A run's estimate never reads below this while it is still running: it may be finishing.
LEAST_REMAINING = 2.0
# Below one full epoch's worth of images, set-up (loading, the test evaluations before and after
# the epochs) is much of a run's time: 1,000 images in one epoch took 3.7 s on one thread of the
# 2-core CI machine, 270 images a second, and each such run once halved the rate every lesson's
# wait was estimated from. A short run teaches the estimate of its own kind only.
LONG_RUN_IMAGES = 60_000
# Kinds of run whose speed is remembered (a kind is whatever the caller names: the run's shape).
KINDS_KEPT = 32
T = TypeVar("T")
logger = logging.getLogger(__name__)


class NoTurn(RuntimeError):
    """This request gets no turn at the trainer; the message tells the visitor why."""


class LineFull(NoTurn):
    """The line is at the host's cap; the message says roughly when to try again."""


class AlreadyInLine(NoTurn):
    """This visitor already has a place (one place per session)."""


@dataclass(eq=False)
class Ticket:
    """One visitor's place: who holds it, how long their run should take, how far it has got."""

    owner: object
    estimate: float
    number: int
    started: float | None = None
    progress: float = 0.0
    withdrawn: bool = False  # Stop pressed while waiting.

    def remaining(self, now: float) -> float:
        """Seconds this ticket's run still needs: all of it if waiting, else from its progress."""
        if self.started is None:
            return self.estimate
        elapsed = now - self.started
        if self.progress > 0.05:  # Early progress is too noisy to extrapolate from.
            left = elapsed * (1 - self.progress) / self.progress
        else:
            left = self.estimate - elapsed
        return max(LEAST_REMAINING, left)


@dataclass
class Place:
    """What a waiting visitor is shown: their place (1 = next) and the estimated wait."""

    position: int
    seconds: float


@dataclass
class TrainerLine:
    """Tickets in order of arrival; the first one whose holder is free takes the trainer."""

    capacity: int = 40
    slot: TrainerSlot = SLOT
    # The host's training speed, learned from long runs only (see LONG_RUN_IMAGES).
    images_per_second: float = DEFAULT_IMAGES_PER_SECOND
    _tickets: list[Ticket] = field(default_factory=list)
    # Per kind of run: images a second over the whole run, its set-up included.
    _kinds: OrderedDict[Hashable, float] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _numbers: Iterator[int] = field(default_factory=itertools.count)

    def __len__(self) -> int:
        with self._lock:
            return len(self._tickets)

    @contextmanager
    def place(self, owner: object, estimate: float) -> Iterator[Ticket]:
        """Join the line for the length of the block; leaving the block leaves the line."""
        ticket = self.join(owner, estimate)
        try:
            yield ticket
        finally:
            self.leave(ticket)

    def join(self, owner: object, estimate: float) -> Ticket:
        with self._lock:
            for ticket in self._tickets:
                if ticket.owner is owner:
                    raise AlreadyInLine(
                        "You already have a place in the training line "
                        f"(number {self._position(ticket)}): wait for it, or press Stop to leave."
                    )
            if len(self._tickets) >= self.capacity:
                minutes = max(1, round(self._wait_before(len(self._tickets)) / 60))
                raise LineFull(
                    f"The training line is full ({self.capacity} waiting). "
                    f"Try again in about {minutes} minute{'s' if minutes > 1 else ''}."
                )
            ticket = Ticket(owner, estimate, next(self._numbers))
            self._tickets.append(ticket)
            return ticket

    def leave(self, ticket: Ticket) -> None:
        with self._lock:
            if ticket in self._tickets:
                self._tickets.remove(ticket)

    def turn_has_come(self, ticket: Ticket) -> bool:
        """True once ``ticket`` is first in line and the trainer is free (the caller takes it)."""
        with self._lock:
            return bool(self._tickets) and self._tickets[0] is ticket and not self.slot.busy

    def where(self, ticket: Ticket) -> Place:
        with self._lock:
            position = self._position(ticket)
            return Place(position, self._wait_before(position - 1))

    def started(self, ticket: Ticket) -> None:
        ticket.started = time.monotonic()

    def finished(self, ticket: Ticket, images: int, kind: Hashable | None = None) -> None:
        """Learn this host's speed from a finished run, so later estimates fit it.

        ``kind`` names the run's shape (its images, epochs, batch, ...): the whole run's time,
        set-up included, becomes that kind's estimate. Only a run of at least LONG_RUN_IMAGES
        also teaches the host's rate, which estimates the kinds not seen yet: a short run, mostly
        set-up, cannot make every other run's wait read long.
        """
        if ticket.started is None or images <= 0:
            return
        seconds = time.monotonic() - ticket.started
        if seconds <= 0.5:
            return
        measured = images / seconds
        with self._lock:
            if kind is not None:
                known = self._kinds.pop(kind, measured)
                self._kinds[kind] = 0.5 * known + 0.5 * measured
                while len(self._kinds) > KINDS_KEPT:
                    self._kinds.popitem(last=False)
            if images >= LONG_RUN_IMAGES:
                self.images_per_second = 0.5 * self.images_per_second + 0.5 * measured

    def estimate(self, images: int, kind: Hashable | None = None, overhead: float = 1.0) -> float:
        """Seconds a run over ``images`` training images should take on this host: as long as
        the runs of its ``kind`` took, or ``overhead`` plus the host's rate."""
        with self._lock:
            rate = self._kinds.get(kind) if kind is not None else None
        if rate is not None:
            return images / rate
        return overhead + images / self.images_per_second

    def _position(self, ticket: Ticket) -> int:
        """1 for the first waiting ticket (or the one running), 2 for the next, and so on."""
        return self._tickets.index(ticket) + 1

    def _wait_before(self, count: int) -> float:
        now = time.monotonic()
        return sum(ticket.remaining(now) for ticket in self._tickets[:count])


def waiting_status(place: Place) -> str:
    ahead = place.position - 1
    runs = "run" if ahead == 1 else "runs"
    return (
        f"**You are number {place.position} in line** ({ahead} {runs} ahead of you), "
        f"about **{format_wait(place.seconds)}** to wait. Your run starts by itself when its "
        "turn comes: keep this page open. **Stop** leaves the line."
    )


def format_wait(seconds: float) -> str:
    seconds = max(1, round(seconds))
    if seconds < 90:
        return f"{seconds} s"
    return f"{seconds // 60} min {seconds % 60:02d} s"


class LeftLine(NoTurn):
    """The visitor pressed Stop while waiting."""


# How often a waiting visitor's place is checked; their page is updated when it changes and
# every second (the estimate counts down).
POLL_SECONDS = 0.25
_DONE = object()


async def wait_in_line(line: TrainerLine, ticket: Ticket) -> AsyncIterator[Place]:
    """Yield ``ticket``'s place as it changes (and each second) until its turn comes.

    Waits without holding a thread, so thirty visitors in line cost the server nothing but a
    message a second each. Raises LeftLine when the ticket is withdrawn (Stop).
    """
    shown_position, shown_at = None, 0.0
    while not line.turn_has_come(ticket):
        if ticket.withdrawn:
            raise LeftLine("You left the training line.")
        place = line.where(ticket)
        now = time.monotonic()
        if place.position != shown_position or now - shown_at >= 1.0:
            shown_position, shown_at = place.position, now
            yield place
        await asyncio.sleep(POLL_SECONDS)


async def iterate_in_thread(iterator: Iterator[T]) -> AsyncIterator[T]:
    """Each step of a blocking iterator in a worker thread; closing this closes the iterator.

    A visitor who leaves cancels the awaiting task while a step may still be running in its
    thread, and a generator cannot be closed while it executes: the step's future is shielded,
    and the iterator is closed (its ``finally`` freeing the trainer) as soon as that step returns.
    """
    loop = asyncio.get_running_loop()
    step: asyncio.Future | None = None
    try:
        while True:
            step = loop.run_in_executor(None, next, iterator, _DONE)
            item = await asyncio.shield(step)
            if item is _DONE:
                return
            yield item
    finally:
        if step is not None and not step.done():
            step.add_done_callback(lambda _: close_quietly(iterator))
        else:
            close_quietly(iterator)


def close_quietly(iterator: Iterator) -> None:
    close = getattr(iterator, "close", None)
    if close is None:
        return
    try:
        close()
    except Exception:  # noqa: BLE001 (a failing cleanup must not hide the visitor's answer)
        logger.exception("closing a training run failed")
