"""The trainer's line on its own: order of arrival, one place per visitor, the cap, leaving,
the estimated wait, and fine-tuning sharing it with Retrain runs."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from mnist_demo.serving.line import (
    AlreadyInLine,
    LeftLine,
    LineFull,
    TrainerLine,
    iterate_in_thread,
    wait_in_line,
    waiting_status,
)
from mnist_demo.serving.session import Session
from mnist_demo.serving.trainer import TrainerSlot


def fresh_line(capacity: int = 5) -> TrainerLine:
    return TrainerLine(capacity=capacity, slot=TrainerSlot())


async def take_turn(line: TrainerLine, owner, order: list, places: dict, hold: float) -> None:
    """What a Start press does: wait in line, then hold the trainer for ``hold`` seconds."""
    with line.place(owner, estimate=hold) as ticket:
        async for place in wait_in_line(line, ticket):
            places.setdefault(owner, []).append(place.position)
        with line.slot.hold():  # Never raises: the line only lets one in once the slot is free.
            line.started(ticket)
            order.append(owner)
            await asyncio.sleep(hold)


def test_visitors_take_the_trainer_in_order_of_arrival_each_told_their_place():
    line, order, places = fresh_line(capacity=10), [], {}
    visitors = [f"visitor {n}" for n in range(8)]

    async def class_presses_start():
        # Tasks start in the order they are created: that is the order of arrival.
        await asyncio.gather(*(take_turn(line, v, order, places, 0.05) for v in visitors))

    asyncio.run(class_presses_start())
    assert order == visitors
    # Everyone but the first waited and was told a place that only ever moved forward.
    for n, visitor in enumerate(visitors[1:], start=1):
        seen = places[visitor]
        assert seen[0] == n + 1, (visitor, seen)
        assert seen == sorted(seen, reverse=True)
    assert len(line) == 0 and not line.slot.busy


def test_a_visitor_gets_one_place_only():
    line, session = fresh_line(), Session()
    with line.place(session, 5.0), pytest.raises(AlreadyInLine, match="already have a place"):
        line.join(session, 5.0)
    assert len(line) == 0


def test_a_full_line_says_when_to_come_back():
    line = fresh_line(capacity=2)
    line.join("a", 90.0)
    line.join("b", 90.0)
    with pytest.raises(LineFull, match=r"full \(2 waiting\)\. Try again in about 3 minutes"):
        line.join("c", 10.0)


def test_leaving_the_line_moves_everyone_behind_forward():
    line = fresh_line()
    first, second, third = (line.join(name, 10.0) for name in ("a", "b", "c"))
    assert line.where(third).position == 3
    line.leave(second)
    assert line.where(third).position == 2
    line.leave(first)
    assert line.where(third).position == 1 and line.turn_has_come(third)


def test_the_estimated_wait_adds_up_the_runs_ahead_and_counts_down():
    line = fresh_line()
    running = line.join("a", 20.0)
    line.join("b", 30.0)
    last = line.join("c", 5.0)
    line.started(running)
    first = line.where(last).seconds
    assert 49 < first <= 50
    running.started -= 6  # Six seconds later the wait is six seconds shorter.
    assert line.where(last).seconds == pytest.approx(first - 6, abs=0.5)
    running.progress = 0.5  # Halfway after 6 s: about 6 s left, whatever was estimated.
    assert line.where(last).seconds == pytest.approx(6 + 30, abs=0.5)


def test_stop_while_waiting_leaves_the_line():
    line, session = fresh_line(), Session()
    line.join("runner", 60.0)

    async def wait_then_stop():
        with line.place(session, 5.0) as ticket:
            session.ticket = ticket
            waiting = wait_in_line(line, ticket)
            assert (await anext(waiting)).position == 2
            assert session.stop_training()  # The Stop button while waiting.
            with pytest.raises(LeftLine):
                await anext(waiting)

    asyncio.run(wait_then_stop())
    assert len(line) == 1


def test_the_turn_waits_for_a_trainer_held_outside_the_line():
    line = fresh_line()
    ticket = line.join("a", 5.0)
    with line.slot.hold():
        assert not line.turn_has_come(ticket)
    assert line.turn_has_come(ticket)


def finish(line: TrainerLine, images: int, seconds: float, kind=None) -> None:
    """A run over ``images`` that took ``seconds``, as the Retrain tab reports it."""
    ticket = line.join(object(), 1.0)
    line.started(ticket)
    ticket.started -= seconds
    line.finished(ticket, images=images, kind=kind)
    line.leave(ticket)


def test_finished_runs_teach_the_line_this_hosts_speed():
    line = fresh_line()
    finish(line, 120_000, 6.0)  # 20,000 images a second, measured.
    assert 13_000 < line.images_per_second < 15_000  # Halfway from the prior 8,000.
    assert line.estimate(60_000, overhead=0) == pytest.approx(60_000 / line.images_per_second)


def test_one_kind_of_run_cannot_skew_another_kinds_estimate():
    line = fresh_line()
    lesson, short = ("lesson",), ("1,000 images, 1 epoch",)
    before = line.estimate(300_000)
    for _ in range(10):  # Set-up dominates: 1,000 images in 2 s reads as 500 images a second.
        finish(line, 1_000, 2.0, kind=short)
    assert line.images_per_second == pytest.approx(8_000)  # Short runs leave the host's rate.
    assert line.estimate(300_000, kind=lesson) == pytest.approx(before)
    assert line.estimate(1_000, kind=short) == pytest.approx(2.0, rel=1e-3)  # As measured.
    finish(line, 300_000, 30.0, kind=lesson)  # A long run teaches its kind and the host's rate.
    assert line.estimate(300_000, kind=lesson) == pytest.approx(30.0, rel=1e-3)
    assert line.images_per_second == pytest.approx(9_000, rel=1e-3)  # Halfway to 10,000.
    assert line.estimate(1_000, kind=short) == pytest.approx(2.0, rel=1e-3)


def test_waiting_status_names_the_place_and_the_wait():
    from mnist_demo.serving.line import Place

    text = waiting_status(Place(position=3, seconds=125))
    assert "number 3 in line" in text and "2 runs ahead" in text and "2 min 05 s" in text


def test_iterating_in_a_thread_closes_the_iterator_when_abandoned():
    closed = threading.Event()

    def steps():
        try:
            for n in range(100):
                time.sleep(0.01)
                yield n
        finally:
            closed.set()

    async def read_two():
        stream = iterate_in_thread(steps())
        assert [await anext(stream), await anext(stream)] == [0, 1]
        await stream.aclose()  # What Gradio does when the visitor leaves.

    asyncio.run(read_two())
    assert closed.is_set()


def test_fine_tuning_waits_in_the_same_line_as_retrain_runs(mnist_test):
    from mnist_demo.recognition.preprocess import preprocess
    from mnist_demo.serving.trainer import Budget
    from mnist_demo.training.finetune import PersonalExample
    from mnist_demo.ui.tabs.handwriting import Outcome, examples_of, finetune_in_line

    from .helpers import first_index_of, sketch_value

    line, learner = fresh_line(), Session()
    picture = preprocess(sketch_value(mnist_test, first_index_of(mnist_test, 4))).picture
    examples_of(learner).extend(PersonalExample(picture, 4) for _ in range(4))
    ahead = line.join("a retrain run", 30.0)

    async def tune() -> list:
        steps = []
        async for step in finetune_in_line(learner, Budget(threads=1), line):
            steps.append(step)
            if len(steps) == 1:
                line.leave(ahead)  # The run ahead finishes.
        return steps

    steps = asyncio.run(tune())
    assert "number 2 in line" in steps[0]
    assert isinstance(steps[-1], Outcome) and steps[-1].changed_model, steps[-1]
    assert learner.trained is not None and len(line) == 0


def test_a_fine_tune_nobody_listens_to_leaves_the_line_or_stops_its_steps(mnist_test):
    from mnist_demo.recognition.preprocess import preprocess
    from mnist_demo.serving.trainer import Budget
    from mnist_demo.training.finetune import PersonalExample
    from mnist_demo.ui.tabs.handwriting import examples_of, finetune_in_line

    from .helpers import first_index_of, sketch_value

    line, learner = fresh_line(), Session()
    picture = preprocess(sketch_value(mnist_test, first_index_of(mnist_test, 4))).picture
    examples_of(learner).extend(PersonalExample(picture, 4) for _ in range(4))

    async def tune(gone) -> list:
        return [step async for step in finetune_in_line(learner, Budget(threads=1), line, gone)]

    ahead = line.join("a retrain run", 30.0)
    assert asyncio.run(tune(lambda: True)) == []  # Waiting, nobody reading: it leaves.
    assert len(line) == 1
    line.leave(ahead)
    running = []  # Nobody reads from the moment the fine-tune holds the trainer.

    def gone() -> bool:
        running.append(line.slot.busy)
        return any(running)

    assert asyncio.run(tune(gone)) == []
    assert learner.trained is None and not line.slot.busy and len(line) == 0  # Nothing kept.


def test_a_visitor_leaving_mid_step_frees_the_trainer_once_the_step_returns():
    slot, released = TrainerSlot(), threading.Event()

    def run():
        with slot.hold():
            try:
                while True:
                    time.sleep(0.3)  # A training step, running in its thread when cancelled.
                    yield "step"
            finally:
                released.set()

    async def leave_mid_step():
        async def read():
            async for _ in iterate_in_thread(run()):
                pass

        task = asyncio.create_task(read())
        await asyncio.sleep(0.45)  # Inside the second step.
        task.cancel()  # What Gradio does when the visitor closes the page.
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.sleep(0.5)  # The step returns; then the run is closed.

    asyncio.run(leave_mid_step())
    assert released.is_set() and not slot.busy
