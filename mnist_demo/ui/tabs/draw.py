"""The Draw tab: the drawing pad, live probabilities, and the 28x28 image the model sees.

The pad predicts in the page (see canvas.py); the server path is the reference, the API
(``predict``, ``predict_image``) and the fallback. The old gr.Sketchpad stays behind
``?canvas=sketchpad`` (for ``mnist-demo bench browser``) and as the ``predict`` API's input.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import numpy as np

from mnist_demo.numbers.settings import SETTINGS as NUMBER_SETTINGS
from mnist_demo.pictures import INPUT_SCALE
from mnist_demo.recognition import wording
from mnist_demo.recognition.page_model import PageExportError, page_model
from mnist_demo.recognition.verdict import words
from mnist_demo.recognition.wording import spread as spread  # Its old home: kept importable.
from mnist_demo.serving.session import Session
from mnist_demo.teaching import splits
from mnist_demo.ui.canvas import Pad, build_pad, drawing_from_ink
from mnist_demo.ui.guards.policy import PAGE_GROUP
from mnist_demo.ui.inline import image_html
from mnist_demo.ui.notes import problem
from mnist_demo.ui.page_files import static_text

EXAMPLES_DIR = Path(__file__).parent.parent / "examples"
SKETCHPAD_ID = "sketchpad"  # static/select_brush.js names it too.
SOFTMAX_NOTE = """The last layer's softmax turns any ten scores into ten probabilities that sum
to 1: there is no "none of these" output. So a model trained on digits alone names a digit even
for a letter, a smiley or a scribble, often with high confidence: the lesson's model, trained on
digits only, named a digit at 90% or more for 29 of 38 printed letters and 166 of 300 scribbles
(the shipped model: 5 of the 38).

The shipped model was also shown printed letters, scribbles, spirals, stars and shapes and taught
to spread its probabilities over all ten digits for them (*outlier exposure*). The **verdict**
reads its top probability against two thresholds stored with the weights: at or above "sure" it
says **digit**, below "unsure" **not a digit**, and **unsure** in between. The thresholds were
chosen on validation drawings and made-up non-digits, never on the test set; on held-out ones it
doubts 96% of the non-digits and keeps 98.6% of drawn digits.

What it cannot promise: a letter that looks like a digit (O, I, S, Z, b, g, q) is read as that
digit, a new kind of drawing can still fool it, and one in twenty very blocky digits (scanned at
8x8) is misread. On the Retrain tab, *Teach it to say "not a digit"* trains the lesson's model
the same way: train once with it and once without, and draw the same letters."""


def picture_html(picture: np.ndarray) -> str:
    """The 28x28 picture inline, enlarged by the browser (the page's CSS keeps hard pixels)."""
    return image_html(picture, "The 28×28 image the model sees", picture.shape[1] * INPUT_SCALE)


def hint_for(probabilities: dict[str, float], session: Session) -> str:
    """The line above the probabilities: the verdict and the best guess (the words are
    mnist_demo.recognition.wording's, the page's too)."""
    model = session.model_description
    if not probabilities:  # No model needed to ask for a drawing.
        return wording.blank_hint(session.dataset, model)
    predictor = session.predictor()
    return wording.hint(probabilities, predictor.thresholds, predictor.spec.name, model)


def classify(image, session: Session):
    """Shared by the canvas, uploads and examples: (probabilities, picture, hint)."""
    if image is None:  # Nothing drawn yet, or a cleared upload.
        return None, None, hint_for({}, session)
    try:
        prediction = session.predictor().predict_full(image)
    except ValueError as error:
        return None, None, problem(error)
    if prediction.blank:
        return None, None, hint_for({}, session)
    picture = picture_html(prediction.picture)
    return prediction.probabilities, picture, hint_for(prediction.probabilities, session)


def predict_drawing(drawing, session: Session):
    """The live prediction after each stroke (API name ``predict``)."""
    shown = classify(drawing, session)
    session.keep_drawing(drawing)  # Its small ink map, never the decoded upload itself.
    return shown


def touching(handler):
    """The handler, also returning the session: Gradio 6.31 starts a ``gr.State``'s
    time-to-live clock (and so ever calls its delete_callback) only when a handler outputs it,
    and restarts it each time, so the session expires after its TTL *idle* (docs/gradio.md)."""

    def handle(*values):
        return (*handler(*values), values[-1])

    return handle


def page_model_json(session: Session) -> str:
    """The session's model as the page runs it, with what the page needs to word its answers.
    A model with a layer the page cannot run travels without its layers: the page then predicts
    on the server, and still words the server's answers above the pad."""
    predictor = session.predictor()
    # The verdict's thresholds and words (mnist_demo.recognition.verdict) and the wording table
    # (mnist_demo.recognition.wording): static/wording.js words the page's answers as hint_for
    # words the server's.
    extras = {
        "description": session.model_description,
        **predictor.thresholds.to_dict(),
        "words": words(predictor.spec.name),
        "wording": wording.table(predictor.spec.name),
    }
    if predictor.spec.name == "mnist":  # static/numbers.js reads whole numbers with these.
        extras["numbers"] = NUMBER_SETTINGS.to_dict()
        extras["splits"] = splits.table()  # The "How it splits" panel's words.
    try:
        payload = page_model(predictor.model, predictor.spec, predictor.class_names, extras)
    except PageExportError:
        payload = {"dataset": predictor.spec.name, "extras": extras}
    return json.dumps(payload, separators=(",", ":"))


def canvas_choice(request: gr.Request):
    """``?canvas=sketchpad`` shows the old gr.Sketchpad instead of the pad (for benchmarks)."""
    old = request.query_params.get("canvas") == "sketchpad"
    return gr.update(visible=not old), gr.update(visible=old)


@dataclass
class DrawTab:
    pad: Pad
    columns: list  # The pad's and the Sketchpad's: one of them is shown.
    sketch: gr.Sketchpad
    upload: gr.Image
    outputs: list  # label, picture, hint: what classify() returns


@dataclass
class Follower:
    """More outputs refreshed in the same request as each prediction (the teaching panels)."""

    inputs: list
    outputs: list
    refresh: Callable  # (session, *input values) -> one value per output


NO_FOLLOWER = Follower([], [], lambda session, *values: ())


def build_draw_tab() -> DrawTab:
    """Lay out the tab (events are wired by :func:`wire_draw_tab` once the panels exist).

    One answer, above the pad (its readout), carrying the verdict; under the pad, the hint says
    why and which model answered. The probabilities have no heading of their own: a large "8"
    above them read as a second answer, even beside "Not a digit". On a phone the columns stack,
    and the answer, the pad and the hint come first.
    """
    with gr.Row(equal_height=False):
        with gr.Column(scale=3):
            with gr.Column() as pad_column:
                pad = build_pad(page_model_json(Session()))
            with gr.Column(visible=False) as sketchpad_column:
                sketch = gr.Sketchpad(
                    elem_id=SKETCHPAD_ID,
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
            # Says what to do before the first stroke (the shipped MNIST model is the default).
            hint = gr.Markdown(hint_for({}, Session()), elem_id="hint")
        with gr.Column(scale=2):
            label = gr.Label(
                num_top_classes=10, label="Probabilities", show_heading=False, elem_id="prediction"
            )
            picture = gr.HTML(
                label="What the model sees (28×28)",
                show_label=True,
                container=True,
                elem_id="model-input",
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
    with gr.Accordion('What do "digit", "unsure" and "not a digit" mean?', open=False):
        gr.Markdown(SOFTMAX_NOTE)
    return DrawTab(pad, [pad_column, sketchpad_column], sketch, upload, [label, picture, hint])


def wire_draw_tab(
    tab: DrawTab, session: gr.State, concurrency: int, follower: Follower | None = None
) -> list:
    """Predict on every stroke and upload; returns the events, to chain more after them.

    The page's own events also refresh ``follower`` in the same request, so a stroke costs one
    round trip however many panels follow it. The API endpoints ``predict`` and
    ``predict_image`` return only the prediction, from hidden buttons nobody clicks.
    """
    follower = follower or NO_FOLLOWER
    settings = dict(
        show_progress="hidden",
        trigger_mode="always_last",
        concurrency_limit=concurrency,
        concurrency_id=PAGE_GROUP,
    )
    events = []
    # An upload or an example is classified like a drawing, and becomes the "drawing" the
    # teaching panels and the Retrain tab's watch follow.
    for source, api_name in ((tab.sketch, "predict"), (tab.upload, "predict_image")):

        def on_page(value, state: Session, *extra_values):
            return (*predict_drawing(value, state), state, *follower.refresh(state, *extra_values))

        events.append(
            source.change(
                on_page,
                [source, session, *follower.inputs],
                [*tab.outputs, session, *follower.outputs],
                api_name=False,
                **settings,
            )
        )
        gr.Button(visible=False).click(
            touching(predict_drawing),
            [source, session],
            [*tab.outputs, session],
            api_name=api_name,
            **settings,
        )
    events += wire_pad(tab, session, settings, follower)
    return events


def wire_pad(tab: DrawTab, session: gr.State, settings: dict, follower: Follower) -> list:
    """The pad's three events: ``predicted`` shows the page's own answer (no request), ``ink``
    predicts on the server (the fallback), ``sync`` only hands it the drawing for the panels;
    and the Label's change, which hands the server's answer to the pad (no request)."""
    pad = tab.pad.pad
    pad.predicted(None, None, tab.outputs, js=static_text("page_answer.js"), show_progress="hidden")
    # The answer above the pad follows the server's when the page cannot answer: the Label's
    # value goes to the pad in the page, no request (the pad words it, see static/sketch.js).
    label = tab.outputs[0]
    label.change(None, label, None, js=static_text("label_to_pad.js"), show_progress="hidden")

    def on_ink(text: str, state: Session, *extra_values):
        try:
            drawing = drawing_from_ink(text)
        except ValueError as error:
            return None, None, problem(error), state, *[gr.skip()] * len(follower.outputs)
        return (*predict_drawing(drawing, state), state, *follower.refresh(state, *extra_values))

    def on_sync(text: str, state: Session, *extra_values):
        try:
            state.drawing = drawing_from_ink(text)
        except ValueError:
            return state, *[gr.skip()] * len(follower.outputs)
        return (state, *follower.refresh(state, *extra_values))

    inputs = [tab.pad.ink, session, *follower.inputs]
    with_ink = static_text("ink_input.js")  # Runs first: puts the pad's drawing in the inputs.
    return [
        pad.ink(
            on_ink,
            inputs,
            [*tab.outputs, session, *follower.outputs],
            js=with_ink,
            api_name=False,
            **settings,
        ),
        pad.sync(
            on_sync, inputs, [session, *follower.outputs], js=with_ink, api_name=False, **settings
        ),
    ]
