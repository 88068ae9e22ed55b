"""The lesson's training-curve plot: loss and accuracy per epoch, saved as a PNG."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from mnist_demo.train import EpochEvent


def save_training_plot(epochs: Sequence[EpochEvent], path: Path, title: str = "") -> Path:
    import matplotlib

    matplotlib.use("Agg")  # No screen needed; the figure only goes to a file.
    from matplotlib import pyplot as plt

    numbers = [event.epoch for event in epochs]
    figure, (loss_axis, accuracy_axis) = plt.subplots(1, 2, figsize=(10, 4))
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
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path
