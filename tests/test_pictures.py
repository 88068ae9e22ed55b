"""Pictures for people: hard-pixel enlarging, and charts drawn without touching pyplot's state."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from mnist_demo.config import MNIST
from mnist_demo.pictures import enlarge
from mnist_demo.teaching.explain import save_probability_chart
from mnist_demo.teaching.mistakes import confusion_figure
from mnist_demo.teaching.plots import save_training_plot
from mnist_demo.training.loop import EpochEvent


@pytest.mark.parametrize("shape", [(3, 5), (3, 5, 3)])
def test_enlarging_turns_each_pixel_into_a_square_of_the_same_value(shape):
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, shape, dtype=np.uint8)
    big = enlarge(image, 4)
    assert big.shape == (12, 20, *shape[2:]) and big.dtype == np.uint8
    for row in range(shape[0]):
        for column in range(shape[1]):
            square = big[row * 4 : row * 4 + 4, column * 4 : column * 4 + 4]
            assert (square == image[row, column]).all()
    assert np.array_equal(enlarge(image, 1), image)
    with pytest.raises(ValueError, match="scale"):
        enlarge(image, 0)


def epochs() -> list[EpochEvent]:
    return [
        EpochEvent(
            epoch=epoch,
            step=epoch * 10,
            total_steps=30,
            train_loss=1 / epoch,
            train_accuracy=1 - 0.1 / epoch,
            test_loss=1.1 / epoch,
            test_accuracy=1 - 0.12 / epoch,
            elapsed_seconds=float(epoch),
        )
        for epoch in (1, 2, 3)
    ]


def test_charts_keep_the_process_backend_and_leave_no_pyplot_figure_open(tmp_path):
    import matplotlib
    from matplotlib import pyplot as plt

    before = matplotlib.get_backend()
    # Another part of the process chose its own backend: drawing a chart must not switch it.
    matplotlib.use("svg")
    try:
        open_before = plt.get_fignums()
        probabilities = np.full(10, 0.02)
        probabilities[7] = 0.82
        chart = save_probability_chart(probabilities, MNIST.class_names, tmp_path / "p.png")
        curves = save_training_plot(epochs(), tmp_path / "runs" / "curves.png", title="three")
        matrix = confusion_figure(np.eye(10, dtype=int) * 50 + 1, MNIST.class_names)
        assert matplotlib.get_backend() == "svg"
        assert plt.get_fignums() == open_before
    finally:
        matplotlib.use(before)
    # Each figure keeps its size in inches times its dots per inch.
    assert Image.open(chart).size == (500, 400)
    assert Image.open(curves).size == (1200, 480)
    assert matrix.shape == (560, 640, 3) and matrix.dtype == np.uint8
    assert len(np.unique(matrix.reshape(-1, 3), axis=0)) > 10  # Drawn, not blank.
