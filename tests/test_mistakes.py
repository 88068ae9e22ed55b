"""Evaluation views on the real MNIST test set with the shipped weights."""

import json
import re
import subprocess
import sys

import numpy as np
import pytest
import torch

from mnist_demo.config import FASHION_MNIST, MNIST, shipped_weights_path
from mnist_demo.recognition.checkpoint import load_checkpoint
from mnist_demo.teaching.mistakes import (
    cell_examples,
    confident_mistakes,
    confusion_figure,
    gallery_items,
    model_report,
    split_picture,
)
from tests.conftest import REPO_ROOT


@pytest.fixture(scope="module")
def shipped_model():
    return load_checkpoint(shipped_weights_path("mnist")).model


@pytest.fixture(scope="module")
def report(shipped_model, mnist_test):
    return model_report(shipped_model, mnist_test)


@pytest.fixture(scope="module")
def cli_evaluation() -> dict:
    """What ``mnist-demo evaluate --json`` prints for the shipped weights: the reference."""
    finished = subprocess.run(
        [sys.executable, "-m", "mnist_demo", "evaluate", "--json"],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO_ROOT,
        timeout=120,
    )
    return json.loads(finished.stdout)


@pytest.fixture(scope="module")
def raw_test_pixels() -> np.ndarray:
    """The test images exactly as stored in the MNIST files, read apart from our own loading."""
    import torchvision

    from mnist_demo.config import data_dir

    return torchvision.datasets.MNIST(root=str(data_dir()), train=False).data.numpy()


@pytest.mark.slow
def test_report_equals_the_evaluate_command(report, cli_evaluation):
    evaluation = report.evaluation
    assert evaluation.n == cli_evaluation["n"] == 10_000
    assert evaluation.accuracy == cli_evaluation["accuracy"]
    assert evaluation.per_class_accuracy == list(cli_evaluation["per_class_accuracy"].values())
    assert evaluation.confusion_matrix == cli_evaluation["confusion_matrix"]
    assert evaluation.loss == pytest.approx(cli_evaluation["loss"], rel=1e-5)


def test_report_probabilities_agree_with_its_confusion_matrix(report, mnist_test):
    probabilities = report.probabilities
    assert probabilities.shape == (len(mnist_test), 10)
    assert torch.allclose(probabilities.sum(1), torch.ones(len(mnist_test), dtype=torch.float64))
    recounted = torch.bincount(mnist_test.labels * 10 + report.predicted, minlength=100)
    assert recounted.reshape(10, 10).tolist() == report.evaluation.confusion_matrix


@pytest.mark.parametrize("training", [True, False])
def test_model_report_leaves_the_model_in_its_mode(shipped_model, mnist_test, training):
    shipped_model.train(training)
    try:
        model_report(shipped_model, mnist_test.subset(50))
        assert shipped_model.training is training
    finally:
        shipped_model.eval()


def test_confident_mistakes_are_wrong_and_most_confident_first(report, mnist_test):
    errors = sum(
        count
        for true, row in enumerate(report.evaluation.confusion_matrix)
        for predicted, count in enumerate(row)
        if true != predicted
    )
    assert 0 < errors < 100  # The shipped model's 99.4%: a regression would change the views.
    for k in (1, 16, errors + 50):
        mistakes = confident_mistakes(report, mnist_test, k=k)
        assert len(mistakes) == min(k, errors)
        assert all(example.true != example.predicted for example in mistakes)
        confidences = [example.confidence for example in mistakes]
        assert confidences == sorted(confidences, reverse=True)
    everything = confident_mistakes(report, mnist_test, k=errors)
    # No correct prediction ranks among them, however confident.
    wrong = (report.predicted != mnist_test.labels).nonzero()[:, 0].tolist()
    assert sorted(example.index for example in everything) == wrong


def test_examples_carry_the_split_labels_probabilities_and_pictures(
    report, mnist_test, raw_test_pixels
):
    for example in confident_mistakes(report, mnist_test, k=16):
        assert example.true == int(mnist_test.labels[example.index])
        assert example.predicted == int(report.probabilities[example.index].argmax())
        assert example.confidence == pytest.approx(float(report.probabilities[example.index].max()))
        assert example.picture.dtype == np.uint8 and example.picture.shape == (28, 28)
        np.testing.assert_array_equal(example.picture, raw_test_pixels[example.index])


def test_cell_examples_hold_exactly_that_cell(report, mnist_test):
    matrix = report.evaluation.confusion_matrix
    for true in range(10):
        for predicted in range(10):
            examples = cell_examples(report, mnist_test, true, predicted, k=16)
            assert len(examples) == min(16, matrix[true][predicted])
            assert all(e.true == true and e.predicted == predicted for e in examples)
            confidences = [example.confidence for example in examples]
            assert confidences == sorted(confidences, reverse=True)


def test_cell_examples_on_the_diagonal_are_correct_answers(report, mnist_test):
    examples = cell_examples(report, mnist_test, 3, 3, k=5)
    assert len(examples) == 5
    assert all(example.true == example.predicted == 3 for example in examples)


def test_bad_queries_raise_clear_errors(report, mnist_test):
    with pytest.raises(ValueError, match="class index"):
        cell_examples(report, mnist_test, 10, 0)
    with pytest.raises(ValueError, match="make the report from this split"):
        confident_mistakes(report, mnist_test.subset(100))
    with pytest.raises(ValueError, match="k must be"):
        confident_mistakes(report, mnist_test, k=-1)


def test_confusion_figure_is_an_rgb_image_that_leaves_no_figure_open(report):
    from matplotlib import pyplot as plt

    open_before = plt.get_fignums()
    matrix = report.evaluation.confusion_matrix
    plain = confusion_figure(matrix, MNIST.class_names)
    highlighted = confusion_figure(matrix, MNIST.class_names, highlight=(4, 9))
    assert plt.get_fignums() == open_before
    assert plain.dtype == np.uint8 and plain.ndim == 3 and plain.shape[2] == 3
    assert plain.shape[0] >= 300 and plain.shape[1] >= 300
    # A drawn matrix, not a blank canvas: white paper, dark cells and the written counts.
    assert len(np.unique(plain.reshape(-1, 3), axis=0)) > 50
    assert plain.min() < 50 and plain.max() == 255
    # The highlight adds a red outline and changes nothing else about the size.
    assert highlighted.shape == plain.shape

    def red(image):
        return int(((image[..., 0] > 200) & (image[..., 1] < 60) & (image[..., 2] < 60)).sum())

    assert red(plain) == 0 and red(highlighted) > 50


def test_confusion_figure_takes_long_class_names_and_rejects_a_wrong_shape():
    image = confusion_figure(np.eye(10, dtype=int) * 900, FASHION_MNIST.class_names)
    assert image.ndim == 3
    with pytest.raises(ValueError, match="class names"):
        confusion_figure([[1, 2], [3, 4]], MNIST.class_names)
    with pytest.raises(ValueError, match="highlight"):
        confusion_figure(np.eye(10, dtype=int), MNIST.class_names, highlight=(0, 10))


def test_gallery_items_show_the_pictures_enlarged_with_a_caption(report, mnist_test):
    examples = confident_mistakes(report, mnist_test, k=3)
    items = gallery_items(examples)
    assert len(items) == 3
    for (image, caption), example in zip(items, examples, strict=True):
        assert image.shape == (112, 112) and image.dtype == np.uint8
        np.testing.assert_array_equal(image[::4, ::4], example.picture)
        match = re.fullmatch(r"true (\d) -> predicted (\d) \((\d+)%\)", caption)
        assert match, caption
        assert (int(match[1]), int(match[2])) == (example.true, example.predicted)
        assert abs(int(match[3]) - example.confidence * 100) <= 0.5
    named = gallery_items(examples[:1], FASHION_MNIST.class_names)
    assert named[0][1].startswith(f"true {FASHION_MNIST.class_names[examples[0].true]} -> ")


def test_split_picture_undoes_the_normalisation(mnist_test, raw_test_pixels):
    for index in (0, 1, 9999):
        np.testing.assert_array_equal(split_picture(mnist_test, index), raw_test_pixels[index])
