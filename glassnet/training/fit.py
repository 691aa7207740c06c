"""``fit`` and ``evaluate``: the Keras-shaped calls, each a thin use of the :class:`Trainer`."""

from __future__ import annotations

import numpy as np

from .. import losses as losses_mod
from .. import metrics as metrics_mod
from ..errors import GlassnetError
from .history import History
from .trainer import DEFAULT_BATCH_SIZE, Trainer, check_positive_int, default_log_every


def fit(model, x, y, *, loss="mse", optimizer=None, epochs=None, steps=None, batch_size=DEFAULT_BATCH_SIZE,
        weight_decay=0.0, l1=0.0, shuffle=True, drop_last=False, validation_data=None, validation_split=0.0,
        metrics=None, callbacks=(), log_every=None, nan_guard=True, progress=None, sample_weight=None,
        class_weight=None, clip_value=None, clip_norm=None, loss_weights=None) -> History:
    """Train ``model`` on ``(x, y)`` and return a :class:`History`: ``Trainer(...).run(total)``.

    Parameters (see :class:`~glassnet.training.Trainer` for the rest)
    ----------
    epochs, steps : train for this many passes over the data, or this many updates (give one;
        neither means one epoch).
    batch_size : samples per update (default 32), or ``"full"`` for every sample in every update.
    validation_split : hold out this last fraction of the samples (before any shuffling, as
        Keras does) as validation data; not together with ``validation_data``.
    log_every : record the history every this many steps, or at a list of step numbers (and always
        at the first and last step; see :mod:`~glassnet.training.log_schedule`). Default: once per
        epoch, but at most ~1000 points per curve.
    progress : show a progress bar; ``None`` = only on a terminal and for long runs.

    The recorded ``loss`` is the objective being minimised: the data loss of the batch of that step
    (before its update) plus the penalty; ``data_loss`` and ``penalty`` are recorded separately.
    """
    if validation_split:
        x, y, sample_weight, validation_data = split_validation(model, x, y, sample_weight, validation_split,
                                                               validation_data)
    trainer = Trainer(model, x, y, loss=loss, optimizer=optimizer, batch_size=batch_size,
                      weight_decay=weight_decay, l1=l1, shuffle=shuffle, drop_last=drop_last,
                      validation_data=validation_data, metrics=metrics, callbacks=callbacks,
                      log_every=1, nan_guard=nan_guard, sample_weight=sample_weight, class_weight=class_weight,
                      clip_value=clip_value, clip_norm=clip_norm, loss_weights=loss_weights)
    total = total_steps(epochs, steps, trainer.steps_per_epoch)
    trainer.log_every = default_log_every(total, trainer.steps_per_epoch) if log_every is None else log_every
    bar = _progress_bar(progress, total, model.M)
    try:
        trainer.run(total, progress=bar)
    finally:
        if bar is not None:
            bar.close()
    return trainer.finish()


def split_validation(model, x, y, sample_weight, fraction, validation_data):
    """``(x_train, y_train, w_train, (x_val, y_val))``: the last ``fraction`` of the samples held out."""
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 <= fraction < 1:
        raise GlassnetError(f"validation_split must be a fraction in [0, 1), got {fraction!r}",
                            field="validation_split", value=fraction)
    if validation_data is not None:
        raise GlassnetError("give validation_data or validation_split, not both", field="validation_split",
                            value=fraction)
    x = model.prepare_inputs(x)
    y = np.asarray(y)
    per_model = x.ndim == len(model.input_shape) + 2
    n = x.shape[1] if per_model else x.shape[0]
    keep = n - int(round(n * fraction))
    if keep < 1 or keep == n:
        raise GlassnetError(f"validation_split={fraction} of {n} samples leaves "
                            f"{'no training' if keep < 1 else 'no validation'} samples", field="validation_split",
                            value=fraction)
    y_per_model = per_model and y.ndim >= 2 and y.shape[:2] == (model.M, n)
    xs = (x[:, :keep], x[:, keep:]) if per_model else (x[:keep], x[keep:])
    ys = (y[:, :keep], y[:, keep:]) if y_per_model else (y[:keep], y[keep:])
    if sample_weight is not None and np.shape(sample_weight) != (n,):
        raise GlassnetError(f"sample_weight must have one weight per sample ({n}), got shape "
                            f"{np.shape(sample_weight)}", field="sample_weight")
    w = None if sample_weight is None else np.asarray(sample_weight)[:keep]
    return xs[0], ys[0], w, (xs[1], ys[1])


def total_steps(epochs, steps, steps_per_epoch: int) -> int:
    """Updates for ``epochs`` passes or ``steps`` updates (one of them; neither: one epoch)."""
    if epochs is not None and steps is not None:
        raise GlassnetError("give epochs or steps, not both", field="epochs", value=epochs)
    if steps is not None:
        return check_positive_int(steps, "steps")
    epochs = 1 if epochs is None else check_positive_int(epochs, "epochs")
    return epochs * steps_per_epoch


def _progress_bar(progress, total, M):
    if progress is False:
        return None
    if progress is None and total * M < 20_000:
        return None
    from tqdm.auto import tqdm  # noqa: PLC0415 - only when shown

    return tqdm(total=total, unit="step", desc=f"training {M} model{'s' if M > 1 else ''}",
                disable=None if progress is None else False, leave=False)


def evaluate(model, x, y, loss, metrics=None) -> dict:
    """Data loss and metrics in inference mode: floats for one network, ``(M,)`` arrays otherwise.
    ``metrics`` default as in ``fit``: accuracy for classification losses."""
    outputs = getattr(model, "outputs", None)
    multi = outputs is not None and len(outputs) > 1
    loss = losses_mod.for_outputs(loss, None, [t.name for t in outputs]) if multi else losses_mod.get(loss)
    x = model.prepare_inputs(x)
    n = model.n_samples(x)
    if n == 0:
        raise GlassnetError("x has no samples; give at least one", field="x")
    y = loss.prepare_targets(y, model.output_shape)
    targets = []
    for t in (y if multi else [y]):
        if t.shape[0] != n and not (model.is_per_model(x) and t.ndim >= 2 and t.shape[1] == n):
            raise GlassnetError(f"x has {n} samples but y has {t.shape[0]}; they must match", field="y")
        targets.append(t.astype(model.dtype, copy=False) if np.issubdtype(t.dtype, np.floating) else t)
    y = targets if multi else targets[0]
    pred = model.forward(x, False)
    out = {"loss": loss.value(pred, y)}
    if multi:
        out.update(loss.parts(pred, y))
    for name, metric in metrics_mod.resolve(metrics if not multi else [], loss).items():
        out[name] = metric(pred, y, loss)
    if not model.ensemble:
        out = {k: float(v[0]) for k, v in out.items()}
    return out
