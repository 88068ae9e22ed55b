"""The verdict's words: written once (mnist_demo.recognition.wording), said alike by the server
and by the page (static/wording.js and static/sketch.js, run in real Chromium)."""

from __future__ import annotations

import json
import random

import gradio as gr
import pytest

from mnist_demo.config import dataset_spec
from mnist_demo.recognition import wording
from mnist_demo.recognition.verdict import Thresholds
from mnist_demo.serving.session import Session
from mnist_demo.ui.canvas import PAD_HTML
from mnist_demo.ui.page_files import static_text
from mnist_demo.ui.tabs import draw

THRESHOLDS = Thresholds(sure=0.9, unsure=0.6)
MODEL = "the shipped MNIST digits model"


def with_top(top: float, index: int = 7, classes: int = 10) -> list[float]:
    """``top`` at ``index``, the rest shared unevenly (so no accidental ties below the top)."""
    weights = [classes - i for i in range(classes - 1)]
    shares = [(1 - top) * weight / sum(weights) for weight in weights]
    return shares[:index] + [top] + shares[index:]


def by_name(probabilities: list[float], dataset: str = "mnist") -> dict[str, float]:
    return dict(zip(dataset_spec(dataset).class_names, probabilities, strict=True))


# Today's sentences, written out: the table must keep saying exactly these.
@pytest.mark.parametrize(
    ("probabilities", "dataset", "hint", "readout"),
    [
        (
            with_top(0.97),
            "mnist",
            "**7** with 97% confidence: digit (the shipped MNIST digits model).",
            "7 · 97%",
        ),
        (
            with_top(0.6, index=4),
            "mnist",
            "**Unsure.** Best guess 4 at only 60% (spread 66%). Try a bigger, clearer "
            "drawing (the shipped MNIST digits model).",
            "4? · 60% (unsure)",
        ),
        (
            [0.1] * 10,
            "mnist",
            "**Not a digit**, it says: no class stands out (best guess 0 at 10%, spread 100%) "
            "(the shipped MNIST digits model).",
            "Not a digit",
        ),
        (
            with_top(0.3, index=9),
            "fashion",
            "**Not clothing**, it says: no class stands out (best guess Ankle boot at 30%, "
            "spread 90%) (the shipped MNIST digits model).",
            "Not clothing",
        ),
        (
            with_top(0.95, index=0),
            "fashion",
            "**T-shirt/top** with 95% confidence: clothing (the shipped MNIST digits model).",
            "T-shirt/top · 95%",
        ),
    ],
)
def test_the_server_says_what_it_said_before(probabilities, dataset, hint, readout):
    named = by_name(probabilities, dataset)
    assert wording.hint(named, THRESHOLDS, dataset, MODEL) == hint
    assert wording.readout(named, THRESHOLDS, dataset) == readout


def test_an_empty_pad_asks_for_a_digit_or_a_clothing_item():
    assert wording.blank_hint("mnist", "m") == (
        "Draw a digit in the box: the answer appears above it as you draw (m)."
    )
    assert "Draw a clothing item" in wording.hint({}, THRESHOLDS, "fashion", "m")
    assert wording.readout(None, THRESHOLDS, "mnist") == ""


def test_the_verdict_follows_the_thresholds_at_their_edges():
    said = [
        wording.readout(by_name(with_top(top)), THRESHOLDS, "mnist")
        for top in (0.9, 0.8999, 0.6, 0.5999)
    ]
    assert said == ["7 · 90%", "7? · 90% (unsure)", "7? · 60% (unsure)", "Not a digit"]


def test_a_tie_names_the_first_class_of_the_highest_probability():
    tied = by_name([0.05, 0.4, 0.05, 0.4] + [0.1 / 6] * 6)
    assert wording.readout(tied, THRESHOLDS, "mnist") == "Not a digit"
    assert "best guess 1 at 40%" in wording.hint(tied, THRESHOLDS, "mnist", MODEL)


def test_every_template_names_only_words_the_renderer_fills():
    known = set(wording.dataset_words("mnist")) | {"model", "top", "confidence", "spread"}
    for kind in ("hint", "readout"):
        templates = wording.table("mnist")[kind]
        assert set(templates) == {"blank", *wording.ROLES}
        for template in templates.values():
            assert set(wording.PLACEHOLDER.findall(template)) <= known, template


def test_the_table_is_plain_json_with_each_datasets_words():
    for dataset in ("mnist", "fashion"):
        table = wording.table(dataset)
        assert json.loads(json.dumps(table)) == table
    assert wording.table("fashion")["words"]["Negative"] == "Not clothing"
    assert wording.table("mnist")["words"]["thing"] == "a digit"


def test_percentages_round_as_python_formats_them():
    values = [i / 20_000 for i in range(20_001)] + [0.125, 0.375, 0.605, 0.145, 0.285]
    assert all(wording.percent(value) == f"{value:.0%}" for value in values)


def test_spread_is_zero_for_one_sure_class_and_one_for_all_equal():
    assert wording.spread(by_name([1.0] + [0.0] * 9)) == 0
    assert wording.spread(by_name([0.1] * 10)) == pytest.approx(1)


def refuse_to_export(*arguments):
    raise draw.PageExportError("the page cannot run a GELU layer")


def test_the_page_payload_carries_the_table_even_for_a_model_the_page_cannot_run(monkeypatch):
    payload = json.loads(draw.page_model_json(Session()))
    assert payload["extras"]["wording"] == wording.table("mnist") and payload["layers"]

    monkeypatch.setattr(draw, "page_model", refuse_to_export)
    payload = json.loads(draw.page_model_json(Session(dataset="fashion")))
    assert "layers" not in payload
    assert payload["extras"]["wording"] == wording.table("fashion")
    assert {"sure", "unsure", "description"} <= set(payload["extras"])


def random_vectors(count: int, seed: int) -> list[list[float]]:
    """Random probability vectors, from one sure class to nearly flat."""
    generator = random.Random(seed)
    vectors = []
    for index in range(count):
        sharpness = 0.2 + 6 * index / count
        weights = [generator.random() ** sharpness for _ in range(10)]
        vectors.append([weight / sum(weights) for weight in weights])
    return vectors


def parity_cases() -> list[dict]:
    """Sure, unsure, not a digit, the thresholds' edges, ties and blanks, for both datasets,
    with the shipped models' thresholds and made-up ones."""
    vectors = [with_top(top) for top in (0.999, 0.9, 0.8999, 0.75, 0.6, 0.5999, 0.3, 0.105)]
    vectors += [[0.1] * 10, [0.05, 0.4, 0.05, 0.4] + [0.1 / 6] * 6, *random_vectors(60, seed=5)]
    cases = []
    for dataset in ("mnist", "fashion"):
        shipped = json.loads(draw.page_model_json(Session(dataset=dataset)))["extras"]
        made_up = {**shipped, "sure": 0.9, "unsure": 0.6, "description": "a model"}
        for extras in (shipped, made_up):
            for probabilities in [None, *vectors]:
                cases.append({"dataset": dataset, "extras": extras, "probabilities": probabilities})
    return cases


def server_says(case: dict) -> list[str]:
    extras = case["extras"]
    thresholds = Thresholds(extras["sure"], extras["unsure"])
    probabilities = case["probabilities"] and by_name(case["probabilities"], case["dataset"])
    return [
        wording.hint(probabilities, thresholds, case["dataset"], extras["description"]),
        wording.readout(probabilities, thresholds, case["dataset"]),
    ]


PAGE_SAYS_JS = """
(cases) => cases.map(({ names, probabilities, extras }) => [
  mnistWording.say("hint", probabilities, names, extras),
  mnistWording.say("readout", probabilities, names, extras),
])
"""


@pytest.mark.browser
def test_the_page_says_what_the_server_says_for_the_same_probabilities(browser):
    page = browser.new_page()
    page.add_script_tag(content=static_text("wording.js"))
    cases = parity_cases()
    for case in cases:
        case["names"] = list(dataset_spec(case["dataset"]).class_names)
    said = page.evaluate(PAGE_SAYS_JS, cases)
    for case, page_said in zip(cases, said, strict=True):
        assert page_said == server_says(case), case
    page.close()


# The pad as Gradio runs it: its script is a function body given element, trigger and props.
RUN_PAD_JS = """
([script, html]) => {
  const element = document.createElement("div");
  element.innerHTML = html;
  document.body.appendChild(element);
  new Function("element", "trigger", "props", "watch", script)(
    element, () => {}, { runtime: "[]" }, () => {});
}
"""
SHOW_LABEL_JS = """
([payload, label, labelToPad]) => {
  window.mnistDemoModel = payload;
  window.dispatchEvent(new Event("mnist-model"));
  (0, eval)(labelToPad)(label);
  return document.querySelector(".pad .readout").textContent;
}
"""


@pytest.mark.browser
def test_on_the_server_path_the_pad_words_the_servers_label_as_the_server_would(
    browser, monkeypatch
):
    # A model the page cannot run: the payload carries only its words, the server answers, and
    # the pad shows the Label's value (the server's probabilities) in words.
    monkeypatch.setattr(draw, "page_model", refuse_to_export)
    page = browser.new_page()
    page.evaluate(RUN_PAD_JS, [static_text("wording.js", "sketch.js"), PAD_HTML])
    to_pad = static_text("label_to_pad.js")
    for case in parity_cases()[::7]:
        session = Session(dataset=case["dataset"])
        payload = draw.page_model_json(session)
        extras = json.loads(payload)["extras"]
        probabilities = case["probabilities"] and by_name(case["probabilities"], case["dataset"])
        label = gr.Label(num_top_classes=10).postprocess(probabilities)
        value = label.model_dump() if hasattr(label, "model_dump") else label
        shown = page.evaluate(SHOW_LABEL_JS, [payload, value, to_pad])
        thresholds = Thresholds(extras["sure"], extras["unsure"])
        assert shown == wording.readout(probabilities, thresholds, case["dataset"]), case
    page.close()
