"""The run store: one SQLite file (default ``./glassnet-runs/runs.db``) plus weight files beside it.

Tables::

    sweeps  id, name, kind, command, created, updated, status, n_runs, swept (JSON), config (JSON)
    runs    id, sweep_id, idx, config_hash, config (JSON), params (JSON), seed, status, job, host,
            started, finished, seconds, cpu_seconds (of the job), steps_done, stopped_at, metrics (JSON),
            error, weights
    curves  run_id, metric, n, steps (int64 bytes), vals (float32 bytes; float64 if float32 overflows)

A run's status is "pending" until a driver claims it ("running", with the driver's host, pid
and the time, set in the same transaction that decides what to train), then "completed",
"diverged" or "early_stopped" (finished: never trained again) or "failed" (trained again on
resume). A claim by a process that is gone (same host, pid not alive) or older than
:attr:`RunStore.CLAIM_TIMEOUT` is taken over, so two drivers running one sweep split its runs
instead of training each twice, and a killed driver's runs are trained by the next one.

Weights are ``weights/<run id>.npz`` files written by ``Sequential.save`` (no pickle), to a
temporary name in the same folder and renamed into place, so a kill leaves either the old file or
the new one, never half of one; a finished run's file is never written again. A finished run
whose weights file is missing or damaged is reported (:meth:`RunStore.weights_problem`) and
trained again by the next sweep or train of its config.

Every SQLite or file-system failure (a folder given as the store, a file that is not a store, an
empty or truncated database, a read-only folder) is one :class:`~glassnet.errors.GlassnetError`
line naming the store.

Only the driver process writes results, but several ``glassnet`` processes may share one store:
the database runs in WAL mode with a generous busy timeout, and every write is one
``BEGIN IMMEDIATE`` transaction, so concurrent writers wait for each other instead of failing
and nothing is lost.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import stat
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

from ..errors import GlassnetError
from .config import config_json

DEFAULT_STORE = Path("glassnet-runs") / "runs.db"
FINISHED = ("completed", "diverged", "early_stopped")
STORE_ENV = "GLASSNET_STORE"
SQLITE_MAGIC = b"SQLite format 3\x00"
HOST = socket.gethostname()

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
#: columns added after the first release; stores that lack them get them on open
CLAIM_COLUMNS = {"claim_pid": "INTEGER", "claim_host": "TEXT", "claim_time": "REAL"}


class StoreError(GlassnetError):
    """A run store that cannot be used: one line naming it; ``kind`` is "readonly", "cantopen",
    "damaged", "busy" or "other"."""

    def __init__(self, message: str, kind: str = "other"):
        super().__init__(message)
        self.kind = kind


def default_path() -> Path:
    return Path(os.environ.get(STORE_ENV) or DEFAULT_STORE)


class RunStore:
    """Open (creating if needed) the store at ``path`` (a ``.db`` file or a directory)."""

    #: seconds after which another process's claim on a run is taken over even if that process
    #: may still be alive (it runs on another host, or its pid was reused)
    CLAIM_TIMEOUT = float(os.environ.get("GLASSNET_CLAIM_TIMEOUT", 24 * 3600))

    def __init__(self, path=None, create: bool = True):
        path = Path(path) if path is not None else default_path()
        if path.suffix != ".db":
            path = path / "runs.db"
        self.path = path
        self.root = path.parent
        #: set by :meth:`finished_ids`: runs claimed by other live processes ``{id: "pid N on host"}``,
        #: and finished runs whose weights file was missing or damaged (now trained again)
        self.busy: dict[str, str] = {}
        self.damaged: dict[str, str] = {}
        #: opened read-only (``create=False`` on a store that cannot be written): reading works,
        #: writing is refused in one line
        self.read_only = False
        self.db = None
        self._check_file(create)
        try:
            if not path.exists():
                self._create()
            self.db = _Connection(sqlite3.connect(str(path), timeout=120, isolation_level=None,
                                                  check_same_thread=False), self._error)
            self.db.execute("PRAGMA busy_timeout = 120000")
            if not create:
                self._check_tables()
            self.db.execute("PRAGMA journal_mode = WAL")
            self.db.execute("PRAGMA synchronous = NORMAL")
            self._schema(self.db)
        except (sqlite3.Error, OSError, StoreError) as exc:
            self.close()
            self.db = None
            error = exc if isinstance(exc, StoreError) else self._error(exc)
            if create or error.kind not in ("readonly", "cantopen") or not self._open_read_only():
                raise error from None
        except GlassnetError:
            self.close()
            raise

    def _check_tables(self) -> None:
        """An existing SQLite file is only read as a store when it holds a store's tables."""
        tables = {r[0] for r in self.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not {"sweeps", "runs", "curves"} <= tables:
            raise GlassnetError(f"run store {str(self.path)!r} is an SQLite database but not a glassnet run store "
                                f"(its tables: {', '.join(sorted(tables)) or 'none'})")

    def _open_read_only(self) -> bool:
        """Open a store that cannot be written (a read-only folder) for reading only: SQLite's
        ``immutable`` mode, which needs no lock or shared-memory file beside it."""
        from urllib.parse import quote  # noqa: PLC0415

        if os.access(self.root, os.W_OK) and os.access(self.path, os.W_OK):
            return False
        try:
            db = _Connection(sqlite3.connect(f"file:{quote(str(self.path.resolve()))}?immutable=1", uri=True,
                                             isolation_level=None, check_same_thread=False), self._error)
            self.db = db
            self._check_tables()
        except (sqlite3.Error, GlassnetError) as exc:
            self.close()
            self.db = None
            if isinstance(exc, GlassnetError) and not isinstance(exc, StoreError):
                raise
            return False
        self.read_only = True
        return True

    def _check_file(self, create: bool) -> None:
        """Refuse, in one line, a store path that cannot be a run store (before SQLite sees it)."""
        path = self.path
        for parent in [*reversed(path.parents)]:
            if parent.exists() and not parent.is_dir():
                raise GlassnetError(f"run store {str(path)!r}: {str(parent)!r} is a file, not a folder")
        if not path.exists():
            if not create:
                raise GlassnetError(f"no run store at {str(path)!r} (run a sweep first, or give --store)")
            return
        if path.is_dir():
            raise GlassnetError(f"run store {str(path)!r} is a folder, not a database file; give the folder that "
                                "holds runs.db, or a .db file")
        mode = path.stat().st_mode
        if not stat.S_ISREG(mode):
            raise GlassnetError(f"run store {str(path)!r} is not a regular file")
        size = path.stat().st_size
        wal = Path(f"{path}-wal")
        if size == 0 and not (wal.is_file() and wal.stat().st_size > 0):
            raise GlassnetError(f"run store {str(path)!r} is an empty file (0 bytes), not a run store (was it "
                                "truncated?); move it away to start a new store there")
        try:
            with open(path, "rb") as fh:
                head = fh.read(len(SQLITE_MAGIC))
        except OSError as exc:
            raise self._error(exc) from None
        if size and head != SQLITE_MAGIC:
            raise GlassnetError(f"run store {str(path)!r} is not a run store (not an SQLite database file)")

    def _create(self) -> None:
        """A new store appears complete or not at all: built under a temporary name beside it and
        linked into place (if another process created it meanwhile, that one is used)."""
        self.root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".runs-", suffix=".db.tmp", dir=self.root)
        os.close(fd)
        try:
            db = sqlite3.connect(tmp, isolation_level=None)
            try:
                db.execute("PRAGMA journal_mode = WAL")
                self._schema(db)
            finally:
                db.close()
            try:
                os.link(tmp, self.path)
            except FileExistsError:
                pass
            except OSError:  # a file system without hard links
                if not self.path.exists():
                    os.replace(tmp, self.path)
        finally:
            for leftover in (tmp, f"{tmp}-wal", f"{tmp}-shm"):
                Path(leftover).unlink(missing_ok=True)

    @staticmethod
    def _schema(db) -> None:
        db.execute("BEGIN IMMEDIATE")
        try:
            for statement in filter(str.strip, SCHEMA.split(";")):
                db.execute(statement)
            have = {r[1] for r in db.execute("PRAGMA table_info(runs)").fetchall()}
            for column, kind in CLAIM_COLUMNS.items():
                if column not in have:
                    db.execute(f"ALTER TABLE runs ADD COLUMN {column} {kind}")
        except BaseException:
            _rollback(db)
            raise
        db.execute("COMMIT")

    def _error(self, exc: BaseException) -> StoreError:
        """One line for an SQLite or OS error on this store."""
        where = f"run store {str(self.path)!r}"
        if isinstance(exc, OSError):
            name = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
            kind = "readonly" if isinstance(exc, PermissionError) else "other"
            return StoreError(f"{where}: {exc.strerror or exc}{name}", kind)
        msg = str(exc) or type(exc).__name__
        low = msg.lower()
        if "readonly" in low or "read-only" in low:
            return StoreError(f"{where}: cannot write ({msg}); the store and its folder {str(self.root)!r} "
                              "must be writable", "readonly")
        if "unable to open" in low:
            return StoreError(f"{where}: cannot open the database file ({msg}); is its folder "
                              f"{str(self.root)!r} missing or not writable?", "cantopen")
        if "not a database" in low or "malformed" in low or "corrupt" in low:
            return StoreError(f"{where} is damaged ({msg}): truncated or overwritten? Restore it from a "
                              "backup, or move it away to start a new store", "damaged")
        if "locked" in low or "busy" in low:
            return StoreError(f"{where} is busy ({msg}): another glassnet process holds it too long", "busy")
        return StoreError(f"{where}: {msg}", "other")

    # -- plumbing -----------------------------------------------------------------------------
    def transaction(self):
        return _Transaction(self.db)

    def close(self) -> None:
        if self.db is not None:
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
                 config_json(plan.config)))
            self.db.executemany(
                "INSERT OR IGNORE INTO runs (id, sweep_id, idx, config_hash, config, params, seed, status) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, 'pending')",
                [(r.id, plan.sweep_id, r.index, r.hash, config_json(r.config), json.dumps(r.params), r.seed)
                 for r in plan.runs])

    def finished_ids(self, sweep_id: str) -> set[str]:
        """The runs of ``sweep_id`` this driver must not train now; it trains all the others.

        Those are the finished runs, and the runs another live process has claimed (listed in
        :attr:`busy`). Every other run is claimed for this process in the same transaction
        (:meth:`claim`), so a second driver of the same sweep skips them. A finished run whose
        weights file is missing or damaged is not finished any more: it becomes "failed" with
        the problem as its error (listed in :attr:`damaged`) and is claimed, to be trained again.
        """
        self.damaged = self.repair(sweep_id)
        _, self.busy = self.claim(sweep_id)
        rows = self.db.execute(f"SELECT id FROM runs WHERE sweep_id = ? AND status IN {FINISHED}", (sweep_id,))
        return {r["id"] for r in rows} | set(self.busy)

    def repair(self, sweep_id: str) -> dict[str, str]:
        """Finished runs of ``sweep_id`` whose weights file is missing or damaged become "failed"
        (trained again on resume); returns ``{run id: problem}``."""
        rows = self.db.execute(f"SELECT id, weights FROM runs WHERE sweep_id = ? AND status IN {FINISHED} "
                               "AND weights IS NOT NULL", (sweep_id,))
        damaged = {r["id"]: problem for r in rows if (problem := self.weights_problem(r)) is not None}
        if damaged:
            with self.transaction():
                self.db.executemany(
                    f"UPDATE runs SET status = 'failed', error = ? WHERE id = ? AND status IN {FINISHED}",
                    [(f"{problem}; trained again", rid) for rid, problem in damaged.items()])
        return damaged

    def claim(self, sweep_id: str, run_ids=None) -> tuple[list[str], dict[str, str]]:
        """Claim the unfinished runs of ``sweep_id`` (all, or those in ``run_ids``) for this process,
        in one transaction: status "running" with this host, pid and time. Returns the claimed ids
        and ``{id: who}`` for the runs another live process holds (left alone). Claims of this
        process, of a dead process on this host, or older than :attr:`CLAIM_TIMEOUT` are taken."""
        wanted = None if run_ids is None else set(run_ids)
        now = time.time()
        mine, busy = [], {}
        with self.transaction():
            rows = self.db.execute("SELECT id, status, claim_pid, claim_host, claim_time FROM runs "
                                   "WHERE sweep_id = ? ORDER BY idx", (sweep_id,))
            for r in rows:
                if (wanted is not None and r["id"] not in wanted) or r["status"] in FINISHED:
                    continue
                if r["status"] == "running" and self._claim_live(r, now):
                    busy[r["id"]] = f"pid {r['claim_pid']} on {r['claim_host']}"
                    continue
                mine.append(r["id"])
            self.db.executemany("UPDATE runs SET status = 'running', claim_pid = ?, claim_host = ?, claim_time = ? "
                                "WHERE id = ?", [(os.getpid(), HOST, now, rid) for rid in mine])
        return mine, busy

    def _claim_live(self, row, now: float) -> bool:
        pid, host, when = row["claim_pid"], row["claim_host"], row["claim_time"]
        if pid is None or when is None or now - when > self.CLAIM_TIMEOUT:
            return False
        if host != HOST:
            return True
        return pid != os.getpid() and _pid_alive(pid)

    def release(self, sweep_id: str) -> None:
        """This process's claims on runs of ``sweep_id`` that got no result go back to "pending"."""
        with self.transaction():
            self.db.execute("UPDATE runs SET status = 'pending', claim_pid = NULL, claim_host = NULL, "
                            "claim_time = NULL WHERE sweep_id = ? AND status = 'running' AND claim_pid = ? "
                            "AND claim_host = ?", (sweep_id, os.getpid(), HOST))

    def reset(self, run_ids) -> None:
        """Forget results of these runs (``--fresh``): back to pending, curves and weights gone.
        A run another live process is training is left to it."""
        run_ids = list(run_ids)
        now, gone = time.time(), []
        with self.transaction():
            for rid in run_ids:
                row = self.db.execute("SELECT status, claim_pid, claim_host, claim_time FROM runs WHERE id = ?",
                                      (rid,)).fetchone()
                if row is not None and row["status"] == "running" and self._claim_live(row, now):
                    continue
                self.db.execute("DELETE FROM curves WHERE run_id = ?", (rid,))
                self.db.execute("UPDATE runs SET status = 'pending', metrics = NULL, error = NULL, finished = NULL, "
                                "weights = NULL, claim_pid = NULL, claim_host = NULL, claim_time = NULL "
                                "WHERE id = ?", (rid,))
                gone.append(rid)
        for rid in gone:
            self.weights_path(rid).unlink(missing_ok=True)

    def write_result(self, result: dict, seeds: dict[str, int] | None = None) -> None:
        """Store one job's results (from :func:`~glassnet.experiments.worker.run_job`).

        A run already finished (its weights file intact) keeps its result: a second result for it
        (two drivers that both trained it) is dropped, and its weights file is never opened for
        writing. Weights go to a temporary file renamed into place, inside the transaction."""
        now = time.time()
        with self.transaction():
            for r in result["runs"]:
                row = self.db.execute("SELECT status, weights FROM runs WHERE id = ?", (r["id"],)).fetchone()
                if row is not None and row["status"] in FINISHED and self.weights_problem(row) is None:
                    continue
                weights = None
                if r.get("weights") is not None and result.get("header"):
                    try:
                        saved = self._save_weights(r["id"], result["header"], r["weights"],
                                                   (seeds or {}).get(r["id"], 0))
                    except OSError as exc:
                        raise self._error(exc) from None
                    weights = str(saved.relative_to(self.root))
                self.db.execute(
                    "UPDATE runs SET status = ?, job = ?, host = ?, started = ?, finished = ?, seconds = ?, "
                    "cpu_seconds = ?, steps_done = ?, stopped_at = ?, metrics = ?, error = ?, weights = ?, "
                    "claim_pid = NULL, claim_host = NULL, claim_time = NULL WHERE id = ?",
                    (r["status"], result["job"], result.get("host"), result.get("started"), now,
                     result.get("seconds"), result.get("cpu_seconds"), r.get("steps_done"), r.get("stopped_at"),
                     json.dumps(r.get("metrics")) if "metrics" in r else None, r.get("error"), weights, r["id"]))
                self.db.executemany("INSERT OR REPLACE INTO curves VALUES (?, ?, ?, ?, ?)",
                                    [(r["id"], name, len(steps), np.asarray(steps, "<i8").tobytes(), _pack(vals))
                                     for name, (steps, vals) in (r.get("curves") or {}).items()])

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
            self.db.executemany("UPDATE runs SET status = ?, error = ?, claim_pid = NULL, claim_host = NULL, "
                                "claim_time = NULL WHERE id = ?", [(status, error, rid) for rid in run_ids])

    def finish_sweep(self, sweep_id: str, status: str) -> None:
        """The end of one driver's call: its claims without a result are released, and a sweep
        whose other runs another live process is still training stays "running"."""
        self.release(sweep_id)
        now = time.time()
        with self.transaction():
            rows = self.db.execute("SELECT claim_pid, claim_host, claim_time FROM runs WHERE sweep_id = ? AND "
                                   "status = 'running'", (sweep_id,))
            if status == "done" and any(self._claim_live(r, now) for r in rows):
                status = "running"
            self.db.execute("UPDATE sweeps SET status = ?, updated = ? WHERE id = ?", (status, now, sweep_id))

    def weights_path(self, run_id: str) -> Path:
        return self.root / "weights" / f"{run_id}.npz"

    def weights_problem(self, run) -> str | None:
        """Why the weights file of ``run`` (a run dict, or a run id) cannot be loaded: ``None`` when
        it looks sound (or the run has none), else one line ("... is missing", "... is damaged").
        Cheap: reads the zip directory, which a truncated file has lost; the data's checksums are
        checked when the file is loaded."""
        if isinstance(run, str):
            run = self.run(run)
        if not run["weights"]:
            return None
        path = self.root / run["weights"]
        if not path.is_file():
            return f"weights file {str(path)!r} is missing"
        try:
            with zipfile.ZipFile(path) as zf:
                names = zf.namelist()
        except (zipfile.BadZipFile, OSError, ValueError) as exc:
            return f"weights file {str(path)!r} is damaged ({exc})"
        if "__model__.npy" not in names:
            return f"weights file {str(path)!r} is damaged (no model header)"
        return None

    def _save_weights(self, run_id, header, arrays, seed) -> Path:
        from ..network import build_from_header  # noqa: PLC0415

        model = build_from_header(header, seed, arrays)
        final = self.weights_path(run_id)
        final.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale(final.parent, f".{run_id}.*.tmp.npz")
        fd, tmp = tempfile.mkstemp(prefix=f".{run_id}.", suffix=".tmp.npz", dir=final.parent)
        os.close(fd)
        try:
            model.save(tmp)
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, final)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _fsync_dir(final.parent)
        return final

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
        like = ident.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"  # a prefix, no wildcards
        hits = [("sweep", r["id"]) for r in self.db.execute(
            "SELECT id FROM sweeps WHERE id LIKE ? ESCAPE '\\'", (like,))]
        hits += [("run", r["id"]) for r in self.db.execute("SELECT id FROM runs WHERE id LIKE ? ESCAPE '\\'", (like,))]
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


def _pid_alive(pid: int) -> bool:
    """Whether process ``pid`` (on this host) is alive; a zombie is not."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True


def _remove_stale(folder: Path, pattern: str, age: float = 3600.0) -> None:
    """Temporary files a killed writer left behind (older than ``age`` seconds)."""
    now = time.time()
    for leftover in folder.glob(pattern):
        try:
            if now - leftover.stat().st_mtime > age:
                leftover.unlink()
        except OSError:
            pass


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _rollback(db) -> None:
    try:
        db.execute("ROLLBACK")
    except (sqlite3.Error, StoreError):  # no transaction left (SQLite rolled back itself), or a broken file
        pass


class _Rows(list):
    """Fetched rows with the cursor methods callers use."""

    def fetchone(self):
        return self[0] if self else None

    def fetchall(self):
        return list(self)


class _Connection:
    """The SQLite connection, every statement fetched at once and every SQLite error (a damaged
    file, a read-only folder, a lock held too long) turned into one GlassnetError line."""

    def __init__(self, db: sqlite3.Connection, error):
        self._db, self._error = db, error
        db.row_factory = sqlite3.Row

    def execute(self, sql, args=()):
        try:
            return _Rows(self._db.execute(sql, args).fetchall())
        except (sqlite3.OperationalError, sqlite3.DatabaseError) as exc:
            if isinstance(exc, (sqlite3.ProgrammingError, sqlite3.IntegrityError)):
                raise
            raise self._error(exc) from None

    def executemany(self, sql, rows):
        try:
            return _Rows(self._db.executemany(sql, rows).fetchall())
        except (sqlite3.OperationalError, sqlite3.DatabaseError) as exc:
            if isinstance(exc, (sqlite3.ProgrammingError, sqlite3.IntegrityError)):
                raise
            raise self._error(exc) from None

    def close(self):
        self._db.close()


class _Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``: takes the write lock up front, so a writer waits (busy
    timeout) instead of failing when another process holds it; rolls back on error."""

    def __init__(self, db):
        self.db = db

    def __enter__(self):
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, exc_type, exc, tb):
        if exc_type:
            _rollback(self.db)
        else:
            self.db.execute("COMMIT")
        return False
