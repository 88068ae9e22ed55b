"""Lessons by link: query parameters that set the dataset, the training settings and the seed.

A teacher hands a class one URL, such as ``?dataset=fashion&epochs=3&lr=0.003&bn=1&seed=7&
hide=advanced&tab=retrain``, and every student's page opens with the same settings (as
TensorFlow Playground does for its toy data). Parsing is pure and forgiving: a bad value is
reported and left at its default, never an error page.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from mnist_demo.config import DATASETS
from mnist_demo.train import OPTIMIZERS, SCHEDULES
from mnist_demo.ui.trainer import Budget

# The Retrain tab's controls, in the order its Start button passes them, with their URL names.
CONTROLS = (
    "dataset",
    "epochs",
    "learning_rate",
    "batch_size",
    "optimizer",
    "batch_norm",
    "schedule",
    "subset",
    "augment",
    "seed",
    "outlier_exposure",
)
URL_NAMES = {
    "dataset": "dataset",
    "epochs": "epochs",
    "learning_rate": "lr",
    "batch_size": "batch",
    "optimizer": "optimizer",
    "batch_norm": "bn",
    "schedule": "schedule",
    "subset": "subset",
    "augment": "augment",
    "seed": "seed",
    "outlier_exposure": "not_a_digit",
}
# Named starting points for a class, by link (``?preset=quick``) or by button. A link's own
# settings override its preset's. Costs measured on the 2-core CI machine with the one thread
# a 2-CPU host gives the trainer (README, "Teaching with it").
PRESETS: dict[str, dict[str, Any]] = {
    # Over 97% test accuracy in about 7 s on one thread of the 2-core CI machine (4.8 s on two):
    # thirty students train in turn in a few minutes.
    "quick": {
        "epochs": 1,
        "subset": 15000,
        "batch_size": 64,
        "learning_rate": 0.003,
        "optimizer": "adam",
        "schedule": "onecycle",
    },
    # The lesson exactly: 5 epochs of Adam at 1e-3, batch 128, all 60,000 images (about 36 s).
    "lesson": {
        "epochs": 5,
        "subset": 60000,
        "batch_size": 128,
        "learning_rate": 0.001,
        "optimizer": "adam",
        "schedule": "none",
    },
}
TABS = ("draw", "inside", "evaluate", "retrain")
HIDEABLE = ("advanced",)
TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off"}


@dataclass
class Preset:
    """What a link asks for: control name -> value, plus the tab to open and what to hide."""

    values: dict[str, Any] = field(default_factory=dict)
    tab: str | None = None
    hide: frozenset[str] = frozenset()
    problems: list[str] = field(default_factory=list)


def flag(text: str) -> bool:
    word = text.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError("use 1 or 0")


def whole_number(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = int(text)
        if not low <= value <= high:
            raise ValueError(f"use {low} to {high}")
        return value

    return parse


def choice(options) -> Callable[[str], str]:
    def parse(text: str) -> str:
        value = text.strip().lower()
        if value not in options:
            raise ValueError(f"use one of {', '.join(options)}")
        return value

    return parse


def learning_rate(text: str) -> float:
    value = float(text)
    if not 0 < value <= 1:  # Also refuses nan and inf.
        raise ValueError("use a number above 0 and at most 1")
    return value


def parsers(budget: Budget) -> dict[str, Callable[[str], Any]]:
    return {
        "dataset": choice(tuple(DATASETS)),
        "epochs": whole_number(1, budget.max_epochs),
        "learning_rate": learning_rate,
        "batch_size": whole_number(8, 1024),
        "optimizer": choice(tuple(OPTIMIZERS)),
        "batch_norm": flag,
        "schedule": choice(tuple(SCHEDULES)),
        "subset": whole_number(1000, 60000),
        "augment": flag,
        "seed": whole_number(0, 2**31 - 1),
        "outlier_exposure": flag,
    }


def parse_preset(query: Mapping[str, str], budget: Budget) -> Preset:
    """Read a page's query parameters; unknown names are ignored, bad values reported."""
    preset = Preset()
    if name := query.get("preset"):
        if name in PRESETS:
            preset.values.update(preset_values(name, budget))
        else:
            preset.problems.append(f"preset={name!r} ignored (use one of {', '.join(PRESETS)})")
    for control, parse in parsers(budget).items():
        raw = query.get(URL_NAMES[control])
        if raw is None or raw == "":
            continue
        try:
            preset.values[control] = parse(raw)
        except ValueError as error:
            reason = str(error) if str(error).startswith("use") else "not a number"
            preset.problems.append(f"{URL_NAMES[control]}={raw!r} ignored ({reason})")
    if tab := query.get("tab"):
        if tab in TABS:
            preset.tab = tab
        else:
            preset.problems.append(f"tab={tab!r} ignored (use one of {', '.join(TABS)})")
    if hide := query.get("hide"):
        asked = {part.strip() for part in hide.split(",") if part.strip()}
        preset.hide = frozenset(asked & set(HIDEABLE))
        for unknown in sorted(asked - set(HIDEABLE)):
            preset.problems.append(f"hide={unknown!r} ignored (use {', '.join(HIDEABLE)})")
    return preset


def preset_values(name: str, budget: Budget) -> dict[str, Any]:
    """A named preset's settings, its epochs cut to what this host allows."""
    values = dict(PRESETS[name])
    values["epochs"] = min(values["epochs"], budget.max_epochs)
    return values


def preset_query(values: Mapping[str, Any], hide: bool = False, tab: str = "retrain") -> str:
    """The query string that reopens these settings (the Copy link button's text)."""
    params: dict[str, Any] = {}
    for control in CONTROLS:
        value = values.get(control)
        if value is None:
            continue
        whole = isinstance(value, float) and value.is_integer() and control != "learning_rate"
        if isinstance(value, bool) or whole:  # bn=1, and epochs=4 rather than 4.0 from a slider.
            value = int(value)
        params[URL_NAMES[control]] = value
    if hide:
        params["hide"] = "advanced"
    params["tab"] = tab
    return urlencode(params)
