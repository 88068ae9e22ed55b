"""The verdict beside the probabilities: "digit", "unsure" or "not a digit".

A pure function of the ten probabilities (the softmax of the logits) and two thresholds on the
top probability:

    top = max(softmax(logits))
    verdict = "digit"        if top >= thresholds.sure
              "unsure"       if thresholds.unsure <= top < thresholds.sure
              "not a digit"  if top < thresholds.unsure

The thresholds belong to a weights file: they are chosen on a validation set (never the test set)
by :mod:`mnist_demo.honesty.calibrate` and stored in the weights' JSON sidecar under ``"verdict"``.
A model trained with outlier exposure (:mod:`mnist_demo.training.exposure`) spreads its
probabilities on non-digits, which is what makes a low top probability mean "not a digit". For
Fashion-MNIST the words are "clothing" and "not clothing".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import torch

SURE, UNSURE = "sure", "unsure"
WORDS = {"mnist": ("digit", "not a digit"), "fashion": ("clothing", "not clothing")}


@dataclass(frozen=True)
class Thresholds:
    """Top-probability thresholds: ``sure`` and above is a digit, below ``unsure`` is not one."""

    sure: float = 0.9
    unsure: float = 0.6

    def __post_init__(self) -> None:
        if not 0 <= self.unsure <= self.sure <= 1:
            raise ValueError(
                f"thresholds must satisfy 0 <= unsure <= sure <= 1; got unsure={self.unsure}, "
                f"sure={self.sure}"
            )

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, Any] | None) -> Thresholds:
        """The thresholds recorded in a sidecar, or the defaults when it has none."""
        recorded = (metadata or {}).get("verdict")
        if not isinstance(recorded, Mapping):
            return cls()
        try:
            return cls(float(recorded["sure"]), float(recorded["unsure"]))
        except (KeyError, TypeError, ValueError):
            return cls()

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def words(dataset: str) -> tuple[str, str, str]:
    """The three verdicts for a dataset: (positive, "unsure", negative)."""
    positive, negative = WORDS.get(dataset, WORDS["mnist"])
    return positive, UNSURE, negative


def verdict(probabilities: Iterable[float], thresholds: Thresholds, dataset: str = "mnist") -> str:
    """The verdict for one drawing's probabilities (see the module docstring)."""
    top = max(probabilities)
    positive, unsure, negative = words(dataset)
    if top >= thresholds.sure:
        return positive
    return unsure if top >= thresholds.unsure else negative


def top_probabilities(logits: torch.Tensor) -> torch.Tensor:
    """(N, classes) logits -> (N,) top softmax probability, the score the verdict thresholds."""
    return torch.softmax(logits.double(), dim=1).amax(dim=1)
