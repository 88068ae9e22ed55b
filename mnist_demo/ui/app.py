"""Build the Gradio app: a dataset switch, the Draw tab and the Retrain tab, wired together."""

from __future__ import annotations

import gradio as gr
from starlette.middleware import Middleware

from mnist_demo import settings
from mnist_demo.config import dataset_spec
from mnist_demo.serving.line import TrainerLine
from mnist_demo.serving.presets import parse_preset
from mnist_demo.serving.session import Session
from mnist_demo.serving.trainer import Budget
from mnist_demo.training.options import CONTROLS
from mnist_demo.ui.guards.components import guard_components
from mnist_demo.ui.guards.http import RequestGuard, UploadLedger
from mnist_demo.ui.guards.limits import Limits
from mnist_demo.ui.guards.sessions import lifespan
from mnist_demo.ui.page_files import static_text
from mnist_demo.ui.tabs.draw import (
    Follower,
    build_draw_tab,
    canvas_choice,
    classify,
    page_model_json,
    wire_draw_tab,
)
from mnist_demo.ui.tabs.evaluate import build_evaluate_tab
from mnist_demo.ui.tabs.handwriting import build_handwriting_panel, finetune_in_line, gallery_of
from mnist_demo.ui.tabs.inside import build_inside_panels
from mnist_demo.ui.tabs.retrain import build_retrain_tab
from mnist_demo.ui.tabs.retrain_controls import DATASET_CHOICES
from mnist_demo.ui.verdict_api import add_classify_api

INTRO = """# Draw a digit · watch a CNN learn
Draw on the canvas: the lesson's small convolutional network (206,922 parameters) classifies
your drawing as you draw, right in your browser. Open the panels under the canvas to look inside
it, **Evaluate** it on the test set, or **Retrain** it from scratch and watch it learn."""


def close_session(session: Session) -> None:
    session.close()


def switch_dataset(dataset: str, session: Session):
    session.dataset = dataset_spec(dataset).name
    session.use_trained = False
    return (*classify(session.drawing, session), dataset, *handwriting_labels(session))


def handwriting_labels(session: Session):
    names = session.predictor().class_names
    return gr.Dropdown(choices=list(names), value=None), gallery_of(session)


def use_model(use: bool, session: Session):
    try:
        session.use_trained_model(use)
    except ValueError as error:
        gr.Warning(str(error))
    return (*classify(session.drawing, session), session.dataset)


def build_demo(budget: Budget | None = None) -> gr.Blocks:
    """The whole app, built without launching it."""
    budget = budget or Budget.from_env()
    line = TrainerLine(capacity=budget.line_size)
    ttl = settings.SESSION_TTL.read()
    predict_concurrency = settings.PREDICT_CONCURRENCY.read()
    # Uploaded canvases are cached per component and never evicted otherwise (see the notes):
    # sweep files older than an hour, every hour.
    with gr.Blocks(title="mnist-demo: draw a digit", delete_cache=(3600, 3600)) as demo:
        session = gr.State(Session(), time_to_live=ttl, delete_callback=close_session)
        gr.Markdown(INTRO)
        # What a lesson link got wrong, said on the page (toasts from page load never show).
        link_notice = gr.Markdown(visible=False, elem_id="link-notice")
        dataset = gr.Radio(DATASET_CHOICES, value="mnist", label="Model", elem_id="dataset")
        with gr.Tabs() as tabs:
            with gr.Tab("Draw", id="draw"):
                draw = build_draw_tab()
                panels = build_inside_panels(session)
                handwriting = build_handwriting_panel(session)
            with gr.Tab("Evaluate", id="evaluate"):
                build_evaluate_tab(session)
            with gr.Tab("Retrain", id="retrain"):
                retrain = build_retrain_tab(session, budget, line)
        draw_outputs = draw.outputs
        wire_draw_tab(draw, session, predict_concurrency, panels_follower(panels))
        add_classify_api(draw.sketch, session, predict_concurrency)
        wire_panels(panels, session)
        model_events = [None] * 4  # Each changes the session's model (see below).
        model_events[0] = dataset.change(
            switch_dataset,
            [dataset, session],
            [*draw_outputs, retrain.controls["dataset"], handwriting.label, handwriting.gallery],
            show_progress="hidden",
        )
        for index, (button, use) in enumerate(((retrain.use, True), (retrain.back, False)), 1):
            model_events[index] = button.click(
                lambda s, use=use: use_model(use, s),
                session,
                [*draw_outputs, dataset],
                api_name="use_model" if use else "use_shipped",
            )

        async def tune(state: Session):
            async for step in finetune_in_line(state, budget, line):
                if isinstance(step, str):  # Still waiting in line.
                    yield step, *[gr.skip()] * (len(draw_outputs) + 1)
                else:
                    yield step.status, *classify(state.drawing, state), state.dataset

        model_events[3] = handwriting.tune.click(
            tune,
            session,
            [handwriting.status, *draw_outputs, dataset],
            api_name="finetune",
            # Shares the trainer's line and its concurrency (see the Retrain tab's Start).
            concurrency_limit=line.capacity + 1,
            concurrency_id="train",
        )
        # The page runs the session's model: it gets the new one whenever that changes.
        for event in model_events:
            event.then(
                page_model_json,
                session,
                draw.pad.page_model,
                show_progress="hidden",
                api_name=False,
            )

        def apply_preset(state: Session, request: gr.Request):
            preset = parse_preset(dict(request.query_params), budget)
            notice = "\n".join(f"⚠️ Link setting {problem}." for problem in preset.problems)
            updates = [
                gr.update(value=preset.values[name]) if name in preset.values else gr.update()
                for name in CONTROLS
            ]
            picked = preset.values.get("dataset")
            if picked:
                state.dataset = picked
            if preset.tab == "inside":  # The Draw tab, with the network panel open.
                state.panels_open.add("inside")
            tab = {"inside": "draw"}.get(preset.tab, preset.tab)
            return (
                *updates,
                gr.update(value=picked) if picked else gr.update(),
                gr.update(visible="advanced" not in preset.hide),
                gr.Tabs(selected=tab) if tab else gr.update(),
                gr.update(open=True) if preset.tab == "inside" else gr.update(),
                gr.update(value=notice, visible=bool(notice)),
                gr.update(value=True) if "advanced" in preset.hide else gr.update(),
            )

        demo.load(
            apply_preset,
            session,
            [
                *retrain.controls.values(),
                dataset,
                retrain.advanced,
                tabs,
                panels.accordions[0],
                link_notice,
                retrain.hide_advanced,
            ],
            api_name=False,
            queue=False,
        )
        demo.load(canvas_choice, None, draw.columns, api_name=False, queue=False)
        demo.load(None, js=static_text("select_brush.js"))  # For ?canvas=sketchpad.
        # Registers the new session for expiry at once, before its first stroke.
        demo.load(lambda state: state, session, session, api_name=False, queue=False)
    # Gradio gives a concurrency group the lowest limit of its events, whichever ran first: say
    # each group's limit once, on every event in it. Direct REST calls would skip the queue.
    # The trainer's group (Start, fine-tuning): everyone in its line is running for Gradio.
    settle_concurrency(demo, {"predict": predict_concurrency, "train": line.capacity + 1})
    demo.queue(max_size=settings.QUEUE_SIZE.read(), default_concurrency_limit=2, api_open=False)
    guard_components(demo, Limits.from_env())
    return demo


def settle_concurrency(demo: gr.Blocks, limits: dict[str, int]) -> None:
    for fn in demo.fns.values():
        if fn.concurrency_id in limits:
            fn.concurrency_limit = limits[fn.concurrency_id]


def panels_follower(panels) -> Follower:
    """The teaching panels refreshed with each prediction while open; closed, they skip."""
    *values, _session = panels.inputs

    def refresh(state: Session, *panel_values):
        if not state.panels_open:
            return [gr.skip()] * len(panels.outputs)
        return panels.refresh(*panel_values, state)

    return Follower(values, panels.outputs, refresh)


def wire_panels(panels, session: gr.State) -> None:
    """Opening a panel fills it at once; closing it stops its per-stroke work."""
    for name, accordion in zip(("inside", "preprocessing"), panels.accordions, strict=True):

        def opened(*values, name=name):
            values[-1].panels_open.add(name)
            return panels.refresh(*values)

        def closed(state: Session, name=name):
            state.panels_open.discard(name)

        accordion.expand(opened, panels.inputs, panels.outputs, show_progress="hidden")
        accordion.collapse(closed, session, None, queue=False)


def launch_options() -> dict:
    """Settings for a public demo; ``GRADIO_SERVER_NAME``/``PORT`` still override the host.

    ``app_kwargs`` puts the request guard (body sizes, the upload ledger, one-line errors) in
    front of Gradio's routes, and the lifespan guards sessions and cleans up at shutdown.
    """
    limits = Limits.from_env()
    ledger = UploadLedger(limits)
    return {
        "app_kwargs": {
            "middleware": [Middleware(RequestGuard, limits=limits, ledger=ledger)],
            "lifespan": lifespan(ledger),
        },
        "server_name": settings.SERVER_NAME.read(),
        "server_port": settings.SERVER_PORT.read(),
        "max_file_size": "5mb",
        "enable_monitoring": False,
        "show_error": True,
        "css": static_text("app.css"),
        # Each browser tab holds a session; keep at most this many in memory.
        "state_session_capacity": settings.MAX_SESSIONS.read(),
    }
