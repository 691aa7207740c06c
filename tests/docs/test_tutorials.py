"""Every tutorial runs as a notebook: jupytext turns the percent script into cells, nbclient runs
them on an IPython kernel of this interpreter, and any cell error fails the test.

The kernel is this interpreter (``sys.executable -m ipykernel_launcher``), named by a kernel spec
written into a scratch folder, so the test needs no installed kernel and never picks up another
environment's ``python3``. In the kernel, ``LivePlot`` finds a notebook and draws into its display
handle, and figures and tables go through IPython's display formatters, so the notebook paths run
for real here (they found ``hist.plot()`` showing as ``<Figure size ...>`` text).

One kernel serves the module, as one process served the scripts this replaces: each notebook
starts with ``%reset -f`` (an empty namespace) in its own scratch folder, which saves a kernel
start and a ``glassnet`` import per tutorial. A kernel that died is started again.

Speed: figures are built and displayed (``_repr_png_``, ``LivePlot``'s display handle), but
``glassnet.notebook.figure_png`` returns a 1x1 PNG instead of rasterizing, which is most of
what running in a kernel costs over the scripts (about 6 s of CPU for the six tutorials);
matplotlib drawing is tested in ``test_notebook.py`` and by the screenshot script. Set
``GLASSNET_TUTORIALS_RENDER=1`` to draw every figure for real.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TUTORIALS = sorted((ROOT / "docs" / "tutorials").glob("*.py"))
KERNEL = "glassnet-tests"
#: seconds one cell may take before the run fails (the quick settings take a few)
CELL_TIMEOUT = 300
RENDER = os.environ.get("GLASSNET_TUTORIALS_RENDER") == "1"
#: what ``figure_png`` returns in the kernel unless RENDER: a valid 1x1 PNG
PNG_1X1 = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==")

jupytext = pytest.importorskip("jupytext", reason="the docs extra (pip install '.[docs]') runs the tutorials")
nbclient = pytest.importorskip("nbclient", reason="the docs extra (pip install '.[docs]') runs the tutorials")
pytest.importorskip("ipykernel", reason="the docs extra (pip install '.[docs]') runs the tutorials")


def write_kernel_spec(root: Path) -> Path:
    """A folder of kernel specs holding one: this interpreter as an IPython kernel."""
    spec = root / KERNEL
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": f"glassnet tests ({sys.executable})", "language": "python",
        "metadata": {"debugger": False}}), encoding="utf-8")
    return root


class Kernel:
    """An IPython kernel of this interpreter that runs notebook after notebook, each in a fresh
    namespace and folder."""

    def __init__(self, specs: Path, cwd: Path):
        from jupyter_client import KernelManager
        from jupyter_client.kernelspec import KernelSpecManager

        self.km = KernelManager(kernel_name=KERNEL, kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(specs)]))
        self.km.start_kernel(cwd=str(cwd))

    def run(self, nb, cwd: Path, timeout: int = CELL_TIMEOUT):
        """Run ``nb`` in place: its cells in order, in ``cwd``, after ``%reset -f``; a cell that
        raises fails with nbclient's ``CellExecutionError``."""
        import nbformat

        if not self.km.is_alive():
            self.km.restart_kernel(now=True)
        code = f"get_ipython().run_line_magic('reset', '-f')\nimport os\nos.chdir({str(cwd)!r})\ndel os\n"
        if not RENDER:
            code += ("import base64, glassnet.notebook\n"
                     f"glassnet.notebook.figure_png = lambda fig, png=base64.b64decode({PNG_1X1!r}): png\n"
                     "del base64\n")
        fresh = nbformat.v4.new_code_cell(code)
        nb.cells.insert(0, fresh)
        client = nbclient.NotebookClient(nb, km=self.km, timeout=timeout, allow_errors=False)
        try:
            client.execute()
        finally:
            nb.cells.remove(fresh)
            if client.kc is not None:
                client.kc.stop_channels()
        return nb

    def shutdown(self) -> None:
        if self.km.has_kernel:
            self.km.shutdown_kernel(now=True)


@pytest.fixture(scope="module")
def kernel(tmp_path_factory):
    """The module's kernel (shut down after its last test)."""
    k = Kernel(write_kernel_spec(tmp_path_factory.mktemp("kernels")), tmp_path_factory.mktemp("kernel-cwd"))
    yield k
    k.shutdown()


def _outputs(nb, kind: str) -> list:
    return [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == kind]


def test_the_kernel_is_this_interpreter_and_each_notebook_starts_clean(tmp_path, kernel):
    nb = jupytext.reads("# %%\nimport os, sys\nprint(sys.executable)\nprint(os.getcwd())\nleft_over = 1\n",
                        fmt="py:percent")
    kernel.run(nb, tmp_path)
    assert _outputs(nb, "stream")[0]["text"].split("\n")[:2] == [sys.executable, str(tmp_path)]
    assert [c.cell_type for c in nb.cells] == ["code"]               # the reset cell is not kept
    nb2 = jupytext.reads("# %%\nprint('left_over' in dir())\n", fmt="py:percent")
    kernel.run(nb2, tmp_path)
    assert _outputs(nb2, "stream")[0]["text"].strip() == "False"


def test_a_cell_error_fails_the_run(tmp_path, kernel):
    nb = jupytext.reads("# %%\nx = 1\n\n# %%\nraise ValueError('broken tutorial')\n", fmt="py:percent")
    with pytest.raises(nbclient.exceptions.CellExecutionError, match="broken tutorial"):
        kernel.run(nb, tmp_path)


@pytest.mark.parametrize("path", TUTORIALS, ids=[p.stem for p in TUTORIALS])
def test_tutorial_runs_in_a_kernel(path, tmp_path, kernel):
    """Each tutorial's cells run in order on the kernel, in a scratch folder, without an error."""
    nb = jupytext.read(path)
    assert sum(c.cell_type == "code" for c in nb.cells) >= 2, "a tutorial is cells, not one script"
    kernel.run(nb, tmp_path)
    assert not _outputs(nb, "error")
    # the rich displays reached the notebook: HTML tables and PNG figures
    shown = [k for o in _outputs(nb, "execute_result") + _outputs(nb, "display_data") for k in o.get("data", {})]
    assert "text/html" in shown or "image/png" in shown
    plots = [c for c in nb.cells if c.cell_type == "code" and ".plot(" in c.source]
    for cell in plots:           # hist.plot() as a cell's last line shows a picture, not "<Figure ...>"
        assert any("image/png" in o.get("data", {}) for o in cell.outputs), cell.source
