"""Successive halving and Hyperband inside one fit: configurations on the model axis.

Successive halving (Jamieson & Talwalkar 2016, https://arxiv.org/abs/1502.07943) trains N
configurations for a few steps, keeps the best ``1/eta`` of them, trains those ``eta`` times
longer, and so on up to ``max_steps``. Here every configuration is a *slot* of one
:class:`~glassnet.training.Trainer` (one model on the model axis, with its own learning rate,
momentum, weight decay... as ``(M,)`` arrays), so the whole search is one vectorized training
loop. At each *rung* (a number of steps a configuration has trained: ``max_steps * eta^-k`` down
to about ``min_steps``, see :func:`rung_ages`) the configurations there are scored on the
validation data, and the worse ones stop: ``trainer.state.stop_models(mask, "halved")``.

Two ways to use the slots:

* ``slots=None`` (synchronous): one slot per configuration, all start together; at each rung the
  best ``max(1, n // eta)`` of the ``n`` still training go on. A stopped slot is frozen (no
  update), but the engine still computes its forward and backward pass: the *model-steps*
  (steps configurations trained, summed) shrink, the *slot-steps* (work done) do not.
* ``slots=S < N`` (refill; ASHA, Li et al. 2020, https://arxiv.org/abs/1810.05934): ``S``
  slots. A configuration reaching a rung (not the last) *pauses*: its network, buffers and
  optimizer state are saved and its slot is freed. A free slot takes, first, a paused
  configuration that is among the best ``floor(n_k / eta)`` of the ``n_k`` scores recorded at its
  rung ``k`` (highest rung first), restored into that slot, or else the next new configuration,
  with a fresh network (the initial weights ``model_fn([seed])`` draws) and zeroed optimizer
  state; else it idles. Configurations enter in random order (``order``). A configuration never
  promoted ends "halved" at its rung. Slot-steps then follow model-steps, up to the idle slots
  at the end. With full-batch training a resumed configuration trains exactly as it would alone;
  with minibatches its data order continues from the slot's shuffle, not its own.

"Exactly" means on the same path: the search logs every ``log_every`` steps and a logged step runs
layer by layer, so a separate fit with the same ``log_every`` reproduces a configuration's numbers
bit for bit. A fit that logs rarely runs its unlogged steps on the compiled segments
(:mod:`glassnet.fast.loop`), whose float32 products sum in another order: the same numbers to
float32 rounding (``tests/tune/test_tune_halving.py``).

:func:`hyperband` (Li et al. 2018, https://arxiv.org/abs/1603.06560) runs several synchronous
brackets side by side in the same ensemble: bracket ``s`` starts ``n_s`` configurations at
``max_steps * eta^-s`` steps.

Only per-model hyperparameters vary (see :mod:`glassnet.tune.slots`); configurations of different
widths or layers need separate calls.

The result lists every configuration with its training-loss curve, the scores at the rungs it
reached and how it ended; :meth:`TuneResult.store` writes it into the run store as one sweep.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from .. import losses as losses_mod
from ..errors import GlassnetError
from ..training import Trainer
from ..training.trainer import check_batch_size, check_positive_int
from .slots import Slots, check_configs, evaluate_models, make_optimizer, optimizer_spec, prepared

#: statuses of a trial
RUNNING, COMPLETED, HALVED, DIVERGED, QUEUED, PAUSED = "running", "completed", "halved", "diverged", "queued", "paused"


@dataclass
class Trial:
    """One configuration's run: where and when it trained, its scores at the rungs, its end.

    ``segments`` lists ``[slot, first step, end step, steps trained before]`` for each stretch
    the configuration trained in a slot (one, unless it was paused at a rung and promoted later);
    ``rungs`` holds ``(steps trained, validation score, validation loss)`` at each rung reached;
    ``steps``/``loss`` the training-loss curve (batch loss at the logged steps, against the steps
    this configuration had trained).
    """

    index: int
    config: dict
    seed: int
    bracket: int = 0
    status: str = QUEUED
    segments: list = field(default_factory=list)
    rungs: list = field(default_factory=list)
    steps: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    loss: np.ndarray = field(default_factory=lambda: np.zeros(0))
    saved: dict | None = field(default=None, repr=False)

    @property
    def slot(self) -> int:
        """The slot it trained in last (-1: never started)."""
        return self.segments[-1][0] if self.segments else -1

    @property
    def start(self) -> int:
        """The Trainer step it started at (-1: never)."""
        return self.segments[0][1] if self.segments else -1

    @property
    def end(self) -> int:
        """The Trainer step it last trained up to (-1: never started)."""
        return self.segments[-1][2] if self.segments else -1

    @property
    def trained_steps(self) -> int:
        return int(sum(e - s for _, s, e, _ in self.segments))

    @property
    def rung(self) -> int:
        """Index of the highest rung reached (-1: none)."""
        return len(self.rungs) - 1

    @property
    def score(self) -> float:
        """Validation score at the last rung reached (NaN if none)."""
        return self.rungs[-1][1] if self.rungs else math.nan


@dataclass
class TuneResult:
    """What a successive-halving or Hyperband search did (see the module docstring)."""

    method: str
    trials: list
    rung_steps: list             #: per bracket, the rung ages
    metric: str
    mode: str
    eta: int
    max_steps: int
    slots: int
    slot_steps: int               #: slots x steps the Trainer ran (the work done)
    seconds: float
    settings: dict = field(default_factory=dict)

    @property
    def model_steps(self) -> int:
        """Steps trained, summed over configurations (the search's budget)."""
        return int(sum(t.trained_steps for t in self.trials))

    @property
    def grid_model_steps(self) -> int:
        """What training every configuration for ``max_steps`` would cost."""
        return len(self.trials) * self.max_steps

    def better(self, a: float, b: float) -> bool:
        return (a > b) if self.mode == "max" else (a < b)

    @property
    def finished(self) -> list:
        """Trials that trained the full ``max_steps``."""
        return [t for t in self.trials if t.status == COMPLETED and t.trained_steps >= self.max_steps]

    @property
    def best(self) -> Trial | None:
        """The finished trial with the best final score (ties: lower validation loss)."""
        done = self.finished
        if not done:
            return None
        sign = 1 if self.mode == "max" else -1
        return max(done, key=lambda t: (_finite(sign * t.score), -_finite(t.rungs[-1][2], -math.inf)))

    def table(self) -> list[list]:
        """Rows ``[index, config..., seed, bracket, rung, steps trained, score, status]``."""
        names = list(self.trials[0].config)
        return [[t.index, *[t.config[n] for n in names], t.seed, t.bracket, t.rung, t.trained_steps, t.score,
                 t.status] for t in self.trials]

    def summary(self) -> str:
        b = self.best
        head = (f"{self.method}: {len(self.trials)} configurations, {self.slots} slots, eta {self.eta}, "
                f"{self.model_steps:,} model-steps ({self.model_steps / self.grid_model_steps:.1%} of the grid's "
                f"{self.grid_model_steps:,}), {self.slot_steps:,} slot-steps, {self.seconds:.1f} s")
        if b is None:
            return head + "; no configuration finished"
        return head + f"; best {b.config} with {self.metric} {b.score:.4g}"

    def store(self, store, command: str = "", name: str | None = None) -> str:
        """Record every configuration as a run of one sweep (kind ``"tune"``) in ``store`` (a
        RunStore or a path); returns the sweep id. A halved configuration is stored with status
        ``"early_stopped"`` and ``params["halved"] = True``."""
        from .record import write_trials  # noqa: PLC0415

        return write_trials(self, store, command, name or f"tune:{self.method}")

    def __repr__(self):
        return f"TuneResult({self.summary()})"


def _finite(v, default=-math.inf):
    return v if isinstance(v, (int, float)) and math.isfinite(v) else default


def rung_ages(min_steps: int, max_steps: int, eta: int) -> list[int]:
    """``max_steps * eta^-k`` for ``k = K .. 0``, ``K = floor(log_eta(max_steps / min_steps))``:
    the rungs end exactly at ``max_steps`` and the first is at least ``min_steps`` (rounded)."""
    K = int(math.floor(math.log(max_steps / min_steps, eta) + 1e-9))
    ages = [max(1, int(round(max_steps / eta ** k))) for k in range(K, -1, -1)]
    return sorted(set(ages))


def successive_halving(model_fn, x, y, configs, *, validation_data, loss, min_steps: int, max_steps: int,
                       eta: int = 3, slots: int | None = None, optimizer="sgd", metric="accuracy",
                       mode: str | None = None, batch_size=32, seed=0, shuffle: bool = True,
                       log_every: int | None = None, order: str = "random", rng=0) -> TuneResult:
    """Successive halving of ``configs`` inside one Trainer (see the module docstring).

    Parameters
    ----------
    model_fn : ``model_fn(seeds) -> Sequential``: the architecture, one network per seed.
    x, y : training data (shared by all slots).
    configs : list of per-model hyperparameter dicts (:func:`glassnet.tune.grid`, :func:`sample`).
    validation_data : ``(x_val, y_val)`` the rungs score on, in inference mode.
    loss : loss name; metric : a metric name (scored ``mode="max"``) or ``"loss"`` (``"min"``).
    min_steps, max_steps, eta : rungs at ``min_steps * eta^k`` steps trained, and ``max_steps``.
    slots : ``None`` for one slot per configuration, or fewer slots, refilled from the queue.
    optimizer : a name or options dict; the hyperparameters the configs set are per slot.
    seed : one seed (every configuration starts from the same network and data order: the
        comparison differs only in hyperparameters) or a list of one seed per configuration.
    log_every : training-loss log interval (default ``min_steps // 4``).
    order, rng : with refilled slots, the order configurations enter: ``"random"`` (a permutation
        drawn from ``rng``; the asynchronous rule compares each with those before it, so a queue
        sorted by, say, learning rate would bias it) or ``"given"``.
    """
    n = _check_n(configs)
    if order not in ("random", "given"):
        raise GlassnetError(f"order must be 'random' or 'given', got {order!r}", field="order", value=order)
    mode, metric = _metric_mode(metric, mode)
    min_steps, max_steps = _check_steps(min_steps, max_steps)
    eta = _check_eta(eta)
    seeds = _seeds(seed, n)
    if slots is not None:
        slots = check_positive_int(slots, "slots")
        if slots > n:
            raise GlassnetError(f"slots={slots} is more than the {n} configurations; give at most {n} (or None)",
                                field="slots", value=slots)
    M = n if slots is None else slots
    trials = [Trial(i, c, seeds[i]) for i, c in enumerate(configs)]
    refill = slots is not None and slots < n
    start_order = list(range(n))
    if refill and order == "random":
        gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        start_order = [int(i) for i in gen.permutation(n)]
    ages = rung_ages(min_steps, max_steps, eta)
    return _Ladder(model_fn, x, y, trials, [ages], M, start_order=start_order, validation_data=validation_data,
                   loss=loss,
                   optimizer=optimizer, metric=metric, mode=mode, batch_size=batch_size, shuffle=shuffle,
                   log_every=log_every, eta=eta, refill=refill, method="successive-halving").run()


def hyperband_brackets(max_steps: int, min_steps: int, eta: int) -> list[tuple[int, int]]:
    """``[(n_s, r_s)]`` for brackets ``s = s_max .. 0``: ``n_s = ceil((s_max+1)/(s+1) * eta^s)``
    configurations starting at ``r_s = max_steps * eta^-s`` steps, ``s_max = floor(log_eta(max/min))``."""
    s_max = int(math.floor(math.log(max_steps / min_steps, eta) + 1e-9))
    return [(int(math.ceil((s_max + 1) / (s + 1) * eta ** s)), max(1, int(round(max_steps / eta ** s))))
            for s in range(s_max, -1, -1)]


def hyperband(model_fn, x, y, configs, *, validation_data, loss, min_steps: int, max_steps: int, eta: int = 3,
              optimizer="sgd", metric="accuracy", mode: str | None = None, batch_size=32, seed=0,
              shuffle: bool = True, log_every: int | None = None) -> TuneResult:
    """Hyperband: every bracket of :func:`hyperband_brackets` as synchronous successive halving,
    all brackets side by side in one Trainer. ``configs`` must hold at least the total number of
    configurations the brackets need (the first ones are used, bracket by bracket)."""
    mode, metric = _metric_mode(metric, mode)
    min_steps, max_steps = _check_steps(min_steps, max_steps)
    eta = _check_eta(eta)
    brackets = hyperband_brackets(max_steps, min_steps, eta)
    need = sum(n for n, _ in brackets)
    n = _check_n(configs)
    if n < need:
        raise GlassnetError(f"hyperband with max_steps={max_steps}, min_steps={min_steps}, eta={eta} needs {need} "
                            f"configurations (brackets {[b[0] for b in brackets]}), got {n}", field="configs",
                            value=n)
    seeds = _seeds(seed, n)
    trials, ages = [], []
    for b, (nb, rb) in enumerate(brackets):
        ages.append(rung_ages(rb, max_steps, eta))
        for _ in range(nb):
            i = len(trials)
            trials.append(Trial(i, configs[i], seeds[i], bracket=b))
    return _Ladder(model_fn, x, y, trials, ages, len(trials), validation_data=validation_data, loss=loss,
                   optimizer=optimizer, metric=metric, mode=mode, batch_size=batch_size, shuffle=shuffle,
                   log_every=log_every, eta=eta, refill=False, method="hyperband").run()


class _Ladder:
    """The driver: run the Trainer to the next rung, score, stop or pause, refill; repeat."""

    def __init__(self, model_fn, x, y, trials, ages, M, *, validation_data, loss, optimizer, metric, mode,
                 batch_size, shuffle, log_every, eta, refill, method, start_order=None):
        if not callable(model_fn):
            raise GlassnetError(f"model_fn must be a function seeds -> Sequential, got {model_fn!r}",
                                field="model_fn", value=model_fn)
        _, cls = optimizer_spec(optimizer)
        configs = check_configs([t.config for t in trials], cls)
        for t, c in zip(trials, configs):
            t.config = c
        self.trials, self.ages, self.M, self.eta = trials, ages, M, eta
        self.metric, self.mode, self.refill, self.method = metric, mode, refill, method
        self.model_fn = model_fn
        self.loss = losses_mod.get(loss)
        start_order = list(range(len(trials))) if start_order is None else list(start_order)
        first = [trials[i] for i in start_order[:M]]
        model = model_fn([t.seed for t in first])
        if getattr(model, "M", None) != M:
            raise GlassnetError(f"model_fn({M} seeds) must return a model of {M} networks, got "
                                f"{getattr(model, 'M', model)!r}", field="model_fn")
        opt = make_optimizer(optimizer, [t.config for t in first])
        pen = {p: [t.config.get(p, 0.0) for t in first] for p in ("weight_decay", "l1") if p not in cls.hyper}
        steps_min = min(a[0] for a in ages)
        self.log_every = check_positive_int(log_every, "log_every") if log_every is not None \
            else max(1, steps_min // 4)
        self.trainer = Trainer(model, x, y, loss=self.loss, optimizer=opt, batch_size=check_batch_size(batch_size),
                               shuffle=shuffle, metrics=[], log_every=self.log_every,
                               weight_decay=pen.get("weight_decay", 0.0), l1=pen.get("l1", 0.0))
        if not (isinstance(validation_data, (tuple, list)) and len(validation_data) == 2):
            raise GlassnetError("validation_data must be a tuple (x_val, y_val)", field="validation_data")
        self.xv, self.yv = prepared(model, self.loss, *validation_data)
        self.slots = Slots(self.trainer, list(configs[0]))
        if "dropout" in configs[0]:  # dropout lives in the layers, not the optimizer or penalties
            self.slots.set_many(np.arange(M), [{"dropout": t.config["dropout"]} for t in first])
        self.slot_trial = [t.index for t in first]        # -1: an idle slot
        for m, t in enumerate(first):
            t.segments.append([m, 0, 0, 0])
            t.status = RUNNING
        self.queue = start_order[M:]
        self.results: dict[tuple[int, int], list[tuple[float, int]]] = {}   # (bracket, rung) -> (goodness, trial)
        self.settings = {"eta": eta, "slots": M, "start_order": start_order, "metric": metric, "mode": mode,
                         "loss": self.loss.name, "optimizer": optimizer, "batch_size": batch_size, "rungs": ages,
                         "refill": refill, "log_every": self.log_every}

    # -- helpers --------------------------------------------------------------------------------
    def _goodness(self, score: float) -> float:
        if not math.isfinite(score):
            return -1e300
        return score if self.mode == "max" else -score

    def _next_age(self, t: Trial) -> int:
        return self.ages[t.bracket][len(t.rungs)]

    def _next_event(self) -> int | None:
        active = self.trainer.state.active
        best = None
        for m in np.flatnonzero(active):
            t = self.trials[self.slot_trial[m]]
            _, s0, _, a0 = t.segments[-1]
            at = s0 + self._next_age(t) - a0
            best = at if best is None else min(best, at)
        return best

    # -- the loop ------------------------------------------------------------------------------
    def run(self) -> TuneResult:
        tr = self.trainer
        t0 = time.perf_counter()
        while True:
            event = self._next_event()
            if event is None:
                # slots the NaN guard stopped since the last rung: mark them (and refill) once more
                if not any(t.status == RUNNING for t in self.trials):
                    break
                self._rung(tr.state.step)
                if self._next_event() is None:
                    break
                continue
            if event > tr.state.step:
                tr.run(event - tr.state.step)
            tr.check_parameters()
            self._rung(tr.state.step)
        tr.finish()
        for t in self.trials:
            if t.status == PAUSED:       # paused at a rung and never promoted: halved there
                t.status, t.saved = HALVED, None
        self._curves()
        return TuneResult(self.method, self.trials, self.ages, self.metric, self.mode, self.eta,
                          max(a[-1] for a in self.ages), self.M, int(self.M * tr.state.step),
                          time.perf_counter() - t0, self.settings)

    def _rung(self, step: int) -> None:
        tr, state = self.trainer, self.trainer.state
        vloss, vscore = evaluate_models(tr.model, self.xv, self.yv, self.loss,
                                        None if self.metric == "loss" else self.metric)
        scores = vloss if vscore is None else vscore
        arriving = {}   # (bracket, rung) -> slots arriving there now
        freed = []
        for m in range(self.M):
            if self.slot_trial[m] < 0:
                continue
            t = self.trials[self.slot_trial[m]]
            if t.status != RUNNING:
                continue
            seg = t.segments[-1]
            seg[2] = step
            if not state.active[m]:          # stopped by the NaN guard since the last rung
                t.status = DIVERGED
                freed.append(m)
                continue
            age = seg[3] + step - seg[1]
            k = len(t.rungs)
            if age != self.ages[t.bracket][k]:
                continue
            t.rungs.append((int(age), float(scores[m]), float(vloss[m])))
            arriving.setdefault((t.bracket, k), []).append(m)
        stop_halved, stop_done = [], []
        for (b, k), ms in arriving.items():
            if k == len(self.ages[b]) - 1:
                stop_done += ms
            elif self.refill:
                # ASHA: pause here; promoted later if among the best 1/eta of this rung's results
                self.results.setdefault((b, k), []).extend(
                    (self._goodness(scores[m]), self.slot_trial[m]) for m in ms)
                for m in ms:
                    t = self.trials[self.slot_trial[m]]
                    t.saved, t.status = self.slots.save(m), PAUSED
                stop_halved += ms
            else:
                # synchronous: the cohort is every slot of the bracket still training
                keep = max(1, len(ms) // self.eta)
                order = sorted(ms, key=lambda m: (-self._goodness(scores[m]), _finite(vloss[m], math.inf), m))
                stop_halved += order[keep:]
        for ms, status in ((stop_halved, HALVED), (stop_done, COMPLETED)):
            if ms:
                mask = np.zeros(self.M, bool)
                mask[ms] = True
                state.stop_models(mask, status)
                for m in ms:
                    t = self.trials[self.slot_trial[m]]
                    if t.status == RUNNING:
                        t.status = status
                freed += ms
        if self.refill:
            for m in freed:
                self.slot_trial[m] = -1
            self._fill(step)

    def _promotable(self) -> Trial | None:
        """The paused trial to promote next: among the best ``floor(n_k / eta)`` of the ``n_k``
        results at rung ``k``, highest rung first, best first (Li et al. 2020, Algorithm 2)."""
        for (b, k) in sorted(self.results, key=lambda bk: -bk[1]):
            rec = self.results[(b, k)]
            top = sorted(rec, key=lambda gi: (-gi[0], gi[1]))[:len(rec) // self.eta]
            for _, i in top:
                t = self.trials[i]
                if t.status == PAUSED and t.rung == k:   # paused here, not at a later rung
                    return t
        return None

    def _fill(self, step: int) -> None:
        """Give every idle slot a job: a promotable paused configuration, else the next new one."""
        took = np.zeros(self.M, bool)
        for m in range(self.M):
            if self.slot_trial[m] >= 0:
                continue
            t = self._promotable()
            if t is not None:
                self.slots.load(m, t.saved)
                t.saved = None
                age = t.rungs[-1][0]
            elif self.queue:
                t = self.trials[self.queue.pop(0)]
                self.slots.fresh(m, t.seed, self.model_fn)
                age = 0
            else:
                continue
            self.slots.set(m, t.config)
            t.segments.append([m, step, step, age])
            t.status = RUNNING
            self.slot_trial[m] = t.index
            took[m] = True
        if took.any():
            self.slots.reactivate(took)

    def _curves(self) -> None:
        """Each trial's training-loss curve from the Trainer's history: its slots, its steps."""
        hist = self.trainer.history
        if "loss" not in hist.curves:
            return
        steps = hist.steps
        for t in self.trials:
            parts_s, parts_l = [], []
            for slot, s0, s1, a0 in t.segments:
                sel = (steps >= s0) & (steps < max(s1, s0 + 1))
                parts_s.append(steps[sel] - s0 + a0)
                parts_l.append(hist.curves["loss"][slot, sel])
            if parts_s:
                t.steps = np.concatenate(parts_s).astype(np.int64)
                t.loss = np.concatenate(parts_l).copy()


# -- argument checks --------------------------------------------------------------------------------
def _check_n(configs) -> int:
    if isinstance(configs, dict) or not hasattr(configs, "__len__") or len(configs) == 0:
        raise GlassnetError(f"configs must be a non-empty list of hyperparameter dicts, got {configs!r}",
                            field="configs", value=configs)
    return len(configs)


def _metric_mode(metric, mode):
    if not isinstance(metric, str):
        raise GlassnetError(f"metric must be a metric name or 'loss', got {metric!r}", field="metric", value=metric)
    if metric != "loss":
        from .. import metrics as metrics_mod  # noqa: PLC0415

        metric = metrics_mod.get(metric).name
    mode = mode or ("min" if metric == "loss" else "max")
    if mode not in ("min", "max"):
        raise GlassnetError(f"mode must be 'min' or 'max', got {mode!r}", field="mode", value=mode)
    return mode, metric


def _check_steps(min_steps, max_steps):
    min_steps = check_positive_int(min_steps, "min_steps")
    max_steps = check_positive_int(max_steps, "max_steps")
    if min_steps > max_steps:
        raise GlassnetError(f"min_steps ({min_steps}) must be at most max_steps ({max_steps})", field="min_steps",
                            value=min_steps)
    return min_steps, max_steps


def _check_eta(eta) -> int:
    if isinstance(eta, bool) or not isinstance(eta, (int, np.integer)) or eta < 2:
        raise GlassnetError(f"eta must be an integer >= 2 (keep 1/eta at each rung), got {eta!r}", field="eta",
                            value=eta)
    return int(eta)


def _seeds(seed, n: int) -> list[int]:
    if isinstance(seed, (list, tuple, np.ndarray)):
        seeds = [int(s) for s in seed]
        if len(seeds) != n:
            raise GlassnetError(f"seed has {len(seeds)} values for {n} configurations; give one per configuration "
                                "or a single int", field="seed", value=seed)
        return seeds
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise GlassnetError(f"seed must be an int >= 0 or a list of them, got {seed!r}", field="seed", value=seed)
    return [int(seed)] * n
