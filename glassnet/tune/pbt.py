"""Population-based training inside one fit (Jaderberg et al. 2017, https://arxiv.org/abs/1711.09846).

A population of ``M`` networks trains as one ensemble on the model axis, each with its own
hyperparameters (``(M,)`` arrays: learning rate, momentum, weight decay...). Every ``interval``
steps each member is scored on ``eval_data`` (inference mode); then

* **exploit** (truncation selection): each of the worst ``fraction`` of the members copies a
  member drawn uniformly from the best ``fraction``: its weights, buffers, optimizer state
  (velocities, moments) and hyperparameters;
* **explore**: each copied hyperparameter is multiplied by a factor drawn from ``perturb``
  (default 0.8 or 1.25) and clipped to its bounds. Rates near 1 (``momentum``, ``beta1``,
  ``beta2``) are perturbed on ``1 - value`` instead, so 0.9 becomes 0.92 or 0.875.

A member the NaN guard stopped (diverged) scores worst, copies a healthy member and trains
again. Every copy is an :class:`Exploit` event (step, who copied whom, both scores, the values
before and after), so the lineage can be followed back (:meth:`PBTResult.ancestry`) and drawn
(:func:`draw_lineage`): the learning-rate schedule the final best network actually trained with
is :meth:`PBTResult.schedule`.
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
from .halving import _metric_mode, _seeds
from .slots import Slots, check_configs, evaluate_models, make_optimizer, optimizer_spec, prepared

#: hyperparameters perturbed on ``1 - value`` (their interesting range is close to 1)
NEAR_ONE = ("momentum", "beta1", "beta2", "rho")
#: default bounds ``(low, high)``
BOUNDS = {"momentum": (0.0, 0.999), "beta1": (0.0, 0.999), "beta2": (0.0, 0.9999), "rho": (0.0, 0.9999),
          "dropout": (0.0, 0.95)}


@dataclass
class Exploit:
    """Member ``dst`` copied member ``src`` at ``step`` (its scores then: ``dst_score``,
    ``src_score``) and moved its hyperparameters from ``before`` (its own) to ``after`` (the
    source's, perturbed)."""

    step: int
    dst: int
    src: int
    dst_score: float
    src_score: float
    before: dict
    after: dict


@dataclass
class PBTResult:
    """A PBT run: the population's curves, hyperparameters per round, scores and lineage.

    ``round_steps (R,)``: the steps at which members were scored; ``scores (R, M)``;
    ``hyper[name] (R + 1, M)``: values during each stretch (row 0 from step 0, row r + 1 after
    round r's exploits); ``steps``/``curves``: the Trainer's history ``(M, T)``;
    ``final (M,)``: the score at the end.
    """

    M: int
    round_steps: np.ndarray
    scores: np.ndarray
    hyper: dict
    events: list
    final: np.ndarray
    steps: np.ndarray
    curves: dict
    status: list
    metric: str
    mode: str
    total_steps: int
    seconds: float
    settings: dict = field(default_factory=dict)

    def _key(self, v: float) -> float:
        if not math.isfinite(v):
            return -math.inf
        return v if self.mode == "max" else -v

    @property
    def best(self) -> int:
        """The member with the best final score."""
        return int(max(range(self.M), key=lambda m: self._key(float(self.final[m]))))

    @property
    def best_score(self) -> float:
        return float(self.final[self.best])

    def ancestry(self, m: int | None = None) -> list[tuple[int, int, int]]:
        """Where member ``m``'s (default: the best's) network came from, newest first:
        ``[(member, start step, end step), ...]``; a copy at step s hands the past over to the
        source member."""
        m = self.best if m is None else int(m)
        out, end = [], self.total_steps
        for ev in sorted(self.events, key=lambda e: -e.step):
            if ev.dst == m and ev.step <= end:
                out.append((m, ev.step, end))
                m, end = ev.src, ev.step
        out.append((m, 0, end))
        return out

    def schedule(self, name: str = "lr", m: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The values of hyperparameter ``name`` member ``m``'s (default: the best's) network
        trained with, stretch by stretch along its ancestry: ``(start steps, values)``."""
        edges = np.concatenate([[0], self.round_steps])
        starts, values = [], []
        for member, start, end in reversed(self.ancestry(m)):
            for r in range(len(edges)):
                lo = edges[r]
                hi = edges[r + 1] if r + 1 < len(edges) else self.total_steps
                if hi <= start or lo >= end:
                    continue
                starts.append(max(lo, start))
                values.append(float(self.hyper[name][r, member]))
        return np.array(starts, dtype=np.int64), np.array(values)

    def summary(self) -> str:
        return (f"PBT: {self.M} members, {len(self.round_steps)} rounds, {len(self.events)} copies, best member "
                f"{self.best} with {self.metric} {self.best_score:.4g} after {self.total_steps:,} steps "
                f"({self.seconds:.1f} s)")

    def store(self, store, command: str = "", name: str = "tune:pbt") -> str:
        """Record the population as one sweep (kind ``"tune"``), the lineage in its config."""
        from .record import write_population  # noqa: PLC0415

        return write_population(self, store, command, name)

    def draw(self, fig=None):
        return draw_lineage(self, fig)

    def __repr__(self):
        return f"PBTResult({self.summary()})"


def pbt(model_fn, x, y, configs, *, steps: int, interval: int, loss, optimizer="sgd", eval_data=None,
        metric="loss", mode: str | None = None, fraction: float = 0.25, perturb=(0.8, 1.25), bounds=None,
        batch_size="full", seed=0, rng=0, shuffle: bool = True, log_every: int | None = None) -> PBTResult:
    """Population-based training of ``len(configs)`` members inside one Trainer.

    Parameters
    ----------
    model_fn : ``model_fn(seeds) -> Sequential`` (one network per seed).
    configs : initial hyperparameters, one dict per member (see :mod:`glassnet.tune.slots`).
    steps, interval : train ``steps`` updates; exploit/explore every ``interval`` (not at the end).
    eval_data : ``(x, y)`` scored in inference mode; default the training data.
    metric, mode : ``"loss"`` (lower is better) or a metric name (higher).
    fraction : the bottom and top share for truncation selection (at least one member each).
    perturb : factors an explored value is multiplied by (one drawn per hyperparameter).
    bounds : ``{name: (low, high)}`` clipping explored values (defaults in :data:`BOUNDS`).
    seed : the first member's seed (members get seed, seed+1, ...) or one seed per member.
    rng : seed or Generator for the exploit/explore draws.
    """
    if not callable(model_fn):
        raise GlassnetError(f"model_fn must be a function seeds -> Sequential, got {model_fn!r}", field="model_fn",
                            value=model_fn)
    _, cls = optimizer_spec(optimizer)
    configs = check_configs(configs, cls)
    M = len(configs)
    if M < 2:
        raise GlassnetError("pbt needs a population of at least 2 members", field="configs", value=M)
    steps = check_positive_int(steps, "steps")
    interval = check_positive_int(interval, "interval")
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 < fraction <= 0.5:
        raise GlassnetError(f"fraction must be in (0, 0.5], got {fraction!r}", field="fraction", value=fraction)
    factors = np.asarray(perturb, dtype=float).ravel()
    if factors.size == 0 or not np.all(np.isfinite(factors)) or np.any(factors <= 0):
        raise GlassnetError(f"perturb must be positive factors, got {perturb!r}", field="perturb", value=perturb)
    bounds = {**BOUNDS, **(bounds or {})}
    mode, metric = _metric_mode(metric, mode)
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    seeds = _seeds(seed, M) if isinstance(seed, (list, tuple, np.ndarray)) else [int(seed) + m for m in range(M)]
    loss_fn = losses_mod.get(loss)
    model = model_fn(seeds)
    if getattr(model, "M", None) != M:
        raise GlassnetError(f"model_fn({M} seeds) must return a model of {M} networks", field="model_fn")
    opt = make_optimizer(optimizer, configs)
    pen = {p: [c.get(p, 0.0) for c in configs] for p in ("weight_decay", "l1") if p not in cls.hyper}
    log_every = check_positive_int(log_every, "log_every") if log_every is not None else max(1, interval // 4)
    tr = Trainer(model, x, y, loss=loss_fn, optimizer=opt, batch_size=check_batch_size(batch_size), shuffle=shuffle,
                 metrics=[], log_every=log_every, weight_decay=pen.get("weight_decay", 0.0), l1=pen.get("l1", 0.0))
    xe, ye = prepared(model, loss_fn, *(eval_data if eval_data is not None else (x, y)))
    slots = Slots(tr, list(configs[0]))
    if "dropout" in configs[0]:  # the optimizer and penalties took theirs above; dropout lives in the layers
        slots.set_many(np.arange(M), [{"dropout": c["dropout"]} for c in configs])
    names = list(configs[0])
    n_cut = max(1, int(M * fraction))

    def score():
        vloss, vmetric = evaluate_models(model, xe, ye, loss_fn, None if metric == "loss" else metric)
        s = vloss if vmetric is None else vmetric
        s = np.where(tr.state.active, s, np.nan)  # a stopped (diverged) member counts as worst
        key = np.where(np.isfinite(s), s if mode == "max" else -s, -np.inf)
        return s, key

    hyper = {n: [np.array([slots.get(m)[n] for m in range(M)])] for n in names}
    round_steps, scores, events = [], [], []
    t0 = time.perf_counter()
    while tr.state.step < steps:
        tr.run(min(interval, steps - tr.state.step))
        tr.check_parameters()
        if tr.state.step >= steps:
            break
        s, key = score()
        round_steps.append(tr.state.step)
        scores.append(s)
        order = np.argsort(-key, kind="stable")          # best first
        top, bottom = order[:n_cut], order[-n_cut:]
        src = gen.choice(top, size=n_cut)
        before = [slots.get(int(d)) for d in bottom]
        slots.copy(src, bottom)
        after = []
        for d, sm in zip(bottom, src):
            new = {}
            for n, v in slots.get(int(sm)).items():
                f = float(gen.choice(factors))
                v = 1 - (1 - v) * f if n in NEAR_ONE else v * f
                lo, hi = bounds.get(n, (0.0, math.inf))
                new[n] = float(min(max(v, lo), hi))
            after.append(new)
        slots.set_many(bottom, after)
        revive = np.zeros(M, bool)
        revive[bottom] = ~tr.state.active[bottom]
        if revive.any():
            slots.reactivate(revive)
        for d, sm, b, a in zip(bottom, src, before, after):
            events.append(Exploit(int(tr.state.step), int(d), int(sm), float(s[d]), float(s[sm]), b, a))
        for n in names:
            hyper[n].append(np.array([slots.get(m)[n] for m in range(M)]))
    tr.finish()
    final, _ = score()
    hist = tr.history
    return PBTResult(M, np.array(round_steps, dtype=np.int64), np.array(scores).reshape(len(round_steps), M),
                     {n: np.stack(v) for n, v in hyper.items()}, events, final, hist.steps.copy(),
                     {k: v.copy() for k, v in hist.curves.items()}, list(hist.status), metric, mode, tr.state.step,
                     time.perf_counter() - t0,
                     {"interval": interval, "fraction": fraction, "perturb": factors.tolist(), "loss": loss_fn.name,
                      "optimizer": optimizer, "batch_size": batch_size, "seeds": seeds, "metric": metric,
                      "initial": configs})


def draw_lineage(result: PBTResult, fig=None, name: str | None = None):
    """Draw the lineage: one row per member, coloured by ``name`` (default: the first tuned
    hyperparameter, log scale), an arrow from source to copier at each exploit, and the best
    final member's ancestry in black; below, ``name`` along that ancestry. Returns the figure
    (matplotlib's object API; no pyplot)."""
    from matplotlib import cm, colors  # noqa: PLC0415 - matplotlib only when drawing
    from matplotlib.figure import Figure  # noqa: PLC0415

    name = name or next(iter(result.hyper))
    fig = fig if fig is not None else Figure(figsize=(7.5, 5.5), layout="constrained")
    ax, ax2 = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1.3]})
    vals = result.hyper[name]
    pos = vals[vals > 0]
    log = pos.size > 0 and pos.max() / pos.min() > 10
    norm = colors.LogNorm(pos.min(), pos.max()) if log and pos.size else colors.Normalize(vals.min(), vals.max())
    cmap = cm.viridis
    edges = np.concatenate([[0], result.round_steps, [result.total_steps]])
    for r in range(len(edges) - 1):
        for m in range(result.M):
            v = vals[r, m]
            ax.plot([edges[r], edges[r + 1]], [m, m], color=cmap(norm(v)) if v > 0 or not log else "lightgrey", lw=4,
                    solid_capstyle="butt")
    for ev in result.events:
        ax.annotate("", xy=(ev.step, ev.dst), xytext=(ev.step, ev.src),
                    arrowprops={"arrowstyle": "->", "color": "tab:red", "lw": 0.8, "alpha": 0.7})
    path = result.ancestry()
    for member, start, end in path:
        ax.plot([start, end], [member, member], color="black", lw=1.5)
    for (m1, s1, _), (m0, _, e0) in zip(path, path[1:]):
        ax.plot([s1, s1], [m0, m1], color="black", lw=1.5, ls=":")
    ax.set_ylabel("member")
    ax.set_yticks(range(result.M))
    ax.set_title(f"PBT lineage: red arrows = copies (source -> copier), black = ancestry of the best member "
                 f"({result.best})", fontsize="small")
    fig.colorbar(cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, label=name)
    starts, sched = result.schedule(name)
    ax2.step(np.append(starts, result.total_steps), np.append(sched, sched[-1]), where="post", color="black")
    if log:
        ax2.set_yscale("log")
    ax2.set_xlabel("step")
    ax2.set_ylabel(f"{name} (best's path)")
    ax2.grid(alpha=0.3)
    return fig
