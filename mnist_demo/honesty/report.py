"""How honest a model is, on sets held out from both training and threshold choice.

- non-digits drawn as canvases in Pillow's built-in font (training used DejaVu, the thresholds
  Liberation) and with their own seeds: the share that gets a verdict other than "digit";
- drawing-style canvases of MNIST *test* digits (:mod:`mnist_demo.samples.drawings`): the share that
  keeps "digit" *and* the right class;
- coarse scans of MNIST test digits (:mod:`mnist_demo.samples.coarse`): the share read right;
- other writers, the UCI optical digits' reported half (:mod:`mnist_demo.samples.optdigits`):
  the share read right;
- the MNIST test accuracy.
Every image goes through the app's own path (:meth:`Predictor.predict_full`).
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice

import numpy as np

from mnist_demo.data import denormalize, load_split, normalize
from mnist_demo.honesty.calibrate import logits_of, rates
from mnist_demo.recognition.inference import Predictor
from mnist_demo.recognition.verdict import words
from mnist_demo.samples.coarse import iter_coarse_scans
from mnist_demo.samples.drawings import iter_drawings
from mnist_demo.samples.optdigits import iter_other_writers
from mnist_demo.samples.outliers import KINDS, fonts_for, non_digit
from mnist_demo.training.evaluate import evaluate

EVALUATION_SEED = 202


def held_out_non_digits(
    count: int, seed: int = EVALUATION_SEED
) -> Iterator[tuple[str, np.ndarray]]:
    """(kind, black-on-white canvas) pairs: text in Pillow's own font, then the stroke kinds."""
    fonts = fonts_for("evaluation")
    for position in range(count):
        rng = np.random.default_rng([seed, position])
        kind = KINDS[position % len(KINDS)]
        yield kind, 255 - non_digit(kind, rng, fonts, int(rng.integers(140, 400)))


def non_digit_rejection(predictor: Predictor, count: int = 600) -> dict:
    """Share of held-out non-digits given a verdict other than "digit", overall and per kind."""
    positive = words(predictor.spec.name)[0]
    per_kind: dict[str, list[int]] = {}
    for kind, canvas in held_out_non_digits(count):
        prediction = predictor.predict_full(canvas)
        tally = per_kind.setdefault(kind, [0, 0])
        tally[0] += prediction.blank or prediction.verdict != positive
        tally[1] += 1
    rejected = sum(right for right, _ in per_kind.values())
    return {
        "rejected": rejected / count,
        "count": count,
        "per_kind": {kind: right / total for kind, (right, total) in per_kind.items()},
    }


def drawn_digits_kept(predictor: Predictor, count: int = 1250) -> dict:
    """Share of drawn MNIST test digits given "digit" and the right class (and the right class
    whatever the verdict)."""
    kept = right = 0
    for drawing in islice(iter_drawings(count), count):
        prediction = predictor.predict_full(drawing.image)
        correct = prediction.top == str(drawing.label)
        right += correct
        kept += correct and prediction.verdict == "digit"
    return {"kept": kept / count, "right": right / count, "count": count}


def coarse_scans_read(predictor: Predictor, count: int = 1000) -> dict:
    per_size: dict[int, list[int]] = {}
    for scan in iter_coarse_scans(count):
        tally = per_size.setdefault(scan.size, [0, 0])
        tally[0] += predictor.predict_full(scan.image).top == str(scan.label)
        tally[1] += 1
    right = sum(r for r, _ in per_size.values())
    return {
        "right": right / count,
        "count": count,
        "per_size": {f"{size}x{size}": r / t for size, (r, t) in per_size.items()},
    }


def other_writers_read(predictor: Predictor, half: str = "report") -> dict:
    """Share of one half of the UCI optical digits read right, blocky and smooth."""
    tally = {False: [0, 0], True: [0, 0]}
    for digit in iter_other_writers(half):
        tally[digit.smooth][0] += predictor.predict_full(digit.image).top == str(digit.label)
        tally[digit.smooth][1] += 1
    count = sum(total for _, total in tally.values())
    return {
        "right": sum(right for right, _ in tally.values()) / count,
        "count": count,
        "half": half,
        "blocky": tally[False][0] / tally[False][1],
        "smooth": tally[True][0] / tally[True][1],
    }


def held_out_report(predictor: Predictor) -> dict:
    """All of the above for an MNIST model (the README's figures); for a Fashion-MNIST model see
    :func:`clothing_report`."""
    if predictor.spec.name != "mnist":
        return clothing_report(predictor)
    test = evaluate(predictor.model, load_split("mnist", train=False))
    return {
        "test_accuracy": test.accuracy,
        "non_digits": non_digit_rejection(predictor),
        "drawn_digits": drawn_digits_kept(predictor),
        "coarse_scans": coarse_scans_read(predictor),
        "other_writers": other_writers_or_why(predictor),
    }


def other_writers_or_why(predictor: Predictor) -> dict:
    """:func:`other_writers_read`, or why not (scikit-learn, a test extra, is not installed)."""
    try:
        return other_writers_read(predictor)
    except ImportError as error:
        return {"skipped": str(error)}


def clothing_report(predictor: Predictor) -> dict:
    """For a Fashion-MNIST model: the test accuracy, the test items kept as "clothing" with the
    right class, and what is not clothing given another verdict: all 10,000 MNIST test digits
    and the held-out non-digits."""
    spec = predictor.spec
    test = load_split(spec.name, train=False)
    digits = load_split("mnist", train=False)
    digit_inputs = normalize(denormalize(digits.images, digits.spec), spec)
    logits = logits_of(predictor.model, test.images)
    measured = rates(
        predictor.thresholds, logits, test.labels, logits_of(predictor.model, digit_inputs)
    )
    return {
        "test_accuracy": float((logits.argmax(1) == test.labels).double().mean()),
        "clothing_kept": measured.kept,
        "mnist_digits_rejected": measured.rejected,
        "non_digits": non_digit_rejection(predictor),
    }
