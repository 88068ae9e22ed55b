"""How the page shows pictures: inline, as data URIs in HTML, and galleries of hard pixels.

A gr.Image output is written into Gradio's cache on every update and fetched by the page in a
second request; Gradio 6.31 also rewrites a cached image in place, so two visitors getting the
same picture at once could be sent a half-written file (seen under load: "Too little data for
declared Content-Length"; see docs/gradio.md). Per-stroke pictures are small, so they travel
inside the response.
"""

from __future__ import annotations

import base64
import html
import io

import gradio as gr
import numpy as np
from PIL import Image

# The page's CSS (ui/app.py) gives galleries of this class fixed square tiles drawn pixelated.
PICTURES_CLASS = "pictures"


def png_data_uri(picture: np.ndarray) -> str:
    """A uint8 greyscale or RGB array as a ``data:image/png;base64,...`` URI."""
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(picture)).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def image_html(picture: np.ndarray | None, alt: str, width: int | None = None) -> str | None:
    """An <img> for gr.HTML, ``width`` pixels wide (default: the picture's own) and no wider
    than its panel; None stays None so an empty panel stays empty."""
    if picture is None:
        return None
    shown = width or picture.shape[1]
    return (
        f'<img src="{png_data_uri(picture)}" width="{shown}" alt="{html.escape(alt)}" '
        'style="max-width: 100%; height: auto;">'
    )


def pixel_gallery(label: str, elem_id: str, *, columns: int, height: int, **options) -> gr.Gallery:
    """A gallery of small pictures: whole square tiles, pixels never smoothed."""
    return gr.Gallery(
        label=label,
        columns=columns,
        height=height,
        object_fit="contain",
        elem_id=elem_id,
        elem_classes=[PICTURES_CLASS],
        **options,
    )
