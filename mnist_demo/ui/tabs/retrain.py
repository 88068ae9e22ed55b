"""The Retrain tab: the real training loop with live charts, Stop, and the visitor's own digit
re-classified as the network learns."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import gradio as gr
import pandas as pd

from mnist_demo.serving.line import (
    NoTurn,
    TrainerLine,
    iterate_in_thread,
    wait_in_line,
    waiting_status,
)
from mnist_demo.serving.presets import preset_query, preset_values
from mnist_demo.serving.retrain import (
    fit_to_budget,
    planned_images,
    run_kind,
    train_for_visitor,
)
from mnist_demo.serving.session import Session
from mnist_demo.serving.trainer import Budget, TrainerBusy
from mnist_demo.training.loop import TrainingDiverged
from mnist_demo.training.options import BUTTON_PRESETS, CONTROLS, PRESETS, config_from_values
from mnist_demo.ui.guards.limits import Limits
from mnist_demo.ui.guards.lines import one_line
from mnist_demo.ui.guards.sessions import ListenerWatch
from mnist_demo.ui.notes import problem
from mnist_demo.ui.page_files import static_text
from mnist_demo.ui.tabs.retrain_controls import control, with_control_parameters

logger = logging.getLogger(__name__)


def frame(rows: list[dict]) -> pd.DataFrame | None:
    # An empty DataFrame (as a start value or an update) leaves gradio 6.31's LinePlot unable to
    # draw any line afterwards (checked in Chromium); None clears it and keeps it working.
    if not rows:
        return None
    return pd.DataFrame(rows, columns=["epoch", "value", "series"])


def empty_charts() -> tuple[None, None]:
    return None, None


async def start_training(
    settings: Mapping[str, Any],
    session: Session,
    budget: Budget,
    line: TrainerLine,
):
    """An async generator of (status, loss chart, accuracy chart, your digit, downloads).

    ``settings`` holds the Retrain controls' values by name. Waits its turn in the trainer's
    line (telling the visitor their place and the wait), then runs the training loop a step at
    a time in a worker thread.
    """
    loss, accuracy = empty_charts()
    try:
        config = config_from_values(settings)
    except (TypeError, ValueError) as error:  # A value the API let through: one short line.
        yield problem(one_line(str(error))), loss, accuracy, None, None
        return
    fitted = fit_to_budget(config, budget)[0]
    images, kind = planned_images(fitted), run_kind(fitted)
    estimate = min(line.estimate(images, kind), budget.max_seconds)
    try:
        with line.place(session, estimate) as ticket:
            session.ticket = ticket
            async for place in wait_in_line(line, ticket):
                yield waiting_status(place), loss, accuracy, None, None
            session.ticket = None
            line.started(ticket)
            try:
                async for update in iterate_in_thread(train_for_visitor(config, session, budget)):
                    if update.completed or not update.finished:  # Not a stopped run's last word.
                        ticket.progress = update.progress
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
            # Only a whole run says how long its kind takes (the host's rate needs a long one).
            whole = ticket.progress >= 1.0
            line.finished(ticket, round(images * ticket.progress), kind if whole else None)
    except NoTurn as error:
        yield str(error), loss, accuracy, None, None
    except TrainerBusy as error:
        gr.Warning(str(error))
        yield str(error), loss, accuracy, None, None
    except TrainingDiverged as error:
        yield (
            f"**Training diverged:** {error}. Nothing was kept; try a smaller learning rate.",
            loss,
            accuracy,
            None,
            None,
        )
    except Exception as error:  # noqa: BLE001 (the visitor gets a message; the slot is free)
        logger.exception("training failed")  # The host's log keeps the traceback.
        failure = one_line(str(error))
        yield f"**Training failed:** {failure}. Nothing was kept.", loss, accuracy, None, None
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
                    name: gr.Button(PRESETS[name].button, size="sm", elem_id=f"preset-{name}")
                    for name in BUTTON_PRESETS
                }
            basic = ("dataset", "epochs", "learning_rate", "batch_size", "optimizer", "schedule")
            controls = {name: control(name, budget) for name in basic}
            with gr.Accordion("More settings", open=False, elem_id="advanced") as advanced:
                for name in ("subset", "batch_norm", "augment", "seed"):
                    controls[name] = control(name, budget)
            controls["outlier_exposure"] = control("outlier_exposure", budget)
            controls = {name: controls[name] for name in CONTROLS}  # Start passes them so.
            with gr.Accordion("Share these settings", open=False, elem_id="share"):
                hide_advanced = gr.Checkbox(label="Hide the advanced settings in the link")
                copy = gr.Button("Copy link to these settings", elem_id="copy-link")
                link = gr.Textbox(
                    label="Link", show_label=False, interactive=False, elem_id="preset-link"
                )
        with gr.Column(scale=2):
            # Start beside the line that says to press it, in the first screen; Stop in its
            # place while a run is waiting or training, and only then.
            with gr.Row(equal_height=False, elem_id="train-bar"):
                start = gr.Button(
                    "Start", variant="primary", scale=0, min_width=110, elem_id="start"
                )
                stop = gr.Button(
                    "Stop", variant="stop", scale=0, min_width=110, visible=False, elem_id="stop"
                )
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
            # No heading: the top class in large type would read as a verdict (see draw.py).
            watch = gr.Label(
                num_top_classes=3, show_label=False, show_heading=False, elem_id="watch"
            )
            downloads = gr.File(
                label="Download weights + JSON sidecar",
                file_count="multiple",
                interactive=False,
                elem_id="downloads",
            )

    listener_timeout = Limits.from_env().listener_timeout_seconds

    async def run(*inputs):
        *values, state, request = inputs
        listener = ListenerWatch(request, listener_timeout)
        settings = dict(zip(CONTROLS, values, strict=True))
        updates = start_training(settings, state, budget, line)
        # Closing the generator leaves the line, or ends the run and frees the trainer.
        try:
            async for update in updates:
                if listener.gone():
                    logger.info("training stopped: nobody has read its progress")
                    return
                yield update
        finally:
            await updates.aclose()

    with_control_parameters(run)
    start.click(lambda: running(True), None, [start, stop], queue=False, api_name=False)
    train_event = start.click(
        run,
        [*controls.values(), session],
        [status, loss_chart, accuracy_chart, watch, downloads],
        api_name="train",
        # No gr.Progress: Gradio drew it over the status line ("Training · 100.0%" over its
        # words), even with show_progress="hidden". The status line says the step, the epoch
        # and the time left itself.
        show_progress="hidden",
        # Everyone in the trainer's line is "running" for Gradio: the line (not Gradio's queue)
        # decides the order, and waiting costs no thread (see line.wait_in_line).
        concurrency_limit=line.capacity + 1,
        concurrency_id="train",
    )
    train_event.then(lambda: running(False), None, [start, stop], queue=False, api_name=False)
    stop.click(stop_training, session, status, api_name="stop", queue=False)

    def make_link(hide, *values):
        return preset_query(dict(zip(CONTROLS, values, strict=True)), hide=bool(hide))

    # The server knows the settings, only the page knows its own address (behind a proxy, as on
    # Spaces): the server writes the query, the page prefixes its address and copies it.
    copy.click(make_link, [hide_advanced, *controls.values()], link, queue=False).then(
        None, link, link, js=static_text("copy_link.js")
    )
    for name, button in preset_buttons.items():
        button.click(
            lambda name=name: [
                gr.update(value=preset_values(name, budget)[setting])
                if setting in PRESETS[name].values
                else gr.update()
                for setting in CONTROLS
            ],
            None,
            list(controls.values()),
            queue=False,
            api_name=False,
        )
    return RetrainTab(controls, advanced, hide_advanced, train_event)


def running(yes: bool) -> tuple:
    """Start and Stop: one of them shown, Stop only while a run waits or trains."""
    return gr.update(visible=not yes), gr.update(visible=yes)


@dataclass
class RetrainTab:
    controls: dict[str, gr.components.Component]  # by options.CONTROLS name
    advanced: gr.Accordion
    hide_advanced: gr.Checkbox
    train_event: object
