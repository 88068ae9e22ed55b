"""Draw a digit, watch a small CNN classify it live, and retrain it in the browser.

``from mnist_demo import predict`` is the one-line API. Importing the package loads no model and
reads no file: the shipped weights are loaded on the first prediction.
"""

from __future__ import annotations

from typing import Any

__all__ = ["predict"]


def predict(image: Any, dataset: str = "mnist") -> dict[str, float]:
    """Classify a drawing with the shipped model: class name -> probability, ``{}`` if blank.

    ``image`` is a Gradio Sketchpad value, a numpy array, a PIL image or an image file path.
    See :mod:`mnist_demo.inference` for other models and the 28x28 picture the model saw.
    """
    from mnist_demo.inference import predict as predict_with_shipped_model

    return predict_with_shipped_model(image, dataset)
