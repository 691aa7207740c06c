"""The run store: one SQLite file (default ``./glassnet-runs/runs.db``) plus weight files beside it.

Tables::

    sweeps  id, name, kind, command, created, updated, status, n_runs, swept (JSON), config (JSON)
    runs    id, sweep_id, idx, config_hash, config (JSON), params (JSON), seed, status, job, host,
            started, finished, seconds, cpu_seconds (of the job), steps_done, stopped_at, metrics (JSON),
            error, weights
    curves  run_id, metric, n, steps (int64 bytes), vals (float32 bytes; float64 if float32 overflows)

A run's status is "pending" until its result arrives, then "completed", "diverged" or
"early_stopped" (finished: never trained again) or "failed" (trained again on resume).
Weights are ``weights/<run id>.npz`` files written by ``Sequential.save`` (no pickle).

Only the driver process writes results, but several ``glassnet`` processes may share one store:
the database runs in WAL mode with a generous busy timeout, and every write is one
``BEGIN IMMEDIATE`` transaction, so concurrent writers wait for each other instead of failing
and nothing is lost.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from pathlib import Path

import numpy as np

from ..errors import GlassnetError

DEFAULT_STORE = Path("glassnet-runs") / "runs.db"
FINISHED = ("completed", "diverged", "early_stopped")
STORE_ENV = "GLASSNET_STORE"

SCHEMA = """
CREATE TABLE IF NOT EXISTS sweeps (
    id TEXT PRIMARY KEY, name TEXT, kind TEXT, command TEXT, created REAL, updated REAL,
    status TEXT, n_runs INTEGER, swept TEXT, config TEXT);
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY, sweep_id TEXT NOT NULL, idx INTEGER, config_hash TEXT, config TEXT,
    params TEXT, seed INTEGER, status TEXT, job TEXT, host TEXT, started REAL, finished REAL,
    seconds REAL, cpu_seconds REAL, steps_done INTEGER, stopped_at INTEGER, metrics TEXT, error TEXT, weights TEXT);
CREATE INDEX IF NOT EXISTS runs_sweep ON runs (sweep_id, idx);
CREATE INDEX IF NOT EXISTS runs_hash ON runs (config_hash);
CREATE TABLE IF NOT EXISTS curves (
    run_id TEXT NOT NULL, metric TEXT NOT NULL, n INTEGER, steps BLOB, vals BLOB,
    PRIMARY KEY (run_id, metric));
"""


def default_path() -> Path:
    return Path(os.environ.get(STORE_ENV) or DEFAULT_STORE)


class RunStore:
    """Open (creating if needed) the store at ``path`` (a ``.db`` file or a directory)."""

    def __init__(self, path=None, create: bool = True):
        path = Path(path) if path is not None else default_path()
        if path.suffix != ".db":
            path = path / "runs.db"
        if not create and not path.exists():
            raise GlassnetError(f"no run store at {str(path)!r} (run a sweep first, or give --store)")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.root = path.parent
        self.db = sqlite3.connect(str(path), timeout=120, isolation_level=None, check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA busy_timeout = 120000")
        self.db.execute("PRAGMA journal_mode = WAL")
        self.db.execute("PRAGMA synchronous = NORMAL")
        with self.transaction():
            for statement in filter(str.strip, SCHEMA.split(";")):
                self.db.execute(statement)

    # -- plumbing -----------------------------------------------------------------------------
    def transaction(self):
        return _Transaction(self.db)

    def close(self) -> None:
        self.db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- writing ------------------------------------------------------------------------------
    def add_sweep(self, plan, kind: str = "sweep", command: str = "") -> None:
        """Record a sweep and its runs (new runs as "pending"; known runs are left as they are)."""
        now = time.time()
        with self.transaction():
            self.db.execute(
                "INSERT INTO sweeps (id, name, kind, command, created, updated, status, n_runs, swept, config) "
                "VALUES (?, ?, ?, ?, ?, ?, 'running', ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
                "updated = excluded.updated, status = 'running', command = excluded.command",
                (plan.sweep_id, plan.name, kind, command, now, now, len(plan.runs), json.dumps(plan.swept),
                 json.dumps(plan.config)))
            self.db.executemany(
                "INSERT OR IGNORE INTO runs (id, sweep_id, idx, config_hash, config, params, seed, status) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, 'pending')",
                [(r.id, plan.sweep_id, r.index, r.hash, json.dumps(r.config), json.dumps(r.params), r.seed)
                 for r in plan.runs])

    def finished_ids(self, sweep_id: str) -> set[str]:
        rows = self.db.execute(f"SELECT id FROM runs WHERE sweep_id = ? AND status IN {FINISHED}", (sweep_id,))
        return {r["id"] for r in rows}

    def reset(self, run_ids) -> None:
        """Forget results of these runs (``--fresh``): back to pending, curves and weights gone."""
        run_ids = list(run_ids)
        with self.transaction():
            for rid in run_ids:
                self.db.execute("DELETE FROM curves WHERE run_id = ?", (rid,))
                self.db.execute("UPDATE runs SET status = 'pending', metrics = NULL, error = NULL, finished = NULL, "
                                "weights = NULL WHERE id = ?", (rid,))
        for rid in run_ids:
            self.weights_path(rid).unlink(missing_ok=True)

    def write_result(self, result: dict, seeds: dict[str, int] | None = None) -> None:
        """Store one job's results (from :func:`~glassnet.experiments.worker.run_job`)."""
        now = time.time()
        rows, curves = [], []
        for r in result["runs"]:
            weights = None
            if r.get("weights") is not None and result.get("header"):
                weights = str(self._save_weights(r["id"], result["header"], r["weights"],
                                                 (seeds or {}).get(r["id"], 0)).relative_to(self.root))
            rows.append((r["status"], result["job"], result.get("host"), result.get("started"), now,
                         result.get("seconds"), result.get("cpu_seconds"), r.get("steps_done"), r.get("stopped_at"),
                         json.dumps(r.get("metrics")) if "metrics" in r else None, r.get("error"), weights, r["id"]))
            for name, (steps, vals) in (r.get("curves") or {}).items():
                curves.append((r["id"], name, len(steps), np.asarray(steps, "<i8").tobytes(), _pack(vals)))
        with self.transaction():
            self.db.executemany(
                "UPDATE runs SET status = ?, job = ?, host = ?, started = ?, finished = ?, seconds = ?, "
                "cpu_seconds = ?, steps_done = ?, stopped_at = ?, metrics = ?, error = ?, weights = ? WHERE id = ?", rows)
            self.db.executemany("INSERT OR REPLACE INTO curves VALUES (?, ?, ?, ?, ?)", curves)

    def record_external(self, name: str, runs: list[dict], kind: str = "external", command: str = "",
                        config: dict | None = None) -> str:
        """Store runs trained outside the sweep machinery (e.g. by a study) as one finished sweep.

        Each run is a dict with ``config`` and ``params`` (JSON-able dicts), and optionally
        ``seed``, ``status`` (default "completed"), ``metrics``, ``steps_done``, ``stopped_at``,
        ``seconds`` and ``curves`` ``{metric: (steps (T,), values (T,))}``. The sweep's swept
        keys are the ``params`` keys whose values differ between runs. Returns the new sweep id
        (every call makes a new sweep; ids are random, run ids derive from it).
        """
        import uuid  # noqa: PLC0415

        sweep_id = uuid.uuid4().hex[:10]
        keys = list(dict.fromkeys(k for r in runs for k in (r.get("params") or {})))
        swept = [k for k in keys if len({json.dumps((r.get("params") or {}).get(k)) for r in runs}) > 1]
        now = time.time()
        rows, curves = [], []
        for i, r in enumerate(runs):
            rid = _digest(sweep_id, i)[:12]
            rows.append((rid, sweep_id, i, _digest(json.dumps(r.get("config"), sort_keys=True))[:16],
                         json.dumps(r.get("config")), json.dumps(r.get("params") or {}), r.get("seed"),
                         r.get("status", "completed"), now, now, r.get("seconds"), r.get("steps_done"),
                         r.get("stopped_at"), json.dumps(r.get("metrics") or {})))
            for metric, (steps, vals) in (r.get("curves") or {}).items():
                curves.append((rid, metric, len(steps), np.asarray(steps, "<i8").tobytes(), _pack(vals)))
        with self.transaction():
            self.db.execute(
                "INSERT INTO sweeps (id, name, kind, command, created, updated, status, n_runs, swept, config) "
                "VALUES (?, ?, ?, ?, ?, ?, 'done', ?, ?, ?)",
                (sweep_id, name, kind, command, now, now, len(runs), json.dumps(swept), json.dumps(config or {})))
            self.db.executemany(
                "INSERT INTO runs (id, sweep_id, idx, config_hash, config, params, seed, status, started, finished, "
                "seconds, steps_done, stopped_at, metrics) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
            self.db.executemany("INSERT INTO curves VALUES (?, ?, ?, ?, ?)", curves)
        return sweep_id

    def mark(self, run_ids, status: str, error: str | None = None) -> None:
        with self.transaction():
            self.db.executemany("UPDATE runs SET status = ?, error = ? WHERE id = ?",
                                [(status, error, rid) for rid in run_ids])

    def finish_sweep(self, sweep_id: str, status: str) -> None:
        with self.transaction():
            self.db.execute("UPDATE sweeps SET status = ?, updated = ? WHERE id = ?", (status, time.time(), sweep_id))

    def weights_path(self, run_id: str) -> Path:
        return self.root / "weights" / f"{run_id}.npz"

    def _save_weights(self, run_id, header, arrays, seed) -> Path:
        from ..layers import from_config  # noqa: PLC0415
        from ..model import Sequential  # noqa: PLC0415

        model = Sequential([from_config(c) for c in header["layers"]], header["input_shape"], seed=int(seed),
                           dtype=header["dtype"])
        for layer in model.layers:
            for short, p in layer.params.items():
                p.value[...] = arrays[f"param/{layer.name}/{short}"]
            for short, b in layer.buffers.items():
                b[...] = arrays[f"buffer/{layer.name}/{short}"]
        return model.save(self.weights_path(run_id))

    # -- reading ------------------------------------------------------------------------------
    def sweeps(self) -> list[dict]:
        rows = self.db.execute(
            "SELECT s.*, (SELECT COUNT(*) FROM runs r WHERE r.sweep_id = s.id AND r.status IN "
            f"{FINISHED}) AS n_done FROM sweeps s ORDER BY created")
        return [_row(r) for r in rows]

    def sweep(self, sweep_id: str) -> dict:
        row = self.db.execute("SELECT * FROM sweeps WHERE id = ?", (sweep_id,)).fetchone()
        if row is None:
            raise GlassnetError(f"no sweep {sweep_id!r} in {self.path}")
        return _row(row)

    def runs(self, sweep_id: str | None = None, status: str | None = None) -> list[dict]:
        sql, args = "SELECT * FROM runs WHERE 1 = 1", []
        if sweep_id is not None:
            sql, args = sql + " AND sweep_id = ?", args + [sweep_id]
        if status is not None:
            sql, args = sql + " AND status = ?", args + [status]
        return [_row(r) for r in self.db.execute(sql + " ORDER BY sweep_id, idx", args)]

    def run(self, run_id: str) -> dict:
        row = self.db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise GlassnetError(f"no run {run_id!r} in {self.path}")
        return _row(row)

    def curves(self, run_id: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """``{metric: (steps int64 (T,), values float32 (T,))}``."""
        rows = self.db.execute("SELECT metric, n, steps, vals FROM curves WHERE run_id = ?", (run_id,))
        return {r["metric"]: (np.frombuffer(r["steps"], "<i8"), _unpack(r["vals"], r["n"])) for r in rows}

    def resolve(self, ident: str) -> tuple[str, str]:
        """``("sweep", id)`` or ``("run", id)`` for a full id or a unique prefix of one."""
        hits = [("sweep", r["id"]) for r in self.db.execute("SELECT id FROM sweeps WHERE id LIKE ?", (ident + "%",))]
        hits += [("run", r["id"]) for r in self.db.execute("SELECT id FROM runs WHERE id LIKE ?", (ident + "%",))]
        exact = [h for h in hits if h[1] == ident]
        if exact:
            return exact[0]
        if not hits:
            raise GlassnetError(f"no sweep or run matches {ident!r} in {self.path}; see `glassnet runs list`")
        if len(hits) > 1:
            raise GlassnetError(f"{ident!r} is ambiguous: matches {', '.join(h[1] for h in hits[:5])}; give more characters")
        return hits[0]


def _digest(*parts) -> str:
    import hashlib  # noqa: PLC0415

    return hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()


def _pack(values) -> bytes:
    """Curve values as float32 bytes, or float64 when a finite value would overflow float32 (a
    diverging run's last points); the reader tells them apart by the bytes per point."""
    v = np.asarray(values, np.float64)
    fin = v[np.isfinite(v)]
    wide = fin.size and np.abs(fin).max() > np.finfo(np.float32).max
    return v.astype("<f8" if wide else "<f4").tobytes()


def _unpack(blob: bytes, n: int) -> np.ndarray:
    return np.frombuffer(blob, "<f8" if n and len(blob) == 8 * n else "<f4")


def _row(row: sqlite3.Row) -> dict:
    out = dict(row)
    for key in ("config", "params", "metrics", "swept"):
        if out.get(key) is not None:
            out[key] = json.loads(out[key])
    return out


class _Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``: takes the write lock up front, so a writer waits (busy
    timeout) instead of failing when another process holds it; rolls back on error."""

    def __init__(self, db):
        self.db = db

    def __enter__(self):
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, exc_type, exc, tb):
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")
        return False
