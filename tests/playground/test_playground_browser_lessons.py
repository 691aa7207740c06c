"""The guided lessons in headless Chromium: reachable from the page, carried by the URL."""

from __future__ import annotations

import pytest

from playground_pages import need_browser, open_page

need_browser()

pytestmark = [pytest.mark.timeout(180),
              pytest.mark.filterwarnings("ignore:Session-scoped fixtures defined as instance methods")]


def test_the_backprop_lesson_shows_the_hand_computation(page, playground_url):
    errors = open_page(page, playground_url)
    page.click("#lessons summary")
    page.click(".lesson-pick[data-lesson=backprop]")
    page.wait_for_selector("#lesson-card", state="visible")
    assert "x=1, y=5" in page.inner_text("#lesson-card h3")
    for part in ["lesson=backprop", "problem=regression", "networkShape=1&", "activation=relu", "learningRate=0.1"]:
        assert part in page.url
    page.click("#lesson-show")
    page.wait_for_selector("#bp-body table.bp-table")
    page.wait_for_function("document.querySelector('.bp-summary').textContent.includes('prediction ŷ = 6')")
    page.click("button[data-phase=update]")
    text = page.inner_text("#bp-body")
    assert "2.8" in text and "1.7" in text  # w1 -> 2.8, w2 -> 1.7
    page.click("#lesson-next")
    page.wait_for_function("window.glassnet.state.get('lesson') === 'reset'")
    page.click("#lesson-close")
    page.wait_for_selector("#lesson-card", state="hidden")
    assert "lesson=&" in page.url or page.url.endswith("lesson=")
    assert not errors


def test_a_lesson_link_opens_the_lesson_and_its_setup(page, playground_url):
    open_page(page, playground_url, "lesson=xor&dataset=xor&networkShape=")
    page.wait_for_selector("#lesson-card", state="visible")
    assert "X₁X₂" in page.inner_text("#lesson-card h3")
    assert page.evaluate("window.glassnet.state.get('networkShape')") == []
    page.wait_for_function("window.glassnet.network.net && window.glassnet.network.net.columns.length === 1")
    other = page.context.new_page()
    open_page(other, playground_url, "lesson=xor&lessons_hide=true")
    assert not other.is_visible("#lesson-card") and not other.is_visible("#lessons")
    other.close()
