"""``bench browser``'s summary, without a browser: the speedup it reports from the two medians."""

import json

import pytest

from mnist_demo.bench.browser import speedup


def timed(p50_ms: float, tick_ms: float = 0.1) -> dict:
    return {"pointer_up_to_final_p50_ms": p50_ms, "timer_resolution_ms": tick_ms}


def test_a_pad_median_of_a_tick_or_more_gives_the_plain_ratio():
    assert speedup(timed(8.0), timed(1372.0)) == {"p50_speedup": 171.5}
    assert speedup(timed(0.1), timed(50.0)) == {"p50_speedup": 500.0}


def test_a_pad_median_under_the_timer_resolution_gives_only_a_lower_bound():
    report = speedup(timed(0.0, tick_ms=0.1), timed(1372.0))
    # Not 1372 / 0 (infinite) nor 1372 / floor: a bound against one tick of the page's clock.
    assert report["p50_speedup"] is None
    assert report["p50_speedup_at_least"] == 13720.0
    assert "0.1 ms" in report["p50_speedup_note"] and "lower bound" in report["p50_speedup_note"]
    assert json.loads(json.dumps(report))["p50_speedup"] is None  # null in --json.


def test_the_bound_follows_the_resolution_measured_in_the_page():
    # A cross-origin-isolated page ticks every 5 us: the same 0 ms median bounds the ratio higher.
    report = speedup(timed(0.0, tick_ms=0.005), timed(1372.0))
    assert report["p50_speedup"] is None and report["p50_speedup_at_least"] == 274400.0
    # Between readings a median can fall inside the tick; the bound counts the whole tick.
    assert speedup(timed(0.05), timed(30.0))["p50_speedup_at_least"] == 200.0


def test_a_timer_resolution_that_is_not_positive_is_refused():
    with pytest.raises(ValueError, match="resolution must be positive"):
        speedup(timed(0.0, tick_ms=0.0), timed(1372.0))
