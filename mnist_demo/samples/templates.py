"""Hand-made digit strokes that need no dataset, drawn like the MNIST-derived drawings.

The bench and quick tests use them: ten plain digits at a random size, place and brush width.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mnist_demo.samples.drawings import dress, render


def loop(x: float, y: float, rx: float, ry: float, start: float = -90) -> list[tuple[float, float]]:
    angles = np.deg2rad(start + np.arange(0, 361, 20))
    return [(x + rx * np.cos(a), y + ry * np.sin(a)) for a in angles]


# Polylines in a unit box (x to the right, y down), one list per stroke.
TEMPLATES: dict[str, list[list[tuple[float, float]]]] = {
    "0": [loop(0.5, 0.5, 0.32, 0.5)],
    "1": [[(0.3, 0.2), (0.55, 0.0), (0.55, 1.0)]],
    "2": [[(0.15, 0.25), (0.35, 0.03), (0.65, 0.02), (0.82, 0.2), (0.75, 0.45), (0.15, 1.0),
           (0.9, 1.0)]],
    "3": [[(0.15, 0.1), (0.5, 0.0), (0.8, 0.15), (0.75, 0.38), (0.45, 0.5), (0.8, 0.62),
           (0.85, 0.85), (0.5, 1.0), (0.15, 0.9)]],
    "4": [[(0.65, 1.0), (0.65, 0.0), (0.1, 0.68), (0.9, 0.68)]],
    "5": [[(0.85, 0.0), (0.25, 0.0), (0.2, 0.45), (0.55, 0.38), (0.82, 0.55), (0.8, 0.85),
           (0.5, 1.0), (0.15, 0.9)]],
    "6": [[(0.75, 0.0), (0.4, 0.2), (0.2, 0.6), (0.3, 0.95), (0.6, 1.0), (0.8, 0.8), (0.7, 0.55),
           (0.4, 0.52), (0.2, 0.7)]],
    "7": [[(0.1, 0.0), (0.9, 0.0), (0.4, 1.0)]],
    "8": [loop(0.5, 0.24, 0.24, 0.24, 90), loop(0.5, 0.74, 0.3, 0.26, -90)],
    "9": [loop(0.5, 0.28, 0.3, 0.28, 0), [(0.8, 0.28), (0.72, 1.0)]],
}  # fmt: skip


def template_drawing(
    digit: str, canvas_size: int, convention: str = "sketchpad", seed: int = 0
) -> Any:
    """A digit from :data:`TEMPLATES`, drawn at a random size, place and brush width."""
    rng = np.random.default_rng([seed, int(digit), canvas_size])
    height = rng.uniform(0.4, 0.8) * canvas_size
    width = max(2, round(rng.uniform(0.06, 0.14) * height))
    top, left = rng.uniform(0, canvas_size - height, 2)
    segments = [
        [(top + y * (height - width), left + x * (height - width) * 0.7) for x, y in stroke]
        for stroke in TEMPLATES[digit]
    ]
    pairs = np.array(
        [[a, b] for stroke in segments for a, b in zip(stroke[:-1], stroke[1:], strict=True)]
    )
    return dress(render(pairs + width / 2, canvas_size, width), convention, rng)
