"""Studies train through the same door: each network a study trains is stored with a run config,
and re-running that config with ``glassnet train`` gives bit-identical weights."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

import glassnet
from glassnet.backend import MANY_MODELS
from glassnet.cli import main
from glassnet.experiments.store import RunStore
from glassnet.studies import get_study
from glassnet.studies.base import blas_threads

#: studies whose quick mode has fits of fewer than MANY_MODELS networks: a single re-run takes the
#: same code paths as the ensemble did, so its weights are bit-identical
RERUN = ["autoencoder-838", "initialization", "activations", "momentum", "sparsity", "dropout-cost",
         "playground-exercises", "image-classifier"]


def _runs(quick_results, quick_store, name) -> list[dict]:
    with RunStore(quick_store, create=False) as st:
        return st.runs(quick_results[name].extra["sweep_id"])


def _weights(path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as f:
        return {k: f[k] for k in f.files if k != "__model__"}


@pytest.mark.parametrize("name", RERUN)
def test_a_study_run_re_run_with_glassnet_train_has_bit_identical_weights(name, quick_results, quick_store,
                                                                          tmp_path, capsys):
    runs = _runs(quick_results, quick_store, name)
    exact = [r for r in runs if r["params"]["re_runnable"] and "re_run_note" not in r["params"]
             and r["status"] == "completed"]
    assert exact, f"{name}: no run recorded as exactly re-runnable"
    run = exact[-1]  # the last fit's last network: a seed > 0 of an ensemble
    capsys.readouterr()
    assert main(["runs", "show", run["id"], "--store", str(quick_store)]) == 0
    shown = capsys.readouterr().out
    assert f"glassnet runs show {run['id']} --config > run.toml && glassnet train run.toml" in shown
    assert main(["runs", "show", run["id"], "--config", "--store", str(quick_store)]) == 0
    toml = tmp_path / "run.toml"
    toml.write_text(capsys.readouterr().out)
    again = tmp_path / "again.db"
    # with the study's BLAS threads, as the run says: a BLAS splits a big product by thread count
    threads = get_study(name).blas_threads
    assert run["params"]["blas_threads"] == threads and f"OPENBLAS_NUM_THREADS={threads}" in toml.read_text()
    with blas_threads(threads):
        assert main(["train", str(toml), "--store", str(again), "--no-progress"]) == 0, capsys.readouterr().err
    with RunStore(again, create=False) as st:
        (rerun,) = st.runs()
        assert rerun["config"]["training"] == run["config"]["training"]
        assert rerun["config"]["data"] == run["config"]["data"] and rerun["seed"] == run["seed"]
        new = _weights(st.root / rerun["weights"])
    with RunStore(quick_store, create=False) as st:
        old = _weights(st.root / run["weights"])
    assert sorted(new) == sorted(old) and old
    for key in old:
        np.testing.assert_array_equal(new[key], old[key], err_msg=f"{name}: {key}")
        assert new[key].dtype == old[key].dtype


def test_every_study_run_is_described_and_stores_its_weights(quick_results, quick_store):
    """Every recorded network has weights and a config with the study's data recipe; those that
    cannot be re-run say why, and big ensembles say their re-run agrees to rounding only."""
    with RunStore(quick_store, create=False) as st:
        for name, r in quick_results.items():
            for run in st.runs(r.extra["sweep_id"]):
                p = run["params"]
                assert run["config"]["name"] == f"study:{name}" and "data" in run["config"]
                assert st.weights_problem(run) is None and run["weights"]
                if not p["re_runnable"]:
                    assert p["re_run_note"]
                elif "re_run_note" in p:
                    assert f"(>= {MANY_MODELS})" in p["re_run_note"] and "rounding" in p["re_run_note"]


def test_what_cannot_be_re_run_is_recorded_so_with_the_reason(quick_results, quick_store, capsys):
    dead = _runs(quick_results, quick_store, "dead-relu")
    assert dead and not any(r["params"]["re_runnable"] for r in dead)  # weights set by hand
    assert all("initial weights" in r["params"]["re_run_note"] for r in dead)
    capsys.readouterr()
    assert main(["runs", "show", dead[0]["id"], "--config", "--store", str(quick_store)]) == 2
    err = capsys.readouterr().err
    assert "initial weights" in err and "glassnet study dead-relu" in err and "\n" not in err.strip()
    momentum = _runs(quick_results, quick_store, "momentum")
    C = len(quick_results["momentum"].settings["momenta"])
    assert [r["params"]["re_runnable"] for r in momentum[:C]] == [False] * C  # the bowl starts at START
    assert all(r["params"]["re_runnable"] for r in momentum[C:])
    sparsity = _runs(quick_results, quick_store, "sparsity")
    tuned = [r for r in sparsity if "fine-tuning" in r["config"]["description"]]
    assert tuned and all("MaskCallback" in r["params"]["re_run_note"] for r in tuned)
    init = _runs(quick_results, quick_store, "initialization")
    same = [r for r in init if "equal (one He draw)" in r["config"]["description"]]
    assert same and all(not r["params"]["re_runnable"] and "same_value" in r["params"]["re_run_note"] for r in same)


def test_big_ensembles_are_re_runnable_but_say_the_re_run_is_not_bit_identical(quick_results, quick_store):
    lr = [r for r in _runs(quick_results, quick_store, "playground-exercises")
          if "learning rate sweep" in r["config"]["description"]]
    assert len(lr) >= MANY_MODELS
    assert all(r["params"]["re_runnable"] and "rounding" in r["params"]["re_run_note"] for r in lr)


# -- no process-wide mutable training state ------------------------------------------------------
MUTATORS = {"append", "extend", "insert", "pop", "popitem", "remove", "clear", "update", "setdefault", "add",
            "discard", "__setitem__"}
CONTAINERS = (ast.List, ast.Dict, ast.Set, ast.ListComp, ast.DictComp, ast.SetComp)
FACTORIES = {"list", "dict", "set", "defaultdict", "OrderedDict", "deque", "Counter"}


def _module_state_problems(path: Path) -> list[str]:
    """Module-level containers that the module mutates, and ``global`` rebinding, in ``path``."""
    tree = ast.parse(path.read_text())
    names = set()
    for node in tree.body:
        targets, value = ([node.target], node.value) if isinstance(node, ast.AnnAssign) else \
            (node.targets, node.value) if isinstance(node, ast.Assign) else ([], None)
        is_container = isinstance(value, CONTAINERS) or (
            isinstance(value, ast.Call) and getattr(value.func, "id", getattr(value.func, "attr", None)) in FACTORIES)
        if is_container:
            names |= {t.id for t in targets if isinstance(t, ast.Name)}
    problems = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Global):
            problems.append(f"{path.name}:{node.lineno}: global {', '.join(node.names)}")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in MUTATORS \
                and isinstance(node.func.value, ast.Name) and node.func.value.id in names:
            problems.append(f"{path.name}:{node.lineno}: {node.func.value.id}.{node.func.attr}(...)")
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.Delete)):
            for t in getattr(node, "targets", None) or [node.target]:
                base = t.value if isinstance(t, ast.Subscript) else t if isinstance(node, ast.AugAssign) else None
                if isinstance(base, ast.Name) and base.id in names:
                    problems.append(f"{path.name}:{node.lineno}: {base.id} changed")
    return problems


def test_no_module_level_mutable_state_in_the_studies_or_the_training_loop():
    root = Path(glassnet.__file__).parent
    files = sorted((root / "studies").glob("*.py")) + sorted((root / "training").glob("*.py"))
    assert len(files) > 10
    problems = [p for f in files for p in _module_state_problems(f)]
    assert problems == []
    from glassnet import training
    from glassnet.studies import recording

    for gone in ("_ACTIVE", "paused", "recording", "FitRecorder"):
        assert not hasattr(recording, gone)
    assert not hasattr(training, "observe_fits") and not hasattr(training, "_fit_observers")


def test_the_state_check_finds_what_it_looks_for(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("_ACTIVE: list = []\nSEEN = {}\n\ndef f(x):\n    _ACTIVE.append(x)\n    SEEN[x] = 1\n\n"
                   "def g():\n    global FLAG\n    FLAG = 1\n")
    assert len(_module_state_problems(bad)) == 3
