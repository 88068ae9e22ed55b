"""Drawing strokes in a real Chromium and timing the answer, for ``mnist-demo bench browser``
(mnist_demo.bench.browser draws digits, mnist_demo.bench.browser_numbers a whole number)."""

from __future__ import annotations

QUIET_MS = {"pad": 400, "sketchpad": 2500}  # No change for this long: the answer is final.
# The smallest step performance.now() takes in the page. Browsers coarsen the clock against timing
# attacks: the High Resolution Time spec asks for 100 us at least unless the page is cross-origin
# isolated (5 us), which is what Chromium does.
TIMER_STEP_JS = """
() => {
  let least = Infinity, last = performance.now(), steps = 0;
  for (let i = 0; i < 1e6 && steps < 50; i++) {
    const now = performance.now();
    if (now > last) { least = Math.min(least, now - last); last = now; steps++; }
  }
  return Number.isFinite(least) ? least : null;
}
"""


def surface(page, selector: str) -> dict:
    """The largest canvas inside ``selector``, scrolled into view."""
    page.wait_for_selector(f"{selector} canvas", timeout=60_000)
    page.locator(selector).scroll_into_view_if_needed()
    boxes = [c.bounding_box() for c in page.query_selector_all(f"{selector} canvas")]
    return max((b for b in boxes if b), key=lambda b: b["width"] * b["height"])


def quiet(page, milliseconds: int) -> None:
    """Wait until neither the probabilities nor the pen have moved for ``milliseconds``."""
    while True:
        page.wait_for_timeout(milliseconds / 4)
        since = page.evaluate(
            "() => performance.now() - Math.max(0, ...window.benchUps,"
            " ...window.benchChanges.map(c => c[0]))"
        )
        if since >= milliseconds:
            return


def draw_and_time(page, points, quiet_ms: int, requests: list) -> tuple[float, int]:
    """One stroke: (ms from pointer-up to the final probabilities, requests it caused)."""
    page.evaluate("() => { window.benchChanges = []; window.benchUps = []; }")
    before = len(requests)
    page.mouse.move(*points[0])
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(x, y, steps=8)
    page.mouse.up()
    quiet(page, quiet_ms)
    changes, ups = page.evaluate("() => [window.benchChanges, window.benchUps]")
    up = ups[-1]
    final = changes[-1][1] if changes else None
    # The answer is final from the first change after pointer-up that shows what stays.
    settled = [at for at, text in changes if at >= up and text == final]
    return (settled[0] - up if settled else 0.0), len(requests) - before
