"""A drawing's ink map -> its blobs of ink, on a small working grid (steps 1 and 2 of
mnist_demo.numbers.segment).

1. :func:`working_grid`: the ink above the noise level, cropped to its box and max-pooled by a
   whole factor so that it is about ``work_height`` pixels tall (a giant canvas costs no more).
2. :func:`find_runs`, :func:`linked_runs`, :func:`run_labels`, :func:`components`: the connected
   blobs (8-neighbour), found from horizontal runs of ink and a union-find over touching runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mnist_demo.numbers.settings import SETTINGS, SegmentSettings
from mnist_demo.recognition.preprocess import BOX_FRACTION, NOISE_LEVEL, Box
from mnist_demo.recognition.wording import number_words


class TooMuchInk(ValueError):
    """The drawing has more runs or blobs than a number can have: refused, to bound the time."""


@dataclass(frozen=True)
class Grid:
    """The working grid: ``mask[r, c]`` covers canvas rows ``top + r * factor`` onwards."""

    mask: np.ndarray  # bool (h, w)
    factor: int
    top: int
    left: int

    def to_canvas(self, box: Box, shape: tuple[int, ...]) -> Box:
        """A box on the grid -> the same region of the canvas, clipped to its ``shape``."""
        f = self.factor
        return Box(
            self.top + box.top * f,
            self.left + box.left * f,
            min(shape[0], self.top + box.bottom * f),
            min(shape[1], self.left + box.right * f),
        )


@dataclass(frozen=True)
class Runs:
    """Horizontal runs of ink: row ``rows[i]``, columns ``starts[i]:ends[i]``, row by row."""

    rows: np.ndarray
    starts: np.ndarray
    ends: np.ndarray


@dataclass(frozen=True)
class Piece:
    """Blobs read as one digit: ``members`` are labels in the label image, ``box`` on the grid."""

    box: Box
    members: tuple[int, ...]

    @property
    def centre(self) -> float:
        return (self.box.left + self.box.right) / 2


def ink_threshold(ink: np.ndarray) -> int | None:
    """The ink level that counts as a stroke, as preprocessing's box uses; None when blank."""
    strongest = int(ink.max()) if ink.size else 0
    if strongest < NOISE_LEVEL:
        return None
    return max(NOISE_LEVEL, math.ceil(strongest * BOX_FRACTION))


def working_grid(ink: np.ndarray, settings: SegmentSettings = SETTINGS) -> Grid | None:
    """The strokes, cropped to their box and max-pooled (see the module docstring)."""
    threshold = ink_threshold(ink)
    if threshold is None:
        return None
    rows = np.flatnonzero(ink.max(axis=1) >= threshold)
    columns = np.flatnonzero(ink[rows[0] : rows[-1] + 1].max(axis=0) >= threshold)
    top, left = int(rows[0]), int(columns[0])
    stroke = ink[top : rows[-1] + 1, left : columns[-1] + 1] >= threshold
    height, width = stroke.shape
    factor = max(
        1,
        height // settings.work_height,
        math.ceil(max(height, width) / settings.work_max_side),
    )
    return Grid(pool(stroke, factor), factor, top, left)


def pool(mask: np.ndarray, factor: int) -> np.ndarray:
    """Max-pool a boolean mask by ``factor``: a cell holds ink if any of its pixels does, so
    no stroke vanishes and a connected stroke stays connected."""
    if factor == 1:
        return mask
    height, width = mask.shape
    padded = np.zeros((-(-height // factor) * factor, -(-width // factor) * factor), bool)
    padded[:height, :width] = mask
    cells = padded.reshape(padded.shape[0] // factor, factor, padded.shape[1] // factor, factor)
    return cells.any(axis=(1, 3))


def find_runs(mask: np.ndarray) -> Runs:
    """Every horizontal run of ink, top to bottom and left to right."""
    edges = np.diff(np.pad(mask.astype(np.int8), ((0, 0), (1, 1))), axis=1)
    rows, starts = np.nonzero(edges == 1)
    _, ends = np.nonzero(edges == -1)  # Row-major order: the i-th end closes the i-th start.
    return Runs(rows, starts, ends)


def linked_runs(runs: Runs, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (a, b) of runs on consecutive rows that touch, diagonals included.

    Run b on row r + 1 touches run a on row r when a.start <= b.end and b.start <= a.end. With
    every run keyed by ``row * (width + 2) + column`` the runs touching b are one slice of each
    sorted key list, found by binary search.
    """
    stride = width + 2
    start_keys = runs.rows * stride + runs.starts
    end_keys = runs.rows * stride + runs.ends
    above = (runs.rows - 1) * stride  # b's columns, moved onto the row above.
    first = np.searchsorted(end_keys, above + runs.starts, side="left")
    last = np.searchsorted(start_keys, above + runs.ends, side="right")
    counts = np.maximum(last - first, 0)
    b = np.repeat(np.arange(len(counts)), counts)
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    a = np.repeat(first, counts) + offsets
    return a, b


def run_labels(count: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Union-find over the linked pairs (a[i], b[i]) of ``count`` items: each item's group,
    numbered 1, 2, ... in the order of each group's first item (for runs: top to bottom)."""
    parent = list(range(count))

    def root(node: int) -> int:
        while parent[node] != node:
            parent[node] = parent[parent[node]]  # Path halving.
            node = parent[node]
        return node

    for x, y in zip(a.tolist(), b.tolist(), strict=True):
        rx, ry = root(x), root(y)
        if rx != ry:
            parent[max(rx, ry)] = min(rx, ry)
    roots = np.array([root(node) for node in range(count)], dtype=np.int64)
    _, labels = np.unique(roots, return_inverse=True)
    return labels.astype(np.int32) + 1


def components(grid: Grid, settings: SegmentSettings = SETTINGS) -> tuple[np.ndarray, list[Piece]]:
    """The label image (0 = no ink) and one piece per blob. Raises TooMuchInk past the caps."""
    runs = find_runs(grid.mask)
    if len(runs.rows) > settings.max_runs:
        raise TooMuchInk(
            number_words(
                "too_many_runs", count=f"{len(runs.rows):,}", most=f"{settings.max_runs:,}"
            )
        )
    labels = run_labels(len(runs.rows), *linked_runs(runs, grid.mask.shape[1]))
    count = int(labels.max()) if len(labels) else 0
    if count > settings.max_components:
        raise TooMuchInk(number_words("too_many_marks", count=count, most=settings.max_components))
    image = np.zeros(grid.mask.shape, np.int32)
    lengths = runs.ends - runs.starts
    flat = np.repeat(runs.rows * grid.mask.shape[1] + runs.starts, lengths)
    flat += np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    image.flat[flat] = np.repeat(labels, lengths)
    top = np.full(count + 1, np.iinfo(np.int32).max)
    left, bottom, right = top.copy(), np.zeros(count + 1, int), np.zeros(count + 1, int)
    np.minimum.at(top, labels, runs.rows)
    np.minimum.at(left, labels, runs.starts)
    np.maximum.at(bottom, labels, runs.rows + 1)
    np.maximum.at(right, labels, runs.ends)
    pieces = [
        Piece(Box(int(top[k]), int(left[k]), int(bottom[k]), int(right[k])), (k,))
        for k in range(1, count + 1)
    ]
    return image, pieces


def piece_mask(labels: np.ndarray, piece: Piece) -> np.ndarray:
    """The piece's own ink on the grid, within its box (other pieces' ink left out)."""
    box = piece.box
    window = labels[box.top : box.bottom, box.left : box.right]
    return np.isin(window, piece.members)
