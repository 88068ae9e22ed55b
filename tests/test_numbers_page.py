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

from mnist_demo.numbers.blobs import components
from mnist_demo.numbers.read import Reader, read_number
from mnist_demo.numbers.segment import segment
from mnist_demo.numbers.settings import SETTINGS
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
PANEL = "numbers_steps.js"  # The "How it splits" panel's steps (no DOM needed to describe them).
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
        for name in (*SCRIPTS, "numbers.js", PANEL):
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


STEPS_JS = """
([encoded, height, width, top, left, cropHeight, cropWidth]) => {
  const crop = Uint8Array.from(atob(encoded), (c) => c.charCodeAt(0));
  const ink = new Uint8Array(height * width);
  for (let y = 0; y < cropHeight; y++) {
    ink.set(crop.subarray(y * cropWidth, (y + 1) * cropWidth), (top + y) * width + left);
  }
  const reading = mnistNumbers.read(ink, height, width, window.numberPayload, window.numberLayers);
  const box = (b) => [b.top, b.left, b.bottom, b.right];
  const words = window.numberPayload.extras.splits;
  return mnistNumberSteps.describe(reading, words).map((step) => ({
    title: step.title, boxes: step.boxes.map(box),
    chosen: step.cuts.filter((cut) => cut.chosen).map((cut) => [cut.top, cut.left, cut.columns]),
  }));
}
"""


def python_steps(ink: np.ndarray, predictor) -> dict:
    """The same steps by mnist_demo.numbers (as read_number takes them)."""
    found = segment(ink)
    boxes = [[p.box.top, p.box.left, p.box.bottom, p.box.right] for p in found.pieces]
    reader = Reader(ink, found.grid, found.labels, predictor, SETTINGS.max_reads)
    merged = reader.merge_close(found.pieces, SETTINGS)
    median = float(np.median([piece.box.height for piece in merged]))
    chosen = []
    for piece in merged:
        for part in reader.parts(piece, SETTINGS, median):
            cuts = [cut for cut in part if cut is not None]
            chosen += [[piece.box.top, piece.box.left, list(cut.columns)] for cut in cuts]
    return {
        "blobs": [
            [p.box.top, p.box.left, p.box.bottom, p.box.right] for p in components(found.grid)[1]
        ],
        "pieces": sorted(boxes),
        "merged": [[p.box.top, p.box.left, p.box.bottom, p.box.right] for p in merged],
        "chosen": sorted(set(map(str, chosen))),  # A cut between two parts, once.
    }


def test_how_it_splits_shows_the_steps_python_takes(page):
    """The panel's steps (static/numbers_steps.js, from the reader's own record) against
    mnist_demo.numbers step by step: the blobs, the pieces, the close neighbours joined, the
    cuts chosen, and as many digits as read_number reads."""
    predictor = shipped_predictor("mnist")
    checked = Counter()
    for number in iter_numbers(40, "touching", train=True, seed=22):
        ink = to_ink(number.image)
        steps = page.evaluate(STEPS_JS, page_item(ink))
        python = python_steps(ink, predictor)
        assert [step["title"][:2] for step in steps] == [f"{i}." for i in range(1, 8)]
        assert steps[0]["boxes"] == python["blobs"]
        assert sorted(steps[3]["boxes"]) == python["pieces"]
        chosen = sorted(str(cut) for cut in steps[5]["chosen"])
        if steps[4]["boxes"] == python["merged"] and chosen == python["chosen"]:
            checked["same merges and cuts"] += 1
        checked["cuts chosen"] += len(chosen)
        checked["same digit count"] += len(steps[6]["boxes"]) == len(
            read_number(number.image, predictor).digits
        )
    print("\nHow it splits:", dict(checked))
    assert checked["cuts chosen"] >= 10  # Touching digits: the cut steps are exercised.
    assert checked["same merges and cuts"] >= 38, checked
    assert checked["same digit count"] >= 38, checked
