"""Explain a *stored* run: replay it from its run config, beside healthy runs of its sweep, with
:func:`glassnet.diagnostics.divergence.explain_divergence` (``glassnet explain divergence RUN_ID``).

Only runs the store can re-run are replayed (a study's fits say whether theirs can); the
siblings must train as one ensemble with the run (same data, model and training shape).
"""

from __future__ import annotations

from ..errors import GlassnetError
from .divergence import DivergenceReport, explain_divergence, judge

#: a stored run is replayed for at most this many steps unless told otherwise
MAX_REPLAY_STEPS = 20_000
#: healthy candidates replayed beside a stored run (its group's finished runs, same seed first)
SIBLINGS = 3


def explain_stored_run(store, ident: str, *, member: int | None = None, healthy: str | None = None,
                       steps: int | None = None) -> tuple[DivergenceReport, dict]:
    """Replay a stored run from its config and explain it (:func:`explain_divergence`).

    ``store`` is an open :class:`~glassnet.experiments.RunStore`; ``ident`` a run id (or a unique
    prefix), or a sweep id with ``member`` (the run's index in the sweep; default: the sweep's
    first diverged run). Up to :data:`SIBLINGS` finished runs of the same sweep that train as one
    ensemble with it (same shapes; same seed first) are replayed beside it, as candidates for the
    healthy member, or ``healthy`` (a run id) alone. ``steps`` defaults to the run's length, at
    most :data:`MAX_REPLAY_STEPS`. Returns the report (model 0 is the run) and the run's row.
    """
    from ..experiments.config import run_config, validate  # noqa: PLC0415
    from ..experiments.planner import group_key  # noqa: PLC0415
    from ..experiments.store import FINISHED  # noqa: PLC0415

    kind, full = store.resolve(ident)
    if kind == "sweep":
        runs = store.runs(full)
        if member is not None:
            if not 0 <= member < len(runs):
                raise GlassnetError(f"--member {member}: sweep {full} has runs 0..{len(runs) - 1}")
            run = runs[member]
        else:
            run = next((r for r in runs if r["status"] == "diverged"), None)
            if run is None:
                raise GlassnetError(f"sweep {full} has no diverged run; give --member N (0..{len(runs) - 1}) "
                                    "or a run id")
    else:
        if member is not None:
            raise GlassnetError(f"--member picks a run of a sweep; {full} is a run")
        run = store.run(full)
    if run["status"] not in FINISHED:
        why = f" ({run['error']})" if run.get("error") else ""
        raise GlassnetError(f"run {run['id']} has status {run['status']!r}{why}: nothing was trained to explain")
    sweep = store.sweep(run["sweep_id"])
    _check_re_runnable(run, sweep)
    cfg = run_config(validate(run["config"], source=f"run {run['id']} config"))
    key = group_key(cfg)
    if healthy is not None:
        hkind, hid = store.resolve(healthy)
        others = [store.run(hid)] if hkind == "run" else []
        if not others or others[0]["id"] == run["id"]:
            raise GlassnetError(f"--healthy {healthy!r} must be another run id")
    else:
        others = [r for r in store.runs(run["sweep_id"]) if r["id"] != run["id"] and r["status"] in FINISHED]
        others.sort(key=lambda r: (r["seed"] != run["seed"], r["status"] != "completed"))
    sibs = []
    for r in others:
        try:
            _check_re_runnable(r, store.sweep(r["sweep_id"]))
            c = run_config(validate(r["config"], source=f"run {r['id']} config"))
        except GlassnetError:
            if healthy is not None:
                raise
            continue
        if group_key(c) != key:
            if healthy is not None:
                raise GlassnetError(f"--healthy run {r['id']} does not train as one ensemble with {run['id']} "
                                    "(its data, model or training shape differ)")
            continue
        sibs.append((r, c))
        if len(sibs) == SIBLINGS:
            break
    rows, configs = [run] + [r for r, _ in sibs], [cfg] + [c for _, c in sibs]
    trainer, total = _stored_trainer(configs)
    n = min(total, MAX_REPLAY_STEPS) if steps is None else min(total, int(steps))
    labels = [_run_label(r, sweep["swept"]) for r in rows]
    report = explain_divergence(trainer, steps=n, labels=labels)
    report = judge(report, member=0, healthy=None if healthy is None else 1)
    return report, {"run": run, "total_steps": total, "replayed": n}


def _check_re_runnable(run, sweep) -> None:
    params = run.get("params") or {}
    if params.get("re_runnable", sweep["kind"] != "study"):
        return
    why = params.get("re_run_note", "recorded without a run config that re-runs it")
    raise GlassnetError(f"run {run['id']} was trained by {sweep['name']!r} and cannot be replayed from its config "
                        f"({why})")


def _stored_trainer(configs):
    """The Trainer of these runs as one ensemble, as the sweep worker trains them; and the total steps."""
    from .. import losses as losses_mod  # noqa: PLC0415
    from ..experiments.worker import build_model, ensemble_optimizer, load_data  # noqa: PLC0415
    from ..training import Trainer  # noqa: PLC0415
    from ..training.fit import total_steps  # noqa: PLC0415

    cfg, t = configs[0], configs[0].training
    data = load_data(cfg)
    model = build_model(cfg, [c.training.seed for c in configs], data)
    wd, l1 = [c.training.weight_decay for c in configs], [c.training.l1 for c in configs]
    trainer = Trainer(model, data.x, data.y, loss=losses_mod.get(t.loss), optimizer=ensemble_optimizer(configs),
                      batch_size=t.batch_size, weight_decay=wd if len(set(wd)) > 1 else wd[0],
                      l1=l1 if len(set(l1)) > 1 else l1[0], shuffle=t.shuffle, metrics=[], log_every=1)
    return trainer, total_steps(t.epochs, t.steps, trainer.steps_per_epoch)


def _run_label(run, swept) -> str:
    params = run.get("params") or {}
    shown = ", ".join(f"{k.rsplit('.', 1)[-1]}={params[k]}" for k in swept if k in params)
    return f"run {run['id'][:8]}" + (f" ({shown})" if shown else "")
