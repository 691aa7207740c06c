"""The divergence explainer: each verdict found at the right step and layer, healthy runs left
alone, the replay unchanged by the recorder, and ``glassnet explain divergence`` on a store."""

import numpy as np
import pytest
from click.testing import CliRunner

import glassnet as gn
from glassnet.cli import cli, main
from glassnet.diagnostics import explain_divergence
from glassnet.errors import GlassnetError

RNG = np.random.default_rng(0)
X = RNG.normal(size=(64, 2))
Y = np.sin(X[:, :1]) + 0.5 * X[:, 1:]


def mlp(act="tanh", M=2, seed=0):
    return gn.Sequential([gn.Dense(8, activation=act), gn.Dense(8, activation=act), gn.Dense(1)],
                         input_shape=(2,), seed=[seed] * M)


def kinds(report):
    return [(v.kind, v.step, v.layer, v.factor) for v in report.verdicts]


def test_too_high_learning_rate_diverges_at_step_0_in_the_output_layer():
    r = explain_divergence(mlp(), X, Y, steps=40, loss="mse", optimizer=gn.SGD(lr=[0.05, 5.0]), batch_size="full",
                           labels=["lr=0.05", "lr=5"])
    assert kinds(r) == [("ok", None, None, None), ("diverged", 0, "dense_2", "step")]
    assert (r.member, r.healthy) == (1, 0)
    v = r.verdict
    assert v.detected == 1  # the loss is over 10x its start after one update
    assert r.value("ratio", 0, "dense_2", 1) > 1 > r.value("ratio", 0, "dense_2", 0)
    # same seed: the gradient factors agree at step 0, the step size (lr) is 100x
    assert r.value("grad", 0, "dense_2", 1) == pytest.approx(r.value("grad", 0, "dense_2", 0))
    assert r.value("step", 0, "dense_2", 1) / r.value("step", 0, "dense_2", 0) == pytest.approx(100, rel=1e-3)
    text = str(r)
    assert text.startswith("lr=5: DIVERGED")
    assert "first step that went wrong: step 0, layer dense_2" in text
    assert "<- responsible" in text and "the learning rate" in text
    assert "first non-finite value" in text and "other models: lr=0.05 ok" in text


def test_a_dead_layer_from_the_start_is_found_at_step_0():
    model = mlp("relu")
    model.layers[0].b.value[1] = -20.0  # member 1: every first-layer unit is below 0 on every sample
    r = explain_divergence(model, X, Y, steps=30, loss="mse", optimizer=gn.SGD(lr=0.05), batch_size="full")
    assert kinds(r) == [("ok", None, None, None), ("died", 0, "dense_0", "f'")]
    assert r.value("dead", 0, "dense_0", 1) == 1.0 and r.value("dead", 0, "dense_0", 0) < 0.5
    assert r.value("f'", 0, "dense_0", 1) == 0
    assert r.value("grad", 0, "dense_0", 1) == 0 and r.value("grad", 0, "dense_1", 1) == 0  # nothing flows below
    assert r.value("grad", 0, "dense_2", 1) > 0
    text = str(r)
    assert "member 1: DIED: 100% of dense_0's ReLU units" in text
    assert "the whole layer is dead" in text and "dead from the start" in text


def test_a_learning_rate_that_kills_relu_units_is_found_at_the_step_they_die():
    from glassnet.data import load

    ds = load("circle")
    model = gn.Sequential([gn.Dense(16, activation="relu"), gn.Dense(16, activation="relu"), gn.Dense(2)],
                          input_shape=(2,), seed=[0, 0])
    r = explain_divergence(model, ds.x, ds.y, steps=60, loss="softmax_cross_entropy",
                           optimizer=gn.SGD(lr=[0.3, 3.0]), batch_size=32)
    assert kinds(r) == [("ok", None, None, None), ("died", 5, "dense_1", "f'")]
    dead = r.stats["dead"][:, 1, 1]
    assert dead[4] < 0.5 <= dead[5] and (dead[5:] >= 0.5).all()
    assert (r.stats["dead"][:, 1, 0] < 0.5).all()
    assert "what killed them: the update at step 4" in str(r)


def test_a_tiny_learning_rate_stalls():
    r = explain_divergence(mlp(), X, Y, steps=60, loss="mse", optimizer=gn.SGD(lr=[0.05, 1e-5]), batch_size="full")
    assert kinds(r) == [("ok", None, None, None), ("stalled", 0, "dense_0", "step")]
    assert r.probe_loss[-1, 1] > 0.9 * r.probe_loss[0, 1] and r.probe_loss[-1, 0] < 0.1 * r.probe_loss[0, 0]
    assert "STALLED" in str(r)


def test_stuck_after_a_saturating_first_step_is_a_stall_beside_a_healthy_member():
    """The 8-3-8 autoencoder at lr 500: one update drives the output sigmoids to z ~ -66, where
    f'(z) ~ 5e-24; the loss sits at 0.5 (every output 0) while lr 50 learns."""
    model = gn.Sequential([gn.Dense(3, activation="sigmoid"), gn.Dense(8, activation="sigmoid")],
                          input_shape=(8,), init=gn.init.Normal(variance=0.01), seed=[0, 0])
    r = explain_divergence(model, np.eye(8), np.eye(8), steps=300, loss="half_sse", optimizer=gn.SGD(lr=[50.0, 500.0]),
                           batch_size=8)
    assert kinds(r) == [("ok", None, None, None), ("stalled", 1, "dense_1", "f'")]
    assert r.value("f'", 1, "dense_1", 1) < 1e-12 < r.value("f'", 1, "dense_1", 0)
    assert r.probe_loss[-1, 1] == pytest.approx(0.5, abs=1e-3)
    assert "how it got there: the update at step 0 moved dense_1" in str(r)


def test_healthy_runs_have_nothing_to_explain():
    r = explain_divergence(mlp("relu", M=3, seed=1), X, Y, steps=60, loss="mse",
                           optimizer=gn.SGD(lr=[0.01, 0.03, 0.05]), batch_size=16)
    assert [v.kind for v in r.verdicts] == ["ok"] * 3
    assert r.member is None and r.verdict is None
    assert str(r).startswith("nothing went wrong: every model trained normally")


def test_the_replay_trains_exactly_as_fit_does_and_leaves_no_wrappers():
    kwargs = dict(loss="mse", optimizer=gn.SGD(lr=[0.02, 0.05], momentum=0.9), batch_size=16, weight_decay=1e-3)
    a, b = mlp("relu"), mlp("relu")
    a.fit(X, Y, steps=25, log_every=1, **kwargs)  # every step logged, as in the replay (one code path)
    explain_divergence(b, X, Y, steps=25, **kwargs)
    for pa, pb in zip(a.param_list, b.param_list):
        np.testing.assert_array_equal(pa.value, pb.value)
    assert all("forward" not in vars(l) and "backward" not in vars(l) for l in b.layers)


def test_explicit_member_and_healthy_and_bad_arguments():
    model = mlp("relu", M=3)
    model.layers[0].b.value[2] = -20.0
    r = explain_divergence(model, X, Y, steps=10, loss="mse", optimizer=gn.SGD(lr=0.05), batch_size="full",
                           member=2, healthy=1)
    assert (r.member, r.healthy, r.verdict.kind) == (2, 1, "died")
    trainer = gn.Trainer(mlp(), X, Y, loss="mse")
    trainer.step()
    with pytest.raises(GlassnetError, match="fresh"):
        explain_divergence(trainer, steps=3)
    with pytest.raises(GlassnetError, match="member must be a model index in 0..1"):
        explain_divergence(mlp(), X, Y, steps=3, member=2)
    with pytest.raises(GlassnetError, match="two different models"):
        explain_divergence(mlp(), X, Y, steps=3, member=1, healthy=1)
    with pytest.raises(GlassnetError, match="steps must be a positive integer"):
        explain_divergence(mlp(), X, Y, steps=0)


# --------------------------------------------------------------------------------- the CLI
RAW = {
    "name": "lr-probe",
    "data": {"x": X.tolist(), "y": Y.tolist()},
    "model": {"hidden": [8, 8], "activation": "tanh"},
    "training": {"loss": "mse", "optimizer": {"name": "sgd", "lr": 0.05}, "steps": 40, "batch_size": "full",
                 "log_every": 10},
    "sweep": {"grid": {"training.optimizer.lr": [0.05, 5.0]}},
}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    from glassnet.experiments import RunStore, run_sweep, validate

    path = tmp_path_factory.mktemp("divergence-store")
    with RunStore(path) as st:
        run_sweep(validate(RAW), st, workers=1, progress=False, echo=None)
        runs = {r["params"]["training.optimizer.lr"]: r for r in st.runs()}
    assert runs[5.0]["status"] == "diverged" and runs[0.05]["status"] == "completed"
    return path, runs


def explain(*args):
    result = CliRunner().invoke(cli, ["explain", "divergence", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_cli_explains_a_stored_diverged_run(store, tmp_path):
    path, runs = store
    bad, good = runs[5.0]["id"], runs[0.05]["id"]
    out = explain(bad[:6], "--store", str(path), "--plot", str(tmp_path / "div.png"))
    assert out.startswith(f"run {bad[:8]} (lr=5.0): DIVERGED")
    assert "first step that went wrong: step 0, layer dense_2" in out
    assert f"run {good[:8]} (lr=0.05) (healthy)" in out and "<- responsible" in out
    assert f"replayed run {bad} (stored status 'diverged') from its config" in out and (tmp_path / "div.png").exists()
    # the sweep id picks its first diverged run
    assert explain(runs[5.0]["sweep_id"], "--store", str(path)).splitlines()[0] == out.splitlines()[0]


def test_cli_on_a_healthy_run_says_so_in_one_line(store):
    path, runs = store
    out = explain(runs[0.05]["id"], "--store", str(path))
    assert out.count("\n") == 1 and "trained normally: nothing went wrong" in out


@pytest.mark.parametrize("args, needle", [
    (["nope"], "no sweep or run matches 'nope'"),
    (["{bad}", "--member", "0"], "--member picks a run of a sweep"),
    (["{sweep}", "--member", "7"], "runs 0..1"),
    (["{bad}", "--healthy", "{bad}"], "another run id"),
])
def test_cli_errors_are_one_line(store, args, needle, capsys):
    path, runs = store
    ids = {"bad": runs[5.0]["id"], "sweep": runs[5.0]["sweep_id"]}
    args = [a.format(**ids) for a in args]
    assert main(["explain", "divergence", *args, "--store", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and needle in err and "\n" not in err


def test_cli_missing_store_is_one_line(tmp_path, capsys):
    assert main(["explain", "divergence", "abc", "--store", str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err
