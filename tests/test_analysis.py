"""The teaching views: layer table, filters, feature maps, saliency, pictures.

Everything runs the shipped MNIST weights on real MNIST test digits.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from mnist_demo.config import MNIST, shipped_weights_path
from mnist_demo.recognition.checkpoint import load_checkpoint
from mnist_demo.recognition.model import ModelConfig, SmallCNN, count_parameters
from mnist_demo.recognition.preprocess import preprocess
from mnist_demo.recognition.probabilities import class_probabilities
from mnist_demo.teaching.analysis import (
    LayerRow,
    feature_maps,
    first_layer_filters,
    layer_table,
    overlay,
    saliency,
    tile,
)

from .helpers import digit_pixels

LESSON_SHAPES = [
    ("conv1", "Conv2d", (16, 28, 28), 160),
    ("pool1", "MaxPool2d", (16, 14, 14), 0),
    ("relu1", "ReLU", (16, 14, 14), 0),
    ("conv2", "Conv2d", (32, 14, 14), 4_640),
    ("pool2", "MaxPool2d", (32, 7, 7), 0),
    ("relu2", "ReLU", (32, 7, 7), 0),
    ("flatten", "Flatten", (1568,), 0),
    ("fc1", "Linear", (128,), 200_832),
    ("relu3", "ReLU", (128,), 0),
    ("dropout", "Dropout", (128,), 0),
    ("fc2", "Linear", (10,), 1_290),
]


@pytest.fixture(scope="module")
def model() -> SmallCNN:
    return load_checkpoint(shipped_weights_path("mnist")).model


def snapshot(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: value.clone() for name, value in model.state_dict().items()}


def assert_untouched(model: torch.nn.Module, before: dict[str, torch.Tensor], training: bool):
    after = model.state_dict()
    assert after.keys() == before.keys()
    assert all(torch.equal(after[name], before[name]) for name in before)
    assert all(module.training == training for module in model.modules())
    for module in model.modules():
        assert not module._forward_hooks and not module._forward_pre_hooks
        assert not module._backward_hooks
    assert all(parameter.grad is None for parameter in model.parameters())


def strokes_canvas(size: int, strokes: list[list[tuple[float, float]]], width: int) -> np.ndarray:
    """Black strokes on white paper; points are fractions of the canvas side."""
    canvas = Image.new("L", (size, size), 255)
    pen = ImageDraw.Draw(canvas)
    for stroke in strokes:
        pen.line([(x * size, y * size) for x, y in stroke], fill=0, width=width, joint="curve")
    return np.asarray(canvas)


point = st.tuples(st.floats(0.02, 0.98), st.floats(0.02, 0.98))
canvases = st.builds(
    strokes_canvas,
    size=st.integers(100, 500),
    strokes=st.lists(st.lists(point, min_size=2, max_size=6), min_size=1, max_size=3),
    width=st.integers(3, 25),
)


def test_layer_table_lists_the_lessons_layers_shapes_and_206922_parameters(model):
    rows = layer_table(model)
    assert [(r.name, r.kind, r.output_shape, r.parameters) for r in rows] == LESSON_SHAPES
    assert sum(row.parameters for row in rows) == count_parameters(model) == 206_922
    assert rows[0].path == "features.0.0" and rows[-1].path == "classifier.4"


def test_layer_table_with_batch_norm_leaves_a_training_model_as_it_was():
    torch.manual_seed(0)
    model = SmallCNN(ModelConfig(batch_norm=True)).train()
    before = snapshot(model)  # Running statistics included: a train-mode pass would move them.
    rows = layer_table(model)
    assert sum(row.parameters for row in rows) == count_parameters(model)
    assert rows[1] == LayerRow("bn1", "BatchNorm2d", (16, 28, 28), 32, "features.0.1")
    assert [row.kind for row in rows].count("BatchNorm2d") == 2
    assert rows[-1].output_shape == (10,)
    assert_untouched(model, before, training=True)


def test_first_layer_filters_are_the_first_convolutions_weights(model):
    filters = first_layer_filters(model)
    assert filters.shape == (16, 3, 3) and filters.dtype == np.float32
    np.testing.assert_array_equal(filters, model.features[0][0].weight.detach()[:, 0].numpy())
    filters[:] = 0  # A copy: drawing on it must not touch the model.
    assert model.features[0][0].weight.abs().sum() > 0


@settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(canvas=canvases)
def test_any_drawing_gives_maps_and_saliency_of_the_documented_shapes(model, canvas):
    prepared = preprocess(canvas)
    if prepared.blank:
        return
    maps = feature_maps(model, prepared.tensor)
    shapes = {name: value.shape for name, value in maps.items()}
    assert shapes == {
        "conv1": (16, 28, 28),
        "pool1": (16, 14, 14),
        "conv2": (32, 14, 14),
        "pool2": (32, 7, 7),
    }
    assert list(maps) == ["conv1", "pool1", "conv2", "pool2"]
    assert all(value.dtype == np.float32 and (value >= 0).all() for value in maps.values())
    heat = saliency(
        model, prepared.tensor, int(class_probabilities(model, prepared.tensor).argmax())
    )
    assert heat.shape == (28, 28) and heat.dtype == np.float32
    assert np.isfinite(heat).all() and heat.min() >= 0
    # Scaled so its strongest pixel is 1, or all zeros when no square argues for the class
    # (covering any part of this drawing makes its top class likelier: hypothesis found one).
    assert heat.max() == pytest.approx(1) or not heat.any()


def test_feature_maps_end_in_the_models_own_features_and_leave_it_untouched(model, mnist_test):
    tensor = preprocess(digit_pixels(mnist_test, 0)).tensor
    before = snapshot(model)
    maps = feature_maps(model, tensor)
    assert_untouched(model, before, training=False)
    with torch.no_grad():
        block1 = model.features[0]
        expected = model.features(tensor)[0]
        # The lesson's order: conv, ReLU, then pool; our blocks pool first (an exact equivalent).
        conv1 = torch.relu(block1[0](tensor))
        pool1 = block1(tensor)
    assert torch.equal(torch.from_numpy(maps["pool2"]), expected)
    assert torch.equal(torch.from_numpy(maps["conv1"]), conv1[0])
    assert torch.equal(torch.from_numpy(maps["pool1"]), pool1[0])
    assert torch.equal(torch.nn.functional.max_pool2d(conv1, 2), pool1)


def test_feature_maps_of_a_training_batch_norm_model_use_eval_mode_and_change_nothing():
    torch.manual_seed(1)
    model = SmallCNN(ModelConfig(batch_norm=True)).train()
    with torch.no_grad():  # Running statistics unlike the defaults, so eval mode is visible.
        model.features[0][1].running_mean.fill_(0.5)
    before = snapshot(model)
    tensor = torch.randn(1, 1, 28, 28)
    maps = feature_maps(model, tensor)
    assert_untouched(model, before, training=True)
    with torch.no_grad():
        expected = model.eval().features(tensor)[0]
    model.train()
    assert torch.equal(torch.from_numpy(maps["pool2"]), expected)


def ink_ratio(heat: np.ndarray, picture: np.ndarray) -> float:
    ink = picture > 127
    return float(heat[ink].mean() / max(heat[~ink].mean(), 1e-12))


def test_saliency_concentrates_on_the_ink_of_real_digits(model, mnist_test):
    rng = np.random.default_rng(0)
    ratios, random_ratios = [], []
    for index in range(20):
        prepared = preprocess(digit_pixels(mnist_test, index))
        heat = saliency(model, prepared.tensor, int(mnist_test.labels[index]))
        assert heat.shape == (28, 28) and np.isfinite(heat).all()
        assert heat.min() >= 0 and heat.max() == pytest.approx(1)
        ratios.append(ink_ratio(heat, prepared.picture))
        random_ratios.append(ink_ratio(rng.random((28, 28)), prepared.picture))
    # Measured: median about 12, smallest about 6. A random map scores about 1.
    assert np.median(ratios) > 5 and min(ratios) > 3
    assert np.median(random_ratios) < 1.5
    assert ink_ratio(np.ones((28, 28)), prepared.picture) == pytest.approx(1)


def test_saliency_works_for_every_class_differs_between_them_and_changes_nothing(model, mnist_test):
    tensor = preprocess(digit_pixels(mnist_test, 4)).tensor  # A "4".
    before = snapshot(model)
    with torch.inference_mode():  # As a UI handler may call it.
        maps = [saliency(model, tensor, target) for target in range(10)]
    assert_untouched(model, before, training=False)
    for heat in maps:
        assert heat.shape == (28, 28) and heat.min() >= 0 and heat.max() <= 1
    # Class-contrastive: the evidence for 4 is not where the evidence for 9 or 1 is.
    assert not np.allclose(maps[4], maps[9], atol=0.1)
    assert not np.allclose(maps[4], maps[1], atol=0.1)
    with pytest.raises(ValueError, match="target"):
        saliency(model, tensor, 10)


def test_saliency_of_blank_paper_is_all_zeros(model):
    paper = torch.full((1, 1, 28, 28), -MNIST.mean / MNIST.std)
    heat = saliency(model, paper, 3)
    assert heat.shape == (28, 28) and not heat.any()


def test_tile_lays_maps_in_a_grid_with_signed_and_unsigned_colours():
    maps = np.zeros((3, 2, 2), np.float32)
    maps[0] = [[-1, 0], [0, 2]]
    maps[1] = [[5, 5], [5, 5]]  # Constant: no division by zero.
    maps[2] = [[0, 1], [2, 3]]
    grid = tile(maps, columns=2, scale=3, signed=True, gap=1)
    assert grid.shape == (2 * 6 + 1, 2 * 6 + 1, 3) and grid.dtype == np.uint8
    blue, white, red = grid[0, 0], grid[0, 3], grid[3, 3]
    assert blue[2] > blue[0] and red[0] > red[2] and white.min() > 230
    unsigned = tile(maps, columns=8, scale=1, gap=0)
    assert unsigned.shape == (2, 6, 3)
    brightness = unsigned[:, 4:6].astype(int).sum(axis=2)  # The third map: 0, 1 / 2, 3.
    assert brightness[0, 0] < brightness[0, 1] < brightness[1, 0] < brightness[1, 1]
    with pytest.raises(ValueError):
        tile(np.zeros((28, 28)))


def test_overlay_colours_the_heat_over_a_grey_picture():
    picture = np.zeros((28, 28), np.uint8)
    picture[10:18, 12:16] = 255
    heat = np.zeros((28, 28))
    heat[12, 13] = 1
    image = overlay(picture, heat)
    assert image.shape == (224, 224, 3) and image.dtype == np.uint8
    paper, ink, hot = (image[r, c].astype(int) for r, c in ((0, 0), (80, 96), (99, 107)))
    assert paper[0] == paper[1] == paper[2] and ink[0] == ink[1] == ink[2] and ink[0] > paper[0]
    assert hot[0] > ink[0] and hot[0] - hot[2] >= 50  # Brighter than ink, and warm, not grey.
    with pytest.raises(ValueError):
        overlay(picture, np.zeros((14, 14)))
