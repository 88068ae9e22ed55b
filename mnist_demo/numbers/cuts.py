"""Splitting a piece that holds touching digits: candidate cuts, and the model's choice.

A piece wider than ``split_aspect`` times its height may hold several digits. The steps:

1. :func:`projection` and :func:`valleys`: the columns with the least ink (where two digits
   touch), as many as ``cuts_per_digit`` per expected digit.
2. :func:`straight_cut` and :func:`drop_fall`: from each valley, a straight cut and a drop-fall
   path (a drop falling from the top, sliding around ink, cutting through only when stuck;
   Congedo et al. 1995), which follows the gap between slanted neighbours.
3. :func:`best_parts`: every way of cutting the piece at those cuts into plausible parts, scored
   by the sum of the model's log top probability over its parts, less ``cut_cost`` per part and
   :func:`sever_cost` per cut (a cut through a loop goes through two strokes, where touching
   digits meet in one); the best way wins. Keeping the piece whole is one of the ways when it is
   no wider than ``whole_max_part`` heights.

The model is reached only through a ``score`` callback, so that these steps stay pure.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from mnist_demo.numbers.settings import SETTINGS, SegmentSettings


@dataclass(frozen=True)
class Cut:
    """A path from the top of a piece to its bottom: on row r, the ink left of ``columns[r]``
    goes to the left part. ``kind`` is "straight", "drop-fall" (from the top) or "drop-rise"
    (from the bottom); ``valley`` is where it began."""

    columns: tuple[int, ...]
    kind: str
    valley: int

    @property
    def middle(self) -> float:
        return float(np.mean(self.columns))


# A way of reading a piece: its parts, each between two cuts (None: the piece's own edge).
Part = tuple[Cut | None, Cut | None]


def projection(mask: np.ndarray) -> np.ndarray:
    """Ink per column, smoothed over three columns (the edge columns repeated): the mean of
    three, summed left to right as np.convolve with ``np.ones(3) / 3`` sums it here, written out
    so that the page's copy (static/numbers_cuts.js) gets the same floats, ties included."""
    counts = np.pad(mask.sum(axis=0).astype(float), 1, mode="edge")
    third = 1 / 3
    return (counts[:-2] * third + counts[1:-1] * third) + counts[2:] * third


def expected_digits(mask: np.ndarray, settings: SegmentSettings = SETTINGS) -> int:
    """How many digits a piece this wide probably holds (at least 2: it is being split)."""
    height, width = mask.shape
    return max(2, round(width / (height * settings.digit_aspect)))


def valleys(mask: np.ndarray, settings: SegmentSettings = SETTINGS) -> list[int]:
    """The columns with the least ink around them (no column within ``cut_spacing`` heights has
    less), at least that far apart, lowest first: ``cuts_per_digit`` per expected digit.

    Only columns leaving each side at least ``min_part`` of the height wide are considered.
    """
    height, width = mask.shape
    margin = max(1, math.ceil(settings.min_part * height))
    if width - 2 * margin < 1:
        return []
    profile = projection(mask)
    reach = max(1, round(settings.cut_spacing * height))
    padded = np.pad(profile, reach, mode="constant", constant_values=np.inf)
    lowest = np.min(np.lib.stride_tricks.sliding_window_view(padded, 2 * reach + 1), axis=1)
    inside = np.arange(margin, width - margin)
    minima = inside[profile[inside] <= lowest[inside]]
    order = minima[np.argsort(profile[minima], kind="stable")]
    wanted = settings.cuts_per_digit * expected_digits(mask, settings)
    chosen: list[int] = []
    for column in order.tolist():
        if all(abs(column - other) >= reach for other in chosen):
            chosen.append(column)
            if len(chosen) == wanted:
                break
    return chosen


def severed(mask: np.ndarray, cut: Cut) -> int:
    """How many strokes a cut goes through: runs of consecutive rows where the cells on both
    sides of the cut are ink. Two touching digits meet in one stroke or none; a cut through a
    loop (a 0 cut into two "1"s) goes through two."""
    height, width = mask.shape
    columns = np.asarray(cut.columns)
    inside = (columns > 0) & (columns < width)
    rows = np.arange(height)
    left, right = np.clip(columns - 1, 0, width - 1), np.clip(columns, 0, width - 1)
    through = inside & mask[rows, left] & mask[rows, right]
    return int(np.count_nonzero(through[1:] & ~through[:-1]) + through[0])


def sever_cost(mask: np.ndarray, cut: Cut, settings: SegmentSettings = SETTINGS) -> float:
    """What a cut costs in log-probability: ``sever_cost`` for each stroke it goes through
    beyond ``sever_free`` (the one where two touching digits meet)."""
    return settings.sever_cost * max(0, severed(mask, cut) - settings.sever_free)


def even_parts(mask: np.ndarray, settings: SegmentSettings = SETTINGS) -> list[Part]:
    """The piece cut straight into as many equal parts as it probably holds digits."""
    count = expected_digits(mask, settings)
    width = mask.shape[1]
    cuts = [None, *(straight_cut(mask, round(width * k / count)) for k in range(1, count)), None]
    return list(zip(cuts[:-1], cuts[1:], strict=True))


def straight_cut(mask: np.ndarray, column: int) -> Cut:
    return Cut((column,) * mask.shape[0], "straight", column)


def drop_fall(mask: np.ndarray, column: int, settings: SegmentSettings = SETTINGS) -> Cut:
    """A drop falls from the top of ``column``: down if it can, else down-left, down-right,
    left, right along the row; it cuts through the ink only when all are inked or when it has
    slid ``drop_drift`` heights from its valley."""
    height, width = mask.shape
    drift = max(1, round(settings.drop_drift * height))
    x, columns = column, []

    def free(row: int, col: int) -> bool:
        return abs(col - column) <= drift and 0 < col < width and not mask[row, col]

    for row in range(height):
        below, here = row + 1, x  # ``here``: where this row is cut.
        if below < height and not free(below, x):
            step = next((d for d in (-1, 1) if free(below, x + d)), None)
            if step is None:  # Slide along this row, one way only, to a free cell below.
                for direction in (-1, 1):
                    probe = x + direction
                    while free(row, probe) and not free(below, probe):
                        probe += direction
                    if free(row, probe) and free(below, probe):
                        x = here = probe
                        break
            else:
                x += step
        columns.append(here)
    return Cut(tuple(columns), "drop-fall", column)


def candidate_cuts(mask: np.ndarray, settings: SegmentSettings = SETTINGS) -> list[Cut]:
    """A straight cut and a drop falling from the top and from the bottom at each valley, and
    straight cuts into equal parts for the expected count of digits, left to right (duplicates
    dropped)."""
    cuts = {}
    for column in valleys(mask, settings):
        rising = drop_fall(mask[::-1], column, settings)
        rising = Cut(rising.columns[::-1], "drop-rise", column)
        for cut in (straight_cut(mask, column), drop_fall(mask, column, settings), rising):
            cuts.setdefault(cut.columns, cut)
    for part in even_parts(mask, settings)[1:]:
        cuts.setdefault(part[0].columns, part[0])
    return sorted(cuts.values(), key=lambda cut: cut.middle)


def between(shape: tuple[int, int], part: Part, factor: int = 1) -> np.ndarray:
    """The cells of a (rows, columns) region that lie between a part's two cuts.

    ``factor`` maps cuts made on the working grid onto the canvas (row r of the canvas region
    follows the cut's row r // factor).
    """
    rows, width = shape
    columns = np.arange(width)[None, :]
    inside = np.ones(shape, bool)
    for cut, keep_right in zip(part, (True, False), strict=True):
        if cut is None:
            continue
        limit = np.repeat(np.asarray(cut.columns) * factor, factor)[:rows]
        limit = np.pad(limit, (0, rows - len(limit)), mode="edge")[:, None]
        inside &= (columns >= limit) if keep_right else (columns < limit)
    return inside


def plausible(mask: np.ndarray, part: Part, settings: SegmentSettings = SETTINGS) -> bool:
    """Whether the ink between a part's cuts could be one digit: tall enough for its piece,
    neither a sliver nor too wide for its own height."""
    ink = mask & between(mask.shape, part)
    rows, columns = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    if len(rows) == 0:
        return False
    widest = settings.whole_max_part if part == (None, None) else settings.max_part
    height, width = rows[-1] - rows[0] + 1, columns[-1] - columns[0] + 1
    return (
        height >= settings.part_min_height * mask.shape[0]
        and settings.min_part * height <= width <= widest * height
    )


def best_parts(
    mask: np.ndarray,
    score: Callable[[Part], float | None],
    settings: SegmentSettings = SETTINGS,
) -> list[Part]:
    """The parts the model is surest about (see the module docstring). When no way of cutting
    the piece is plausible it stays whole; when none could be read to its end because the
    budget ran out, it is cut into :func:`even_parts`.

    ``score(part)`` is the model's log top probability for the part, or None when it may not
    read any more (its budget is spent); a part it does not read is not used.
    """
    cuts: list[Cut | None] = [None, *candidate_cuts(mask, settings), None]
    unread = False
    middles = [-math.inf, *(cut.middle for cut in cuts[1:-1]), math.inf]
    costs = [0.0, *(sever_cost(mask, cut, settings) for cut in cuts[1:-1]), 0.0]
    best: list[tuple[float, list[Part]] | None] = [(0.0, [])] + [None] * (len(cuts) - 1)
    for end in range(1, len(cuts)):
        for start in range(end):
            if best[start] is None or middles[start] >= middles[end]:
                continue
            part = (cuts[start], cuts[end])
            if not plausible(mask, part, settings):
                continue
            value = score(part)
            if value is None:
                unread = True
                continue
            total = best[start][0] + value - settings.cut_cost - costs[end]
            if best[end] is None or total > best[end][0]:
                best[end] = (total, [*best[start][1], part])
    if best[-1] is not None:
        return best[-1][1]
    return even_parts(mask, settings) if unread else [(None, None)]
