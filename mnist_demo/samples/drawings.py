"""Drawing-like digits made from held-out MNIST test digits, deterministically.

A digit drawn in the app differs from MNIST: a round brush gives every stroke the same width, the
path is smooth, and the digit can have any size and place on a large canvas, in any colour
convention. Each MNIST digit here is thinned to its skeleton and redrawn with a round brush of
random width, size, slant and position on a 280-800 px canvas, then dressed in one of
:data:`CONVENTIONS`. The same ``seed`` and index always give the same drawing.

The redraw is not perfect: a thick MNIST digit whose loop is filled in thins to a line (a blob
"9" becomes a hook), so an accuracy measured here slightly understates the model on real drawings.

The package itself uses these drawings, so they live here rather than in the tests: calibrate.py
chooses the verdict's thresholds on drawings of held-out training digits, honesty.py measures the
shipped model on drawings of test digits, and templates.py and outliers.py draw their strokes with
:func:`render` and :func:`dress`. (Scoring a set of drawings is test-only: it is in the tests.)
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from mnist_demo.data import denormalize, load_split

CONVENTIONS = (
    "black_on_white",  # RGB, a pen on paper or the Sketchpad's composite.
    "white_on_black",  # RGB, MNIST's own convention or a dark canvas.
    "grey",  # L, grey ink on grey paper.
    "coloured",  # RGB, a coloured brush on a white or pale canvas.
    "transparent",  # RGBA, ink of any colour in the alpha channel.
    "sketchpad",  # The Gradio Sketchpad value dict, ink in the layer's alpha.
)
INK_COLOURS = ((0, 0, 0), (255, 255, 255), (220, 30, 30), (30, 60, 220), (20, 150, 40),
               (250, 220, 0), (150, 40, 180), (255, 140, 0))  # fmt: skip
UPSAMPLE = 8  # The skeleton is traced on a 224x224 grid so that redrawn paths are smooth.


@dataclass(frozen=True)
class Drawing:
    """One drawing-like digit and how it was made."""

    image: Any  # A numpy array or a Sketchpad dict, in the convention named below.
    label: int
    convention: str
    canvas_size: int
    digit_height: int  # Pixels, brush included.
    stroke_width: int  # The brush's diameter in pixels.
    source_index: int  # Index of the MNIST test digit it was drawn from.


def thin(binary: np.ndarray) -> np.ndarray:
    """Zhang-Suen thinning: a boolean shape -> its one-pixel-wide skeleton."""
    image = np.pad(binary.astype(np.uint8), 1)
    while True:
        removed = 0
        for first_pass in (True, False):
            centre = image[1:-1, 1:-1]
            # Neighbours P2..P9, clockwise from north.
            p = [image[r : r + centre.shape[0], c : c + centre.shape[1]] for r, c in
                 ((0, 1), (0, 2), (1, 2), (2, 2), (2, 1), (2, 0), (1, 0), (0, 0))]  # fmt: skip
            count = sum(q.astype(np.int8) for q in p)
            transitions = sum(
                ((p[i] == 0) & (p[(i + 1) % 8] == 1)).astype(np.int8) for i in range(8)
            )
            if first_pass:
                side = (p[0] * p[2] * p[4] == 0) & (p[2] * p[4] * p[6] == 0)
            else:
                side = (p[0] * p[2] * p[6] == 0) & (p[0] * p[4] * p[6] == 0)
            remove = (centre == 1) & (count >= 2) & (count <= 6) & (transitions == 1) & side
            removed += int(remove.sum())
            centre[remove] = 0
        if removed == 0:
            return image[1:-1, 1:-1].astype(bool)


def skeleton_segments(digit: np.ndarray) -> np.ndarray:
    """A 28x28 digit in [0, 1] -> (K, 2, 2) skeleton segments (row, column) in 28-px units."""
    size = digit.shape[0] * UPSAMPLE
    smooth = Image.fromarray(np.rint(digit * 255).astype(np.uint8)).resize(
        (size, size), Image.Resampling.BICUBIC
    )
    skeleton = thin(np.asarray(smooth) > 100)
    all_rows, all_columns = np.nonzero(skeleton)
    segments = []
    # Link each skeleton pixel to its neighbours east, south, south-east and south-west.
    for dr, dc in ((0, 1), (1, 0), (1, 1), (1, -1)):
        ok = (all_rows + dr < size) & (all_columns + dc >= 0) & (all_columns + dc < size)
        rows, columns = all_rows[ok], all_columns[ok]
        linked = skeleton[rows + dr, columns + dc]
        starts = np.stack([rows[linked], columns[linked]], 1)
        segments.append(np.stack([starts, starts + (dr, dc)], 1))
    return (np.concatenate(segments).astype(np.float64) + 0.5) / UPSAMPLE


def render(segments: np.ndarray, canvas_size: int | tuple[int, int], width: int) -> np.ndarray:
    """Draw the segments (already in canvas pixels) with a round brush: a 0/255 uint8 mask.

    ``canvas_size`` is a square's side or (height, width). Like the Sketchpad's layer alpha, the
    strokes are not antialiased.
    """
    height, across = (canvas_size, canvas_size) if np.ndim(canvas_size) == 0 else canvas_size
    mask = Image.new("L", (int(across), int(height)), 0)
    pen = ImageDraw.Draw(mask)
    radius = width / 2
    points = {(round(c, 1), round(r, 1)) for r, c in segments.reshape(-1, 2)}
    for x, y in points:
        pen.ellipse((x - radius, y - radius, x + radius, y + radius), fill=255)
    for (r0, c0), (r1, c1) in segments:
        pen.line((c0, r0, c1, r1), fill=255, width=width)
    return np.asarray(mask)


def place_segments(
    segments: np.ndarray, rng: np.random.Generator, canvas_size: int
) -> tuple[np.ndarray, int, int]:
    """Slant, stretch, scale and move the skeleton onto the canvas; returns it, height, width."""
    angle = np.deg2rad(rng.uniform(-8, 8))
    stretch = rng.uniform(0.85, 1.15)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    points = segments.reshape(-1, 2) @ rotation.T * (1.0, stretch)
    points -= points.min(0)
    height = rng.uniform(0.25, 0.9) * canvas_size
    width = max(2, round(rng.uniform(0.03, 0.2) * height))
    extent = points.max(0)
    scale = (height - width) / max(extent[0], 1e-6)
    # A wide, short digit (a sideways stretch) must still fit across the canvas.
    scale = min(scale, (canvas_size - 2 * width) / max(extent[1], 1e-6))
    points *= scale
    room = canvas_size - points.max(0) - width
    points += width / 2 + rng.uniform(0, 1, 2) * np.maximum(room, 0)
    return points.reshape(segments.shape), round(extent[0] * scale + width), width


# Training redraws (mnist_demo.training.exposure): the digit's height in pixels and the brush's
# diameter as a fraction of it. Wider than the numbers the benchmark draws (0.05-0.14): a number's
# digits are drawn small with the pad's one brush, so a fifth of their height is common.
REDRAW_HEIGHT = (40, 160)
REDRAW_BRUSH = (0.035, 0.25)


def shaped(digit: np.ndarray, rng: np.random.Generator, height: float, brush: int) -> np.ndarray:
    """A digit's skeleton slanted, stretched and scaled to ``height`` pixels of ink, brush
    included, with its ink box's top-left corner at (0, 0): (K, 2, 2) segments."""
    segments = skeleton_segments(digit)
    angle = np.deg2rad(rng.uniform(-8, 8))
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    points = segments.reshape(-1, 2) @ rotation.T * (1.0, rng.uniform(0.85, 1.15))
    points -= points.min(0)
    points *= (height - brush) / max(points[:, 0].max(), 1e-6)
    return (points + brush / 2).reshape(segments.shape)


def redraw(digit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A 28x28 digit in [0, 1] thinned and redrawn with one round brush of random width, slant,
    stretch and size: a 0/255 ink mask, the digit's box plus a margin."""
    height = rng.uniform(*REDRAW_HEIGHT)
    width = max(2, round(rng.uniform(*REDRAW_BRUSH) * height))
    segments = shaped(digit, rng, height, width) + width / 2
    size = np.ceil(segments.reshape(-1, 2).max(0) + width * 1.5).astype(int)
    return render(segments, (int(size[0]), int(size[1])), width)


def dress(mask: np.ndarray, convention: str, rng: np.random.Generator) -> Any:
    """Turn a 0/255 ink mask into an image in the named colour convention."""
    ink = mask > 0
    size = mask.shape

    def paint(background: tuple[int, ...], colour: tuple[int, ...]) -> np.ndarray:
        image = np.empty((*size, len(background)), dtype=np.uint8)
        image[...] = background
        image[ink] = colour
        return image

    if convention == "black_on_white":
        return paint((255, 255, 255), (0, 0, 0))
    if convention == "white_on_black":
        return paint((int(rng.integers(0, 40)),) * 3, (int(rng.integers(215, 256)),) * 3)
    if convention == "grey":
        background = int(rng.integers(170, 256))
        return paint((background,), (int(rng.integers(0, background - 90)),))[..., 0]
    if convention == "coloured":
        paper = tuple(int(v) for v in rng.integers(225, 256, 3))
        return paint(paper, INK_COLOURS[int(rng.integers(2, len(INK_COLOURS)))])
    colour = INK_COLOURS[int(rng.integers(0, len(INK_COLOURS)))]
    if convention == "transparent":
        return np.dstack([paint((0, 0, 0), colour), mask])
    if convention == "sketchpad":
        # What gr.Sketchpad hands over after a stroke (see docs/gradio.md).
        layer = np.zeros((*size, 4), dtype=np.uint8)
        layer[..., 3] = mask
        return {
            "background": np.full((*size, 4), 255, dtype=np.uint8),
            "layers": [layer],
            "composite": paint((255, 255, 255, 255), (0, 0, 0, 255)),
        }
    raise ValueError(f"unknown convention {convention!r}; choose one of {CONVENTIONS}")


def make_drawing(
    digit: np.ndarray, label: int, source_index: int, convention: str, seed: int = 0
) -> Drawing:
    """Redraw one 28x28 MNIST digit (pixels in [0, 1]) in the given colour convention."""
    rng = np.random.default_rng([seed, source_index])
    canvas_size = int(rng.integers(280, 801))
    segments, height, width = place_segments(skeleton_segments(digit), rng, canvas_size)
    image = dress(render(segments, canvas_size, width), convention, rng)
    return Drawing(image, label, convention, canvas_size, height, width, source_index)


def iter_drawings(count: int = 1250, seed: int = 0) -> Iterator[Drawing]:
    """Drawings of ``count`` MNIST test digits spread evenly over the split, made one at a time
    (they are large). The conventions take turns, so each gets a sixth of the set.
    """
    split = load_split("mnist", train=False)
    if not 1 <= count <= len(split):
        raise ValueError(f"count must be between 1 and {len(split)}, got {count}")
    stride = len(split) // count
    for position in range(count):
        index = position * stride
        pixels = denormalize(split.images[index, 0], split.spec).numpy()
        convention = CONVENTIONS[position % len(CONVENTIONS)]
        yield make_drawing(pixels, int(split.labels[index]), index, convention, seed)
