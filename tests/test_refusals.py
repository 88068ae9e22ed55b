"""The guard's refusals reach the operator's log: one line at once, then one a minute at most.
(That the guard feeds it, on a real server: tests/test_security.py.)"""

from __future__ import annotations

import logging

from mnist_demo.ui.guards.lines import PATH_CHARACTERS, RefusalLog

LOGGER = "mnist_demo.ui.guards.lines"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def lines(caplog) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.name == LOGGER]


def test_a_flood_costs_one_line_a_minute_with_its_counts_by_status(caplog):
    caplog.set_level(logging.WARNING, logger=LOGGER)
    clock = Clock()
    refusals = RefusalLog(interval=60, clock=clock)
    refusals.refused(429, "/gradio_api/queue/join")
    assert lines(caplog) == [
        "refused 1 request in the last 0 s (429 × 1); the last: '/gradio_api/queue/join'"
    ]
    for _ in range(1000):  # A flood within the minute: counted, not logged.
        clock.now += 0.05
        refusals.refused(413, "/gradio_api/upload")
    assert len(lines(caplog)) == 1
    clock.now = 1060.0  # 60 s after the first line.
    refusals.refused(404, "/gradio_api/call/" + "x\n" * 200)
    told = lines(caplog)[-1]
    assert len(lines(caplog)) == 2
    assert told.startswith("refused 1,001 requests in the last 60 s (404 × 1, 413 × 1,000); ")
    assert "\n" not in told and len(told) < 100 + 2 * PATH_CHARACTERS  # The path cut, escaped.
