"""Cutting a piece that holds touching digits (mnist_demo.numbers.cuts), with stand-in models:
the valleys and drop-fall paths, the strokes a cut severs, and the way of cutting chosen."""

from __future__ import annotations

import math

import numpy as np

from mnist_demo.numbers.cuts import (
    Cut,
    best_parts,
    between,
    candidate_cuts,
    drop_fall,
    severed,
    straight_cut,
    valleys,
)
from mnist_demo.numbers.settings import SegmentSettings


def test_cuts_follow_the_valley_and_the_chosen_parts_cover_the_piece():
    mask = np.zeros((40, 80), bool)
    mask[:, 5:35] = mask[:, 45:75] = True
    mask[30:34, 30:50] = True  # A bridge at the bottom.
    assert 35 <= valleys(mask)[0] <= 45
    fall = drop_fall(mask, 40)
    assert all(35 <= column <= 45 for column in fall.columns[:30])
    cuts = candidate_cuts(mask)
    assert cuts and all(len(cut.columns) == 40 for cut in cuts)

    def score(part):  # A stand-in model: sure of a part at most 37 columns of ink wide.
        columns = np.flatnonzero((mask & between(mask.shape, part)).any(axis=0))
        return 0.0 if columns[-1] - columns[0] < 37 else -5.0

    parts = best_parts(mask, score)
    assert len(parts) == 2
    assert 38 <= parts[0][1].columns[0] <= 42


def ring(height: int = 40, width: int = 44) -> np.ndarray:
    """A 0: an elliptical ring of ink, 5 cells thick."""
    rows, columns = np.mgrid[:height, :width]
    radius = np.hypot(
        (rows - height / 2 + 0.5) / (height / 2), (columns - width / 2 + 0.5) / (width / 2)
    )
    return (radius <= 1) & (radius >= 0.75)


def test_a_cut_through_a_loop_severs_two_strokes_and_one_between_touching_digits_one():
    zero = ring()
    assert severed(zero, straight_cut(zero, 22)) == 2
    assert severed(zero, straight_cut(zero, 0)) == 0  # The piece's own edge cuts nothing.
    touching = np.zeros((40, 80), bool)
    touching[:, 5:35] = touching[:, 45:75] = True
    touching[30:34, 30:50] = True  # A bridge at the bottom.
    assert severed(touching, straight_cut(touching, 40)) == 1
    # Through the left digit's stroke above the gap and again below it: two runs of rows.
    assert severed(touching, Cut((20,) * 10 + (40,) * 20 + (20,) * 10, "drop-fall", 40)) == 2


def test_a_loop_is_kept_whole_though_its_halves_read_surer_as_the_cut_severs_two_strokes():
    zero = ring()

    def score(part):  # A stand-in model: fairly sure of the 0, surer of each half as a 1.
        return math.log(0.9) if part == (None, None) else math.log(0.99)

    split = SegmentSettings(sever_cost=0.0)
    assert len(best_parts(zero, score, split)) == 2  # The model's sureness alone would cut it.
    assert best_parts(zero, score) == [(None, None)]
