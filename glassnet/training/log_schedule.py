"""Which steps a training run records: every n-th step, once per epoch, or an explicit list.

A long run's curves rarely need the same density everywhere: a learning-rate sweep moves fast in
its first few thousand steps and slowly after. ``log_every`` therefore takes

* a positive integer ``n``: steps ``0, n, 2n, ...``;
* ``"epoch"``: the first step of every epoch (``n`` = steps per epoch);
* a sequence of step numbers (integers >= 0, any order, repeats ignored), e.g.
  ``np.r_[0:40_000:40, 40_000:400_001:400]``: every 40th step up to 40,000, then every 400th.

The first step of a :meth:`~glassnet.training.Trainer.run` call (with ``log_first``) and its last
step are recorded in every case. Between two recorded steps nothing is observed, which is what
lets the compiled segments (:mod:`glassnet.fast.loop`) run those steps in one call.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import GlassnetError

#: "log once per epoch", in Python and in configs
LOG_EPOCH = "epoch"


class EveryNth:
    """Steps ``0, n, 2n, ...``."""

    def __init__(self, n: int):
        self.n = n

    def logged(self, step: int) -> bool:
        return step % self.n == 0

    def next(self, step: int) -> int:
        """The first recorded step ``>= step``."""
        return -(-step // self.n) * self.n


class AtSteps:
    """The steps of a sorted array (and none after its last)."""

    def __init__(self, steps: np.ndarray):
        self.steps = steps
        self._set = frozenset(steps.tolist())

    def logged(self, step: int) -> bool:
        return step in self._set

    def next(self, step: int) -> int:
        """The first recorded step ``>= step`` (a huge number past the last one: never)."""
        i = int(np.searchsorted(self.steps, step))
        return int(self.steps[i]) if i < self.steps.size else 1 << 62


def check_log_every(value, name: str = "log_every"):
    """``value`` as the Trainer keeps it: a positive int, ``"epoch"``, or a sorted unique int64
    array of step numbers; a :class:`~glassnet.errors.GlassnetError` naming ``name`` otherwise."""
    if isinstance(value, str):
        if value == LOG_EPOCH:
            return value
    elif isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        if value >= 1:
            return int(value)
    elif isinstance(value, (Sequence, np.ndarray)):
        try:
            steps = np.asarray(value)
        except ValueError:  # ragged nested lists
            steps = np.zeros((0, 0))
        # bools have their own dtype, so True is not taken for step 1
        if steps.ndim == 1 and steps.size and np.issubdtype(steps.dtype, np.integer) and steps.min() >= 0:
            return np.unique(steps.astype(np.int64))
        raise GlassnetError(f"{name} as a list must hold step numbers (integers >= 0), at least one, got {_short(value)}",
                            field=name, value=_short(value))
    raise GlassnetError(f"{name} must be a positive integer, {LOG_EPOCH!r}, or a list of step numbers, got {value!r}",
                        field=name, value=value)


def schedule(log_every, steps_per_epoch: int):
    """The :class:`EveryNth` or :class:`AtSteps` of a checked ``log_every``."""
    if isinstance(log_every, np.ndarray):
        return AtSteps(log_every)
    return EveryNth(steps_per_epoch if isinstance(log_every, str) else log_every)


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
