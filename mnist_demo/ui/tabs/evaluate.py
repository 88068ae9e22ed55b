"""The Evaluate tab: how the model in use does on the real test set, and where it goes wrong.

One pass over the 10,000 test images gives accuracy, per-class accuracy, the confusion matrix
and every probability; picking a cell of the matrix then shows its examples instantly. The report
and what Evaluate draws from it (the figure, the tables, the gallery) are cached per model, for
the last few models evaluated: every visitor of the shipped model gets the same pictures without
their being drawn again (drawing them and handing memory back took 0.4 s a call, so a few
dozen cheap calls kept Evaluate busy for everyone).
"""

from __future__ import annotations

import math
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import gradio as gr
import numpy as np
import pandas as pd
import torch

from mnist_demo.data import DatasetMissingError, load_split
from mnist_demo.device import device_from_env
from mnist_demo.serving.memory import release_freed_memory
from mnist_demo.serving.session import Session
from mnist_demo.teaching.mistakes import (
    ModelReport,
    cell_examples,
    confident_mistakes,
    confusion_figure,
    gallery_items,
    model_report,
)
from mnist_demo.ui.inline import pixel_gallery
from mnist_demo.ui.notes import problem

GALLERY_SIZE = 24
# The shipped models and a few visitors' (about 2 MB each: probabilities, figure, gallery).
MODELS_KEPT = 8


@dataclass(frozen=True)
class Views:
    """What Evaluate shows of one model, the same for every visitor using it."""

    per_class: pd.DataFrame
    accuracy_range: list[float]
    figure: np.ndarray
    matrix: pd.DataFrame
    mistakes: list[tuple[np.ndarray, str]]


@dataclass
class Evaluated:
    report: ModelReport
    views: Views | None = None  # Drawn at the first Evaluate (a cell query needs none).


@dataclass
class PerModel:
    """Values keyed by model object, at most ``size`` of them, least recently used out first.

    A served model is never changed in place (recognition/inference.py): a new model is a new
    object, so the object stands for its weights. Entries hold no model alive; a dead model's
    entry goes at the next put.
    """

    size: int
    _entries: OrderedDict[int, tuple[weakref.ref, Any]] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, model: torch.nn.Module) -> Any:
        with self._lock:
            entry = self._entries.get(id(model))
            if entry is None or entry[0]() is not model:
                return None
            self._entries.move_to_end(id(model))
            return entry[1]

    def put(self, model: torch.nn.Module, value: Any) -> Any:
        with self._lock:
            for key in [key for key, (ref, _) in self._entries.items() if ref() is None]:
                del self._entries[key]  # Its model is gone (and its id may be reused).
            self._entries[id(model)] = (weakref.ref(model), value)
            self._entries.move_to_end(id(model))
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return value


_evaluated = PerModel(MODELS_KEPT)


def evaluated_for(session: Session) -> tuple[Evaluated, object, object]:
    """(cached evaluation, test split, predictor) for the model this visitor is using."""
    predictor = session.predictor()
    split = load_split(predictor.spec.name, train=False)
    model = predictor.model
    entry = _evaluated.get(model)
    if entry is None:
        # One thread for this request's thread (an OpenMP setting per thread): the other core
        # stays with the trainer and everyone's predictions.
        torch.set_num_threads(1)
        try:
            report = model_report(model, split, device_from_env())
        finally:
            release_freed_memory()  # The test set's activations, 10,000 images' worth.
        entry = _evaluated.put(model, Evaluated(report))
    return entry, split, predictor


def report_for(session: Session) -> tuple[ModelReport, object, object]:
    """(report, test split, predictor) for the model this visitor is using."""
    entry, split, predictor = evaluated_for(session)
    return entry.report, split, predictor


def views_of(report: ModelReport, split, names) -> Views:
    mistakes = confident_mistakes(report, split, k=GALLERY_SIZE)
    lowest = min(report.evaluation.per_class_accuracy)
    return Views(
        per_class_frame(report, names),
        # Zoomed to the classes' range: at 0-100% every bar of a good model looks the same.
        [math.floor(lowest * 20) / 20, 1.0],
        confusion_figure(report.evaluation.confusion_matrix, names),
        matrix_frame(report, names),
        gallery_items(mistakes, names),
    )


def summary(report: ModelReport, session: Session) -> str:
    evaluation = report.evaluation
    wrong = evaluation.n - round(evaluation.accuracy * evaluation.n)
    return (
        f"**{session.model_description}**: {evaluation.accuracy:.2%} of {evaluation.n:,} test "
        f"images right, {wrong} wrong (test loss {evaluation.loss:.4f}). "
        "Click a cell of the matrix to see its images."
    )


MATRIX_CORNER = "true ↓ / predicted →"


def per_class_frame(report: ModelReport, names) -> pd.DataFrame:
    return pd.DataFrame({"class": list(names), "accuracy": report.evaluation.per_class_accuracy})


def matrix_frame(report: ModelReport, names) -> pd.DataFrame:
    matrix = report.evaluation.confusion_matrix
    frame = pd.DataFrame(matrix, columns=[f"→ {name}" for name in names])
    frame.insert(0, MATRIX_CORNER, list(names))
    return frame


def evaluate_model(session: Session):
    """Everything the tab shows after Evaluate."""
    try:
        entry, split, predictor = evaluated_for(session)
    except DatasetMissingError as error:
        return problem(error), None, None, None, None, None
    if entry.views is None:  # Two first calls may both draw them: the same pictures.
        entry.views = views_of(entry.report, split, predictor.class_names)
    views = entry.views
    return (
        summary(entry.report, session),
        gr.BarPlot(views.per_class, y_lim=views.accuracy_range),
        views.figure,
        views.matrix,
        views.mistakes,
        "The test images it gets wrong with the most confidence: true → predicted.",
    )


def show_cell(true: int, predicted: int, session: Session):
    report, split, predictor = report_for(session)
    names = predictor.class_names
    examples = cell_examples(report, split, true, predicted, k=GALLERY_SIZE)
    count = report.evaluation.confusion_matrix[true][predicted]
    if true == predicted:
        caption = f"{count} test images of **{names[true]}** read correctly; the surest first."
    else:
        caption = (
            f"{count} test image(s) of **{names[true]}** read as **{names[predicted]}**; "
            "the most confident first."
        )
    figure = confusion_figure(
        report.evaluation.confusion_matrix, names, highlight=(true, predicted)
    )
    return figure, gallery_items(examples, names), caption


def build_evaluate_tab(session: gr.State):
    gr.Markdown(
        "How good is the model you are using (the shipped one, or your retrained or "
        "fine-tuned one)? Evaluate it on the 10,000 test images it never trained on."
    )
    run = gr.Button("Evaluate the model in use", variant="primary", elem_id="evaluate")
    message = gr.Markdown(elem_id="evaluate-summary")
    with gr.Row(equal_height=False):
        with gr.Column(scale=3):
            figure = gr.Image(
                label="Confusion matrix", interactive=False, buttons=[], elem_id="confusion"
            )
        with gr.Column(scale=2):
            per_class = gr.BarPlot(
                None,
                x="class",
                y="accuracy",
                title="Accuracy per class",
                height=300,
                elem_id="per-class",
            )
    matrix = gr.Dataframe(
        label="Confusion matrix (click a cell)",
        # Before the first evaluation: the table's real header, not Gradio's "1 2 3".
        headers=[MATRIX_CORNER, *(f"→ {digit}" for digit in range(10))],
        interactive=False,
        elem_id="confusion-table",
    )
    with gr.Row():
        true_class = gr.Dropdown(
            [(str(i), i) for i in range(10)], value=4, label="True class", elem_id="cell-true"
        )
        predicted_class = gr.Dropdown(
            [(str(i), i) for i in range(10)], value=9, label="Predicted as", elem_id="cell-pred"
        )
        show = gr.Button("Show these examples", elem_id="show-cell")
    caption = gr.Markdown(elem_id="gallery-caption")
    gallery = pixel_gallery("Examples", "examples-gallery", columns=8, height=320)

    def picked(evt: gr.SelectData, state: Session):
        row, column = evt.index
        if column == 0:  # The row-name column: show that class's correct examples.
            column = row + 1
        return row, column - 1, *show_cell(row, column - 1, state)

    def chosen(true, predicted, state: Session):
        return show_cell(int(true), int(predicted), state)

    run.click(
        evaluate_model,
        session,
        [message, per_class, figure, matrix, gallery, caption],
        api_name="evaluate",
        # Not the trainer's id: events sharing an id share the lowest limit, which would cap
        # the training line at this one's.
        concurrency_id="evaluate",
        concurrency_limit=1,
    )
    matrix.select(
        picked,
        session,
        [true_class, predicted_class, figure, gallery, caption],
        show_progress="hidden",
    )
    show.click(
        chosen,
        [true_class, predicted_class, session],
        [figure, gallery, caption],
        api_name="show_cell",
    )
    return run
