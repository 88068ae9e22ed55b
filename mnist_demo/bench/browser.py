"""``mnist-demo bench browser``: a real Chromium draws all ten digits on the page's pad and on the
old gr.Sketchpad (``?canvas=sketchpad``) of the same server, in one run, and times pointer-up to
the final probabilities on screen, counts the requests each stroke makes, and weighs the page;
then a 4-digit number on the pad (mnist_demo.bench.browser_numbers).

Needs Playwright (the test extra) and a Chromium: Debian's ``chromium`` or ``--chromium PATH``.
"""

from __future__ import annotations

import shutil
import sys

import numpy as np

from mnist_demo.bench.api import free_port
from mnist_demo.bench.browser_drawing import QUIET_MS, TIMER_STEP_JS, draw_and_time, quiet, surface
from mnist_demo.samples.templates import TEMPLATES

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # Offline (as here, or a class's network): without these Chromium keeps dialling out.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Records every change of the probabilities on screen, and each pointer-up, in page time.
RECORDER_JS = """
() => {
  window.benchChanges = [];
  window.benchUps = [];
  const label = document.querySelector('#prediction');
  new MutationObserver(() => window.benchChanges.push([performance.now(), label.innerText]))
    .observe(label, { subtree: true, childList: true, characterData: true });
  document.addEventListener('pointerup', () => window.benchUps.push(performance.now()), true);
}
"""
DOCUMENTED_TIMER_STEP_MS = 0.1  # Used if the page's clock did not move during the measurement.


def strokes_of(digit: str, box: dict) -> list[list[tuple[float, float]]]:
    """The template's strokes in page coordinates, in the middle of the square drawing area
    (the Sketchpad's canvas element is wider than the 280x280 area it draws in)."""
    side = min(box["width"], box["height"])
    size = 0.6 * side
    left = box["x"] + (box["width"] - 0.7 * size) / 2
    top = box["y"] + (box["height"] - size) / 2
    return [
        [(left + 0.7 * x * size, top + y * size) for x, y in stroke] for stroke in TEMPLATES[digit]
    ]


def clear(page, path: str) -> None:
    if path == "pad":
        page.locator("#sketch .clear").click()
    else:
        page.locator('#sketchpad button[aria-label="Clear canvas"]').click()
        page.locator('#sketchpad button[aria-label="Brush"]').click()  # Clear drops the brush.
    quiet(page, QUIET_MS[path])


def measure_path(browser, url: str, path: str, repeats: int, digits: str) -> dict:
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    requests: list[str] = []
    weights: list[int] = []
    page.on("request", lambda request: requests.append(request.url))
    page.on("requestfinished", lambda request: weights.append(request.sizes()["responseBodySize"]))
    page.goto(url + ("?canvas=sketchpad" if path == "sketchpad" else ""))
    selector = "#sketch" if path == "pad" else "#sketchpad"
    if path == "pad":
        page.wait_for_function(
            "() => document.querySelector('#sketch canvas')?.dataset.model", timeout=60_000
        )
    box = surface(page, selector)
    page.wait_for_timeout(1500)  # The Sketchpad's brush is clicked for the visitor on load.
    page_weight = sum(weights)
    timer_step = page.evaluate(TIMER_STEP_JS) or DOCUMENTED_TIMER_STEP_MS
    page.evaluate(RECORDER_JS)
    latencies, counts, right = [], [], 0
    for _ in range(repeats):
        for digit in digits:
            for points in strokes_of(digit, box):
                milliseconds, count = draw_and_time(page, points, QUIET_MS[path], requests)
                latencies.append(milliseconds)
                counts.append(count)
            right += page.locator("#hint").inner_text().startswith(f"{digit} with")
            print(f"{path}: drew {digit}, {latencies[-1]:.0f} ms", file=sys.stderr, flush=True)
            clear(page, path)
    page.close()
    return {
        "strokes": len(latencies),
        "pointer_up_to_final_p50_ms": round(float(np.percentile(latencies, 50)), 1),
        "pointer_up_to_final_p90_ms": round(float(np.percentile(latencies, 90)), 1),
        "requests_per_stroke": round(float(np.mean(counts)), 2),
        "digits_read_right": f"{right}/{repeats * len(digits)}",
        "first_visit_bytes": page_weight,
        "timer_resolution_ms": round(float(timer_step), 4),
    }


def speedup(pad: dict, old: dict) -> dict:
    """How many times sooner the pad's median stroke shows its final answer than the old
    Sketchpad's, as the report's JSON fields.

    Both medians are differences of two ``performance.now()`` readings, which the browser
    coarsens to the pad's ``timer_resolution_ms`` (one tick), so each is off by less than a tick.

    - The pad's median is one tick or more: ``{"p50_speedup": old / pad}``, a number.
    - It is under one tick (usually 0 ms: the answer computed during the stroke was already the
      final one at pointer-up): no ratio can be measured. ``"p50_speedup"`` is null,
      ``"p50_speedup_at_least"`` is old / (pad + one tick), a lower bound (the true ratio may be
      any larger), and ``"p50_speedup_note"`` says why.
    """
    tick = pad["timer_resolution_ms"]
    if tick <= 0:
        raise ValueError(f"the timer resolution must be positive, not {tick} ms")
    pad_ms, old_ms = pad["pointer_up_to_final_p50_ms"], old["pointer_up_to_final_p50_ms"]
    if pad_ms >= tick:
        return {"p50_speedup": round(old_ms / pad_ms, 1)}
    return {
        "p50_speedup": None,
        "p50_speedup_at_least": round(old_ms / (pad_ms + tick), 1),
        "p50_speedup_note": (
            f"the pad's median ({pad_ms} ms) is under the page timer's resolution ({tick} ms): "
            "its answer was on screen when the pen lifted (or within a tick), so only a lower "
            "bound of the speedup can be measured"
        ),
    }


def bench_browser(
    repeats: int = 2, chromium: str | None = None, digits: str = "0123456789"
) -> dict:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise ValueError("bench browser needs Playwright: pip install -e '.[test]'") from None
    unknown = sorted(set(digits) - set(TEMPLATES))
    if unknown or not digits:
        raise ValueError(f"--digits takes digits 0-9, not {''.join(unknown) or 'nothing'}")
    executable = chromium or shutil.which("chromium") or "/usr/bin/chromium"
    if not shutil.which(executable):
        raise ValueError(
            f"no Chromium at {executable}: install Debian's chromium or pass --chromium"
        )
    from mnist_demo.bench.browser_numbers import measure_number
    from mnist_demo.serving.session import Session
    from mnist_demo.ui import build_demo, launch_options
    from mnist_demo.ui.tabs.draw import page_model_json

    demo = build_demo()
    options = {**launch_options(), "server_name": "127.0.0.1", "server_port": free_port()}
    demo.launch(prevent_thread_lock=True, quiet=True, **options)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
            try:
                results = {
                    path: measure_path(browser, demo.local_url, path, repeats, digits)
                    for path in ("pad", "sketchpad")
                }
                number = measure_number(browser, demo.local_url, max(repeats, 3))
            finally:
                browser.close()
    finally:
        demo.close(verbose=False)  # Its goodbye line would break --json.
    pad, old = results["pad"], results["sketchpad"]
    return {
        "pad_in_page": pad,
        "old_sketchpad": old,
        **speedup(pad, old),
        "number_in_page": number,
        "model_payload_bytes": len(page_model_json(Session())),
    }
