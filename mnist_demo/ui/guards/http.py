"""An ASGI guard in front of Gradio's routes: what an anonymous client may send and make us keep.

- Every request body is capped (``Limits.max_request_bytes``): a 20-file upload or a 1,000-file
  ``component_server`` form is refused before it is read into memory or onto disk.
- Uploaded files are remembered in a ledger and the oldest deleted past a count, byte or age cap,
  so uploads cannot fill the disk between Gradio's hourly sweeps.
- A session may have only ``Limits.events_per_session`` calls queued or running.
- A call naming no function (a bad ``fn_index``, ``/call/nosuch``) gets a one-line 404, and any
  unexpected error a one-line 500: no traceback per request in the log, nothing internal sent.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from collections import OrderedDict
from pathlib import Path

from mnist_demo.ui.guards.limits import Limits

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

    def __init__(self, app, limits: Limits, ledger: UploadLedger) -> None:
        self.app = app
        self.limits = limits
        self.ledger = ledger

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked_send(message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            receive = await self.checked(scope, receive)
            if scope["path"] == f"{API}/upload" and scope["method"] == "POST":
                await self.upload(scope, receive, tracked_send)
            else:
                await self.app(scope, receive, tracked_send)
        except Answer as answer:
            if not started:
                await plain(send, answer.status, str(answer))
        except Exception as error:  # noqa: BLE001 (one line in the log, none of it to the client)
            logger.error("%s %s failed: %s", scope["method"], scope["path"], one_line(error))
            if not started:
                await plain(send, 500, "Internal error.")

    async def checked(self, scope, receive):
        """Refuse what no function can answer; return a receive that replays the read body."""
        if scope["method"] != "POST":
            return receive
        path = scope["path"]
        blocks = scope["app"].get_blocks()
        match = CALL_PATH.match(path)
        if match and match.group(1) not in api_names(blocks):
            raise Answer(404, f"No API endpoint named {match.group(1)!r}.")
        body = await read_body(scope, receive, self.limits.max_request_bytes)
        if path.rstrip("/") == f"{API}/queue/join":
            self.check_join(blocks, body)
        return replay(body, receive)

    def check_join(self, blocks, body: bytes) -> None:
        try:
            request = json.loads(body)
            fn_index, session = request.get("fn_index"), request.get("session_hash")
        except (ValueError, AttributeError):
            raise Answer(400, "The body is not a queue request (JSON).") from None
        if not isinstance(fn_index, int) or fn_index not in blocks.fns:
            raise Answer(404, f"No function with index {fn_index!r}.")
        pending = blocks._queue.pending_event_ids_session.get(session) or ()
        if len(pending) >= self.limits.events_per_session:
            raise Answer(
                429,
                f"This session already has {len(pending)} calls waiting or running; "
                "wait for one to finish.",
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


def api_names(blocks) -> set[str]:
    return {fn.api_name for fn in blocks.fns.values() if isinstance(fn.api_name, str)}


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
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())[:200]
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
