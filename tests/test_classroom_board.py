"""The board's figures (classroom/board.py, classroom/scores.py), on a real SQLite class store
holding real MNIST test digits, checked against the shipped model's own one-drawing path
(Predictor.predict_tensor)."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from mnist_demo.classroom.board import Board
from mnist_demo.classroom.records import ClassLimits
from mnist_demo.classroom.scores import HELD_OUT_PERCENT, accuracy_of, is_held_out, ranked
from mnist_demo.classroom.store import ClassError, ClassStore
from mnist_demo.data import denormalize
from mnist_demo.recognition.inference import shipped_predictor
from mnist_demo.recognition.model import SmallCNN
from mnist_demo.recognition.preprocess import to_tensor

STUDENTS = ("ann", "bo", "")
# Test digits a student labels wrongly (the model is right, the student "corrects" it): a 7
# called 1, a 0 called 6, a 3 called 8. They are the board's confident mistakes.
MISLABELLED = {0: 1, 3: 6, 18: 8}


def thumbnail(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray((255 - pixels * 255).astype(np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


def pixels_of(split, index: int) -> np.ndarray:
    return denormalize(split.images[index, 0], split.spec).numpy().astype(np.float32)


def shipped_answer(pixels: np.ndarray) -> tuple[int, float]:
    """The reference: the shipped model's answer through its one-drawing path."""
    picture = np.rint(pixels * 255).astype(np.uint8)
    probabilities = shipped_predictor().predict_tensor(to_tensor(picture))
    top = max(probabilities, key=probabilities.__getitem__)
    return int(top), probabilities[top]


@pytest.fixture
def store(tmp_path):
    limits = ClassLimits(max_classes=10, class_drawings=5000, student_rate=10_000, class_runs=10)
    store = ClassStore(f"sqlite:///{tmp_path / 'classes.db'}", limits=limits)
    yield store
    store.close()


def submit(store, code: str, split, index: int, nickname: str = "", label: int | None = None):
    pixels = pixels_of(split, index)
    label = int(split.labels[index]) if label is None else label
    return store.submit_drawing(
        code,
        pixels=pixels,
        thumbnail_png=thumbnail(pixels),
        label=label,
        predicted=None,
        confidence=None,
        nickname=nickname,
        session=f"session-{nickname}",
    )


@pytest.fixture
def class_pool(store, mnist_test):
    """A class of three students and 60 test digits, three of them labelled wrongly."""
    code = store.create_class("5B").code
    labels = {}
    for index in range(60):
        label = MISLABELLED.get(index)
        drawing_id = submit(store, code, mnist_test, index, STUDENTS[index % 3], label)
        labels[drawing_id] = (index, int(mnist_test.labels[index]) if label is None else label)
    return code, labels


def test_counts_confusion_and_accuracy_match_the_shipped_models_own_answers(
    store, mnist_test, class_pool
):
    code, labels = class_pool
    figures = Board(store).figures(code)
    answers = {
        drawing_id: shipped_answer(pixels_of(mnist_test, index))
        for drawing_id, (index, _) in labels.items()
    }
    expected_digits = [0] * 10
    for _, label in labels.values():
        expected_digits[label] += 1
    assert figures.total == 60 and figures.per_digit == expected_digits
    assert figures.per_student == {"ann": 20, "bo": 20, "(no name)": 20}
    right = sum(answers[i][0] == label for i, (_, label) in labels.items())
    assert figures.accuracy == pytest.approx(right / 60)
    assert 0.85 < figures.accuracy < 1  # The three mislabelled ones at least are "wrong".
    assert sum(map(sum, figures.confusion)) == 60
    for (label, answer), ids in figures.cells.items():
        assert figures.confusion[label][answer] == len(ids)
        for drawing_id in ids:
            assert labels[drawing_id][1] == label and answers[drawing_id][0] == answer


def test_the_most_confident_mistakes_come_first_and_are_all_wrong(store, class_pool):
    code, labels = class_pool
    mistakes = Board(store).figures(code).mistakes
    confidences = [row.confidence for row in mistakes]
    assert confidences == sorted(confidences, reverse=True)
    assert all(row.predicted != row.label for row in mistakes)
    mislabelled = {i for i, (index, _) in labels.items() if index in MISLABELLED}
    # The model is right and sure about those: they are among the surest "mistakes".
    assert mislabelled <= {row.id for row in mistakes[:6]}
    assert all(row.confidence > 0.9 for row in mistakes if row.id in mislabelled)


def test_a_student_filter_keeps_only_that_students_drawings(store, class_pool):
    code, _ = class_pool
    board = Board(store)
    ann = board.figures(code, student="ann")
    assert ann.total == 20 and ann.per_student == {"ann": 20}
    assert sum(ann.per_digit) == 20 and sum(map(sum, ann.confusion)) == 20
    assert board.students(code) == ["(no name)", "ann", "bo"]
    assert board.figures(code, student="nobody").total == 0


def test_a_refresh_scores_only_the_new_drawings(store, mnist_test, class_pool):
    code, _ = class_pool
    scored = []

    def counted():
        scored.append(1)
        return shipped_predictor()

    board = Board(store, shipped=counted)
    assert len(board.rows(code)) == 60 and len(scored) == 1
    for _ in range(3):
        board.figures(code)
    assert len(scored) == 1  # Nothing new: nothing scored.
    submit(store, code, mnist_test, 100, "ann")
    rows = board.rows(code)
    assert len(rows) == 61 and len(scored) == 2 and rows[-1].label == int(mnist_test.labels[100])


def test_the_held_out_part_is_a_fixed_fifth_chosen_by_id(store, class_pool):
    share = np.mean([is_held_out(n) for n in range(1, 5001)])
    assert abs(share - HELD_OUT_PERCENT / 100) < 0.03
    assert [is_held_out(n) for n in range(1, 200)] == [is_held_out(n) for n in range(1, 200)]
    code, labels = class_pool
    board = Board(store)
    held = board.held_out(code)
    training = board.training_part(code)
    assert {d.id for d in held} == {i for i in labels if is_held_out(i)}
    assert {d.id for d in held} | {d.id for d in training} == set(labels)
    assert not {d.id for d in held} & {d.id for d in training}


def test_a_runs_weights_are_scored_on_the_held_out_part_and_ranked(store, class_pool):
    code, _ = class_pool
    board = Board(store)
    shipped = shipped_predictor()
    weights = {name: value.clone() for name, value in shipped.model.state_dict().items()}
    torch.manual_seed(0)
    untrained = {name: value.clone() for name, value in SmallCNN().state_dict().items()}
    runs = {}
    for name, state in (("good", weights), ("fresh", untrained)):
        record = store.add_run(
            code,
            nickname=name,
            session="",
            kind="retrain",
            settings={"epochs": 1},
            curves={"accuracy": []},
            test_accuracy=0.5,
            state_dict=state,
        )
        runs[name] = record.id
    good = board.score_run(runs["good"])
    assert good == pytest.approx(accuracy_of(shipped, board.held_out(code)))
    assert store.run(runs["good"]).pool_accuracy == pytest.approx(good)
    fresh = board.score_run(runs["fresh"])
    assert fresh < good
    assert [run.nickname for run in ranked(store.runs(code))] == ["good", "fresh"]


def test_a_chosen_models_accuracy_grows_with_the_pool(store, mnist_test, class_pool):
    code, _ = class_pool
    board = Board(store)
    shipped = shipped_predictor()
    first = board.model_accuracy(code, "shipped", shipped)
    assert first == pytest.approx(board.figures(code).accuracy)
    submit(store, code, mnist_test, 200, "bo", label=(int(mnist_test.labels[200]) + 1) % 10)
    second = board.model_accuracy(code, "shipped", shipped)
    assert second == pytest.approx(accuracy_of(shipped, store.drawings(code)))
    assert second < first


def test_a_deleted_class_has_no_board(store, class_pool):
    code, _ = class_pool
    board = Board(store)
    board.figures(code)
    keys = store.create_class("gone")
    board.figures(keys.code)
    assert store.delete_class(keys.code, keys.teacher_key)
    board.forget(keys.code)
    with pytest.raises(ClassError):
        board.figures(keys.code)


def test_a_refresh_reads_only_the_latest_drawings_from_the_store(store, mnist_test, class_pool):
    code, _ = class_pool
    board = Board(store)
    board.rows(code)
    reads = []
    drawings = store.drawings

    def reading(code, **options):
        found = drawings(code, **options)
        reads.append((options.get("limit"), len(found)))
        return found

    store.drawings = reading
    for index in (300, 301):
        submit(store, code, mnist_test, index, "bo")
    rows = board.rows(code)
    assert len(rows) == 62 and [row.id for row in rows] == sorted(row.id for row in rows)
    assert reads == [(36, 36)]  # The latest 2 * 2 + 32 drawings, not all 62.
