"""Drawing on the page's own pad in real Chromium: the answer computed in the page while the
stroke is drawn, with no request; Clear; a phone with a finger; the page switching models; the
server path when the page's scripts cannot load."""

from __future__ import annotations

import re
import time

import pytest

from mnist_demo.serving.trainer import Budget

from .helpers import served_app
from .test_browser import canvas_box, stroke

pytestmark = [pytest.mark.slow, pytest.mark.browser]

SEVEN = [(0.3, 0.25), (0.7, 0.25), (0.45, 0.8)]
ONE = [(0.5, 0.2), (0.5, 0.8)]
STAR = [(0.5, 0.15), (0.7, 0.8), (0.18, 0.38), (0.82, 0.38), (0.3, 0.8), (0.5, 0.15)]
MODEL_ID_JS = "() => document.querySelector('#sketch canvas')?.dataset.model"


app_url = served_app(Budget(max_epochs=1, max_seconds=8, threads=1))


def open_app(browser, url: str, **options):
    page = browser.new_page(**({"viewport": {"width": 1280, "height": 1000}} | options))
    page.requests = []
    page.on("request", lambda request: page.requests.append(request.url))
    page.goto(url)
    return page


def ready(page) -> str:
    page.wait_for_function(MODEL_ID_JS, timeout=30_000)
    return page.evaluate(MODEL_ID_JS)


def server_calls(urls: list[str]) -> list[str]:
    return [url for url in urls if "/gradio_api/" in url and "file=" not in url]


def test_the_answer_appears_while_drawing_and_after_with_no_request(browser, app_url):
    page = open_app(browser, app_url)
    ready(page)
    box = canvas_box(page)
    before = len(page.requests)
    page.mouse.move(box["x"] + 0.3 * box["width"], box["y"] + 0.25 * box["height"])
    page.mouse.down()
    # The top bar of a seven, drawn over about a second.
    for step in range(1, 21):
        x = 0.3 + 0.4 * step / 20
        page.mouse.move(box["x"] + x * box["width"], box["y"] + 0.25 * box["height"])
        page.wait_for_timeout(50)
    during = page.evaluate("window.mnistSketch.predictions")
    assert during >= 8, f"{during} answers in a one-second stroke: fewer than one per 100 ms"
    assert page.locator("#sketch .readout").inner_text().strip()  # Shown before pointer-up.
    page.mouse.move(box["x"] + 0.45 * box["width"], box["y"] + 0.8 * box["height"], steps=12)
    page.mouse.up()
    page.locator("#prediction").get_by_text("7").first.wait_for(timeout=5_000)
    assert page.locator("#hint").inner_text().startswith("7 with")
    assert page.locator("#model-input img").get_attribute("src").startswith("data:image/png")
    page.wait_for_timeout(1000)
    assert server_calls(page.requests[before:]) == []
    page.close()


def test_clear_leaves_the_pen_ready(browser, app_url):
    page = open_app(browser, app_url)
    ready(page)
    stroke(page, canvas_box(page), SEVEN)
    page.locator("#prediction").get_by_text("7").first.wait_for(timeout=5_000)
    page.locator("#sketch .clear").click()
    page.locator("#hint").get_by_text("Draw a digit").wait_for(timeout=5_000)
    stroke(page, canvas_box(page), ONE)
    page.locator("#hint").get_by_text("1 with").wait_for(timeout=5_000)
    page.locator("#sketch .undo").click()  # Undo takes the one away again.
    page.locator("#hint").get_by_text("Draw a digit").wait_for(timeout=5_000)
    page.close()


def test_the_answer_above_the_pad_carries_the_verdict(browser, app_url):
    page = open_app(browser, app_url)
    ready(page)
    stroke(page, canvas_box(page), STAR)  # The shipped model spreads its bets: about 10% each.
    page.locator("#hint").get_by_text("Not a digit").wait_for(timeout=5_000)
    assert page.locator("#sketch .readout").inner_text().strip() == "Not a digit"
    page.locator("#sketch .clear").click()
    stroke(page, canvas_box(page), SEVEN)
    page.locator("#sketch .readout").get_by_text(re.compile(r"^7 · \d+%$")).wait_for(timeout=5_000)
    page.close()


def touch_stroke(page, box, points) -> None:
    """A finger drawing through ``points`` (fractions of the pad), as a phone sends it."""
    cdp = page.context.new_cdp_session(page)
    at = [
        {"x": box["x"] + fx * box["width"], "y": box["y"] + fy * box["height"]} for fx, fy in points
    ]
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [at[0]]})
    for start, end in zip(at, at[1:], strict=False):
        for step in range(1, 11):
            point = {key: start[key] + (end[key] - start[key]) * step / 10 for key in start}
            cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [point]})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})


def test_a_phone_draws_with_a_finger_and_sees_the_answer(browser, app_url, artifacts_dir):
    page = open_app(
        browser,
        app_url,
        viewport={"width": 390, "height": 844},
        has_touch=True,
        is_mobile=True,
        device_scale_factor=2,
    )
    ready(page)
    box = canvas_box(page)
    assert box["y"] + box["height"] <= 844, box  # The whole pad is on screen...
    scrolled = page.evaluate("window.scrollY")
    touch_stroke(page, box, SEVEN)
    readout = page.locator("#sketch .readout")
    readout.get_by_text("7").wait_for(timeout=5_000)
    assert page.evaluate("window.scrollY") == scrolled  # ...and the finger drew, not scrolled.
    shown = readout.bounding_box()
    assert shown and shown["y"] >= 0 and shown["y"] + shown["height"] <= 844
    page.screenshot(path=str(artifacts_dir / "phone_draw.png"))
    page.close()


def test_the_page_runs_the_sessions_model_after_a_switch_or_a_retrain(browser, app_url):
    page = open_app(browser, app_url)
    shipped = ready(page)
    page.get_by_role("radio", name="Fashion-MNIST").first.click()
    page.wait_for_function(f"() => ({MODEL_ID_JS})() !== '{shipped}'", timeout=10_000)
    fashion = page.evaluate(MODEL_ID_JS)
    page.get_by_role("radio", name="MNIST digits").first.click()
    page.wait_for_function(f"() => ({MODEL_ID_JS})() === '{shipped}'", timeout=10_000)

    page.get_by_role("tab", name="Retrain").click()
    page.locator("#start").click()
    assert page.locator("#stop").is_visible() and not page.locator("#start").is_visible()
    page.locator("#train-status").get_by_text("test accuracy").first.wait_for(timeout=120_000)
    finished = time.monotonic()
    # The run just made is used at once, with no click, and the model line says so.
    retrained = f"() => ![undefined, '{shipped}', '{fashion}'].includes(({MODEL_ID_JS})())"
    page.wait_for_function(retrained, timeout=10_000)
    elapsed = time.monotonic() - finished
    assert elapsed < 1.5, f"the page had the retrained model {elapsed:.2f} s after the run"
    page.locator("#model-words").get_by_text("In use: your retrained").wait_for(timeout=5_000)
    page.locator("#start").wait_for(timeout=5_000)  # Start is back in Stop's place.
    assert not page.locator("#stop").is_visible()
    page.get_by_role("tab", name="Draw").click()
    stroke(page, canvas_box(page), SEVEN)
    page.locator("#hint").get_by_text("your retrained").wait_for(timeout=5_000)
    # The way back, and back again to the visitor's model.
    page.locator("#shipped-model").click()
    page.wait_for_function(f"() => ({MODEL_ID_JS})() === '{shipped}'", timeout=10_000)
    page.locator("#hint").get_by_text("the shipped").wait_for(timeout=5_000)
    page.locator("#model-words").get_by_text("Kept for this visit").wait_for(timeout=5_000)
    page.locator("#use-model").click()
    page.wait_for_function(retrained, timeout=10_000)
    page.close()


def test_without_the_page_runtime_the_server_answers(browser, app_url):
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.route("**/static/cnn.js*", lambda route: route.abort())
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(app_url)
    box = canvas_box(page)
    page.wait_for_timeout(1000)
    assert page.evaluate(MODEL_ID_JS) is None
    before = len(requests)
    stroke(page, box, SEVEN)
    page.locator("#hint").get_by_text("7 with").wait_for(timeout=20_000)
    page.locator("#sketch .readout").get_by_text("7").wait_for(timeout=5_000)
    joins = [url for url in server_calls(requests[before:]) if "queue/join" in url]
    assert len(joins) == 1, requests[before:]
    assert not [url for url in requests[before:] if "/upload" in url]
    page.locator("#sketch .clear").click()
    stroke(page, box, STAR)  # The answer above the pad follows the server's verdict too.
    page.locator("#sketch .readout").get_by_text("Not a digit").wait_for(timeout=20_000)
    page.close()
