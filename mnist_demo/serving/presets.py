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

from mnist_demo.serving.trainer import Budget
from mnist_demo.training.options import BUTTON_PRESETS, CONTROLS, OPTIONS, PRESETS, Option

# The names a link uses for the Retrain tab's controls (the options table's link names).
URL_NAMES = {control: OPTIONS[control].link for control in CONTROLS}
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


def choice(options: tuple, kind: type = str) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        value = kind(text.strip().lower())
        if value not in options:  # Also refuses nan and inf.
            raise ValueError(f"use one of {', '.join(map(str, options))}")
        return value

    return parse


def parser(option: Option, budget: Budget) -> Callable[[str], Any]:
    """How a link's text becomes this option's value: what the Retrain control offers."""
    if option.kind is bool:
        return flag
    if option.span:
        low, high = option.span
        return whole_number(low, budget.max_epochs if high is None else high)
    return choice(option.offered or option.choices, option.kind)


def parsers(budget: Budget) -> dict[str, Callable[[str], Any]]:
    return {control: parser(OPTIONS[control], budget) for control in CONTROLS}


def parse_preset(query: Mapping[str, str], budget: Budget) -> Preset:
    """Read a page's query parameters; unknown names are ignored, bad values reported."""
    preset = Preset()
    if name := query.get("preset"):
        if name in BUTTON_PRESETS:
            preset.values.update(preset_values(name, budget))
        else:
            preset.problems.append(
                f"preset={name!r} ignored (use one of {', '.join(BUTTON_PRESETS)})"
            )
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
    values = dict(PRESETS[name].values)
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
