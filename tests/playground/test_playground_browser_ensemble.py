"""The ensemble view in headless Chromium: eight seeds on xor trained as one program.

The disagreement map is non-empty at the start (untrained copies draw their boundaries
anywhere) and shrinks as the copies converge; every copy has its map and its curve; clicking a
map makes that copy the main view. A screenshot goes to ``test-artifacts/ensemble.png``.
"""

from __future__ import annotations

import pytest

from playground_pages import ARTIFACTS, need_browser, open_page

need_browser()

pytestmark = [pytest.mark.timeout(300),
              pytest.mark.filterwarnings("ignore:Session-scoped fixtures defined as instance methods")]

#: share of the disagreement canvas that is not white (where the copies disagree)
COLOURED = ("(() => { const c = document.querySelector('#ens-dis'); const d = c.getContext('2d')"
            ".getImageData(0, 0, c.width, c.height).data; let n = 0;"
            "for (let i = 0; i < d.length; i += 4) if (d[i] + d[i + 1] + d[i + 2] < 3 * 235) n++;"
            "return n / (d.length / 4); })()")
LAST = "window.glassnet.ensemble.last"


def test_eight_seeds_on_xor_disagree_less_as_they_converge(page, playground_url):
    errors = open_page(page, playground_url, "ensemble=8&dataset=xor&learningRate=0.1")
    page.wait_for_function(f"{LAST} && {LAST}.n === 8")
    assert page.locator(".ens-cell").count() == 8 and page.is_visible("#ens-dis")
    early = page.evaluate(f"({{share: {LAST}.share, mean: {LAST}.mean, epoch: window.glassnet.ensemble.store.epoch.at(-1)}})")
    early_coloured = page.evaluate(COLOURED)
    assert early["epoch"] == 0 and early["share"] > 0.3 and early["mean"] > 0.15 and early_coloured > 0.2, early

    page.click("#play")
    page.wait_for_function(f"{LAST}.counts.converged >= 6", timeout=180_000)
    page.click("#play")
    page.wait_for_function("document.querySelector('#play').getAttribute('aria-label') === 'play'")
    late = page.evaluate(f"({{share: {LAST}.share, mean: {LAST}.mean}})")
    assert late["mean"] < 0.6 * early["mean"] and late["share"] < early["share"], (early, late)
    assert page.evaluate(COLOURED) < early_coloured
    store = page.evaluate("(() => { const s = window.glassnet.ensemble.store;"
                          " return {n: s.epoch.length, widths: [...new Set(s.train.map(r => r.length))]}; })()")
    assert store["n"] > 3 and store["widths"] == [8]  # every copy's curve
    assert page.inner_text("#ens-counts").startswith("8 copies")

    page.locator(".ens-cell").nth(2).click()  # the third copy becomes the main view
    page.wait_for_function("window.glassnet.state.get('focus') === 2 && "
                           "document.querySelector('#focus-label').textContent.startsWith('Copy 3 of 8')")
    page.wait_for_function(f"{LAST}.focus === 2 && document.querySelector('.ens-cell.focus').dataset.model === '2'")
    assert page.evaluate("window.glassnet.chart.data[0].length") >= store["n"] - 1  # its whole curve, at once
    assert "focus=2" in page.url
    ARTIFACTS.mkdir(exist_ok=True)
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.evaluate("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")  # the reflowed grid drawn
    page.screenshot(path=str(ARTIFACTS / "ensemble.png"), full_page=True)
    assert (ARTIFACTS / "ensemble.png").stat().st_size > 20_000
    assert not errors


def test_a_learning_rate_sweep_shows_its_diverged_copies(page, playground_url):
    errors = open_page(page, playground_url, "ensemble=8&ensembleSweep=learningRate&problem=regression")
    page.wait_for_function(f"{LAST} && {LAST}.n === 8")
    labels = page.locator(".ens-cell .ens-label").all_inner_texts()
    assert labels[0] == "lr 0.001" and labels[-1] == "lr 3"
    page.click("#play")
    page.wait_for_function(f"{LAST}.counts.diverged >= 1", timeout=120_000)
    page.wait_for_selector(".ens-cell.diverged")
    assert page.locator("#banner-text").inner_text().count("diverged") >= 1
    page.click("#play")
    page.wait_for_function("document.querySelector('#play').getAttribute('aria-label') === 'play'")
    assert not errors
