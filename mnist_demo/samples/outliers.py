"""Synthetic non-digits: printed letters and symbols, scribbles, zigzags, spirals, stars, shapes.

Training shows the model these pushed toward the uniform distribution (outlier exposure,
Hendrycks et al. 2019, "Deep Anomaly Detection with Outlier Exposure"), so that a drawing that is
no digit gets a low top probability instead of a confident wrong answer. Each one is drawn on a
canvas like a visitor's drawing and goes through the app's own preprocessing, so the model sees
non-digits exactly as it will see them in the app.

Letters and symbols that a person could read as a digit (O, I, l, S, Z, B, g, q, ...) are left
out: nobody can blame a model for reading an O as a 0. Likewise plain circles and single lines.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from mnist_demo.config import MNIST, DatasetSpec
from mnist_demo.recognition.preprocess import preprocess
from mnist_demo.samples.drawings import render

# Printed characters that are not digit-like in any common font.
CHARACTERS = "ACEFHKMNPRUVWXYacefhkmnprtuvwxy#%&@*+=<>~^"
# DejaVu trains, Liberation validates (thresholds are chosen on it), Pillow's own built-in font is
# kept for evaluation.
FONT_DIRS = {
    "train": Path("/usr/share/fonts/truetype/dejavu"),
    "validation": Path("/usr/share/fonts/truetype/liberation"),
}
# The Debian package that installs each folder (fonts-liberation2 installs liberation2/ instead).
FONT_PACKAGES = {"train": "fonts-dejavu-core", "validation": "fonts-liberation"}
FONT_USES = {"train": "outlier exposure", "validation": "choosing the verdict's thresholds"}
_warned_folders: set[Path] = set()


class MissingFontsWarning(UserWarning):
    """A role's font folder is missing or empty, so its non-digits use Pillow's built-in font."""


KINDS = ("text", "scribble", "zigzag", "spiral", "star", "shape")

Polyline = list[tuple[float, float]]  # (row, column) points in a unit box.


def fonts_for(role: str) -> list[Path | None]:
    """The font files for ``role``; ``[None]`` (Pillow's built-in font) for "evaluation", or
    with a :class:`MissingFontsWarning` when the role's fonts are not installed."""
    folder = FONT_DIRS.get(role)
    if folder is None:
        return [None]
    files = sorted(folder.glob("*.ttf")) if folder.is_dir() else []
    fonts = [path for path in files if "Math" not in path.name]
    if not fonts:
        warn_missing_fonts(role, folder)
    return fonts or [None]


def warn_missing_fonts(role: str, folder: Path) -> None:
    """Warn, once per folder, that ``role`` falls back to Pillow's built-in font. That font is
    the one held out for evaluation, so without a warning the held-out results would quietly
    stop being held out."""
    if folder in _warned_folders:
        return
    _warned_folders.add(folder)
    package = FONT_PACKAGES.get(role, "the fonts")
    warnings.warn(
        f"no fonts in {folder}: {FONT_USES.get(role, role)} falls back to Pillow's built-in font, "
        f"the one kept for evaluation, so held-out non-digit results will be optimistic; install "
        f"Debian's {package} (apt-get install {package})",
        MissingFontsWarning,
        stacklevel=3,
    )


def load_font(path: Path | None, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=size) if path is None else ImageFont.truetype(path, size)


def text_mask(rng: np.random.Generator, size: int, fonts: Sequence[Path | None]) -> np.ndarray:
    """One to three printed characters, in a random font, size and slant."""
    count = int(rng.choice([1, 1, 1, 2, 3]))
    text = "".join(rng.choice(list(CHARACTERS), count))
    font = load_font(fonts[int(rng.integers(len(fonts)))], int(size * rng.uniform(0.35, 0.7)))
    canvas = Image.new("L", (size * 2, size * 2), 0)
    ImageDraw.Draw(canvas).text((size // 2, size // 2), text, fill=255, font=font)
    canvas = canvas.rotate(rng.uniform(-15, 15), resample=Image.Resampling.BILINEAR)
    return np.asarray(canvas)


def scribble() -> Callable[[np.random.Generator], list[Polyline]]:
    def make(rng: np.random.Generator) -> list[Polyline]:
        strokes = []
        for _ in range(int(rng.integers(1, 4))):
            # Long, winding walks: a short one is just a curve, and may well be a 1 or a 7.
            steps = int(rng.integers(25, 60))
            turn = np.cumsum(rng.normal(0, rng.uniform(0.6, 1.2), steps))
            points = np.cumsum(np.stack([np.sin(turn), np.cos(turn)], 1), 0)
            strokes.append([tuple(p) for p in points])
        return strokes

    return make


def zigzag(rng: np.random.Generator) -> list[Polyline]:
    teeth = int(rng.integers(5, 10))
    amplitude = rng.uniform(0.3, 1.0)
    points = [(amplitude * (i % 2), i / teeth) for i in range(teeth + 1)]
    if rng.random() < 0.5:
        points = [(x, y) for y, x in points]  # Up and down instead of across.
    return [points]


def spiral(rng: np.random.Generator) -> list[Polyline]:
    turns = rng.uniform(2.5, 4.5)  # Fewer turns look like a 6 or a 9.
    angles = np.linspace(0, turns * 2 * math.pi, int(turns * 24))
    radius = angles / angles[-1]
    return [[(r * math.sin(a), r * math.cos(a)) for r, a in zip(radius, angles, strict=True)]]


def star(rng: np.random.Generator) -> list[Polyline]:
    points = int(rng.integers(5, 9))
    if rng.random() < 0.4:  # An asterisk: lines through the centre.
        return [
            [(math.sin(a), math.cos(a)), (-math.sin(a), -math.cos(a))]
            for a in np.linspace(0, math.pi, points // 2 + 1, endpoint=False)
        ]
    inner = rng.uniform(0.3, 0.55)
    angles = np.linspace(0, 2 * math.pi, 2 * points + 1)
    return [
        [
            (r * math.sin(a), r * math.cos(a))
            for r, a in zip([1, inner] * points + [1], angles, strict=True)
        ]
    ]


def circle(x: float, y: float, radius: float, start: float = 0, end: float = 360) -> Polyline:
    angles = np.deg2rad(np.linspace(start, end, 25))
    return [(y + radius * math.sin(a), x + radius * math.cos(a)) for a in angles]


def shape(rng: np.random.Generator) -> list[Polyline]:
    """A smiley, a box, a triangle, a heart, a grid, a double ring, a wave or a crossed box."""
    choice = int(rng.integers(8))
    if choice == 0:
        mouth = circle(0.5, 0.45, 0.25, 30, 150)
        return [circle(0.5, 0.5, 0.5), circle(0.33, 0.35, 0.05), circle(0.67, 0.35, 0.05), mouth]
    if choice == 1:
        return [[(0, 0), (0, 1), (rng.uniform(0.6, 1.2), 1), (rng.uniform(0.6, 1.2), 0), (0, 0)]]
    if choice == 2:
        return [[(1, 0), (0, rng.uniform(0.2, 0.8)), (1, 1), (1, 0)]]
    if choice == 3:  # A heart, the classic parametric curve.
        t = np.linspace(0, 2 * math.pi, 40)
        rows = -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))
        return [list(zip(rows, 16 * np.sin(t) ** 3, strict=True))]
    if choice == 4:
        lines = int(rng.integers(2, 4))
        marks = np.linspace(0.2, 0.8, lines)
        return [[(m, 0), (m, 1)] for m in marks] + [[(0, m), (1, m)] for m in marks]
    if choice == 5:
        return [circle(0.5, 0.5, 0.5), circle(0.5, 0.5, rng.uniform(0.2, 0.35))]
    if choice == 6:
        waves = rng.uniform(1.5, 3.5)
        return [
            [(0.5 + 0.25 * math.sin(t * waves * 2 * math.pi), t) for t in np.linspace(0, 1, 40)]
        ]
    return [[(0, 0), (0, 1), (1, 1), (1, 0), (0, 0)], [(0, 0), (1, 1)], [(0, 1), (1, 0)]]


STROKE_KINDS: dict[str, Callable[[np.random.Generator], list[Polyline]]] = {
    "scribble": scribble(),
    "zigzag": zigzag,
    "spiral": spiral,
    "star": star,
    "shape": shape,
}


def stroke_mask(strokes: list[Polyline], rng: np.random.Generator, size: int) -> np.ndarray:
    """Fit the strokes into the canvas at a random size and place, with a random round brush."""
    points = np.concatenate([np.asarray(stroke, dtype=np.float64) for stroke in strokes])
    low, extent = points.min(0), np.maximum(np.ptp(points, 0), 1e-6)
    box = rng.uniform(0.35, 0.85) * size
    width = max(2, round(rng.uniform(0.04, 0.14) * box))
    stretch = np.array([1.0, rng.uniform(0.7, 1.3)])
    scale = min(box / extent.max(), (size - 2 * width) / (extent * stretch).max())
    offset = width + rng.uniform(0, 1, 2) * np.maximum(
        size - 2 * width - extent * stretch * scale, 0
    )
    pairs = []
    for stroke in strokes:
        placed = (np.asarray(stroke) - low) * stretch * scale + offset
        pairs.extend([a, b] for a, b in zip(placed[:-1], placed[1:], strict=True))
    return render(np.array(pairs), size, width)


def non_digit(
    kind: str, rng: np.random.Generator, fonts: Sequence[Path | None], size: int = 112
) -> np.ndarray:
    """One non-digit of ``kind`` as an ink mask (uint8, 0 background, 255 ink)."""
    if kind == "text":
        return text_mask(rng, size, fonts)
    if kind not in STROKE_KINDS:
        raise ValueError(f"unknown kind {kind!r}; choose one of {KINDS}")
    return stroke_mask(STROKE_KINDS[kind](rng), rng, size)


def non_digits(
    count: int, seed: int, role: str = "train", spec: DatasetSpec = MNIST
) -> torch.Tensor:
    """``count`` non-digits as the model sees them: (count, 1, 28, 28), normalised for ``spec``.

    Text makes up a third, the stroke kinds share the rest. ``role`` picks the fonts (see
    :data:`FONT_DIRS`); use a different seed for each role.
    """
    rng = np.random.default_rng([seed, KINDS.index("text"), len(role)])
    fonts = fonts_for(role)
    tensors = []
    while len(tensors) < count:
        kind = "text" if rng.random() < 1 / 3 else KINDS[int(rng.integers(1, len(KINDS)))]
        prepared = preprocess(non_digit(kind, rng, fonts, int(rng.integers(96, 160))), spec)
        if not prepared.blank:
            tensors.append(prepared.tensor)
    return torch.cat(tensors) if tensors else torch.empty(0, 1, 28, 28)
