"""What a client's values may add to a message or a log line, and what the guard refused.

:func:`shown` and :func:`one_line` keep a client's value or an error to one short line.
:class:`RefusalLog` tells the operator what the guard refused, in one log line a minute at most.
A refusal costs the client one short answer (413, 429, 404, ...) and used to leave no trace: an
operator of a public copy could not tell a flood from a quiet hour. Each refusal is counted by
its status; the first after a quiet interval is logged at once, the rest together with the next
refusal after ``interval`` seconds, so that a flood of thousands a second costs one line a
minute. Only the status and a cut path are kept: a client's paths cannot grow the counts or the
log.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable

logger = logging.getLogger(__name__)
SHOWN_CHARACTERS = 200  # What a client's value may add to a message or a log line.
PATH_CHARACTERS = 80


def shown(value) -> str:
    """A client's value as a message may quote it: its repr, cut short."""
    text = repr(value)
    return text if len(text) <= SHOWN_CHARACTERS else f"{text[:SHOWN_CHARACTERS]}…"


def one_line(error: BaseException | str, limit: int = SHOWN_CHARACTERS) -> str:
    """An error (or a message) on one line, at most ``limit`` characters of its text."""
    text = " ".join(str(error).split())
    if len(text) > limit:
        text = f"{text[:limit]}…"
    if isinstance(error, str):
        return text
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


class RefusalLog:
    """Counts refusals by status and logs them, at most one line per ``interval`` seconds."""

    def __init__(self, interval: float = 60.0, clock: Callable[[], float] = time.monotonic):
        self.interval = interval
        self.clock = clock
        self._lock = threading.Lock()
        self._counts: Counter[int] = Counter()
        self._since: float | None = None  # When the counts began; None: nothing to tell.
        self._told: float | None = None  # When the last line was logged.
        self._last_path = ""

    def refused(self, status: int, path: str) -> None:
        """Count one refusal; log the counts when the last line is ``interval`` seconds old."""
        now = self.clock()
        with self._lock:
            if self._since is None:
                self._since = now
            self._counts[status] += 1
            self._last_path = path[:PATH_CHARACTERS]
            if self._told is not None and now - self._told < self.interval:
                return
            line = self._line(now)
            self._counts.clear()
            self._since, self._told = None, now
        logger.warning(line)

    def _line(self, now: float) -> str:
        total = sum(self._counts.values())
        parts = ", ".join(f"{status} × {count:,}" for status, count in sorted(self._counts.items()))
        span = now - self._since if self._since is not None else 0.0
        noun = "request" if total == 1 else "requests"
        return (
            f"refused {total:,} {noun} in the last {span:.0f} s ({parts}); "
            f"the last: {self._last_path!r}"
        )
