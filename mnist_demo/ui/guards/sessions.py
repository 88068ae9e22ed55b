"""Guards on what sessions and the trainer hold: strangers cannot evict others' work, a run
needs someone listening, and everything written is removed at shutdown.

Gradio 6.31 keeps at most ``state_session_capacity`` sessions and, past it, drops the least
recently used one (without calling its ``delete_callback``). Every call with a new random
``session_hash`` makes a session, so 210 cheap calls evicted a visitor's retrained model. Here
the sessions that hold nothing of value (no retrained model, no labelled drawings, no run) go
first, and an evicted session is closed (its files removed).
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

from gradio.state_holder import StateHolder

from mnist_demo.serving.downloads import DOWNLOADS
from mnist_demo.serving.session import Session
from mnist_demo.ui.guards.http import UploadLedger


def sessions_in(session_state: Any) -> list[Session]:
    return [value for value in session_state.state_data.values() if isinstance(value, Session)]


def holds_work(session_state: Any) -> bool:
    return any(session.holds_work for session in sessions_in(session_state))


class GuardedStateHolder(StateHolder):
    """Gradio's StateHolder with an eviction that spares sessions holding a visitor's work."""

    def update(self, session_id: str) -> None:
        evicted = []
        with self.lock:
            if session_id in self.session_data:
                self.session_data.move_to_end(session_id)
            while len(self.session_data) > self.capacity:
                victim = next(
                    (
                        key
                        for key, state in self.session_data.items()
                        if key != session_id and not holds_work(state)
                    ),
                    next(iter(self.session_data)),  # All hold work: the least recently used.
                )
                evicted.append(self.session_data.pop(victim))
                self.time_last_used.pop(victim, None)
        for state in evicted:
            for session in sessions_in(state):
                session.close()


def guard_state_holder(app: Any) -> None:
    holder = app.state_holder
    if type(holder) is StateHolder:
        holder.__class__ = GuardedStateHolder


def lifespan(ledger: UploadLedger):
    """Install the session guard when the server starts; remove what it wrote when it stops."""

    @contextlib.asynccontextmanager
    async def guarded(app):
        guard_state_holder(app)
        try:
            yield
        finally:
            ledger.clear()
            DOWNLOADS.clear()

    return guarded


class ListenerWatch:
    """Whether anyone still reads a session's event stream (Gradio queues its messages).

    A client that joined the queue and never opened the stream, or closed the tab without the
    browser saying so, leaves the messages unread: after ``timeout`` seconds of that, the run is
    nobody's and should stop.
    """

    def __init__(self, request: Any, timeout: float) -> None:
        self.timeout = timeout
        self.messages = None
        with contextlib.suppress(AttributeError, KeyError, TypeError):
            queue = request.request.app.get_blocks()._queue
            self.messages = queue.pending_messages_per_session.get(request.session_hash)
        self.last_read = time.monotonic()
        self.last_size = 0

    def gone(self) -> bool:
        if self.messages is None:
            return False
        size, now = self.messages.qsize(), time.monotonic()
        if size == 0 or size < self.last_size:
            self.last_read = now
        self.last_size = size
        return now - self.last_read > self.timeout
