"""Optional mirrors: TensorBoard event files hold exactly the stored curves; MLflow if installed."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from expt_helpers import make_raw
from glassnet.experiments import run_sweep, validate

CFG = make_raw(sweep={"seeds": 2}, training={"steps": 50})


def _events(path):
    from tensorboardX.proto import event_pb2

    data = path.read_bytes()
    pos = 0
    while pos < len(data):
        (n,) = struct.unpack("<Q", data[pos:pos + 8])
        ev = event_pb2.Event()
        ev.ParseFromString(data[pos + 12:pos + 12 + n])
        yield ev
        pos += 12 + n + 4


def test_tensorboard_mirror(store, tmp_path):
    pytest.importorskip("tensorboardX")
    from glassnet.experiments.mirrors import TensorBoardMirror

    report = run_sweep(validate(CFG), store, workers=1, progress=False, echo=None,
                       mirrors=[TensorBoardMirror(tmp_path / "tb")])
    for rid in report.trained:
        files = list((tmp_path / "tb" / report.sweep_id / rid).glob("events.out.tfevents.*"))
        assert len(files) == 1
        got = {}
        for ev in _events(files[0]):
            for v in ev.summary.value:
                if v.HasField("simple_value"):
                    got.setdefault(v.tag, []).append((ev.step, v.simple_value))
        steps, vals = store.curves(rid)["loss"]
        assert [s for s, _ in got["loss"]] == steps.tolist()
        np.testing.assert_allclose([v for _, v in got["loss"]], vals, rtol=1e-6)


def test_mlflow_mirror(store, tmp_path):
    mlflow = pytest.importorskip("mlflow")
    from glassnet.experiments.mirrors import MLflowMirror

    uri = (tmp_path / "mlruns").as_uri()
    report = run_sweep(validate(CFG), store, workers=1, progress=False, echo=None, mirrors=[MLflowMirror(uri)])
    found = mlflow.search_runs(experiment_names=["glassnet/tiny"], output_format="list")
    assert sorted(r.info.run_name for r in found) == sorted(report.trained)


def test_missing_library_is_one_line(monkeypatch):
    import sys

    from glassnet.errors import GlassnetError
    from glassnet.experiments import mirrors

    monkeypatch.setitem(sys.modules, "mlflow", None)  # makes `import mlflow` fail
    with pytest.raises(GlassnetError, match=r"pip install 'glassnet\[mlflow\]'"):
        mirrors.MLflowMirror()
