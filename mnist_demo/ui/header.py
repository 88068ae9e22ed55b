"""The top of the page, above the tabs: what the app is, which model answers, and the way back.

A visitor's own model (retrained or fine-tuned) is used as soon as it is made: the model line
says so on every tab, and its button goes back to the shipped model (API ``use_shipped``), or,
once back, to the visitor's model again (API ``use_model``).
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from mnist_demo.serving.session import Session
from mnist_demo.ui.tabs.retrain_controls import DATASET_CHOICES

TITLE = "# Draw a digit · watch a CNN learn"
# Hidden on a phone (app.css), where the pad and its answer need the first screen.
INTRO = """Draw on the pad: the lesson's small convolutional network (206,922 parameters) reads
your drawing as you draw, right in your browser. Open the panels under the pad to look inside it,
**Evaluate** it on the test set, or **Retrain** it from scratch and watch it learn."""


@dataclass
class Header:
    dataset: gr.Radio
    link_notice: gr.Markdown  # What a lesson link got wrong (toasts from page load never show).
    model_line: list  # The row, its words and its two buttons: model_line()'s outputs.
    use: gr.Button
    back: gr.Button


def build_header() -> Header:
    with gr.Row(equal_height=False, elem_id="header"):
        with gr.Column(scale=3, min_width=300):
            gr.Markdown(TITLE, elem_id="title")
            gr.Markdown(INTRO, elem_id="intro")
        with gr.Column(scale=2, min_width=300):
            dataset = gr.Radio(DATASET_CHOICES, value="mnist", label="Model", elem_id="dataset")
            with gr.Row(visible=False, equal_height=True, elem_id="model-line") as row:
                words = gr.Markdown(elem_id="model-words")
                use = gr.Button(
                    "Use it", size="sm", scale=0, min_width=90, visible=False, elem_id="use-model"
                )
                back = gr.Button(
                    "Back to the shipped model",
                    size="sm",
                    scale=0,
                    min_width=120,
                    visible=False,
                    elem_id="shipped-model",
                )
    link_notice = gr.Markdown(visible=False, elem_id="link-notice")
    return Header(dataset, link_notice, [row, words, use, back], use, back)


def model_line(session: Session) -> tuple:
    """The model line for ``session``: hidden until the visitor has a model of their own; then
    which model answers, and the button to the other one."""
    trained = session.trained
    if trained is None:
        hidden = gr.update(visible=False)
        return hidden, gr.update(), hidden, hidden
    using = session.use_trained
    words = f"{'In use' if using else 'Kept for this visit'}: {trained.description}."
    return gr.update(visible=True), words, gr.update(visible=not using), gr.update(visible=using)
