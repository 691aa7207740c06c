"""Training history: per-model curves, the steps they were recorded at, and how each model ended."""

from __future__ import annotations

import numpy as np


class History:
    """Curves recorded by a :class:`~glassnet.training.Trainer` (``fit`` returns one).

    ``history["loss"]`` is ``(T,)`` for a single network and ``(M, T)`` for an ensemble, at the
    steps in ``history.steps``. Once a model stops (diverged, early-stopped) its later points are
    NaN, so its curve ends where it stopped. ``status[m]`` is "completed", "diverged" or
    "early_stopped"; ``stopped_at[m]`` the step it stopped at (-1 if it ran to the end).
    """

    def __init__(self, M: int, single: bool):
        self.M, self.single = M, single
        self._steps: list[int] = []
        self._rows: dict[str, list[np.ndarray]] = {}
        self._extra: dict[str, dict[int, np.ndarray]] = {}
        self.status = ["completed"] * M
        self.stopped_at = np.full(M, -1)
        self.steps = np.zeros(0, dtype=np.int64)
        self.curves: dict[str, np.ndarray] = {}
        self.steps_done = 0
        self.seconds = 0.0

    def record(self, step: int, logs: dict, active: np.ndarray) -> None:
        self._steps.append(step)
        for k, v in logs.items():
            v = np.asarray(v, dtype=np.float64)
            # a model that stopped before this step gets NaN (its curve ends where it stopped)
            v = np.where(active | (self.stopped_at == step), v, np.nan)
            self._rows.setdefault(k, []).append(v)

    def record_extra(self, step: int, name: str, values) -> None:
        """Add a point ``(M,)`` to an extra curve (a diagnostic) at a recorded step; callbacks call
        this from ``on_log``. After ``sync`` the curve lines up with ``steps``, NaN where unmeasured."""
        self._extra.setdefault(name, {})[int(step)] = np.asarray(values, dtype=np.float64)

    def sync(self, steps_done: int, seconds: float) -> None:
        """Bring ``steps``, ``curves``, ``steps_done`` and ``seconds`` up to date with what was
        recorded (the Trainer calls this after every ``run``, so a history is readable between
        steps)."""
        self.steps = np.asarray(self._steps, dtype=np.int64)
        self.curves = {k: np.stack(v, axis=1) for k, v in self._rows.items()}
        blank = np.full(self.M, np.nan)
        for k, points in self._extra.items():
            cols = [points.get(s, blank) for s in self._steps]
            self.curves[k] = np.stack(cols, axis=1) if cols else np.zeros((self.M, 0))
        self.steps_done, self.seconds = steps_done, seconds

    @property
    def history(self) -> dict[str, np.ndarray]:
        """Keras-style dict of curves (``(T,)`` single, ``(M, T)`` ensemble)."""
        return {k: self[k] for k in self.curves}

    def __getitem__(self, key: str) -> np.ndarray:
        c = self.curves[key]
        return c[0] if self.single else c

    def __contains__(self, key) -> bool:
        return key in self.curves

    def keys(self):
        return self.curves.keys()

    def final(self, key: str = "loss"):
        """The last finite value of a curve per model (a float for a single network)."""
        c = self.curves[key]
        out = np.array([row[np.isfinite(row)][-1] if np.isfinite(row).any() else np.nan for row in c])
        return float(out[0]) if self.single else out

    def _repr_html_(self) -> str:
        """Jupyter: the final metrics as a table (see :func:`glassnet.notebook.history_html`)."""
        from ..notebook import history_html  # noqa: PLC0415 - notebook helpers load on use

        return history_html(self)

    def plot(self, keys=None, per_model=None, band: str = "minmax", figsize=None):
        """Loss and metric curves as a matplotlib ``Figure``: one line per model, or the mean with
        a band for larger ensembles (see :func:`glassnet.notebook.plot_curves`)."""
        from ..notebook import plot_history  # noqa: PLC0415 - matplotlib loads only here

        return plot_history(self, keys=keys, per_model=per_model, band=band, figsize=figsize)

    def __repr__(self):
        counts = {s: self.status.count(s) for s in set(self.status)}
        return (f"History({len(self.steps)} points over {self.steps_done} steps, "
                f"curves={sorted(self.curves)}, status={counts})")
