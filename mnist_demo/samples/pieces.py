"""Pieces cut from whole numbers, as the segmentation reads them: which are digits, which are not.

Reading a number (mnist_demo.numbers.read) chooses its cuts by how sure the model is of each part.
A model that has only seen lone, centred digits is sure of too much: half of a wide 5, a pair of
touching 4s, a 3 with its neighbour's stroke. Here numbers of MNIST *training* digits are composed
(mnist_demo.samples.numbers), the segmentation runs on them exploring every cut it would consider,
and each part it reads is told apart by the ink it holds, from the digits' own brush paths:

- a **digit**: at least ``DIGIT_COVER`` of one digit's ink and at most ``DIGIT_EXTRA`` of ink from
  elsewhere (a clean cut), labelled with that digit;
- **not a digit**: under ``HALF_COVER`` of its digit's ink (a half) that the model reads as
  another digit, or as a 1 while at least ``HALF_ONE_ASPECT`` of its height wide (half a 0 is
  no stem), or a digit with over ``EXTRA_SHARE`` of the part's ink from its neighbour (a pair,
  a 1 stuck to its neighbour, or a neighbour's stroke left in); narrow parts and parts of a 1
  are left out, as is everything between.

Training pushes the non-digits toward uniform, as it does the made-up ones (outlier exposure), so
that the cut scores mean more; the digits are swapped into batches like coarse scans.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np
import torch

from mnist_demo.config import MNIST
from mnist_demo.data import denormalize, load_split
from mnist_demo.numbers.cuts import between
from mnist_demo.numbers.read import Reader
from mnist_demo.numbers.segment import segment
from mnist_demo.numbers.settings import SETTINGS
from mnist_demo.recognition.inference import Predictor
from mnist_demo.recognition.ink import to_ink
from mnist_demo.recognition.preprocess import preprocess_ink
from mnist_demo.samples.drawings import CONVENTIONS
from mnist_demo.samples.numbers import GAPS, LENGTHS, NumberDrawing, compose_number

DIGIT_COVER = 0.93
DIGIT_EXTRA = 0.05
HALF_COVER = 0.6
EXTRA_SHARE = 0.15
MIN_ASPECT = 0.35  # A non-digit narrower than this for its height would be a 1.
HALF_ONE_ASPECT = 0.5  # A half read as 1 at least this wide for its height is no digit.
INK_LEVEL = 64  # Ink above this level counts as the part's.
PER_NUMBER = 10  # At most this many non-digits from one number.
# Harvesting explores every wide piece's cuts (never kept whole for being read surely), within a
# smaller budget of reads than reading does.
HARVEST_SETTINGS = dataclasses.replace(SETTINGS, keep_above=1.0, max_reads=160)


@dataclass
class Harvester(Reader):
    """A Reader that also keeps each part's ink and where it lies on the canvas."""

    parts_read: list = field(default_factory=list)

    def read(self, piece, part):
        new = (piece, part) not in self.seen
        result = super().read(piece, part)
        if new:
            ink, origin = self.piece_ink(piece)
            cut = np.where(between(ink.shape, part, self.grid.factor), ink, 0).astype(np.uint8)
            self.parts_read.append((cut, origin, result[0].top))
        return result


def parts_of(number: NumberDrawing, predictor: Predictor) -> list[tuple]:
    """(ink, origin, the model's answer) of every part the segmentation reads while cutting
    ``number``, and of each piece whole."""
    ink = to_ink(number.image)
    found = None if ink is None else segment(ink, HARVEST_SETTINGS)
    if found is None:
        return []
    reader = Harvester(ink, found.grid, found.labels, predictor, HARVEST_SETTINGS.max_reads)
    pieces = reader.merge_close(found.pieces, HARVEST_SETTINGS)
    median = float(np.median([piece.box.height for piece in pieces]))
    for piece in pieces:
        reader.read(piece, (None, None))
        reader.parts(piece, HARVEST_SETTINGS, median)
    return [(cut, (origin.top, origin.left), top) for cut, origin, top in reader.parts_read]


def judge(
    cut: np.ndarray, origin: tuple, masks: list[np.ndarray], label: str, read_as: str | None
) -> int | None:
    """The digit a part is (0-9), -1 if it is not a digit, None if it is neither clearly.

    A half that the model reads as its own digit (a 2 short of its tail) or as a narrow 1 (a
    stem) is left out: it harms no reading, and a 1 is a stroke."""
    part = cut > INK_LEVEL
    total = int(part.sum())
    if total == 0:
        return None
    top, left = origin
    window = (slice(top, top + part.shape[0]), slice(left, left + part.shape[1]))
    inside = [int((mask[window] & part).sum()) for mask in masks]
    covers = [count / max(int(mask.sum()), 1) for count, mask in zip(inside, masks, strict=True)]
    best = int(np.argmax(covers))
    extra = 1 - inside[best] / total
    if covers[best] >= DIGIT_COVER and extra <= DIGIT_EXTRA:
        return int(label[best])
    rows, columns = np.nonzero(part)
    height, width = np.ptp(rows) + 1, np.ptp(columns) + 1
    if width < MIN_ASPECT * height or (label[best] == "1" and extra < EXTRA_SHARE):
        return None
    if extra > EXTRA_SHARE:
        return -1
    stem = read_as == "1" and width < HALF_ONE_ASPECT * height
    if covers[best] < HALF_COVER and read_as != label[best] and not stem:
        return -1
    return None


@dataclass(frozen=True)
class NumberPieces:
    """Parts cut from composed numbers, as the model sees them (normalised (N, 1, 28, 28))."""

    not_digits: torch.Tensor
    digits: torch.Tensor
    labels: torch.Tensor


def number_pieces(
    numbers: int, seed: int, limit: int, predictor: Predictor, train: bool = True
) -> NumberPieces:
    """Pieces of ``numbers`` numbers (half with clear gaps, half touching) of the first ``limit``
    digits of an MNIST split, cut as ``predictor`` would cut them."""
    split = load_split("mnist", train=train).subset(limit)
    rng = np.random.default_rng([seed, 20])
    negatives, positives, labels = [], [], []
    for position in range(numbers):
        gaps = list(GAPS)[position % len(GAPS)]
        length = int(rng.integers(LENGTHS[0], LENGTHS[1] + 1))
        indices = rng.integers(0, len(split), length)
        digits = [denormalize(split.images[i, 0], MNIST).numpy() for i in indices]
        convention = CONVENTIONS[position % len(CONVENTIONS)]
        values = [int(split.labels[i]) for i in indices]
        number = compose_number(digits, values, gaps, rng, convention)
        masks = [number.digit_alone(i) > INK_LEVEL for i in range(length)]
        found = []
        for cut, origin, read_as in parts_of(number, predictor):
            verdict = judge(cut, origin, masks, number.label, read_as)
            if verdict is None:
                continue
            prepared = preprocess_ink(cut, MNIST, canvas_shape=cut.shape)
            if prepared.blank:
                continue
            if verdict < 0:
                found.append(prepared.tensor)
            else:
                positives.append(prepared.tensor)
                labels.append(verdict)
        for index in rng.permutation(len(found))[:PER_NUMBER]:
            negatives.append(found[index])
    empty = torch.empty(0, 1, 28, 28)
    return NumberPieces(
        torch.cat(negatives) if negatives else empty,
        torch.cat(positives) if positives else empty,
        torch.tensor(labels, dtype=torch.long),
    )
