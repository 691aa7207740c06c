"""The network diagram's link flow in headless Chromium (the ``linkFlow`` view setting).

Off by default: the links canvas stands still while training is paused. Ticked, dashes move
along every link (each link's dash offset, its phase, changes from one frame to the next, and so
do the canvas's pixels) at a speed proportional to the signal through the link, the setting is
in the URL, and a URL with it opens with the flow on. The flow pauses while the page is in the
background or drawing under ``FLOW.minFps`` frames a second; with a backprop trace shown it
moves forward in the forward phase and backwards in the backward phase. A screenshot of the
diagram goes to ``test-artifacts/link_flow.png``.
"""

from __future__ import annotations

import pytest

from playground_pages import ARTIFACTS, need_browser, open_page

need_browser()

pytestmark = [pytest.mark.timeout(180),
              pytest.mark.filterwarnings("ignore:Session-scoped fixtures defined as instance methods")]

FLOW = "window.glassnet.network.flow"
#: the links canvas's pixels, as one string (to compare two frames)
PIXELS = ("(() => { const c = document.querySelector('#network canvas.links');"
          " return Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data).join(','); })()")
#: the dash offsets of the first links
PHASES = f"Array.from({FLOW}.phase.slice(0, 12))"
TWO_FRAMES = "new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(r, 150))))"


def test_link_flow_toggle_moves_dashes_and_is_in_the_url(page, playground_url):
    errors = open_page(page, playground_url, "networkShape=4,2")
    assert not page.is_checked("#ctl-linkFlow")
    assert page.evaluate(f"{FLOW}.status") == "off"
    still = page.evaluate(PIXELS)
    page.evaluate(TWO_FRAMES)
    assert page.evaluate(PIXELS) == still  # training paused, no flow: nothing moves

    page.check("#ctl-linkFlow")
    page.wait_for_function(f"{FLOW}.status === 'on'")
    assert "linkFlow=true" in page.url
    speeds = page.evaluate(f"Array.from({FLOW}.speed)")
    top = page.evaluate("window.glassnet.FLOW.maxSpeed")
    assert len(speeds) == page.evaluate("window.glassnet.network.links.length") == 2 * 4 + 4 * 2 + 2
    assert max(speeds) == pytest.approx(top, rel=1e-5) and min(speeds) >= 0  # forward; the strongest link at top speed
    assert len({round(s, 3) for s in speeds}) > 5  # by signal, not one speed for all
    a, frame_a = page.evaluate(PHASES), page.evaluate(PIXELS)
    page.evaluate(TWO_FRAMES)
    b, frame_b = page.evaluate(PHASES), page.evaluate(PIXELS)
    assert a != b and frame_a != frame_b  # the dashes moved and were drawn, with training paused

    # in the background the flow pauses (and comes back)
    page.evaluate("Object.defineProperty(document, 'hidden', {configurable: true, get: () => true});"
                  " document.dispatchEvent(new Event('visibilitychange'))")
    assert page.evaluate(f"{FLOW}.status").startswith("paused: the page is in the background")
    a = page.evaluate(PHASES)
    page.wait_for_timeout(300)
    assert page.evaluate(PHASES) == a
    page.evaluate("delete document.hidden; document.dispatchEvent(new Event('visibilitychange'))")
    page.wait_for_function(f"{FLOW}.status === 'on'")

    # a page drawing under FLOW.minFps frames a second (a busy main thread) pauses the flow
    page.evaluate("new Promise(done => { const end = performance.now() + 2600;"
                  " const busy = () => { const t = performance.now(); while (performance.now() - t < 90) {}"
                  " if (performance.now() < end) requestAnimationFrame(busy); else done(); };"
                  " requestAnimationFrame(busy); })")
    status = page.evaluate(f"{FLOW}.status")
    assert status.startswith("paused: the page drew") and "frames/s" in status, status
    assert "paused" in page.inner_text("#flow-status")

    page.uncheck("#ctl-linkFlow")
    page.wait_for_function(f"{FLOW}.status === 'off'")
    assert "linkFlow=false" in page.url
    still = page.evaluate(PIXELS)
    page.evaluate(TWO_FRAMES)
    assert page.evaluate(PIXELS) == still
    assert not errors


def test_link_flow_from_the_url_follows_the_backprop_phases(page, playground_url):
    errors = open_page(page, playground_url, "linkFlow=true&networkShape=3")
    assert page.is_checked("#ctl-linkFlow")
    page.wait_for_function(f"{FLOW}.status === 'on'")
    page.click("#bp-random")  # a backprop trace: the flow shows that point's values
    page.wait_for_function(f"{FLOW}.trace !== null")
    forward = page.evaluate(f"Array.from({FLOW}.speed)")
    assert min(forward) >= 0 and max(forward) > 0
    page.click("[data-phase=backward]")
    backward = page.evaluate(f"Array.from({FLOW}.speed)")
    assert max(backward) <= 0 and min(backward) < 0  # gradients flow back
    a = page.evaluate(PHASES)
    page.evaluate(TWO_FRAMES)
    b = page.evaluate(PHASES)
    moved = [y - x for x, y in zip(a, b) if abs(y - x) > 1e-3]
    assert moved  # backwards: the offsets fall (modulo the dash period)
    page.click("#bp-clear")
    page.wait_for_function(f"{FLOW}.trace === null && Array.from({FLOW}.speed).every(v => v >= 0)")

    # the screenshot: a trained network with its flow (docs/gallery/playground_link_flow.png)
    page.evaluate("window.glassnet.state.set({networkShape: [6, 4], dataset: 'xor', learningRate: 0.03})")
    page.wait_for_function("window.glassnet.network.net.columns[0].units === 6")
    page.click("#play")
    page.wait_for_function("window.glassnet.stats.updates > 40", timeout=60_000)
    page.click("#play")
    page.wait_for_function("document.querySelector('#play').getAttribute('aria-label') === 'play'")
    page.evaluate(TWO_FRAMES)
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator("section.col.net").screenshot(path=str(ARTIFACTS / "link_flow.png"))
    assert (ARTIFACTS / "link_flow.png").stat().st_size > 20_000
    assert not errors
