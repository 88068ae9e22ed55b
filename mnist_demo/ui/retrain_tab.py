"""The Retrain tab: the real training loop with live charts, Stop, and the visitor's own digit
re-classified as the network learns."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import gradio as gr
import pandas as pd

from mnist_demo.config import DATASETS
from mnist_demo.train import OPTIMIZERS, SCHEDULES, TrainConfig, TrainingDiverged
from mnist_demo.ui.guard_sessions import ListenerWatch
from mnist_demo.ui.limits import Limits
from mnist_demo.ui.line import (
    AlreadyInLine,
    LeftLine,
    LineFull,
    TrainerLine,
    iterate_in_thread,
    wait_in_line,
    waiting_status,
)
from mnist_demo.ui.presets import CONTROLS, PRESETS, preset_query, preset_values
from mnist_demo.ui.retrain import fit_to_budget, planned_images, train_for_visitor
from mnist_demo.ui.session import Session
from mnist_demo.ui.trainer import Budget, TrainerBusy

logger = logging.getLogger(__name__)
LEARNING_RATES = [0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.1]
BATCH_SIZES = [32, 64, 128, 256, 512]
PRESET_LABELS = {"quick": "⚡ Quick (about 7 s)", "lesson": "📘 The lesson (5 epochs)"}
DATASET_CHOICES = [(spec.title, spec.name) for spec in DATASETS.values()]


def frame(rows: list[dict]) -> pd.DataFrame | None:
    # An empty DataFrame (as a start value or an update) leaves gradio 6.31's LinePlot unable to
    # draw any line afterwards (checked in Chromium); None clears it and keeps it working.
    if not rows:
        return None
    return pd.DataFrame(rows, columns=["epoch", "value", "series"])


def strict_bool(value, name: str) -> bool:
    """A checkbox value: True/False, or "true"/"false" from an API call ("false" is not True)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ValueError(f"{name} must be true or false, not {value!r}")


def numbers_in_api(dropdown: gr.Dropdown) -> gr.Dropdown:
    """Gradio 6.31 lists any Dropdown as strings in /gradio_api/info, then refuses "0.001" for
    0.001: describe numeric choices as numbers, which is what the server accepts."""
    choices = [value for _, value in dropdown.choices]
    dropdown.api_info = lambda: {"type": "number", "enum": choices}
    return dropdown


def empty_charts() -> tuple[None, None]:
    return None, None


async def start_training(
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
    line: TrainerLine,
    progress: gr.Progress,
):
    """An async generator of (status, loss chart, accuracy chart, your digit, downloads).

    Waits its turn in the trainer's line (telling the visitor their place and the wait), then
    runs the training loop a step at a time in a worker thread.
    """
    loss, accuracy = empty_charts()
    try:
        config = TrainConfig(
            dataset=dataset,
            epochs=int(epochs),
            learning_rate=float(learning_rate),
            batch_size=int(batch_size),
            optimizer=optimizer,
            batch_norm=strict_bool(batch_norm, "batch_norm"),
            schedule=schedule,
            subset=int(subset) if subset else None,
            augment=strict_bool(augment, "augment"),
            seed=int(seed or 0),
            outlier_exposure=strict_bool(outlier_exposure, "outlier_exposure"),
        )
    except (TypeError, ValueError) as error:
        yield f"⚠️ {error}", loss, accuracy, None, None
        return
    images = planned_images(fit_to_budget(config, budget)[0])
    estimate = min(line.estimate(images), budget.max_seconds)
    try:
        with line.place(session, estimate) as ticket:
            session.ticket = ticket
            async for place in wait_in_line(line, ticket):
                yield waiting_status(place), loss, accuracy, None, None
            session.ticket = None
            line.started(ticket)
            try:
                async for update in iterate_in_thread(train_for_visitor(config, session, budget)):
                    ticket.progress = update.progress
                    progress(update.progress, desc="Training")
                    files = (
                        session.export_trained() if update.finished and session.trained else None
                    )
                    yield (
                        update.status,
                        frame(update.charts.loss),
                        frame(update.charts.accuracy),
                        update.watch,
                        files,
                    )
            finally:
                # A visitor who left mid-run: the step running in its thread ends at its next
                # batch, so the trainer is free for the next in line within a second.
                session.stop_training()
            line.finished(ticket, round(images * ticket.progress))
    except (LineFull, AlreadyInLine, LeftLine) as error:
        yield f"⏳ {error}", loss, accuracy, None, None
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
    finally:
        session.ticket = None


def stop_training(session: Session) -> str:
    if session.stop_training():
        return "Stopping after the current step…"
    return "Nothing is training in this tab."


# Train and test in colours that stay apart for colour-blind viewers (blue and orange).
SERIES_COLOURS = {"train": "#1f77b4", "test": "#ff7f0e"}


def chart(title: str, y_title: str, elem_id: str) -> gr.LinePlot:
    """A live line chart of Charts rows: value against epoch, one line per series.

    Gradio 6.31's LinePlot fixes its colour legend from the first data it draws and never
    widens it, so a series that appears later is never drawn: the first picture of a run
    therefore holds both series (the test curve starts with the untrained network at epoch 0).
    """
    return gr.LinePlot(
        None,  # Not an empty DataFrame: see frame().
        x="epoch",
        y="value",
        color="series",
        color_map=SERIES_COLOURS,
        title=title,
        y_title=y_title,
        height=250,
        elem_id=elem_id,
    )


def build_retrain_tab(session: gr.State, budget: Budget, line: TrainerLine):
    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=260):
            with gr.Row():
                preset_buttons = {
                    name: gr.Button(label, size="sm", elem_id=f"preset-{name}")
                    for name, label in PRESET_LABELS.items()
                }
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
            controls["learning_rate"] = numbers_in_api(
                gr.Dropdown(LEARNING_RATES, value=0.001, label="Learning rate")
            )
            controls["batch_size"] = numbers_in_api(
                gr.Dropdown(BATCH_SIZES, value=128, label="Batch size")
            )
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
                label="Download weights + JSON sidecar",
                file_count="multiple",
                interactive=False,
                elem_id="downloads",
            )

    listener_timeout = Limits.from_env().listener_timeout_seconds

    # Named parameters, in CONTROLS order: Gradio injects gr.Request and gr.Progress only into
    # positional parameters (not after *args), and the API schema shows these names.
    async def run(
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
        state: Session,
        request: gr.Request,
        progress=gr.Progress(),  # noqa: B008 (Gradio's own idiom)
    ):
        named = {name: value for name, value in locals().items() if name in CONTROLS}
        listener = ListenerWatch(request, listener_timeout)
        updates = start_training(
            **named, session=state, budget=budget, line=line, progress=progress
        )
        # Closing the generator leaves the line, or ends the run and frees the trainer.
        try:
            async for update in updates:
                if listener.gone():
                    logger.info("training stopped: nobody has read its progress")
                    return
                yield update
        finally:
            await updates.aclose()

    train_event = start.click(
        run,
        [*controls.values(), session],
        [status, loss_chart, accuracy_chart, watch, downloads],
        api_name="train",
        show_progress="minimal",
        show_progress_on=status,
        # Everyone in the trainer's line is "running" for Gradio: the line (not Gradio's queue)
        # decides the order, and waiting costs no thread (see line.wait_in_line).
        concurrency_limit=line.capacity + 1,
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
    for name, button in preset_buttons.items():
        button.click(
            lambda name=name: [
                gr.update(value=preset_values(name, budget)[control])
                if control in PRESETS[name]
                else gr.update()
                for control in CONTROLS
            ],
            None,
            list(controls.values()),
            queue=False,
            api_name=False,
        )
    return RetrainTab(controls, advanced, hide_advanced, use, back, train_event)


@dataclass
class RetrainTab:
    controls: dict[str, gr.components.Component]  # by presets.CONTROLS name
    advanced: gr.Accordion
    hide_advanced: gr.Checkbox
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
