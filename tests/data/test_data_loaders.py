"""File loaders, each on small files written here: IDX, CIFAR pickles, image folders, npz."""

import gzip
import os
import pickle
import struct

import numpy as np
import pytest

from glassnet.data import (
    load_cifar10,
    load_cifar100,
    load_cifar_batch,
    load_image_folder,
    load_mnist,
    load_npz,
    read_idx,
    restricted_load,
)
from glassnet.errors import GlassnetError

# --- IDX ------------------------------------------------------------------------------------

IDX_CODES = {np.uint8: 0x08, np.int16: 0x0B, np.int32: 0x0C, np.float32: 0x0D, np.float64: 0x0E}


def idx_bytes(arr: np.ndarray) -> bytes:
    """The IDX format as published with MNIST: 0, 0, type code, ndim, big-endian sizes, data."""
    header = struct.pack(">BBBB", 0, 0, IDX_CODES[arr.dtype.type], arr.ndim)
    header += struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + arr.astype(arr.dtype.newbyteorder(">")).tobytes()


def write(path, data: bytes, gz=False):
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.int32, np.float32, np.float64])
def test_read_idx_round_trip(tmp_path, gz, dtype):
    arr = (np.arange(2 * 3 * 4) - 5).reshape(2, 3, 4).astype(dtype)
    if dtype == np.uint8:
        arr = np.arange(24, dtype=np.uint8).reshape(2, 3, 4) * 10
    got = read_idx(write(tmp_path / "a.idx", idx_bytes(arr), gz))
    assert got.shape == (2, 3, 4) and got.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(got, arr)


def test_read_idx_errors(tmp_path):
    good = idx_bytes(np.arange(12, dtype=np.uint8).reshape(3, 4))
    cases = {
        "missing.idx": (None, "no such file"),
        "magic.idx": (b"\x12\x34" + good[2:], "magic number 1234"),
        "type.idx": (good[:2] + b"\x07" + good[3:], "not an IDX file"),
        "short.idx": (good[:-1], "truncated"),
        "header.idx": (good[:6], "truncated IDX header"),
        "long.idx": (good + b"\x00", "trailing bytes"),
    }
    for name, (data, words) in cases.items():
        path = tmp_path / name
        if data is not None:
            path.write_bytes(data)
        with pytest.raises(GlassnetError) as info:
            read_idx(path)
        assert words in str(info.value) and str(path) in str(info.value), name
    broken_gz = tmp_path / "broken.gz"
    broken_gz.write_bytes(gzip.compress(good)[:-8])
    with pytest.raises(GlassnetError, match="gzip"):
        read_idx(broken_gz)


def write_mnist(folder, n_train=5, n_test=3, gz=True):
    rng = np.random.default_rng(0)
    parts = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 4, 4), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 4, 4), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    for i, (name, arr) in enumerate(parts.items()):
        use_gz = gz and i % 2 == 0  # a mix of .gz and raw files
        write(folder / (name + (".gz" if use_gz else "")), idx_bytes(arr), use_gz)
    return parts


def test_load_mnist(tmp_path):
    parts = write_mnist(tmp_path)
    (xtr, ytr), (xte, yte) = load_mnist(tmp_path)
    assert xtr.shape == (5, 4, 4, 1) and xtr.dtype == np.float32 and xte.shape == (3, 4, 4, 1)
    np.testing.assert_allclose(xtr[..., 0] * 255, parts["train-images-idx3-ubyte"], atol=1e-4)
    np.testing.assert_array_equal(ytr, parts["train-labels-idx1-ubyte"])
    np.testing.assert_array_equal(yte, parts["t10k-labels-idx1-ubyte"])
    (raw, _), _ = load_mnist(tmp_path, normalize=False)
    assert raw.dtype == np.uint8
    np.testing.assert_array_equal(raw[..., 0], parts["train-images-idx3-ubyte"])


def test_load_mnist_errors(tmp_path):
    with pytest.raises(GlassnetError, match="no such directory"):
        load_mnist(tmp_path / "nope")
    write_mnist(tmp_path, gz=False)
    os.remove(tmp_path / "t10k-labels-idx1-ubyte")
    with pytest.raises(GlassnetError, match="no t10k-labels-idx1-ubyte"):
        load_mnist(tmp_path)
    write(tmp_path / "t10k-labels-idx1-ubyte", idx_bytes(np.zeros(4, np.uint8)))
    with pytest.raises(GlassnetError, match="test has 3 images but 4 labels"):
        load_mnist(tmp_path)
    write(tmp_path / "t10k-labels-idx1-ubyte", idx_bytes(np.zeros((3, 2), np.uint8)))
    with pytest.raises(GlassnetError, match="expected 1-D uint8 labels"):
        load_mnist(tmp_path)


# --- CIFAR ----------------------------------------------------------------------------------


def cifar_batch(n, seed, label_keys=(b"labels",)):
    rng = np.random.default_rng(seed)
    batch = {b"batch_label": b"testing batch", b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8)}
    for key in label_keys:
        batch[key] = rng.integers(0, 10, n).tolist()
    return batch


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_cifar_batch_layout(tmp_path, protocol):
    batch = cifar_batch(4, 0)
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps(batch, protocol=protocol))
    x, y = load_cifar_batch(path, normalize=False)
    assert x.shape == (4, 32, 32, 3) and x.dtype == np.uint8
    # the file stores each image as 1024 red, then 1024 green, then 1024 blue bytes, row-major
    data = batch[b"data"]
    for i, r, c, ch in [(0, 0, 0, 0), (1, 5, 7, 1), (3, 31, 30, 2), (2, 16, 0, 2)]:
        assert x[i, r, c, ch] == data[i, ch * 1024 + r * 32 + c]
    np.testing.assert_array_equal(y, batch[b"labels"])
    xf, _ = load_cifar_batch(path)
    assert xf.dtype == np.float32 and np.allclose(xf * 255, x)


def test_cifar_batch_with_str_keys_and_numpy_labels(tmp_path):
    path = tmp_path / "b"
    rng = np.random.default_rng(1)
    data = rng.integers(0, 256, (2, 3072), dtype=np.uint8)
    path.write_bytes(pickle.dumps({"data": data, "labels": np.array([3, 9])}))
    assert load_cifar_batch(path)[1].tolist() == [3, 9]


def test_load_cifar10_folder(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    batches = {f"data_batch_{i}": cifar_batch(3, i) for i in range(1, 6)}
    batches["test_batch"] = cifar_batch(2, 9)
    for name, batch in batches.items():
        (folder / name).write_bytes(pickle.dumps(batch))
    names = [w.encode() for w in "airplane automobile bird cat deer dog frog horse ship truck".split()]
    (folder / "batches.meta").write_bytes(pickle.dumps({b"label_names": names, b"num_vis": 3072}))
    (xtr, ytr), (xte, yte), class_names = load_cifar10(tmp_path)  # the parent folder also works
    assert xtr.shape == (15, 32, 32, 3) and xte.shape == (2, 32, 32, 3)
    expected = sum((batches[f"data_batch_{i}"][b"labels"] for i in range(1, 6)), [])
    assert ytr.tolist() == expected and yte.tolist() == batches["test_batch"][b"labels"]
    assert class_names[0] == "airplane" and len(class_names) == 10


def test_load_cifar100_fine_and_coarse(tmp_path):
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    for name in ("train", "test"):
        batch = cifar_batch(3, len(name), (b"fine_labels", b"coarse_labels"))
        (folder / name).write_bytes(pickle.dumps(batch))
    meta = {b"fine_label_names": [b"apple"], b"coarse_label_names": [b"fruit"]}
    (folder / "meta").write_bytes(pickle.dumps(meta))
    (_, y_fine), _, fine_names = load_cifar100(folder)
    (_, y_coarse), _, coarse_names = load_cifar100(folder, label_mode="coarse")
    written = pickle.loads((folder / "train").read_bytes())
    assert y_fine.tolist() == written[b"fine_labels"] and y_coarse.tolist() == written[b"coarse_labels"]
    assert fine_names == ["apple"] and coarse_names == ["fruit"]
    with pytest.raises(GlassnetError, match="label_mode.*'fine'.*'coarse'.*'both'"):
        load_cifar100(folder, label_mode="both")


class _Shell:
    """Pickles as a call of ``func(*args)``: what a malicious file does."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


@pytest.mark.parametrize("protocol", [0, 2, 4])
def test_forbidden_globals_are_refused_without_running(tmp_path, protocol):
    marker = tmp_path / "pwned"
    evil = {b"data": _Shell(os.system, f"touch {marker}"), b"labels": [0]}
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps(evil, protocol=protocol))
    with pytest.raises(GlassnetError, match=r"refused global (posix|os|nt)\.system") as info:
        load_cifar_batch(path)
    assert str(path) in str(info.value)
    assert not marker.exists()

    path.write_bytes(pickle.dumps([_Shell(eval, "1 + 1")], protocol=protocol))
    with pytest.raises(GlassnetError, match=r"refused global (builtins|__builtin__)\.eval"):
        restricted_load(path)


def test_restricted_load_still_reads_arrays(tmp_path):
    arr = np.arange(6, dtype=np.float32).reshape(2, 3)
    for protocol in (2, 4, 5):
        path = tmp_path / f"p{protocol}"
        path.write_bytes(pickle.dumps({"a": arr, "s": np.int64(3), "t": (b"x", 1.5)}, protocol=protocol))
        got = restricted_load(path)
        np.testing.assert_array_equal(got["a"], arr)
        assert got["s"] == 3 and got["t"] == (b"x", 1.5)
    # pickles written under NumPy 1 name numpy.core instead of numpy._core
    old = pickle.dumps(arr, protocol=2).replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    assert b"numpy.core.multiarray" in old
    (tmp_path / "old").write_bytes(old)
    np.testing.assert_array_equal(restricted_load(tmp_path / "old"), arr)


def test_cifar_errors(tmp_path):
    good = pickle.dumps(cifar_batch(2, 0))
    (tmp_path / "cut").write_bytes(good[: len(good) // 2])
    (tmp_path / "nolabels").write_bytes(pickle.dumps({b"data": np.zeros((1, 3072), np.uint8)}))
    bad_shape = {b"data": np.zeros((1, 100), np.uint8), b"labels": [1]}
    (tmp_path / "badshape").write_bytes(pickle.dumps(bad_shape))
    (tmp_path / "list").write_bytes(pickle.dumps([1, 2]))
    (tmp_path / "text").write_bytes(b"this is not a pickle")
    cases = [
        ("missing", "no such file"),
        ("cut", "truncated or damaged pickle"),
        ("nolabels", "no 'labels' entry (found: data)"),
        ("badshape", "'data' must be uint8 of shape (N, 3072)"),
        ("list", "expected a dict of arrays, got list"),
        ("text", "pickle"),
    ]
    for name, words in cases:
        with pytest.raises(GlassnetError) as info:
            load_cifar_batch(tmp_path / name)
        assert words in str(info.value) and str(tmp_path / name) in str(info.value), name
    with pytest.raises(GlassnetError, match="data_batch_1: no such file"):
        load_cifar10(tmp_path)


# --- image folders --------------------------------------------------------------------------


def write_png(path, pixels: np.ndarray):
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)


def test_load_image_folder(tmp_path):
    rng = np.random.default_rng(0)
    names = ["dog/1.png", "cat/b.png", "cat/a.png"]
    imgs = {p: rng.integers(0, 256, (3, 4, 3), dtype=np.uint8) for p in names}
    for name, pixels in imgs.items():
        write_png(tmp_path / name, pixels)
    (tmp_path / "cat" / "notes.txt").write_text("not an image")
    (tmp_path / ".cache").mkdir()
    x, y, names = load_image_folder(tmp_path)
    assert names == ["cat", "dog"] and y.tolist() == [0, 0, 1]
    assert x.shape == (3, 3, 4, 3) and x.dtype == np.float32
    np.testing.assert_allclose(x[0] * 255, imgs["cat/a.png"], atol=1e-3)
    np.testing.assert_allclose(x[2] * 255, imgs["dog/1.png"], atol=1e-3)
    xs, _, _ = load_image_folder(tmp_path, size=(5, 2))
    assert xs.shape == (3, 2, 5, 3)
    xg, _, _ = load_image_folder(tmp_path, size=6, mode="L")
    assert xg.shape == (3, 6, 6, 1)


def test_load_image_folder_errors(tmp_path):
    with pytest.raises(GlassnetError, match="no such directory"):
        load_image_folder(tmp_path / "nope")
    with pytest.raises(GlassnetError, match="no class sub-folders"):
        load_image_folder(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(GlassnetError, match=r"empty: no image files"):
        load_image_folder(tmp_path)
    (tmp_path / "empty").rmdir()
    write_png(tmp_path / "a" / "1.png", np.zeros((4, 4, 3), np.uint8))
    write_png(tmp_path / "a" / "2.png", np.zeros((5, 4, 3), np.uint8))
    with pytest.raises(GlassnetError, match=r"2\.png: size 4x5 differs .* pass size="):
        load_image_folder(tmp_path)
    assert load_image_folder(tmp_path, size=4)[0].shape == (2, 4, 4, 3)
    (tmp_path / "a" / "3.png").write_bytes(b"garbage")
    with pytest.raises(GlassnetError, match=r"3\.png: cannot read image"):
        load_image_folder(tmp_path, size=4)
    with pytest.raises(GlassnetError, match="mode must be one of"):
        load_image_folder(tmp_path, mode="CMYK")


# --- npz ------------------------------------------------------------------------------------


def test_load_npz(tmp_path):
    path = tmp_path / "d.npz"
    x, y = np.arange(12.0).reshape(4, 3), np.array([0, 1, 1, 0])
    np.savez(path, inputs=x, targets=y, x=x[:, :2], y=y)
    gx, gy = load_npz(path, x="inputs", y="targets")
    np.testing.assert_array_equal(gx, x)
    np.testing.assert_array_equal(gy, y)
    assert load_npz(path)[0].shape == (4, 2)
    assert load_npz(path, y=None)[1] is None


def test_load_npz_errors(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, x=np.zeros((3, 2)), y=np.zeros(2), objs=np.array([{}, 1], dtype=object))
    with pytest.raises(GlassnetError, match=r"no array 'inputs'; the archive holds x, y, objs"):
        load_npz(path, x="inputs")
    with pytest.raises(GlassnetError, match=r"'x' has shape \(3, 2\) but 'y' has shape \(2,\)"):
        load_npz(path)
    with pytest.raises(GlassnetError, match="not a readable .npz"):
        load_npz(path, x="objs", y=None)  # object arrays would need pickle
    with pytest.raises(GlassnetError, match="no such file"):
        load_npz(tmp_path / "missing.npz")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(GlassnetError, match=str(bad)):
        load_npz(bad)
    text = tmp_path / "text.npz"
    text.write_bytes(b"hello")
    with pytest.raises(GlassnetError, match="not a readable .npz"):
        load_npz(text)
