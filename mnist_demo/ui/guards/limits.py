"""What one anonymous client may make this server hold: the caps, each a setting a host may tune.

No Gradio here: the numbers only; their environment variables and defaults are in
:mod:`mnist_demo.settings` (README "Security" lists them).
"""

from __future__ import annotations

from dataclasses import dataclass

from mnist_demo import settings

MB = 1_000_000


@dataclass(frozen=True)
class Limits:
    # Any one request body (an upload, a canvas piece, a queued call): one 5 MB file and its form.
    max_request_bytes: int = settings.MAX_REQUEST_MB.default * MB
    # Uploaded files kept on disk, all visitors together: past either cap the oldest go.
    upload_bytes: int = settings.UPLOAD_MB.default * MB
    upload_files: int = settings.UPLOAD_FILES.default
    upload_age_seconds: float = settings.UPLOAD_AGE.default
    # Canvas pieces a Sketchpad sends before its prediction (gradio's accept_blobs), in memory.
    blob_entries: int = settings.BLOB_ENTRIES.default
    blob_bytes: int = settings.BLOB_MB.default * MB
    blob_age_seconds: float = settings.BLOB_AGE.default
    # Queued or running calls one session may have at once.
    events_per_session: int = settings.EVENTS_PER_SESSION.default
    # A training whose results nobody has read for this long is stopped.
    listener_timeout_seconds: float = settings.LISTENER_TIMEOUT.default

    @classmethod
    def from_env(cls) -> Limits:
        return cls(
            max_request_bytes=settings.MAX_REQUEST_MB.read() * MB,
            upload_bytes=settings.UPLOAD_MB.read() * MB,
            upload_files=settings.UPLOAD_FILES.read(),
            upload_age_seconds=settings.UPLOAD_AGE.read(),
            blob_entries=settings.BLOB_ENTRIES.read(),
            blob_bytes=settings.BLOB_MB.read() * MB,
            blob_age_seconds=settings.BLOB_AGE.read(),
            events_per_session=settings.EVENTS_PER_SESSION.read(),
            listener_timeout_seconds=settings.LISTENER_TIMEOUT.read(),
        )
