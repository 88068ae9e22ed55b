"""The page's preprocessing and network (static/preprocess.js, static/cnn.js) against the
server's, in real Chromium: the same top class on every drawing, every probability within 0.01.

The drawings are the drawing-style digits of mnist_demo.samples.drawings, at least 500 of every
colour convention; the page gets each one's ink map (what its canvas gives it: the alpha channel),
the server gets the drawing itself.
"""

from __future__ import annotations

import base64
from collections import Counter

import numpy as np
import pytest

from mnist_demo.config import dataset_spec
from mnist_demo.recognition.inference import shipped_predictor
from mnist_demo.recognition.ink import to_ink
from mnist_demo.recognition.page_model import page_model
from mnist_demo.samples.drawings import CONVENTIONS, iter_drawings

from .helpers import STATIC_DIR, chromium

pytestmark = [pytest.mark.slow, pytest.mark.browser]

PER_CONVENTION = 500
TOLERANCE = 0.01
BATCH = 25

RUN_BATCH_JS = """
([payload, items]) => {
  const layers = window.layersFor(payload);
  return items.map(([encoded, height, width, top, left, cropHeight, cropWidth]) => {
    const crop = Uint8Array.from(atob(encoded), (c) => c.charCodeAt(0));
    const ink = new Uint8Array(height * width);
    for (let y = 0; y < cropHeight; y++) {
      ink.set(crop.subarray(y * cropWidth, (y + 1) * cropWidth), (top + y) * width + left);
    }
    const prepared = mnistPreprocess.preprocess(ink, height, width, payload.preprocess);
    if (prepared.blank) return null;
    const logits = mnistCnn.forward(layers, prepared.tensor, [1, 28, 28]);
    return mnistCnn.softmax(logits);
  });
}
"""
SETUP_JS = """
() => { const cache = new Map();
  window.layersFor = (payload) => {
    if (!cache.has(payload.id)) cache.set(payload.id, mnistCnn.compile(payload));
    return cache.get(payload.id);
  };
}
"""


def page_item(ink: np.ndarray) -> list:
    """The ink's nonzero part and where it sits: the rest of the canvas is zeros."""
    rows, columns = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    top, left = (int(rows[0]), int(columns[0])) if rows.size else (0, 0)
    bottom, right = (int(rows[-1]) + 1, int(columns[-1]) + 1) if rows.size else (0, 0)
    crop = np.ascontiguousarray(ink[top:bottom, left:right])
    encoded = base64.b64encode(crop.tobytes()).decode("ascii")
    return [encoded, *ink.shape, top, left, bottom - top, right - left]


@pytest.fixture(scope="module")
def page():
    with chromium() as browser:
        page = browser.new_page()
        for name in ("cnn.js", "preprocess.js"):
            page.add_script_tag(content=(STATIC_DIR / name).read_text())
        page.evaluate(SETUP_JS)
        yield page


def compare(page, dataset: str, drawings) -> tuple[Counter, float]:
    predictor = shipped_predictor(dataset)
    served = predictor._served
    payload = page_model(served.model, served.spec, served.class_names)
    per_convention: Counter = Counter()
    worst = 0.0
    batch: list = []

    def flush() -> None:
        nonlocal worst
        answers = page.evaluate(RUN_BATCH_JS, [payload, [item for _, item, _ in batch]])
        for (drawing, _, reference), answer in zip(batch, answers, strict=True):
            if reference.blank:
                assert answer is None, drawing.source_index
                continue
            assert answer is not None, f"the page found no digit in {drawing.source_index}"
            server = np.array(list(reference.probabilities.values()))
            assert int(np.argmax(answer)) == int(np.argmax(server)), drawing.source_index
            worst = max(worst, float(np.abs(np.array(answer) - server).max()))
            per_convention[drawing.convention] += 1
        batch.clear()

    for drawing in drawings:
        batch.append(
            (drawing, page_item(to_ink(drawing.image)), predictor.predict_full(drawing.image))
        )
        if len(batch) == BATCH:
            flush()
    flush()
    return per_convention, worst


def test_the_page_reads_every_drawing_as_the_server_does(page):
    count = PER_CONVENTION * len(CONVENTIONS)
    per_convention, worst = compare(page, "mnist", iter_drawings(count, seed=3))
    assert worst <= TOLERANCE, worst
    assert all(per_convention[name] >= PER_CONVENTION - 5 for name in CONVENTIONS), per_convention


def test_the_page_reads_fashion_drawings_as_the_server_does(page):
    # Fashion-MNIST centres by box, not by mass, and fits into 28 pixels, not 20.
    assert not dataset_spec("fashion").centre_by_mass
    per_convention, worst = compare(page, "fashion", iter_drawings(300, seed=4))
    assert worst <= TOLERANCE, worst
    assert sum(per_convention.values()) >= 290
