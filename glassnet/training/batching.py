"""Mini-batches for M models: shared data stays shared, shuffles are per model."""

from __future__ import annotations

import numpy as np


class Batcher:
    """Yields ``(x_batch, y_batch)`` forever, epoch after epoch.

    * Full batch (``batch_size >= N``): the data as given, every step (no copy, no reordering).
    * ``drop_last``: an epoch ends before a last batch smaller than ``batch_size``.
    * No shuffle: consecutive slices; shared data stays ``(b, ...)`` and broadcasts over models.
    * Shuffle: at each epoch every model draws its own permutation from its data stream, so
      model ``m`` of an ensemble sees the same batches as a single run with its seed; batches are
      gathered to ``(M, b, ...)``.
    """

    def __init__(self, x, y, batch_size: int, shuffle: bool, streams, per_model_data: bool,
                 drop_last: bool = False):
        self.x, self.y = x, y
        self.per_model = per_model_data
        first = x[0] if isinstance(x, list) else x
        self.n = first.shape[1] if per_model_data else first.shape[0]
        self.b = batch_size
        self.full = batch_size >= self.n
        # a last batch smaller than b is skipped (batch norm cannot normalize one sample)
        self.drop_last = drop_last and not self.full and self.n % batch_size != 0
        self.steps_per_epoch = self.n // batch_size if self.drop_last else -(-self.n // batch_size)
        self.shuffle = shuffle and not self.full
        self.streams = streams
        self.M = len(streams)
        y0 = y[0] if isinstance(y, list) else y
        self._y_per_model = per_model_data and y0.ndim >= 2 and y0.shape[0] == self.M and y0.shape[1] == self.n
        self._pos = self.n  # start a new epoch on the first call
        self._perm = None
        self._epoch = None  # per-model data: the epoch's permuted rows, once gathered
        self._next_hi = -1  # where next()'s last batch of this epoch ended
        self._last = None  # which samples the last batch took (for weights_of)

    def next(self):
        if self.full:
            self._last = None
            return self.x, self.y
        if self._pos >= self.n or (self.drop_last and self._pos + self.b > self.n):
            self._pos = 0
            if self.shuffle:
                self._perm = np.stack([s.data.permutation(self.n) for s in self.streams])
                self._epoch, self._next_hi = None, -1
        lo, hi = self._pos, min(self._pos + self.b, self.n)
        self._pos = hi
        self._last = slice(lo, hi) if not self.shuffle else self._perm[:, lo:hi]
        if not self.shuffle:
            cut = slice(lo, hi)
            return self._slice(self.x, cut, self.per_model), self._slice(self.y, cut, self._y_per_model)
        if self.per_model:
            # per-model data: once two batches in a row of an epoch come through here, gather the
            # whole epoch (no more memory than x itself) and slice it per step; shared data is
            # gathered per batch, since a whole epoch would be M copies of it. Other batches are
            # gathered alone: with compiled segments (glassnet.fast.loop) only the logged steps'
            # batches come through here, one or two an epoch, and the rest is never gathered
            consecutive, self._next_hi = lo > 0 and lo == self._next_hi, hi
            if self._epoch is None and not consecutive:
                idx = self._perm[:, lo:hi]
                return self._take(self.x, idx, True), self._take(self.y, idx, self._y_per_model)
            if self._epoch is None:
                self._epoch = (self._take(self.x, self._perm, True),
                               self._take(self.y, self._perm, self._y_per_model))
            cut = slice(lo, hi)
            ex, ey = self._epoch
            return self._slice(ex, cut, True), self._slice(ey, cut, True)
        idx = self._perm[:, lo:hi]  # (M, b)
        return self._take(self.x, idx, False), self._take(self.y, idx, False)

    @property
    def uniform(self) -> bool:
        """Every batch has the same number of samples (full batch, ``b`` divides N, or drop_last)."""
        return self.full or self.drop_last or self.n % self.b == 0

    def take_indices(self, k: int) -> np.ndarray:
        """The sample indices of the next ``k`` batches, ``(M or 1, k or 1, b)`` int64, advancing
        the batcher exactly as ``k`` calls of :meth:`next` would; only for :attr:`uniform` batching
        (:meth:`take_batches` also gives the sizes of ragged batches)."""
        return self.take_batches(k)[0]

    def take_batches(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The next ``k`` batches as ``(idx, sizes)``, advancing the batcher exactly as ``k`` calls
        of :meth:`next` would (epochs, shuffles, position).

        ``idx``: sample indices ``(M or 1, k or 1, b)`` int64; batch ``s`` is its first
        ``sizes[s]`` entries (``sizes``: ``(k or 1,)`` int64; an epoch's last batch is shorter
        when ``b`` does not divide N and ``drop_last`` is off; the entries past it are 0).
        For compiled steps (:mod:`glassnet.fast.loop`) that gather rows themselves. Full batch
        gives ``(1, 1, N)`` and ``[N]``: the same batch every step.
        """
        if self.full:
            self._last = None
            return np.arange(self.n, dtype=np.int64)[None, None], np.array([self.n], np.int64)
        out = np.zeros((self.M if self.shuffle else 1, k, self.b), np.int64)
        sizes = np.full(k, self.b, np.int64)
        step = 0
        while step < k:  # an epoch (or what is left of it) at a time
            if self._pos >= self.n or (self.drop_last and self._pos + self.b > self.n):
                self._pos = 0
                if self.shuffle:
                    self._perm = np.stack([s.data.permutation(self.n) for s in self.streams])
                    self._epoch, self._next_hi = None, -1  # next() gathers it if it needs it
            t = min((self.n - self._pos) // self.b, k - step)
            if t == 0:  # the epoch's ragged last batch (drop_last would have started a new epoch)
                lo, hi = self._pos, self.n
                rows = self._perm[:, lo:hi] if self.shuffle else np.arange(lo, hi)[None]
                out[:, step, :hi - lo] = rows
                sizes[step] = hi - lo
                self._pos = hi
                step += 1
                continue
            lo, hi = self._pos, self._pos + t * self.b
            rows = self._perm[:, lo:hi] if self.shuffle else np.arange(lo, hi)[None]
            out[:, step:step + t] = rows.reshape(rows.shape[0], t, self.b)
            self._pos = hi
            step += t
        lo = self._pos - int(sizes[-1])
        self._last = slice(lo, self._pos) if not self.shuffle else self._perm[:, lo:self._pos]
        return out, sizes

    @staticmethod
    def _slice(a, cut, per_model: bool):
        if isinstance(a, list):  # several inputs or outputs: each the same way
            return [Batcher._slice(e, cut, per_model) for e in a]
        return a[:, cut] if per_model else a[cut]

    def weights_of_last(self, w):
        """The entries of per-sample ``w`` (``(N,)``) for the last batch: ``(b,)`` or ``(M, b)``."""
        if self._last is None:
            return w
        if isinstance(self._last, slice):
            return w[self._last]
        return w[self._last]  # (N,) indexed by (M, b)

    @staticmethod
    def _take(a, idx, per_model: bool):
        if isinstance(a, list):
            return [Batcher._take(e, idx, per_model) for e in a]
        if not per_model:
            return a[idx]  # (b...) indexed by (M, b) -> (M, b, ...)
        return a[np.arange(a.shape[0])[:, None], idx]
