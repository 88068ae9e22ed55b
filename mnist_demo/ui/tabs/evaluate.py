"""The Evaluate tab: how the model in use does on the real test set, and where it goes wrong.

One pass over the 10,000 test images gives accuracy, per-class accuracy, the confusion matrix
and every probability; picking a cell of the matrix then shows its examples instantly. Reports
are cached per model object: the shipped models' reports are computed once per process, a
visitor's retrained model's report lives and dies with that model.
"""

from __future__ import annotations

import math
import threading
import weakref

import gradio as gr
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

GALLERY_SIZE = 24
_reports: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_reports_lock = threading.Lock()


def report_for(session: Session) -> tuple[ModelReport, object, object]:
    """(report, test split, predictor) for the model this visitor is using."""
    predictor = session.predictor()
    split = load_split(predictor.spec.name, train=False)
    model = predictor.model
    with _reports_lock:
        report = _reports.get(model)
    if report is None:
        # One thread for this request's thread (an OpenMP setting per thread): the other core
        # stays with the trainer and everyone's predictions.
        torch.set_num_threads(1)
        report = model_report(
            model, split, device_from_env()
        )  # Outside the lock: others' cached reports stay free.
        with _reports_lock:
            _reports[model] = report
    return report, split, predictor


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
        report, split, predictor = report_for(session)
    except DatasetMissingError as error:
        return f"⚠️ {error}", None, None, None, None, None
    finally:
        release_freed_memory()  # The test set's activations, 10,000 images' worth.
    names = predictor.class_names
    mistakes = confident_mistakes(report, split, k=GALLERY_SIZE)
    lowest = min(report.evaluation.per_class_accuracy)
    return (
        summary(report, session),
        # Zoomed to the classes' range: at 0-100% every bar of a good model looks the same.
        gr.BarPlot(per_class_frame(report, names), y_lim=[math.floor(lowest * 20) / 20, 1.0]),
        confusion_figure(report.evaluation.confusion_matrix, names),
        matrix_frame(report, names),
        gallery_items(mistakes, names),
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
