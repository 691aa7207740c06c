"""Every tutorial runs as a notebook: jupytext turns the percent script into cells, nbclient runs
them on an IPython kernel of this interpreter, and any cell error fails the test.

The kernel is this interpreter (``sys.executable -m ipykernel_launcher``), named by a kernel spec
written into a scratch folder, so the test needs no installed kernel and never picks up another
environment's ``python3``. In the kernel, ``LivePlot`` finds a notebook and draws into its display
handle, so the live plot runs for real here.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TUTORIALS = sorted((ROOT / "docs" / "tutorials").glob("*.py"))
KERNEL = "glassnet-tests"
#: seconds one cell may take before the run fails (the quick settings take a few)
CELL_TIMEOUT = 300

jupytext = pytest.importorskip("jupytext", reason="the docs extra (pip install '.[docs]') runs the tutorials")
nbclient = pytest.importorskip("nbclient", reason="the docs extra (pip install '.[docs]') runs the tutorials")
pytest.importorskip("ipykernel", reason="the docs extra (pip install '.[docs]') runs the tutorials")


@pytest.fixture(scope="module")
def kernel_specs(tmp_path_factory) -> Path:
    """A folder of kernel specs holding one: this interpreter as an IPython kernel."""
    root = tmp_path_factory.mktemp("kernels")
    spec = root / KERNEL
    spec.mkdir()
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": f"glassnet tests ({sys.executable})", "language": "python",
        "metadata": {"debugger": False}}), encoding="utf-8")
    return root


def execute_notebook(nb, cwd: Path, kernel_specs: Path, timeout: int = CELL_TIMEOUT):
    """Run ``nb`` (an nbformat notebook) in place on a fresh kernel of this interpreter, in
    ``cwd``; a cell that raises fails with nbclient's ``CellExecutionError``."""
    from jupyter_client import KernelManager
    from jupyter_client.kernelspec import KernelSpecManager

    km = KernelManager(kernel_name=KERNEL, kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernel_specs)]))
    client = nbclient.NotebookClient(nb, km=km, timeout=timeout, allow_errors=False,
                                     resources={"metadata": {"path": str(cwd)}})
    try:
        client.execute()
    finally:  # a kernel manager handed to nbclient is ours to stop
        if km.has_kernel:
            km.shutdown_kernel(now=True)
    return nb


def _outputs(nb, kind: str) -> list:
    return [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == kind]


def test_the_kernel_is_this_interpreter(tmp_path, kernel_specs):
    nb = jupytext.reads("# %%\nimport sys\nprint(sys.executable)\n", fmt="py:percent")
    execute_notebook(nb, tmp_path, kernel_specs)
    assert _outputs(nb, "stream")[0]["text"].strip() == sys.executable


def test_a_cell_error_fails_the_run(tmp_path, kernel_specs):
    nb = jupytext.reads("# %%\nx = 1\n\n# %%\nraise ValueError('broken tutorial')\n", fmt="py:percent")
    with pytest.raises(nbclient.exceptions.CellExecutionError, match="broken tutorial"):
        execute_notebook(nb, tmp_path, kernel_specs)


@pytest.mark.parametrize("path", TUTORIALS, ids=[p.stem for p in TUTORIALS])
def test_tutorial_runs_in_a_kernel(path, tmp_path, kernel_specs):
    """Each tutorial's cells run in order on a kernel, in a scratch folder, without an error."""
    nb = jupytext.read(path)
    assert sum(c.cell_type == "code" for c in nb.cells) >= 2, "a tutorial is cells, not one script"
    execute_notebook(nb, tmp_path, kernel_specs)
    assert not _outputs(nb, "error")
    # the rich displays reached the notebook: HTML tables and PNG figures
    shown = [k for o in _outputs(nb, "execute_result") + _outputs(nb, "display_data") for k in o.get("data", {})]
    assert "text/html" in shown or "image/png" in shown
