"""The Retrain tab's logic without Gradio: run the one training loop for one visitor and turn
its events into what the tab shows (chart rows, status, the visitor's digit re-classified)."""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import torch

from mnist_demo.config import dataset_spec
from mnist_demo.data import load_split
from mnist_demo.recognition.inference import Predictor
from mnist_demo.serving.classes import record_run
from mnist_demo.serving.memory import release_freed_memory
from mnist_demo.serving.session import Session
from mnist_demo.serving.trainer import SLOT, Budget, TrainerSlot
from mnist_demo.training.evaluate import Evaluation, evaluate
from mnist_demo.training.loop import EpochEvent, StepEvent, TrainConfig, TrainingRun, starting_model

# Progress events per epoch: enough for a lively chart, few enough to keep the page light.
EVENTS_PER_EPOCH = 25
# A run of fewer epochs than this also scores the test set at each quarter epoch (on a sample of
# it: training.loop.INSIDE_TEST_IMAGES): with only its start and end, a one-epoch run's test
# curve was a straight diagonal beside a curved training line. docs/teaching.md has the cost.
SHORT_RUN_EPOCHS = 3
TESTS_PER_SHORT_EPOCH = 4


@dataclass
class Charts:
    """Rows for the loss and accuracy line charts, in long form (x, value, series)."""

    loss: list[dict] = field(default_factory=list)
    accuracy: list[dict] = field(default_factory=list)

    def add(self, event: StepEvent | EpochEvent, steps_per_epoch: int) -> None:
        epoch = round(event.step / steps_per_epoch, 3)
        if isinstance(event, StepEvent):
            self.loss.append({"epoch": epoch, "value": event.train_loss, "series": "train"})
            self.accuracy.append({"epoch": epoch, "value": event.train_accuracy, "series": "train"})
        if event.test_accuracy is not None:  # Every EpochEvent; a StepEvent inside a short run.
            self.add_test(epoch, event.test_loss, event.test_accuracy)

    def add_test(self, epoch: float, loss: float, accuracy: float) -> None:
        self.loss.append({"epoch": round(epoch, 3), "value": loss, "series": "test"})
        self.accuracy.append({"epoch": round(epoch, 3), "value": accuracy, "series": "test"})


@dataclass
class Update:
    status: str
    progress: float
    charts: Charts
    watch: dict[str, float] | None = None
    finished: bool = False
    completed: bool = False  # The last update of a run that went through all its epochs.


def fit_to_budget(config: TrainConfig, budget: Budget) -> tuple[TrainConfig, str]:
    """Apply the host's limits; say what changed so the visitor is never surprised."""
    note = ""
    epochs = config.epochs
    if epochs > budget.max_epochs:
        epochs = budget.max_epochs
        note = f"This server allows at most {budget.max_epochs} epochs per run. "
    steps_per_epoch = math.ceil(config.images_per_epoch / config.batch_size)
    log_every = max(1, steps_per_epoch // EVENTS_PER_EPOCH)
    fitted = dataclasses.replace(
        config, epochs=epochs, threads=budget.threads, log_every=log_every, device=budget.device
    )
    return fitted, note


def untrained_evaluation(config: TrainConfig) -> Evaluation:
    """The test score of the network ``train`` will start from (built from the same seed)."""
    if config.threads:
        torch.set_num_threads(config.threads)
    model = starting_model(config)  # As the run will build it.
    return evaluate(model, load_split(config.dataset, train=False).subset(config.test_subset))


def planned_images(config: TrainConfig) -> int:
    """How many training images the run will go through: what its duration scales with."""
    return config.epochs * config.images_per_epoch


def run_kind(config: TrainConfig) -> tuple:
    """What makes runs alike in duration (the trainer's line learns each kind's own speed): the
    images, the epochs over them, and whatever changes the cost of one step."""
    return (
        config.images_per_epoch,
        config.epochs,
        config.batch_size,
        config.batch_norm,
        config.augment,
        config.outlier_exposure,
        config.coarse_scans,
    )


def watch_drawing(run: TrainingRun, dataset: str, drawing) -> dict[str, float] | None:
    """The visitor's current drawing, classified by the model as it is right now.

    The loop is paused at a yield while this runs, and the predictor takes an eval-mode copy, so
    the training model's weights and mode are untouched.
    """
    if drawing is None or run.model is None:
        return None
    try:
        return Predictor.from_model(run.model, dataset).predict(drawing) or None
    except ValueError:
        return None


def status_line(event: StepEvent | EpochEvent, config: TrainConfig, started: float) -> str:
    elapsed = time.monotonic() - started
    left = elapsed * (1 - event.progress) / max(event.progress, 1e-9)
    text = f"Epoch {event.epoch}/{config.epochs} · step {event.step}/{event.total_steps}"
    if isinstance(event, EpochEvent):  # Not the estimates inside an epoch: see the charts.
        text += f" · test accuracy {event.test_accuracy:.2%}"
    else:
        text += f" · train loss {event.train_loss:.3f} · {event.samples_per_second:,.0f} images/s"
    return f"{text} · {elapsed:.0f} s elapsed, about {left:.0f} s left"


def train_for_visitor(
    config: TrainConfig, session: Session, budget: Budget, slot: TrainerSlot = SLOT
) -> Iterator[Update]:
    """Train while holding the process's trainer; raises TrainerBusy if another run holds it.

    The trained model is kept in ``session`` only (never in the shipped weights), and only if
    the run ended without an error: a diverged run publishes nothing. A kept model is the one the
    session uses from then on, until the visitor goes back to the shipped one.
    """
    config, note = fit_to_budget(config, budget)
    with slot.hold():
        try:
            yield from run_in_slot(config, note, session, budget)
        finally:
            # A diverged, failed or abandoned run must not leave a Stop button aimed at it.
            session.active_run = None
            release_freed_memory()


def run_in_slot(
    config: TrainConfig, note: str, session: Session, budget: Budget
) -> Iterator[Update]:
    """The run itself, once the trainer is held: progress updates, then the kept model."""
    short = config.epochs < SHORT_RUN_EPOCHS
    run = TrainingRun(config, tests_per_epoch=TESTS_PER_SHORT_EPOCH if short else 1)
    session.active_run = run
    charts = Charts()
    started = time.monotonic()
    steps_per_epoch = math.ceil(config.images_per_epoch / config.batch_size)
    yield Update(f"{note}Loading {dataset_spec(config.dataset).title}…", 0.0, charts)
    # Where the test curve starts: the untrained network, at chance. It also puts both series
    # in the charts' first picture, which fixes their legend (see retrain_tab.chart).
    before = untrained_evaluation(config)
    charts.add_test(0.0, before.loss, before.accuracy)
    for event in run:
        charts.add(event, steps_per_epoch)
        if time.monotonic() - started > budget.max_seconds:
            note += f"Stopped at this server's {budget.max_seconds:.0f} s limit. "
            run.stop()
        status = note + status_line(event, config, started)
        watch = watch_drawing(run, config.dataset, session.drawing)
        yield Update(status, event.progress, charts, watch)
    if not run.history:
        yield Update(note + "Stopped before the first step: no model to keep.", 0.0, charts)
        return
    last = run.history[-1]
    if isinstance(last, EpochEvent):
        accuracy, loss = last.test_accuracy, last.test_loss
    else:  # Stopped mid-epoch: score it honestly before it is kept, and chart the score.
        test = evaluate(run.model, load_split(config.dataset, train=False))
        accuracy, loss = test.accuracy, test.loss
        charts.add_test(last.step / steps_per_epoch, loss, accuracy)
    completed = sum(isinstance(event, EpochEvent) for event in run.history)
    metrics = {
        "test_accuracy": accuracy,
        "test_loss": loss,
        "epochs_completed": completed,
        "steps": run.history[-1].step,
        "seconds": round(time.monotonic() - started, 1),
    }
    settings = dataclasses.asdict(config)
    session.keep_trained(run.model, config.dataset, metrics, settings)
    # A class member's run joins the class's board (serving.classes), curves and all.
    curves = {"loss": charts.loss, "accuracy": charts.accuracy}
    note += record_run(
        session.classroom, "retrain", run.model, config.dataset, settings, metrics, curves
    )
    # What a visitor expects of the model they just made: to draw with it. The page's model line
    # says so and holds the way back (ui/header.py).
    session.use_trained_model(True)
    how = "finished" if run.completed else f"stopped at step {metrics['steps']}"
    status = (
        f"{note}Training {how} in {metrics['seconds']:.0f} s: test accuracy "
        f"{accuracy:.2%}. The Draw tab now uses this model, for you only; **Back to the shipped "
        "model**, at the top of the page, returns to the original."
    )
    watch = watch_drawing(run, config.dataset, session.drawing)
    session.active_run = None
    yield Update(status, 1.0, charts, watch, finished=True, completed=run.completed)
