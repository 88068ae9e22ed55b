"""Whole numbers: the segmentation's steps on drawn ink maps, and read_number end to end."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from mnist_demo.numbers.blobs import (
    components,
    find_runs,
    linked_runs,
    pool,
    run_labels,
    working_grid,
)
from mnist_demo.numbers.read import NOT_A_NUMBER, NUMBER, ordinal, read_number
from mnist_demo.numbers.segment import segment
from mnist_demo.numbers.settings import SETTINGS, SegmentSettings
from mnist_demo.recognition.inference import classify, shipped_predictor
from mnist_demo.samples.drawings import iter_drawings, render
from mnist_demo.samples.numbers import iter_numbers
from mnist_demo.samples.templates import TEMPLATES, template_drawing

Stroke = list[tuple[float, float]]  # (x, y) in a unit box, as TEMPLATES holds them.


def strokes_ink(
    strokes: list[Stroke], top: float, left: float, height: float, shape, brush: int = 0
) -> np.ndarray:
    """Strokes drawn at ``height`` pixels with a round brush (8% of the height by default)."""
    brush = brush or max(2, round(0.08 * height))
    scale = height - brush
    pairs = [
        [(top + brush / 2 + y0 * scale, left + brush / 2 + x0 * scale * 0.7),
         (top + brush / 2 + y1 * scale, left + brush / 2 + x1 * scale * 0.7)]
        for stroke in strokes
        for (x0, y0), (x1, y1) in zip(stroke[:-1], stroke[1:], strict=True)
    ]  # fmt: skip
    return render(np.array(pairs, float), shape, brush)


def digits_ink(places: list[tuple[str, float, float]], height: float = 100, shape=(200, 600)):
    """Template digits, each at (top, left)."""
    layers = [strokes_ink(TEMPLATES[d], top, left, height, shape) for d, top, left in places]
    return np.maximum.reduce(layers)


def pieces_of(ink: np.ndarray):
    return segment(ink).pieces


# The segmentation's own steps.


def test_runs_and_their_links_find_the_blobs_of_a_mask():
    mask = np.zeros((6, 8), bool)
    mask[0, 1:3] = mask[1, 3] = True  # A diagonal step: one blob with 8-neighbours.
    mask[4:6, 5:8] = True
    runs = find_runs(mask)
    assert list(zip(runs.rows, runs.starts, runs.ends, strict=True)) == [
        (0, 1, 3), (1, 3, 4), (4, 5, 8), (5, 5, 8)
    ]  # fmt: skip
    labels = run_labels(len(runs.rows), *linked_runs(runs, mask.shape[1]))
    assert labels.tolist() == [1, 1, 2, 2]


def test_pooling_keeps_every_stroke_and_the_grid_is_small_for_a_giant_drawing():
    mask = np.zeros((9, 9), bool)
    mask[4, 4] = True
    assert pool(mask, 3).tolist() == [[False] * 3, [False, True, False], [False] * 3]
    ink = np.zeros((3000, 9000), np.uint8)
    ink[1000:2000, 100:8900] = 255
    grid = working_grid(ink)
    assert grid.mask.shape[0] <= 2 * SETTINGS.work_height
    assert max(grid.mask.shape) <= SETTINGS.work_max_side


def test_two_separate_digits_are_two_pieces_left_to_right():
    ink = digits_ink([("7", 50, 300), ("2", 50, 60)])
    pieces = pieces_of(ink)
    assert len(pieces) == 2
    assert pieces[0].box.left < pieces[1].box.left


def test_a_five_with_a_detached_bar_is_one_piece():
    body = [(0.25, 0.14), (0.2, 0.45), (0.55, 0.38), (0.82, 0.55), (0.8, 0.85), (0.5, 1.0),
            (0.15, 0.9)]  # fmt: skip
    bar = [(0.35, 0.0), (0.95, 0.0)]
    ink = strokes_ink([body, bar], 40, 100, 120, (200, 400))
    grid = working_grid(ink)
    assert len(components(grid)[1]) == 2  # Two blobs of ink ...
    assert len(pieces_of(ink)) == 1  # ... one digit.
    assert read_number(ink).number == "5"


def test_a_four_whose_stem_misses_its_bar_is_one_piece():
    bent = [(0.5, 0.0), (0.1, 0.62), (0.95, 0.62)]
    stem = [(0.7, 0.8), (0.7, 1.0)]
    ink = strokes_ink([bent, stem], 40, 100, 120, (200, 400))
    assert len(components(working_grid(ink))[1]) == 2
    assert len(pieces_of(ink)) == 1


def test_a_four_drawn_as_two_strokes_side_by_side_is_read_as_one_digit():
    corner = [(0.5, 0.0), (0.1, 0.62), (0.62, 0.62)]
    stem = [(0.8, 0.0), (0.8, 1.0)]
    ink = strokes_ink([corner, stem], 40, 100, 120, (200, 400))
    assert len(pieces_of(ink)) == 2  # Side by side, the geometry alone cannot tell ...
    reading = read_number(ink)
    assert (reading.number, len(reading.digits)) == ("4", 1)  # ... the model can.


def test_a_dot_joins_the_nearest_digit_and_a_far_speck_is_left_out():
    seven = digits_ink([("7", 50, 100), ("3", 50, 300)], shape=(200, 900))
    near = seven.copy()
    near[40:46, 180:186] = 255  # A tap by the 7's bar.
    assert len(pieces_of(near)) == 2
    far = near.copy()
    far[100:104, 820:824] = 255  # A speck far to the right of everything.
    found = segment(far)
    assert (len(found.pieces), len(found.specks)) == (2, 1)
    reading = read_number(far)
    assert (reading.number, reading.left_out) == ("73", 1)


def test_two_touching_digits_are_split_where_the_model_is_surest():
    ink = digits_ink([("2", 50, 100), ("3", 50, 140)])  # The 3 starts over the 2's foot.
    assert len(pieces_of(ink)) == 1
    reading = read_number(ink)
    assert reading.number == "23"
    assert reading.digits[0].box.right >= reading.digits[1].box.left  # Cut where they touch.


def test_pieces_are_read_left_to_right_whatever_their_height():
    ink = digits_ink([("5", 10, 420), ("3", 80, 60), ("0", 40, 240)], shape=(220, 620))
    assert read_number(ink).number == "305"


def test_a_lone_template_digit_is_read_exactly_as_classify_reads_it():
    for digit in TEMPLATES:
        drawing = template_drawing(digit, 280)
        reading, alone = read_number(drawing), classify(drawing)
        assert len(reading.digits) == 1
        assert reading.digits[0].probabilities == alone.probabilities
        assert reading.number == digit


def test_lone_mnist_drawings_stay_one_digit():
    drawings = list(iter_drawings(120, seed=3))
    counts = [len(read_number(drawing.image).digits) for drawing in drawings]
    assert sum(count == 1 for count in counts) >= 0.97 * len(drawings)


def test_the_settings_travel_as_plain_json():
    data = json.loads(json.dumps(SETTINGS.to_dict()))
    assert SegmentSettings(**data) == SETTINGS


def test_ordinals():
    assert [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 23, 111)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "23rd", "111th"
    ]  # fmt: skip


# Whole numbers of real MNIST test digits (the bench measures more: mnist-demo bench numbers).


@pytest.mark.parametrize(("gaps", "bar"), [("clear", 0.85), ("touching", 0.5)])
def test_composed_numbers_of_mnist_test_digits_are_mostly_read_right(gaps, bar):
    numbers = list(iter_numbers(30, gaps, seed=11))
    right = sum(read_number(number.image).number == number.label for number in numbers)
    assert right >= bar * len(numbers)


# Bad input: a clear answer, never a crash, in bounded time.


def test_an_empty_pad_is_blank():
    for image in (
        {"background": None, "layers": [], "composite": None},
        np.zeros((280, 280), np.uint8),
    ):
        reading = read_number(image)
        assert reading.blank and reading.reason == "nothing drawn" and reading.digits == ()


def test_forty_digits_are_refused_saying_how_many_are_read():
    places = [(str(i % 10), 50, 20 + 90 * i) for i in range(40)]
    ink = digits_ink(places, height=100, shape=(200, 3640))
    started = time.perf_counter()
    reading = read_number(ink)
    assert time.perf_counter() - started < 10
    assert reading.verdict == NOT_A_NUMBER
    assert "40 pieces" in reading.reason and f"up to {SETTINGS.max_pieces}" in reading.reason


def test_too_many_marks_or_runs_are_refused_before_any_digit_is_read():
    ink = digits_ink([("1", 50, 40), ("2", 50, 160), ("3", 50, 280), ("4", 50, 400)])
    marks = read_number(ink, settings=SegmentSettings(max_components=3))
    assert marks.verdict == NOT_A_NUMBER and marks.digits == ()
    assert marks.reason == (
        "not a number: 4 separate marks, too many to read as a number (at most 3 are read)"
    )
    runs = read_number(ink, settings=SegmentSettings(max_runs=10))
    assert runs.verdict == NOT_A_NUMBER and "too much ink" in runs.reason


def test_a_digit_beside_a_letter_is_not_a_number_and_names_the_piece():
    letter_a = [[(0.0, 1.0), (0.5, 0.0), (1.0, 1.0)], [(0.22, 0.6), (0.78, 0.6)]]
    ink = np.maximum(
        digits_ink([("3", 50, 60)], shape=(200, 500)),
        strokes_ink(letter_a, 50, 260, 100, (200, 500)),
    )
    reading = read_number(ink)
    assert reading.verdict == NOT_A_NUMBER
    assert reading.reason == "not a number: the 2nd piece is not a digit"
    assert reading.digits[0].top == "3"


def test_a_pad_of_scribbles_is_not_a_number():
    rng = np.random.default_rng(5)
    ink = np.zeros((400, 400), np.uint8)
    for _ in range(60):
        points = rng.uniform(0, 400, (6, 2))
        ink = np.maximum(ink, render(np.stack([points[:-1], points[1:]], 1), 400, 6))
    started = time.perf_counter()
    reading = read_number(ink)
    assert time.perf_counter() - started < 10
    assert reading.verdict == NOT_A_NUMBER and reading.reason.startswith(NOT_A_NUMBER)


def test_a_ten_thousand_pixel_wide_number_is_read_in_bounded_time():
    small = digits_ink([("1", 30, 40), ("9", 30, 170), ("8", 30, 300), ("7", 30, 430)])
    factor = 17  # 200 x 600 -> 3400 x 10,200, cut to 10,000 columns.
    wide = np.kron(small > 0, np.ones((factor, factor), bool))[:, :10_000]
    started = time.perf_counter()
    reading = read_number(np.where(wide, 0, 255).astype(np.uint8))  # Black on white.
    assert time.perf_counter() - started < 20
    assert reading.number == "1987"


def test_a_fashion_model_is_refused_with_a_message():
    with pytest.raises(ValueError, match="MNIST model"):
        read_number(np.zeros((28, 28), np.uint8), shipped_predictor("fashion"))


def test_random_arrays_never_crash_and_each_digit_has_a_box_and_a_verdict():
    rng = np.random.default_rng(0)
    for size in ((50, 50), (64, 300), (300, 64)):
        for density in (0.01, 0.2, 0.6):
            reading = read_number((rng.random(size) < density).astype(np.uint8) * 255)
            assert reading.verdict in ("", NUMBER, "unsure", NOT_A_NUMBER)
            for digit in reading.digits:
                assert digit.box.height > 0 and digit.verdict
