"""Fuzzing ``glassnet`` with malformed arguments, damaged stores and garbage config files (issue
10): whatever the input, the command either succeeds or says what is wrong in ONE line on
stderr and exits non-zero; it never ends in a Python traceback.

``main`` runs in this process, so an exception escaping it (what a user would see as a
traceback) fails the example, and hypothesis shrinks it to the smallest such input.
"""

from __future__ import annotations

import contextlib
import io
import os
import resource
import subprocess
import sys

import pytest

from expt_helpers import make_raw
from glassnet.cli import main
from glassnet.experiments import RunStore, to_toml

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

FUZZ = settings(max_examples=40, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A folder with a small trained store, damaged stores, odd paths and the ids to aim at."""
    root = tmp_path_factory.mktemp("fuzz")
    cfg = root / "sweep.toml"
    cfg.write_text(to_toml(make_raw(sweep={"seeds": 2, "grid": {"training.weight_decay": [0.0, 0.01]}},
                                    training={"steps": 60, "log_every": 20})))
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert main(["sweep", str(cfg), "--store", str(root / "good"), "--workers", "1", "--no-plot",
                     "--no-progress"]) == 0
    with RunStore(root / "good") as s:
        sweep = s.sweeps()[0]["id"]
        runs = [r["id"] for r in s.runs()]
    (root / "good" / "weights" / f"{runs[-1]}.npz").write_bytes(b"PK junk")  # one damaged weights file
    (root / "folder.db").mkdir()
    (root / "notes.db").write_text("not a database\n")
    (root / "empty.db").touch()
    (root / "trunc.db").write_bytes((root / "good" / "runs.db").read_bytes()[:8192])
    (root / "afile").write_text("x")
    return {"root": root, "sweep": sweep, "runs": runs}


def invoke(lab, argv):
    """``glassnet argv`` in ``lab``'s folder: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    here = os.getcwd()
    os.chdir(lab["root"])
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main([str(a) for a in argv])
    finally:
        os.chdir(here)
    return code, out.getvalue(), err.getvalue()


def check(code, out, err):
    assert "Traceback (most recent call last)" not in out + err
    assert isinstance(code, int)
    with contextlib.suppress(Exception):  # outside a hypothesis test (the pinned cases below)
        hypothesis.event(f"exit {code}")
    if code != 0:
        lines = [line for line in err.splitlines() if not line.startswith("warning: ")]
        assert len(lines) == 1, f"exit {code}, not one line:\n{err}"
        assert lines[0].strip(), err


# ----------------------------------------------------------------------------- strategies
WORD = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00/\\"),
               min_size=0, max_size=12)
NUMBER = st.one_of(st.integers(-10**6, 10**6).map(str), st.floats(allow_nan=True).map(repr),
                   st.sampled_from(["1e309", "-inf", "nan", "0x10", "1_000", "", "-", "--", "3x5", "1,2"]))
STORES = ["good", "folder.db", "notes.db", "empty.db", "trunc.db", "missing", "afile/x.db", "afile", ""]
OUTS = ["out.csv", "figs", "afile/x", "missing/deep/x", ".", "good", "folder.db", "weird name.json"]


@st.composite
def ident(draw, lab_ids):
    return draw(st.one_of(st.sampled_from(lab_ids), st.sampled_from(lab_ids).map(lambda s: s[:3]),
                          st.sampled_from(["%", "_", "%%", "a%", "", "-", "--help", "\n", "'"]), WORD))


def _ids(lab):
    return [lab["sweep"], *lab["runs"]]


# ----------------------------------------------------------------------------- runs, plot
@FUZZ
@given(data=st.data())
def test_runs_commands_never_trace(lab, data):
    sub = data.draw(st.sampled_from(["list", "show", "compare", "export", "nope", ""]))
    argv = ["runs", sub] if sub else ["runs"]
    argv += data.draw(st.lists(ident(_ids(lab)), max_size=3))
    for opt, values in (("--status", st.one_of(WORD, st.sampled_from(["completed", "failed", "running"]))),
                        ("--format", st.sampled_from(["csv", "json", "xml", ""])),
                        ("--out", st.sampled_from(OUTS)), ("--curves", None), ("--config", None),
                        ("--store", st.sampled_from(STORES))):
        if data.draw(st.booleans()):
            argv += [opt] if values is None else [opt, data.draw(values)]
    check(*invoke(lab, argv))


@FUZZ
@given(data=st.data())
def test_plot_never_traces(lab, data):
    argv = ["plot", *data.draw(st.lists(ident(_ids(lab)), min_size=0, max_size=2))]
    for opt, values in (("--out", st.sampled_from(OUTS)), ("--format", st.sampled_from(["png", "svg", "pdf", ""])),
                        ("--metric", st.one_of(WORD, st.sampled_from(["loss", "accuracy", "val_loss"]))),
                        ("--logx", None), ("--store", st.sampled_from(STORES))):
        if data.draw(st.booleans()):
            argv += [opt] if values is None else [opt, data.draw(values)]
    check(*invoke(lab, argv))


# ----------------------------------------------------------------------------- explain
@FUZZ
@given(data=st.data())
def test_explain_never_traces(lab, data):
    sub = data.draw(st.sampled_from(["backprop", "softmax", "params", "activation", "nope"]))
    argv = ["explain", sub, *data.draw(st.lists(st.one_of(NUMBER, WORD), max_size=5))]
    options = {"backprop": [("--format", st.sampled_from(["text", "markdown", "latex", "html"])), ("--check", None),
                            ("--config", st.sampled_from(["garbage.toml", "missing.toml", "good", "afile"]))],
               "softmax": [("--label", NUMBER), ("--names", WORD)],
               "params": [("--conv", None), ("--kernel", st.one_of(NUMBER, WORD)), ("--no-bias", None)],
               "activation": [("--plot", st.sampled_from(["a.png", "missing/a.png", "afile/a.png", "good"]))],
               "nope": []}[sub]
    for opt, values in options:
        if data.draw(st.booleans()):
            argv += [opt] if values is None else [opt, data.draw(values)]
    (lab["root"] / "garbage.toml").write_bytes(data.draw(st.binary(max_size=64)))
    check(*invoke(lab, argv))


# ----------------------------------------------------------------------------- configs
TOML_VALUE = st.recursive(
    st.one_of(st.booleans(), st.integers(-3, 300), st.floats(allow_nan=True, allow_infinity=True),
              st.text(max_size=8), st.sampled_from(["sgd", "adam", "relu", "k-1", "identity8", "mse", "zeros"])),
    lambda inner: st.lists(inner, max_size=3), max_leaves=6)
KEY_PATHS = ["name", "data.name", "data.encoding", "data.options.encoding", "data.validation_split", "data.x",
             "model.hidden", "model.activation", "model.output_activation", "model.init", "model.dtype",
             "training.loss", "training.optimizer.name", "training.optimizer.lr", "training.optimizer.momentum",
             "training.batch_size", "training.seeds", "training.weight_decay", "training.log_every",
             "training.metrics", "sweep.seeds", "sweep.grid", "sweep.zip", "sweep.random", "nonsense.key"]


def _set(raw: dict, path: str, value) -> None:
    node = raw
    *parents, last = path.split(".")
    for key in parents:
        if not isinstance(node.get(key), dict):
            node[key] = {}
        node = node[key]
    node[last] = value


@st.composite
def config_text(draw):
    """UTF-8 config files: TOML syntax garbage, or the tiny config with a few keys mangled."""
    kind = draw(st.sampled_from(["text", "mutated", "mutated", "empty"]))
    if kind == "empty":
        return b""
    if kind == "text":
        return draw(st.text(alphabet=st.sampled_from(list("[]=.\"'{},\n #abc123-_xyz")), max_size=80)).encode()
    raw = make_raw()
    for path in draw(st.lists(st.sampled_from(KEY_PATHS), min_size=1, max_size=3)):
        value = draw(TOML_VALUE)
        if path == "sweep.grid":
            value = {draw(st.sampled_from(KEY_PATHS[1:-5])): draw(st.lists(TOML_VALUE, max_size=3))}
        _set(raw, path, value)
    try:
        return to_toml(raw).encode()
    except Exception:  # noqa: BLE001 - a value TOML cannot write: the garbage is the text itself
        return repr(raw).encode()


@FUZZ
@given(data=st.data())
def test_train_and_sweep_never_trace_on_garbage_configs(lab, data):
    body = data.draw(st.one_of(config_text(), st.binary(max_size=96)))
    path = lab["root"] / "config.toml"
    path.write_bytes(body)
    store = lab["root"] / "fuzz-store"
    if data.draw(st.booleans()):
        argv = ["train", path, "--store", store, "--no-progress", "--set", "training.steps=15"]
    else:  # a dry run plans the sweep without training it
        argv = ["sweep", path, "--store", store, "--dry-run", "--workers", data.draw(st.sampled_from(["1", "2", "0"]))]
    argv += data.draw(st.lists(st.sampled_from(["--set", "training.steps=x", "model.hidden=[2]", "--fresh", "=",
                                                "--set=training.seeds=2", "--store"]), max_size=2))
    check(*invoke(lab, argv))


# ----------------------------------------------------------------------------- config files
# Two inputs the issue found ending in a traceback, pinned here by name.


@pytest.mark.parametrize("body", [b"\xff\xfe\x00n\x00a", b"name = \"caf\xe9\"\n", bytes(range(256))])
def test_non_utf8_config_is_one_line(lab, body):
    path = lab["root"] / "binary.toml"
    path.write_bytes(body)
    for argv in (["train", path, "--store", lab["root"] / "fuzz-store"], ["sweep", path, "--dry-run"]):
        code, out, err = invoke(lab, argv)
        check(code, out, err)
        assert code == 2


def _limit_memory():  # pragma: no cover - runs in the child
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_an_endless_config_file_is_one_line(tmp_path):
    """``glassnet train /dev/zero`` once read until MemoryError (the child is capped at 1 GiB)."""
    proc = subprocess.run([sys.executable, "-m", "glassnet.cli", "train", "/dev/zero", "--store",
                           str(tmp_path / "s")], capture_output=True, text=True, timeout=60,
                          preexec_fn=_limit_memory)
    check(proc.returncode, proc.stdout, proc.stderr)
    assert proc.returncode == 2
