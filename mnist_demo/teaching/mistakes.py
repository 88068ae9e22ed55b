"""Evaluation views: where the model goes wrong, shown as a confusion matrix and example galleries.

:func:`model_report` runs the test set through the model once and keeps every probability, so
that the gallery of confident mistakes and the examples behind any confusion-matrix cell are
answered instantly from memory. The figure is drawn off-screen (see :mod:`mnist_demo.pictures`).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch
from torch import nn

from mnist_demo.data import Split, denormalize
from mnist_demo.pictures import GALLERY_SCALE, enlarge, figure_pixels, new_figure
from mnist_demo.recognition.preprocess import to_picture
from mnist_demo.training.evaluate import Evaluation, evaluation_of, predict_logits


@dataclass(frozen=True)
class Example:
    """One test image with the model's verdict; ``picture`` is (28, 28) uint8, white ink."""

    index: int  # Index in the test split.
    true: int
    predicted: int
    confidence: float  # Probability of the predicted class.
    picture: np.ndarray


@dataclass(frozen=True)
class ModelReport:
    """The test-set evaluation plus every (N, C) softmax probability behind it."""

    evaluation: Evaluation
    probabilities: torch.Tensor

    # Computed once per report so that each gallery or cell query stays a few milliseconds.
    @cached_property
    def predicted(self) -> torch.Tensor:
        # Softmax is computed in float64, where it keeps the order of the float32 logits, so
        # this argmax agrees with the confusion matrix.
        return self.probabilities.argmax(1)  # (N,)

    @cached_property
    def confidence(self) -> torch.Tensor:
        return self.probabilities.amax(1)  # (N,)


def model_report(
    model: nn.Module, split: Split, device: torch.device | str | None = None
) -> ModelReport:
    """Evaluate ``model`` on ``split`` in one pass and keep its probabilities.

    With ``device`` the pass runs on a copy of the model there (the model itself may be serving
    predictions on the CPU); the report lives on the CPU either way.
    """
    if len(split) == 0:
        raise ValueError("the split is empty: there is nothing to evaluate")
    if device is not None and torch.device(device) != next(model.parameters()).device:
        model = copy.deepcopy(model).to(device)
    logits = predict_logits(model, split.images)  # (N, C): the one pass, as evaluate() makes it
    return ModelReport(evaluation_of(logits, split.labels), torch.softmax(logits.double(), dim=1))


def split_picture(split: Split, index: int) -> np.ndarray:
    """Undo the split's normalisation: the test image as the uint8 grey levels it was stored in."""
    return to_picture(denormalize(split.images[index, 0], split.spec).numpy())  # (28, 28)


def check_report(report: ModelReport, split: Split) -> None:
    if len(report.probabilities) != len(split):
        raise ValueError(
            f"the report covers {len(report.probabilities)} images but the split has "
            f"{len(split)}: make the report from this split"
        )


def examples_at(report: ModelReport, split: Split, indices: torch.Tensor, k: int) -> list[Example]:
    """The ``k`` most confident of ``indices`` (ties in index order), most confident first."""
    if k < 0:
        raise ValueError(f"k must be at least 0, got {k}")
    confidence, predicted = report.confidence, report.predicted
    order = torch.sort(confidence[indices], descending=True, stable=True).indices[:k]
    return [
        Example(
            index=int(index),
            true=int(split.labels[index]),
            predicted=int(predicted[index]),
            confidence=float(confidence[index]),
            picture=split_picture(split, int(index)),
        )
        for index in indices[order].tolist()
    ]


def confident_mistakes(report: ModelReport, split: Split, k: int = 16) -> list[Example]:
    """The ``k`` wrong predictions the model was surest of, most confident first."""
    check_report(report, split)
    wrong = (report.predicted != split.labels).nonzero()[:, 0]
    return examples_at(report, split, wrong, k)


def cell_examples(
    report: ModelReport, split: Split, true: int, predicted: int, k: int = 16
) -> list[Example]:
    """Up to ``k`` images of class ``true`` predicted as ``predicted``, most confident first.

    ``true == predicted`` gives correctly classified examples of that class.
    """
    check_report(report, split)
    num_classes = report.probabilities.shape[1]
    for name, value in (("true", true), ("predicted", predicted)):
        if not 0 <= value < num_classes:
            raise ValueError(
                f"{name} must be a class index from 0 to {num_classes - 1}, not {value}"
            )
    in_cell = ((split.labels == true) & (report.predicted == predicted)).nonzero()[:, 0]
    return examples_at(report, split, in_cell, k)


def confusion_figure(
    matrix: Sequence[Sequence[int]] | np.ndarray,
    class_names: Sequence[str],
    highlight: tuple[int, int] | None = None,
) -> np.ndarray:
    """The confusion matrix as an RGB uint8 image: rows true class, columns predicted.

    Colours follow the logarithm of the count, so that a handful of errors off the diagonal
    stands out beside a thousand correct answers on it; empty cells are white. ``highlight``
    outlines one (true, predicted) cell.
    """
    from matplotlib import colormaps
    from matplotlib.colors import ListedColormap, LogNorm
    from matplotlib.patches import Rectangle

    counts = np.asarray(matrix, dtype=np.int64)
    size = len(class_names)
    if counts.shape != (size, size):
        raise ValueError(
            f"the matrix is {counts.shape} but there are {size} class names: expected ({size}, "
            f"{size})"
        )
    if highlight is not None and not all(0 <= cell < size for cell in highlight):
        raise ValueError(f"highlight {highlight} is outside the {size}x{size} matrix")

    figure = new_figure(6.4, 5.6)
    axis = figure.add_subplot()
    norm = LogNorm(vmin=1, vmax=max(int(counts.max()), 2))
    # Blues starts at near-white: skip its palest fifth so that a single error is visible.
    colours = ListedColormap(colormaps["Blues"](np.linspace(0.2, 1.0, 256)))
    axis.imshow(np.ma.masked_equal(counts, 0), cmap=colours, norm=norm)
    axis.set_facecolor("white")
    for row in range(size):
        for column in range(size):
            count = int(counts[row, column])
            if count:
                dark = norm(count) > 0.6
                colour = "white" if dark else "black"
                axis.text(
                    column, row, str(count), ha="center", va="center", fontsize=9, color=colour
                )
    if highlight is not None:
        row, column = highlight
        axis.add_patch(
            Rectangle((column - 0.5, row - 0.5), 1, 1, fill=False, edgecolor="red", linewidth=2.5)
        )
    # Fashion-MNIST's names ("T-shirt/top", "Ankle boot") only fit slanted.
    slanted = max(map(len, class_names)) > 2
    axis.set_xticks(
        range(size), class_names, rotation=45 if slanted else 0, ha="right" if slanted else "center"
    )
    axis.set_yticks(range(size), class_names)
    axis.set(xlabel="predicted", ylabel="true")
    return figure_pixels(figure)


def gallery_items(
    examples: Sequence[Example],
    class_names: Sequence[str] | None = None,
    scale: int = GALLERY_SCALE,
) -> list[tuple[np.ndarray, str]]:
    """(upscaled picture, caption) pairs for gr.Gallery: "true 4 -> predicted 9 (97%)".

    Pixels are repeated rather than smoothed, so the learner sees exactly what the model saw.
    """

    def name(label: int) -> str:
        return class_names[label] if class_names is not None else str(label)

    return [
        (
            enlarge(example.picture, scale),
            f"true {name(example.true)} -> predicted {name(example.predicted)} "
            f"({example.confidence:.0%})",
        )
        for example in examples
    ]
