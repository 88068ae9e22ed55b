"""The verdict end to end, and what outlier exposure does, on sets held out from training.

Non-digits are drawn in Pillow's own font (training uses DejaVu, the thresholds Liberation) with
seeds of their own; digits are drawings and coarse scans of MNIST *test* digits.
"""

import json
import subprocess
import sys

import pytest
import torch
from PIL import Image

from mnist_demo.config import shipped_weights_path
from mnist_demo.data import load_split
from mnist_demo.honesty.calibrate import logits_of
from mnist_demo.honesty.report import (
    clothing_report,
    coarse_scans_read,
    drawn_digits_kept,
    held_out_non_digits,
    non_digit_rejection,
)
from mnist_demo.recognition.inference import Predictor, classify, predict
from mnist_demo.recognition.verdict import Thresholds, top_probabilities, verdict
from mnist_demo.samples.outliers import non_digits
from mnist_demo.samples.templates import template_drawing
from mnist_demo.training.loop import TrainConfig, TrainingRun

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def predictor() -> Predictor:
    return Predictor.from_checkpoint(shipped_weights_path("mnist"))


@pytest.mark.parametrize("dataset", ["mnist", "fashion"])
def test_the_shipped_sidecars_record_thresholds_chosen_off_the_test_set(dataset):
    sidecar = json.loads(shipped_weights_path(dataset).with_suffix(".json").read_text())
    recorded = sidecar["verdict"]
    assert 0 < recorded["unsure"] <= recorded["sure"] < 1
    assert "never the test set" in recorded["chosen_on"]
    assert recorded["command"].startswith("mnist-demo calibrate")
    loaded = Predictor.from_checkpoint(shipped_weights_path(dataset)).thresholds
    assert loaded == Thresholds(recorded["sure"], recorded["unsure"])


def test_drawn_test_digits_keep_digit_and_the_right_class(predictor):
    report = drawn_digits_kept(predictor, 1250)
    assert report["kept"] >= 0.985, report  # Measured 98.64% for the shipped weights.


def test_held_out_non_digits_are_not_called_digits(predictor):
    report = non_digit_rejection(predictor, 600)
    assert report["rejected"] >= 0.9, report  # Measured 95.8% (21.3% before outlier exposure).


def test_coarse_scans_are_read_as_well_as_drawings(predictor):
    report = coarse_scans_read(predictor, 1000)
    # Measured 96.9% (8x8: 94.4%, 16x16: 99.4%); without coarse scans in training 78.3%.
    assert report["right"] >= 0.95, report
    assert min(report["per_size"].values()) >= 0.94, report


def test_the_fashion_model_says_not_clothing_for_digits_letters_and_scribbles():
    report = clothing_report(Predictor.from_checkpoint(shipped_weights_path("fashion")))
    # Measured: 99.3% of the MNIST test digits and 91.7% of the held-out non-digits (22.6% and
    # 19.2% for the weights trained on clothing alone), keeping every test item it reads right.
    assert report["mnist_digits_rejected"] >= 0.95, report
    assert report["non_digits"]["rejected"] >= 0.9, report
    assert report["clothing_kept"] >= 0.9 * report["test_accuracy"], report


def test_the_verdict_on_a_fixed_set_agrees_in_predict_and_the_cli(predictor, tmp_path):
    non_digit_images = [canvas for _, canvas in held_out_non_digits(6)]
    digits = [template_drawing(str(d), 280, "black_on_white", seed=3) for d in range(10)]
    paths = []
    for name, image in [(f"n{i}", c) for i, c in enumerate(non_digit_images)] + [
        (f"d{d}", image) for d, image in enumerate(digits)
    ]:
        paths.append(tmp_path / f"{name}.png")
        Image.fromarray(image).save(paths[-1])
    for digit, image in enumerate(digits):
        result = classify(image)
        assert result.verdict == "digit" and result.top == str(digit)
        assert result.probabilities == predict(image)  # The plain dict is unchanged.
    said = [classify(image).verdict for image in non_digit_images]
    for image, word in zip(non_digit_images, said, strict=True):
        assert word == verdict(predict(image).values(), predictor.thresholds)
    output = subprocess.run(
        [sys.executable, "-m", "mnist_demo", "predict", "--json", *map(str, paths)],
        capture_output=True,
        text=True,
        check=True,
    )
    lines = [json.loads(line) for line in output.stdout.splitlines()]
    assert [line["verdict"] for line in lines] == said + ["digit"] * 10
    assert [line["top"] for line in lines[6:]] == [str(d) for d in range(10)]


def rejection_keeping_90_percent_of_digits(model, digits, outliers) -> float:
    """Share of outliers below the top probability that 90% of the digits reach."""
    threshold = torch.quantile(top_probabilities(logits_of(model, digits)).float(), 0.1)
    return (top_probabilities(logits_of(model, outliers)) < threshold).double().mean().item()


def test_outlier_exposure_teaches_the_lessons_model_to_say_not_a_digit():
    """The Retrain tab's comparison: same seed and data, with and without the option."""
    outliers = non_digits(300, 202, "evaluation")
    digits = load_split("mnist", train=True).images[55_000:56_000]  # Not trained on here.
    results = {}
    for exposed in (False, True):
        config = TrainConfig(
            epochs=1, subset=4000, test_subset=2000, outlier_exposure=exposed, threads=1
        )
        run = TrainingRun(config)
        accuracy = [event for event in run][-1].test_accuracy
        rejected = rejection_keeping_90_percent_of_digits(run.model, digits, outliers)
        results[exposed] = (accuracy, rejected)
    # Measured: 45% without, 58% with (one epoch on 4,000 images, loss weight 0.1; weight 0.25
    # made it 73%, but cost the 30-epoch shipped recipe drawn digits: see exposure.py).
    assert results[True][1] >= results[False][1] + 0.1, results
    assert min(results[True][0], results[False][0]) > 0.8, results
