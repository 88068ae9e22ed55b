"""The one table of training options: every surface made from it agrees with TrainConfig."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import fields
from urllib.parse import parse_qsl

import pytest

from mnist_demo.cli import build_parser
from mnist_demo.cli.train import train_config_from_args
from mnist_demo.serving.presets import parse_preset, preset_query
from mnist_demo.serving.trainer import Budget
from mnist_demo.training.options import (
    BUTTON_PRESETS,
    CONTROLS,
    DEFAULTS,
    OPTIONS,
    PRESETS,
    TrainConfig,
    config_from_values,
)

from .conftest import REPO_ROOT

BUDGET = Budget(max_epochs=10, max_seconds=600, threads=1)
# A value other than the default for each option that has a train flag, as typed.
TYPED = {
    "dataset": ("fashion", "fashion"),
    "epochs": ("2", 2),
    "batch_size": ("64", 64),
    "learning_rate": ("0.01", 0.01),
    "optimizer": ("sgd", "sgd"),
    "momentum": ("0.5", 0.5),
    "schedule": ("steplr", "steplr"),
    "step_size": ("3", 3),
    "gamma": ("0.25", 0.25),
    "subset": ("5000", 5000),
    "seed": ("9", 9),
    "threads": ("1", 1),
    "bf16": ("fp32", False),
}


def test_every_train_flag_reaches_its_config_field():
    flagged = {name for name, option in OPTIONS.items() if option.flag}
    switches = {name for name in flagged if OPTIONS[name].switch is not None}
    assert flagged - switches == set(TYPED)  # A new flag needs a row above.
    argv = ["train", "--device", "cpu"]
    for name, (typed, _) in TYPED.items():
        argv += [OPTIONS[name].flag, typed]
    argv += [OPTIONS[name].flag for name in switches]
    config = train_config_from_args(build_parser().parse_args(argv))
    for name, (_, value) in TYPED.items():
        assert getattr(config, name) == value != DEFAULTS[name], name
    for name in switches:
        assert getattr(config, name) == OPTIONS[name].switch != DEFAULTS[name], name


def test_without_flags_the_command_line_trains_with_the_tables_defaults():
    config = train_config_from_args(build_parser().parse_args(["train", "--device", "cpu"]))
    assert config == TrainConfig(device="cpu")


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"epochs": 0}, "epochs must be at least 1"),
        ({"batch_size": 0}, "batch_size must be at least 1"),
        ({"learning_rate": 0.0}, "learning_rate must be positive"),
        ({"learning_rate": float("nan")}, "learning_rate must be positive"),
        ({"optimizer": "rmsprop"}, "optimizer must be one of"),
        ({"schedule": "cosine"}, "schedule must be one of"),
        ({"subset": 0}, "subset must be at least 1"),
        ({"threads": 0}, "threads must be at least 1"),
        ({"device": "gpu"}, "device must be one of"),
        ({"seed": -1}, "seed must be at least 0"),
        ({"seed": 2**31}, "seed must be at most 2147483647"),  # The form's range, on every path.
        ({"seed": 2**80}, "seed must be at most"),  # Once failed deep in torch.manual_seed.
    ],
)
def test_the_config_refuses_what_the_table_does_not_allow(settings, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**settings)


def test_a_link_offers_exactly_what_the_retrain_dropdowns_offer():
    for control, link in (("batch_size", "batch"), ("learning_rate", "lr")):
        offered = OPTIONS[control].offered
        for value in offered:
            assert parse_preset({link: str(value)}, BUDGET).values == {control: value}
    # Gradio refuses a dropdown value outside its choices, so a link must not set one.
    for link, raw in (("batch", "100"), ("batch", "8"), ("lr", "0.002")):
        preset = parse_preset({link: raw}, BUDGET)
        assert preset.values == {} and "use one of" in preset.problems[0]


def test_every_preset_is_a_valid_config_and_a_buttons_preset_survives_its_link():
    for name, preset in PRESETS.items():
        TrainConfig(**preset.values)
        assert set(preset.values) <= set(CONTROLS), name
    assert BUTTON_PRESETS == ("quick", "lesson")
    for name in BUTTON_PRESETS:
        query = dict(parse_qsl(preset_query(PRESETS[name].values)))
        reopened = parse_preset(query, BUDGET)
        assert reopened.problems == [] and reopened.values == PRESETS[name].values


def test_loose_api_values_become_the_config_a_form_means():
    config = config_from_values(
        {"epochs": 4.0, "batch_norm": "false", "augment": "true", "subset": 0, "seed": None}
    )
    assert (config.epochs, config.batch_norm, config.augment) == (4, False, True)
    assert config.subset is None and config.seed == 0  # "All the images", and the default seed.
    with pytest.raises(ValueError, match="batch_norm must be true or false, not 'maybe'"):
        config_from_values({"batch_norm": "maybe"})


def test_every_control_and_link_name_belongs_to_one_option():
    assert set(CONTROLS) <= {field.name for field in fields(TrainConfig)}
    links = [OPTIONS[name].link for name in CONTROLS]
    assert None not in links and len(set(links)) == len(links)
    assert all(OPTIONS[name].label for name in CONTROLS)


def test_building_the_command_line_does_not_import_gradio():
    code = (
        "import sys; from mnist_demo.cli import build_parser; build_parser(); "
        "sys.exit('gradio' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, timeout=120)
    assert result.returncode == 0
