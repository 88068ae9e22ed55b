"""A class in real Chromium: presets by link, bad link values said on the page, the train and
test curves in the charts' legend, and three visitors' Start presses served in turn."""

from __future__ import annotations

import pytest

from mnist_demo.serving.trainer import Budget

from .helpers import served_app

pytestmark = [pytest.mark.slow, pytest.mark.browser]

# Small runs: the class's three Start presses then take a few seconds each.
SMALL_RUN = "subset=1000&epochs=1&batch=128&tab=retrain"


app_url = served_app(Budget(max_epochs=2, max_seconds=30, threads=1))


def visitor(browser, url: str):
    """A new visitor: their own browser context (cookies, session), on the given page."""
    page = browser.new_context(viewport={"width": 1280, "height": 1000}).new_page()
    page.goto(url)
    page.locator("#start").wait_for(timeout=30_000)
    return page


def test_a_preset_link_sets_the_quick_settings_and_bad_values_are_said_on_the_page(
    browser, app_url
):
    page = visitor(browser, f"{app_url}?preset=quick&lr=abc&epochs=99&tab=retrain")
    notice = page.locator("#link-notice")
    notice.get_by_text("lr='abc' ignored").wait_for(timeout=20_000)
    text = notice.inner_text()
    assert "epochs='99' ignored (use 1 to 2)" in text, text
    # The preset's learning rate and schedule; the link's bad lr and epochs were ignored.
    page.wait_for_function(
        "() => [...document.querySelectorAll('input')].some(i => i.value === '0.003')",
        timeout=20_000,
    )
    assert page.get_by_role("radio", name="onecycle").first.is_checked()
    page.context.close()


def test_a_good_link_shows_no_notice_and_copy_link_keeps_hidden_settings(browser, app_url):
    page = visitor(browser, f"{app_url}?epochs=1&hide=advanced&tab=retrain")
    page.wait_for_timeout(1000)
    assert page.locator("#link-notice").is_hidden()
    assert page.locator("#advanced").is_hidden()
    page.locator("#share").get_by_text("Share these settings").click()
    page.locator("#copy-link").click()
    page.wait_for_function(
        "() => (document.querySelector('#preset-link textarea, #preset-link input')?.value || '')"
        ".includes('hide=advanced')",
        timeout=20_000,
    )
    page.context.close()


def legend(page, chart: str) -> list[str]:
    return page.eval_on_selector_all(
        f"#{chart} svg .role-legend text", "texts => texts.map(t => t.textContent)"
    )


def test_the_charts_draw_train_and_test_curves_with_a_legend(browser, app_url, artifacts_dir):
    page = visitor(browser, f"{app_url}?{SMALL_RUN}")
    page.locator("#start").click()
    status = page.locator("#train-status")
    status.get_by_text("step").first.wait_for(timeout=60_000)
    for chart in ("loss-chart", "accuracy-chart"):
        page.wait_for_function(
            "selector => ['train', 'test'].every(name => [...document.querySelectorAll("
            "selector)].some(t => t.textContent === name))",
            arg=f"#{chart} svg .role-legend text",
            timeout=30_000,
        )
    status.get_by_text("Training finished").wait_for(timeout=60_000)
    assert {"test", "train"} <= set(legend(page, "accuracy-chart"))
    # Both lines are drawn: one path per series in each chart.
    lines = page.eval_on_selector_all("#loss-chart svg .mark-line path", "paths => paths.length")
    assert lines == 2
    page.locator("#loss-chart").screenshot(path=str(artifacts_dir / "loss_chart.png"))
    # The downloads' names are shown whole, not cut to "mnist… .pth".
    page.locator("#downloads .stem").first.wait_for(timeout=20_000)
    cut = page.eval_on_selector_all(
        "#downloads .stem", "names => names.filter(n => n.scrollWidth > n.clientWidth).length"
    )
    assert cut == 0
    assert "mnist_cnn_retrained" in page.locator("#downloads").inner_text()
    page.context.close()


def test_three_visitors_pressing_start_are_served_in_turn(browser, app_url, artifacts_dir):
    pages = [visitor(browser, f"{app_url}?{SMALL_RUN}") for _ in range(3)]
    for page in pages:
        page.locator("#start").click()
        page.wait_for_timeout(300)  # Presses a moment apart: the order of arrival.
    statuses = [page.locator("#train-status") for page in pages]
    statuses[1].get_by_text("number 2 in line").wait_for(timeout=30_000)
    statuses[2].get_by_text("in line").first.wait_for(timeout=30_000)
    pages[2].screenshot(path=str(artifacts_dir / "waiting_in_line.png"), full_page=True)
    for status in statuses:  # Every run starts by itself when its turn comes and finishes.
        status.get_by_text("Training finished").wait_for(timeout=120_000)
    for page in pages:
        page.context.close()
