"""How many heatmap + curve updates per second the playground page shows while training.

Starts the playground server in a thread, opens the page in headless Chromium (Playwright with
the system browser at /usr/bin/chromium), presses play and counts, over a window:

* rendered: updates drawn by the page (heatmap, thumbnails, links, loss chart, confusion matrix;
  with an ensemble also every copy's map, the disagreement map and the curves of all copies)
* received: update messages that reached the page
* epochs:   epochs trained

Cases (``--case``, several allowed; default all three):

* ``defaults``: circle, 2-4-2-1 tanh, batch 10, 3 epochs per update, at most 30 updates/s
* ``6x8``: six hidden layers of 8 neurons
* ``ensemble16``: the defaults with 16 copies trained at once (the ensemble view)
* ``ensemble16-flow``: the same with the network diagram's link flow on (moving dashes); the
  flow must not cost the 15 updates a second (it pauses itself on a page drawing under 20
  frames a second: its status at the end of the window is printed)

Run from the repository root:  ``python benchmarks/playground_fps.py [--seconds 8] [--fps 60]``
(``--fps`` raises the page's cap, to see the headroom; ``--in-view`` scrolls the ensemble view
into the 1400 x 1000 window, where a teacher would look at it: below the fold it is drawn but not
composited). Targets: >= 20 updates per second at the defaults, >= 15 with the ensemble of 16.

``--replay``: the page's own cost, without the server. Each case's messages are recorded from a
real session (``--record`` updates), then played back to a fresh page through a stand-in
WebSocket at ``--replay-rate`` updates a second (no training, no Playwright in the message
path); it prints the updates drawn per second and the browser's CPU per drawn update. When the
page draws fewer than it gets, the page is the bottleneck; on a machine where the server gets too
little CPU, this is the number that says what the page itself can draw.

On a shared machine the rates follow the CPU the processes get, so the CPU time spent per
rendered update is printed too (with psutil): the server's (this process: the server thread;
the driver sleeps) and the browser's (every process below this one: Playwright's driver and
Chromium's), and the share of a core each got. ``capacity`` is the updates per second those
costs allow on two idle cores (server and browser each on one), capped by the page's fps.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
CASES = {"defaults": "", "6x8": "networkShape=8,8,8,8,8,8", "ensemble16": "ensemble=16",
         "ensemble16-flow": "ensemble=16&linkFlow=true"}
#: the cases run when none is named
DEFAULT_CASES = ["defaults", "6x8", "ensemble16"]


def cpu_seconds() -> tuple[float, float] | None:
    """(this process, all its descendants) CPU seconds so far, or None without psutil."""
    try:
        import psutil  # noqa: PLC0415 - optional
    except ImportError:
        return None
    me = psutil.Process()
    own = sum(me.cpu_times()[:2])
    kids = 0.0
    for child in me.children(recursive=True):
        try:
            kids += sum(child.cpu_times()[:2])
        except psutil.Error:
            pass
    return own, kids


def measure(page, url: str, hash_: str, seconds: float, warmup: float, in_view: bool = False) -> dict:
    page.goto("about:blank")
    page.goto(url + "#" + hash_)
    page.wait_for_function("window.glassnet && window.glassnet.stats.rendered > 0", timeout=60_000)
    page.click("#play")
    if in_view and "ensemble" in hash_:
        page.evaluate("document.getElementById('ensemble').scrollIntoView()")
    time.sleep(warmup)
    read = ("(() => { const s = window.glassnet.stats; return {rendered: s.rendered, received: s.updates, "
            "epoch: parseInt(document.querySelector('#epoch').textContent.replace(/,/g, ''))}; })()")
    a, c0, t0 = page.evaluate(read), cpu_seconds(), time.perf_counter()
    time.sleep(seconds)
    b, c1, t1 = page.evaluate(read), cpu_seconds(), time.perf_counter()
    flow = page.evaluate("window.glassnet.network.flow.status")
    page.click("#play")
    dt = t1 - t0
    out = {k: (b[k] - a[k]) / dt for k in a} | {"seconds": dt, "flow": flow}
    if c0 is not None:
        n = max(b["rendered"] - a["rendered"], 1)
        out["server_ms"] = 1000 * (c1[0] - c0[0]) / max(b["received"] - a["received"], 1)
        out["browser_ms"] = 1000 * (c1[1] - c0[1]) / n
        out["server_share"], out["browser_share"] = (c1[0] - c0[0]) / dt, (c1[1] - c0[1]) / dt
    return out


REPLAY = """(() => {
  const REC = %s, RATE = %f;
  class ReplaySocket {  // the server's recorded messages, updates in a loop at RATE a second
    constructor() {
      this.readyState = 0;
      setTimeout(() => {
        this.readyState = 1; if (this.onopen) this.onopen();
        for (const m of REC.head) this.onmessage({ data: m });
        let k = 0;
        this.timer = setInterval(() => this.onmessage({ data: REC.updates[k++ %% REC.updates.length] }), 1000 / RATE);
      }, 50);
    }
    send() {}
    close() { clearInterval(this.timer); }
  }
  ReplaySocket.OPEN = 1; ReplaySocket.CONNECTING = 0; ReplaySocket.CLOSED = 3;
  window.WebSocket = ReplaySocket;
})();"""


def record(browser, url: str, hash_: str, updates: int) -> dict:
    """The messages a real session sends the page: the first ones, then ``updates`` updates."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    msgs = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: msgs.append(payload)))
    page.goto(url + "#" + hash_)
    page.wait_for_function("window.glassnet && window.glassnet.stats.rendered > 0", timeout=60_000)
    page.click("#play")
    is_update = lambda m: m[:40].replace(" ", "").startswith('{"type":"update"')  # noqa: E731
    t0 = time.perf_counter()
    while sum(map(is_update, msgs)) < updates and time.perf_counter() - t0 < 120:
        page.wait_for_timeout(200)
    page.click("#play")
    page.close()
    return {"head": [m for m in msgs if not is_update(m) and '"status"' not in m[:40]],
            "updates": [m for m in msgs if is_update(m)]}


def replay(browser, url: str, hash_: str, rec: dict, rate: float, seconds: float, warmup: float, in_view: bool) -> dict:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.add_init_script(REPLAY % (json.dumps(rec), rate))
    page = context.new_page()
    page.goto(url + "#" + hash_)
    page.wait_for_function("window.glassnet && window.glassnet.stats.rendered > 0", timeout=60_000)
    if in_view and "ensemble" in hash_:
        page.evaluate("document.getElementById('ensemble').scrollIntoView()")
    time.sleep(warmup)
    read = "[window.glassnet.stats.rendered, window.glassnet.stats.updates]"
    a, c0, t0 = page.evaluate(read), cpu_seconds(), time.perf_counter()
    time.sleep(seconds)
    b, c1, t1 = page.evaluate(read), cpu_seconds(), time.perf_counter()
    context.close()
    n = max(b[0] - a[0], 1)
    out = {"rendered": (b[0] - a[0]) / (t1 - t0), "received": (b[1] - a[1]) / (t1 - t0), "seconds": t1 - t0,
           "kb": sum(map(len, rec["updates"])) / len(rec["updates"]) / 1e3}
    if c0 is not None:
        out["browser_ms"], out["browser_share"] = 1000 * (c1[1] - c0[1]) / n, (c1[1] - c0[1]) / (t1 - t0)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=8.0, help="measuring window per case")
    ap.add_argument("--warmup", type=float, default=2.0, help="seconds of play before the window")
    ap.add_argument("--fps", type=int, default=None, help="the page's update cap (default: the setting's, 30)")
    ap.add_argument("--case", action="append", choices=list(CASES),
                    help=f"which cases (default: {', '.join(DEFAULT_CASES)})")
    ap.add_argument("--in-view", action="store_true", help="scroll the ensemble view into the window")
    ap.add_argument("--replay", action="store_true", help="the page alone: recorded messages played back")
    ap.add_argument("--record", type=int, default=60, help="updates recorded per case for --replay")
    ap.add_argument("--replay-rate", type=float, default=30.0, help="updates a second played back")
    args = ap.parse_args()

    from playwright.sync_api import sync_playwright

    from glassnet.playground.server import BackgroundServer

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    with BackgroundServer() as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        for case in args.case or DEFAULT_CASES:
            hash_ = "&".join(filter(None, [CASES[case], f"fps={args.fps}" if args.fps else ""]))
            if args.replay:
                rec = record(browser, url, hash_, args.record)
                r = replay(browser, url, hash_, rec, args.replay_rate, args.seconds, args.warmup, args.in_view)
                print(f"{case:>11} (#{hash_ or 'defaults'}), replayed at {args.replay_rate:.0f}/s "
                      f"({len(rec['updates'])} updates of {r['kb']:.0f} kB), {r['seconds']:.1f} s window: "
                      f"rendered {r['rendered']:.1f}/s, received {r['received']:.1f}/s"
                      + (f"; browser {r['browser_ms']:.1f} ms per drawn update ({r['browser_share']:.2f} of a core)"
                         if "browser_ms" in r else ""))
                continue
            r = measure(page, url, hash_, args.seconds, args.warmup, args.in_view)
            flow = f", link flow {r['flow']}" if r["flow"] != "off" else ""
            print(f"{case:>11} (#{hash_ or 'defaults'}), {r['seconds']:.1f} s window: "
                  f"rendered {r['rendered']:.1f}/s, received {r['received']:.1f}/s, epochs {r['epoch']:.1f}/s{flow}")
            if "server_ms" in r:
                cap = min(args.fps or 30, 1000 / max(r["server_ms"], r["browser_ms"]))
                print(f"{'':>11}  CPU per update: server {r['server_ms']:.1f} ms ({r['server_share']:.2f} of a core), "
                      f"browser {r['browser_ms']:.1f} ms ({r['browser_share']:.2f} of a core); capacity {cap:.0f}/s")
        browser.close()
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
