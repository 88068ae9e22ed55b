"""Any drawing -> the 28x28 image the model sees, made the way MNIST itself was made.

MNIST's digits were fitted into a 20x20 box keeping their aspect ratio (antialiased), then placed
in a 28x28 field with their centre of mass at its centre (LeCun et al., "Gradient-based learning
applied to document recognition", 1998). Shrinking a whole canvas to 28x28 instead leaves a small
or off-centre digit tiny and misplaced, which the model has never seen.

The steps are small pure functions so that they can be shown one by one:
``to_ink`` (mnist_demo.recognition.ink) -> ``ink_box`` -> ``crop`` -> ``fit`` -> ``place`` ->
``to_tensor``. Only the cropped region is resized, so the cost hardly depends on the canvas size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from mnist_demo.config import IMAGE_SIZE, MNIST, DatasetSpec
from mnist_demo.data import normalize
from mnist_demo.recognition.ink import to_ink

# Ink weaker than this (of 255) is paper texture, JPEG noise or a faint smudge, not a stroke.
NOISE_LEVEL = 32
# The digit's box holds the pixels with at least this fraction of the strongest ink, so that a
# faint antialiased fringe does not widen it (MNIST's own digits keep their 20-pixel extent).
BOX_FRACTION = 0.2
# A drawing whose longer side is below this fraction of the canvas's (or a few pixels) is a tap
# or a speck, not a digit: it gets no prediction rather than a confident guess.
SPECK_FRACTION = 0.04
SPECK_PIXELS = 3
# MNIST's centres of mass average (13.99, 14.01) in pixel-index coordinates, spread uniformly by
# +-0.5: the digits were moved by whole pixels to put the centre of mass on pixel 14.
MNIST_CENTRE = 14.0
# The resampling kernel's half-width, in source pixels at scale 1 (Lanczos-3, as Pillow's).
LANCZOS_A = 3


@dataclass(frozen=True)
class Box:
    """A region of the drawing: rows ``top:bottom`` and columns ``left:right``."""

    top: int
    left: int
    bottom: int
    right: int

    @property
    def height(self) -> int:
        return self.bottom - self.top

    @property
    def width(self) -> int:
        return self.right - self.left


@dataclass(frozen=True)
class Preprocessed:
    """What the model gets from one drawing.

    ``tensor`` is (1, 1, 28, 28) normalised for the model, ``picture`` the same image as uint8
    (white ink on black) for display; both are None when ``blank`` (``reason`` says why).
    ``box`` is where the digit was found in the drawing.
    """

    tensor: torch.Tensor | None
    picture: np.ndarray | None
    blank: bool
    box: Box | None = None
    reason: str = ""


def ink_box(ink: np.ndarray) -> Box | None:
    """The box around every pixel holding at least a fifth of the strongest ink.

    None when even the strongest ink is below the noise level: nothing was drawn. Works from the
    strongest ink per row, then per column within those rows (no full-size temporary).
    """
    row_strength = ink.max(axis=1)
    strongest = int(row_strength.max())
    if strongest < NOISE_LEVEL:
        return None
    threshold = max(NOISE_LEVEL, math.ceil(strongest * BOX_FRACTION))
    rows = np.flatnonzero(row_strength >= threshold)
    band = ink[rows[0] : rows[-1] + 1]
    columns = np.flatnonzero(band.max(axis=0) >= threshold)
    return Box(int(rows[0]), int(columns[0]), int(rows[-1]) + 1, int(columns[-1]) + 1)


def crop(ink: np.ndarray, box: Box) -> np.ndarray:
    return ink[box.top : box.bottom, box.left : box.right]


def lanczos(x: np.ndarray) -> np.ndarray:
    """The Lanczos-3 kernel: sinc(x) * sinc(x / 3) on [-3, 3), 0 outside (as Pillow's)."""
    return np.where((x >= -LANCZOS_A) & (x < LANCZOS_A), np.sinc(x) * np.sinc(x / LANCZOS_A), 0.0)


def resize_weights(source: int, target: int) -> np.ndarray:
    """The (target, source) matrix that resamples one axis from ``source`` to ``target`` pixels.

    Pillow's convolution resampling (Resample.c ``precompute_coeffs``) in float64: output pixel
    ``i`` is centred on ``(i + 0.5) * scale`` in the source, the kernel is stretched by the scale
    when shrinking (that is the antialiasing), it covers the source pixels from
    ``int(centre - support + 0.5)`` to ``int(centre + support + 0.5)``, and each row of weights
    sums to 1. The page's static/preprocess.js computes the same weights, line for line.
    """
    scale = source / target
    filter_scale = max(scale, 1.0)
    support = LANCZOS_A * filter_scale
    centres = (np.arange(target) + 0.5) * scale
    # int() truncates toward zero, as C's cast does in Pillow.
    first = np.maximum(np.trunc(centres - support + 0.5), 0)[:, None]
    last = np.minimum(np.trunc(centres + support + 0.5), source)[:, None]
    pixels = np.arange(source)[None, :]
    taps = lanczos((pixels - centres[:, None] + 0.5) / filter_scale)
    taps = np.where((pixels >= first) & (pixels < last), taps, 0.0)
    return taps / taps.sum(axis=1, keepdims=True)


def resample(weights: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``weights @ values``, one output row at a time over the few source rows it reads.

    The same sums as the matrix product, without a multi-threaded BLAS call: on a busy 2-core
    host that made a 20-row product tens of milliseconds instead of one.
    """
    out = np.empty((weights.shape[0], values.shape[1]))
    for index, row in enumerate(weights):
        taps = np.flatnonzero(row)
        begin, end = taps[0], taps[-1] + 1
        out[index] = np.dot(row[begin:end], values[begin:end])
    return out


def fit(region: np.ndarray, size: int) -> np.ndarray:
    """Scale the longer side to ``size`` keeping the aspect ratio, with antialiasing.

    Returns float32 in [0, 1] with the strongest ink at 1, as in MNIST, where nearly every digit
    reaches full intensity: a thin brush on a big canvas would otherwise come out faint.
    """
    height, width = region.shape
    scale = size / max(height, width)
    new_height, new_width = max(1, round(height * scale)), max(1, round(width * scale))
    resized = resample(resize_weights(height, new_height), region.astype(np.float64))
    resized = resample(resize_weights(width, new_width), resized.T).T
    # Lanczos overshoots at edges (and undershoots below 0). Clipping at the region's own
    # strongest ink makes black, grey and coloured ink alike.
    patch = np.clip(resized, 0.0, float(region.max())).astype(np.float32)
    strongest = patch.max()
    return patch / strongest if strongest > 0 else patch


def centre_of_mass(patch: np.ndarray) -> tuple[float, float]:
    """(row, column) of the ink's centre of mass, in pixel-index coordinates."""
    # In float64, as the page computes it: a whole-pixel placement must not hang on rounding.
    patch = patch.astype(np.float64)
    total = patch.sum()
    rows = patch.sum(axis=1) @ np.arange(patch.shape[0]) / total
    columns = patch.sum(axis=0) @ np.arange(patch.shape[1]) / total
    return float(rows), float(columns)


def place(patch: np.ndarray, spec: DatasetSpec = MNIST) -> np.ndarray:
    """Put the fitted patch in a 28x28 frame: centred by mass (MNIST) or by its box (Fashion)."""
    height, width = patch.shape
    if spec.centre_by_mass:
        row, column = centre_of_mass(patch)
        top, left = whole_pixel(MNIST_CENTRE - row), whole_pixel(MNIST_CENTRE - column)
    else:
        top, left = (IMAGE_SIZE - height) // 2, (IMAGE_SIZE - width) // 2
    # A lopsided digit (a 7's heavy top) may not fit where its mass says: keep all of its ink.
    top = min(max(top, 0), IMAGE_SIZE - height)
    left = min(max(left, 0), IMAGE_SIZE - width)
    frame = np.zeros((IMAGE_SIZE, IMAGE_SIZE), dtype=np.float32)
    frame[top : top + height, left : left + width] = patch
    return frame


def whole_pixel(value: float) -> int:
    return math.floor(value + 0.5)


def to_picture(frame: np.ndarray) -> np.ndarray:
    """Float [0, 1] -> uint8, the 8-bit grey levels MNIST itself is stored in."""
    return np.rint(np.clip(frame, 0, 1) * 255).astype(np.uint8)


def to_tensor(picture: np.ndarray, spec: DatasetSpec = MNIST) -> torch.Tensor:
    """uint8 (28, 28) -> (1, 1, 28, 28) normalised exactly as the training images were."""
    pixels = torch.from_numpy(picture).to(torch.float32).div_(255)
    return normalize(pixels, spec).view(1, 1, IMAGE_SIZE, IMAGE_SIZE)


def is_speck(box: Box, canvas_shape: tuple[int, ...]) -> bool:
    extent = max(box.height, box.width)
    return extent < max(SPECK_PIXELS, SPECK_FRACTION * max(canvas_shape[:2]))


def preprocess(image: Any, spec: DatasetSpec = MNIST) -> Preprocessed:
    """Any accepted drawing (see mnist_demo.recognition.ink) -> the model's input, or a blank
    result.

    Raises ValueError, saying why, for anything that is not an image.
    """
    return preprocess_ink(to_ink(image), spec)


def preprocess_ink(
    ink: np.ndarray | None, spec: DatasetSpec = MNIST, canvas_shape: tuple[int, ...] | None = None
) -> Preprocessed:
    """An ink map (see :func:`to_ink`) -> the model's input, or a blank result.

    ``canvas_shape`` is what a speck is judged against (the ink map's own shape by default);
    mnist_demo.numbers passes one digit's piece of a larger drawing here.
    """
    box = None if ink is None else ink_box(ink)
    if box is None:
        return Preprocessed(None, None, blank=True, reason="nothing drawn")
    if is_speck(box, canvas_shape or ink.shape):
        return Preprocessed(None, None, blank=True, box=box, reason="too small to be a digit")
    patch = fit(crop(ink, box), spec.fit_box)
    if not patch.any():  # A hairline on a giant canvas can vanish when shrunk to 20 pixels.
        return Preprocessed(None, None, blank=True, box=box, reason="strokes too thin to see")
    picture = to_picture(place(patch, spec))
    return Preprocessed(to_tensor(picture, spec), picture, blank=False, box=box)
