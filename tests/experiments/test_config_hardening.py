"""Issue 10, config items: non-finite hyperparameters, unreadable config files and memory bombs
are refused with one line naming the key path, before anything is read whole or allocated."""

from __future__ import annotations

import os
import time
import tracemalloc

import pytest

from expt_helpers import make_raw
from glassnet.cli import main
from glassnet.errors import GlassnetError
from glassnet.experiments import RunStore, load_config, run_sweep, to_toml, validate
from glassnet.experiments.config import MAX_CONFIG_BYTES, read_toml


def _one_line(fn, *args, **kwargs) -> str:
    with pytest.raises(GlassnetError) as info:
        fn(*args, **kwargs)
    msg = str(info.value)
    assert "\n" not in msg, msg
    return msg


# ------------------------------------------------------------------------ non-finite numbers
@pytest.mark.parametrize("override, where", [
    ("training.weight_decay=inf", "training.weight_decay = inf"),
    ("training.weight_decay=nan", "training.weight_decay = nan"),
    ("training.l1=-inf", "training.l1 = -inf"),
    ("training.optimizer.lr=inf", "training.optimizer.lr = inf"),
    ("training.optimizer.momentum=nan", "training.optimizer.momentum = nan"),
    ("model.init.variance=inf", "model.init.variance = inf"),
    ("data.validation_split=nan", "data.validation_split = nan"),
])
def test_non_finite_hyperparameters_are_refused(override, where):
    msg = _one_line(load_config, None, [override])
    assert msg.startswith(f"default config: {where}: must be a finite number"), msg


def test_non_finite_numbers_in_tables_and_sweeps_are_refused(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(to_toml(make_raw(data={"name": "spiral", "options": {"n": 40}})) +
                    '\n[sweep.grid]\n"training.weight_decay" = [0.0, inf]\n')
    assert _one_line(load_config, path).startswith(
        f'{path}: sweep.grid."training.weight_decay"[1] = inf: must be a finite number')
    raw = make_raw(data={"name": "spiral", "options": {"noise": float("nan")}})
    assert _one_line(validate, raw, "c").startswith("c: data.options.noise = nan:")
    raw = make_raw(sweep={"random": {"n": 2, "params": {"training.l1": {"uniform": [0.0, float("inf")]}}}})
    assert _one_line(validate, raw, "c").startswith('c: sweep.random.params."training.l1".uniform[1] = inf:')


def test_integers_beyond_64_bits_are_refused(tmp_path):
    # TOML integers are 64-bit; Python's reader accepts any size, which overflowed later
    path = tmp_path / "c.toml"
    text = to_toml(make_raw(data={"name": "spiral", "options": {"n": 7}}))
    path.write_text(text.replace("n = 7", "n = 1" + "0" * 400))
    assert _one_line(load_config, path).startswith(f"{path}: data.options.n = \"100000000000... (401 digits)\": "
                                                   "must be an integer within 64 bits")
    raw = make_raw(sweep={"random": {"n": 2, "params": {"training.l1": {"uniform": [0, 10**400]}}}})
    assert _one_line(validate, raw, "c").startswith('c: sweep.random.params."training.l1".uniform[1] = ')
    assert _one_line(load_config, None, [f"training.steps={2**63}"]).startswith("default config: training.steps")


def test_train_with_infinite_weight_decay_exits_2_with_one_line(capsys, tmp_path):
    code = main(["train", "--set", "training.weight_decay=inf", "--store", str(tmp_path / "s"), "--no-progress"])
    out, err = capsys.readouterr()
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert "training.weight_decay = inf: must be a finite number" in err
    assert not (tmp_path / "s").exists() or "completed" not in out


# ------------------------------------------------------------------------------ config files
def test_a_non_utf8_config_is_one_line(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes('name = "caf\u00e9"\n'.encode("latin-1"))
    msg = _one_line(read_toml, path)
    assert msg.startswith(f"{path}: not a UTF-8 text file (byte 0xe9 at offset 11)")


def test_a_binary_config_is_one_line(tmp_path):
    path = tmp_path / "model.npz"
    path.write_bytes(b"PK\x03\x04\x00\x00" + bytes(range(256)))
    assert "not a UTF-8 text file" in _one_line(read_toml, path)
    path.write_bytes(b'name = "x"\n\x00\x00\x00')
    assert "not a text file (it holds NUL bytes)" in _one_line(read_toml, path)


def test_devices_fifos_and_folders_are_refused_before_reading(tmp_path):
    t0 = time.perf_counter()
    assert "not a regular file" in _one_line(read_toml, "/dev/zero")
    assert time.perf_counter() - t0 < 1
    fifo = tmp_path / "pipe.toml"
    os.mkfifo(fifo)  # opening it would block until a writer came
    assert "not a regular file" in _one_line(read_toml, fifo)
    assert "is a folder" in _one_line(read_toml, tmp_path)


def test_a_config_over_the_size_cap_is_refused_before_reading(tmp_path):
    path = tmp_path / "huge.toml"
    with open(path, "wb") as f:  # sparse: costs no disk
        f.truncate(MAX_CONFIG_BYTES + 1)
    tracemalloc.start()
    try:
        msg = _one_line(read_toml, path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "over the 4 MiB a config may have" in msg and peak < MAX_CONFIG_BYTES // 4


def test_train_dev_zero_exits_2_with_one_line(capsys, tmp_path):
    code = main(["train", "/dev/zero", "--store", str(tmp_path / "s")])
    _, err = capsys.readouterr()
    assert code == 2 and err == "error: config file '/dev/zero' is not a regular file (a device, FIFO or socket); " \
                                "give a TOML file\n"


# ------------------------------------------------------------------------------ memory bombs
def test_a_data_set_declaring_too_many_samples_is_refused_at_validation():
    t0 = time.perf_counter()
    msg = _one_line(validate, make_raw(data={"name": "spiral", "options": {"n": 300_000_000}}), "c")
    assert msg.startswith("c: data.options.n = 300000000: data set 'spiral' with 300,000,000 samples needs at least")
    assert "memory budget" in msg and "GLASSNET_MAX_BYTES" in msg
    assert time.perf_counter() - t0 < 2
    msg = _one_line(validate, make_raw(data={"name": "shapes", "options": {"n_per_class": 10**9}}), "c")
    assert msg.startswith("c: data.options.n_per_class = 1000000000: data set 'shapes' with 10,000,000,000 samples")


def test_the_data_budget_follows_glassnet_max_bytes(monkeypatch):
    raw = make_raw(data={"name": "spiral", "options": {"n": 100_000}})
    validate(raw)  # 1.6 MB at least: fits the default budget
    monkeypatch.setenv("GLASSNET_MAX_BYTES", str(2**20))
    assert "over the memory budget of 1 MiB" in _one_line(validate, raw, "c")


def test_a_huge_network_is_refused_before_allocating(tmp_path):
    raw = make_raw(model={"hidden": [200_000, 200_000]})
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        with RunStore(tmp_path / "s") as st:
            msg = _one_line(run_sweep, validate(raw), st, progress=False, echo=None, source="c")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert msg.startswith("c: model.hidden: training 1 network of 40,"), msg
    assert "over the memory budget" in msg and "GLASSNET_MAX_BYTES" in msg
    assert peak < 200 * 2**20 and time.perf_counter() - t0 < 10


def test_the_network_budget_counts_the_models_of_a_job(monkeypatch, tmp_path):
    # 8-64-8: 1,096 parameters; 32 models at a time: about 0.6 MB with gradients and moments
    raw = make_raw(model={"hidden": [64]}, training={"steps": 2}, sweep={"seeds": 32})
    monkeypatch.setenv("GLASSNET_MAX_BYTES", str(300_000))
    with RunStore(tmp_path / "s") as st:
        msg = _one_line(run_sweep, validate(raw), st, progress=False, echo=None, source="c")
        assert msg.startswith("c: model.hidden: training 32 networks of 1,096 parameters at once")
        assert "sweep.max_models_per_job" in msg
    raw["sweep"]["max_models_per_job"] = 4
    with RunStore(tmp_path / "s2") as st:
        report = run_sweep(validate(raw), st, workers=1, progress=False, echo=None, source="c")
    assert len(report.trained) == 32 and not report.failed
