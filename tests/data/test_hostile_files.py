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
from glassnet.data import load_cifar100, load_cifar_batch, load_image_folder, load_npz, read_idx
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
        "persid": b"\x80\x02X\x01\x00\x00\x00aQ.",  # pickle's message for it spans two lines
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


def test_gzip_bomb_declared_in_an_idx_header_is_refused_before_inflating(tmp_path, zeros_gz, monkeypatch):
    monkeypatch.setenv(MAX_BYTES_ENV, str(MB))
    path = tmp_path / "train-images-idx1-ubyte.gz"
    path.write_bytes(zeros_gz(idx_header([50 * MB])))
    assert path.stat().st_size < 200_000
    message = one_line_error(lambda: read_idx(path))
    assert str(path) in message and "over the memory budget" in message and MAX_BYTES_ENV in message
    assert peak_bytes(lambda: read_idx(path)) < 4 * MB


def test_gzip_bomb_behind_a_small_idx_header_inflates_no_further_than_declared(tmp_path, zeros_gz):
    path = tmp_path / "labels.gz"
    path.write_bytes(zeros_gz(idx_header([10])))
    message = one_line_error(lambda: read_idx(path))
    assert str(path) in message and "trailing bytes" in message
    assert peak_bytes(lambda: read_idx(path)) < 4 * MB


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


@pytest.mark.parametrize("shape, words", [
    ([2] * 255, "255 dimensions"),
    ([65536] * 4, "18,446,744,073,709,551,616 bytes"),  # wraps to 0 in int64
    ([2**32 - 1] * 3, "over the memory budget"),
    ([100, 100], "needs 10,012 bytes, file has 1,012"),
])
def test_idx_headers_declaring_impossible_sizes(tmp_path, shape, words):
    path = tmp_path / "x.idx"
    path.write_bytes(idx_header(shape) + bytes(1000))
    message = one_line_error(lambda: read_idx(path))
    assert str(path) in message and words in message, message


def test_image_folder_with_a_huge_size_is_refused_before_resizing(tmp_path):
    from PIL import Image

    (tmp_path / "a").mkdir()
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / "a" / "1.png")
    for size in [(100_000, 100_000), 10**7]:
        message = one_line_error(lambda: load_image_folder(tmp_path, size=size))
        assert "size" in message and str(tmp_path) in message, message
    for size in [(1.5, 2), (True, 3), "ab", (3,), (0, 4)]:
        assert "size must be" in one_line_error(lambda: load_image_folder(tmp_path, size=size))


def test_image_folder_budget_counts_every_image(tmp_path, monkeypatch):
    from PIL import Image

    for i in range(3):
        path = tmp_path / "a" / f"{i}.png"
        path.parent.mkdir(exist_ok=True)
        Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(path)
    monkeypatch.setenv(MAX_BYTES_ENV, str(2 * 20 * 20 * 3 * 4))
    message = one_line_error(lambda: load_image_folder(tmp_path))
    assert "2.png" in message and "over the memory budget" in message
    message = one_line_error(lambda: load_image_folder(tmp_path, size=20))
    assert "over the memory budget" in message and str(tmp_path) in message


def test_png_decompression_bomb_is_refused(tmp_path, monkeypatch):
    from PIL import Image

    (tmp_path / "a").mkdir()
    Image.fromarray(np.zeros((100, 100, 3), np.uint8)).save(tmp_path / "a" / "big.png")  # 10,000 px
    Image.fromarray(np.zeros((40, 40, 3), np.uint8)).save(tmp_path / "a" / "mid.png")  # 1,600 px
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    message = one_line_error(lambda: load_image_folder(tmp_path))  # error: over twice the limit
    assert "big.png" in message and "pixels" in message, message
    (tmp_path / "a" / "big.png").unlink()
    message = one_line_error(lambda: load_image_folder(tmp_path))  # only a warning in Pillow
    assert "mid.png" in message and "pixels" in message, message


def npy_bytes(shape, descr="<f8", payload=b"") -> bytes:
    import io

    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buffer, {"descr": descr, "fortran_order": False, "shape": tuple(shape)}
    )
    return buffer.getvalue() + payload


def test_npz_declared_shapes_are_checked_before_allocating(tmp_path, monkeypatch):
    import zipfile

    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w") as archive:  # 80 GB declared, 16 bytes present
        archive.writestr("x.npy", npy_bytes((10**5, 10**5), payload=bytes(16)))
        archive.writestr("y.npy", npy_bytes((2,), payload=bytes(16)))
    message = one_line_error(lambda: load_npz(path))
    assert str(path) in message and "over the memory budget" in message, message
    assert peak_bytes(lambda: load_npz(path)) < 4 * MB
    with zipfile.ZipFile(path, "w") as archive:  # within the budget, but not in the file
        archive.writestr("x.npy", npy_bytes((1000, 1000), payload=bytes(16)))
        archive.writestr("y.npy", npy_bytes((2,), payload=bytes(16)))
    message = one_line_error(lambda: load_npz(path))
    assert "declares shape (1000, 1000) (8,000,000 bytes), but its member holds 16" in message
    assert peak_bytes(lambda: load_npz(path)) < 4 * MB
    monkeypatch.setenv(MAX_BYTES_ENV, "8")
    np.savez(path, x=np.zeros(2), y=np.zeros(2))
    assert "over the memory budget" in one_line_error(lambda: load_npz(path))


def test_npy_renamed_npz(tmp_path):
    path = tmp_path / "data.npz"
    with open(path, "wb") as file:
        np.save(file, np.arange(3))
    assert "a single .npy array, not an .npz archive" in one_line_error(lambda: load_npz(path))


# --- 3. CIFAR content -----------------------------------------------------------------------


@pytest.mark.parametrize("key, labels, allowed", [
    ("labels", [0, 10], "0..9"), ("labels", [-1, 3], "0..9"),
    ("fine_labels", [99, 100], "0..99"), ("coarse_labels", [20, 0], "0..19"),
])
def test_cifar_labels_out_of_range(tmp_path, key, labels, allowed):
    path = tmp_path / "batch"
    data = np.zeros((2, 3072), np.uint8)
    for as_array in (False, True):
        path.write_bytes(pickle.dumps({b"data": data, key.encode(): np.array(labels) if as_array else labels}))
        message = one_line_error(lambda: load_cifar_batch(path, label_key=key))
        assert str(path) in message and allowed in message and key in message, message


def test_cifar_labels_must_be_plain_ints_not_nested_lists(tmp_path):
    # 1,000 x 1,000 x 1,000 through shared references: a few KB that np.asarray would make 8 GB
    level0 = [0] * 1000
    level2 = [[level0] * 1000] * 1000
    path = tmp_path / "batch"
    path.write_bytes(pickle.dumps({b"data": np.zeros((1000, 3072), np.uint8), b"labels": level2}))
    message = one_line_error(lambda: load_cifar_batch(path))
    assert "'labels' must be 1000 integers" in message and str(path) in message
    path.write_bytes(pickle.dumps({b"data": [[0] * 3072], b"labels": [0]}))
    assert "'data' must be uint8 of shape (N, 3072), got a list of 1" in one_line_error(lambda: load_cifar_batch(path))


def test_cifar_label_names_must_be_strings(tmp_path):
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    batch = {b"data": np.zeros((1, 3072), np.uint8), b"fine_labels": [1], b"coarse_labels": [1]}
    for name in ("train", "test"):
        (folder / name).write_bytes(pickle.dumps(batch))
    for names in ([1, 2], np.arange(3), b"apple", [b"\xff\xfe"]):
        (folder / "meta").write_bytes(pickle.dumps({b"fine_label_names": names}))
        message = one_line_error(lambda: load_cifar100(folder))
        assert str(folder / "meta") in message and "fine_label_names" in message, message
    (folder / "meta").write_bytes(pickle.dumps([b"apple"]))
    assert "expected a dict" in one_line_error(lambda: load_cifar100(folder))


def test_cifar_missing_key_with_odd_keys(tmp_path):
    path = tmp_path / "batch"
    keys = {bytes([255, i]): i for i in range(50)}
    path.write_bytes(pickle.dumps({**keys, b"data": np.zeros((1, 3072), np.uint8)}))
    message = one_line_error(lambda: load_cifar_batch(path))
    assert "no 'labels' entry" in message and len(message) < 600, message


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
