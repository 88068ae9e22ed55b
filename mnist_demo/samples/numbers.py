"""Drawing-like whole numbers composed of MNIST digits, deterministically.

Each digit is thinned to its skeleton and redrawn with one round brush for the whole number, as a
mouse draws (see mnist_demo.samples.drawings), at its own size, slant and baseline; the digits
follow each other left to right with a gap from :data:`GAPS`: "clear" leaves space between the
digits' boxes, "touching" lets neighbours touch or overlap. The same seed and position always give
the same number. The benchmark (mnist_demo.bench.numbers) and the tests read them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from mnist_demo.data import denormalize, load_split
from mnist_demo.samples.drawings import CONVENTIONS, dress, render, shaped

# Gap between one digit's box and the next, brush included, in fractions of the number's height.
GAPS = {"clear": (0.15, 0.6), "touching": (-0.15, 0.0)}
LENGTHS = (2, 6)  # Digits in a number, both ends included.
HEIGHT_PIXELS = (50, 180)  # The number's digit height on the canvas.
BRUSH_FRACTION = (0.05, 0.14)  # The brush's diameter, in fractions of the height.
SIZE_SPREAD = 0.15  # Each digit's height varies by this fraction ...
BASELINE_SPREAD = 0.08  # ... and its baseline moves by this fraction of the height.


@dataclass(frozen=True)
class NumberDrawing:
    """One composed number: the image in ``convention``, its digits, and how it was drawn.

    ``digit_segments`` are each digit's brush path on the canvas (so a digit can be drawn alone),
    ``boxes`` each digit's ink box as (top, left, bottom, right).
    """

    image: Any
    label: str
    gaps: str
    convention: str
    canvas_shape: tuple[int, int]
    brush: int
    digit_segments: tuple[np.ndarray, ...]
    boxes: tuple[tuple[int, int, int, int], ...]
    source_indices: tuple[int, ...]

    def digit_alone(self, position: int) -> np.ndarray:
        """The ink mask of one digit drawn alone on the same canvas."""
        return render(self.digit_segments[position], self.canvas_shape, self.brush)

    def ink(self) -> np.ndarray:
        """The whole number's ink mask (0/255), whatever the convention of ``image``."""
        return np.maximum.reduce([self.digit_alone(i) for i in range(len(self.label))])


def compose_number(
    digits: list[np.ndarray],
    labels: list[int],
    gaps: str,
    rng: np.random.Generator,
    convention: str = "sketchpad",
    source_indices: tuple[int, ...] = (),
) -> NumberDrawing:
    """Draw 28x28 digits (pixels in [0, 1]) side by side as one number (see the docstring)."""
    if gaps not in GAPS:
        raise ValueError(f"unknown gaps {gaps!r}; choose one of {sorted(GAPS)}")
    height = rng.uniform(*HEIGHT_PIXELS)
    brush = max(2, round(rng.uniform(*BRUSH_FRACTION) * height))
    margin = rng.uniform(0.2, 0.6) * height
    baseline = margin + height * (1 + SIZE_SPREAD + BASELINE_SPREAD)
    left, placed, boxes = margin, [], []
    for digit in digits:
        own = height * rng.uniform(1 - SIZE_SPREAD, 1 + SIZE_SPREAD)
        segments = shaped(digit, rng, own, brush)
        top = baseline - own + rng.uniform(-BASELINE_SPREAD, BASELINE_SPREAD) * height
        segments = segments + (top, left)
        width = segments[..., 1].max() + brush / 2 - left
        placed.append(segments)
        boxes.append((round(top), round(left), round(top + own), round(left + width)))
        left += width + rng.uniform(*GAPS[gaps]) * height
    canvas = (round(baseline + height * 0.2 + margin), round(max(b[3] for b in boxes) + margin))
    mask = np.maximum.reduce([render(segments, canvas, brush) for segments in placed])
    image = dress(mask, convention, rng)
    label = "".join(str(int(value)) for value in labels)
    return NumberDrawing(
        image, label, gaps, convention, canvas, brush, tuple(placed), tuple(boxes), source_indices
    )


def iter_numbers(
    count: int, gaps: str, train: bool = False, seed: int = 0, root: Any = None
) -> Iterator[NumberDrawing]:
    """``count`` numbers of 2-6 digits drawn at random from an MNIST split (the test split by
    default; tune on ``train=True``), the colour conventions taking turns."""
    if gaps not in GAPS:
        raise ValueError(f"unknown gaps {gaps!r}; choose one of {sorted(GAPS)}")
    split = load_split("mnist", train=train, root=root)
    rng = np.random.default_rng([seed, list(GAPS).index(gaps), int(train)])
    for position in range(count):
        length = int(rng.integers(LENGTHS[0], LENGTHS[1] + 1))
        indices = rng.integers(0, len(split), length)
        digits = [denormalize(split.images[i, 0], split.spec).numpy() for i in indices]
        labels = [int(split.labels[i]) for i in indices]
        convention = CONVENTIONS[position % len(CONVENTIONS)]
        yield compose_number(digits, labels, gaps, rng, convention, tuple(int(i) for i in indices))
