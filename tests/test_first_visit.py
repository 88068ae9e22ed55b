"""What a stranger sees on arrival, without scrolling, in real Chromium on a 1280x800 desktop
and a 390x844 touch phone (issue 22): one answer, carrying the verdict, with the hint that
explains it, both in the first screen; the pad's buttons whole; on the desktop, Start in view and
nothing over the training status while a run goes on. The screenshots (artifacts/) are the
README's, copied to docs/."""

from __future__ import annotations

import re

import pytest

from mnist_demo.serving.trainer import Budget

from .helpers import served_app
from .test_page_drawing import SEVEN, STAR, ready, touch_stroke

pytestmark = [pytest.mark.slow, pytest.mark.browser]

app_url = served_app(Budget(max_epochs=1, max_seconds=60, threads=1))

VIEWPORTS = {
    "desktop": {"viewport": {"width": 1280, "height": 800}},
    "phone": {
        "viewport": {"width": 390, "height": 844},
        "is_mobile": True,
        "has_touch": True,
        "device_scale_factor": 2,
    },
}
# Text that answers "what is it?": a class ("8"), a class with its confidence ("7 · 98%", "4? ·
# 60% (unsure)") or the verdict that it is none.
ANSWER = re.compile(r"^([0-9]\??( · .*)?|Not a digit)$")
# Every visible piece of text in larger type than the page's running text (the hint's), with
# the element holding it: where a reader looks for the answer.
LARGE_TEXTS_JS = """() => {
  const body = parseFloat(getComputedStyle(document.querySelector('#hint .prose')).fontSize);
  const found = [];
  for (const element of document.querySelectorAll('body *')) {
    const own = [...element.childNodes].filter((node) => node.nodeType === Node.TEXT_NODE)
      .map((node) => node.textContent).join('').trim();
    const style = getComputedStyle(element);
    const box = element.getBoundingClientRect();
    if (!own || !box.width || !box.height || style.visibility === 'hidden') continue;
    if (parseFloat(style.fontSize) >= 1.2 * body) found.push([own, element.className]);
  }
  return found;
}"""
# Visible elements over the training status's words, other than the words' own containers.
OVER_STATUS_JS = """() => {
  const words = document.querySelector('#train-status .prose');
  const area = words.getBoundingClientRect();
  const over = [];
  for (const element of document.querySelectorAll('body *')) {
    if (element.contains(words) || words.contains(element)) continue;
    const style = getComputedStyle(element);
    if (style.display === 'none' || style.visibility === 'hidden' || +style.opacity === 0) continue;
    const box = element.getBoundingClientRect();
    const wide = Math.min(box.right, area.right) - Math.max(box.left, area.left);
    const high = Math.min(box.bottom, area.bottom) - Math.max(box.top, area.top);
    if (box.width && box.height && wide > 1 && high > 1) {
      over.push(`${element.tagName}.${element.className}: ${element.textContent.slice(0, 40)}`);
    }
  }
  return over;
}"""


@pytest.fixture(params=list(VIEWPORTS))
def visit(request, browser, app_url):
    """A new visitor at one of the two screen sizes, on the page as it first opens."""
    context = browser.new_context(**VIEWPORTS[request.param])
    page = context.new_page()
    page.goto(app_url)
    ready(page)
    yield request.param, page
    context.close()


def in_first_screen(page, selector: str) -> bool:
    """Whether the element is wholly inside the viewport, the page not scrolled."""
    box = page.locator(selector).first.bounding_box()
    size = page.viewport_size
    return (
        page.evaluate("window.scrollY") == 0
        and box is not None
        and box["x"] >= 0
        and box["y"] >= 0
        and box["x"] + box["width"] <= size["width"]
        and box["y"] + box["height"] <= size["height"]
    )


def draw(page, name: str, points) -> None:
    """A stroke as the visitor makes it: a finger on the phone, the mouse on the desktop. The
    pad is in the first screen, so nothing scrolls."""
    box = page.locator("#sketch canvas").bounding_box()
    if name == "phone":
        touch_stroke(page, box, points)
        return
    page.mouse.move(box["x"] + points[0][0] * box["width"], box["y"] + points[0][1] * box["height"])
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(box["x"] + x * box["width"], box["y"] + y * box["height"], steps=12)
    page.mouse.up()


def answers(page) -> list[str]:
    return [text for text, _ in page.evaluate(LARGE_TEXTS_JS) if ANSWER.match(text)]


def test_one_answer_and_its_verdict_in_the_first_screen(visit, artifacts_dir):
    name, page = visit
    for selector in ("#sketch canvas", "#sketch .undo", "#sketch .clear", "#hint"):
        assert in_first_screen(page, selector), f"{selector} is not in the first screen"
    draw(page, name, STAR)
    readout = page.locator("#sketch .readout")
    readout.get_by_text("Not a digit").wait_for(timeout=10_000)
    page.locator("#hint").get_by_text("Not a digit").wait_for(timeout=10_000)
    # Once, in large type, above the pad: no "8" over the probabilities beside it.
    assert answers(page) == ["Not a digit"], page.evaluate(LARGE_TEXTS_JS)
    assert in_first_screen(page, "#sketch .readout") and in_first_screen(page, "#hint")
    # The probabilities start in the first screen too (on the phone, under the hint).
    first_bar = page.locator("#prediction").get_by_text("%").first
    assert first_bar.bounding_box()["y"] < page.viewport_size["height"]

    page.locator("#sketch .clear").click()
    draw(page, name, SEVEN)
    readout.get_by_text(re.compile(r"^7 · \d+%$")).wait_for(timeout=10_000)
    page.locator("#hint").get_by_text("7 with").wait_for(timeout=10_000)
    assert answers(page) == [readout.inner_text().strip()], page.evaluate(LARGE_TEXTS_JS)
    assert in_first_screen(page, "#sketch .readout") and in_first_screen(page, "#hint")
    page.screenshot(path=str(artifacts_dir / f"first-visit-{name}.png"))


def test_start_is_in_view_and_nothing_covers_the_training_status(browser, app_url):
    context = browser.new_context(**VIEWPORTS["desktop"])
    page = context.new_page()
    page.goto(app_url)
    page.get_by_role("tab", name="Retrain").click()
    page.locator("#start").wait_for(timeout=30_000)
    assert in_first_screen(page, "#start") and in_first_screen(page, "#train-status")
    assert not page.locator("#stop").is_visible()  # No red Stop while nothing runs.
    page.locator("#preset-quick").click()
    page.wait_for_timeout(500)
    page.locator("#start").click()
    status = page.locator("#train-status")
    seen, covered = set(), []
    for _ in range(600):  # Looked at every 0.2 s until the run ends (at most two minutes).
        text = status.inner_text()
        seen.add(text)
        covered += page.evaluate(OVER_STATUS_JS)
        if "Training finished" in text:
            break
        page.wait_for_timeout(200)
    assert "Training finished" in text, text
    assert any("Epoch 1/1 · step" in each for each in seen), seen  # Watched during the run.
    assert covered == [], covered[:5]
    page.locator("#start").wait_for(timeout=10_000)
    assert not page.locator("#stop").is_visible()
    assert page.evaluate(OVER_STATUS_JS) == []
    context.close()
