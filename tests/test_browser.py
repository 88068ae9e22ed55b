"""A real browser: headless Chromium (Debian's package) driven by Playwright draws on the canvas."""

from __future__ import annotations

import pytest

from mnist_demo.serving.trainer import Budget

from .helpers import served_app

pytestmark = [pytest.mark.slow, pytest.mark.browser]


# A short server-side budget keeps the browser's default retrain to a few seconds.
app_url = served_app(Budget(max_epochs=1, max_seconds=8, threads=1))


@pytest.fixture(scope="module")
def page(app_url, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.goto(app_url)
    return page


@pytest.fixture
def fresh_page(app_url, browser):
    """A page of its own (a new visitor's session), for a test that must not depend on what
    earlier tests left on the shared page's canvas."""
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.goto(app_url)
    yield page
    page.close()


def canvas_box(page):
    """The drawing surface: the largest canvas inside the Sketchpad."""
    page.wait_for_selector("#sketch canvas", timeout=30_000)
    page.locator("#sketch").scroll_into_view_if_needed()  # Mouse positions are viewport-relative.
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


def draw_seven(page) -> None:
    """Draw a seven on the Draw tab's canvas and wait until the prediction shows it."""
    box = canvas_box(page)
    page.wait_for_timeout(500)  # The brush is selected on load (gradio 6.31 starts with none).
    stroke(page, box, [(0.3, 0.25), (0.7, 0.25), (0.45, 0.8)])
    page.locator("#prediction").get_by_text("7").first.wait_for(timeout=20_000)


@pytest.fixture(scope="module")
def page_with_seven(page):
    """The shared page with a seven drawn on it once, for whichever of its tests runs first."""
    draw_seven(page)
    return page


def test_drawing_a_seven_shows_the_prediction(page_with_seven, artifacts_dir):
    page = page_with_seven
    hint = page.locator("#hint").inner_text()
    assert "7" in hint, hint
    # The model's 28x28 view arrives inline with the prediction, drawn with hard pixel edges.
    seen = page.locator("#model-input img")
    assert seen.get_attribute("src").startswith("data:image/png;base64,")
    assert seen.evaluate("img => [img.naturalWidth, getComputedStyle(img).imageRendering]") == [
        28,
        "pixelated",
    ]
    page.screenshot(path=str(artifacts_dir / "draw_tab.png"), full_page=True)


def open_panel(page, selector: str, title: str):
    panel = page.locator(selector)
    panel.get_by_text(title).first.click()
    return panel


def test_inside_panels_follow_the_drawing(page_with_seven, artifacts_dir):
    page = page_with_seven
    inside = open_panel(page, "#inside", "Inside the network")
    page.locator("#inside-message").get_by_text("7").first.wait_for(timeout=20_000)
    for name in ("conv1", "pool1", "conv2", "pool2"):
        page.locator(f"#maps-{name} img").wait_for(timeout=20_000)
    page.locator("#saliency img").wait_for()
    page.locator("#filters img").wait_for()
    inside.screenshot(path=str(artifacts_dir / "inside_network.png"))

    preprocessing = open_panel(page, "#preprocessing", "How preprocessing matters")
    note = page.locator("#path-note")
    note.get_by_text("full path").wait_for(timeout=20_000)
    page.locator("#step-crop input").uncheck()
    note.get_by_text("skipped").wait_for(timeout=20_000)
    preprocessing.screenshot(path=str(artifacts_dir / "preprocessing.png"))
    page.locator("#step-crop input").check()

    # Another stroke (a bar through the seven): the open panel follows it.
    before = page.locator("#maps-conv1 img").get_attribute("src")
    stroke(page, canvas_box(page), [(0.35, 0.52), (0.65, 0.52)])
    page.wait_for_function(
        "src => document.querySelector('#maps-conv1 img')?.getAttribute('src') !== src",
        arg=before,
        timeout=20_000,
    )


def test_teaching_it_your_handwriting_in_the_browser(fresh_page, artifacts_dir):
    # "Add to my digits" adds the drawing on the canvas: this test draws its own on a page of its
    # own, rather than relying on the seven an earlier test left (alone, it had none), and its
    # fine-tuned model stays out of the shared page's session.
    page = fresh_page
    draw_seven(page)
    panel = open_panel(page, "#handwriting", "Teach it your handwriting")
    page.locator("#true-label input").click()
    page.get_by_role("option", name="7", exact=True).click()
    page.locator("#add-example").click()
    status = page.locator("#finetune-status")
    status.get_by_text("Added as").wait_for(timeout=20_000)
    page.locator("#finetune").click()
    status.get_by_text("Fine-tuned on your").wait_for(timeout=120_000)
    assert "your fine-tuned" in page.locator("#hint").inner_text()
    panel.screenshot(path=str(artifacts_dir / "handwriting.png"))


def test_evaluate_tab_shows_the_test_set_and_a_picked_cell(page, artifacts_dir):
    page.get_by_role("tab", name="Evaluate").click()
    page.locator("#evaluate").click()
    page.locator("#evaluate-summary").get_by_text("test images").wait_for(timeout=60_000)
    page.locator("#confusion img").wait_for()
    page.locator('#confusion-table [data-testid="cell-4-10"]').click()  # true 4, predicted 9
    page.locator("#gallery-caption").get_by_text("read as").wait_for(timeout=20_000)
    page.screenshot(path=str(artifacts_dir / "evaluate_tab.png"), full_page=True)
    page.get_by_role("tab", name="Draw").click()


def test_a_preset_link_opens_the_lesson_with_its_settings(page, app_url, artifacts_dir):
    lesson = page.context.browser.new_page(viewport={"width": 1280, "height": 1000})
    query = "dataset=fashion&epochs=1&lr=0.003&bn=1&seed=7&hide=advanced&tab=retrain"
    lesson.goto(f"{app_url}?{query}")
    lesson.locator("#start").wait_for(timeout=30_000)  # The Retrain tab is the one open.
    lesson.wait_for_function(
        "() => [...document.querySelectorAll('input')].some(i => i.value === '0.003')",
        timeout=20_000,
    )
    assert lesson.locator("#advanced").is_hidden()
    assert lesson.get_by_role("radio", name="Fashion-MNIST").first.is_checked()
    open_panel(lesson, "#share", "Share these settings")
    lesson.locator("#copy-link").click()
    link = lesson.locator("#preset-link textarea, #preset-link input").first
    lesson.wait_for_function(
        "() => (document.querySelector('#preset-link textarea, #preset-link input')?.value || '')"
        ".startsWith('http')",
        timeout=20_000,
    )
    value = link.input_value()
    assert value.startswith(app_url.rstrip("/")) and "lr=0.003" in value and "seed=7" in value
    assert "dataset=fashion" in value and "bn=1" in value
    lesson.screenshot(path=str(artifacts_dir / "preset_link.png"), full_page=True)
    lesson.close()


def chart_image(page, selector: str) -> bytes:
    return page.locator(selector).screenshot()


def test_a_tiny_retrain_updates_the_charts(page_with_seven, artifacts_dir):
    page = page_with_seven
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
