"""Pictures for people: small images enlarged with hard pixels, and matplotlib charts.

A 28x28 digit is enlarged by repeating pixels, never by smoothing, so that the learner sees
exactly the grey levels the model saw. Charts are drawn with matplotlib's object-oriented API on
an Agg canvas of their own: no pyplot figure is registered (nothing is left open) and the
process-wide backend is never switched, so the app, the CLI and the tests can all draw at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# 28 px pictures become 112 px: big enough to see in a gallery thumbnail.
GALLERY_SCALE = 4
# The model's 28x28 input, shown on its own, is 224 px wide.
INPUT_SCALE = 8


def enlarge(image: np.ndarray, scale: int) -> np.ndarray:
    """Nearest-neighbour upscaling of a (H, W) or (H, W, C) image: each pixel a scale x scale
    square, in the image's own dtype."""
    if scale < 1:
        raise ValueError(f"scale must be at least 1, got {scale}")
    return np.asarray(image).repeat(scale, axis=0).repeat(scale, axis=1)


def new_figure(width: float, height: float, dpi: int = 100) -> Figure:
    """A matplotlib figure (size in inches) with its own Agg canvas, outside pyplot."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=dpi)
    FigureCanvasAgg(figure)  # Attaches itself as figure.canvas.
    return figure


def figure_pixels(figure: Figure) -> np.ndarray:
    """Draw the figure and return it as an RGB uint8 array (H, W, 3); the figure is cleared."""
    figure.tight_layout()
    figure.canvas.draw()
    image = np.asarray(figure.canvas.buffer_rgba())[..., :3].copy()
    # Nothing registers the figure with pyplot, so clearing it frees everything it drew.
    figure.clear()
    return image


def save_figure(figure: Figure, path: Path, dpi: int) -> Path:
    """Write the figure as a PNG at ``dpi`` (its folder is made if needed); the figure is
    cleared."""
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=dpi)
    figure.clear()
    return path
