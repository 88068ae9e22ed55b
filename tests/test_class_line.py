"""A class presses Start together on a real server: every run completes, in order of arrival,
each visitor told their place; one who leaves while waiting drops out of the line."""

from __future__ import annotations

import threading
import time

import pytest
from gradio_client import Client

from mnist_demo.serving.trainer import SLOT, Budget

from .helpers import launched

pytestmark = pytest.mark.slow

CLASS_SIZE = 30
# dataset, epochs, learning rate, batch size, optimizer, BatchNorm, schedule, subset, augment, seed
TINY_RUN = ("mnist", 1, 0.003, 128, "adam", False, "onecycle", 1000, False, 0)


def in_line(student: Client):
    """Press Start and return once the server has answered (so arrival order is defined)."""
    job = student.submit(*TINY_RUN, api_name="/train")
    deadline = time.monotonic() + 60
    while not job.outputs() and time.monotonic() < deadline:
        time.sleep(0.02)
    return job


def test_thirty_starts_together_all_train_in_order_of_arrival(tmp_path):
    with launched(Budget(max_epochs=1, max_seconds=60, threads=1, line_size=40)) as demo:
        students = [Client(demo.local_url, verbose=False) for _ in range(CLASS_SIZE + 1)]
        leaver, *students = students
        finished_at: dict[int, float] = {}
        jobs = []

        def wait_for(index: int, job) -> None:
            job.result(timeout=600)
            finished_at[index] = time.monotonic()

        started = time.monotonic()
        waiters = []
        for index, student in enumerate(students):
            jobs.append(in_line(student))
            waiters.append(threading.Thread(target=wait_for, args=(index, jobs[-1])))
            waiters[-1].start()
            if index == 2:  # Someone joins and then closes the page while waiting.
                left = in_line(leaver)
                left.cancel()
        for waiter in waiters:
            waiter.join(timeout=600)
        total = time.monotonic() - started

    assert len(finished_at) == CLASS_SIZE, "some runs never finished"
    finals = [job.outputs()[-1][0] for job in jobs]
    assert all("test accuracy" in final for final in finals), finals
    order = sorted(finished_at, key=finished_at.get)
    assert order == list(range(CLASS_SIZE)), f"not first come, first served: {order}"
    # Everyone who had to wait was told a place in line first.
    told = [job.outputs()[0][0] for job in jobs[1:]]
    assert all("in line" in text for text in told), told
    assert "in line" in left.outputs()[0][0]
    assert not SLOT.busy
    print(f"{CLASS_SIZE} tiny runs through the line in {total:.1f} s")
