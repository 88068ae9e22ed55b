import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

import numpy as np
import pytest
import torch

from mnist_demo.config import MNIST, shipped_weights_path
from mnist_demo.data import normalize
from mnist_demo.recognition.inference import Predictor
from mnist_demo.recognition.ink import to_ink
from mnist_demo.samples.drawings import CONVENTIONS, Drawing, iter_drawings, thin
from mnist_demo.samples.templates import template_drawing
from mnist_demo.teaching.steps import naive_picture

# Drawings of every 8th MNIST test digit: 1250, about 208 per colour convention.
DRAWING_COUNT = 1250


@dataclass
class DrawingScore:
    """How many drawings a classifier got right, overall and per colour convention."""

    correct: int = 0
    total: int = 0
    per_convention: dict[str, list[int]] = field(default_factory=dict)  # name -> [correct, total]
    failures: list[tuple[int, str, str | None]] = field(default_factory=list)  # index, conv, guess

    @property
    def accuracy(self) -> float:
        return self.correct / max(self.total, 1)

    def convention_accuracy(self) -> dict[str, float]:
        return {name: right / total for name, (right, total) in self.per_convention.items()}

    def add(self, drawing: Drawing, guess: str | None) -> None:
        right = guess == str(drawing.label)
        tally = self.per_convention.setdefault(drawing.convention, [0, 0])
        tally[0] += right
        tally[1] += 1
        self.correct += right
        self.total += 1
        if not right:
            self.failures.append((drawing.source_index, drawing.convention, guess))


def score_drawings(
    classifiers: dict[str, Callable[[Any], str | None]], drawings: Iterable[Drawing]
) -> dict[str, DrawingScore]:
    """Score each classifier (drawing -> class name, or None for "no digit") in one pass."""
    scores = {name: DrawingScore() for name in classifiers}
    for drawing in drawings:
        for name, classify in classifiers.items():
            scores[name].add(drawing, classify(drawing.image))
    return scores


def test_same_seed_gives_the_same_drawings_and_another_seed_others():
    first = [d.image for d in islice(iter_drawings(DRAWING_COUNT, seed=0), 6)]
    again = [d.image for d in islice(iter_drawings(DRAWING_COUNT, seed=0), 6)]
    other = next(iter_drawings(DRAWING_COUNT, seed=1)).image
    for a, b in zip(first, again, strict=True):
        assert np.array_equal(to_ink(a), to_ink(b))
    assert not np.array_equal(to_ink(first[0]), to_ink(other))


def test_each_convention_has_its_documented_form():
    drawings = {d.convention: d for d in islice(iter_drawings(DRAWING_COUNT), 6)}
    assert set(drawings) == set(CONVENTIONS)
    shapes = {name: d.image.shape for name, d in drawings.items() if name != "sketchpad"}
    for name, channels in [("black_on_white", 3), ("white_on_black", 3), ("coloured", 3),
                           ("transparent", 4)]:  # fmt: skip
        assert shapes[name][2] == channels, name
    assert len(shapes["grey"]) == 2
    value = drawings["sketchpad"].image
    # As gr.Sketchpad sends it: opaque white background, RGB-0 layer with ink in alpha (0/255),
    # black-on-white opaque composite.
    assert (value["background"] == 255).all()
    layer = value["layers"][0]
    assert (layer[..., :3] == 0).all() and set(np.unique(layer[..., 3])) == {0, 255}
    assert (value["composite"][..., 3] == 255).all()
    assert np.array_equal(value["composite"][..., 0] == 0, layer[..., 3] == 255)
    transparent = drawings["transparent"].image
    assert (transparent[..., 3] == 0).mean() > 0.5


def test_drawings_vary_in_canvas_size_digit_size_place_and_brush():
    drawings = list(iter_drawings(60))
    sizes = [d.canvas_size for d in drawings]
    assert min(sizes) >= 280 and max(sizes) <= 800 and len(set(sizes)) > 30
    relative_heights = [d.digit_height / d.canvas_size for d in drawings]
    assert min(relative_heights) < 0.4 and max(relative_heights) > 0.75
    relative_widths = [d.stroke_width / d.digit_height for d in drawings]
    assert min(relative_widths) < 0.06 and max(relative_widths) > 0.15
    for drawing in drawings[:12]:
        rows = np.flatnonzero(to_ink(drawing.image).max(axis=1) > 100)
        # The whole digit is on the canvas, as tall as recorded.
        assert abs((rows[-1] - rows[0] + 1) - drawing.digit_height) <= 2


def test_thinning_leaves_a_one_pixel_wide_connected_line():
    bar = np.zeros((40, 60), bool)
    bar[15:25, 5:55] = True
    skeleton = thin(bar)
    assert skeleton.any()
    assert skeleton.sum(axis=0).max() == 1  # One pixel across the bar...
    columns = np.flatnonzero(skeleton.any(axis=0))
    assert columns.max() - columns.min() >= 35  # ...along most of its length.


def test_template_drawings_need_no_dataset_and_fit_the_canvas():
    for size in (280, 800):
        for digit in "0123456789":
            ink = to_ink(template_drawing(digit, size))
            assert ink.shape == (size, size)
            assert ink[0].max() == ink[-1].max() == ink[:, 0].max() == ink[:, -1].max() == 0


@pytest.mark.slow
def test_shipped_weights_read_at_least_98_percent_of_the_drawings(artifacts_dir):
    predictor = Predictor.from_checkpoint(shipped_weights_path("mnist"))
    model = predictor._served.model

    def naive(image) -> str:
        picture = torch.from_numpy(naive_picture(to_ink(image))).float() / 255
        with torch.inference_mode():
            return str(model(normalize(picture, MNIST)[None, None]).argmax().item())

    scores = score_drawings(
        {"faithful": lambda image: predictor.predict_full(image).top, "naive": naive},
        iter_drawings(DRAWING_COUNT),
    )
    faithful, naive_score = scores["faithful"], scores["naive"]
    report = {
        name: {"accuracy": s.accuracy, "per_convention": s.convention_accuracy(), "n": s.total}
        for name, s in scores.items()
    }
    (artifacts_dir / "drawing_accuracy.json").write_text(json.dumps(report, indent=2) + "\n")
    assert faithful.total == DRAWING_COUNT
    assert faithful.accuracy >= 0.98, f"{faithful.accuracy:.2%}; misses: {faithful.failures}"
    for convention, accuracy in faithful.convention_accuracy().items():
        assert accuracy >= 0.95, f"{convention}: {accuracy:.2%}"
    # The point of the pipeline: shrinking the whole canvas loses a large share of the digits.
    assert naive_score.accuracy < faithful.accuracy - 0.15
