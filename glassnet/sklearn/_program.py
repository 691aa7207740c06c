"""Training one model-axis program of a search: M networks, each on its own fold's rows.

The networks are trained by the engine's :class:`~glassnet.training.Trainer`, in one
:meth:`~glassnet.training.Trainer.run` call, exactly as ``model.fit(x, y, epochs=E)`` with
per-model data ``x`` ``(M, n, ...)`` would train them: network ``m`` gets its fold's rows, draws
each epoch's permutation from its own stream (``model.streams[m].data.permutation(n)``, what a
single fit with its seed draws) and so sees exactly the batches of a single ``fit`` (tested equal
bit for bit).

Where the run fits the fast path's plan (:mod:`glassnet.fast.loop`: Dense MLPs, SGD, softmax
cross-entropy on the one-hot rows, an epoch's ragged last batch included), the unlogged steps
between the once-an-epoch logged ones run compiled, taking their batches by index; a single
``GlassnetClassifier.fit`` runs on the same kernels, so the two stay equal.
"""

from __future__ import annotations

import numpy as np

from ..backend import check_memory
from ..training import Trainer
from ..training.fit import default_log_every


def train_program(model, blocks_x, blocks_t, block_of, *, optimizer, epochs: int, batch_size, shuffle: bool,
                  loss, weight_decay, l1, metrics=(), progress=False):
    """Train ``model`` (M networks) for ``epochs``; network ``m`` on the rows of block ``block_of[m]``.

    Parameters
    ----------
    blocks_x : ``(F, n, *input_shape)``, the training rows of each distinct fold.
    blocks_t : ``(F, n, ...)`` targets.
    block_of : ``(M,)`` ints, the block each network trains on.
    Other arguments as ``model.fit``'s (``weight_decay``/``l1`` may be one value per network).

    Returns the :class:`~glassnet.History`.
    """
    del progress, metrics
    M = model.M
    block_of = np.asarray(block_of, dtype=np.int64)
    check_memory(M * blocks_x[0].nbytes, f"the training data of {M} networks")
    # per-model buffers the Trainer walks: block_of[m]'s rows, permuted at every epoch
    x = np.take(blocks_x, block_of, axis=0)
    t = np.take(blocks_t, block_of, axis=0)
    # per-model data: the Batcher gathers each epoch's permuted rows once (model m's own stream,
    # exactly as fit does), so every network equals its plain fit bit for bit
    trainer = Trainer(model, x, t, loss=loss, optimizer=optimizer, batch_size=batch_size, weight_decay=weight_decay,
                      l1=l1, shuffle=shuffle, metrics=[])
    total = epochs * trainer.steps_per_epoch
    trainer.log_every = default_log_every(total, trainer.steps_per_epoch)
    trainer.run(total)
    return trainer.finish()

