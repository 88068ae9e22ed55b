"""Every setting a host gives through the environment: its name, type, default and meaning.

The one place that reads them. Each is read when it is used, never at import, so a host (or a
test) can set the environment before building the app. The README's settings and Security
tables list the same names and defaults (tests/test_settings.py compares them).
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Setting:
    """One environment variable. Numbers (``int`` or ``float``) must be positive; text is taken
    as written. An unset or empty variable means the default."""

    name: str
    kind: type
    default: int | float | str | None
    meaning: str
    shown: str = ""  # The default as the README writes it, where it is not the number itself.

    def read(self, default: int | float | str | None = None) -> int | float | str | None:
        """The value now; ``default`` stands in for a default computed at use time (threads)."""
        raw = os.environ.get(self.name)
        if not raw:
            return self.default if default is None else default
        if self.kind is str:
            return raw
        try:
            value = self.kind(raw)
        except ValueError:
            raise ValueError(f"${self.name} should be a number, not {raw!r}") from None
        if value <= 0:
            raise ValueError(f"${self.name} should be positive, not {raw!r}")
        return value

    @property
    def documented_default(self) -> str:
        if self.shown:
            return self.shown
        return f"{self.default:g}" if self.kind is not str else str(self.default)


def child_environment(values: dict[Setting, str]) -> dict[str, str]:
    """The environment for a child process (the app a benchmark starts): this process's, with
    ``values`` set ("" unsets a setting: an empty variable means its default)."""
    return {**os.environ, **{setting.name: value for setting, value in values.items()}}


# Where things are.
DATA = Setting(
    "MNIST_DEMO_DATA", str, "data", "where the datasets are (--data-dir wins)", "`./data`"
)
WEIGHTS = Setting(
    "MNIST_DEMO_WEIGHTS", str, None, "folder holding the shipped weights", "`weights/`"
)
DEVICE = Setting(
    "MNIST_DEMO_DEVICE", str, "auto", "where Retrain, fine-tuning and Evaluate compute", "`auto`"
)
SERVER_NAME = Setting("GRADIO_SERVER_NAME", str, "127.0.0.1", "the address the server listens on")
SERVER_PORT = Setting("GRADIO_SERVER_PORT", int, 7860, "the port the server listens on")

# The trainer's budget on a shared host.
MAX_EPOCHS = Setting("MNIST_DEMO_MAX_EPOCHS", int, 10, "most epochs one Retrain run may ask for")
MAX_TRAIN_SECONDS = Setting(
    "MNIST_DEMO_MAX_TRAIN_SECONDS", float, 600.0, "a Retrain run stops after this long"
)
TRAIN_THREADS = Setting(
    "MNIST_DEMO_TRAIN_THREADS", int, None, "threads the trainer uses", "CPUs − 1"
)
TRAIN_LINE = Setting("MNIST_DEMO_TRAIN_LINE", int, 40, "visitors who may wait for the trainer")

# Serving many visitors.
PREDICT_CONCURRENCY = Setting(
    "MNIST_DEMO_PREDICT_CONCURRENCY", int, 4, "predictions run at once; more wait in the queue"
)
QUEUE_SIZE = Setting(
    "MNIST_DEMO_QUEUE_SIZE", int, 64, "calls that may wait in the queue, shared out by group"
)
SESSION_TTL = Setting(
    "MNIST_DEMO_SESSION_TTL", int, 3600, "seconds an idle visitor's session is kept"
)
MAX_SESSIONS = Setting(
    "MNIST_DEMO_MAX_SESSIONS", int, 200, "sessions kept in memory, and sessions holding a model"
)
DOWNLOADS = Setting("MNIST_DEMO_DOWNLOADS", int, 50, "retrained models kept for download")
FRAME_ANCESTORS = Setting(
    "MNIST_DEMO_FRAME_ANCESTORS",
    str,
    "'self' https://huggingface.co",
    "the sites that may show the page in a frame (CSP frame-ancestors)",
    "`'self' https://huggingface.co`",
)

# What one anonymous client may make the server hold (mnist_demo.ui.guards.limits).
MAX_REQUEST_MB = Setting("MNIST_DEMO_MAX_REQUEST_MB", int, 6, "MB in any one request body")
UPLOAD_MB = Setting("MNIST_DEMO_UPLOAD_MB", int, 200, "MB of uploaded files kept on disk")
UPLOAD_FILES = Setting("MNIST_DEMO_UPLOAD_FILES", int, 2000, "uploaded files kept on disk")
UPLOAD_AGE = Setting("MNIST_DEMO_UPLOAD_AGE", float, 3600.0, "seconds an upload is kept")
BLOB_ENTRIES = Setting("MNIST_DEMO_BLOB_ENTRIES", int, 64, "Sketchpad canvas pieces kept")
BLOB_MB = Setting("MNIST_DEMO_BLOB_MB", int, 16, "MB of Sketchpad canvas pieces kept")
BLOB_AGE = Setting("MNIST_DEMO_BLOB_AGE", float, 120.0, "seconds a canvas piece is kept")
EVENTS_PER_SESSION = Setting(
    "MNIST_DEMO_EVENTS_PER_SESSION", int, 4, "calls one session may have queued or running"
)
LISTENER_TIMEOUT = Setting(
    "MNIST_DEMO_LISTENER_TIMEOUT", float, 8.0, "seconds of unread progress before a run stops"
)

# A class's drawings and runs (mnist_demo.classroom).
DATABASE_URL = Setting(
    "MNIST_DEMO_DATABASE_URL", str, None, "the classes' database (SQLAlchemy URL)", "unset: SQLite"
)
CLASS_DIR = Setting(
    "MNIST_DEMO_CLASS_DIR", str, "classes", "folder for the SQLite file classes.db", "`classes/`"
)
MAX_CLASSES = Setting("MNIST_DEMO_MAX_CLASSES", int, 200, "classes kept on this host")
CLASS_DRAWINGS = Setting("MNIST_DEMO_CLASS_DRAWINGS", int, 5000, "drawings kept per class")
STUDENT_RATE = Setting(
    "MNIST_DEMO_STUDENT_RATE", int, 30, "drawings one student may send per minute"
)
CLASS_RUNS = Setting("MNIST_DEMO_CLASS_RUNS", int, 100, "run records kept per class")

SETTINGS = (
    DATA,
    WEIGHTS,
    DEVICE,
    SERVER_NAME,
    SERVER_PORT,
    MAX_EPOCHS,
    MAX_TRAIN_SECONDS,
    TRAIN_THREADS,
    TRAIN_LINE,
    PREDICT_CONCURRENCY,
    QUEUE_SIZE,
    SESSION_TTL,
    MAX_SESSIONS,
    DOWNLOADS,
    FRAME_ANCESTORS,
    MAX_REQUEST_MB,
    UPLOAD_MB,
    UPLOAD_FILES,
    UPLOAD_AGE,
    BLOB_ENTRIES,
    BLOB_MB,
    BLOB_AGE,
    EVENTS_PER_SESSION,
    LISTENER_TIMEOUT,
    DATABASE_URL,
    CLASS_DIR,
    MAX_CLASSES,
    CLASS_DRAWINGS,
    STUDENT_RATE,
    CLASS_RUNS,
)
