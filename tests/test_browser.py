"""A real browser: headless Chromium (Debian's package) driven by Playwright draws on the canvas."""

from __future__ import annotations

import shutil

import pytest

from mnist_demo.ui import build_demo, launch_options
from mnist_demo.ui.trainer import Budget

from .test_app_e2e import free_port

pytestmark = [pytest.mark.slow, pytest.mark.browser]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # This machine has no internet: without these Chromium keeps dialling out.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def app_url():
    # A short server-side budget keeps the browser's default retrain to a few seconds.
    demo = build_demo(Budget(max_epochs=1, max_seconds=8, threads=1))
    options = {**launch_options(), "server_port": free_port(), "server_name": "127.0.0.1"}
    demo.launch(prevent_thread_lock=True, quiet=True, **options)
    try:
        yield demo.local_url
    finally:
        demo.close()


@pytest.fixture(scope="module")
def page(app_url):
    sync_api = pytest.importorskip("playwright.sync_api")
    if not shutil.which(CHROMIUM):
        pytest.fail(f"Chromium not found at {CHROMIUM}: install Debian's 'chromium' package")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.goto(app_url)
        yield page
        browser.close()


def canvas_box(page):
    """The drawing surface: the largest canvas inside the Sketchpad."""
    page.wait_for_selector("#sketch canvas", timeout=30_000)
    boxes = [c.bounding_box() for c in page.query_selector_all("#sketch canvas")]
    boxes = [b for b in boxes if b]
    return max(boxes, key=lambda b: b["width"] * b["height"])


def stroke(page, box, points):
    """Draw one stroke through points given as fractions of the canvas."""
    x0, y0 = box["x"], box["y"]
    first, *rest = points
    page.mouse.move(x0 + first[0] * box["width"], y0 + first[1] * box["height"])
    page.mouse.down()
    for fx, fy in rest:
        page.mouse.move(x0 + fx * box["width"], y0 + fy * box["height"], steps=12)
    page.mouse.up()


def test_drawing_a_seven_shows_the_prediction(page, artifacts_dir):
    box = canvas_box(page)
    page.wait_for_timeout(500)  # The brush is selected on load (gradio 6.31 starts with none).
    stroke(page, box, [(0.3, 0.25), (0.7, 0.25), (0.45, 0.8)])
    prediction = page.locator("#prediction")
    prediction.get_by_text("7").first.wait_for(timeout=20_000)
    hint = page.locator("#hint").inner_text()
    assert "7" in hint, hint
    page.screenshot(path=str(artifacts_dir / "draw_tab.png"), full_page=True)


def chart_image(page, selector: str) -> bytes:
    return page.locator(selector).screenshot()


def test_a_tiny_retrain_updates_the_charts(page, artifacts_dir):
    page.get_by_role("tab", name="Retrain").click()
    before = chart_image(page, "#loss-chart")
    page.locator("#start").click()
    status = page.locator("#train-status")
    status.get_by_text("step").first.wait_for(timeout=60_000)
    page.wait_for_timeout(1500)
    during = chart_image(page, "#loss-chart")
    status.get_by_text("test accuracy").first.wait_for(timeout=60_000)
    page.wait_for_timeout(1000)
    after = chart_image(page, "#loss-chart")
    assert before != during != after
    # The Draw tab's seven, re-classified by the model in training.
    assert page.locator("#watch").inner_text().strip()
    page.screenshot(path=str(artifacts_dir / "retrain_tab.png"), full_page=True)
