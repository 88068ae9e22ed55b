"""Teach it your handwriting: label the drawings it gets wrong, then fine-tune on them.

The labelled drawings and the fine-tuned model belong to the visitor's session only: the
shipped weights and every other visitor's predictions stay as they were. Fine-tuning is
training, so it waits in the trainer's line and takes its one slot like a Retrain run, and like
one it belongs to someone listening: nobody reading its progress, it leaves the line or stops.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import gradio as gr
import numpy as np

from mnist_demo.data import DatasetMissingError, load_split
from mnist_demo.pictures import GALLERY_SCALE, enlarge
from mnist_demo.recognition.preprocess import preprocess
from mnist_demo.serving.classes import class_examples, record_run
from mnist_demo.serving.line import (
    POLL_SECONDS,
    AlreadyInLine,
    LeftLine,
    LineFull,
    TrainerLine,
    wait_in_line,
    waiting_status,
)
from mnist_demo.serving.session import Session
from mnist_demo.serving.trainer import SLOT, Budget, TrainerBusy, TrainerSlot
from mnist_demo.training.finetune import PersonalExample, finetune
from mnist_demo.ui.inline import pixel_gallery
from mnist_demo.ui.notes import problem

# What a fine-tune costs the line: 60-200 steps, measured at 3.5-5.6 s on one thread.
FINETUNE_SECONDS = 6.0
# Enough to cover every digit a few times; a bound so one session's memory stays small.
MAX_EXAMPLES = 50
logger = logging.getLogger(__name__)


@dataclass
class Outcome:
    status: str
    changed_model: bool = False


def examples_of(session: Session) -> list[PersonalExample]:
    return session.personal.setdefault(session.dataset, [])


def add_example(label: str | None, session: Session) -> str:
    """Add the canvas's current drawing, as the model saw it, with the visitor's label."""
    predictor = session.predictor()
    names = list(predictor.class_names)
    if label not in names:
        return "Pick the right label first."
    if session.drawing is None:
        return "Draw something first: the canvas is empty."
    try:
        prepared = preprocess(session.drawing, predictor.spec)
    except ValueError as error:
        return problem(error)
    if prepared.blank:
        return "Draw something first: the canvas is empty."
    examples = examples_of(session)
    # The same drawing twice teaches nothing new: it is kept once, with its latest label.
    for index, example in enumerate(examples):
        if np.array_equal(example.picture, prepared.picture):
            before = names[example.label]
            if before == label:
                return f"This drawing is in your set already, as **{label}**: draw another one."
            examples[index] = PersonalExample(prepared.picture, names.index(label))
            return f"This drawing was in your set as {before}: it is **{label}** now."
    if len(examples) >= MAX_EXAMPLES:
        return f"You have {MAX_EXAMPLES} drawings already: fine-tune, or clear them to start over."
    examples.append(PersonalExample(prepared.picture, names.index(label)))
    return (
        f"Added as **{label}**. {len(examples)} drawing(s) in your set; "
        "press **Fine-tune on my digits** when you have a few."
    )


def add_class_drawings(session: Session) -> str:
    """Add this visitor's drawings from their class's pool (less its held-out part)."""
    if session.predictor().spec.name != "mnist":
        return "Your class's drawings are digits: switch the model to MNIST digits first."
    found = class_examples(session.classroom)
    if found is None:
        return "Open your class's link first: then your class drawings can join your set."
    examples, added = examples_of(session), 0
    for example in found:
        if len(examples) >= MAX_EXAMPLES:
            break
        if not any(np.array_equal(example.picture, kept.picture) for kept in examples):
            examples.append(example)
            added += 1
    return f"Added {added} of your class drawing(s); {len(examples)} in your set."


def gallery_of(session: Session) -> list[tuple[np.ndarray, str]]:
    names = session.predictor().class_names
    return [
        (enlarge(example.picture, GALLERY_SCALE), names[example.label])
        for example in examples_of(session)
    ]


def clear_examples(session: Session) -> str:
    examples_of(session).clear()
    return "Your set is empty."


def finetune_session(
    session: Session,
    budget: Budget,
    slot: TrainerSlot = SLOT,
    stop: threading.Event | None = None,
) -> Outcome:
    """Fine-tune the model in use on this visitor's drawings; keep the result in the session.
    ``stop`` (set from any thread) ends the steps early, and then nothing is kept."""
    examples = list(examples_of(session))
    if not examples:
        return Outcome("Add a few of your drawings with their right labels first.")
    base = session.predictor()
    dataset = base.spec.name
    try:
        with slot.hold():
            train, test = load_split(dataset, train=True), load_split(dataset, train=False)
            result = finetune(
                base.model,
                examples,
                train,
                test,
                # More drawings need more steps: 8 or 16 drawings are all learnt in 60 steps,
                # 50 only to 84%; with these, 50 reach 98% in 5.6 s (one thread).
                steps=max(60, 4 * len(examples)),
                personal_per_batch=min(32, max(16, len(examples))),
                threads=budget.threads,
                device=budget.device,
                stop=stop,
            )
    except TrainerBusy as error:
        return Outcome(str(error))
    except DatasetMissingError as error:
        return Outcome(problem(error))
    if stop is not None and stop.is_set():
        return Outcome("Fine-tuning stopped before it finished: nothing was kept.")
    metrics = {
        "test_accuracy": result.test_after,
        "test_accuracy_before": result.test_before,
        "personal_accuracy": result.personal_after,
        "personal_accuracy_before": result.personal_before,
    }
    config = {"fine_tuned_on_drawings": len(examples), "steps": result.steps}
    if session.trained is not None and session.use_trained:
        config["base"] = session.trained.train_config
    session.keep_trained(result.model, dataset, metrics, config, fine_tuned=True)
    session.use_trained = True
    # A class member's fine-tune joins the class's board (serving.classes).
    joined = record_run(session.classroom, "finetune", result.model, dataset, config, metrics, {})
    status = (
        f"Fine-tuned on your {len(examples)} drawing(s) in {result.seconds:.1f} s "
        f"({result.steps} steps, each mixing your drawings with {base.spec.title} training "
        "images).\n\n"
        "| | before | after |\n|---|---|---|\n"
        f"| your drawings | {result.personal_before:.0%} | **{result.personal_after:.0%}** |\n"
        f"| {base.spec.title} test set | {result.test_before:.2%} | {result.test_after:.2%} |\n\n"
        f"{accuracy_change(result.test_before, result.test_after)} The Draw tab now uses this "
        "model, for you only; **Back to the shipped model**, at the top of the page, returns to "
        f"the original.{joined}"
    )
    return Outcome(status, changed_model=True)


def accuracy_change(before: float, after: float) -> str:
    """What fine-tuning did to the test set, said as it happened: mixing in the training images
    keeps a loss small, not always zero (0.08 points was seen)."""
    points = round((after - before) * 100, 2)
    if points == 0:
        return "The test set reads exactly as before."
    if points < 0:
        return f"It lost {-points:.2f} points on the test set while it learnt your drawings."
    return f"It gained {points:.2f} points on the test set too."


async def finetune_in_line(
    session: Session,
    budget: Budget,
    line: TrainerLine,
    gone: Callable[[], bool] = lambda: False,
) -> AsyncIterator[str | Outcome]:
    """Wait for the trainer in the shared line (yielding status lines), then fine-tune.

    ``gone()`` says whether the visitor stopped listening (see guards.sessions.ListenerWatch):
    then this leaves the line, or stops the steps, and ends without a word.
    """
    if not examples_of(session):
        yield Outcome("Add a few of your drawings with their right labels first.")
        return
    try:
        with line.place(session, FINETUNE_SECONDS) as ticket:
            session.ticket = ticket
            left = False
            async for place in wait_in_line(line, ticket):
                left = gone()
                if left:
                    break
                yield waiting_status(place)
            session.ticket = None
            if left or gone():  # Checked again as the turn comes: the trainer goes to the next.
                logger.info("fine-tuning left the line: nobody has read its progress")
                return
            line.started(ticket)
            outcome = await finetune_while_listened(session, budget, line.slot, gone)
            if gone():
                logger.info("fine-tuning stopped: nobody has read its progress")
                return
            yield outcome
    except (LineFull, AlreadyInLine, LeftLine) as error:
        yield Outcome(str(error))
    finally:
        session.ticket = None


async def finetune_while_listened(
    session: Session, budget: Budget, slot: TrainerSlot, gone: Callable[[], bool]
) -> Outcome:
    """Fine-tune in a worker thread, stopping its steps once ``gone()`` or when the visitor
    leaves (this coroutine cancelled): the trainer is free a step later, not a run later."""
    stop = threading.Event()
    loop = asyncio.get_running_loop()
    work = loop.run_in_executor(
        None, functools.partial(finetune_session, session, budget, slot, stop)
    )
    work.add_done_callback(lambda done: done.cancelled() or done.exception())  # Seen, if left.
    try:
        while not work.done():
            if gone():
                stop.set()
            await asyncio.wait({work}, timeout=POLL_SECONDS)
        return work.result()
    finally:
        stop.set()


@dataclass
class HandwritingPanel:
    label: gr.Dropdown
    tune: gr.Button
    status: gr.Markdown
    gallery: gr.Gallery


def build_handwriting_panel(session: gr.State) -> HandwritingPanel:
    """The accordion; the caller wires Fine-tune, which changes what the Draw tab shows."""
    with gr.Accordion("Teach it your handwriting", open=False, elem_id="handwriting"):
        gr.Markdown(
            "Wrong answer? Pick the right label and add the drawing to your own small set. "
            "Then fine-tune: a few training steps on your drawings mixed with MNIST. "
            "Only your session's model changes."
        )
        with gr.Row():
            label = gr.Dropdown(
                [str(digit) for digit in range(10)], label="It is actually", elem_id="true-label"
            )
            add = gr.Button("Add to my digits", elem_id="add-example")
            clear = gr.Button("Clear my digits", elem_id="clear-examples")
            # In a class: this visitor's drawings in the class pool (serving.classes).
            mine = gr.Button("Add my class drawings", elem_id="add-class-drawings")
        gallery = pixel_gallery(
            "Your digits", "my-digits", columns=10, height=300, allow_preview=False
        )
        tune = gr.Button("Fine-tune on my digits", variant="primary", elem_id="finetune")
        status = gr.Markdown(elem_id="finetune-status")

    def on_add(choice, state: Session):
        return add_example(choice, state), gallery_of(state)

    def on_clear(state: Session):
        return clear_examples(state), gallery_of(state)

    add.click(on_add, [label, session], [status, gallery], api_name="add_example")

    def on_mine(state: Session):
        return add_class_drawings(state), gallery_of(state)

    mine.click(on_mine, session, [status, gallery], api_name=False)
    clear.click(on_clear, session, [status, gallery], api_name="clear_examples")
    return HandwritingPanel(label, tune, status, gallery)
