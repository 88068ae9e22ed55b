"""The Retrain tab: the real training loop with live charts, Stop, and the visitor's own digit
re-classified as the network learns."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import gradio as gr
import pandas as pd

from mnist_demo.config import DATASETS
from mnist_demo.train import OPTIMIZERS, SCHEDULES, TrainConfig, TrainingDiverged
from mnist_demo.ui.presets import CONTROLS, preset_query
from mnist_demo.ui.retrain import train_for_visitor
from mnist_demo.ui.session import Session
from mnist_demo.ui.trainer import Budget, TrainerBusy

logger = logging.getLogger(__name__)
LEARNING_RATES = [0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.1]
BATCH_SIZES = [32, 64, 128, 256, 512]
DATASET_CHOICES = [(spec.title, spec.name) for spec in DATASETS.values()]


def frame(rows: list[dict]) -> pd.DataFrame | None:
    # An empty DataFrame (as a start value or an update) leaves gradio 6.31's LinePlot unable to
    # draw any line afterwards (checked in Chromium); None clears it and keeps it working.
    if not rows:
        return None
    return pd.DataFrame(rows, columns=["epoch", "value", "series"])


def empty_charts() -> tuple[None, None]:
    return None, None


def start_training(
    dataset,
    epochs,
    learning_rate,
    batch_size,
    optimizer,
    batch_norm,
    schedule,
    subset,
    augment,
    seed,
    outlier_exposure,
    session: Session,
    budget: Budget,
    progress: gr.Progress,
):
    """A generator of (status, loss chart, accuracy chart, your digit, downloads) updates."""
    loss, accuracy = empty_charts()
    try:
        config = TrainConfig(
            dataset=dataset,
            epochs=int(epochs),
            learning_rate=float(learning_rate),
            batch_size=int(batch_size),
            optimizer=optimizer,
            batch_norm=bool(batch_norm),
            schedule=schedule,
            subset=int(subset) if subset else None,
            augment=bool(augment),
            seed=int(seed or 0),
            outlier_exposure=bool(outlier_exposure),
        )
    except (TypeError, ValueError) as error:
        yield f"⚠️ {error}", loss, accuracy, None, None
        return
    try:
        for update in train_for_visitor(config, session, budget):
            progress(update.progress, desc="Training")
            files = session.export_trained() if update.finished and session.trained else None
            yield (
                update.status,
                frame(update.charts.loss),
                frame(update.charts.accuracy),
                update.watch,
                files,
            )
    except TrainerBusy as error:
        gr.Warning(str(error))
        yield f"⏳ {error}", loss, accuracy, None, None
    except TrainingDiverged as error:
        yield (
            f"💥 Training diverged: {error}. Nothing was kept; try a smaller learning rate.",
            loss,
            accuracy,
            None,
            None,
        )
    except Exception as error:  # noqa: BLE001 (the visitor gets a message; the slot is free)
        logger.exception("training failed")  # The host's log keeps the traceback.
        yield f"⚠️ Training failed: {error}. Nothing was kept.", loss, accuracy, None, None


def stop_training(session: Session) -> str:
    if session.stop_training():
        return "Stopping after the current step…"
    return "Nothing is training in this tab."


def chart(title: str, y_title: str, elem_id: str) -> gr.LinePlot:
    """A live line chart of Charts rows: value against epoch, one line per series."""
    return gr.LinePlot(
        None,  # Not an empty DataFrame: see frame().
        x="epoch",
        y="value",
        color="series",
        title=title,
        y_title=y_title,
        height=250,
        elem_id=elem_id,
    )


def build_retrain_tab(session: gr.State, budget: Budget):
    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=260):
            # By presets.CONTROLS name; Start passes them in that order.
            controls = {"dataset": gr.Radio(DATASET_CHOICES, value="mnist", label="Dataset")}
            # A slider needs two ends; a host that allows one epoch still gets the budget's note.
            controls["epochs"] = gr.Slider(
                1,
                max(2, budget.max_epochs),
                value=min(5, budget.max_epochs),
                step=1,
                label="Epochs",
            )
            controls["learning_rate"] = gr.Dropdown(
                LEARNING_RATES, value=0.001, label="Learning rate"
            )
            controls["batch_size"] = gr.Dropdown(BATCH_SIZES, value=128, label="Batch size")
            controls["optimizer"] = gr.Radio(list(OPTIMIZERS), value="adam", label="Optimizer")
            controls["schedule"] = gr.Radio(
                list(SCHEDULES), value="none", label="Learning-rate schedule"
            )
            with gr.Accordion("More settings", open=False, elem_id="advanced") as advanced:
                controls["subset"] = gr.Slider(
                    1000, 60000, value=60000, step=1000, label="Training images"
                )
                controls["batch_norm"] = gr.Checkbox(label="BatchNorm after each convolution")
                controls["augment"] = gr.Checkbox(
                    label="Augment (rotate, scale, shift, stroke width)"
                )
                controls["seed"] = gr.Number(0, precision=0, label="Seed (same seed, same run)")
            controls["outlier_exposure"] = gr.Checkbox(
                label='Teach it to say "not a digit" (also train on letters and scribbles)',
                info="Train once with and once without, then draw the same letters to compare.",
            )
            controls = {name: controls[name] for name in CONTROLS}
            with gr.Row():
                start = gr.Button("Start", variant="primary", elem_id="start")
                stop = gr.Button("Stop", variant="stop", elem_id="stop")
            with gr.Accordion("Share these settings", open=False, elem_id="share"):
                hide_advanced = gr.Checkbox(label="Hide the advanced settings in the link")
                copy = gr.Button("Copy link to these settings", elem_id="copy-link")
                link = gr.Textbox(
                    label="Link", show_label=False, interactive=False, elem_id="preset-link"
                )
        with gr.Column(scale=2):
            status = gr.Markdown(
                "Press **Start** to train the lesson's SmallCNN from scratch.",
                elem_id="train-status",
            )
            loss_chart = chart("Loss", "cross-entropy", "loss-chart")
            accuracy_chart = chart("Accuracy", "accuracy", "accuracy-chart")
        with gr.Column(scale=1, min_width=220):
            gr.Markdown(
                "**Watch it learn your digit**: whatever is on the Draw tab's canvas,"
                " classified by the model being trained."
            )
            watch = gr.Label(num_top_classes=3, show_label=False, elem_id="watch")
            use = gr.Button("Use this model", elem_id="use-model")
            back = gr.Button("Back to the shipped model", elem_id="shipped-model")
            downloads = gr.File(
                label="Download weights + JSON sidecar", file_count="multiple", interactive=False
            )

    def run(*values, progress=gr.Progress()):  # noqa: B008 (Gradio's own idiom)
        *settings, state = values
        named = dict(zip(CONTROLS, settings, strict=True))
        yield from start_training(**named, session=state, budget=budget, progress=progress)

    train_event = start.click(
        run,
        [*controls.values(), session],
        [status, loss_chart, accuracy_chart, watch, downloads],
        api_name="train",
        show_progress="minimal",
        show_progress_on=status,
        # Several may enter so that a second visitor hears "busy" at once instead of queueing.
        concurrency_limit=4,
        concurrency_id="train",
    )
    stop.click(stop_training, session, status, api_name="stop", queue=False)

    def make_link(hide, *values):
        return preset_query(dict(zip(CONTROLS, values, strict=True)), hide=bool(hide))

    # The server knows the settings, only the page knows its own address (behind a proxy, as on
    # Spaces): the server writes the query, the page prefixes its address and copies it.
    copy.click(make_link, [hide_advanced, *controls.values()], link, queue=False).then(
        None, link, link, js=COPY_LINK_JS
    )
    return RetrainTab(controls, advanced, use, back, train_event)


@dataclass
class RetrainTab:
    controls: dict[str, gr.components.Component]  # by presets.CONTROLS name
    advanced: gr.Accordion
    use: gr.Button
    back: gr.Button
    train_event: object


COPY_LINK_JS = """
(query) => {
  if (!query || query.startsWith("http")) return query;
  const url = window.location.origin + window.location.pathname + "?" + query;
  if (navigator.clipboard) navigator.clipboard.writeText(url).catch(() => {});
  return url;
}
"""
