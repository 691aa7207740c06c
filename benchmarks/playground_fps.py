"""How many heatmap + curve updates per second the playground page shows while training.

Starts the playground server in a thread, opens the page in headless Chromium (Playwright with
the system browser at /usr/bin/chromium), presses play at the default settings (circle, 2-4-2-1
tanh, batch 10, 3 epochs per update, at most 30 updates per second) and counts, over a window:

* rendered: updates drawn by the page (heatmap, thumbnails, links, loss chart, confusion matrix)
* received: update messages that reached the page
* epochs:   epochs trained

Run from the repository root:  ``python benchmarks/playground_fps.py [--seconds 8] [--fps 60]``
(``--fps`` raises the page's cap, to see the headroom). Target: >= 20 updates per second.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


def measure(seconds: float, fps: int | None, warmup: float = 1.5) -> dict:
    from playwright.sync_api import sync_playwright

    from glassnet.playground.server import BackgroundServer

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    hash_ = f"#fps={fps}" if fps else ""
    with BackgroundServer() as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url + hash_)
        page.wait_for_function("window.glassnet && window.glassnet.stats.rendered > 0", timeout=20_000)
        page.click("#play")
        time.sleep(warmup)
        read = ("(() => { const s = window.glassnet.stats; return {rendered: s.rendered, received: s.updates, "
                "epoch: parseInt(document.querySelector('#epoch').textContent.replace(/,/g, ''))}; })()")
        a, t0 = page.evaluate(read), time.perf_counter()
        time.sleep(seconds)
        b, t1 = page.evaluate(read), time.perf_counter()
        page.click("#play")
        browser.close()
    dt = t1 - t0
    return {k: (b[k] - a[k]) / dt for k in a} | {"seconds": dt}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=8.0, help="measuring window")
    ap.add_argument("--fps", type=int, default=None, help="the page's update cap (default: the setting's default, 30)")
    args = ap.parse_args()
    r = measure(args.seconds, args.fps)
    print(f"playground at {'default settings' if args.fps is None else f'fps={args.fps}'}, "
          f"{r['seconds']:.1f} s window:")
    print(f"  updates rendered per second: {r['rendered']:.1f}   (heatmap + thumbnails + links + loss curve; target >= 20)")
    print(f"  updates received per second: {r['received']:.1f}")
    print(f"  epochs trained per second:   {r['epoch']:.1f}")


if __name__ == "__main__":
    main()
