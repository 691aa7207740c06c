"""Regenerate the notebook and docs-site screenshots in ``docs/gallery/``.

    python docs/screenshots.py                 # all of them
    python docs/screenshots.py --only notebook # the notebook cells only (no mkdocs build)
    python docs/screenshots.py --only docs     # the API page of the built site only

What it does, offline:

1. **notebook**: a small notebook (below) runs through nbclient on an IPython kernel of this
   interpreter, as Jupyter would run it; nbconvert turns the executed notebook into HTML (the
   JupyterLab template); headless Chromium opens that file and screenshots three cells:
   ``notebook_liveplot.png`` (a ``fit`` of 8 networks with ``LivePlot``: the curves it drew
   and the history table), ``notebook_model_graph.png`` (a residual ``gn.Model``: its summary
   and drawn graph) and ``notebook_study_tables.png`` (``gn.study``: findings, summary and
   measurement tables);
2. **docs**: ``mkdocs build`` into a temporary folder, served by ``http.server`` on loopback;
   Chromium screenshots the top of the Python API page (``docs_api_page.png``).

Chromium: ``--chromium PATH`` (default ``$GLASSNET_CHROMIUM`` or ``/usr/bin/chromium``), run
headless through Playwright. Every request that is not to the local server or a local file is
aborted (the nbconvert template and the theme ask for CDN fonts and scripts), so nothing waits
on the network. Needs the docs extra (mkdocs, nbclient, jupytext, ipykernel; nbconvert comes
with mkdocs-jupyter) and ``playwright``.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.server
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GALLERY = ROOT / "docs" / "gallery"
KERNEL = "glassnet-screenshots"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]

#: the notebook: (tag, source) per code cell; a tag names the cell a screenshot shows
CELLS = [
    ("setup", """\
import numpy as np
import glassnet as gn
from glassnet.notebook import LivePlot

x = np.eye(8)          # the 8-3-8 autoencoder: 8 one-hot patterns through 3 sigmoid units"""),
    ("liveplot", """\
model = gn.Sequential([gn.Dense(3, activation="sigmoid"), gn.Dense(8, activation="sigmoid")],
                      input_shape=(8,), init=gn.init.Normal(std=0.1), seed=list(range(8)))
hist = model.fit(x, x, loss="half_sse", optimizer=gn.SGD(lr=[1.0, 2.0, 4.0, 8.0] * 2),
                 batch_size=8, steps=2_000, metrics=["accuracy"],
                 callbacks=[LivePlot(every=0.25, per_model=True)], progress=False)
hist"""),
    ("graph", """\
inp = gn.Input((16,), name="x")
h = gn.Dense(16, activation="relu")(inp)
h = gn.Add()([inp, gn.Dense(16)(h)])                  # a residual block
g = gn.Dense(16, activation="relu")(h)
h = gn.Add()([h, gn.Dense(16)(g)])                    # and another
gn.Model(inp, gn.Dense(2, activation="softmax")(h), seed=[0, 1, 2])"""),
    ("study", """\
result = gn.study("dead-relu", quick=True, write=False)   # measurements, findings, tables
result"""),
]

SHOTS = {"liveplot": "notebook_liveplot.png", "graph": "notebook_model_graph.png",
         "study": "notebook_study_tables.png"}
API_PAGE = "reference/api/glassnet/"
#: the study's measurement table shown unfolded in notebook_study_tables.png
OPEN_TABLE = "groups:loss"


def make_notebook():
    """The notebook of :data:`CELLS`, each code cell tagged."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_markdown_cell("# glassnet in a notebook"))
    for tag, source in CELLS:
        nb.cells.append(nbformat.v4.new_code_cell(source, metadata={"tags": [tag]}))
    nb.metadata["kernelspec"] = {"name": KERNEL, "display_name": "glassnet", "language": "python"}
    return nb


def write_kernel_spec(root: Path) -> Path:
    """A kernel-spec folder holding one spec: this interpreter as an IPython kernel."""
    spec = root / KERNEL
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "glassnet", "language": "python"}), encoding="utf-8")
    return root


def run_notebook(nb, cwd: Path, specs: Path, timeout: int = 600):
    """Execute ``nb`` in place on a fresh kernel of this interpreter; a cell error raises."""
    import nbclient
    from jupyter_client import KernelManager
    from jupyter_client.kernelspec import KernelSpecManager

    km = KernelManager(kernel_name=KERNEL, kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(specs)]))
    client = nbclient.NotebookClient(nb, km=km, timeout=timeout, resources={"metadata": {"path": str(cwd)}})
    try:
        client.execute()
    finally:
        if km.has_kernel:
            km.shutdown_kernel(now=True)
    return nb


def notebook_html(nb) -> str:
    """The executed notebook as a standalone HTML page (nbconvert's JupyterLab template)."""
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter(template_name="lab").from_notebook_node(nb)
    return body


@contextlib.contextmanager
def browser(chromium: str):
    """A headless Chromium page that may load only loopback and local files."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        try:
            page = b.new_page(viewport={"width": 1100, "height": 900}, device_scale_factor=1)
            page.route("**/*", lambda route: route.continue_()
                       if route.request.url.startswith(("file:", "http://127.0.0.1", "data:"))
                       else route.abort())
            yield page
        finally:
            b.close()


def notebook_shots(out: Path, chromium: str, work: Path) -> list[Path]:
    """Run the notebook, convert it, screenshot the tagged cells; the paths written."""
    nb = run_notebook(make_notebook(), work, write_kernel_spec(work / "kernels"))
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    if errors:  # pragma: no cover - run_notebook raises first
        raise RuntimeError(f"the notebook raised: {errors[0]['ename']}")
    page_path = work / "notebook.html"
    page_path.write_text(notebook_html(nb), encoding="utf-8")
    written = []
    with browser(chromium) as page:
        page.goto(page_path.as_uri(), wait_until="load")
        page.wait_for_timeout(300)
        # unfold one measurement table of the study, to show what a preview holds
        page.locator(".jp-Cell.celltag_study details", has_text=OPEN_TABLE).first.evaluate("d => d.open = true")
        for tag, name in SHOTS.items():
            cell = page.locator(f".jp-Cell.celltag_{tag}")
            cell.scroll_into_view_if_needed()
            cell.screenshot(path=str(out / name))
            written.append(out / name)
    return written


@contextlib.contextmanager
def serve(folder: Path):
    """Serve ``folder`` over HTTP on a free loopback port; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def build_site(site: Path) -> None:
    """``mkdocs build --strict`` of the repository's docs into ``site``."""
    env = {**os.environ, "MPLBACKEND": "Agg"}
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
                          cwd=ROOT, capture_output=True, text=True, env=env, timeout=900)
    if proc.returncode != 0:
        raise RuntimeError("mkdocs build failed:\n" + proc.stderr[-3000:])


def docs_shots(out: Path, chromium: str, work: Path) -> list[Path]:
    """Build the site, serve it, screenshot the top of the Python API page."""
    site = work / "site"
    build_site(site)
    path = out / "docs_api_page.png"
    with serve(site) as base, browser(chromium) as page:
        page.set_viewport_size({"width": 1280, "height": 900})
        page.goto(base + API_PAGE, wait_until="load")
        page.wait_for_timeout(300)
        page.screenshot(path=str(path))
    return [path]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=GALLERY, help="folder for the PNGs (default docs/gallery)")
    ap.add_argument("--only", choices=["notebook", "docs"], help="one kind of screenshot only")
    ap.add_argument("--chromium", default=os.environ.get("GLASSNET_CHROMIUM", "/usr/bin/chromium"),
                    help="the Chromium executable (default $GLASSNET_CHROMIUM or /usr/bin/chromium)")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory(prefix="glassnet-shots-") as tmp:
        for kind, shoot in (("notebook", notebook_shots), ("docs", docs_shots)):
            if args.only in (None, kind):
                t0 = time.perf_counter()
                paths = shoot(args.out, args.chromium, Path(tmp))
                written += paths
                print(f"{kind}: {', '.join(str(p) for p in paths)} ({time.perf_counter() - t0:.1f} s)")
    return 0 if written else 1


if __name__ == "__main__":
    sys.exit(main())
