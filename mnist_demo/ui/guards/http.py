"""An ASGI guard in front of Gradio's routes: what an anonymous client may send and make us keep.

- Every request body is capped (``Limits.max_request_bytes``): a 20-file upload or a 1,000-file
  ``component_server`` form is refused before it is read into memory or onto disk.
- Uploaded files are remembered in a ledger and the oldest deleted past a count, byte or age cap,
  so uploads cannot fill the disk between Gradio's hourly sweeps.
- A session may have only ``Limits.events_per_session`` calls queued or running.
- Each concurrency group has a share of the queue's waiting places (see
  :func:`mnist_demo.ui.guards.policy.shares`): Gradio counts the calls waiting in all groups
  against one ``max_size``, so 64 cheap Evaluate calls once had every visitor's prediction
  refused for 30 s.
- A call naming no function (a bad ``fn_index``, ``/call/nosuch``) gets a one-line 404, and any
  unexpected error a one-line 500: no traceback per request in the log, nothing internal sent;
  refusals are counted and logged, one line a minute at most (:mod:`.lines`).
- Every answer carries the headers a public page should send
  (:func:`mnist_demo.ui.guards.policy.security_headers`).
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from collections import Counter, OrderedDict
from pathlib import Path

from mnist_demo.ui.guards.limits import Limits
from mnist_demo.ui.guards.lines import RefusalLog, one_line, shown
from mnist_demo.ui.guards.policy import PAGE_GROUP, shares

logger = logging.getLogger(__name__)
API = "/gradio_api"
CALL_PATH = re.compile(rf"^{API}/call/(?:v2/)?([^/]+)/?$")


class Answer(Exception):
    """Stop a request with this status and one-line message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class UploadLedger:
    """Files that /upload stored, oldest first; past the caps the oldest are deleted."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._lock = threading.Lock()
        self._files: OrderedDict[str, tuple[float, int]] = OrderedDict()

    @property
    def total_bytes(self) -> int:
        return sum(size for _, size in self._files.values())

    def record(self, paths: list[str]) -> None:
        with self._lock:
            for path in paths:
                try:
                    size = os.path.getsize(path)
                except OSError:
                    size = 0
                self._files[path] = (time.monotonic(), size)
                self._files.move_to_end(path)
            self._trim()

    def _trim(self) -> None:
        limits = self.limits
        oldest_allowed = time.monotonic() - limits.upload_age_seconds
        total = self.total_bytes
        while self._files:
            path, (stored, size) = next(iter(self._files.items()))
            over = len(self._files) > limits.upload_files or total > limits.upload_bytes
            if not over and stored >= oldest_allowed:
                break
            del self._files[path]
            total -= size
            remove_upload(Path(path))

    def clear(self) -> None:
        with self._lock:
            for path in list(self._files):
                remove_upload(Path(path))
            self._files.clear()


def remove_upload(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
        path.parent.rmdir()  # Gradio keeps each upload in a folder of its own (its hash).
    except OSError:
        pass


class RequestGuard:
    """The ASGI middleware (``launch_options()`` installs it through ``app_kwargs``)."""

    def __init__(self, app, limits: Limits, ledger: UploadLedger, headers=()) -> None:
        self.app = app
        self.limits = limits
        self.ledger = ledger
        self.headers = list(headers)
        # Calls admitted to a group whose join has not reached Gradio's queue yet.
        self.joining: Counter[str] = Counter()
        self.refusals = RefusalLog()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False
        group = None

        async def tracked_send(message) -> None:
            nonlocal started, group
            if message["type"] == "http.response.start":
                started = True
                if group is not None:  # Gradio's queue holds the call now (or refused it).
                    self.joining[group] -= 1
                    group = None
                ours = {name for name, _ in self.headers}
                kept = [item for item in message.get("headers", []) if item[0].lower() not in ours]
                message = {**message, "headers": kept + self.headers}
            await send(message)

        try:
            receive, group = await self.checked(scope, receive)
            if scope["path"] == f"{API}/upload" and scope["method"] == "POST":
                await self.upload(scope, receive, tracked_send)
            else:
                await self.app(scope, receive, tracked_send)
        except Answer as answer:
            self.refusals.refused(answer.status, scope["path"])
            if not started:
                await plain(tracked_send, answer.status, str(answer))
        except Exception as error:  # noqa: BLE001 (one line in the log, none of it to the client)
            logger.error("%s %s failed: %s", scope["method"], scope["path"], one_line(error))
            if not started:
                await plain(tracked_send, 500, "Internal error.")
        finally:
            if group is not None:
                self.joining[group] -= 1

    async def checked(self, scope, receive):
        """Refuse what no function can answer; return a receive that replays the read body, and
        the concurrency group a queue join was admitted to (None for any other request)."""
        if scope["method"] != "POST":
            return receive, None
        path = scope["path"]
        blocks = scope["app"].get_blocks()
        match = CALL_PATH.match(path)
        named = api_functions(blocks)
        if match and match.group(1) not in named:
            raise Answer(404, f"No API endpoint named {shown(match.group(1))}.")
        body = await read_body(scope, receive, self.limits.max_request_bytes)
        group = None
        if path.rstrip("/") == f"{API}/queue/join":
            group = self.check_join(blocks, body)
        elif match:  # /call/<name> joins the queue too, each call under a new session id.
            group = self.admit(blocks._queue, named[match.group(1)].concurrency_id)
        return replay(body, receive), group

    def check_join(self, blocks, body: bytes) -> str:
        """The join's concurrency group, counted as joining; or an Answer refusing it."""
        try:
            request = json.loads(body)
            fn_index, session = request.get("fn_index"), request.get("session_hash")
        except (ValueError, AttributeError):
            raise Answer(400, "The body is not a queue request (JSON).") from None
        if not isinstance(fn_index, int) or fn_index not in blocks.fns:
            raise Answer(404, f"No function with index {shown(fn_index)}.")
        pending = blocks._queue.pending_event_ids_session.get(session) or ()
        if len(pending) >= self.limits.events_per_session:
            raise Answer(
                429,
                f"This session already has {len(pending)} calls waiting or running; "
                "wait for one to finish.",
            )
        return self.admit(blocks._queue, blocks.fns[fn_index].concurrency_id)

    def admit(self, queue, group: str) -> str:
        """Count a call as joining ``group`` (until Gradio's queue holds it, see __call__), or
        refuse it when the group already holds its share of the waiting places."""
        self.check_share(queue, group)
        self.joining[group] += 1
        return group

    def check_share(self, queue, group: str) -> None:
        if queue.max_size is None:
            return
        waiting = Counter(self.joining)
        # A call that a free seat of its group will start on the queue's next turn (it polls)
        # does not wait: without this, thirty students pressing at once were refused with
        # seats to spare (mnist-demo bench class).
        for name, events in list(queue.event_queue_per_concurrency_id.items()):
            waiting[name] += len(events.queue)
            if events.concurrency_limit is None:
                waiting[name] = 0
            else:
                free = max(0, events.concurrency_limit - events.current_concurrency)
                waiting[name] = max(0, waiting[name] - free)
        page, one, others = shares(queue.max_size)
        if group == PAGE_GROUP:
            full = waiting[group] >= page
        else:
            in_others = sum(count for name, count in waiting.items() if name != PAGE_GROUP)
            full = waiting[group] >= one or in_others >= others
        if full:
            raise Answer(
                503, f"Busy: {waiting[group]} calls like this one are waiting. Try again shortly."
            )

    async def upload(self, scope, receive, send) -> None:
        """Pass the upload on, then record the files it stored (their paths are its answer)."""
        start, chunks = None, []

        async def capture(message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body"):
                    self.record(start, b"".join(chunks))
            await send(message)

        await self.app(scope, receive, capture)

    def record(self, start, body: bytes) -> None:
        if start is None or start["status"] != 200:
            return
        try:
            paths = json.loads(body)
        except ValueError:
            return
        if isinstance(paths, list):
            self.ledger.record([path for path in paths if isinstance(path, str)])


def api_functions(blocks) -> dict:
    """The functions callable by name (``/call/<name>``), by their API names."""
    return {fn.api_name: fn for fn in blocks.fns.values() if isinstance(fn.api_name, str)}


async def read_body(scope, receive, cap: int) -> bytes:
    declared = dict(scope["headers"]).get(b"content-length")
    if declared is not None and declared.isdigit() and int(declared) > cap:
        raise Answer(413, f"Request too large: at most {cap:,} bytes.")
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise Answer(400, "The client went away.")
        body += message.get("body", b"")
        if len(body) > cap:
            raise Answer(413, f"Request too large: at most {cap:,} bytes.")
        if not message.get("more_body"):
            return bytes(body)


def replay(body: bytes, receive):
    """The body read once, then the client's own messages (its disconnect, when it goes)."""
    sent = False

    async def replayed():
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replayed


async def plain(send, status: int, text: str) -> None:
    body = json.dumps({"error": text}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status in (429, 503):
        headers.append((b"retry-after", b"5"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
