"""End to end in headless Chromium: the real page, server and engine together.

Needs Playwright, pytest-playwright and Chromium at /usr/bin/chromium (``apt-get install -y
chromium``; ``playwright install`` is not used). Skipped when any of them is missing.
A screenshot is saved to ``test-artifacts/playground.png``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

pytest.importorskip("playwright")
pytest.importorskip("pytest_playwright")
pytest.importorskip("uvicorn")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"  # as conftest.py launches it
if not os.path.exists(CHROMIUM):
    pytest.skip("Chromium is not installed (apt-get install -y chromium)", allow_module_level=True)

pytestmark = [pytest.mark.timeout(90),
              # pytest-playwright's own base_url fixture, not ours
              pytest.mark.filterwarnings("ignore:Session-scoped fixtures defined as instance methods")]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def open_page(page, url, hash_=""):
    page.set_default_timeout(20_000)
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url + (f"#{hash_}" if hash_ else ""))
    page.wait_for_function("window.glassnet && window.glassnet.stats.rendered > 0")
    return errors


def wait_test_loss_below(page, bound):
    page.wait_for_function(f"parseFloat(document.querySelector('#loss-test').textContent) < {bound}",
                           timeout=30_000)


def test_train_circle_until_the_test_loss_is_small(page, playground_url):
    errors = open_page(page, playground_url)
    assert page.inner_text("#epoch") == "000,000"
    start = float(page.inner_text("#loss-test"))
    page.click("#play")
    wait_test_loss_below(page, 0.05)
    page.click("#play")
    page.wait_for_function("document.querySelector('#play').getAttribute('aria-label') === 'play'")
    assert start > 0.3
    assert page.inner_text("#epoch") != "000,000"
    assert page.evaluate("window.glassnet.chart.data[0].length") > 5
    assert not errors


def test_xor_learns_with_the_product_feature(page, playground_url):
    errors = open_page(page, playground_url)
    page.click(".ds[data-dataset=xor]")
    page.click(".node.feature[data-feature=xTimesY]")
    page.wait_for_function("window.glassnet.state.get('xTimesY') && location.hash.includes('dataset=xor')")
    page.wait_for_function("document.querySelectorAll('.node.feature.active').length === 3")
    page.select_option("#ctl-learningRate", "0.1")
    page.click("#play")
    wait_test_loss_below(page, 0.1)
    page.click("#play")
    assert not errors


def test_controls_url_round_trip_and_classroom_mode(page, playground_url):
    open_page(page, playground_url)
    page.select_option("#ctl-activation", "relu")
    page.select_option("#ctl-optimizer", "momentum")
    page.select_option("#ctl-momentum", "0.95")
    page.click("button[title='Add a hidden layer']")
    page.locator("#ctl-noise").fill("20")
    page.locator("#ctl-noise").dispatch_event("change")
    page.check("#ctl-showTestData")
    page.wait_for_function("document.querySelectorAll('.layer-ctl').length === 3")
    url = page.url
    for part in ["activation=relu", "optimizer=momentum", "momentum=0.95", "networkShape=4%2C2%2C2", "noise=20",
                 "showTestData=true"]:
        assert part in url
    values = page.evaluate("JSON.stringify(window.glassnet.state.values)")

    other = page.context.new_page()
    open_page(other, url.split("#")[0], url.split("#")[1] + "&learningRate_hide=true&playButton_hide=true")
    other.wait_for_function("document.querySelectorAll('.layer-ctl').length === 3")
    assert other.evaluate("JSON.stringify(window.glassnet.state.values)") == values
    assert other.input_value("#ctl-activation") == "relu" and other.input_value("#ctl-momentum") == "0.95"
    assert other.input_value("#ctl-noise") == "20" and other.is_checked("#ctl-showTestData")
    assert not other.is_visible("[data-setting=learningRate]") and not other.is_visible("#play")
    assert other.is_visible("[data-setting=activation]")
    other.close()


def test_export_import_round_trip(page, playground_url, tmp_path):
    open_page(page, playground_url, "xTimesY=true&networkShape=5,3&learningRate=0.1&dataset=xor")
    page.click("#play")
    page.wait_for_function("window.glassnet.stats.updates > 15")
    page.click("#play")
    page.wait_for_function("document.querySelector('#play').getAttribute('aria-label') === 'play'")
    page.wait_for_timeout(300)
    loss, values = page.inner_text("#loss-test"), page.evaluate("JSON.stringify(window.glassnet.state.values)")
    files = {}
    for button in ("#export-toml", "#export-npz"):
        with page.expect_download() as info:
            page.click(button)
        download = info.value
        files[button] = tmp_path / download.suggested_filename
        download.save_as(files[button])
    assert files["#export-toml"].suffix == ".toml" and files["#export-npz"].suffix == ".npz"
    assert "glassnet train" in files["#export-toml"].read_text()

    fresh = page.context.new_page()
    open_page(fresh, playground_url)
    fresh.set_input_files("#import-file", str(files["#export-toml"]))
    fresh.wait_for_function(f"JSON.stringify(window.glassnet.state.values) === {values!r}")
    fresh.wait_for_function("document.querySelector('#epoch').textContent === '000,000'")
    fresh.set_input_files("#import-file", str(files["#export-npz"]))
    fresh.wait_for_function(f"document.querySelector('#loss-test').textContent === {loss!r}")
    fresh.close()


def test_nan_guard_message_at_learning_rate_10(page, playground_url):
    errors = open_page(page, playground_url, "problem=regression&learningRate=10")
    page.click("#play")
    page.wait_for_selector("#banner.warn", state="visible")
    text = page.inner_text("#banner-text")
    assert "learning rate 10" in text and "lower the learning rate" in text
    page.wait_for_function("document.querySelector('#play').getAttribute('aria-label') === 'play'")
    assert "NaN" not in page.inner_text("#loss-train")
    assert not errors


def test_hover_card_edits_a_weight(page, playground_url):
    open_page(page, playground_url)
    box = page.locator("#network canvas.links").bounding_box()
    link = page.evaluate("(() => { const l = window.glassnet.network.links[5]; "
                         "return {c: l.c, i: l.i, j: l.j, x: l.pts[7][0], y: l.pts[7][1]}; })()")
    page.mouse.move(box["x"] + link["x"], box["y"] + link["y"])
    page.wait_for_selector("#hovercard", state="visible")
    assert page.inner_text("#hovercard").startswith("Weight")
    page.mouse.click(box["x"] + link["x"], box["y"] + link["y"])
    page.fill("#hovercard input", "1.2345")
    page.press("#hovercard input", "Enter")
    page.wait_for_function(
        f"(() => {{ const w = window.glassnet.network.weights[{link['c']}]; "
        f"return Math.abs(w.W[{link['i']} * w.shape[1] + {link['j']}] - 1.2345) < 1e-6; }})()")


COLOURS = ("(() => { const c = document.querySelector('.hm-bg'); const d = c.getContext('2d')"
           ".getImageData(0, 0, c.width, c.height).data; const s = new Set();"
           "for (let i = 0; i < d.length; i += 4) s.add(d[i] + ',' + d[i + 1] + ',' + d[i + 2]); return s.size; })()")


def test_discretize_output_shows_two_colours(page, playground_url):
    open_page(page, playground_url)
    page.click("#step")
    page.wait_for_function("document.querySelector('#epoch').textContent === '000,001'")
    assert page.evaluate(COLOURS) > 20
    page.check("#ctl-discretize")
    page.wait_for_function(f"{COLOURS} <= 2")
    assert "discretize=true" in page.url


def test_draw_a_point_trace_backprop_and_screenshot(page, playground_url):
    open_page(page, playground_url, "networkShape=4,3&showDiagnostics=true&showTestData=true")
    n = page.evaluate("window.glassnet.heatmap.train.length + window.glassnet.heatmap.test.length")
    page.check("input[name=clickmode][value=draw]")
    page.click(".hm-fg", position={"x": 150, "y": 150})
    page.wait_for_function(f"window.glassnet.heatmap.train.length + window.glassnet.heatmap.test.length === {n + 3}")
    assert page.evaluate("window.glassnet.state.get('dataset')") == "custom"
    page.check("input[name=clickmode][value=trace]")
    page.click("#play")
    page.wait_for_function("window.glassnet.stats.updates > 20")
    page.click("#play")
    page.click("#bp-random")
    page.wait_for_selector("#bp-body table.bp-table")
    page.click("button[data-phase=update]")
    assert "new w" in page.inner_text("#bp-body")
    traces = page.evaluate("window.glassnet.stats.messages.trace")
    page.click("#bp-apply")
    page.wait_for_function(f"window.glassnet.stats.messages.trace > {traces}")
    page.click("button[data-phase=forward]")
    ARTIFACTS.mkdir(exist_ok=True)
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.screenshot(path=str(ARTIFACTS / "playground.png"), full_page=True)
    assert (ARTIFACTS / "playground.png").stat().st_size > 10_000
