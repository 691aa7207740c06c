"""Hostile and careless data files (issue 10): each gives one GlassnetError line naming the file.

Every crafted file is generated here. A payload that used to crash the interpreter runs in a
subprocess, so a segfault fails the test instead of killing pytest. Memory bombs are checked
with tracemalloc: refusing is not enough, the refusal must come before the allocation.
"""

import functools
import os
import pickle
import struct
import subprocess
import sys
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pytest

import glassnet
from glassnet.data import load_cifar100, load_cifar_batch, load_image_folder, read_idx
from glassnet.data import restricted_load
from glassnet.errors import GlassnetError

MB = 2**20
MAX_BYTES_ENV = "GLASSNET_MAX_BYTES"  # the memory budget's override (glassnet.data._util)


class Reduce:
    """Pickles as ``func(*args)``, with ``func`` named by its module and name."""

    def __init__(self, func, *args, state=None):
        self.func, self.args, self.state = func, args, state

    def __reduce__(self):
        return (self.func, self.args) if self.state is None else (self.func, self.args, self.state)


def _reconstruct():
    from numpy._core.multiarray import _reconstruct

    return _reconstruct


def object_array():
    """``numpy.ndarray((1,), "O", b"A" * 8)``: eight file bytes read as an object pointer."""
    return Reduce(np.ndarray, (1,), "O", b"A" * 8)


def one_line_error(call) -> str:
    with pytest.raises(GlassnetError) as info:
        call()
    message = str(info.value)
    assert "\n" not in message
    return message


def peak_bytes(call) -> int:
    """The peak of Python-tracked allocations (bytes objects, NumPy arrays) while ``call`` runs."""
    tracemalloc.start()
    try:
        call()
    except GlassnetError:
        pass
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


def good_batch(n=2, seed=0):
    rng = np.random.default_rng(seed)
    return {b"batch_label": b"b", b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
            b"labels": rng.integers(0, 10, n).tolist(), b"filenames": [b"f.png"] * n}


# --- 1. the restricted unpickler --------------------------------------------------------------

_CHILD = """
import sys
from glassnet.errors import GlassnetError
from glassnet.data import load_cifar_batch, load_cifar10
try:
    {call}(sys.argv[1])
except GlassnetError as exc:
    print("GlassnetError:", exc)
    sys.exit(3)
print("accepted")
"""


def run_child(call: str, path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(Path(glassnet.__file__).resolve().parents[1])}
    return subprocess.run([sys.executable, "-c", _CHILD.format(call=call), str(path)], env=env,
                          capture_output=True, text=True, timeout=60)


def test_object_dtype_array_in_a_batch_is_refused_not_a_segfault(tmp_path):
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps({b"data": [object_array()], b"labels": [0]}, protocol=2))
    done = run_child("load_cifar_batch", path)
    assert done.returncode == 3, (done.returncode, done.stdout, done.stderr)  # -11: segfault
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0] and "numpy.ndarray" in lines[0], lines
    assert "Traceback" not in done.stderr


def test_object_dtype_label_names_in_batches_meta_are_refused_not_a_segfault(tmp_path):
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        (tmp_path / name).write_bytes(pickle.dumps(good_batch()))
    meta = tmp_path / "batches.meta"
    meta.write_bytes(pickle.dumps({b"label_names": object_array(), b"num_vis": 3072}, protocol=2))
    done = run_child("load_cifar10", tmp_path)
    assert done.returncode == 3, (done.returncode, done.stdout, done.stderr)
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1 and str(meta) in lines[0], lines


@pytest.mark.parametrize("protocol", [2, 4])
def test_object_and_structured_dtypes_are_refused_through_every_path(tmp_path, protocol):
    cases = {
        # numpy's own pickle of an object array: _reconstruct + a dtype('O8') + a list state
        "object": np.array([1, "x"], dtype=object),
        "structured": np.zeros(2, dtype=[("a", "i4"), ("b", "f8")]),
        "strings": np.array(["ab", "cd"]),
    }
    for name, arr in cases.items():
        path = tmp_path / f"{name}-{protocol}"
        path.write_bytes(pickle.dumps({b"data": arr, b"labels": [0, 1]}, protocol=protocol))
        message = one_line_error(lambda: restricted_load(path))
        assert str(path) in message and "not a plain-array pickle" in message, message


def test_147_byte_batch_of_200000_uninitialised_images_is_refused(tmp_path):
    recon = _reconstruct()
    batch = {b"data": Reduce(recon, np.ndarray, (200000, 3072), b"B"),
             b"labels": Reduce(recon, np.ndarray, (200000,), b"b")}
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps(batch, protocol=3))
    assert len(path.read_bytes()) < 200
    message = one_line_error(lambda: restricted_load(path))
    assert str(path) in message and "without its data" in message
    one_line_error(lambda: load_cifar_batch(path))
    # the same with a state that declares 200,000 images but holds 8 bytes
    state = (1, (200000, 3072), np.dtype(np.uint8), False, b"A" * 8)
    path.write_bytes(pickle.dumps({b"data": Reduce(recon, np.ndarray, (0,), b"b", state=state),
                                   b"labels": [0]}, protocol=2))
    message = one_line_error(lambda: load_cifar_batch(path))
    assert "614,400,000 bytes" in message and str(path) in message


@pytest.mark.parametrize("opcode, name", [
    (b"\x8e", "BINBYTES8"), (b"\x96", "BYTEARRAY8"), (b"\x8d", "BINUNICODE8"),
])
def test_long_binbytes_size_bomb_is_refused_before_allocating(tmp_path, opcode, name):
    path = tmp_path / "bomb.pkl"
    path.write_bytes(b"\x80\x05" + opcode + struct.pack("<Q", 2 * 2**30) + b"x" * 16 + b".")
    message = one_line_error(lambda: restricted_load(path))
    assert str(path) in message and f"{name} at byte 2 declares 2,147,483,648 bytes" in message
    assert peak_bytes(lambda: restricted_load(path)) < 4 * MB


def test_four_byte_counts_and_memo_indices_are_checked_too(tmp_path):
    cases = {
        "binbytes": b"\x80\x03B" + struct.pack("<I", 2**32 - 1) + b"x" + b".",  # BINBYTES 4 GiB
        "binunicode": b"\x80\x03X" + struct.pack("<I", 2**32 - 1) + b"x" + b".",
        "long4": b"\x80\x02\x8b" + struct.pack("<i", 2**31 - 1) + b"x" + b".",
        "frame": b"\x80\x04\x95" + struct.pack("<Q", 2**40) + b"K\x01.",
        "memo": b"\x80\x02K\x01r" + struct.pack("<I", 0xFFFFFFF0) + b".",  # LONG_BINPUT
        "memo0": b"(K\x01p4294967280\n.",  # PUT, protocol 0
    }
    for name, data in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        message = one_line_error(lambda: restricted_load(path))
        assert str(path) in message and "truncated or damaged pickle" in message, (name, message)
        assert peak_bytes(lambda: restricted_load(path)) < 4 * MB, name


def test_arrays_may_not_total_more_than_the_file_holds(tmp_path):
    # one 1 MB payload referenced by many arrays through the memo: each would copy it
    recon = _reconstruct()
    raw = b"\x00" * MB
    state = (1, (MB,), np.dtype(np.uint8), False, raw)
    arrays = [Reduce(recon, np.ndarray, (0,), b"b", state=state) for _ in range(50)]
    data = pickle.dumps(arrays, protocol=4)
    assert len(data) < 2 * MB  # the state tuple is memoized: its bytes are in the file once
    path = tmp_path / "amplify"
    path.write_bytes(data)
    message = one_line_error(lambda: restricted_load(path))
    assert "arrays total over" in message and "the pickle's own size" in message and str(path) in message


def test_genuine_pickles_still_load_every_protocol(tmp_path):
    arrays = {"u8": np.arange(6, dtype=np.uint8).reshape(2, 3), "f32": np.float32([1.5, -2]),
              "big_endian": np.arange(4, dtype=">i4"), "fortran": np.asfortranarray(np.eye(3)[:, :2]),
              "permuted": np.arange(24.0).reshape(2, 3, 4).transpose(1, 0, 2),
              "empty": np.zeros((0, 3072), np.uint8), "bool": np.array([True, False]),
              "scalar": np.int64(7), "dtype": np.dtype("<f8")}
    for protocol in range(6):
        path = tmp_path / f"p{protocol}"
        path.write_bytes(pickle.dumps(arrays, protocol=protocol))
        got = restricted_load(path)
        for key, want in arrays.items():
            assert type(got[key]) is type(want), (protocol, key)
            np.testing.assert_array_equal(got[key], want)
            if isinstance(want, np.ndarray):
                assert got[key].dtype == want.dtype and got[key].flags.writeable
    shared = np.arange(3)
    path = tmp_path / "shared"
    path.write_bytes(pickle.dumps({"a": [shared, shared], "t": (shared, 1)}, protocol=2))
    got = restricted_load(path)
    assert got["a"][0] is got["a"][1] is got["t"][0]


# --- 2. memory bombs ------------------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def gzip_stream(head: bytes, zeros: int) -> bytes:
    """``head`` then ``zeros`` zero bytes, gzipped a megabyte at a time (~1 KB per MB)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    parts, block = [packer.compress(head)], bytes(MB)
    for _ in range(zeros // MB):
        parts.append(packer.compress(block))
    parts.append(packer.compress(bytes(zeros % MB)))
    parts.append(packer.flush())
    return b"".join(parts)


def idx_header(shape, code=0x08) -> bytes:
    return bytes([0, 0, code, len(shape)]) + struct.pack(f">{len(shape)}I", *shape)


@pytest.fixture(scope="module")
def zeros_gz():
    """``head`` then 50 MB of zeros, ~50 KB gzipped."""
    return lambda head: gzip_stream(head, 50 * MB)


def test_memory_budget_default_and_env(monkeypatch):
    from glassnet.data._util import MAX_BYTES_ENV as name, max_array_bytes

    assert name == MAX_BYTES_ENV
    monkeypatch.delenv(MAX_BYTES_ENV, raising=False)
    assert 2**30 <= max_array_bytes() <= 2**36
    monkeypatch.setenv(MAX_BYTES_ENV, "12345")
    assert max_array_bytes() == 12345
    monkeypatch.setenv(MAX_BYTES_ENV, "lots")
    assert MAX_BYTES_ENV in one_line_error(max_array_bytes)


def test_gzip_bomb_pickle_is_refused_at_the_budget(tmp_path, zeros_gz, monkeypatch):
    monkeypatch.setenv(MAX_BYTES_ENV, str(MB))
    path = tmp_path / "data_batch_1"
    path.write_bytes(zeros_gz(b"\x80\x02"))
    message = one_line_error(lambda: load_cifar_batch(path))
    assert str(path) in message and "inflates to more than 1,048,576 bytes" in message
    assert peak_bytes(lambda: restricted_load(path)) < 6 * MB


def test_damaged_gzip_streams(tmp_path):
    good = gzip_stream(idx_header([3]) + b"abc", 0)
    two_members = good + gzip_stream(b"", 0)
    cases = {"cut": good[:-9], "crc": good[:-8] + b"\x00" * 4 + good[-4:], "junk": good + b"junk"}
    for name, data in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        assert "gzip" in one_line_error(lambda: read_idx(path)), name
    (tmp_path / "two").write_bytes(two_members + b"\x00" * 8)
    assert read_idx(tmp_path / "two").tolist() == [97, 98, 99]


def python2_cifar_batch(pixels: bytes, labels) -> bytes:
    """A batch as Python 2's cPickle (protocol 2) wrote CIFAR: str is BINSTRING, dtype args ints."""
    def s(text: bytes) -> bytes:  # SHORT_BINSTRING: a Python 2 str, bytes under encoding="bytes"
        return b"U" + bytes([len(text)]) + text

    n = len(labels)
    array = (b"cnumpy.core.multiarray\n_reconstruct\nq\x01cnumpy\nndarray\nq\x02K\x00\x85" + s(b"b")
             + b"\x87Rq\x03(K\x01M" + struct.pack("<H", n) + b"M\x00\x0c\x86cnumpy\ndtype\nq\x04"
             + s(b"u1") + b"K\x00K\x01\x87Rq\x05(K\x03" + s(b"|")
             + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb\x89T" + struct.pack("<i", len(pixels))
             + pixels + b"tb")
    return (b"\x80\x02}q\x00(" + s(b"data") + array + s(b"labels") + b"]q\x06("
            + b"".join(b"K" + bytes([v]) for v in labels) + b"e" + s(b"batch_label")
            + s(b"training batch 1 of 5") + b"u.")


def test_python2_style_cifar_batch_still_loads(tmp_path):
    pixels = np.random.default_rng(0).integers(0, 256, (3, 3072), dtype=np.uint8)
    path = tmp_path / "data_batch_1"
    path.write_bytes(python2_cifar_batch(pixels.tobytes(), [6, 9, 9]))
    raw = pickle.loads(path.read_bytes(), encoding="bytes")  # what NumPy itself makes of it
    np.testing.assert_array_equal(raw[b"data"], pixels)
    x, y = load_cifar_batch(path, normalize=False)
    assert y.tolist() == [6, 9, 9]
    np.testing.assert_array_equal(x, pixels.reshape(3, 3, 32, 32).transpose(0, 2, 3, 1))
