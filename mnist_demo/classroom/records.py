"""What the store hands out and takes in: keys, drawings, runs, its errors and its caps.

Each error's message is one line that is safe to show a visitor: it names no code, key or path.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np
from PIL import Image
from safetensors.torch import save as save_safetensors

from mnist_demo.classroom.keys import new_run_id
from mnist_demo.classroom.schema import NICKNAME_LENGTH, SESSION_LENGTH, TITLE_LENGTH
from mnist_demo.settings import CLASS_DRAWINGS, CLASS_RUNS, MAX_CLASSES, STUDENT_RATE

PIXELS_SHAPE = (28, 28)
THUMBNAIL_SIDE = 64  # The board's thumbnails: at most this many pixels a side.
THUMBNAIL_BYTES = 64 * 1024
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
RUN_KINDS = ("retrain", "finetune")


class ClassError(Exception):
    """A refusal whose message is one line, safe to show a visitor."""


class NoSuchClass(ClassError):
    def __init__(self) -> None:
        super().__init__("There is no class with that code: check the link.")


class NoSuchRun(ClassError):
    def __init__(self) -> None:
        super().__init__("There is no run with that id: check the link.")


class WrongKey(ClassError):
    def __init__(self) -> None:
        super().__init__("That teacher key does not open this class.")


class ClassFull(ClassError):
    """A cap: classes per host, drawings per class, a student's drawings per minute, runs."""


@dataclass(frozen=True)
class ClassLimits:
    max_classes: int = int(MAX_CLASSES.default)
    class_drawings: int = int(CLASS_DRAWINGS.default)
    student_rate: int = int(STUDENT_RATE.default)  # Drawings per student per minute.
    class_runs: int = int(CLASS_RUNS.default)

    @classmethod
    def from_env(cls) -> ClassLimits:
        return cls(
            int(MAX_CLASSES.read()),
            int(CLASS_DRAWINGS.read()),
            int(STUDENT_RATE.read()),
            int(CLASS_RUNS.read()),
        )


@dataclass(frozen=True)
class ClassKeys:
    code: str  # The join code: secrets.token_urlsafe(12), 16 characters.
    teacher_key: str  # secrets.token_urlsafe(24); only its hash is stored.


@dataclass(frozen=True)
class Drawing:
    id: int
    code: str
    nickname: str  # "" when the student gave none.
    session: str  # An opaque per-visitor id, "" if none.
    label: int  # What the student says it is, 0-9.
    predicted: int | None  # The model's answer when it was submitted.
    confidence: float | None
    pixels: np.ndarray  # (28, 28) float32 in [0, 1]: the model's input before normalisation.
    thumbnail_png: bytes  # The ink as drawn, a PNG of at most 64 px a side.
    created: datetime  # UTC.


@dataclass(frozen=True)
class RunRecord:
    id: str  # secrets.token_urlsafe(9): used in ?model=ID links.
    code: str
    nickname: str
    session: str
    kind: str  # "retrain" | "finetune"
    settings: dict  # The TrainConfig as a dict.
    curves: dict  # Whatever the board needs to redraw the curves.
    test_accuracy: float | None  # On the MNIST test set.
    pool_accuracy: float | None  # On the class pool's held-out part.
    created: datetime


def utc_now() -> datetime:
    """Now as a naive UTC datetime, the tables' convention (see schema)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def as_utc(stored: datetime) -> datetime:
    return stored.replace(tzinfo=timezone.utc)


def clean_text(value: object, length: int, what: str) -> str:
    """A nickname, session or title: a string, on one line, trimmed to ``length``."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"the {what} must be text")
    return " ".join(value.split())[:length]


def clean_nickname(value: object) -> str:
    return clean_text(value, NICKNAME_LENGTH, "nickname")


def clean_session(value: object) -> str:
    return clean_text(value, SESSION_LENGTH, "session")


def clean_title(value: object) -> str:
    return clean_text(value, TITLE_LENGTH, "title")


def check_label(value: object, what: str = "label", optional: bool = False) -> int | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value <= 9:
        raise ValueError(f"the {what} must be a digit from 0 to 9, not {value!r}")
    return int(value)


def check_confidence(value: object) -> float | None:
    if value is None:
        return None
    number = float(value)  # type: ignore[arg-type]
    if not 0.0 <= number <= 1.0:
        raise ValueError(f"the confidence must be between 0 and 1, not {value!r}")
    return number


def pixels_to_bytes(pixels: object) -> bytes:
    """A (28, 28) image in [0, 1] as little-endian float32 bytes (3,136 of them)."""
    array = np.asarray(pixels, dtype=np.float32)
    if array.shape != PIXELS_SHAPE:
        raise ValueError(f"a drawing's pixels must be 28x28, not {array.shape}")
    if not np.isfinite(array).all() or array.min() < 0 or array.max() > 1:
        raise ValueError("a drawing's pixels must lie between 0 and 1")
    return array.astype("<f4").tobytes()


def pixels_from_bytes(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype="<f4").astype(np.float32).reshape(PIXELS_SHAPE)


def check_thumbnail(data: object) -> bytes:
    """A small PNG: the signature, at most 64 KB, at most 64 px a side."""
    if not isinstance(data, (bytes, bytearray)) or not bytes(data).startswith(PNG_SIGNATURE):
        raise ValueError("the thumbnail must be a PNG image")
    if len(data) > THUMBNAIL_BYTES:
        raise ValueError(f"the thumbnail must be at most {THUMBNAIL_BYTES // 1024} KB")
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
    except Exception:  # PIL raises several kinds for a broken file.
        raise ValueError("the thumbnail is not a readable PNG image") from None
    if max(width, height) > THUMBNAIL_SIDE:
        raise ValueError(f"the thumbnail must be at most {THUMBNAIL_SIDE} px a side")
    return bytes(data)


def check_kind(kind: object) -> str:
    if kind not in RUN_KINDS:
        raise ValueError(f"a run's kind must be one of {RUN_KINDS}, not {kind!r}")
    return str(kind)


def drawing_values(
    code, pixels, thumbnail_png, label, predicted, confidence, nickname, session
) -> dict:
    """A drawing's columns, each checked (ValueError, one line, for anything wrong)."""
    return {
        "code": code,
        "label": check_label(label),
        "predicted": check_label(predicted, "predicted digit", optional=True),
        "confidence": check_confidence(confidence),
        "pixels": pixels_to_bytes(pixels),
        "thumbnail_png": check_thumbnail(thumbnail_png),
        "nickname": clean_nickname(nickname),
        "session": clean_session(session),
    }


def as_json(value: object, what: str) -> dict:
    """A run's settings or curves: a dict that JSON can hold (ValueError otherwise)."""
    if not isinstance(value, dict):
        raise ValueError(f"a run's {what} must be a dict")
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError):
        raise ValueError(f"a run's {what} must hold only JSON values") from None


def run_values(code, nickname, session, kind, settings, curves, test_accuracy, state_dict) -> dict:
    """A new run's columns, each checked; the weights as safetensors bytes (never a pickle)."""
    weights = save_safetensors(
        {name: tensor.detach().cpu().contiguous() for name, tensor in state_dict.items()}
    )
    return {
        "id": new_run_id(),
        "code": code,
        "nickname": clean_nickname(nickname),
        "session": clean_session(session),
        "kind": check_kind(kind),
        "settings": as_json(settings, "settings"),
        "curves": as_json(curves, "curves"),
        "test_accuracy": None if test_accuracy is None else float(test_accuracy),
        "pool_accuracy": None,
        "weights": weights,
        "created": utc_now(),
    }
