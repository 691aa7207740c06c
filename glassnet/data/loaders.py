"""Loaders for data files users already have on disk. No network access, ever.

* MNIST / Fashion-MNIST IDX files, raw or gzipped (:func:`read_idx`, :func:`load_mnist`);
* CIFAR-10/100 "python version" batches (:func:`load_cifar_batch`, :func:`load_cifar10`,
  :func:`load_cifar100`). They are pickles, read by :mod:`.safe_pickle`, which builds
  NumPy arrays and plain containers only and refuses every other global before anything runs;
* a folder with one sub-folder of images per class (:func:`load_image_folder`, needs Pillow);
* ``.npz`` archives with named arrays (:func:`load_npz`, ``allow_pickle=False``).

Every failure is a one-line :class:`GlassnetError` naming the path and what is wrong. Sizes a
file declares (IDX dimensions, a pickle's byte counts, an ``.npy`` header's shape, an image's
pixel count) are checked against the bytes present and against the memory budget
(:data:`glassnet.data._util.MAX_ARRAY_BYTES`, ``$GLASSNET_MAX_BYTES``) before anything is
allocated, and gzip data are inflated no further than the declared size.
"""

from __future__ import annotations

import numbers
import struct
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np

from ..errors import GlassnetError
from ._util import DataFile, check_budget, check_choice, optional_import
from .safe_pickle import restricted_load

_MAX_NDIM = 32  # NumPy 1 allows 32 dimensions; no data file needs more

# --- IDX (MNIST) ----------------------------------------------------------------------------

#: IDX type code (third magic byte) -> big-endian NumPy dtype.
IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path) -> np.ndarray:
    """Read one IDX file (the MNIST format), raw or gzipped.

    The header is two zero bytes, a type code (:data:`IDX_DTYPES`), the number of dimensions
    ``d``, then ``d`` big-endian uint32 sizes; the data follow, big-endian, and must fill the
    rest of the file exactly. The declared size is checked against the memory budget and the
    bytes present before the data are read; a gzipped file is inflated no further than that.

    Returns
    -------
    ndarray of the declared shape, native byte order
    """
    with DataFile(path) as file:
        path, head = file.path, file.read(4)
        if len(head) < 4 or head[:2] != b"\x00\x00" or head[2] not in IDX_DTYPES or head[3] == 0:
            raise GlassnetError(
                f"{path}: not an IDX file (magic number {head.hex() or 'missing'}; expected "
                f"0000 + a type code in {{08, 09, 0b, 0c, 0d, 0e}} + a dimension count >= 1)"
            )
        ndim, dtype = head[3], np.dtype(IDX_DTYPES[head[2]])
        if ndim > _MAX_NDIM:
            raise GlassnetError(
                f"{path}: IDX header declares {ndim} dimensions; at most {_MAX_NDIM} are supported"
            )
        header = 4 + 4 * ndim
        dims = file.read(4 * ndim)
        if len(dims) < 4 * ndim:
            raise GlassnetError(
                f"{path}: truncated IDX header ({4 + len(dims)} bytes, needs {header})"
            )
        shape = struct.unpack(f">{ndim}I", dims)
        nbytes = dtype.itemsize
        for size in shape:
            nbytes *= size  # Python ints: no overflow
        check_budget(nbytes, path, f"IDX shape {shape} of {dtype.name}")
        expected = header + nbytes
        if not file.gzipped and file.size != expected:
            what = "truncated" if file.size < expected else "has trailing bytes"
            raise GlassnetError(
                f"{path}: IDX data {what}: shape {shape} needs {expected:,} bytes, "
                f"file has {file.size:,}"
            )
        body = file.read(nbytes + 1)  # one more: trailing bytes are an error too
    if len(body) != nbytes:
        have = f"{header + len(body):,}" if len(body) < nbytes else "more"
        what = "truncated" if len(body) < nbytes else "has trailing bytes"
        raise GlassnetError(
            f"{path}: IDX data {what}: shape {shape} needs {expected:,} bytes, the data hold {have}"
        )
    return np.frombuffer(body, dtype).reshape(shape).astype(dtype.newbyteorder("="))


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


#: Number of classes of each CIFAR label list: labels are checked to lie in ``0 .. k-1``.
CIFAR_CLASSES = {"labels": 10, "fine_labels": 100, "coarse_labels": 20}


def _show_key(key) -> str:
    return key.decode("utf-8", "backslashreplace") if isinstance(key, bytes) else str(key)


def _get(batch: dict, key: str, path: Path):
    for k in (key.encode(), key):
        if k in batch:
            return batch[k]
    keys = list(batch)
    found = ", ".join(_show_key(k)[:40] for k in keys[:10])
    if len(keys) > 10:
        found += f", ... ({len(keys)} keys)"
    raise GlassnetError(f"{path}: no {key!r} entry (found: {found or 'nothing'})")


def _describe(value) -> str:
    if isinstance(value, np.ndarray):
        return f"{value.dtype} {value.shape}"
    if isinstance(value, (list, tuple)):
        return f"a {type(value).__name__} of {len(value)}"
    return type(value).__name__


def _cifar_labels(raw, n: int, label_key: str, path: Path) -> np.ndarray:
    """``raw`` as int64 labels after checking it is ``n`` integers in the class range."""
    if isinstance(raw, np.ndarray):
        ok = raw.shape == (n,) and raw.dtype.kind in "iu"
    else:
        ok = isinstance(raw, (list, tuple)) and len(raw) == n and all(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in raw
        )
    if not ok:  # checked before np.asarray: nested shared lists could expand to gigabytes
        raise GlassnetError(f"{path}: {label_key!r} must be {n} integers, got {_describe(raw)}")
    classes = CIFAR_CLASSES.get(label_key)
    if n:
        if isinstance(raw, np.ndarray):
            low, high = int(raw.min()), int(raw.max())
        else:
            low, high = int(min(raw)), int(max(raw))
        top = None if classes is None else classes - 1
        if low < 0 or (top is not None and high > top):
            bad = low if low < 0 else high
            allowed = "non-negative" if top is None else f"in 0..{top}"
            raise GlassnetError(
                f"{path}: {label_key!r} holds the label {bad}; labels must be {allowed}"
            )
    return np.asarray(raw, dtype=np.int64)


def load_cifar_batch(path, label_key: str = "labels", normalize: bool = True):
    """One CIFAR "python version" batch file.

    Parameters
    ----------
    path : str or Path
        E.g. ``data_batch_1``, ``test_batch`` (CIFAR-10) or ``train``, ``test`` (CIFAR-100).
    label_key : str
        ``"labels"`` (CIFAR-10), ``"fine_labels"`` or ``"coarse_labels"`` (CIFAR-100). Labels
        must lie in 0..9, 0..99 and 0..19 (:data:`CIFAR_CLASSES`); other keys in 0 and up.
    normalize : bool
        True: float32 in [0, 1]; False: the raw uint8 pixels.

    Returns
    -------
    x : ndarray, shape (N, 32, 32, 3)
        Channels-last (the file stores each row as 1024 red, 1024 green, 1024 blue bytes).
    y : ndarray of int64, shape (N,)
    """
    path = Path(path)
    if not isinstance(label_key, str):
        raise GlassnetError(f"label_key must be a string such as 'labels', got {label_key!r}")
    batch = restricted_load(path)
    if not isinstance(batch, dict):
        raise GlassnetError(f"{path}: expected a dict of arrays, got {type(batch).__name__}")
    data = _get(batch, "data", path)
    if (not isinstance(data, np.ndarray) or data.ndim != 2 or data.shape[1] != 3 * 32 * 32
            or data.dtype != np.uint8):
        raise GlassnetError(
            f"{path}: 'data' must be uint8 of shape (N, 3072), got {_describe(data)}"
        )
    labels = _cifar_labels(_get(batch, label_key, path), len(data), label_key, path)
    x = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    if normalize:
        check_budget(x.size * 4, path, f"{len(x):,} float32 images")
        return x.astype(np.float32) / 255, labels
    return np.ascontiguousarray(x), labels


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
    if not isinstance(meta, dict):
        raise GlassnetError(f"{path}: expected a dict of class names, got {type(meta).__name__}")
    names = _get(meta, key, path)
    if not isinstance(names, (list, tuple)) or not all(isinstance(n, (bytes, str)) for n in names):
        raise GlassnetError(f"{path}: {key!r} must be a list of strings, got {_describe(names)}")
    try:
        names = [n.decode("utf-8") if isinstance(n, bytes) else n for n in names]
    except UnicodeDecodeError as exc:
        raise GlassnetError(
            f"{path}: {key!r} holds a name that is not UTF-8 text ({exc.reason})"
        ) from None
    return names or None


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


_CHANNELS = {"RGB": 3, "L": 1, "RGBA": 4}


def _image_size(size) -> tuple[int, int] | None:
    def positive(v):
        return isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 1

    if size is None:
        return None
    if positive(size):
        return int(size), int(size)
    if isinstance(size, (tuple, list)) and len(size) == 2 and all(positive(v) for v in size):
        return int(size[0]), int(size[1])
    raise GlassnetError(f"size must be (width, height) of positive ints or an int, got {size!r}")


def load_image_folder(directory, size: tuple[int, int] | int | None = None, mode: str = "RGB"):
    """Images in one sub-folder per class: ``directory/<class name>/<image files>``.

    Parameters
    ----------
    directory : str or Path
    size : (width, height) or int, optional
        Resize every image to this size (bilinear); without it all images must share one size.
        At most Pillow's ``Image.MAX_IMAGE_PIXELS`` pixels.
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

    An image over ``Image.MAX_IMAGE_PIXELS`` (a decompression bomb: Pillow only warns up to
    twice that) is refused, and so is a set whose float32 array would exceed the memory budget
    (:data:`glassnet.data._util.MAX_ARRAY_BYTES`), before it is decoded or resized.
    """
    directory = Path(directory)
    mode = check_choice(mode, "mode", tuple(_CHANNELS))
    size = _image_size(size)
    if not directory.is_dir():
        raise GlassnetError(f"{directory}: no such directory")
    class_dirs = sorted(p for p in directory.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not class_dirs:
        raise GlassnetError(f"{directory}: no class sub-folders (expected {directory}/<class>/<images>)")
    image = optional_import("PIL.Image", "load_image_folder()")
    folders = []
    for folder in class_dirs:
        files = sorted(
            p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
        )
        if not files:
            raise GlassnetError(f"{folder}: no image files ({', '.join(IMAGE_EXTENSIONS)})")
        folders.append(files)
    channels, pixel_limit = _CHANNELS[mode], image.MAX_IMAGE_PIXELS
    if size is not None:
        width, height = size
        if pixel_limit and width * height > pixel_limit:
            raise GlassnetError(
                f"{directory}: size {width}x{height} is {width * height:,} pixels per image, over "
                f"Pillow's limit of {pixel_limit:,} (PIL.Image.MAX_IMAGE_PIXELS)"
            )
        count = sum(len(files) for files in folders)
        check_budget(count * width * height * channels * 4, directory,
                     f"size {width}x{height}: {count:,} float32 images of {width}x{height}x{channels}")
    images, labels, total = [], [], 0
    for label, files in enumerate(folders):
        for file in files:
            arr = _read_image(image, file, size, mode)
            if images and arr.shape != images[0].shape:
                raise GlassnetError(
                    f"{file}: size {arr.shape[1]}x{arr.shape[0]} differs from the first image's "
                    f"{images[0].shape[1]}x{images[0].shape[0]}; pass size=(width, height)"
                )
            total += arr.nbytes
            check_budget(total, file, f"the images up to this one ({len(images) + 1:,})")
            images.append(arr)
            labels.append(label)
    x = np.stack(images)
    if x.ndim == 3:  # mode "L": add the channel axis
        x = x[..., None]
    return x, np.asarray(labels, dtype=np.int64), [p.name for p in class_dirs]


def _read_image(image, file: Path, size, mode: str) -> np.ndarray:
    """One image as float32 in [0, 1], its pixel count checked before it is decoded."""
    try:
        with warnings.catch_warnings():
            # Pillow errors over 2 * MAX_IMAGE_PIXELS and only warns above MAX_IMAGE_PIXELS
            warnings.simplefilter("error", image.DecompressionBombWarning)
            with image.open(file) as img:
                width, height = img.size
                check_budget(width * height * 4 * _CHANNELS[mode], file, f"decoding {width}x{height}")
                img = img.convert(mode)
                if size is not None:
                    img = img.resize(size, image.BILINEAR)
                return np.asarray(img, dtype=np.float32) / 255
    except (image.DecompressionBombError, image.DecompressionBombWarning) as exc:
        raise GlassnetError(f"{file}: refused image: {exc}") from None
    except (OSError, ValueError, SyntaxError, struct.error, EOFError) as exc:
        if isinstance(exc, GlassnetError):
            raise
        raise GlassnetError(f"{file}: cannot read image ({exc})") from None


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
        ``y`` is None when ``y=None``; otherwise ``len(x) == len(y)`` is checked. Each array's
        declared shape is checked against the bytes its member holds and the memory budget
        before it is read; arrays of Python objects (which need pickle) are refused.
    """
    path = Path(path)
    if not path.is_file():
        raise GlassnetError(f"{path}: no such file")
    keys = [k for k in (x, y) if k is not None]
    try:
        if not zipfile.is_zipfile(path):
            with open(path, "rb") as file:
                magic = file.read(6)
            if magic == b"\x93NUMPY":
                raise GlassnetError(
                    f"{path}: a single .npy array, not an .npz archive of named arrays"
                )
            raise GlassnetError(f"{path}: not a readable .npz archive (not a zip file)")
        with zipfile.ZipFile(path) as archive:
            members = {n[:-4]: n for n in archive.namelist() if n.endswith(".npy")}
            missing = [k for k in keys if k not in members]
            if missing:
                held = ", ".join(members) or "nothing"
                raise GlassnetError(f"{path}: no array {missing[0]!r}; the archive holds {held}")
            arrays = [_read_npy_member(archive, members[k], k, path) for k in keys]
    except GlassnetError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error, NotImplementedError,
            SyntaxError) as exc:
        raise GlassnetError(f"{path}: not a readable .npz archive ({exc})") from None
    xs, ys = arrays[0], (arrays[1] if y is not None else None)
    if ys is not None and (xs.ndim == 0 or ys.ndim == 0 or len(xs) != len(ys)):
        raise GlassnetError(f"{path}: {x!r} has shape {xs.shape} but {y!r} has shape {ys.shape}")
    return xs, ys


def _read_npy_member(archive: zipfile.ZipFile, name: str, key: str, path: Path) -> np.ndarray:
    """One ``.npy`` member: header first, sizes checked, then exactly the declared bytes."""
    fmt = np.lib.format
    info = archive.getinfo(name)
    with archive.open(info) as file:
        version = fmt.read_magic(file)
        if version == (1, 0):
            shape, fortran, dtype = fmt.read_array_header_1_0(file)
        elif version == (2, 0):
            shape, fortran, dtype = fmt.read_array_header_2_0(file)
        else:
            shape, fortran, dtype = fmt._read_array_header(file, version)
        if dtype.hasobject:
            raise GlassnetError(
                f"{path}: not a readable .npz archive (array {key!r} holds Python objects, "
                f"which would need pickle)"
            )
        nbytes = dtype.itemsize
        for size in shape:
            nbytes *= size
        check_budget(nbytes, path, f"array {key!r} of shape {shape}")
        if nbytes > info.file_size - file.tell():
            raise GlassnetError(
                f"{path}: array {key!r} declares shape {shape} ({nbytes:,} bytes), but its "
                f"member holds {info.file_size - file.tell():,}"
            )
        if nbytes == 0:
            return np.zeros(shape, dtype, order="F" if fortran else "C")
        buffer = bytearray(nbytes)
        if file.readinto(buffer) != nbytes:
            raise GlassnetError(f"{path}: array {key!r} is truncated")
    return np.frombuffer(buffer, dtype).reshape(shape, order="F" if fortran else "C")
