"""Loaders for data files users already have on disk. No network access, ever.

* MNIST / Fashion-MNIST IDX files, raw or gzipped (:func:`read_idx`, :func:`load_mnist`);
* CIFAR-10/100 "python version" batches (:func:`load_cifar_batch`, :func:`load_cifar10`,
  :func:`load_cifar100`). They are pickles, read by :mod:`.safe_pickle`, which builds
  NumPy arrays and plain containers only and refuses every other global before anything runs;
* a folder with one sub-folder of images per class (:func:`load_image_folder`, needs Pillow);
* ``.npz`` archives with named arrays (:func:`load_npz`, ``allow_pickle=False``).

Every failure is a one-line :class:`GlassnetError` naming the path and what is wrong.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from ..errors import GlassnetError
from ._util import check_choice, optional_import, read_maybe_gzip
from .safe_pickle import restricted_load

# --- IDX (MNIST) ----------------------------------------------------------------------------

#: IDX type code (third magic byte) -> big-endian NumPy dtype.
IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path) -> np.ndarray:
    """Read one IDX file (the MNIST format), raw or gzipped.

    The header is two zero bytes, a type code (:data:`IDX_DTYPES`), the number of dimensions
    ``d``, then ``d`` big-endian uint32 sizes; the data follow, big-endian, and must fill the
    rest of the file exactly.

    Returns
    -------
    ndarray of the declared shape, native byte order
    """
    path, data = read_maybe_gzip(path)
    if len(data) < 4 or data[:2] != b"\x00\x00" or data[2] not in IDX_DTYPES or data[3] == 0:
        raise GlassnetError(
            f"{path}: not an IDX file (magic number {data[:4].hex() or 'missing'}; expected "
            f"0000 + a type code in {{08, 09, 0b, 0c, 0d, 0e}} + a dimension count >= 1)"
        )
    ndim, dtype = data[3], np.dtype(IDX_DTYPES[data[2]])
    header = 4 + 4 * ndim
    if len(data) < header:
        raise GlassnetError(f"{path}: truncated IDX header ({len(data)} bytes, needs {header})")
    shape = tuple(int(s) for s in np.frombuffer(data, ">u4", count=ndim, offset=4))
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        what = "truncated" if len(data) < expected else "has trailing bytes"
        raise GlassnetError(
            f"{path}: IDX data {what}: shape {shape} needs {expected} bytes, file has {len(data)}"
        )
    return np.frombuffer(data, dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


#: The four standard MNIST / Fashion-MNIST file names (without ``.gz``), by part.
MNIST_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


def _find_mnist_file(directory: Path, stem: str) -> Path:
    # Also the "train-images.idx3-ubyte" spelling some mirrors use.
    dotted = stem.replace("-idx", ".idx")
    for name in (stem, stem + ".gz", dotted, dotted + ".gz"):
        if (directory / name).is_file():
            return directory / name
    raise GlassnetError(f"{directory}: no {stem} or {stem}.gz (the standard MNIST file names)")


def load_mnist(directory, normalize: bool = True):
    """MNIST or Fashion-MNIST from the four standard IDX files in ``directory``.

    Parameters
    ----------
    directory : str or Path
        Holds ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
        ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte``, each optionally ``.gz``.
    normalize : bool
        True: float32 images in [0, 1]; False: the raw uint8 pixels.

    Returns
    -------
    ((x_train, y_train), (x_test, y_test))
        ``x`` has shape (N, rows, cols, 1), ``y`` is int64 (N,).
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise GlassnetError(f"{directory}: no such directory")
    parts = {}
    for key, stem in MNIST_FILES.items():
        path = _find_mnist_file(directory, stem)
        arr = read_idx(path)
        want = 3 if key.startswith("x") else 1
        if arr.ndim != want or arr.dtype != np.uint8:
            raise GlassnetError(
                f"{path}: expected {want}-D uint8 {'images' if want == 3 else 'labels'}, "
                f"got {arr.ndim}-D {arr.dtype}"
            )
        parts[key] = arr
    out = []
    for split in ("train", "test"):
        x, y = parts[f"x_{split}"], parts[f"y_{split}"]
        if len(x) != len(y):
            raise GlassnetError(
                f"{directory}: {split} has {len(x)} images but {len(y)} labels"
            )
        x = x[..., None]
        out.append((x.astype(np.float32) / 255 if normalize else x, y.astype(np.int64)))
    return tuple(out)


load_fashion_mnist = load_mnist


# --- CIFAR (restricted pickles) ---------------------------------------------------------------


def _get(batch: dict, key: str, path: Path):
    for k in (key.encode(), key):
        if k in batch:
            return batch[k]
    found = ", ".join(k.decode() if isinstance(k, bytes) else str(k) for k in batch)
    raise GlassnetError(f"{path}: no {key!r} entry (found: {found})")


def load_cifar_batch(path, label_key: str = "labels", normalize: bool = True):
    """One CIFAR "python version" batch file.

    Parameters
    ----------
    path : str or Path
        E.g. ``data_batch_1``, ``test_batch`` (CIFAR-10) or ``train``, ``test`` (CIFAR-100).
    label_key : str
        ``"labels"`` (CIFAR-10), ``"fine_labels"`` or ``"coarse_labels"`` (CIFAR-100).
    normalize : bool
        True: float32 in [0, 1]; False: the raw uint8 pixels.

    Returns
    -------
    x : ndarray, shape (N, 32, 32, 3)
        Channels-last (the file stores each row as 1024 red, 1024 green, 1024 blue bytes).
    y : ndarray of int64, shape (N,)
    """
    path = Path(path)
    batch = restricted_load(path)
    if not isinstance(batch, dict):
        raise GlassnetError(f"{path}: expected a dict of arrays, got {type(batch).__name__}")
    data = np.asarray(_get(batch, "data", path))
    labels = np.asarray(_get(batch, label_key, path))
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or data.dtype != np.uint8:
        raise GlassnetError(
            f"{path}: 'data' must be uint8 of shape (N, 3072), got {data.dtype} {data.shape}"
        )
    if labels.shape != (len(data),) or labels.dtype.kind not in "iu":
        raise GlassnetError(
            f"{path}: {label_key!r} must be {len(data)} integers, got {labels.dtype} {labels.shape}"
        )
    x = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    x = x.astype(np.float32) / 255 if normalize else np.ascontiguousarray(x)
    return x, labels.astype(np.int64)


def _cifar_dir(directory, subfolder: str) -> Path:
    directory = Path(directory)
    if (directory / subfolder).is_dir():
        directory = directory / subfolder
    if not directory.is_dir():
        raise GlassnetError(f"{directory}: no such directory")
    return directory


def _label_names(path: Path, key: str) -> list[str] | None:
    if not path.is_file():
        return None
    meta = restricted_load(path)
    names = _get(meta, key, path) if isinstance(meta, dict) else None
    return [n.decode() if isinstance(n, bytes) else str(n) for n in names] if names else None


def load_cifar10(directory, normalize: bool = True):
    """CIFAR-10 from ``data_batch_1`` .. ``data_batch_5`` and ``test_batch``.

    ``directory`` is the extracted ``cifar-10-batches-py`` folder or the folder holding it.

    Returns
    -------
    ((x_train, y_train), (x_test, y_test), class_names)
        ``x`` float32 (N, 32, 32, 3) (uint8 if not ``normalize``); ``class_names`` from
        ``batches.meta``, or None without that file.
    """
    directory = _cifar_dir(directory, "cifar-10-batches-py")
    train = [load_cifar_batch(directory / f"data_batch_{i}", normalize=normalize) for i in range(1, 6)]
    test = load_cifar_batch(directory / "test_batch", normalize=normalize)
    x_train = np.concatenate([x for x, _ in train])
    y_train = np.concatenate([y for _, y in train])
    return (x_train, y_train), test, _label_names(directory / "batches.meta", "label_names")


def load_cifar100(directory, label_mode: str = "fine", normalize: bool = True):
    """CIFAR-100 from ``train`` and ``test`` in ``cifar-100-python`` (or the folder holding it).

    Parameters
    ----------
    label_mode : {"fine", "coarse"}
        100 fine classes or 20 super-classes.

    Returns
    -------
    ((x_train, y_train), (x_test, y_test), class_names)
        As in :func:`load_cifar10`; class names from ``meta``.
    """
    label_mode = check_choice(label_mode, "label_mode", ("fine", "coarse"))
    directory = _cifar_dir(directory, "cifar-100-python")
    key = f"{label_mode}_labels"
    train = load_cifar_batch(directory / "train", key, normalize)
    test = load_cifar_batch(directory / "test", key, normalize)
    return train, test, _label_names(directory / "meta", f"{label_mode}_label_names")


# --- image folders and npz --------------------------------------------------------------------

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")


def load_image_folder(directory, size: tuple[int, int] | int | None = None, mode: str = "RGB"):
    """Images in one sub-folder per class: ``directory/<class name>/<image files>``.

    Parameters
    ----------
    directory : str or Path
    size : (width, height) or int, optional
        Resize every image to this size (bilinear); without it all images must share one size.
    mode : {"RGB", "L", "RGBA"}
        Pillow mode the images are converted to; "L" gives one (grey) channel.

    Returns
    -------
    x : ndarray of float32, shape (N, height, width, channels), values in [0, 1]
    y : ndarray of int64, shape (N,)
        Index into ``class_names``.
    class_names : list of str
        The sub-folder names, sorted; hidden folders (``.name``) are skipped. Files in each are
        read in sorted order; files without an image extension are skipped.
    """
    directory = Path(directory)
    mode = check_choice(mode, "mode", ("RGB", "L", "RGBA"))
    if isinstance(size, int):
        size = (size, size)
    if size is not None and (len(size) != 2 or min(size) < 1):
        raise GlassnetError(f"size must be (width, height) of positive ints or an int, got {size!r}")
    if not directory.is_dir():
        raise GlassnetError(f"{directory}: no such directory")
    class_dirs = sorted(p for p in directory.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not class_dirs:
        raise GlassnetError(f"{directory}: no class sub-folders (expected {directory}/<class>/<images>)")
    image = optional_import("PIL.Image", "load_image_folder()")
    images, labels = [], []
    for label, folder in enumerate(class_dirs):
        files = sorted(
            p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
        )
        if not files:
            raise GlassnetError(f"{folder}: no image files ({', '.join(IMAGE_EXTENSIONS)})")
        for file in files:
            try:
                with image.open(file) as img:
                    img = img.convert(mode)
                    if size is not None:
                        img = img.resize(tuple(size), image.BILINEAR)
                    arr = np.asarray(img, dtype=np.float32) / 255
            except (OSError, ValueError) as exc:
                raise GlassnetError(f"{file}: cannot read image ({exc})") from None
            if images and arr.shape != images[0].shape:
                raise GlassnetError(
                    f"{file}: size {arr.shape[1]}x{arr.shape[0]} differs from the first image's "
                    f"{images[0].shape[1]}x{images[0].shape[0]}; pass size=(width, height)"
                )
            images.append(arr)
            labels.append(label)
    x = np.stack(images)
    if x.ndim == 3:  # mode "L": add the channel axis
        x = x[..., None]
    return x, np.asarray(labels, dtype=np.int64), [p.name for p in class_dirs]


def load_npz(path, x: str = "x", y: str | None = "y"):
    """Arrays from a ``.npz`` archive by key, never unpickling (``allow_pickle=False``).

    Parameters
    ----------
    path : str or Path
    x, y : str
        Keys of the inputs and targets; ``y=None`` loads the inputs only.

    Returns
    -------
    (x, y)
        ``y`` is None when ``y=None``; otherwise ``len(x) == len(y)`` is checked.
    """
    path = Path(path)
    if not path.is_file():
        raise GlassnetError(f"{path}: no such file")
    try:
        with np.load(path, allow_pickle=False) as archive:
            if not isinstance(archive, np.lib.npyio.NpzFile):
                raise GlassnetError(f"{path}: a single .npy array, not an .npz archive of named arrays")
            keys = [k for k in (x, y) if k is not None]
            missing = [k for k in keys if k not in archive.files]
            if missing:
                held = ", ".join(archive.files) or "nothing"
                raise GlassnetError(f"{path}: no array {missing[0]!r}; the archive holds {held}")
            xs = archive[x]
            ys = archive[y] if y is not None else None
    except GlassnetError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise GlassnetError(f"{path}: not a readable .npz archive ({exc})") from None
    if ys is not None and (xs.ndim == 0 or ys.ndim == 0 or len(xs) != len(ys)):
        raise GlassnetError(f"{path}: {x!r} has shape {xs.shape} but {y!r} has shape {ys.shape}")
    return xs, ys
