"""Lessons by link: parsing query parameters into Retrain settings, and back."""

from __future__ import annotations

from urllib.parse import parse_qsl

import pytest

from mnist_demo.serving.presets import CONTROLS, parse_preset, preset_query
from mnist_demo.serving.trainer import Budget

BUDGET = Budget(max_epochs=10, max_seconds=600, threads=1)


def test_a_teachers_link_sets_every_control():
    query = {
        "dataset": "fashion",
        "epochs": "3",
        "lr": "0.003",
        "batch": "64",
        "optimizer": "sgd",
        "bn": "1",
        "schedule": "steplr",
        "subset": "5000",
        "augment": "yes",
        "seed": "7",
        "not_a_digit": "1",
        "hide": "advanced",
        "tab": "retrain",
    }
    preset = parse_preset(query, BUDGET)
    assert preset.problems == []
    assert preset.values == {
        "dataset": "fashion",
        "epochs": 3,
        "learning_rate": 0.003,
        "batch_size": 64,
        "optimizer": "sgd",
        "batch_norm": True,
        "schedule": "steplr",
        "subset": 5000,
        "augment": True,
        "seed": 7,
        "outlier_exposure": True,
    }
    assert preset.tab == "retrain" and preset.hide == {"advanced"}


def test_no_query_changes_nothing():
    preset = parse_preset({}, BUDGET)
    assert preset.values == {} and preset.tab is None and not preset.hide and not preset.problems


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("epochs", "11"),  # Over this host's budget.
        ("epochs", "0"),
        ("epochs", "three"),
        ("lr", "nan"),
        ("lr", "inf"),
        ("lr", "-1"),
        ("bn", "maybe"),
        ("dataset", "cifar"),
        ("optimizer", "rmsprop"),
        ("subset", "10"),
        ("tab", "settings"),
        ("hide", "everything"),
    ],
)
def test_a_bad_value_is_reported_and_left_at_its_default(name, raw):
    preset = parse_preset({name: raw, "seed": "5"}, BUDGET)
    assert len(preset.problems) == 1 and f"{name}={raw!r}" in preset.problems[0]
    assert preset.values == {"seed": 5}  # The good settings in the same link still apply.


def test_the_copy_link_query_reopens_the_same_settings():
    values = {
        "dataset": "mnist",
        "epochs": 4.0,  # Sliders hand over floats.
        "learning_rate": 0.0003,
        "batch_size": 256,
        "optimizer": "adam",
        "batch_norm": False,
        "schedule": "onecycle",
        "subset": 20000.0,
        "augment": True,
        "seed": 3,
        "outlier_exposure": True,
    }
    query = preset_query(values, hide=True)
    assert "epochs=4&" in query and "subset=20000&" in query
    preset = parse_preset(dict(parse_qsl(query)), BUDGET)
    assert preset.problems == []
    assert preset.values == {name: values[name] for name in CONTROLS}
    assert preset.hide == {"advanced"} and preset.tab == "retrain"


def test_a_named_preset_sets_its_settings_and_the_links_own_values_win():
    preset = parse_preset({"preset": "quick", "lr": "0.01"}, BUDGET)
    assert preset.values["subset"] == 15000 and preset.values["schedule"] == "onecycle"
    assert preset.values["learning_rate"] == 0.01 and not preset.problems
    assert parse_preset({"preset": "lesson"}, Budget(max_epochs=2)).values["epochs"] == 2
    unknown = parse_preset({"preset": "fastest"}, BUDGET)
    assert unknown.problems == ["preset='fastest' ignored (use one of quick, lesson)"]


@pytest.mark.slow
def test_the_quick_preset_reaches_97_percent_on_the_test_set():
    from mnist_demo.training.loop import TrainConfig, TrainingRun
    from mnist_demo.training.options import PRESETS

    run = TrainingRun(TrainConfig(**PRESETS["quick"].values, threads=1))
    final = list(run)[-1]
    assert final.test_accuracy >= 0.97, final
