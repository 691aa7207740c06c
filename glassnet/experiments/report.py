"""Terminal tables and flat records of stored runs (``glassnet runs``, ``glassnet sweep``).

* :func:`table` -- aligned text columns.
* :func:`run_record` -- one run as a flat dict (id, sweep, status, seed, swept values, final
  metrics, timings): the row of ``runs list`` and of ``runs export``.
* :func:`summary` -- a sweep aggregated per sweep point: mean and standard deviation over seeds
  of each final metric, and how the seeds ended.
"""

from __future__ import annotations

import math
import time

import numpy as np

SHOWN_METRICS = ("loss", "train_loss", "train_accuracy", "val_loss", "final_val_loss", "val_accuracy")


def table(rows: list[list], headers: list[str]) -> str:
    """Left-aligned text columns under a rule; numbers right-aligned."""
    cells = [[_cell(c) for c in r] for r in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    numeric = [bool(rows) and all(_is_num(r[i]) for r in rows if r[i] is not None) for i in range(len(headers))]
    lines = ["  ".join(h.rjust(w) if numeric[i] else h.ljust(w) for i, (h, w) in enumerate(zip(headers, widths))),
             "  ".join("-" * w for w in widths)]
    for r in cells:
        lines.append("  ".join(c.rjust(w) if numeric[i] else c.ljust(w)
                               for i, (c, w) in enumerate(zip(r, widths))).rstrip())
    return "\n".join(lines)


def _is_num(v) -> bool:
    return isinstance(v, (int, float, np.floating, np.integer)) and not isinstance(v, bool)


def _cell(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        if not math.isfinite(v):
            return str(v)
        return f"{v:.4g}" if abs(v) >= 1e-3 or v == 0 else f"{v:.3e}"
    return str(v)


def _short(path: str) -> str:
    from ..plots import nice  # noqa: PLC0415

    return nice(path)


def run_record(run: dict) -> dict:
    """A stored run as a flat dict (swept values under their key paths)."""
    rec = {"run": run["id"], "sweep": run["sweep_id"], "status": run["status"], "seed": run["seed"]}
    rec.update(run.get("params") or {})
    for k, v in (run.get("metrics") or {}).items():
        rec[k] = v
    rec["seconds"] = run.get("seconds")
    rec["steps_done"] = run.get("steps_done")
    if run.get("error"):
        rec["error"] = run["error"]
    return rec


def run_rows(runs: list[dict], swept: list[str]):
    headers = ["run", "status", "seed"] + [_short(k) for k in swept]
    metrics = [m for m in SHOWN_METRICS if any(m in (r.get("metrics") or {}) for r in runs)]
    headers += metrics + ["seconds"]
    rows = []
    for r in runs:
        m = r.get("metrics") or {}
        rows.append([r["id"], r["status"], r["seed"]] + [(r.get("params") or {}).get(k) for k in swept]
                    + [m.get(k) for k in metrics] + [r.get("seconds")])
    return rows, headers


def summary(runs: list[dict], swept: list[str]):
    """Rows per sweep point: swept values, seeds, statuses, mean +- std of final metrics."""
    points: dict[str, list[dict]] = {}
    for r in runs:
        key = repr([(r.get("params") or {}).get(k) for k in swept])
        points.setdefault(key, []).append(r)
    metrics = [m for m in ("train_loss", "train_accuracy", "final_val_loss") if any(
        m in (r.get("metrics") or {}) for r in runs)]
    headers = [_short(k) for k in swept] + ["seeds", "status"] + [f"{m} (mean ± sd)" for m in metrics]
    rows = []
    for group in points.values():
        statuses = {}
        for r in group:
            statuses[r["status"]] = statuses.get(r["status"], 0) + 1
        row = [(group[0].get("params") or {}).get(k) for k in swept]
        row += [len(group), ", ".join(f"{n} {s}" for s, n in sorted(statuses.items()))]
        for m in metrics:
            vals = np.array([v for r in group if (v := (r.get("metrics") or {}).get(m)) is not None], float)
            row.append(f"{vals.mean():.4g} ± {vals.std():.2g}" if len(vals) else "-")
        rows.append(row)
    return rows, headers


def sweep_rows(sweeps: list[dict]):
    headers = ["sweep", "name", "kind", "runs", "finished", "status", "updated"]
    rows = [[s["id"], s["name"], s["kind"], s["n_runs"], s["n_done"], s["status"],
             time.strftime("%Y-%m-%d %H:%M", time.localtime(s["updated"]))] for s in sweeps]
    return rows, headers
