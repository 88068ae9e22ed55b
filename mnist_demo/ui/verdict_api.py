"""The ``/classify`` API endpoint: one drawing's verdict, top class and probabilities as JSON.

``/predict`` returns what the page shows (a Label, the picture, the hint text); an HTTP client
that wants the verdict as data calls ``/classify`` with the same Sketchpad value.
"""

from __future__ import annotations

import gradio as gr

from mnist_demo.serving.session import Session
from mnist_demo.ui.guards.http import PAGE_GROUP


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


def add_classify_api(sketch: gr.Sketchpad, session: gr.State, concurrency: int) -> None:
    """A hidden button nobody clicks, so that the endpoint exists (as ``predict`` does)."""
    result = gr.JSON(visible=False)
    gr.Button(visible=False).click(
        classification,
        [sketch, session],
        result,
        api_name="classify",
        show_progress="hidden",
        concurrency_limit=concurrency,
        concurrency_id=PAGE_GROUP,
    )
