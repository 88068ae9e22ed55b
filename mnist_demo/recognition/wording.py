"""The verdict in words: the hint above the probabilities and the short answer above the pad.

One table of templates, written once here. The server renders it (:func:`hint`,
:func:`readout`); the page gets it in its payload (:func:`table`, as ``extras["wording"]``) and
static/wording.js fills the same templates the same way, so changing a word here changes the page
too (tests/test_wording.py checks that both say the same for the same probabilities).

A template holds ``{name}`` placeholders and nothing else, so that the page needs only a plain
substitution: the dataset's words (``positive``, ``unsure``, ``negative``, each also capitalised,
and ``thing``), ``model`` (which model answered), and for a drawing ``top`` (the best class),
``confidence`` and ``spread`` as whole percentages. Each template set has one template per
verdict role (``positive``, ``unsure``, ``negative``, as :func:`verdict.words` orders them) and
``blank`` for an empty pad.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from mnist_demo.recognition.verdict import WORDS, Thresholds, verdict, words

ROLES = ("positive", "unsure", "negative")  # The order of verdict.words().
PLACEHOLDER = re.compile(r"\{(\w+)\}")
# What the empty pad asks for, per dataset.
THINGS = {"mnist": "a digit", "fashion": "a clothing item"}
# No emoji: they carry no meaning the words lack, and show as boxes where no emoji font is
# installed. Only the answer above the pad (READOUTS) names a class in bold type; a hint names
# the best guess of a drawing it doubts in plain type.
HINTS = {
    "blank": "Draw {thing} in the box: the answer appears above it as you draw ({model}).",
    "positive": "**{top}** with {confidence} confidence: {positive} ({model}).",
    "unsure": (
        "**{Unsure}.** Best guess {top} at only {confidence} (spread {spread}). "
        "Try a bigger, clearer drawing ({model})."
    ),
    "negative": (
        "**{Negative}**, it says: no class stands out (best guess {top} at {confidence}, "
        "spread {spread}) ({model})."
    ),
}
# The big answer above the pad: short enough to read while drawing.
READOUTS = {
    "blank": "",
    "positive": "{top} · {confidence}",
    "unsure": "{top}? · {confidence} ({unsure})",
    "negative": "{Negative}",
}


# A whole number (mnist_demo.numbers.read and static/numbers.js): its verdict's reason, the
# refusals past a cap, and the page's answer above the pad and hint under it. ``places`` is a list
# of ordinals ("3rd", "1st and 4th"), ``reason`` a reason in lower case, ``Reason`` capitalised.
NUMBERS = {
    "refused": "not a number: {reason}",
    "rejected_one": "not a number: the {places} piece is {negative}",
    "rejected_many": "not a number: the {places} pieces are not digits",
    "doubted_one": "the {places} digit is {unsure}",
    "doubted_many": "the {places} digits are {unsure}",
    "too_many_runs": (
        "too much ink to read as a number ({count} runs of ink; at most {most} are read)"
    ),
    "too_many_marks": (
        "{count} separate marks, too many to read as a number (at most {most} are read)"
    ),
    "too_many_pieces": "{count} pieces; a number is read up to {most} digits",
    "too_many_digits": "{count} digits; a number is read up to {most}",
    "readout_number": "{number}",
    "readout_unsure": "{number}? ({unsure})",
    "readout_negative": "Not a number",
    "hint_number": (
        "**{number}**: {count} digits, each a {positive}; the least sure is the {least} at "
        "{confidence}. Click a digit to look inside ({model})."
    ),
    "hint_unsure": "**{number}?** {Reason}: click it to see what the network sees ({model}).",
    "hint_negative": "**{Reason}.** Each box is one piece the page read ({model}).",
}


def number_words(key: str, **values: Any) -> str:
    """One of :data:`NUMBERS` for MNIST, filled (the page fills the same table)."""
    named = {**dataset_words("mnist"), **{name: str(value) for name, value in values.items()}}
    return fill(NUMBERS[key], named)


def dataset_words(dataset: str) -> dict[str, str]:
    """The words a template may name for ``dataset``: each role's verdict, also capitalised."""
    named = dict(zip(ROLES, words(dataset), strict=True))
    capitalised = {name.capitalize(): word.capitalize() for name, word in named.items()}
    thing = THINGS[dataset] if dataset in WORDS else THINGS["mnist"]
    return {**named, **capitalised, "thing": thing}


def table(dataset: str) -> dict[str, Any]:
    """Everything the page needs to word its answers for ``dataset``, as plain JSON data."""
    return {
        "hint": dict(HINTS),
        "readout": dict(READOUTS),
        "number": dict(NUMBERS),
        "words": dataset_words(dataset),
    }


def fill(template: str, values: Mapping[str, str]) -> str:
    """``template`` with each ``{name}`` replaced by ``values[name]`` (as wording.js does)."""
    return PLACEHOLDER.sub(lambda match: values[match.group(1)], template)


def percent(value: float) -> str:
    """A whole percentage, rounded as the page rounds it: ``round(value * 100)``, halves to even
    (for the probabilities a model gives, the same text as ``f"{value:.0%}"``)."""
    return f"{round(value * 100)}%"


def spread(probabilities: Mapping[str, float]) -> float:
    """Entropy as a fraction of its maximum: 0 = one sure class, 1 = all classes equal.

    Summed in class order, as wording.js sums it, so that both round it alike."""
    total = 0.0
    for probability in probabilities.values():
        if probability > 0:
            total += probability * math.log(probability)
    return -total / math.log(len(probabilities))


def role(top: float, thresholds: Thresholds, dataset: str) -> str:
    """The verdict on the top probability, as a role name: "positive", "unsure" or "negative"."""
    return ROLES[words(dataset).index(verdict([top], thresholds, dataset))]


def render(
    kind: str,
    probabilities: Mapping[str, float] | None,
    thresholds: Thresholds,
    dataset: str,
    model: str = "",
) -> str:
    """The ``kind`` ("hint" or "readout") for one drawing's probabilities, by class name in
    class order; empty or None for an empty pad."""
    if kind not in ("hint", "readout"):
        raise ValueError(f'kind must be "hint" or "readout", not {kind!r}')
    wording = table(dataset)
    values = {**wording["words"], "model": model}
    if not probabilities:
        return fill(wording[kind]["blank"], values)
    # The first class of the highest probability, as the page's topIndex picks it.
    top, confidence = max(probabilities.items(), key=lambda item: item[1])
    values |= {
        "top": top,
        "confidence": percent(confidence),
        "spread": percent(spread(probabilities)),
    }
    return fill(wording[kind][role(confidence, thresholds, dataset)], values)


def hint(
    probabilities: Mapping[str, float] | None, thresholds: Thresholds, dataset: str, model: str
) -> str:
    """The line above the probabilities: the verdict, the best guess and which model said so."""
    return render("hint", probabilities, thresholds, dataset, model)


def blank_hint(dataset: str, model: str) -> str:
    """The hint before the first stroke: what to draw (no model or thresholds needed)."""
    return render("hint", None, Thresholds(), dataset, model)


def readout(probabilities: Mapping[str, float] | None, thresholds: Thresholds, dataset: str) -> str:
    """The answer above the pad: "7 · 98%", "4? · 60% (unsure)", "Not a digit", or ""."""
    return render("readout", probabilities, thresholds, dataset)
