"""Build the Gradio app: a dataset switch, the Draw tab and the Retrain tab, wired together."""

from __future__ import annotations

import os

import gradio as gr

from mnist_demo.config import dataset_spec
from mnist_demo.ui.draw_tab import SELECT_BRUSH_JS, build_draw_tab, classify
from mnist_demo.ui.retrain_tab import DATASET_CHOICES, build_retrain_tab
from mnist_demo.ui.session import Session
from mnist_demo.ui.trainer import Budget, env_number

QUEUE_SIZE_ENV = "MNIST_DEMO_QUEUE_SIZE"
PREDICT_CONCURRENCY_ENV = "MNIST_DEMO_PREDICT_CONCURRENCY"
SESSION_TTL_ENV = "MNIST_DEMO_SESSION_TTL"

CSS = """
#sketch canvas { touch-action: none; }  /* A finger draws instead of scrolling the page. */
#model-input img { image-rendering: pixelated; }
#hint { min-height: 3em; }
"""

INTRO = """# Draw a digit · watch a CNN learn
Draw on the canvas: the lesson's small convolutional network (206,922 parameters) classifies
your drawing after every stroke. The **Retrain** tab trains it from scratch, live."""


def close_session(session: Session) -> None:
    session.close()


def switch_dataset(dataset: str, session: Session):
    session.dataset = dataset_spec(dataset).name
    session.use_trained = False
    return (*classify(session.drawing, session), dataset)


def use_model(use: bool, session: Session):
    try:
        session.use_trained_model(use)
    except ValueError as error:
        gr.Warning(str(error))
    return (*classify(session.drawing, session), session.dataset)


def build_demo(budget: Budget | None = None) -> gr.Blocks:
    """The whole app, built without launching it."""
    budget = budget or Budget.from_env()
    ttl = env_number(SESSION_TTL_ENV, 3600)
    predict_concurrency = env_number(PREDICT_CONCURRENCY_ENV, 4)
    # Uploaded canvases are cached per component and never evicted otherwise (see the notes):
    # sweep files older than an hour, every hour.
    with gr.Blocks(title="mnist-demo: draw a digit", delete_cache=(3600, 3600)) as demo:
        session = gr.State(Session(), time_to_live=ttl, delete_callback=close_session)
        gr.Markdown(INTRO)
        dataset = gr.Radio(DATASET_CHOICES, value="mnist", label="Model", elem_id="dataset")
        with gr.Tabs():
            with gr.Tab("Draw", id="draw"):
                _, draw_outputs = build_draw_tab(session, predict_concurrency)
            with gr.Tab("Retrain", id="retrain"):
                train_dataset, use, back, _ = build_retrain_tab(session, budget)
        dataset.change(
            switch_dataset,
            [dataset, session],
            [*draw_outputs, train_dataset],
            show_progress="hidden",
        )
        use.click(
            lambda s: use_model(True, s), session, [*draw_outputs, dataset], api_name="use_model"
        )
        back.click(
            lambda s: use_model(False, s), session, [*draw_outputs, dataset], api_name="use_shipped"
        )
        demo.load(None, js=SELECT_BRUSH_JS)
    demo.queue(max_size=env_number(QUEUE_SIZE_ENV, 64), default_concurrency_limit=2)
    return demo


def launch_options() -> dict:
    """Settings for a public demo; ``GRADIO_SERVER_NAME``/``PORT`` still override the host."""
    return {
        "server_name": os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        "server_port": int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
        "max_file_size": "5mb",
        "enable_monitoring": False,
        "show_error": True,
        "css": CSS,
        # Each browser tab holds a session; keep at most this many in memory.
        "state_session_capacity": env_number("MNIST_DEMO_MAX_SESSIONS", 200),
    }
