"""The drawing pad that predicts in the page, and what the server keeps of it.

The pad is a ``<canvas>`` in a gr.HTML (static/sketch.js draws on it). The page runs the
visitor's model itself: mnist_demo.recognition.page_model turns the session's model into a JSON
layer list, which travels in a hidden gr.HTML (``#page-model``) and is refreshed whenever the
session's model changes; static/cnn.js and static/preprocess.js, served from this package, run it.
The payload also carries the verdict's words (mnist_demo.recognition.wording), even for a model
the page cannot run, so that static/wording.js words the page's answers and the server's alike.
When the server needs the drawing (teaching panels, Retrain, the fallback when the scripts cannot
load) the page sends it as a small PNG data URL in a hidden textbox: one request, no upload.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
from dataclasses import dataclass

import gradio as gr
import numpy as np
from PIL import Image, UnidentifiedImageError

from mnist_demo.recognition.ink import check_size
from mnist_demo.ui.page_files import STATIC_DIR, static_text

# The page's runtime, loaded in this order: the network and preprocessing, then whole numbers
# (segmentation, cuts, the reader, how the pad shows a number, the "How it splits" panel).
RUNTIME_FILES = (
    "cnn.js",
    "preprocess.js",
    "numbers_segment.js",
    "numbers_cuts.js",
    "numbers.js",
    "numbers_view.js",
    "numbers_steps.js",
)
PAD_ID = "sketch"
PAGE_MODEL_ID = "page-model"
PNG_PREFIX = "data:image/png;base64,"
# A 280x280 drawing is a few kilobytes as PNG; anything this large is not from the pad.
MAX_INK_CHARS = 1_000_000
PAD_SIZE = 280

PAD_HTML = f"""
<div class="pad">
  <div class="readout" aria-live="polite"></div>
  <div class="stage">
    <canvas width="{PAD_SIZE}" height="{PAD_SIZE}"
      aria-label="Drawing pad: draw a digit or a number"></canvas>
    <div class="digit-boxes"></div>
  </div>
  <div class="tools">
    <button type="button" class="undo">↶ Undo</button>
    <button type="button" class="clear">Clear</button>
    <label><input type="checkbox" class="eraser"> Eraser</label>
    <label>Brush <input type="range" class="brush-size" min="8" max="40" value="22"></label>
    <label title="Cut one piece of ink into touching digits (written apart, digits are always
      read one by one)"><input type="checkbox" class="touching"> Touching digits</label>
  </div>
  <details class="splits">
    <summary>How it splits</summary>
    <div class="splits-body"></div>
  </details>
</div>
"""


def runtime_urls() -> list[str]:
    """The runtime scripts as the app serves them, versioned by content (no stale caches)."""
    urls = []
    for name in RUNTIME_FILES:
        path = (STATIC_DIR / name).resolve()
        version = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
        urls.append(f"gradio_api/file={path}?v={version}")
    return urls


def allow_static_files() -> None:
    """Let Gradio serve static/ as it is (no copying into its cache), once per process."""
    from gradio.data_classes import _StaticFiles

    if STATIC_DIR.resolve() not in _StaticFiles.all_paths:
        gr.set_static_paths([STATIC_DIR])


@dataclass
class Pad:
    pad: gr.HTML
    page_model: gr.HTML  # The session's model as the page runs it, and its words (JSON text).
    ink: gr.Textbox  # Where the page puts the drawing when the server needs it.


def build_pad(page_model: str) -> Pad:
    allow_static_files()
    pad = gr.HTML(
        elem_id=PAD_ID,
        html_template=PAD_HTML,
        css_template=static_text("pad.css"),
        # The wording first: the pad's script words its answers with it (window.mnistWording).
        js_on_load=static_text("wording.js", "sketch.js"),
        runtime=json.dumps(runtime_urls()),
    )
    carrier = gr.HTML(
        page_model,
        html_template="",
        js_on_load=static_text("model_carrier.js"),
        visible="hidden",
        elem_id=PAGE_MODEL_ID,
    )
    ink = gr.Textbox(visible=False, elem_id="ink", max_lines=1)
    return Pad(pad, carrier, ink)


def drawing_from_ink(text: str | None) -> dict | None:
    """The page's PNG data URL -> a Sketchpad-shaped value (ink in the layer's alpha), or None
    for an empty pad. Raises ValueError, saying why, for anything else."""
    if not text:
        return None
    if not isinstance(text, str) or not text.startswith(PNG_PREFIX):
        raise ValueError("the drawing must arrive as a PNG data URL (data:image/png;base64,...)")
    if len(text) > MAX_INK_CHARS:
        raise ValueError(f"the drawing is too large ({len(text):,} characters)")
    try:
        data = base64.b64decode(text[len(PNG_PREFIX) :], validate=True)
        with Image.open(io.BytesIO(data)) as image:
            if image.format != "PNG":
                raise ValueError("the drawing is not a PNG image")
            check_size(image.height, image.width)
            layer = np.asarray(image.convert("RGBA"))
    except (binascii.Error, UnidentifiedImageError, OSError) as error:
        raise ValueError(f"the drawing could not be read ({error})") from None
    return {"background": None, "layers": [layer], "composite": None}
