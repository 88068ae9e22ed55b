"""Build the Gradio app: a dataset switch, the Draw tab and the Retrain tab, wired together."""

from __future__ import annotations

import gradio as gr

from mnist_demo import settings
from mnist_demo.config import dataset_spec
from mnist_demo.serving.line import TrainerLine
from mnist_demo.serving.presets import parse_preset
from mnist_demo.serving.session import Session
from mnist_demo.serving.trainer import Budget
from mnist_demo.training.options import CONTROLS
from mnist_demo.ui.classroom import add_class_api
from mnist_demo.ui.guards.components import guard_components
from mnist_demo.ui.guards.inputs import guard_inputs
from mnist_demo.ui.guards.limits import Limits
from mnist_demo.ui.guards.policy import BOARD_GROUP, CLASS_GROUP, PAGE_GROUP
from mnist_demo.ui.guards.sessions import ListenerWatch
from mnist_demo.ui.header import build_header, model_line
from mnist_demo.ui.launch import BOARD_CONCURRENCY, CLASS_CONCURRENCY
from mnist_demo.ui.notes import problem
from mnist_demo.ui.page_files import static_text
from mnist_demo.ui.tabs.board import build_board_tab
from mnist_demo.ui.tabs.class_tab import build_class_row, build_class_tab, wire_class
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
from mnist_demo.ui.verdict_api import add_classify_api, add_read_number_api


def close_session(session: Session) -> None:
    session.close()


def switch_dataset(dataset: str, session: Session):
    """The visitor picked a dataset: its shipped model answers. The switch also fires when a
    model change sets it (a retrained Fashion-MNIST model sets "fashion"): that is no choice,
    and the visitor's model stays in use."""
    name = dataset_spec(dataset).name
    if name != session.dataset:
        session.dataset = name
        session.use_trained = False
    shown = classify(session.drawing, session)
    return (*shown, dataset, *handwriting_labels(session), *model_line(session))


def handwriting_labels(session: Session):
    names = session.predictor().class_names
    return gr.Dropdown(choices=list(names), value=None), gallery_of(session)


def model_views(session: Session):
    """Whatever says which model answers: the Draw tab's answer, the dataset, the model line."""
    return (*classify(session.drawing, session), session.dataset, *model_line(session))


def use_model(use: bool, session: Session):
    try:
        session.use_trained_model(use)
    except ValueError as error:
        gr.Warning(str(error))
    return model_views(session)


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
        header = build_header()
        dataset, link_notice = header.dataset, header.link_notice
        with gr.Tabs() as tabs:
            with gr.Tab("Draw", id="draw"):
                draw = build_draw_tab()
                class_row = build_class_row()  # Shown only in a class (ui/tabs/class_tab.py).
                panels = build_inside_panels(session)
                handwriting = build_handwriting_panel(session)
            with gr.Tab("Evaluate", id="evaluate"):
                build_evaluate_tab(session)
            with gr.Tab("Retrain", id="retrain"):
                retrain = build_retrain_tab(session, budget, line)
            with gr.Tab("Class", id="class"):
                class_tab = build_class_tab()
            board = build_board_tab(session, BOARD_GROUP)  # A teacher link shows it.
        draw_outputs = draw.outputs
        # Everything that says which model answers (model_views), refreshed when it changes.
        model_outputs = [*draw_outputs, dataset, *header.model_line]
        wire_draw_tab(draw, session, predict_concurrency, panels_follower(panels))
        add_classify_api(draw.sketch, session, predict_concurrency)
        add_read_number_api(draw.sketch, session, predict_concurrency)
        wire_panels(panels, session)
        model_events = []  # Each changes the session's model (see below).
        add_class_api(session, CLASS_GROUP, BOARD_GROUP, CLASS_CONCURRENCY)
        # A class link may open a class's run as the model (?model=ID): the page follows.
        opened = wire_class(demo, class_tab, class_row, board, tabs, session, draw.pad.ink)
        opened.change(
            lambda state: [*model_views(state), page_model_json(state)],
            session,
            [*model_outputs, draw.pad.page_model],
            show_progress="hidden",
            api_name=False,
            concurrency_id=PAGE_GROUP,
        )
        model_events.append(
            dataset.change(
                switch_dataset,
                [dataset, session],
                [
                    *draw_outputs,
                    retrain.controls["dataset"],
                    handwriting.label,
                    handwriting.gallery,
                    *header.model_line,
                ],
                show_progress="hidden",
            )
        )
        for button, use in ((header.use, True), (header.back, False)):
            model_events.append(
                button.click(
                    lambda s, use=use: use_model(use, s),
                    session,
                    model_outputs,
                    api_name="use_model" if use else "use_shipped",
                )
            )
        # A finished (or stopped) run is used at once (serving.retrain): the page follows.
        model_events.append(
            retrain.train_event.then(
                model_views,
                session,
                model_outputs,
                show_progress="hidden",
                api_name=False,
                concurrency_id=PAGE_GROUP,
            )
        )

        listener_timeout = Limits.from_env().listener_timeout_seconds

        async def tune(state: Session, request: gr.Request):
            # Like a Retrain run, a fine-tune belongs to someone reading its progress.
            listener = ListenerWatch(request, listener_timeout)
            steps = finetune_in_line(state, budget, line, listener.gone)
            try:
                async for step in steps:
                    if isinstance(step, str):  # Still waiting in line.
                        yield step, *[gr.skip()] * len(model_outputs)
                    else:
                        yield step.status, *model_views(state)
            finally:
                await steps.aclose()  # Leaves the line, or stops the steps, if the visitor left.

        tuned = handwriting.tune.click(
            tune,
            session,
            [handwriting.status, *model_outputs],
            api_name="finetune",
            # Shares the trainer's line and its concurrency (see the Retrain tab's Start).
            concurrency_limit=line.capacity + 1,
            concurrency_id="train",
        )
        model_events.append(tuned)
        # The page runs the session's model: it gets the new one whenever that changes.
        for event in model_events:
            event.then(
                page_model_json,
                session,
                draw.pad.page_model,
                show_progress="hidden",
                api_name=False,
                concurrency_id=PAGE_GROUP,  # The page needs it to draw with the new model.
            )

        def apply_preset(state: Session, request: gr.Request):
            preset = parse_preset(dict(request.query_params), budget)
            notice = "\n".join(problem(f"link setting {error}.") for error in preset.problems)
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
    settle_concurrency(
        demo,
        {
            PAGE_GROUP: predict_concurrency,
            "train": line.capacity + 1,
            CLASS_GROUP: CLASS_CONCURRENCY,
            BOARD_GROUP: BOARD_CONCURRENCY,
        },
    )
    # The request guard shares these waiting places out by group (guards/http.py's shares).
    demo.queue(max_size=settings.QUEUE_SIZE.read(), default_concurrency_limit=2, api_open=False)
    guard_components(demo, Limits.from_env())
    guard_inputs(demo)
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

        accordion.expand(
            opened,
            panels.inputs,
            panels.outputs,
            show_progress="hidden",
            concurrency_id=PAGE_GROUP,  # The panels' work, as after each stroke.
        )
        accordion.collapse(closed, session, None, queue=False)
