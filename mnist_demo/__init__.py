"""Draw a digit, watch a small CNN classify it live, and retrain it in the browser.

The public names, as the lesson uses them::

    from mnist_demo import SmallCNN, predict, train, TrainConfig, TrainingRun

``predict`` classifies a drawing with the shipped model, ``read_number`` reads a whole number
digit by digit; ``SmallCNN`` is the lesson's network
(``torch.save(model.state_dict(), "mnist_cnn.pth")`` round-trips it); ``train`` is the one
training loop, a generator of progress events (``TrainingRun`` owns a run of it).

Importing the package loads no model, reads no file and does not import torch: each name is
imported when first used, and the shipped weights are loaded on the first prediction.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["SmallCNN", "TrainConfig", "TrainingRun", "predict", "read_number", "train"]

# Public name -> the module that defines it, imported on first use (PEP 562).
LAZY = {
    "SmallCNN": "mnist_demo.recognition.model",
    "TrainConfig": "mnist_demo.training.options",
    "TrainingRun": "mnist_demo.training.loop",
    "read_number": "mnist_demo.numbers.read",
    "train": "mnist_demo.training.loop",
}


def predict(image: Any, dataset: str = "mnist") -> dict[str, float]:
    """Classify a drawing with the shipped model: class name -> probability, ``{}`` if blank.

    ``image`` is a Gradio Sketchpad value, a numpy array, a PIL image or an image file path.
    See :mod:`mnist_demo.recognition.inference` for other models and the 28x28 picture the
    model saw.
    """
    from mnist_demo.recognition.inference import predict as predict_with_shipped_model

    return predict_with_shipped_model(image, dataset)


def __getattr__(name: str) -> Any:
    if name not in LAZY:
        raise AttributeError(f"module 'mnist_demo' has no attribute {name!r}")
    value = getattr(importlib.import_module(LAZY[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *LAZY])
