"""What one anonymous client may make this server hold: the caps, each a setting a host may tune.

No Gradio here: the numbers and their environment variables only (README "Security" lists them).
"""

from __future__ import annotations

from dataclasses import dataclass

from mnist_demo.ui.trainer import env_number

MB = 1_000_000


@dataclass(frozen=True)
class Limits:
    # Any one request body (an upload, a canvas piece, a queued call): one 5 MB file and its form.
    max_request_bytes: int = 6 * MB
    # Uploaded files kept on disk, all visitors together: past either cap the oldest go.
    upload_bytes: int = 200 * MB
    upload_files: int = 2000
    upload_age_seconds: float = 3600.0
    # Canvas pieces a Sketchpad sends before its prediction (gradio's accept_blobs), in memory.
    blob_entries: int = 64
    blob_bytes: int = 16 * MB
    blob_age_seconds: float = 120.0
    # Queued or running calls one session may have at once.
    events_per_session: int = 4
    # A training whose results nobody has read for this long is stopped.
    listener_timeout_seconds: float = 8.0

    @classmethod
    def from_env(cls) -> Limits:
        return cls(
            max_request_bytes=env_number("MNIST_DEMO_MAX_REQUEST_MB", 6) * MB,
            upload_bytes=env_number("MNIST_DEMO_UPLOAD_MB", 200) * MB,
            upload_files=env_number("MNIST_DEMO_UPLOAD_FILES", cls.upload_files),
            upload_age_seconds=env_number("MNIST_DEMO_UPLOAD_AGE", cls.upload_age_seconds, float),
            blob_entries=env_number("MNIST_DEMO_BLOB_ENTRIES", cls.blob_entries),
            blob_bytes=env_number("MNIST_DEMO_BLOB_MB", 16) * MB,
            blob_age_seconds=env_number("MNIST_DEMO_BLOB_AGE", cls.blob_age_seconds, float),
            events_per_session=env_number("MNIST_DEMO_EVENTS_PER_SESSION", cls.events_per_session),
            listener_timeout_seconds=env_number(
                "MNIST_DEMO_LISTENER_TIMEOUT", cls.listener_timeout_seconds, float
            ),
        )
