"""Guards on Gradio's image components, whichever the page uses: nothing big is decoded or kept.

Gradio 6.31 decodes every image of a request before our function sees it (an ImageEditor's
background, each layer and the composite), and keeps a Sketchpad's canvas pieces (``accept_blobs``)
in one dictionary shared by all sessions that never expires and sizes a list by the caller's layer
index. So, for every Image and ImageEditor of the app:

- ``preprocess`` first reads each image's size from its header (no pixel decoded) and refuses a
  request with more than one layer or more than ink.MAX_PIXELS pixels in all;
- ``accept_blobs`` takes only layer 0 and images within the same caps;
- the blob dictionary becomes a :class:`BlobStore`, bounded by count, bytes and age.
"""

from __future__ import annotations

import contextlib
import functools
import io
import threading
import time
import weakref
from collections import OrderedDict
from pathlib import Path
from typing import Any

import gradio as gr
from fastapi import HTTPException
from PIL import Image

from mnist_demo.recognition.ink import MAX_LAYERS, MAX_PIXELS, check_size
from mnist_demo.serving.memory import release_freed_memory
from mnist_demo.ui.guards.limits import Limits

# Past this many pixels in one request, freed memory is handed back to the system afterwards.
BIG_PIXELS = 4_000_000


class Refused(ValueError):
    """A request this server will not decode or keep; the message says why, in one line."""


def refusing(error: Refused) -> gr.Error:
    return gr.Error(f"Refused: {error}", print_exception=False)


class BlobStore(OrderedDict):
    """Gradio's ``blob_storage`` dict, oldest first, trimmed to the caps on every write."""

    def __init__(self, limits: Limits) -> None:
        super().__init__()
        self.limits = limits
        self._lock = threading.Lock()
        self._written: dict[str, tuple[float, int]] = {}

    @property
    def total_bytes(self) -> int:
        return sum(size for _, size in self._written.values())

    def __setitem__(self, key: str, value: Any) -> None:
        with self._lock:
            super().__setitem__(key, value)
            self.move_to_end(key)
            self._written[key] = (time.monotonic(), entry_bytes(value))
            self._trim()

    def __delitem__(self, key: str) -> None:
        with self._lock:
            super().__delitem__(key)
            self._written.pop(key, None)

    def pop(self, key: str, *default: Any) -> Any:
        with self._lock:
            self._written.pop(key, None)
            return super().pop(key, *default)

    def _trim(self) -> None:
        limits = self.limits
        oldest_allowed = time.monotonic() - limits.blob_age_seconds
        while len(self) > 0:
            key = next(iter(self))
            written, _ = self._written.get(key, (0.0, 0))
            over = len(self) > limits.blob_entries or self.total_bytes > limits.blob_bytes
            if not over and written >= oldest_allowed:
                break
            super().__delitem__(key)
            self._written.pop(key, None)


def entry_bytes(entry: Any) -> int:
    pieces = [entry.background, entry.composite, *(entry.layers or [])]
    return sum(len(piece) for piece in pieces if isinstance(piece, (bytes, bytearray)))


def image_size(source: Any) -> tuple[int, int] | None:
    """(height, width) from an image's header, or None when it is no image Pillow can read."""
    path = getattr(source, "path", source)
    try:
        opened = (
            Image.open(io.BytesIO(source))
            if isinstance(source, (bytes, bytearray))
            else Image.open(Path(path))
        )
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        # Pillow's own alarm (a warning, or an error where warnings are errors) is far past
        # MAX_PIXELS too.
        raise Refused(
            f"the image is too large for a drawing (over {MAX_PIXELS:,} pixels)."
        ) from None
    except (OSError, ValueError, TypeError):
        return None
    with opened:
        return opened.height, opened.width


def released_when_freed(value: Any, pixels: int) -> Any:
    """``value`` (what Gradio decoded), set to hand memory back once it is freed, if it is big."""
    if pixels > BIG_PIXELS:
        images = list(value.values()) if isinstance(value, dict) else [value]
        for image in images:
            for piece in image if isinstance(image, list) else [image]:
                with contextlib.suppress(TypeError):  # Not every value takes a weak reference.
                    weakref.finalize(piece, release_memory_soon)
    return value


def release_memory_soon(delay: float = 0.2) -> None:
    """Hand freed heap memory back to the system once a big request is done with it.

    glibc keeps what Pillow freed (its image blocks are below the mmap threshold) in per-thread
    arenas: measured, three 49 MP drawings in turn left +610 MB resident, +57 MB after a
    ``malloc_trim``. Elsewhere than glibc there is nothing to do.
    """

    timer = threading.Timer(delay, release_freed_memory)
    timer.daemon = True
    timer.start()


def check_images(sources: list[Any]) -> int:
    """Refuse, before any decoding, images that are too large alone or together; their pixels."""
    total = 0
    for source in sources:
        size = image_size(source)
        if size is None:  # Refused here in one line, rather than by a traceback naming the file.
            raise Refused("not an image file that Pillow can read.")
        try:
            check_size(*size)
        except ValueError as error:
            raise Refused(f"{error}.") from None
        total += size[0] * size[1]
    if total > MAX_PIXELS:
        raise Refused(
            f"these images hold {total:,} pixels together, more than {MAX_PIXELS:,} "
            "for one drawing."
        )
    return total


def editor_sources(component: gr.ImageEditor, payload: Any) -> list[Any]:
    """The images an ImageEditor request would decode: its files, or its stored blobs."""
    cached = component.blob_storage.get(payload.id) if payload.id is not None else None
    entry = cached if payload.id is not None else payload
    if entry is None:
        return []
    layers = [layer for layer in (entry.layers or []) if layer is not None]
    if len(layers) > MAX_LAYERS:
        raise Refused(f"a drawing has at most {MAX_LAYERS} layer; this one has {len(layers)}.")
    return [piece for piece in (entry.background, *layers, entry.composite) if piece is not None]


def guard_editor(component: gr.ImageEditor, limits: Limits) -> None:
    component.blob_storage = BlobStore(limits)
    preprocess, accept_blobs = component.preprocess, component.accept_blobs

    @functools.wraps(preprocess)
    def checked_preprocess(payload):
        try:
            pixels = 0 if payload is None else check_images(editor_sources(component, payload))
        except Refused as error:
            raise refusing(error) from None
        return released_when_freed(preprocess(payload), pixels)

    @functools.wraps(accept_blobs)
    def checked_accept_blobs(data):
        try:
            check_blob(data)
        except Refused as error:  # A plain HTTP answer: this route is no queued event.
            raise HTTPException(413, f"Refused: {error}") from None
        return accept_blobs(data)

    component.preprocess = checked_preprocess
    component.accept_blobs = checked_accept_blobs


def guard_image(component: gr.Image) -> None:
    preprocess = component.preprocess

    @functools.wraps(preprocess)
    def checked_preprocess(payload):
        try:
            pixels = 0 if payload is None else check_images([payload])
        except Refused as error:
            raise refusing(error) from None
        return released_when_freed(preprocess(payload), pixels)

    component.preprocess = checked_preprocess


def check_blob(data: Any) -> None:
    """One canvas piece from ``accept_blobs``: layer 0 or the background/composite, one image."""
    fields = data.data
    if fields.get("type") not in ("background", "layer", "composite"):
        raise Refused("a canvas piece is a background, a layer or a composite.")
    if fields.get("type") == "layer" and str(fields.get("index")) != "0":
        raise Refused("a drawing has one layer (index 0).")
    if len(data.files) != 1 or not isinstance(data.files[0][1], (bytes, bytearray)):
        raise Refused("send one image per canvas piece.")
    check_images([data.files[0][1]])


def guard_components(demo: gr.Blocks, limits: Limits) -> None:
    """Put the guards on every image component of ``demo`` (call once, after building it)."""
    for block in demo.blocks.values():
        if isinstance(block, gr.ImageEditor):
            guard_editor(block, limits)
        elif isinstance(block, gr.Image):
            guard_image(block)
