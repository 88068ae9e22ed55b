"""The ``/classify`` and ``/read_number`` API endpoints: a drawing's answer as JSON.

``/predict`` returns what the page shows (a Label, the picture, the hint text); an HTTP client
that wants the verdict as data calls ``/classify`` with the same Sketchpad value, and one that
wants a whole number read digit by digit calls ``/read_number``.
"""

from __future__ import annotations

import gradio as gr

from mnist_demo.numbers.read import NumberReading, read_number
from mnist_demo.serving.session import Session
from mnist_demo.ui.guards.policy import PAGE_GROUP


def classification(drawing, session: Session) -> dict:
    """``{"verdict", "top", "probabilities", "blank", "reason"}`` or ``{"error": ...}``."""
    if drawing is None:
        return {
            "verdict": "",
            "top": None,
            "probabilities": {},
            "blank": True,
            "reason": "no image",
        }
    try:
        prediction = session.predictor().predict_full(drawing)
    except ValueError as error:
        return {"error": str(error)}
    return {
        "verdict": prediction.verdict,
        "top": prediction.top,
        "probabilities": prediction.probabilities,
        "blank": prediction.blank,
        "reason": prediction.reason,
    }


def add_json_api(
    name: str, function, sketch: gr.Sketchpad, session: gr.State, concurrency: int
) -> None:
    """An endpoint ``/name`` answering JSON for a drawing: a hidden button nobody clicks (as
    ``predict`` is made), in the page's concurrency group."""
    result = gr.JSON(visible=False)
    gr.Button(visible=False).click(
        function,
        [sketch, session],
        result,
        api_name=name,
        show_progress="hidden",
        concurrency_limit=concurrency,
        concurrency_id=PAGE_GROUP,
    )


def add_classify_api(sketch: gr.Sketchpad, session: gr.State, concurrency: int) -> None:
    add_json_api("classify", classification, sketch, session, concurrency)


def number_reading(drawing, session: Session) -> dict:
    """``NumberReading.to_dict()`` (``{"number", "verdict", "reason", "digits", ...}``) or
    ``{"error": ...}``; read with the session's model, which must be an MNIST one."""
    if drawing is None:
        return NumberReading("", (), "", "no image").to_dict()
    try:
        return read_number(drawing, session.predictor()).to_dict()
    except ValueError as error:
        return {"error": str(error)}


def add_read_number_api(sketch: gr.Sketchpad, session: gr.State, concurrency: int) -> None:
    add_json_api("read_number", number_reading, sketch, session, concurrency)
