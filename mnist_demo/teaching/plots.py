"""The lesson's training-curve plot: loss and accuracy per epoch, saved as a PNG.

Drawn off-screen, as every chart here is (see :mod:`mnist_demo.pictures`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from mnist_demo.pictures import new_figure, save_figure
from mnist_demo.training.loop import EpochEvent


def save_training_plot(epochs: Sequence[EpochEvent], path: Path, title: str = "") -> Path:
    figure = new_figure(10, 4)
    loss_axis, accuracy_axis = figure.subplots(1, 2)
    numbers = [event.epoch for event in epochs]
    loss_axis.plot(numbers, [e.train_loss for e in epochs], marker="o", label="train")
    loss_axis.plot(numbers, [e.test_loss for e in epochs], marker="o", label="test")
    loss_axis.set(xlabel="epoch", ylabel="cross-entropy loss", title="Loss")
    accuracy_axis.plot(numbers, [e.train_accuracy for e in epochs], marker="o", label="train")
    accuracy_axis.plot(numbers, [e.test_accuracy for e in epochs], marker="o", label="test")
    accuracy_axis.set(xlabel="epoch", ylabel="accuracy", title="Accuracy")
    for axis in (loss_axis, accuracy_axis):
        axis.grid(alpha=0.3)
        axis.legend()
    if title:
        figure.suptitle(title)
    return save_figure(figure, path, dpi=120)
