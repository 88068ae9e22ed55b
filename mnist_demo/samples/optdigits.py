"""Other writers: the UCI optical digits (Alpaydin and Kaynak 1998), as scikit-learn bundles them.

1,797 digits from 13 writers who are not MNIST's (the UCI set's test part), scanned another way:
each normalised into a 32x32 bitmap, whose 4x4 blocks were counted into 8x8 grey levels (0-16).
Here each is blown up on a 280 px canvas, black on white, in turn blocky (nearest neighbour) and
smooth (bilinear), and read through the app's own path, as a visitor's upload would be. The even
positions are the *validation* half (for choosing a training recipe), the odd ones the *reported*
half.

scikit-learn ships the data inside its wheel (no download); it is a test extra
(``pip install -e '.[test]'``), asked for only when these digits are.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from PIL import Image

HALVES = ("validation", "report")
CANVAS = 280
SIDE = 200  # The 8x8 grid's side on the canvas.


@dataclass(frozen=True)
class OtherWriterDigit:
    image: np.ndarray  # Black on white, uint8 (CANVAS, CANVAS).
    label: int
    smooth: bool  # Blown up bilinear (True) or blocky (False).
    index: int  # Position in scikit-learn's load_digits().


def load_optdigits() -> tuple[np.ndarray, np.ndarray]:
    """(images (1797, 8, 8) of 0-16, labels) from scikit-learn, or a one-line ImportError."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as error:
        raise ImportError(
            "the other writers' digits come with scikit-learn: pip install -e '.[test]'"
        ) from error
    digits = load_digits()
    return digits.images, digits.target


def blown_up(levels: np.ndarray, smooth: bool) -> np.ndarray:
    """An 8x8 grid of 0-16 grey levels as black ink on a white CANVAS-px square."""
    grey = Image.fromarray(np.uint8(np.round(levels / 16 * 255)))
    big = grey.resize((SIDE, SIDE), Image.BILINEAR if smooth else Image.NEAREST)
    canvas = Image.new("L", (CANVAS, CANVAS), 0)
    canvas.paste(big, ((CANVAS - SIDE) // 2, (CANVAS - SIDE) // 2))
    return 255 - np.asarray(canvas)


def iter_other_writers(half: str = "report") -> Iterator[OtherWriterDigit]:
    """The digits of one half (see the module docstring), blocky and smooth taking turns."""
    if half not in HALVES:
        raise ValueError(f"unknown half {half!r}; choose one of {HALVES}")
    images, labels = load_optdigits()
    for index in range(HALVES.index(half), len(labels), 2):
        smooth = bool((index // 2) % 2)
        yield OtherWriterDigit(blown_up(images[index], smooth), int(labels[index]), smooth, index)
