"""``mnist-demo bench browser``'s whole number: a real Chromium draws a 4-digit number on the
page's pad, stroke by stroke, and times pointer-up to the number's answer above the pad (the
readout, which static/numbers.js computes in the page), counts the requests each stroke makes,
and times the in-page read of the finished number alone, with the network's memory of earlier
pictures emptied (every digit read afresh) and as the pad reads it.
"""

from __future__ import annotations

import sys

import numpy as np

from mnist_demo.bench.browser_drawing import QUIET_MS, TIMER_STEP_JS, draw_and_time, quiet, surface
from mnist_demo.samples.templates import TEMPLATES

NUMBER = "4213"
# Every change of the answer above the pad, and each pointer-up, in page time.
RECORDER_JS = """
() => {
  window.benchChanges = [];
  window.benchUps = [];
  const readout = document.querySelector('#sketch .readout');
  new MutationObserver(() => window.benchChanges.push([performance.now(), readout.innerText]))
    .observe(readout, { subtree: true, childList: true, characterData: true });
  document.addEventListener('pointerup', () => window.benchUps.push(performance.now()), true);
}
"""
# The finished drawing read again in the page: fresh (a newly compiled model, so nothing is
# remembered) and warm (the pad's own model), ``runs`` times each; milliseconds.
READ_AGAIN_JS = """
(runs) => {
  const canvas = document.querySelector('#sketch canvas');
  const rgba = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  const ink = new Uint8Array(canvas.width * canvas.height);
  for (let i = 0; i < ink.length; i++) ink[i] = rgba[4 * i + 3];
  const { payload, layers } = window.mnistSketch.runtime;
  const fresh = [], warm = [];
  let number = '';
  for (let i = 0; i < runs; i++) {
    const compiled = mnistCnn.compile(payload);
    let started = performance.now();
    number = mnistNumbers.read(ink, canvas.height, canvas.width, payload, compiled).number;
    fresh.push(performance.now() - started);
    started = performance.now();
    mnistNumbers.read(ink, canvas.height, canvas.width, payload, layers);
    warm.push(performance.now() - started);
  }
  return { fresh, warm, number };
}
"""


def number_strokes(number: str, box: dict) -> list[list[tuple[float, float]]]:
    """The digits' template strokes side by side across the pad, with room between them."""
    slot = 0.9 * box["width"] / len(number)
    size = min(slot / 0.7 * 0.85, 0.5 * box["height"])
    strokes = []
    for position, digit in enumerate(number):
        left = box["x"] + 0.05 * box["width"] + position * slot + (slot - 0.7 * size) / 2
        top = box["y"] + (box["height"] - size) / 2
        strokes += [
            [(left + 0.7 * x * size, top + y * size) for x, y in stroke]
            for stroke in TEMPLATES[digit]
        ]
    return strokes


def percentiles(values: list[float]) -> dict:
    return {
        "p50_ms": round(float(np.percentile(values, 50)), 1),
        "p95_ms": round(float(np.percentile(values, 95)), 1),
    }


def measure_number(browser, url: str, repeats: int, number: str = NUMBER) -> dict:
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(url)
    page.wait_for_function(
        "() => document.querySelector('#sketch canvas')?.dataset.model", timeout=60_000
    )
    box = surface(page, "#sketch")
    page.wait_for_timeout(1500)
    timer_step = page.evaluate(TIMER_STEP_JS)
    page.evaluate(RECORDER_JS)
    every, last, counts, fresh, warm, right = [], [], [], [], [], 0
    for _ in range(repeats):
        for points in number_strokes(number, box):
            milliseconds, count = draw_and_time(page, points, QUIET_MS["pad"], requests)
            every.append(milliseconds)
            counts.append(count)
        last.append(every[-1])
        again = page.evaluate(READ_AGAIN_JS, 5)
        fresh += again["fresh"]
        warm += again["warm"]
        right += page.locator("#sketch .readout").inner_text().strip() == number
        print(f"number: drew {number}, {last[-1]:.0f} ms", file=sys.stderr, flush=True)
        page.locator("#sketch .clear").click()
        quiet(page, QUIET_MS["pad"])
    page.close()
    return {
        "number": number,
        "strokes": len(every),
        "pointer_up_to_answer": percentiles(every),
        "pointer_up_to_answer_last_stroke": percentiles(last),
        "read_fresh": percentiles(fresh),
        "read_as_the_pad_does": percentiles(warm),
        "requests_per_stroke": round(float(np.mean(counts)), 2),
        "numbers_read_right": f"{right}/{repeats}",
        "timer_resolution_ms": timer_step,
    }
