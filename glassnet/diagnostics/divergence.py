"""Why a run went wrong: replay it step by step and find the first step, the layer and the
chain-rule factor responsible, beside a healthy member of the same ensemble.

:func:`explain_divergence` drives the :class:`~glassnet.training.Trainer` (the one training loop)
for ``steps`` updates with a recorder attached; the numbers are the run's own: the recorder only
reads (it wraps each layer's ``forward``/``backward`` on the instance to see the signals passing
through, unchanged, and removes the wrappers afterwards). The replay logs every step, so it takes
the per-step reference path: a run trained with the compiled fast path agrees to rounding, not
bit for bit. At every step, for every layer with parameters (``k``) and every model, it keeps the
factors of that layer's gradient and update (seed 001's chain rule)::

    dL/dW_k = a_{k-1}^T (dL/da_k * f'(z_k)),   dL/db_k = sum_batch (dL/da_k * f'(z_k))
    update  = theta_k(t+1) - theta_k(t)        (for plain SGD: -lr * dL/dtheta_k)

* ``a_in``: RMS of the layer's input a_{k-1} on the step's batch;
* ``dL/da``: RMS of the gradient arriving at the layer's output (what the layers above send);
* ``f'``: mean of f'(z_k) over the batch and units (1 for a layer without activation);
* ``grad``: ||dL/dtheta_k|| (every parameter of the layer; penalties and clipping included: the
  gradient the optimizer used);
* ``step``: ||update|| / ||dL/dtheta_k||, the effective learning rate (lr for SGD; not measured,
  NaN, when the update rounds to nothing against the weights);
* ``norm``: ||theta_k||, and ``ratio``: ||update|| / ||theta_k||, the update relative to the weights;
* ``zmax``: max |z_k| (pre-activation) on the batch; ``dead``: share of the layer's zero-slope
  (ReLU) units whose pre-activation is <= 0 on every probe sample;
* the loss: the step's training loss (the history's ``loss``) and ``probe_loss``, the data loss
  on the probe set (default: the training set, at most :data:`PROBE_SAMPLES` samples) in
  inference mode, both before the step's update.

The verdicts, per model (the earliest detection wins when several rules fire):

**diverged** -- the training or probe loss is non-finite, or the probe loss exceeds
:data:`DIVERGE_FACTOR` (10) times its value at step 0, first at step ``t_bad``. The first step
that went wrong is the first step before ``t_bad`` at which some layer's update was larger than
its weights (``ratio`` > :data:`RATIO_LIMIT` = 1); if there is none, the last step before
``t_bad`` with a probe loss at most its step-0 value (its update began the climb). The layer
named is the one with the largest ``ratio`` at that step. The first non-finite value (a layer's
activation ``zmax`` in forward order, then the loss, then a gradient in backward order) is
reported too.

**died** -- a ReLU layer has at least :data:`DEAD_SHARE` (half) of its units dead on the probe
set from step ``t`` to the end of the replay: f'(z) = 0 on every sample for those units, so
dL/dz = 0, their incoming weights and bias get no gradient and cannot bring them back (and a
layer dead entirely sends dL/da = 0 to every layer below). The first step is that ``t``; the
layer, the one with the most dead units then (the lowest on a tie).

**stalled** -- the probe loss at the end (median of the last tenth of the steps) is above
``1 - STALL_DROP`` (90%) of its step-0 value: the run learned less than 10%. The first step is
the first ``t`` from which the probe loss never falls more than ``STALL_DROP`` below its value
at ``t`` (usually 0: it never learned). Beside a healthy member, a run is also stalled when it
got stuck after some progress: its probe loss fell by less than 10% over the second half of the
replay and ends above :data:`STALL_GAP` (10) times the healthy member's final loss (both ends:
medians of the last tenth); the first step is found the same way. The layer named is the one
whose gradient-to-weight ratio ||dL/dtheta|| / ||theta|| is smallest relative to the healthy
member's (or smallest, without one).

**ok** -- none of these. (A diverging model is not checked for dead units where its
pre-activations are non-finite.)

The responsible factor: at the first step and layer, each factor (``a_in``, ``dL/da``, ``f'``,
``step``, ``norm``) is compared with the healthy member's at the same step (without one, with
the member's own step 0); the one furthest away in orders of magnitude is named (for *died*,
always f'(z) = 0). The healthy member, unless given, is the model with the lowest final probe
loss among those whose verdict is *ok*.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..callbacks import Callback
from ..errors import GlassnetError
from .health import _per_unit, _slope_zero_below, activation_sites

#: diverged: the probe loss above this many times its step-0 value (or non-finite)
DIVERGE_FACTOR = 10.0
#: diverged: an update larger than this many times the layer's weights went wrong
RATIO_LIMIT = 1.0
#: died: at least this share of a ReLU layer's units dead on every probe sample, to the end
DEAD_SHARE = 0.5
#: stalled: the run lost less than this share of its step-0 probe loss
STALL_DROP = 0.1
#: stalled beside a healthy member: flat, and ending over this many times its final loss
STALL_GAP = 10.0
#: the probe set: at most this many training samples
PROBE_SAMPLES = 2048

#: recorded per (step, layer, model); the factors compared with the healthy member come first
FACTORS = ("a_in", "dL/da", "f'", "step", "norm")
STATS = FACTORS + ("grad", "ratio", "zmax", "dead")
FACTOR_TEXT = {"a_in": "a_in (rms)", "dL/da": "dL/da (rms)", "f'": "f'(z) (mean)",
               "step": "step ||upd||/||dL/dθ||", "norm": "||θ||", "grad": "||dL/dθ||",
               "ratio": "||upd||/||θ||", "zmax": "max |z|", "dead": "dead units"}
FACTOR_MEANING = {
    "a_in": "the layer's input a_{k-1} (dz/dW = a_{k-1})",
    "dL/da": "the gradient arriving from the layers above (dL/da_k)",
    "f'": "the activation's slope f'(z_k) (da/dz)",
    "step": "the step size the optimizer multiplies the gradient by (the learning rate)",
    "norm": "the size of the weights themselves (||θ_k||)",
}


@dataclass
class Verdict:
    """What went wrong with one model: ``kind`` is "ok", "diverged", "died" or "stalled";
    ``step`` the first step that went wrong, ``detected`` the step the rule fired at, ``layer``
    and ``factor`` the layer and chain-rule factor responsible, ``note`` one sentence."""

    member: int
    kind: str
    step: int | None = None
    detected: int | None = None
    layer: str | None = None
    factor: str | None = None
    note: str = ""

    @property
    def ok(self) -> bool:
        return self.kind == "ok"


@dataclass
class DivergenceReport:
    """The replay: ``stats[name]`` arrays ``(T, L, M)`` over ``steps`` (T,) and ``layers`` (L),
    ``loss``/``probe_loss`` ``(T, M)``, one :class:`Verdict` per model, and the ``member``
    explained beside the ``healthy`` one (either may be None). ``str(report)`` is the text."""

    steps: np.ndarray
    layers: list[str]
    loss: np.ndarray
    probe_loss: np.ndarray
    stats: dict[str, np.ndarray]
    verdicts: list[Verdict]
    member: int | None
    healthy: int | None
    labels: list[str] = field(default_factory=list)
    stopped_at: np.ndarray | None = None
    dtype: str = "float32"

    @property
    def verdict(self) -> Verdict | None:
        """The explained member's verdict (None when every model trained normally)."""
        return None if self.member is None else self.verdicts[self.member]

    def value(self, name: str, step: int, layer: str, member: int) -> float:
        """One recorded number: ``stats[name]`` at recorded step index ``step`` (steps start at 0
        and are consecutive), layer name ``layer``, model ``member``."""
        return float(self.stats[name][step, self.layers.index(layer), member])

    def render(self) -> str:
        from .divergence_render import render  # noqa: PLC0415

        return render(self)

    def __str__(self) -> str:
        return self.render()

    def plot(self, path=None):
        """Loss, update ratio (dead share for *died*) and gradient norm of the explained layer,
        member beside healthy, the first bad step marked; saved to ``path`` if given. Returns the
        figure."""
        from .divergence_render import plot  # noqa: PLC0415 - matplotlib only when drawn

        return plot(self, path)


# ------------------------------------------------------------------------------- recording
def _rms(v) -> np.ndarray:
    """Per model RMS of ``(M, ...)`` (a shared ``(B, ...)`` array gives one value for all)."""
    v = np.asarray(v, np.float64)
    with np.errstate(all="ignore"):
        return np.sqrt(np.mean(v.reshape(v.shape[0], -1) ** 2, axis=1))


class _Recorder(Callback):
    """Reads every tracked layer's input, pre-activation and incoming gradient while the
    Trainer steps (by wrapping ``forward``/``backward`` on the layer instances, values
    unchanged; :meth:`detach` removes the wrappers), and the parameters, gradients and probe
    statistics at each logged step (the Trainer logs every step during a replay)."""

    def __init__(self, trainer, probe):
        self.trainer, self.model = trainer, trainer.model
        self.M = self.model.M
        self.layers = [layer for layer in self.model.layers if layer.params]
        self.names = [layer.name for layer in self.layers]
        self.xp, self.yp = probe
        self.sites = [(name, act) for name, act, kind in activation_sites(self.model)
                      if _slope_zero_below(act, kind)]
        self.site_layer = {name: self._owner(name) for name, _ in self.sites}
        self.rows: list[dict] = []
        self.step_ids: list[int] = []
        self.losses: list[np.ndarray] = []
        self.probe_losses: list[np.ndarray] = []
        self._seen: dict = {}
        self._prev: list | None = None
        self._wrapped: list = []

    def _owner(self, site_name: str) -> int | None:
        """Index of the tracked layer a site's dead units belong to: its own layer, or the
        nearest layer with parameters before a standalone activation."""
        owner = None
        for layer in self.model.layers:
            if layer.params:
                owner = self.names.index(layer.name)
            if layer.name == site_name:
                return owner
        return None

    # -- wrapping
    def attach(self) -> None:
        for i, layer in enumerate(self.layers):
            self._wrap(layer, "forward", self._forward_hook(i, layer.forward))
            self._wrap(layer, "backward", self._backward_hook(i, layer.backward))
        self.trainer.callbacks.append(self)

    def _wrap(self, layer, attr, fn) -> None:
        self._wrapped.append((layer, attr, vars(layer).get(attr)))
        setattr(layer, attr, fn)

    def detach(self) -> None:
        for layer, attr, before in reversed(self._wrapped):
            if before is None:
                vars(layer).pop(attr, None)
            else:
                setattr(layer, attr, before)
        self._wrapped = []
        if self in self.trainer.callbacks:
            self.trainer.callbacks.remove(self)

    def _forward_hook(self, i, forward):
        M, layer = self.M, self.layers[i]

        def hook(x, train):
            out = forward(x, train)
            if train:
                act = getattr(layer, "act", None)
                z = out if act is None or getattr(act, "_identity", False) else getattr(act, "_z", out)
                with np.errstate(all="ignore"):
                    zmax = np.abs(np.asarray(z, np.float64)).reshape(z.shape[0], -1).max(axis=1)
                per_model = x.ndim == len(layer.input_shape) + 2
                a_in = _rms(x) if per_model else np.full(M, _rms(x[None])[0])
                self._seen[i] = {"a_in": a_in, "zmax": np.broadcast_to(zmax, (M,)).copy(),
                                 "f'": _slope(layer, M)}
            return out

        return hook

    def _backward_hook(self, i, backward):
        def hook(dy):
            self._seen.setdefault(i, {})["dL/da"] = _rms(dy)
            return backward(dy)

        return hook

    # -- per step
    def on_log(self, state, logs):
        M, L = self.M, len(self.layers)
        self._close_previous()
        row = {name: np.full((L, M), np.nan) for name in STATS}
        params = []
        for i, layer in enumerate(self.layers):
            seen = self._seen.get(i, {})
            for name in ("a_in", "dL/da", "f'", "zmax"):
                if name in seen:
                    row[name][i] = seen[name]
            values = [p.value.reshape(M, -1).astype(np.float64) for p in layer.params.values()]
            grads = [p.grad.reshape(M, -1).astype(np.float64) for p in layer.params.values()
                     if p.grad is not None]
            with np.errstate(all="ignore"):
                row["norm"][i] = np.sqrt(sum((v ** 2).sum(axis=1) for v in values))
                if grads:
                    row["grad"][i] = np.sqrt(sum((g ** 2).sum(axis=1) for g in grads))
            params.append(np.concatenate(values, axis=1))
        self._seen = {}
        self.step_ids.append(state.step)
        self.losses.append(np.asarray(logs["loss"], np.float64).copy())
        self.probe_losses.append(self._probe(row))
        self.rows.append(row)
        self._prev = params

    def _probe(self, row) -> np.ndarray:
        """Probe loss (M,) and the dead share per layer into ``row`` (one inference pass)."""
        model, loss = self.model, self.trainer.loss
        with np.errstate(all="ignore"):
            pred = model.forward(self.xp, False)
            value = np.asarray(loss.value(pred, self.yp), np.float64)
            for name, act in self.sites:
                i = self.site_layer[name]
                if i is not None and act._z is not None:
                    z = _per_unit(act._z)
                    dead = ~((z > 0) | ~np.isfinite(z)).any(axis=1)  # NaN is divergence, not death
                    row["dead"][i] = dead.mean(axis=1)
        return value

    def _close_previous(self) -> None:
        """The update made at the previous logged step: parameters now minus then."""
        if self._prev is None or not self.rows:
            return
        row, M = self.rows[-1], self.M
        with np.errstate(all="ignore"):
            for i, layer in enumerate(self.layers):
                now = np.concatenate([p.value.reshape(M, -1).astype(np.float64)
                                      for p in layer.params.values()], axis=1)
                upd = np.sqrt(((now - self._prev[i]) ** 2).sum(axis=1))
                row["ratio"][i] = upd / row["norm"][i]
                # an update that rounds to nothing against the weights measures no step size
                row["step"][i] = np.where(upd > 0, upd / row["grad"][i], np.nan)
        self._prev = None


def _slope(layer, M) -> np.ndarray:
    """Mean f'(z) per model of a layer's own activation (1 without one, NaN for softmax)."""
    act = getattr(layer, "act", None)
    if act is None or getattr(act, "_identity", False):
        return np.ones(M)
    z = getattr(act, "_z", None)
    if z is None:
        return np.full(M, np.nan)
    with np.errstate(all="ignore"):
        if hasattr(act, "alpha"):  # PReLU: 1 or alpha
            alpha = act.alpha.value.reshape((M,) + (1,) * (z.ndim - 2) + (-1,))
            d = np.where(z > 0, 1.0, alpha)
        elif getattr(act.fn, "elementwise", True):
            d = act.fn.derivative(z, act._a)
        else:
            return np.full(M, np.nan)
    d = np.asarray(d, np.float64)
    return np.broadcast_to(d.reshape(d.shape[0], -1).mean(axis=1), (M,)).copy()


def _probe_data(trainer, probe):
    """``(x, y)`` for the probe pass: given, or the first PROBE_SAMPLES training samples (lists
    for several inputs or outputs; per-model arrays cut along their sample axis)."""
    model = trainer.model
    if probe is not None:
        x = model.prepare_inputs(probe[0], "probe x")
        y = trainer.loss.prepare_targets(probe[1], model.output_shape)
        cast = (lambda t: t.astype(model.dtype, copy=False) if np.issubdtype(t.dtype, np.floating) else t)
        return x, ([cast(t) for t in y] if isinstance(y, list) else cast(y))

    def head(a):
        if isinstance(a, list):
            return [head(t) for t in a]
        per_model = trainer.per_model_data and a.ndim >= 2 and a.shape[:2] == (model.M, trainer.n)
        return a[:, :PROBE_SAMPLES] if per_model else a[:PROBE_SAMPLES]

    return head(trainer.x), head(trainer.y)


# ------------------------------------------------------------------------------- replaying
def explain_divergence(model_or_trainer, x=None, y=None, *, steps: int, member: int | None = None,
                       healthy: int | None = None, probe=None, labels=None, **trainer_kwargs) -> DivergenceReport:
    """Replay training for ``steps`` updates and explain what went wrong (see the module docstring
    for the rules and their thresholds).

    Parameters
    ----------
    model_or_trainer : a model (then ``x``, ``y`` and ``trainer_kwargs`` build the
        :class:`~glassnet.training.Trainer`, as ``fit`` would: ``loss``, ``optimizer``,
        ``batch_size``, ``weight_decay``, ...) or a Trainer that has not stepped yet.
    steps : updates to replay. A model the NaN guard stops is not stepped further. Every step is
        logged during the replay (``log_every = 1``, restored afterwards): callbacks that count
        logged steps (early stopping, plateau schedules) count every step.
    member : the model to explain; default: the first whose verdict is not "ok".
    healthy : the model to compare with; default: the first whose verdict is "ok".
    probe : ``(x, y)`` for the probe loss and dead units; default: the training set (at most
        :data:`PROBE_SAMPLES` samples).
    labels : a name per model for the text (default "member m").

    Returns a :class:`DivergenceReport`; ``print(report)`` shows the text.
    """
    from ..training import Trainer  # noqa: PLC0415

    if isinstance(model_or_trainer, Trainer):
        if x is not None or y is not None or trainer_kwargs:
            raise GlassnetError("give a Trainer alone, or a model with x, y and the training settings")
        trainer = model_or_trainer
    else:
        if x is None or y is None:
            raise GlassnetError("explain_divergence needs x and y with a model (or a Trainer)")
        trainer = Trainer(model_or_trainer, x, y, **trainer_kwargs)
    if trainer.state.step != 0:
        raise GlassnetError(f"the Trainer has already made {trainer.state.step} steps; the replay needs a fresh one "
                            "(the same seeds make the same run)")
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise GlassnetError(f"steps must be a positive integer, got {steps!r}", field="steps", value=steps)
    M = trainer.model.M
    for name, value in (("member", member), ("healthy", healthy)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer))
                                  or not 0 <= value < M):
            raise GlassnetError(f"{name} must be a model index in 0..{M - 1}, got {value!r}", field=name, value=value)
    if member is not None and member == healthy:
        raise GlassnetError(f"member and healthy must be two different models, got {member} for both", field="healthy")
    if labels is not None and len(labels) != M:
        raise GlassnetError(f"labels must name each of the {M} models, got {len(labels)}", field="labels")

    rec = _Recorder(trainer, _probe_data(trainer, probe))
    log_every = trainer.log_every
    trainer.log_every = 1
    rec.attach()
    try:
        trainer.run(int(steps))
        rec._close_previous()
    finally:
        rec.detach()
        trainer.log_every = log_every
    report = DivergenceReport(
        steps=np.asarray(rec.step_ids), layers=rec.names, loss=np.stack(rec.losses),
        probe_loss=np.stack(rec.probe_losses),
        stats={name: np.stack([r[name] for r in rec.rows]) for name in STATS},
        verdicts=[], member=None, healthy=None,
        labels=list(labels) if labels is not None else [f"member {m}" for m in range(M)],
        stopped_at=np.asarray(trainer.history.stopped_at).copy(), dtype=str(trainer.model.dtype))
    return judge(report, member, healthy)


def judge(report: DivergenceReport, member=None, healthy=None) -> DivergenceReport:
    """Fill ``report.verdicts``, ``member`` and ``healthy`` (the rules of the module docstring)."""
    M = report.loss.shape[1]
    report.verdicts = [_verdict(report, m) for m in range(M)]
    if healthy is None:
        ok = [m for m, v in enumerate(report.verdicts) if v.ok and m != member]
        healthy = min(ok, key=lambda m: _final(report, m)) if ok else None
    if healthy is not None:
        for m, v in enumerate(report.verdicts):
            if v.ok and m != healthy:
                report.verdicts[m] = _stuck(report, m, healthy) or v
    if member is None:
        member = next((m for m, v in enumerate(report.verdicts) if not v.ok), None)
    report.member, report.healthy = member, healthy
    for v in report.verdicts:
        if not v.ok and v.factor is None:
            v.factor = _responsible(report, v, healthy if healthy != v.member else None)
    return report


def _final(report, m) -> float:
    """The probe loss at the end of model m's replay: the median of its last tenth."""
    T = _live(report, m)
    return float(np.median(report.probe_loss[:T, m][-max(1, math.ceil(T / 10)):]))


def _stuck(report, m, healthy) -> Verdict | None:
    """Stalled beside the healthy member: flat over the second half, far above it at the end."""
    T = _live(report, m)
    probe, end, ref = report.probe_loss[:T, m], _final(report, m), _final(report, healthy)
    if T < 4 or not np.isfinite(probe).all() or end <= STALL_GAP * ref or end <= (1 - STALL_DROP) * probe[T // 2]:
        return None
    return Verdict(m, "stalled", _stall_start(probe), T - 1, None, None,
                   f"loss {_f(probe[0])} -> {_f(end)} over {T} steps, flat since step {_stall_start(probe)} and "
                   f"over {STALL_GAP:g}x the healthy member's {_f(ref)}")


def _stall_start(probe) -> int:
    """The first step from which the loss never falls more than STALL_DROP below its value there."""
    suffix_min = np.minimum.accumulate(probe[::-1])[::-1]
    return int(np.argmax(suffix_min >= (1 - STALL_DROP) * probe))


def _live(report, m) -> int:
    """Recorded steps of model m that are its own (up to and including the step it was stopped)."""
    stop = -1 if report.stopped_at is None else int(report.stopped_at[m])
    return len(report.steps) if stop < 0 else int(np.searchsorted(report.steps, stop, side="right"))


def _verdict(report: DivergenceReport, m: int) -> Verdict:
    T = _live(report, m)
    loss, probe = report.loss[:T, m], report.probe_loss[:T, m]
    s = {k: v[:T, :, m] for k, v in report.stats.items()}
    found = []
    # diverged
    start = probe[0]
    with np.errstate(invalid="ignore"):
        blown = ~np.isfinite(loss) | ~np.isfinite(probe) | (probe > DIVERGE_FACTOR * max(abs(start), 1e-12))
    if np.isfinite(start) and blown.any():
        t_bad = int(np.argmax(blown))
        over = np.flatnonzero((s["ratio"][:t_bad] > RATIO_LIMIT).any(axis=1)) if t_bad else np.array([], int)
        if over.size:
            t0 = int(over[0])
            why = "the update was larger than the weights"
        else:
            t0 = int(np.flatnonzero(probe[:max(t_bad, 1)] <= start)[-1]) if t_bad else 0
            why = "its update began the climb"
        k = int(np.nanargmax(np.nan_to_num(s["ratio"][t0], nan=-1.0)))
        what = "non-finite" if not (np.isfinite(loss[t_bad]) and np.isfinite(probe[t_bad])) else \
            f"{_f(probe[t_bad])} (over {DIVERGE_FACTOR:g}x)"
        found.append(Verdict(m, "diverged", t0, t_bad, report.layers[k], None,
                             f"the loss went from {_f(start)} at step 0 to {what} at step {t_bad}; "
                             f"at step {t0} {why}"))
    elif not np.isfinite(start):
        found.append(Verdict(m, "diverged", 0, 0, report.layers[0], None, "the loss is non-finite at step 0"))
    # died
    dead = s["dead"]
    if np.isfinite(dead).any():
        bad = np.nan_to_num(dead, nan=0.0) >= DEAD_SHARE  # (T, L)
        # from t to the end: a suffix of True
        suffix = np.flip(np.logical_and.accumulate(np.flip(bad, axis=0), axis=0), axis=0)
        for_layer = [int(np.argmax(suffix[:, k])) if suffix[:, k].any() else None for k in range(bad.shape[1])]
        firsts = [t for t in for_layer if t is not None]
        if firsts:
            t = min(firsts)
            ks = [k for k, tk in enumerate(for_layer) if tk == t]
            k = max(ks, key=lambda j: (dead[t, j], -j))
            found.append(Verdict(m, "died", t, t, report.layers[k], "f'",
                                 f"{dead[t, k]:.0%} of {report.layers[k]}'s ReLU units never positive from step {t}"))
    # stalled
    tail = probe[-max(1, math.ceil(T / 10)):]
    if np.isfinite(probe).all() and T >= 2:
        if np.median(tail) > (1 - STALL_DROP) * start:
            found.append(Verdict(m, "stalled", _stall_start(probe), T - 1, None, None,
                                 f"loss {_f(start)} -> {_f(np.median(tail))} over {T} steps "
                                 f"(less than {STALL_DROP:.0%} lower)"))
    if not found:
        return Verdict(m, "ok", note=f"loss {_f(start)} -> {_f(np.median(tail))} over {T} steps")
    return min(found, key=lambda v: (v.detected, ["diverged", "died", "stalled"].index(v.kind)))


def _responsible(report, v: Verdict, healthy) -> str:
    """Name the layer (stall) and the factor furthest from the reference at ``v.step``."""
    m, t = v.member, v.step
    if v.kind == "stalled":
        g = report.stats["grad"][t, :, m] / report.stats["norm"][t, :, m]
        if healthy is not None:
            g = g / (report.stats["grad"][t, :, healthy] / report.stats["norm"][t, :, healthy])
        v.layer = report.layers[int(np.nanargmin(np.where(np.isfinite(g), g, np.inf)))]
    k = report.layers.index(v.layer)
    ref, rt = (healthy, t) if healthy is not None else (m, 0)
    best, best_gap = None, -1.0
    for name in FACTORS:
        a, b = report.stats[name][t, k, m], report.stats[name][rt, k, ref]
        gap = _gap(a, b)
        if gap > best_gap + 1e-9:
            best, best_gap = name, gap
    return best if best_gap > 0.05 else "ratio"


def _gap(a, b) -> float:
    """Distance in orders of magnitude (inf for 0 or +-inf against a positive value; NaN: none)."""
    if np.isnan(a) or np.isnan(b):
        return 0.0
    if not (np.isfinite(a) and np.isfinite(b)):
        return math.inf if np.isfinite(a) != np.isfinite(b) else 0.0
    a, b = abs(a), abs(b)
    if a == 0 or b == 0:
        return 0.0 if a == b else math.inf
    return abs(math.log10(a / b))


def _f(v) -> str:
    """A number in 3 significant figures (inf, nan, 0 spelled out)."""
    v = float(v)
    if not math.isfinite(v):
        return str(v)
    if v == 0:
        return "0"
    if 1e-3 <= abs(v) < 1e4:
        return f"{v:.3g}"
    return f"{v:.2e}"
