"""``read_number``: a drawing of a whole number -> its digits, each read as a lone digit is.

The drawing's ink map (mnist_demo.recognition.ink) is cut into pieces (mnist_demo.numbers.segment),
a piece that may hold touching digits is split where the model is surest (.cuts), and each digit
then goes through the one preprocessing and the model with its verdict, exactly as a lone digit
does. A drawing that is one piece is read exactly as ``classify`` reads it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from mnist_demo.numbers.blobs import Grid, Piece, TooMuchInk, piece_mask
from mnist_demo.numbers.cuts import Part, best_parts, between
from mnist_demo.numbers.segment import close_neighbours, joined, segment
from mnist_demo.numbers.settings import SETTINGS, SegmentSettings
from mnist_demo.recognition.inference import Prediction, Predictor, shipped_predictor
from mnist_demo.recognition.ink import to_ink
from mnist_demo.recognition.preprocess import Box, preprocess_ink
from mnist_demo.recognition.verdict import words
from mnist_demo.recognition.wording import number_words

NUMBER, UNSURE, NOT_A_NUMBER = "number", "unsure", "not a number"


@dataclass(frozen=True)
class DigitReading:
    """One digit of a number: where it is on the canvas, what the model saw and said.

    ``picture`` is the 28x28 uint8 input (None when the piece was too thin or small to read,
    ``reason`` says why); ``verdict`` is "digit", "unsure" or "not a digit".
    """

    box: Box
    picture: np.ndarray | None
    probabilities: dict[str, float]
    verdict: str
    reason: str = ""

    @property
    def top(self) -> str | None:
        if not self.probabilities:
            return None
        return max(self.probabilities, key=self.probabilities.__getitem__)

    def to_dict(self) -> dict[str, Any]:
        return {
            "box": asdict(self.box),
            "top": self.top,
            "verdict": self.verdict,
            "probabilities": self.probabilities,
        }


@dataclass(frozen=True)
class NumberReading:
    """A whole number: ``number`` holds each digit's best class, left to right.

    ``verdict`` is "number" (every digit sure), "unsure", "not a number" (a piece is not a
    digit, or the drawing was refused: ``reason`` names which and why) or "" for a blank pad.
    Trust ``number`` only when the verdict is "number". ``left_out`` counts specks too small
    and far from any digit to belong to one.
    """

    number: str
    digits: tuple[DigitReading, ...]
    verdict: str
    reason: str = ""
    left_out: int = 0

    @property
    def blank(self) -> bool:
        return self.verdict == ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "verdict": self.verdict,
            "reason": self.reason,
            "blank": self.blank,
            "left_out": self.left_out,
            "digits": [digit.to_dict() for digit in self.digits],
        }


def ordinal(position: int) -> str:
    """1 -> "1st", 2 -> "2nd", 11 -> "11th", 23 -> "23rd"."""
    suffix = "th" if 10 <= position % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(position % 10)
    return f"{position}{suffix or 'th'}"


def places(positions: list[int]) -> str:
    """[3] -> "3rd", [1, 2, 4] -> "1st, 2nd and 4th" (static/numbers.js lists them alike)."""
    named = [ordinal(position) for position in positions]
    return named[0] if len(named) == 1 else f"{', '.join(named[:-1])} and {named[-1]}"


def reason_for(positions: list[int], one: str, many: str) -> str:
    """The reason naming ``positions``, worded by wording.py's number table."""
    return number_words(one if len(positions) == 1 else many, places=places(positions))


def judged(digits: list[DigitReading], left_out: int) -> NumberReading:
    """The number's verdict from its digits': one piece that is no digit makes it no number."""
    number = "".join(digit.top or "?" for digit in digits)
    digit_word, unsure_word, _ = words("mnist")
    rejected = [i + 1 for i, d in enumerate(digits) if d.verdict not in (digit_word, unsure_word)]
    doubted = [i + 1 for i, d in enumerate(digits) if d.verdict == unsure_word]
    if rejected:
        reason = reason_for(rejected, "rejected_one", "rejected_many")
        return NumberReading(number, tuple(digits), NOT_A_NUMBER, reason, left_out)
    if doubted:
        reason = reason_for(doubted, "doubted_one", "doubted_many")
        return NumberReading(number, tuple(digits), UNSURE, reason, left_out)
    return NumberReading(number, tuple(digits), NUMBER, "", left_out)


def refused(reason: str) -> NumberReading:
    return NumberReading("", (), NOT_A_NUMBER, number_words("refused", reason=reason))


def digit_reading(prediction: Prediction, box: Box) -> DigitReading:
    said = prediction.verdict or words("mnist")[2]  # A piece too thin to read is no digit.
    return DigitReading(box, prediction.picture, prediction.probabilities, said, prediction.reason)


@dataclass
class Reader:
    """Reads the parts of one drawing with one model, each part once, within a budget."""

    ink: np.ndarray
    grid: Grid
    labels: np.ndarray
    predictor: Predictor
    reads_left: int
    seen: dict = field(default_factory=dict)  # (piece, part) -> (prediction, box on the canvas)
    inks: dict = field(default_factory=dict)  # piece -> its ink, as piece_ink gives it

    def piece_ink(self, piece: Piece) -> tuple[np.ndarray, Box]:
        """The piece's own ink at full resolution (others' ink blanked), and where it is."""
        if piece not in self.inks:
            box = self.grid.to_canvas(piece.box, self.ink.shape)
            cells = piece_mask(self.labels, piece)
            factor = self.grid.factor
            mask = np.repeat(np.repeat(cells, factor, 0), factor, 1)[: box.height, : box.width]
            window = self.ink[box.top : box.bottom, box.left : box.right]
            self.inks[piece] = (np.where(mask, window, 0).astype(np.uint8), box)
        return self.inks[piece]

    def read(self, piece: Piece, part: Part) -> tuple[Prediction, Box]:
        key = (piece, part)
        if key not in self.seen:
            ink, origin = self.piece_ink(piece)
            ink = np.where(between(ink.shape, part, self.grid.factor), ink, 0).astype(np.uint8)
            # Judged as a digit on its own canvas: a small digit in a big drawing is no speck.
            prepared = preprocess_ink(ink, self.predictor.spec, canvas_shape=ink.shape)
            box = prepared.box or Box(0, 0, *ink.shape)
            placed = Box(
                origin.top + box.top,
                origin.left + box.left,
                origin.top + box.bottom,
                origin.left + box.right,
            )
            self.seen[key] = (self.predictor.predict_prepared(prepared), placed)
        return self.seen[key]

    def score(self, piece: Piece, part: Part) -> float | None:
        """The model's log top probability for a part, or None once the budget is spent."""
        if (piece, part) not in self.seen:
            if self.reads_left <= 0:
                return None
            self.reads_left -= 1
        prediction, _ = self.read(piece, part)
        if prediction.blank:
            return None
        return math.log(max(prediction.probabilities[prediction.top], 1e-12))

    def merge_close(self, pieces: list[Piece], settings: SegmentSettings) -> list[Piece]:
        """Join close neighbours where the model reads them surer as one digit than as two."""
        pieces = list(pieces)
        whole = (None, None)
        for index in reversed(close_neighbours(pieces, settings)):  # Right to left: indices hold.
            first, second = pieces[index], pieces[index + 1]
            together = joined(first, second)
            scores = [self.score(piece, whole) for piece in (first, second, together)]
            if None in scores:
                continue
            apart = scores[0] + scores[1] - 2 * settings.cut_cost
            if scores[2] - settings.cut_cost > apart:
                pieces[index : index + 2] = [together]
        return pieces

    def parts(self, piece: Piece, settings: SegmentSettings, median: float) -> list[Part]:
        """How the piece is cut: whole unless it is as tall as a digit (a long flat stroke is
        not a row of digits), wide for its height, and not read whole with great sureness."""
        cells = piece_mask(self.labels, piece)
        height, width = cells.shape
        if width <= settings.split_aspect * height or height < settings.fragment_fraction * median:
            return [(None, None)]
        if width <= settings.force_aspect * height:
            whole = self.score(piece, (None, None))
            if whole is None or whole >= math.log(settings.keep_above):
                return [(None, None)]
        return best_parts(cells, lambda part: self.score(piece, part), settings)


def read_number(
    image: Any, predictor: Predictor | None = None, settings: SegmentSettings = SETTINGS
) -> NumberReading:
    """Read a drawing of a whole number, digit by digit (see :class:`NumberReading`).

    ``image`` is anything ``predict`` accepts; ``predictor`` an MNIST model (the shipped one by
    default). Raises ValueError for what is not an image, or for a model of another dataset.
    """
    predictor = predictor or shipped_predictor("mnist")
    if predictor.spec.name != "mnist":
        raise ValueError(f"numbers are read with an MNIST model, not a {predictor.spec.name} one")
    ink = to_ink(image)
    try:
        found = None if ink is None else segment(ink, settings)
    except TooMuchInk as error:
        return refused(str(error))
    if found is None:
        return NumberReading("", (), "", "nothing drawn")
    pieces = found.pieces
    if len(pieces) > settings.max_pieces:
        return refused(number_words("too_many_pieces", count=len(pieces), most=settings.max_pieces))
    reader = Reader(ink, found.grid, found.labels, predictor, settings.max_reads)
    pieces = reader.merge_close(pieces, settings)
    median = float(np.median([piece.box.height for piece in pieces]))
    parts = [(piece, part) for piece in pieces for part in reader.parts(piece, settings, median)]
    if len(parts) > settings.max_pieces:
        return refused(number_words("too_many_digits", count=len(parts), most=settings.max_pieces))
    if len(parts) == 1:
        # One digit: the whole drawing, exactly as a lone digit is read (specks and all).
        prepared = preprocess_ink(ink, predictor.spec)
        prediction = predictor.predict_prepared(prepared)
        if prediction.blank:
            return NumberReading("", (), "", prediction.reason)
        return judged([digit_reading(prediction, prepared.box)], 0)
    digits = [digit_reading(*reader.read(piece, part)) for piece, part in parts]
    digits.sort(key=lambda digit: (digit.box.left + digit.box.right) / 2)
    return judged(digits, len(found.specks))
