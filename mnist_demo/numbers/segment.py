"""A drawing's ink map -> its pieces, left to right: the blobs of ink, merged into digits.

Small pure steps that a panel (or the page's JavaScript) can show one by one:

1-2. The working grid and its blobs of ink: see mnist_demo.numbers.blobs.
3. :func:`merge_dots`: a dot joins the nearest piece, or is left out as a speck.
4. :func:`merge_overlaps`: pieces sharing most of their columns, one above the other, are one
   digit.
5. :func:`merge_fragments`: a piece much shorter than the others joins the nearest one.
6. :func:`in_order`: left to right by the centre of the box.
7. :func:`close_neighbours`: pairs so close that they may be one digit; the model decides.

Splitting a piece that holds touching digits needs the model: see mnist_demo.numbers.cuts.
Every constant is in :mod:`mnist_demo.numbers.settings`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mnist_demo.numbers.blobs import Grid, Piece, components, run_labels, working_grid
from mnist_demo.numbers.settings import SETTINGS, SegmentSettings
from mnist_demo.recognition.preprocess import Box


def joined(first: Piece, second: Piece) -> Piece:
    a, b = first.box, second.box
    box = Box(
        min(a.top, b.top), min(a.left, b.left), max(a.bottom, b.bottom), max(a.right, b.right)
    )
    return Piece(box, tuple(sorted(first.members + second.members)))


def boxes_array(pieces: list[Piece]) -> np.ndarray:
    """(n, 4) top, left, bottom, right."""
    return np.array([[p.box.top, p.box.left, p.box.bottom, p.box.right] for p in pieces], float)


def box_gaps(box: Box, others: np.ndarray) -> np.ndarray:
    """The shortest distance from ``box`` to each of ``others`` (0 where they overlap)."""
    rows = np.maximum.reduce(
        [np.zeros(len(others)), box.top - others[:, 2], others[:, 0] - box.bottom]
    )
    columns = np.maximum.reduce(
        [np.zeros(len(others)), box.left - others[:, 3], others[:, 1] - box.right]
    )
    return np.hypot(rows, columns)


def merge_dots(
    pieces: list[Piece], settings: SegmentSettings = SETTINGS
) -> tuple[list[Piece], list[Piece]]:
    """(pieces with each dot joined to the nearest piece within reach, the specks left out).

    A dot is smaller than ``dot_fraction`` of the tallest piece's height: a tap, a stray mark,
    the stub of a broken stroke. The tallest piece is never a dot.
    """
    if not pieces:
        return [], []
    tallest = max(piece.box.height for piece in pieces)
    limit = settings.dot_fraction * tallest
    dots = [p for p in pieces if max(p.box.height, p.box.width) < limit]
    kept = [p for p in pieces if max(p.box.height, p.box.width) >= limit]
    boxes = boxes_array(kept)
    specks = []
    for dot in dots:
        gaps = box_gaps(dot.box, boxes)
        nearest = int(np.argmin(gaps))
        if gaps[nearest] <= settings.dot_reach * tallest:
            kept[nearest] = joined(kept[nearest], dot)
        else:
            specks.append(dot)
    return kept, specks


def merge_fragments(pieces: list[Piece], settings: SegmentSettings = SETTINGS) -> list[Piece]:
    """Join each piece shorter than ``fragment_fraction`` of the median height to the nearest
    other piece within ``dot_reach`` median heights (shortest first); digits in one number are
    about as tall as each other, so a short piece is part of one."""
    pieces = list(pieces)
    while len(pieces) > 1:
        median = float(np.median([piece.box.height for piece in pieces]))
        short = [
            i for i, p in enumerate(pieces) if p.box.height < settings.fragment_fraction * median
        ]
        joinable = []
        for index in short:
            boxes = boxes_array(pieces)
            gaps = box_gaps(pieces[index].box, boxes)
            gaps[index] = np.inf
            nearest = int(np.argmin(gaps))
            if gaps[nearest] <= settings.dot_reach * median:
                joinable.append((pieces[index].box.height, index, nearest))
        if not joinable:
            break
        _, index, nearest = min(joinable)
        pieces[nearest] = joined(pieces[nearest], pieces[index])
        del pieces[index]
    return pieces


def column_overlaps(boxes: np.ndarray) -> np.ndarray:
    """(n, n): the columns each two boxes share, as a fraction of the narrower one's width."""
    left, right = boxes[:, 1], boxes[:, 3]
    shared = np.minimum(right[:, None], right[None, :]) - np.maximum(left[:, None], left[None, :])
    narrower = np.maximum(np.minimum.outer(right - left, right - left), 1)
    return np.maximum(shared, 0) / narrower


def row_gaps(boxes: np.ndarray) -> np.ndarray:
    """(n, n): the rows between each two boxes (0 when they share rows), as a fraction of the
    taller one's height."""
    top, bottom = boxes[:, 0], boxes[:, 2]
    gaps = np.maximum(top[None, :] - bottom[:, None], top[:, None] - bottom[None, :])
    taller = np.maximum(np.maximum.outer(bottom - top, bottom - top), 1)
    return np.maximum(gaps, 0) / taller


def merge_overlaps(pieces: list[Piece], settings: SegmentSettings = SETTINGS) -> list[Piece]:
    """Join pieces that share ``merge_overlap`` of the narrower one's columns and are within
    ``merge_reach`` of each other up or down, until none are.

    A joined piece is wider, so it may now overlap another: the passes repeat until nothing
    changes. Joining may make a piece that holds two digits side by side (a 7's foot under the
    next digit): the cuts separate them again.
    """
    pieces = list(pieces)
    while len(pieces) > 1:
        boxes = boxes_array(pieces)
        one = (column_overlaps(boxes) >= settings.merge_overlap) & (
            row_gaps(boxes) <= settings.merge_reach
        )
        first, second = np.nonzero(np.triu(one, k=1))
        if len(first) == 0:
            break
        groups = run_labels(len(pieces), first, second)  # The same union-find as the blobs'.
        joined_pieces: dict[int, Piece] = {}
        for group, piece in zip(groups.tolist(), pieces, strict=True):
            held = joined_pieces.get(group)
            joined_pieces[group] = piece if held is None else joined(held, piece)
        pieces = list(joined_pieces.values())
    return pieces


def close_neighbours(pieces: list[Piece], settings: SegmentSettings = SETTINGS) -> list[int]:
    """Indices i where pieces i and i + 1 (in order) are closer than ``merge_gap`` of the taller
    one's height, side by side, and together no wider than a digit may be: the model decides
    whether each such pair is one digit (mnist_demo.numbers.read)."""
    found = []
    for index, (a, b) in enumerate(zip(pieces, pieces[1:], strict=False)):
        together = joined(a, b).box
        gap = max(a.box.left, b.box.left) - min(a.box.right, b.box.right)
        if (
            gap <= settings.merge_gap * max(a.box.height, b.box.height)
            and together.width <= settings.max_part * together.height
        ):
            found.append(index)
    return found


def in_order(pieces: list[Piece]) -> list[Piece]:
    """Left to right by the centre of each piece's box."""
    return sorted(pieces, key=lambda piece: (piece.centre, piece.box.top))


@dataclass(frozen=True)
class Segmentation:
    """Steps 1-6 on one ink map: the grid, its label image, the pieces in order, the specks."""

    grid: Grid
    labels: np.ndarray
    pieces: list[Piece]
    specks: list[Piece]


def segment(ink: np.ndarray, settings: SegmentSettings = SETTINGS) -> Segmentation | None:
    """The pieces of an ink map, left to right (None when nothing is drawn). Raises TooMuchInk
    past the caps. The model's steps (close neighbours, cuts) come after: see .read."""
    grid = working_grid(ink, settings)
    if grid is None:
        return None
    labels, blobs = components(grid, settings)
    pieces, specks = merge_dots(blobs, settings)
    pieces = merge_fragments(merge_overlaps(pieces, settings), settings)
    return Segmentation(grid, labels, in_order(pieces), specks)
