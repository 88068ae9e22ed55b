"""A drawing's way to the model step by step: it ends in exactly preprocess()'s tensor, and the
switches show the naive path."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from mnist_demo.config import FASHION_MNIST, MNIST, shipped_weights_path
from mnist_demo.recognition.checkpoint import load_checkpoint
from mnist_demo.recognition.preprocess import preprocess
from mnist_demo.recognition.probabilities import class_probabilities
from mnist_demo.samples.drawings import iter_drawings
from mnist_demo.teaching.steps import preprocessing_steps

from .helpers import digit_pixels
from .test_analysis import canvases


@pytest.fixture(scope="module")
def model():
    return load_checkpoint(shipped_weights_path("mnist")).model


def test_preprocessing_steps_end_in_exactly_the_preprocess_tensor():
    checked = 0
    for drawing in iter_drawings(count=48, seed=3):
        steps, tensor = preprocessing_steps(drawing.image)
        assert torch.equal(tensor, preprocess(drawing.image).tensor)
        assert [step.name for step in steps] == [
            "ink",
            "cropped",
            "fit 20x20",
            "centred 28x28",
            "normalised",
        ]
        assert all(step.picture.dtype == np.uint8 and step.explanation for step in steps)
        checked += 1
    assert checked == 48


@settings(max_examples=8, deadline=None)
@given(canvas=canvases, fashion=st.booleans())
def test_preprocessing_steps_match_preprocess_for_random_strokes(canvas, fashion):
    spec = FASHION_MNIST if fashion else MNIST
    steps, tensor = preprocessing_steps(canvas, spec)
    expected = preprocess(canvas, spec)
    if expected.blank:
        assert tensor is None
    else:
        assert torch.equal(tensor, expected.tensor)
        np.testing.assert_array_equal(steps[-1].picture, expected.picture)


def test_preprocessing_steps_of_a_blank_canvas_give_no_tensor():
    assert preprocessing_steps({"background": None, "layers": [], "composite": None}) == ([], None)
    steps, tensor = preprocessing_steps(np.full((280, 280), 255, np.uint8))
    assert tensor is None and [step.name for step in steps] == ["ink"]


def corner_digit(split, index: int, size: int = 280, digit_size: int = 70) -> np.ndarray:
    """A small MNIST digit, black on white, near the top-left corner of a large canvas."""
    digit = Image.fromarray(digit_pixels(split, index)).resize((digit_size, digit_size))
    canvas = np.full((size, size), 255, np.uint8)
    canvas[10 : 10 + digit_size, 15 : 15 + digit_size] = 255 - np.asarray(digit)
    return canvas


def test_skipping_the_steps_feeds_a_small_corner_digit_badly(model, mnist_test):
    wrong = 0
    for index in range(5):
        canvas = corner_digit(mnist_test, index)
        label = int(mnist_test.labels[index])
        full_steps, full = preprocessing_steps(canvas)
        naive_steps, naive = preprocessing_steps(canvas, crop=False, fit=False, centre=False)
        assert [step.name for step in naive_steps] == ["ink", "squashed 28x28", "normalised"]
        assert naive.shape == full.shape == (1, 1, 28, 28)
        assert not torch.equal(naive, full)
        full_probabilities = class_probabilities(model, full)
        naive_probabilities = class_probabilities(model, naive)
        assert full_probabilities.argmax() == label
        assert naive_probabilities[label] < full_probabilities[label] - 0.2
        wrong += int(naive_probabilities.argmax() != label)
    assert wrong >= 3  # Measured: all five are misread on the naive path.


def test_each_switch_changes_only_its_own_step(mnist_test):
    canvas = corner_digit(mnist_test, 0)
    names = {
        (crop, fit, centre): [
            step.name for step in preprocessing_steps(canvas, crop=crop, fit=fit, centre=centre)[0]
        ]
        for crop, fit, centre in [(False, True, True), (True, False, True), (True, True, False)]
    }
    assert names[(False, True, True)] == ["ink", "fit 20x20", "centred 28x28", "normalised"]
    assert names[(True, False, True)] == ["ink", "cropped", "squashed 28x28", "normalised"]
    assert names[(True, True, False)] == [
        "ink",
        "cropped",
        "fit 20x20",
        "box-centred 28x28",
        "normalised",
    ]
