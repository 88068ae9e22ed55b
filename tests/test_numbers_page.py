"""The page's whole-number reading (static/numbers*.js) against mnist_demo.read_number, in real
Chromium: composed numbers of training digits (both gap styles, fixed seeds), the page given each
one's ink map (its canvas's alpha channel) and the payload the Draw tab sends (shipped model,
SegmentSettings, wording), Python given the drawing itself.

Segmentation is a faithful port, but the cuts are chosen by each side's own network: where two
ways of cutting score within a float's noise the sides may choose apart. So the figures are
counted, printed (``-s``) and held to bars, rather than demanded on every number.
"""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

from mnist_demo.numbers.read import read_number
from mnist_demo.recognition.inference import shipped_predictor
from mnist_demo.recognition.ink import to_ink
from mnist_demo.samples.numbers import iter_numbers
from mnist_demo.serving.session import Session
from mnist_demo.ui.tabs.draw import page_model_json

from .helpers import STATIC_DIR, chromium
from .test_page_parity import TOLERANCE, page_item

pytestmark = [pytest.mark.slow, pytest.mark.browser]

PER_GAPS = 150  # Numbers per gap style: 300 in all.
BATCH = 10
SCRIPTS = ("wording.js", "preprocess.js", "cnn.js", "numbers_segment.js", "numbers_cuts.js")
READ_BATCH_JS = """
([items]) => items.map(([encoded, height, width, top, left, cropHeight, cropWidth]) => {
  const crop = Uint8Array.from(atob(encoded), (c) => c.charCodeAt(0));
  const ink = new Uint8Array(height * width);
  for (let y = 0; y < cropHeight; y++) {
    ink.set(crop.subarray(y * cropWidth, (y + 1) * cropWidth), (top + y) * width + left);
  }
  const r = mnistNumbers.read(ink, height, width, window.numberPayload, window.numberLayers);
  return { number: r.number, verdict: r.verdict, reason: r.reason, lone: r.lone,
    digits: r.digits.map((d) => ({ box: d.box, top: d.top, verdict: d.verdict,
      probabilities: d.probabilities ? Array.from(d.probabilities) : null })) };
})
"""


@pytest.fixture(scope="module")
def page():
    payload = json.loads(page_model_json(Session()))
    with chromium() as browser:
        page = browser.new_page()
        for name in (*SCRIPTS, "numbers.js"):
            page.add_script_tag(content=(STATIC_DIR / name).read_text())
        page.evaluate(
            "(p) => { window.numberPayload = p; window.numberLayers = mnistCnn.compile(p); }",
            payload,
        )
        yield page


def box_off(page_box: dict, box) -> int:
    return max(
        abs(page_box[side] - getattr(box, side)) for side in ("top", "left", "bottom", "right")
    )


def compare(page, numbers) -> Counter:
    """Reads every number both ways; counts what agrees (and the worst probability gap)."""
    predictor = shipped_predictor("mnist")
    tally: Counter = Counter()
    worst = 0.0
    batch = [(number, read_number(number.image, predictor)) for number in numbers]
    for start in range(0, len(batch), BATCH):
        chunk = batch[start : start + BATCH]
        items = [page_item(to_ink(number.image)) for number, _ in chunk]
        answers = page.evaluate(READ_BATCH_JS, [items])
        for (number, server), answer in zip(chunk, answers, strict=True):
            tally["numbers"] += 1
            same_count = len(answer["digits"]) == len(server.digits)
            tally["same count"] += same_count
            tally["same number"] += answer["number"] == server.number
            tally["same verdict"] += answer["verdict"] == server.verdict
            tally["same reason"] += answer["reason"] == server.reason
            tally["right (page)"] += answer["number"] == number.label
            tally["right (server)"] += server.number == number.label
            if not same_count:
                continue
            tally["same everything"] += answer["number"] == server.number and (
                answer["verdict"] == server.verdict
            )
            for mine, theirs in zip(answer["digits"], server.digits, strict=True):
                tally["digits"] += 1
                tally["boxes within a pixel"] += box_off(mine["box"], theirs.box) <= 1
                tally["same digit"] += mine["top"] == theirs.top
                tally["same digit verdict"] += mine["verdict"] == theirs.verdict
                if mine["probabilities"] and mine["box"] == {
                    "top": theirs.box.top,
                    "left": theirs.box.left,
                    "bottom": theirs.box.bottom,
                    "right": theirs.box.right,
                }:
                    gap = np.abs(
                        np.array(mine["probabilities"]) - list(theirs.probabilities.values())
                    )
                    worst = max(worst, float(gap.max()))
    tally["worst probability gap x1e6"] = round(worst * 1e6)
    return tally


def test_the_page_reads_composed_numbers_as_the_server_does(page):
    numbers = [
        *iter_numbers(PER_GAPS, "clear", train=True, seed=21),
        *iter_numbers(PER_GAPS, "touching", train=True, seed=21),
    ]
    clear, touching = compare(page, numbers[:PER_GAPS]), compare(page, numbers[PER_GAPS:])
    print("\nclear:", dict(clear), "\ntouching:", dict(touching))
    for tally, bar in ((clear, 0.98), (touching, 0.93)):
        assert tally["same count"] >= bar * tally["numbers"], tally
        assert tally["same everything"] >= bar * tally["numbers"], tally
        assert tally["boxes within a pixel"] >= 0.99 * tally["digits"], tally
        assert tally["same digit"] >= 0.99 * tally["digits"], tally
        assert tally["worst probability gap x1e6"] <= TOLERANCE * 1e6, tally
