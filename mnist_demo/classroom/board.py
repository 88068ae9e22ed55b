"""The teacher's board, from a class's pool and models: counts, accuracies, the confusion matrix,
the most confident mistakes, and the held-out part of the pool that the class's runs are scored on.

A board refreshes every second while a lesson runs, so nothing is scored twice: per class the
board keeps one small row per drawing (its id, label, nickname and the shipped model's answer),
and a refresh asks the store only for the count, then fetches and scores the new drawings alone.
Pixels are never kept here; thumbnails are read from the store when a cell is opened.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from mnist_demo.classroom.scores import accuracy_of, is_held_out, run_predictor, score_pixels
from mnist_demo.config import MNIST
from mnist_demo.recognition.inference import Predictor, shipped_predictor

DIGITS = 10
# How many mistakes the board lists, the most confident first.
MISTAKES_SHOWN = 12
# Runs chosen on boards whose weights stay loaded (about 0.8 MB each).
KEPT_RUNS = 16


@dataclass(frozen=True)
class Row:
    """What the board keeps of one drawing: who, what it is, and the shipped model's answer."""

    id: int
    label: int
    nickname: str
    session: str
    predicted: int  # The shipped model's answer.
    confidence: float
    answered: int | None  # The answer the student saw (their own model's, perhaps).

    @property
    def wrong(self) -> bool:
        return self.predicted != self.label


@dataclass(frozen=True)
class Figures:
    """The board for one class, or for one student of it (``student``)."""

    student: str | None
    total: int
    per_digit: list[int]
    per_student: dict[str, int]
    accuracy: float | None  # The shipped model's, on these drawings.
    confusion: list[list[int]]  # [label][answer]
    cells: dict[tuple[int, int], list[int]]  # (label, answer) -> drawing ids, oldest first
    mistakes: list[Row]  # The shipped model's most confident wrong answers.
    held_out: int  # How many of these drawings are in the held-out part.

    def to_dict(self) -> dict:
        return {
            "drawings": self.total,
            "per_digit": self.per_digit,
            "per_student": self.per_student,
            "accuracy": self.accuracy,
            "confusion": self.confusion,
            "cells": {f"{label},{answer}": ids for (label, answer), ids in self.cells.items()},
            "mistakes": [row.id for row in self.mistakes],
            "held_out": self.held_out,
        }


def student_name(row: Row) -> str:
    return row.nickname or "(no name)"


def figures_of(rows: list[Row], student: str | None = None) -> Figures:
    """The board's figures for ``rows``, or for those of one student (a nickname)."""
    if student is not None:
        rows = [row for row in rows if student_name(row) == student]
    per_digit = [0] * DIGITS
    confusion = [[0] * DIGITS for _ in range(DIGITS)]
    cells: dict[tuple[int, int], list[int]] = {}
    for row in rows:
        per_digit[row.label] += 1
        confusion[row.label][row.predicted] += 1
        cells.setdefault((row.label, row.predicted), []).append(row.id)
    mistakes = sorted((row for row in rows if row.wrong), key=lambda row: -row.confidence)
    right = sum(not row.wrong for row in rows)
    return Figures(
        student=student,
        total=len(rows),
        per_digit=per_digit,
        per_student=dict(Counter(student_name(row) for row in rows).most_common()),
        accuracy=right / len(rows) if rows else None,
        confusion=confusion,
        cells=cells,
        mistakes=mistakes[:MISTAKES_SHOWN],
        held_out=sum(is_held_out(row.id) for row in rows),
    )


@dataclass
class Pool:
    """One class's rows, grown as drawings arrive; ``lock`` lets one refresh fetch at a time."""

    rows: list[Row] = field(default_factory=list)
    ids: set[int] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # A chosen model's key -> (the ids it scored, how many of them it got right).
    scores: dict[str, tuple[set[int], int]] = field(default_factory=dict)


class Board:
    """The boards of every class in ``store``, cached per class (thread-safe)."""

    def __init__(self, store, shipped: Callable[[], Predictor] | None = None) -> None:
        self.store = store
        self.shipped = shipped or (lambda: shipped_predictor(MNIST.name))
        self._pools: dict[str, Pool] = {}
        self._predictors: dict[str, Predictor] = {}  # Chosen runs, oldest first.
        self._lock = threading.Lock()

    def _pool(self, code: str) -> Pool:
        with self._lock:
            return self._pools.setdefault(code, Pool())

    def forget(self, code: str) -> None:
        """Drop a class's cached rows (after it is deleted)."""
        with self._lock:
            self._pools.pop(code, None)

    def rows(self, code: str) -> list[Row]:
        """Every drawing of the class as a row, oldest first, the new ones fetched and scored."""
        pool = self._pool(code)
        total = self.store.counts(code)["total"]  # NoSuchClass once the class is deleted.
        with pool.lock:
            if total != len(pool.rows):
                new = self.new_drawings(code, pool.ids, total - len(pool.rows))
                if new:
                    pixels = np.stack([drawing.pixels for drawing in new])
                    answers, confidences = score_pixels(self.shipped(), pixels)
                    pool.rows += [
                        Row(d.id, d.label, d.nickname, d.session, int(a), float(c), d.predicted)
                        for d, a, c in zip(new, answers, confidences, strict=True)
                    ]
                    pool.rows.sort(key=lambda row: row.id)
                    pool.ids.update(drawing.id for drawing in new)
            return list(pool.rows)

    def new_drawings(self, code: str, known: set[int], missing: int) -> list:
        """The class's drawings not in ``known``: read from its latest ones, which hold them
        (ids grow with time, though PostgreSQL may commit two of them out of order), else from
        all of them. A refresh so reads only a few drawings' pixels, not the whole pool's."""
        window = 2 * max(missing, 0) + 32
        latest = self.store.drawings(code, limit=window)
        new = [drawing for drawing in latest if drawing.id not in known]
        if len(new) < missing and len(latest) == window:
            new = [drawing for drawing in self.store.drawings(code) if drawing.id not in known]
        return new

    def figures(self, code: str, student: str | None = None) -> Figures:
        return figures_of(self.rows(code), student)

    def students(self, code: str) -> list[str]:
        return sorted({student_name(row) for row in self.rows(code)})

    def model_accuracy(self, code: str, key: str, predictor: Predictor) -> float | None:
        """``predictor``'s accuracy on the whole pool; ``key`` names the model, whose answers
        are kept as counts, so each drawing is scored by it once."""
        pool = self._pool(code)
        size = len(self.rows(code))
        with pool.lock:
            scored, right = pool.scores.get(key, (set(), 0))
            if len(scored) != size:
                new = self.new_drawings(code, scored, size - len(scored))
                if new:
                    answers, _ = score_pixels(predictor, np.stack([d.pixels for d in new]))
                    labels = np.array([drawing.label for drawing in new])
                    right += int((answers == labels).sum())
                    scored = scored | {drawing.id for drawing in new}
                pool.scores[key] = (scored, right)
        return right / len(scored) if scored else None

    def run_accuracy(self, code: str, run_id: str) -> float | None:
        """A run of this class scored on the whole pool (its weights read once per process)."""
        predictor = self._predictors.get(run_id)
        if predictor is None:
            record = self.store.run(run_id)
            if record is None or record.code != code:
                return None
            predictor = run_predictor(self.store, run_id)
            with self._lock:
                while len(self._predictors) >= KEPT_RUNS:
                    self._predictors.pop(next(iter(self._predictors)))
                self._predictors[run_id] = predictor
        return self.model_accuracy(code, run_id, predictor)

    def held_out(self, code: str) -> list:
        """The pool's held-out drawings (store Drawings), oldest first."""
        return [drawing for drawing in self.store.drawings(code) if is_held_out(drawing.id)]

    def training_part(self, code: str, session: str | None = None) -> list:
        """The drawings a run may train on: the pool less its held-out part (one student's,
        given ``session``)."""
        drawings = self.store.drawings(code, session=session)
        return [drawing for drawing in drawings if not is_held_out(drawing.id)]

    def score_run(self, run_id: str) -> float | None:
        """Score a stored run's weights on its class's held-out part, and store the score (None,
        and nothing stored, while the held-out part is empty)."""
        record = self.store.run(run_id)
        if record is None:
            return None
        held_out = self.held_out(record.code)
        if not held_out:
            return None
        accuracy = accuracy_of(run_predictor(self.store, run_id), held_out)
        self.store.set_pool_accuracy(run_id, accuracy)
        return accuracy
