"""Studies record every network they train in the run store (one sweep per study run)."""

from __future__ import annotations

import numpy as np
from click.testing import CliRunner

from glassnet.cli import main
from glassnet.cli.runs import runs as runs_cli
from glassnet.experiments.store import FINISHED, RunStore
from glassnet.studies import get_study


def test_every_quick_study_recorded_one_sweep_of_its_networks(quick_results, quick_store):
    with RunStore(quick_store, create=False) as st:
        sweeps = {s["id"]: s for s in st.sweeps()}
        assert len(sweeps) == len(quick_results)
        for name, r in quick_results.items():
            sweep = sweeps[r.extra["sweep_id"]]
            assert (sweep["name"], sweep["kind"]) == (f"study:{name}", "study")
            stored = st.runs(sweep["id"])
            assert len(stored) == sweep["n_runs"] == r.extra["runs"] > 0
            assert all(run["status"] in FINISHED and run["config"]["name"] == f"study:{name}" for run in stored)
            assert r.extra["sweep_id"] in "\n".join(r.report.intro)  # the report names its sweep


def test_momentum_runs_are_the_measured_networks_with_their_curves(quick_results, quick_store):
    r = quick_results["momentum"]
    s, data = r.settings, r.data
    C, S = len(s["momenta"]), s["seeds"]
    with RunStore(quick_store, create=False) as st:
        stored = st.runs(r.extra["sweep_id"])
        assert len(stored) == C + C * S  # the convex fit (one net per momentum) + the small nets
        convex, nets = stored[:C], stored[C:]
        for c, run in enumerate(convex):
            assert run["params"]["momentum"] == s["momenta"][c] and run["params"]["lr"] == s["convex lr"]
            steps, loss = st.curves(run["id"])["loss"]
            np.testing.assert_array_equal(steps, data["convex"]["steps"])
            # curves are stored as float32; the study measured excess = loss - best in float64
            want = (data["convex"]["excess"][c] + data["convex"]["best"]).astype(np.float32)
            np.testing.assert_allclose(loss, want, rtol=1e-6)
        for i, run in enumerate(nets):
            c, k = divmod(i, S)
            assert run["params"]["momentum"] == s["momenta"][c] and run["seed"] == k
            curves = st.curves(run["id"])
            np.testing.assert_array_equal(curves["loss"][0], data["net"]["steps"])
            np.testing.assert_array_equal(curves["loss"][1], data["net"]["loss"][c, k].astype(np.float32))
            np.testing.assert_array_equal(curves["accuracy"][1], data["net"]["accuracy"][c, k].astype(np.float32))
            assert run["status"] == data["net"]["status"][c, k]
        assert len({run["params"]["group"] for run in stored}) == 2


def test_recording_does_not_change_the_measurements(quick_results):
    plain = get_study("momentum").run(quick=True, write=False)
    recorded = quick_results["momentum"].data
    for part in ("convex", "net"):
        for key, value in plain.data[part].items():
            np.testing.assert_array_equal(np.asarray(value), np.asarray(recorded[part][key]))
    assert "sweep_id" not in plain.extra


def test_cli_records_by_default_and_not_with_no_store(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GLASSNET_STORE", raising=False)
    assert main(["study", "momentum", "--quick", "--out", "a", "--no-store"]) == 0
    assert not list(tmp_path.rglob("*.db"))
    capsys.readouterr()
    assert main(["study", "momentum", "--quick", "--out", "b"]) == 0
    printed = capsys.readouterr().out
    assert [p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.db")] == ["b/runs.db"]
    with RunStore(tmp_path / "b" / "runs.db", create=False) as st:
        (sweep,) = st.sweeps()
    assert f"sweep {sweep['id']}" in printed
    res = CliRunner().invoke(runs_cli, ["list", "--store", "b/runs.db"])
    assert res.exit_code == 0, res.output
    assert sweep["id"] in res.output and "study:momentum" in res.output
    res = CliRunner().invoke(runs_cli, ["show", sweep["id"], "--store", "b/runs.db"])
    assert res.exit_code == 0 and "momentum" in res.output
    assert main(["study", "momentum", "--quick", "--store", "x.db", "--no-store"]) == 2
    assert "--no-store" in capsys.readouterr().err
