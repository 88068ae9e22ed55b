"""Outlier exposure and coarse scans: the synthetic non-digits and what training adds per batch."""

import warnings

import numpy as np
import pytest
import torch
from PIL import Image, ImageFilter

from mnist_demo.config import MNIST, shipped_weights_path
from mnist_demo.data import Augmentation
from mnist_demo.recognition.inference import Predictor
from mnist_demo.samples import outliers
from mnist_demo.samples.coarse import dilate
from mnist_demo.samples.drawings import redraw
from mnist_demo.samples.outliers import KINDS, fonts_for, non_digit, non_digits
from mnist_demo.training.exposure import (
    COARSE_PROBABILITY,
    OUTLIER_RATIO,
    OUTLIER_WEIGHT,
    STROKES_PROBABILITY,
    Exposure,
    coarse_pool,
    strokes_pool,
)
from mnist_demo.training.loop import TrainConfig, TrainingRun


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_of_non_digit_draws_ink_inside_the_canvas(kind):
    for seed in range(5):
        mask = non_digit(kind, np.random.default_rng(seed), fonts_for("evaluation"), 112)
        assert mask.dtype == np.uint8 and mask.max() == 255
        assert 0.01 < (mask > 0).mean() < 0.6, (kind, seed)


def test_non_digits_are_model_inputs_and_a_seed_repeats_them():
    first, again = non_digits(12, 5, "evaluation"), non_digits(12, 5, "evaluation")
    assert first.shape == (12, 1, 28, 28) and torch.equal(first, again)
    assert not torch.equal(first, non_digits(12, 6, "evaluation"))
    background = (0 - MNIST.mean) / MNIST.std
    assert torch.allclose(first[:, :, 0, :], torch.tensor(background))  # MNIST's empty border.


def test_evaluation_fonts_are_pillows_own_so_they_are_never_trained_on():
    assert fonts_for("evaluation") == [None]
    trained_on = fonts_for("train")
    assert trained_on == [None] or not set(trained_on) & set(fonts_for("validation"))


@pytest.mark.parametrize(
    ("role", "package"), [("train", "fonts-dejavu-core"), ("validation", "fonts-liberation")]
)
@pytest.mark.parametrize("state", ["missing", "empty"])
def test_missing_fonts_warn_once_naming_the_folder_and_the_package(
    role, package, state, tmp_path, monkeypatch
):
    folder = tmp_path / "fonts"
    if state == "empty":
        folder.mkdir()
    monkeypatch.setitem(outliers.FONT_DIRS, role, folder)
    monkeypatch.setattr(outliers, "_warned_folders", set(), raising=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # Only the code's own "once" may hold back a repeat.
        assert fonts_for(role) == [None] and fonts_for(role) == [None]
        non_digits(3, 1, role)
    messages = [str(warning.message) for warning in caught]
    assert len(messages) == 1, messages
    assert str(folder) in messages[0] and f"apt-get install {package}" in messages[0]


def test_installed_fonts_and_the_evaluation_role_do_not_warn(tmp_path, monkeypatch):
    folder = tmp_path / "fonts"
    folder.mkdir()
    (folder / "Some-Regular.ttf").write_bytes(b"")  # Listed, never opened by fonts_for.
    monkeypatch.setitem(outliers.FONT_DIRS, "train", folder)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert fonts_for("train") == [folder / "Some-Regular.ttf"]
        assert fonts_for("evaluation") == [None]


def test_a_batch_gets_outliers_appended_and_their_loss_pulls_toward_uniform(mnist_test):
    exposure = Exposure(MNIST, non_digits(40, 1, "evaluation"), None, Augmentation())
    images, labels = mnist_test.images[:64], mnist_test.labels[:64]
    mixed, n = exposure.mix(images, labels, torch.Generator().manual_seed(0))
    total = 64 + round(64 * OUTLIER_RATIO)
    assert n == 64 and mixed.shape == (total, 1, 28, 28) and torch.equal(mixed[:64], images)
    uniform = torch.zeros(total, 10)
    uniform[torch.arange(64), labels] = 20.0  # Sure of every digit, uniform on every outlier.
    own, loss = exposure.split(uniform, labels)
    assert own.shape == (64, 10) and loss.item() == pytest.approx(
        OUTLIER_WEIGHT * np.log(10), abs=1e-6
    )
    peaked = uniform.clone()
    peaked[64:, 3] = 20.0  # Sure of a digit on the outliers: ~18 x the weight, not 2.3 x.
    assert exposure.split(peaked, labels)[1] > loss + 10 * OUTLIER_WEIGHT


def test_coarse_scans_are_blocky_digits_of_their_own_class():
    pool = coarse_pool("mnist", 300, 0, 1_000)
    # Labelled right: the shipped model reads most of them.
    assert read_right(pool) > 0.7
    # A batch's chosen digits are swapped for scans of the same class, the rest kept.
    assert_swapped_in(Exposure(MNIST, None, pool, Augmentation()), pool, COARSE_PROBABILITY)


def read_right(pool) -> float:
    """How much of a pool (grouped by class, every class present) the shipped model reads right."""
    assert pool.images.shape[1:] == (1, 28, 28) and int(pool.counts.sum()) == len(pool.images)
    assert pool.counts.min() > 0 and torch.equal(pool.starts[1:], pool.counts.cumsum(0)[:-1])
    model = Predictor.from_checkpoint(shipped_weights_path("mnist")).model.eval()
    with torch.inference_mode():
        read = model(pool.images).argmax(1)
    labels = torch.repeat_interleave(torch.arange(10), pool.counts)
    return float((read == labels).double().mean())


def assert_swapped_in(exposure, pool, probability) -> None:
    """About ``probability`` of a batch's digits are swapped for the pool's, same class."""
    batch_labels = torch.arange(10).repeat(20)
    images = torch.zeros(200, 1, 28, 28)
    mixed, n = exposure.mix(images, batch_labels, torch.Generator().manual_seed(0))
    swapped = mixed.flatten(1).ne(0).any(1)
    assert n == 200 and abs(swapped.double().mean() - probability) < 0.1
    for image, label in zip(mixed[swapped], batch_labels[swapped], strict=True):
        start, count = int(pool.starts[label]), int(pool.counts[label])
        assert (pool.images[start : start + count] == image).flatten(1).all(1).any()


def test_a_coarse_pool_takes_only_the_runs_own_training_images():
    small = coarse_pool("mnist", 500, 0, 100)  # Asked for 500 of the first 100: at most 100.
    assert len(small.images) <= 100


def test_a_redrawn_digit_is_one_round_brush_inside_its_mask(mnist_test):
    digit = mnist_test.images[0, 0].numpy() * MNIST.std + MNIST.mean
    mask = redraw(digit, np.random.default_rng(3))
    assert mask.dtype == np.uint8 and set(np.unique(mask)) == {0, 255}
    assert not mask[0].any() and not mask[-1].any() and not mask[:, 0].any()
    assert np.array_equal(mask, redraw(digit, np.random.default_rng(3)))
    assert not np.array_equal(mask, redraw(digit, np.random.default_rng(4)))


def test_drawn_strokes_are_digits_of_their_own_class_swapped_in():
    pool = strokes_pool(300, 0, 1_000)
    assert read_right(pool) > 0.9
    assert len(strokes_pool(500, 0, 100).images) <= 100  # Only the run's own images.
    exposure = Exposure(MNIST, None, None, Augmentation(), strokes=pool)
    assert_swapped_in(exposure, pool, STROKES_PROBABILITY)


def test_drawn_strokes_and_number_pieces_are_mnist_only():
    with pytest.raises(ValueError, match="MNIST digits"):
        Exposure.for_config(TrainConfig(dataset="fashion", drawn_strokes=True))


@pytest.mark.slow
def test_training_with_outlier_exposure_and_coarse_scans_runs_and_learns_digits():
    config = TrainConfig(
        epochs=1, subset=2048, test_subset=1000, outlier_exposure=True, coarse_scans=True, threads=1
    )
    run = TrainingRun(config)
    events = list(run)
    assert run.completed and np.isfinite(events[-1].train_loss)
    assert events[-1].test_accuracy > 0.6


def test_the_coarse_scans_thick_pen_is_pillows_max_filter_exactly():
    rng = np.random.default_rng(0)
    for _ in range(20):
        side = int(rng.integers(40, 300))
        ink = np.uint8(rng.random((side, side)) < 0.02) * 255
        ink[0, 3] = ink[-1, -2] = ink[5, -1] = 255  # Ink on the edges too.
        radius = int(rng.integers(2, 6))
        pillow = Image.fromarray(ink).filter(ImageFilter.MaxFilter(2 * radius + 1))
        assert np.array_equal(dilate(ink, radius), np.asarray(pillow))
