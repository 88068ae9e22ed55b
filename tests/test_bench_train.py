"""bench train's pieces: whole runs timed apart from their evaluations, and the presets."""

from __future__ import annotations

import time

import pytest

from mnist_demo.bench.train import TimedRun, timed_run
from mnist_demo.cli import build_parser
from mnist_demo.cli.train import train_config_from_args
from mnist_demo.training.loop import TrainConfig
from mnist_demo.training.options import PRESETS


def test_time_to_target_is_the_first_epoch_that_reaches_it():
    run = TimedRun(TrainConfig(epochs=3), [1.0, 2.5, 4.0], [0.985, 0.991, 0.989])
    assert run.seconds_to(0.99) == 2.5
    assert run.seconds_to(0.995) is None
    report = run.as_dict()
    assert report["seconds_to_99%"] == 2.5
    assert report["train_seconds"] == 4.0 and report["test_accuracy"] == 0.989


def test_a_timed_run_counts_training_and_leaves_the_evaluations_out(mnist_test):
    # Ten steps on 640 images per epoch, then the whole 10,000-image test set: the
    # evaluations are most of the wall time, and none of the reported time.
    config = TrainConfig(epochs=2, subset=640, batch_size=64, threads=1)
    started = time.perf_counter()
    timed = timed_run(config, None)
    wall = time.perf_counter() - started
    assert len(timed.train_seconds) == len(timed.test_accuracy) == 2
    assert 0 < timed.train_seconds[0] < timed.train_seconds[1] < 0.5 * wall
    assert all(0.5 < accuracy <= 1 for accuracy in timed.test_accuracy)


def parsed(*flags: str) -> TrainConfig:
    return train_config_from_args(build_parser().parse_args(["train", *flags]))


def test_without_a_preset_training_is_the_lessons():
    config = parsed()
    lesson = TrainConfig()
    assert (config.epochs, config.batch_size, config.learning_rate, config.schedule) == (
        lesson.epochs,
        lesson.batch_size,
        lesson.learning_rate,
        lesson.schedule,
    )
    assert PRESETS["lesson"].values == {
        "epochs": 5,
        "subset": 60_000,
        "batch_size": 128,
        "learning_rate": 1e-3,
        "optimizer": "adam",
        "schedule": "none",
    }


def test_the_fast_preset_sets_its_recipe_and_explicit_flags_win():
    fast = parsed("--preset", "fast")
    assert {name: getattr(fast, name) for name in PRESETS["fast"].values} == PRESETS["fast"].values
    mixed = parsed("--preset", "fast", "--epochs", "1", "--schedule", "steplr")
    assert (mixed.epochs, mixed.schedule) == (1, "steplr")
    assert mixed.batch_size == PRESETS["fast"].values["batch_size"]


@pytest.mark.slow
def test_the_fast_preset_reaches_99_percent():
    # The README's claim for --preset fast, on the real training and test sets.
    timed = timed_run(TrainConfig(**PRESETS["fast"].values, threads=2), None)
    assert timed.test_accuracy[-1] >= 0.99
