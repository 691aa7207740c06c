"""Node size and link legibility above 8 neurons per layer, in headless Chromium.

A neuron stays at least 20 px (its thumbnail readable; the diagram grows taller instead), nodes
of a column never overlap, and the links between wide columns get thinner and lighter, so the
mesh of 16 x 32 links does not cover the diagram (with 10-px links it did).
"""

from __future__ import annotations

import pytest

from playground_pages import need_browser, open_page

need_browser()

pytestmark = [pytest.mark.timeout(180),
              pytest.mark.filterwarnings("ignore:Session-scoped fixtures defined as instance methods")]

COVER = ("(() => { const c = document.querySelector('#network canvas.links'); const d = c.getContext('2d')"
         ".getImageData(0, 0, c.width, c.height).data; let n = 0;"
         "for (let i = 3; i < d.length; i += 4) if (d[i] > 40) n++; return n / (d.length / 4); })()")


def test_wide_layers_keep_readable_nodes_and_links(page, playground_url):
    errors = open_page(page, playground_url, "networkShape=16,32&learningRate=0.3")
    page.click("#play")
    page.wait_for_function("window.glassnet.stats.updates > 30", timeout=60_000)
    page.click("#play")
    page.wait_for_function("document.querySelector('#play').getAttribute('aria-label') === 'play'")
    boxes = page.evaluate("[...document.querySelectorAll('.node.hidden')].map(e => { const r = e.getBoundingClientRect();"
                          " return [r.left, r.top, r.width, r.height]; })")
    assert len(boxes) == 48 and min(min(b[2], b[3]) for b in boxes) >= 20
    for column in (boxes[:16], boxes[16:]):
        tops = sorted(b[1] for b in column)
        assert min(b - a for a, b in zip(tops, tops[1:])) >= column[0][3]  # no overlap
    widths = page.evaluate("(() => { const n = window.glassnet.network; const out = {};"
                           " for (const l of n.links) out[l.c] = Math.max(out[l.c] || 0, n.linkWidth(l)); return out; })()")
    assert widths["1"] <= 10 * 6 / 32 + 0.25  # 16 -> 32: at most ~2 px
    assert widths["0"] <= 10 * 6 / 16 + 0.25  # 2 -> 16
    assert page.evaluate(COVER) < 0.35
    # a small network keeps TF Playground's scale (1-10 px)
    page.evaluate("window.glassnet.state.set({networkShape: [4, 2]})")
    page.wait_for_function("window.glassnet.network.net.columns[0].units === 4")
    assert page.evaluate("window.glassnet.network.links.every(l => l.scale === 1)")
    assert not errors
