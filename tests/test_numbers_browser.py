"""Whole numbers on the Draw tab in real Chromium: a drawn number shows the number above the pad,
each digit's box over the drawing and the digits' 28x28 inputs in a strip, with no request; a
click on a digit makes the probabilities and the Inside panels follow it; "How it splits" draws
the reader's steps; a lone digit keeps the display it always had."""

from __future__ import annotations

import math

import pytest

from mnist_demo.bench.browser_numbers import number_strokes
from mnist_demo.numbers.read import read_number
from mnist_demo.pictures import INPUT_SCALE
from mnist_demo.recognition.inference import shipped_predictor
from mnist_demo.serving.trainer import Budget
from mnist_demo.ui.canvas import drawing_from_ink

from .helpers import served_app
from .test_browser import canvas_box, stroke
from .test_page_drawing import SEVEN, open_app, ready, server_calls

pytestmark = [pytest.mark.slow, pytest.mark.browser]

app_url = served_app(Budget(max_epochs=1, max_seconds=8, threads=1))

# The 28x28 pixels of an <img> in the page (its red channel; one in ``step`` of an enlarged one).
PIXELS_JS = """
(img, step) => {
  const surface = document.createElement('canvas');
  surface.width = img.naturalWidth; surface.height = img.naturalHeight;
  const context = surface.getContext('2d');
  context.drawImage(img, 0, 0);
  const data = context.getImageData(0, 0, surface.width, surface.height).data;
  return Array.from({ length: 28 * 28 },
    (_, i) => data[4 * (Math.floor(i / 28) * step * surface.width + (i % 28) * step)]);
}
"""
# The lone-digit display computed the way the pad always computed it (before numbers existed).
PLAIN_JS = """
() => {
  const canvas = document.querySelector('#sketch canvas');
  const rgba = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  const ink = new Uint8Array(canvas.width * canvas.height);
  for (let i = 0; i < ink.length; i++) ink[i] = rgba[4 * i + 3];
  const { payload, layers } = window.mnistSketch.runtime;
  const prepared = mnistPreprocess.preprocess(ink, canvas.height, canvas.width, payload.preprocess);
  const probabilities = mnistCnn.softmax(mnistCnn.forward(layers, prepared.tensor, [1, 28, 28]));
  const say = (kind) => mnistWording.say(kind, probabilities, payload.class_names, payload.extras);
  return { probabilities, picture: Array.from(prepared.picture), readout: say('readout'),
    hint: say('hint') };
}
"""


def draw_number(page, number: str) -> None:
    box = canvas_box(page)
    for points in number_strokes(number, box):
        page.mouse.move(*points[0])
        page.mouse.down()
        for x, y in points[1:]:
            page.mouse.move(x, y, steps=8)
        page.mouse.up()


def test_a_number_shows_its_digits_boxes_and_strip_and_a_click_follows_a_digit(browser, app_url):
    page = open_app(browser, app_url)
    ready(page)
    before = len(page.requests)
    draw_number(page, "305")
    readout = page.locator("#sketch .readout")
    page.wait_for_function(
        "() => document.querySelector('#sketch .readout').innerText.trim() === '305'",
        timeout=10_000,
    )
    assert server_calls(page.requests[before:]) == []  # All of it in the page.
    boxes = page.locator("#sketch .digit-box")
    assert boxes.count() == 3
    assert page.locator("#sketch .digit-box.least").count() == 1
    tags = [boxes.nth(i).locator(".digit-tag").inner_text() for i in range(3)]
    assert [tag.split(" · ")[0] for tag in tags] == ["3", "0", "5"], tags
    assert all(tag.endswith("%") for tag in tags), tags
    figures = page.locator("#model-input .digit-strip figure")
    figures.nth(2).wait_for(timeout=20_000)
    assert figures.count() == 3
    assert [figures.nth(i).locator("img").evaluate("i => i.naturalWidth") for i in range(3)] == [
        28
    ] * 3
    hint = page.locator("#hint").inner_text()
    assert hint.startswith("305: 3 digits"), hint
    # Boxes sit left to right over the drawing, inside the canvas.
    lefts = [boxes.nth(i).bounding_box()["x"] for i in range(3)]
    assert lefts == sorted(lefts)

    # A click on the 0's tab: the probabilities follow it.
    boxes.nth(1).locator(".digit-tag").click()
    page.locator("#model-input figure.selected[data-digit='1']").wait_for(timeout=10_000)
    assert page.evaluate("window.mnistSketch.latest().selected") == 1
    assert readout.inner_text().strip() == "305"

    # With the Inside panel open, a click on the 5's picture: the panel looks inside the 5.
    page.locator("#inside").get_by_text("Inside the network").first.click()
    page.locator("#inside-input img").wait_for(timeout=20_000)
    figures.nth(2).click()
    page.locator("#inside-message").get_by_text("5").first.wait_for(timeout=20_000)
    strip_pixels = figures.nth(2).locator("img").evaluate(PIXELS_JS, 1)
    for _ in range(40):  # The panel's picture arrives with the server's answer.
        inside_pixels = page.locator("#inside-input img").evaluate(PIXELS_JS, INPUT_SCALE)
        if max(abs(a - b) for a, b in zip(strip_pixels, inside_pixels, strict=True)) <= 2:
            break
        page.wait_for_timeout(250)
    assert max(abs(a - b) for a, b in zip(strip_pixels, inside_pixels, strict=True)) <= 2
    page.close()


def test_a_lone_digit_keeps_its_display(browser, app_url):
    page = open_app(browser, app_url)
    ready(page)
    draw_number(page, "42")  # A number first: its boxes must go when one digit is left.
    page.wait_for_function("() => document.querySelectorAll('#sketch .digit-box').length === 2")
    page.locator("#sketch .clear").click()
    box = canvas_box(page)
    stroke(page, box, SEVEN)
    page.locator("#prediction").get_by_text("7").first.wait_for(timeout=20_000)
    assert page.locator("#sketch .digit-box").count() == 0
    assert page.locator("#model-input .digit-strip").count() == 0
    plain = page.evaluate(PLAIN_JS)
    latest = page.evaluate("window.mnistSketch.latest()")
    assert latest["probabilities"] == plain["probabilities"]  # The very same numbers.
    assert page.locator("#sketch .readout").inner_text().strip() == plain["readout"]
    assert latest["hint"] == plain["hint"]
    shown = page.locator("#model-input img")
    assert shown.count() == 1
    assert shown.evaluate(PIXELS_JS, 1) == plain["picture"]
    page.close()


def test_how_it_splits_draws_the_steps_of_the_read(browser, app_url):
    page = open_app(browser, app_url)
    ready(page)
    draw_number(page, "4213")
    page.wait_for_function(
        "() => document.querySelector('#sketch .readout').innerText.trim() === '4213'",
        timeout=10_000,
    )
    page.locator("#sketch details.splits summary").click()
    steps = page.locator("#sketch .splits .step")
    steps.nth(6).wait_for(timeout=10_000)
    assert steps.count() == 7
    assert "4 separate blobs" in steps.nth(0).inner_text()
    assert "4 digits, left to right: 4213" in steps.nth(6).inner_text()
    assert all(steps.nth(i).locator("canvas").count() == 1 for i in range(7))
    # The panel follows the drawing: Undo takes the 3's last stroke away.
    strokes_of_three = len(number_strokes("3", canvas_box(page)))
    for _ in range(strokes_of_three):
        page.locator("#sketch .undo").click()
    page.wait_for_function(
        "() => document.querySelectorAll('#sketch .digit-box').length === 3", timeout=10_000
    )
    assert "3 digits, left to right: 421" in steps.nth(6).inner_text()
    page.close()


ONE = [(0.25, 0.35), (0.25, 0.65)]
ZERO = [
    (0.45 + 0.15 * math.sin(2 * math.pi * k / 24), 0.5 - 0.15 * math.cos(2 * math.pi * k / 24))
    for k in range(25)
]


def test_one_piece_is_cut_into_digits_only_when_touching_digits_is_ticked(browser, app_url):
    page = open_app(browser, app_url)
    ready(page)
    box = canvas_box(page)
    stroke(page, box, ONE)
    stroke(page, box, ZERO)  # Over the 1: one piece of ink, wider than a digit.
    page.wait_for_timeout(500)
    assert page.locator("#sketch .digit-box").count() == 0  # One digit, as the pad always read.
    page.locator("#sketch .touching").check()
    page.wait_for_function("() => document.querySelectorAll('#sketch .digit-box').length >= 2")
    shown = page.locator("#sketch .readout").inner_text().strip()
    # Ticked, the page reads the drawing exactly as read_number does.
    png = page.evaluate("() => document.querySelector('#sketch canvas').toDataURL('image/png')")
    server = read_number(drawing_from_ink(png), shipped_predictor("mnist"))
    assert len(server.digits) == page.locator("#sketch .digit-box").count()
    assert shown.startswith(server.number), (shown, server.number)
    page.locator("#sketch .touching").uncheck()
    page.wait_for_function("() => document.querySelectorAll('#sketch .digit-box').length === 0")
    page.close()
