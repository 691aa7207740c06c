"""dtype and random streams: the settings every other module reads.

* The engine computes with NumPy. (A CuPy backend, the same code on a GPU, is planned; no module
  switches array namespaces yet, so none is offered.)
* The default dtype is float32; float64 is supported everywhere (gradient checks use it).
* Randomness is explicit: a model-axis run of ``M`` networks owns one independent
  :class:`numpy.random.Generator` stream per model, derived from that model's seed only, so model
  ``m`` of an ensemble draws exactly the numbers a single run with the same seed draws.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .errors import GlassnetError

# Speed choices that depend on the number of models switch at this one boundary (contiguous
# transposes and einsum sums in Dense, the sigmoid formula), so that an ensemble split into chunks
# gives bit-identical results as long as every chunk is on the same side of it.
MANY_MODELS = 16

#: The memory budget: sizes declared by a file, a message or a config are checked against it
#: before anything is allocated (a 505-byte model header must not cost gigabytes). Override it
#: with the environment variable ``GLASSNET_MAX_BYTES`` (an int, in bytes).
MAX_BYTES_DEFAULT = 4 * 2**30
MAX_BYTES_ENV = "GLASSNET_MAX_BYTES"

_DTYPES = {"float32": np.float32, "float64": np.float64}
_default_dtype = np.float32


def resolve_dtype(dtype=None) -> np.dtype:
    """``None`` -> the default dtype; ``"float32"``/``"float64"`` or a NumPy float type -> itself."""
    if dtype is None:
        return np.dtype(_default_dtype)
    key = np.dtype(dtype).name if not isinstance(dtype, str) else dtype
    if key not in _DTYPES:
        raise GlassnetError(f"dtype must be one of {sorted(_DTYPES)}, got {dtype!r}")
    return np.dtype(_DTYPES[key])


def set_default_dtype(dtype) -> None:
    """Set the dtype new models use when none is given (float32 unless changed)."""
    global _default_dtype
    _default_dtype = resolve_dtype(dtype).type


def get_default_dtype() -> np.dtype:
    return np.dtype(_default_dtype)


@dataclass
class ModelStreams:
    """The random streams of one model: initial weights, data order and noise (dropout).

    Three streams from one seed (via ``SeedSequence.spawn``) so that, for example, adding dropout
    changes neither the initial weights nor the order the data is seen in.
    """

    seed: int
    init: np.random.Generator
    data: np.random.Generator
    noise: np.random.Generator

    @classmethod
    def from_seed(cls, seed: int) -> "ModelStreams":
        init, data, noise = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3))
        return cls(seed, init, data, noise)


def model_seeds(seed, models: int | None) -> list[int]:
    """Per-model seeds: a list is used as given; an int ``s`` with ``models=M`` gives s..s+M-1.

    So model ``m`` of ``Sequential(..., seed=s, models=M)`` is the same network as a single run
    with ``seed=s+m``.
    """
    if isinstance(seed, (list, tuple, np.ndarray)):
        seeds = [int(s) for s in seed]
        if not seeds:
            raise GlassnetError("seed list must not be empty")
        if models is not None and models != len(seeds):
            raise GlassnetError(f"models={models} but seed has {len(seeds)} values; give one seed per model")
        return seeds
    if seed is None:
        seed = 0
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise GlassnetError(f"seed must be an int or a list of ints, got {seed!r}")
    if models is None:
        return [int(seed)]
    if not isinstance(models, (int, np.integer)) or models < 1:
        raise GlassnetError(f"models must be a positive int, got {models!r}")
    return [int(seed) + m for m in range(int(models))]


def per_model(value, M: int, name: str, dtype=np.float64, low=None, high=None,
              low_inclusive: bool = True) -> np.ndarray:
    """A hyperparameter as an array of shape ``(M,)``: a scalar is repeated, a list must have M values.

    ``low``/``high`` bound the allowed range; the error names ``name`` and the range.
    """
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0:
        arr = np.full(M, float(arr))
    elif arr.ndim != 1 or arr.shape[0] != M:
        raise GlassnetError(
            f"{name} must be a number or a list of {M} numbers (one per model), got {value!r}",
            field=name, value=value)
    if not np.all(np.isfinite(arr)):
        raise GlassnetError(f"{name} must be finite, got {value!r}", field=name, value=value)
    if low is not None:
        bad = arr < low if low_inclusive else arr <= low
        if np.any(bad):
            op = ">=" if low_inclusive else ">"
            raise GlassnetError(f"{name} must be {op} {low}, got {value!r}", field=name, value=value)
    if high is not None and np.any(arr > high):
        raise GlassnetError(f"{name} must be <= {high}, got {value!r}", field=name, value=value)
    return arr.astype(dtype)


def broadcast_to_param(values: np.ndarray, ndim: int) -> np.ndarray:
    """View an ``(M,)`` array as ``(M, 1, ..., 1)`` so it broadcasts against an ``ndim`` parameter.

    For one model the view is 0-d: the same numbers (still a view, so in-place changes of
    ``values`` show through), but NumPy takes its scalar fast path, twice as fast on small
    parameters.
    """
    if values.shape[0] == 1:
        return values.reshape(())
    return values.reshape(values.shape[:1] + (1,) * (ndim - 1))


def as_seed_list(seeds: Sequence[int]) -> list[ModelStreams]:
    return [ModelStreams.from_seed(s) for s in seeds]


def memory_budget() -> int:
    """The memory budget in bytes now: ``$GLASSNET_MAX_BYTES`` if set, else :data:`MAX_BYTES_DEFAULT`."""
    text = os.environ.get(MAX_BYTES_ENV, "").strip()
    if not text:
        return MAX_BYTES_DEFAULT
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise GlassnetError(f"{MAX_BYTES_ENV} must be a positive int (bytes), got {text!r}", field=MAX_BYTES_ENV)
    return value


def check_memory(nbytes: int, what: str) -> int:
    """``nbytes`` if it fits :func:`memory_budget`; else one GlassnetError line naming ``what``."""
    budget = memory_budget()
    if nbytes > budget:
        raise GlassnetError(f"{what} would need {nbytes / 2**20:,.0f} MiB, over the memory budget of "
                            f"{budget / 2**20:,.0f} MiB (set {MAX_BYTES_ENV} to allow more)")
    return int(nbytes)


def as_array(data, name: str = "x") -> np.ndarray:
    """``np.asarray(data)``; a pandas DataFrame/Series goes through
    :func:`glassnet.data.tables.as_array` (nullable dtypes read as float; a non-numeric column
    or missing values named in one line), imported only when one is given."""
    if type(data).__module__.split(".")[0] == "pandas":
        from .data.tables import as_array as frame_array  # noqa: PLC0415 - pandas inputs only

        return frame_array(data, name)
    return np.asarray(data)
