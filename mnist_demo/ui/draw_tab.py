"""The Draw tab: a Sketchpad, live probabilities, and the 28x28 image the model sees."""

from __future__ import annotations

from pathlib import Path

import gradio as gr
import numpy as np

from mnist_demo.ui.session import Session

EXAMPLES_DIR = Path(__file__).parent / "examples"
SKETCH_ID = "sketch"
# Below this top probability the tab says the model is unsure instead of announcing a class.
UNSURE_BELOW = 0.6
# The 28x28 input is shown enlarged with hard pixel edges (CSS keeps them from blurring).
PICTURE_SCALE = 8


def hint_for(probabilities: dict[str, float], session: Session) -> str:
    model = session.model_description
    if not probabilities:
        thing = "a digit" if session.dataset == "mnist" else "a clothing item"
        return f"✏️ Draw {thing} in the box: the prediction appears after each stroke ({model})."
    top, confidence = max(probabilities.items(), key=lambda item: item[1])
    if confidence < UNSURE_BELOW:
        return (
            f"🤔 **Unsure.** Best guess **{top}** at only {confidence:.0%}. "
            f"Try a bigger, clearer drawing ({model})."
        )
    return f"**{top}** with {confidence:.0%} confidence ({model})."


def classify(image, session: Session):
    """Shared by the canvas, uploads and examples: (probabilities, picture, hint)."""
    try:
        prediction = session.predictor().predict_full(image)
    except ValueError as error:
        return None, None, f"⚠️ {error}"
    if prediction.blank:
        return None, None, hint_for({}, session)
    picture = np.kron(prediction.picture, np.ones((PICTURE_SCALE, PICTURE_SCALE), np.uint8))
    return prediction.probabilities, picture, hint_for(prediction.probabilities, session)


def predict_drawing(drawing, session: Session):
    """The live prediction after each stroke (API name ``predict``)."""
    session.drawing = drawing
    return classify(drawing, session)


def predict_upload(image, session: Session):
    if image is None:
        return predict_drawing(None, session)
    return predict_drawing(image, session)


# Gradio 6.31 opens the Sketchpad with no tool selected, so strokes do nothing until the Brush
# button is clicked (see shared/docs/GRADIO6_NOTES.md); click it for the visitor, retrying until
# the editor has rendered.
SELECT_BRUSH_JS = f"""
() => {{
  let tries = 0;
  const click = () => {{
    const button = document.querySelector('#{SKETCH_ID} button[aria-label="Brush"]');
    if (button) {{ button.click(); return; }}
    if (tries++ < 100) setTimeout(click, 100);
  }};
  click();
}}
"""


def build_draw_tab(session: gr.State, concurrency: int):
    """Lay out the tab; returns the components other tabs need."""
    with gr.Row(equal_height=False):
        with gr.Column(scale=3):
            sketch = gr.Sketchpad(
                elem_id=SKETCH_ID,
                label="Draw here",
                type="numpy",
                image_mode="RGBA",  # "L" empties the layers (gradio #8198).
                canvas_size=(280, 280),
                fixed_canvas=True,
                layers=False,
                transforms=(),
                brush=gr.Brush(default_size=12, colors=["#000000"], color_mode="fixed"),
                eraser=gr.Eraser(default_size=16),
                height=380,
            )
            with gr.Accordion("…or upload an image, or pick an example", open=False):
                upload = gr.Image(
                    label="Upload", type="pil", image_mode=None, sources=["upload", "clipboard"]
                )
                gr.Examples(
                    examples=sorted(str(path) for path in EXAMPLES_DIR.glob("*.png")),
                    inputs=upload,
                    label="Examples (held-out MNIST test digits)",
                )
        with gr.Column(scale=2):
            hint = gr.Markdown(elem_id="hint")
            label = gr.Label(num_top_classes=10, show_label=False, elem_id="prediction")
            picture = gr.Image(
                label="What the model sees (28×28)",
                elem_id="model-input",
                interactive=False,
                height=240,
                buttons=[],
            )
    outputs = [label, picture, hint]
    sketch.change(
        predict_drawing,
        [sketch, session],
        outputs,
        api_name="predict",
        show_progress="hidden",
        trigger_mode="always_last",
        concurrency_limit=concurrency,
        concurrency_id="predict",
    )
    upload.change(
        predict_upload,
        [upload, session],
        outputs,
        api_name="predict_image",
        show_progress="hidden",
        trigger_mode="always_last",
        concurrency_id="predict",
    )
    return sketch, outputs
