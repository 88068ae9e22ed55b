"""What ``mnist-demo explain IMAGE --out DIR`` does: the teaching views of one drawing as files.

The same pictures as the app's "Inside the network" panel (see :mod:`mnist_demo.teaching.analysis`),
so that a lesson can use them without a browser: the model's input, the first-layer filters, each
block's feature maps, the saliency overlay, the probabilities and the layer table.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from torch import nn

from mnist_demo.config import MNIST, DatasetSpec, dataset_spec
from mnist_demo.pictures import INPUT_SCALE, enlarge, new_figure, save_figure
from mnist_demo.recognition.checkpoint import Checkpoint
from mnist_demo.recognition.inference import Predictor
from mnist_demo.recognition.preprocess import preprocess
from mnist_demo.recognition.probabilities import class_probabilities
from mnist_demo.teaching.analysis import (
    feature_maps,
    first_layer_filters,
    format_layer_table,
    layer_table,
    overlay,
    saliency,
    tile,
)

# Grids are written slide-sized: at least this wide, maps SLIDE_GAP pixels apart.
SLIDE_WIDTH = 1200
SLIDE_GAP = 12
GRID_COLUMNS = 8


def slide_grid(maps: np.ndarray, signed: bool = False) -> np.ndarray:
    """A tile grid of (N, H, W) maps enlarged so that the picture is at least SLIDE_WIDTH wide."""
    columns = min(GRID_COLUMNS, len(maps))
    cell = (SLIDE_WIDTH + SLIDE_GAP) / columns - SLIDE_GAP
    scale = math.ceil(cell / maps.shape[-1])
    return tile(maps, columns=columns, scale=scale, signed=signed, gap=SLIDE_GAP)


def model_source(
    source: nn.Module | Checkpoint | Predictor, spec: DatasetSpec | None
) -> tuple[nn.Module, DatasetSpec, tuple[str, ...]]:
    """The model, dataset and class names of a loaded checkpoint, a predictor or a bare model."""
    if isinstance(source, Checkpoint):
        return source.model, dataset_spec(source.dataset), source.class_names
    if isinstance(source, Predictor):
        return source.model, source.spec, source.class_names
    spec = spec or MNIST
    return source, spec, spec.class_names


def explain_to_files(
    image: Any,
    source: nn.Module | Checkpoint | Predictor,
    out_dir: Path,
    target: int | None = None,
    *,
    spec: DatasetSpec | None = None,
) -> list[Path]:
    """Write the teaching views of ``image`` into ``out_dir`` and return the paths written.

    ``source`` is a loaded checkpoint, a predictor or a SmallCNN (then ``spec`` says its dataset,
    MNIST by default). The saliency shows the evidence for ``target``, by default the predicted
    class. Raises ValueError for a blank drawing, an unreadable image or a bad target.
    """
    model, spec, class_names = model_source(source, spec)
    prepared = preprocess(image, spec)
    if prepared.blank:
        raise ValueError(f"nothing to explain: the image is blank ({prepared.reason})")
    if target is not None and not 0 <= target < len(class_names):
        raise ValueError(f"the target must be a class index from 0 to {len(class_names) - 1}")
    probabilities = class_probabilities(model, prepared.tensor)
    chosen = int(probabilities.argmax()) if target is None else target
    pictures = {
        "input.png": enlarge(prepared.picture, INPUT_SCALE),
        "filters.png": slide_grid(first_layer_filters(model), signed=True),
    }
    for name, maps in feature_maps(model, prepared.tensor).items():
        pictures[f"{name}.png"] = slide_grid(maps)
    heat = saliency(model, prepared.tensor, chosen)
    pictures["saliency.png"] = overlay(prepared.picture, heat, INPUT_SCALE)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, picture in pictures.items():
        Image.fromarray(picture).save(out_dir / name)
        written.append(out_dir / name)
    written.append(
        save_probability_chart(probabilities, class_names, out_dir / "probabilities.png")
    )
    layers = out_dir / "layers.txt"
    layers.write_text(format_layer_table(layer_table(model)))
    written.append(layers)
    return written


def save_probability_chart(
    probabilities: np.ndarray, class_names: Sequence[str], path: Path
) -> Path:
    """A horizontal bar per class, the predicted one highlighted, as a PNG."""
    top = int(probabilities.argmax())
    colours = ["tab:orange" if index == top else "tab:blue" for index in range(len(probabilities))]
    figure = new_figure(5, 4)
    axis = figure.subplots()
    positions = np.arange(len(probabilities))
    axis.barh(positions, probabilities, color=colours)
    axis.set_yticks(positions, labels=list(class_names))
    axis.invert_yaxis()  # The first class at the top, as in a list.
    axis.set(xlim=(0, 1), xlabel="probability", title=f"Prediction: {class_names[top]}")
    for position, value in zip(positions, probabilities, strict=True):
        axis.text(min(value, 0.85) + 0.01, position, f"{value:.1%}", va="center", fontsize=8)
    return save_figure(figure, path, dpi=100)


DESCRIPTIONS = {
    "input.png": "the 28x28 image the model sees",
    "filters.png": "the first layer's 3x3 filters (red rewards ink, blue punishes it)",
    "conv1.png": "block 1 feature maps after ReLU",
    "pool1.png": "block 1 after max-pooling",
    "conv2.png": "block 2 feature maps after ReLU",
    "pool2.png": "block 2 after max-pooling: all the classifier sees",
    "saliency.png": "where the ink holds the evidence",
    "probabilities.png": "the ten class probabilities",
    "layers.txt": "every layer, its output shape and parameters",
}
