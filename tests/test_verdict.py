"""The verdict: a pure function of the probabilities and thresholds stored with the weights."""

import json

import pytest
import torch

from mnist_demo.honesty.calibrate import choose_thresholds, chosen_on
from mnist_demo.recognition.checkpoint import save_checkpoint, update_sidecar
from mnist_demo.recognition.inference import Predictor
from mnist_demo.recognition.model import SmallCNN
from mnist_demo.recognition.verdict import Thresholds, top_probabilities, verdict, words
from mnist_demo.samples.templates import template_drawing


def one_hot_like(top: float) -> list[float]:
    return [top] + [(1 - top) / 9] * 9


@pytest.mark.parametrize(
    ("top", "expected"),
    [(0.99, "digit"), (0.9, "digit"), (0.89, "unsure"), (0.6, "unsure"), (0.59, "not a digit")],
)
def test_the_verdict_reads_the_top_probability_against_the_two_thresholds(top, expected):
    assert verdict(one_hot_like(top), Thresholds(sure=0.9, unsure=0.6)) == expected


def test_fashion_says_clothing_and_not_clothing():
    assert words("fashion") == ("clothing", "unsure", "not clothing")
    assert verdict(one_hot_like(0.2), Thresholds(), "fashion") == "not clothing"
    assert verdict(one_hot_like(0.99), Thresholds(), "fashion") == "clothing"


def test_thresholds_out_of_order_are_refused():
    with pytest.raises(ValueError, match="unsure <= sure"):
        Thresholds(sure=0.5, unsure=0.8)


def test_thresholds_come_from_the_sidecar_or_default_when_absent_or_broken():
    assert Thresholds.from_metadata({"verdict": {"sure": 0.7, "unsure": 0.3}}) == Thresholds(
        0.7, 0.3
    )
    assert Thresholds.from_metadata({}) == Thresholds()
    assert Thresholds.from_metadata({"verdict": {"sure": "high"}}) == Thresholds()


def test_top_probability_is_the_softmax_maximum():
    logits = torch.tensor([[0.0] * 10, [10.0] + [0.0] * 9])
    top = top_probabilities(logits)
    assert top[0].item() == pytest.approx(0.1)
    assert top[1].item() == pytest.approx(torch.softmax(logits[1], 0).max().item())


def test_a_predictor_loads_its_thresholds_from_the_sidecar_and_uses_them(tmp_path):
    path = save_checkpoint(tmp_path / "model.pth", SmallCNN(), "mnist")
    # An untrained model is never sure: with "sure" at 1.0 nothing is a digit.
    update_sidecar(path, verdict={"sure": 1.0, "unsure": 0.0})
    assert json.loads(path.with_suffix(".json").read_text())["verdict"]["sure"] == 1.0
    predictor = Predictor.from_checkpoint(path)
    assert predictor.thresholds == Thresholds(1.0, 0.0)
    assert predictor.predict_full(template_drawing("3", 280)).verdict == "unsure"
    update_sidecar(path, verdict={"sure": 0.0, "unsure": 0.0})
    assert (
        Predictor.from_checkpoint(path).predict_full(template_drawing("3", 280)).verdict == "digit"
    )


def test_a_blank_drawing_has_no_verdict(tmp_path):
    predictor = Predictor.from_model(SmallCNN())
    assert (
        predictor.predict_full({"background": None, "layers": [], "composite": None}).verdict == ""
    )


def test_chosen_thresholds_keep_the_target_share_of_right_answers():
    generator = torch.Generator().manual_seed(0)
    top = torch.rand(1000, generator=generator) * 0.5 + 0.5
    correct = torch.rand(1000, generator=generator) < 0.995
    thresholds = choose_thresholds(top, correct, keep_target=0.98, unsure_share=0.01)
    kept = ((top >= thresholds.sure) & correct).sum().item() / correct.sum().item()
    assert 0.98 <= kept < 0.985
    assert (top < thresholds.unsure).double().mean().item() <= 0.01
    assert thresholds.unsure <= thresholds.sure
    with pytest.raises(ValueError, match="nothing to keep"):
        choose_thresholds(top, torch.zeros(1000, dtype=torch.bool), 0.98, 0.01)


def test_thresholds_drop_to_keep_more_digits_only_while_non_digits_stay_below():
    generator = torch.Generator().manual_seed(1)
    top = torch.rand(1000, generator=generator) * 0.5 + 0.5
    correct = torch.ones(1000, dtype=torch.bool)
    alone = choose_thresholds(top, correct, keep_target=0.995, unsure_share=0.005)
    # Non-digits spread thin (as outlier exposure makes them): sure may come down to them.
    low = torch.rand(2000, generator=generator) * 0.3 + 0.1
    lowered = choose_thresholds(top, correct, 0.995, 0.005, low, reject_target=0.95)
    assert lowered.sure < alone.sure
    assert (low < lowered.sure).double().mean().item() >= 0.95
    assert (top >= lowered.sure).double().mean().item() > 0.995
    assert lowered.unsure <= lowered.sure
    # Confident non-digits (a model never shown any): the digits' level stands.
    high = torch.rand(2000, generator=generator) * 0.1 + 0.9
    assert choose_thresholds(top, correct, 0.995, 0.005, high, reject_target=0.95) == alone
    # Between "digit" and "not a digit", a band says unsure: the top tenth of the non-digits.
    assert (low < lowered.unsure).double().mean().item() <= 0.9 + 1e-3
    assert lowered.unsure < lowered.sure


@pytest.mark.parametrize(
    ("dataset", "kept", "rejected", "foreign"),
    [
        ("mnist", "digits", "non-digits", ("items", "clothing")),
        ("fashion", "items", "non-clothing images", ("of the digits", "of the non-digits")),
    ],
)
def test_how_the_thresholds_were_chosen_is_told_in_the_datasets_own_words(
    dataset, kept, rejected, foreign
):
    text = chosen_on(dataset, 2000, 4000, "held-out training images")
    assert text.startswith("validation: 2000 held-out training images (")
    assert f"4000 {rejected} (" in text and "never the test set" in text
    assert text.count(f"of the {kept}") == 2 and text.count(f"of the {rejected}") == 2
    assert not [word for word in foreign if word in text], text
