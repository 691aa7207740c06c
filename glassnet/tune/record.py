"""Tuning results into the run store: one sweep (kind ``"tune"``), one run per configuration
(successive halving, Hyperband) or per population member (PBT), through
:meth:`glassnet.experiments.store.RunStore.record_external`.

A run's ``params`` hold its hyperparameters and how it fared (``rung``, ``bracket``, ``slot``,
``halved``); its curves are the training loss and the validation score at its rungs, both
against the steps that configuration trained. These runs are not re-runnable configs: a slot's
network was trained inside a search (refilled slots, copied weights), which
``params["re_run_note"]`` says.
"""

from __future__ import annotations

import json

import numpy as np

STATUS = {"completed": "completed", "halved": "early_stopped", "diverged": "diverged", "running": "completed",
          "queued": "early_stopped"}


def _open(store):
    from ..experiments.store import RunStore  # noqa: PLC0415 - the store is needed only here

    return (store, False) if isinstance(store, RunStore) else (RunStore(store), True)


def _plain(obj):
    return json.loads(json.dumps(obj, default=lambda v: v.tolist() if isinstance(v, (np.ndarray, np.generic))
                                 else repr(v)))


def write_trials(result, store, command: str, name: str) -> str:
    """Store a :class:`~glassnet.tune.halving.TuneResult`; returns the sweep id."""
    runs = []
    score_key = "val_loss" if result.metric == "loss" else f"val_{result.metric}"
    for t in result.trials:
        rung_steps = np.array([r[0] for r in t.rungs], dtype=np.int64)
        curves = {}
        if len(t.steps):
            curves["loss"] = (np.asarray(t.steps, np.int64), np.asarray(t.loss, float))
        if len(t.rungs):
            curves[score_key] = (rung_steps, np.array([r[1] for r in t.rungs], float))
            if score_key != "val_loss":
                curves["val_loss"] = (rung_steps, np.array([r[2] for r in t.rungs], float))
        metrics = {k: float(v[1][-1]) for k, v in curves.items() if np.isfinite(v[1][-1])}
        config = {"name": name, "description": f"configuration {t.index} of a {result.method} search",
                  "training": {**t.config, "seed": t.seed, "steps": t.trained_steps,
                               "loss": result.settings.get("loss"), "optimizer": result.settings.get("optimizer"),
                               "batch_size": result.settings.get("batch_size")}}
        params = {**t.config, "rung": t.rung, "bracket": t.bracket, "slot": t.slot, "halved": t.status == "halved",
                  "re_runnable": False,
                  "re_run_note": "trained in a slot of a tuning search; the config lists its hyperparameters"}
        runs.append({"config": _plain(config), "params": _plain(params), "seed": t.seed,
                     "status": STATUS.get(t.status, "completed"), "metrics": metrics,
                     "steps_done": t.trained_steps, "stopped_at": t.end if t.status != "completed" else -1,
                     "curves": curves})
    st, close = _open(store)
    try:
        return st.record_external(name, runs, kind="tune", command=command,
                                  config=_plain({"method": result.method, "eta": result.eta,
                                                 "max_steps": result.max_steps, "slots": result.slots,
                                                 "model_steps": result.model_steps,
                                                 "slot_steps": result.slot_steps, **result.settings}))
    finally:
        if close:
            st.close()


def write_population(result, store, command: str, name: str) -> str:
    """Store a :class:`~glassnet.tune.pbt.PBTResult`: one run per member (its final
    hyperparameters in ``params``, its loss curve and per-round hyperparameters as curves), the
    lineage (every copy) in the sweep's config; returns the sweep id."""
    runs = []
    steps = np.asarray(result.steps, np.int64)
    rounds = np.concatenate([[0], np.asarray(result.round_steps, np.int64)])
    for m in range(result.M):
        curves = {k: (steps, np.asarray(v[m], float)) for k, v in result.curves.items()}
        for h, vals in result.hyper.items():
            curves[f"hyper_{h}"] = (rounds, np.asarray(vals[:, m], float))
        final_h = {h: float(v[-1, m]) for h, v in result.hyper.items()}
        copies = [e for e in result.events if e.dst == m]
        params = {**final_h, "member": m, "copies": len(copies), "best": m == result.best, "re_runnable": False,
                  "re_run_note": "a PBT member: its weights were copied from other members during training"}
        config = {"name": name, "description": f"member {m} of a PBT population",
                  "training": {"initial": result.settings["initial"][m], "seed": result.settings["seeds"][m],
                               "steps": result.total_steps, "loss": result.settings.get("loss"),
                               "optimizer": result.settings.get("optimizer"),
                               "batch_size": result.settings.get("batch_size")}}
        final = float(result.final[m])
        metrics = {f"final_{result.metric}": final} if np.isfinite(final) else {}
        runs.append({"config": _plain(config), "params": _plain(params), "seed": result.settings["seeds"][m],
                     "status": "diverged" if result.status[m] == "diverged" else "completed", "metrics": metrics,
                     "steps_done": result.total_steps, "stopped_at": -1, "curves": curves})
    lineage = [{"step": e.step, "dst": e.dst, "src": e.src, "dst_score": e.dst_score, "src_score": e.src_score,
                "before": e.before, "after": e.after} for e in result.events]
    st, close = _open(store)
    try:
        return st.record_external(name, runs, kind="tune", command=command,
                                  config=_plain({"method": "pbt", **result.settings, "lineage": lineage,
                                                 "best": result.best}))
    finally:
        if close:
            st.close()
