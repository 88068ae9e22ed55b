"""The cached model, swapping it safely, and predict().

A :class:`Predictor` serves one immutable snapshot: a private, eval-mode copy of a model with its
class names and dataset. A prediction reads the snapshot once and uses it throughout; ``swap``
builds a new snapshot and replaces the reference in one assignment. So a prediction sees the old
model or the new one, never half-updated weights, and any number of threads may predict while
another swaps. (Measured before this design: predicting with a model that was being trained in
place gave thousands of distinct outputs for one input.)
"""

from __future__ import annotations

import copy
import os
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from mnist_demo.config import DatasetSpec, dataset_spec, shipped_weights_path
from mnist_demo.recognition.checkpoint import (
    Checkpoint,
    CheckpointError,
    load_checkpoint,
    read_metadata,
    sidecar_path,
)
from mnist_demo.recognition.preprocess import Preprocessed, preprocess
from mnist_demo.recognition.probabilities import class_probabilities
from mnist_demo.recognition.verdict import Thresholds, verdict


@dataclass(frozen=True)
class Prediction:
    """One drawing's result: every class name -> probability, or ``{}`` when ``blank``.

    ``picture`` is the 28x28 uint8 image the model saw (None when blank); ``reason`` says why a
    drawing was blank. ``verdict`` is "digit", "unsure" or "not a digit" ("clothing", "unsure",
    "not clothing" for Fashion-MNIST; "" when blank): see :mod:`mnist_demo.recognition.verdict`.
    """

    probabilities: dict[str, float]
    picture: np.ndarray | None
    blank: bool
    reason: str = ""
    verdict: str = ""

    @property
    def top(self) -> str | None:
        """The most probable class name, or None for a blank drawing."""
        if not self.probabilities:
            return None
        return max(self.probabilities, key=self.probabilities.__getitem__)


@dataclass(frozen=True)
class Served:
    """What one prediction uses, replaced as a whole by a swap."""

    model: nn.Module
    spec: DatasetSpec
    class_names: tuple[str, ...]
    thresholds: Thresholds


def serve(
    model: nn.Module,
    dataset: str,
    class_names: Sequence[str] | None,
    thresholds: Thresholds | None = None,
) -> Served:
    spec = dataset_spec(dataset)
    names = tuple(class_names or spec.class_names)
    outputs = getattr(getattr(model, "config", None), "num_classes", len(names))
    if outputs != len(names):
        raise ValueError(f"the model has {outputs} outputs but {len(names)} class names were given")
    # A private copy: the caller may go on training its own model without touching predictions.
    private = copy.deepcopy(model).to("cpu").eval().requires_grad_(False)
    return Served(private, spec, names, thresholds or Thresholds())


class Predictor:
    """A model ready to classify drawings, safe to share between threads.

    ``swap`` takes a copy of the model it is given: call it between training steps, not while an
    optimiser is changing the weights. ``thresholds`` decide the verdict (the defaults when None).
    """

    def __init__(
        self,
        model: nn.Module,
        dataset: str = "mnist",
        class_names: Sequence[str] | None = None,
        thresholds: Thresholds | None = None,
    ) -> None:
        self._served = serve(model, dataset, class_names, thresholds)

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike[str]) -> Predictor:
        """Load a weights file (raises CheckpointError naming the file if it is unusable); the
        verdict's thresholds come from its sidecar."""
        checkpoint = load_checkpoint(path)
        return cls.from_loaded(checkpoint)

    @classmethod
    def from_loaded(cls, checkpoint: Checkpoint) -> Predictor:
        thresholds = Thresholds.from_metadata(checkpoint.metadata)
        return cls(checkpoint.model, checkpoint.dataset, checkpoint.class_names, thresholds)

    @classmethod
    def from_model(cls, model: nn.Module, dataset: str = "mnist") -> Predictor:
        """Serve a model in memory, such as one a visitor has just retrained. Its verdict uses
        the shipped model's thresholds, so that models trained with and without outlier
        exposure are judged alike."""
        return cls(model, dataset, thresholds=shipped_thresholds(dataset))

    @property
    def spec(self) -> DatasetSpec:
        return self._served.spec

    @property
    def class_names(self) -> tuple[str, ...]:
        return self._served.class_names

    @property
    def thresholds(self) -> Thresholds:
        return self._served.thresholds

    @property
    def model(self) -> nn.Module:
        """The served model (a private copy in eval mode): read it, never train it in place."""
        return self._served.model

    def swap(self, new: nn.Module | Checkpoint, dataset: str | None = None) -> None:
        """Serve another model from now on; predictions already running finish on the old one.

        ``new`` is a model (for ``dataset``, by default the current one) or a loaded checkpoint.
        """
        if isinstance(new, Checkpoint):
            thresholds = Thresholds.from_metadata(new.metadata)
            served = serve(new.model, new.dataset, new.class_names, thresholds)
        else:
            served = serve(new, dataset or self._served.spec.name, None, self._served.thresholds)
        self._served = served  # One reference assignment: atomic for every reader.

    def predict(self, image: Any) -> dict[str, float]:
        """Every class name -> probability (summing to 1), or ``{}`` for a blank drawing."""
        return self.predict_full(image).probabilities

    def predict_full(self, image: Any) -> Prediction:
        """The probabilities together with the 28x28 picture the model saw."""
        served = self._served  # Read once: this whole prediction uses one snapshot.
        return prediction_of(served, preprocess(image, served.spec))

    def predict_prepared(self, prepared: Preprocessed) -> Prediction:
        """The prediction for a model input already made by preprocessing (or a blank one)."""
        return prediction_of(self._served, prepared)

    def predict_tensor(self, tensor: torch.Tensor) -> dict[str, float]:
        """Class name -> probability for a model input already made, shape (1, 1, 28, 28)."""
        return named_probabilities(self._served, tensor)


def prediction_of(served: Served, prepared: Preprocessed) -> Prediction:
    """One prepared input's probabilities and verdict, with the snapshot ``served``."""
    if prepared.blank:
        return Prediction({}, None, blank=True, reason=prepared.reason)
    named = named_probabilities(served, prepared.tensor)
    said = verdict(named.values(), served.thresholds, served.spec.name)
    return Prediction(named, prepared.picture, blank=False, verdict=said)


def named_probabilities(served: Served, tensor: torch.Tensor) -> dict[str, float]:
    """Class name -> probability for one model input, on the calling thread alone."""
    if torch.get_num_threads() != 1:
        # One 28x28 image is too small to split across threads: with a training run busy on
        # the other core, a second OpenMP thread makes a 1 ms forward pass wait tens of
        # milliseconds. The setting is per calling thread under OpenMP.
        torch.set_num_threads(1)
    probabilities = class_probabilities(served.model, tensor).tolist()
    return dict(zip(served.class_names, probabilities, strict=True))


_shipped: dict[str, Predictor] = {}
_shipped_lock = threading.Lock()


def shipped_predictor(dataset: str = "mnist") -> Predictor:
    """The shipped weights for ``dataset``, loaded on first use and then shared."""
    name = dataset_spec(dataset).name
    predictor = _shipped.get(name)
    if predictor is None:
        with _shipped_lock:
            # Checked again under the lock: many first requests at once load the file once.
            predictor = _shipped.get(name)
            if predictor is None:
                predictor = load_shipped(name)
                _shipped[name] = predictor
    return predictor


# Weights path -> (its sidecar's stamp, the thresholds read from it).
_thresholds: dict[Path, tuple[tuple[int, int, int] | None, Thresholds]] = {}


def sidecar_stamp(path: Path) -> tuple[int, int, int] | None:
    """The sidecar's inode, modification time and size, or None when there is none. Sidecars
    are replaced atomically (a new file), so any rewrite changes the stamp."""
    try:
        stat = sidecar_path(path).stat()
    except OSError:
        return None
    return stat.st_ino, stat.st_mtime_ns, stat.st_size


def shipped_thresholds(dataset: str) -> Thresholds:
    """The verdict's thresholds in the shipped weights' sidecar (the defaults if unreadable).

    Read once per version of the file: the Retrain tab asks on every progress update. The path
    is looked up on each call, so a changed $MNIST_DEMO_WEIGHTS is still followed.
    """
    path = shipped_weights_path(dataset)
    stamp = sidecar_stamp(path)
    cached = _thresholds.get(path)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    try:
        thresholds = Thresholds.from_metadata(read_metadata(path))
    except CheckpointError:
        thresholds = Thresholds()
    _thresholds[path] = (stamp, thresholds)
    return thresholds


def load_shipped_checkpoint(dataset: str) -> Checkpoint:
    """The shipped weights for ``dataset`` (any of its names), read fresh from the file."""
    name = dataset_spec(dataset).name
    path = shipped_weights_path(name)
    checkpoint = load_checkpoint(path)
    if checkpoint.dataset != name:
        raise CheckpointError(f"{path}: holds a {checkpoint.dataset} model, not {dataset}")
    return checkpoint


def load_shipped(dataset: str) -> Predictor:
    return Predictor.from_loaded(load_shipped_checkpoint(dataset))


def predict(image: Any, dataset: str = "mnist") -> dict[str, float]:
    """Classify a drawing with the shipped model: class name -> probability, ``{}`` if blank.

    ``image`` is a Sketchpad value dict, a numpy array, a PIL image or an image file path.
    """
    return shipped_predictor(dataset).predict(image)


def classify(image: Any, dataset: str = "mnist") -> Prediction:
    """Like :func:`predict`, with the verdict ("digit", "unsure" or "not a digit") and the
    28x28 picture the model saw: see :class:`Prediction`."""
    return shipped_predictor(dataset).predict_full(image)


@dataclass(frozen=True)
class FileResult:
    path: Path
    prediction: Prediction | None  # None when the file could not be used.
    error: str = ""


def predict_files(
    paths: Iterable[str | os.PathLike[str]], predictor: Predictor | None = None
) -> Iterator[FileResult]:
    """Classify image files one by one; a bad file gives an error result, not an exception."""
    predictor = predictor or shipped_predictor()
    for path in paths:
        try:
            yield FileResult(Path(path), predictor.predict_full(Path(path)))
        except ValueError as error:
            yield FileResult(Path(path), None, str(error))
