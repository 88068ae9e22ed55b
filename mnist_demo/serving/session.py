"""What belongs to one visitor: their dataset choice, latest drawing and retrained model.

Held in a ``gr.State``, so every browser tab has its own; nothing here is shared between
visitors except the read-only shipped predictors.
"""

from __future__ import annotations

import itertools
import math
import threading
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mnist_demo import settings
from mnist_demo.config import dataset_spec
from mnist_demo.recognition.checkpoint import save_checkpoint
from mnist_demo.recognition.inference import Predictor, shipped_predictor
from mnist_demo.recognition.ink import to_ink
from mnist_demo.recognition.model import SmallCNN
from mnist_demo.serving.downloads import DOWNLOADS
from mnist_demo.training.loop import TrainingRun

# A session keeps its drawing as an ink map of at most this many pixels a side (1 MB): a 280 px
# canvas as it is, a 7000 px upload max-pooled down (196 MB decoded would otherwise stay).
KEPT_SIDE = 1024


@dataclass
class TrainedModel:
    """A visitor's finished (or stopped) training run, ready to use or download."""

    model: SmallCNN
    dataset: str
    metrics: dict[str, Any]
    train_config: dict[str, Any]
    predictor: Predictor
    fine_tuned: bool = False  # On the visitor's own drawings, rather than retrained.

    @property
    def description(self) -> str:
        """ "your retrained MNIST digits model, 97.21% test accuracy", or "your fine-tuned ..."."""
        accuracy = self.metrics.get("test_accuracy")
        score = f", {accuracy:.2%} test accuracy" if accuracy is not None else ""
        how = "fine-tuned" if self.fine_tuned else "retrained"
        return f"your {how} {dataset_spec(self.dataset).title} model{score}"


@dataclass
class Session:
    dataset: str = "mnist"
    # The latest Sketchpad value, re-classified by the model being trained ("watch it learn").
    drawing: Any = None
    trained: TrainedModel | None = None
    use_trained: bool = False
    # The run in progress, so that this visitor's Stop button can end it gracefully.
    active_run: TrainingRun | None = field(default=None, repr=False)
    # This visitor's place in the trainer's line (a line.Ticket) while they wait for it.
    ticket: Any = field(default=None, repr=False)
    download_dir: str | None = field(default=None, repr=False)
    # Open teaching panels follow every stroke; closed ones cost nothing.
    panels_open: set[str] = field(default_factory=set)
    # "Teach it your handwriting": drawings this visitor labelled (PersonalExample), per dataset.
    personal: dict[str, list] = field(default_factory=dict, repr=False)
    # The class this visitor joined by its link (serving.classes.Membership), or None.
    classroom: Any = None

    @property
    def holds_work(self) -> bool:
        """Whether losing this session would lose the visitor something (a model, their set, a
        teacher's board)."""
        teaching = self.classroom is not None and self.classroom.teacher  # An open class board.
        return (
            self.trained is not None
            or self.active_run is not None
            or any(self.personal.values())
            or teaching
        )

    def keep_drawing(self, drawing: Any) -> None:
        """Keep the drawing's ink (uint8, at most KEPT_SIDE a side); None if it is no image."""
        try:
            ink = to_ink(drawing)
        except ValueError:
            ink = None
        self.drawing = None if ink is None else shrunk(ink, KEPT_SIDE)

    def predictor(self) -> Predictor:
        trained = self.trained  # Read once: the cap on kept models may drop it at any moment.
        if self.use_trained and trained is not None:
            return trained.predictor
        return shipped_predictor(self.dataset)

    @property
    def model_description(self) -> str:
        """The model that answers, in words: the shipped one or this visitor's own."""
        if self.use_trained and self.trained is not None:
            return self.trained.description
        return f"the shipped {dataset_spec(self.dataset).title} model"

    def keep_trained(
        self,
        model: SmallCNN,
        dataset: str,
        metrics: dict,
        train_config: dict,
        fine_tuned: bool = False,
    ) -> None:
        predictor = Predictor.from_model(model, dataset)
        self.trained = TrainedModel(model, dataset, metrics, train_config, predictor, fine_tuned)
        KEPT.add(self, settings.MAX_SESSIONS.read())

    def drop_trained(self) -> None:
        """Forget the retrained model (freeing it): predictions go back to the shipped model."""
        KEPT.discard(self)
        self.use_trained = False
        self.trained = None

    def use_trained_model(self, use: bool) -> None:
        if use and self.trained is None:
            raise ValueError("Train a model first: there is no retrained model in this session.")
        self.use_trained = use
        if use:
            self.dataset = self.trained.dataset

    def export_trained(self) -> list[str]:
        """Write this session's model and sidecar to a private temporary folder for download."""
        if self.trained is None:
            raise ValueError("There is no retrained model to download yet.")
        self.remove_downloads()
        self.download_dir = str(DOWNLOADS.new_folder(settings.DOWNLOADS.read()))
        trained = self.trained
        stem = "mnist_cnn" if trained.dataset == "mnist" else f"{trained.dataset}_cnn"
        path = save_checkpoint(
            Path(self.download_dir) / f"{stem}_retrained.pth",
            trained.model,
            trained.dataset,
            metrics=trained.metrics,
            command="trained in the mnist-demo Retrain tab",
            train_config=trained.train_config,
        )
        return [str(path), str(path.with_suffix(".json"))]

    def stop_training(self) -> bool:
        """Stop this visitor's run, or take them out of the line if they are still waiting."""
        if self.active_run is not None:
            self.active_run.stop()
            return True
        if self.ticket is not None:
            self.ticket.withdrawn = True
            return True
        return False

    def remove_downloads(self) -> None:
        if self.download_dir:
            DOWNLOADS.remove(self.download_dir)
            self.download_dir = None

    def close(self) -> None:
        """Free what the session holds: its run, files, model and drawing (the delete_callback).

        Gradio may keep the Session object itself for a while after this, so the model and the
        drawing are dropped here rather than left to the garbage collector.
        """
        self.stop_training()
        self.remove_downloads()
        self.drop_trained()
        self.drawing = None


def shrunk(ink: np.ndarray, side: int) -> np.ndarray:
    """``ink`` max-pooled by a whole factor until it fits ``side`` (strokes keep their strength)."""
    factor = math.ceil(max(ink.shape) / side)
    if factor <= 1:
        return np.ascontiguousarray(ink)
    height, width = (math.ceil(n / factor) * factor for n in ink.shape)
    padded = np.zeros((height, width), np.uint8)
    padded[: ink.shape[0], : ink.shape[1]] = ink
    return padded.reshape(height // factor, factor, width // factor, factor).max(axis=(1, 3))


class KeptModels:
    """The sessions holding a retrained model, oldest first: past the cap the oldest lose theirs.

    Gradio's ``state_session_capacity`` bounds sessions only when the app is launched with
    ``launch_options()``, and evicts them without calling ``delete_callback``; this bounds the
    models (about 1.6 MB each with the predictor's copy) however the app is launched.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens = itertools.count()
        # Weak: a session Gradio has dropped is not kept alive by this list.
        self._sessions: weakref.WeakValueDictionary[int, Session] = weakref.WeakValueDictionary()

    def __len__(self) -> int:
        return len(self._sessions)

    def add(self, session: Session, capacity: int) -> None:
        evicted = []
        with self._lock:
            self._remove(session)
            self._sessions[next(self._tokens)] = session
            while len(self._sessions) > capacity:
                oldest = next(iter(self._sessions))
                evicted.append(self._sessions.pop(oldest))
        for old in evicted:  # Outside the lock: drop_trained calls discard.
            old.drop_trained()

    def discard(self, session: Session) -> None:
        with self._lock:
            self._remove(session)

    def _remove(self, session: Session) -> None:
        for token, kept in list(self._sessions.items()):
            if kept is session:
                del self._sessions[token]


KEPT = KeptModels()
