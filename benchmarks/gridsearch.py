"""Grid search with cross-validation, three ways, on the same grid in the same run (issue 15).

The grid is the acceptance grid of ``tests/interop/test_sklearn_search.py``: scikit-learn's 1,797
8x8 digits (pixels / 16), an MLP with ``hidden_layer_sizes`` (8,) or (16,) x ``lr`` {0.01, 0.05,
0.2} x ``momentum`` {0, 0.9} = 12 candidates, 5 stratified folds (``cv=5``), SGD, batch 32,
``--epochs`` epochs (default 10), every network seeded 0, refit of the best on all rows.

* ``glassnet_search``: ``GlassnetSearchCV(GlassnetClassifier(...), grid, cv=5)`` -- the 60
  networks in 4 model-axis programs (2 architectures x 2 training-set sizes, 1,437 and 1,438 rows);
* ``gridsearch_glassnet``: ``GridSearchCV(GlassnetClassifier(...), grid, cv=5)`` -- 60 fits one
  after another (``n_jobs=None``), the same networks (their scores are compared: identical);
* ``gridsearch_glassnet_reference``: the same 60 fits with ``GLASSNET_FAST=0`` (the readable
  NumPy path, no compiled segments): what one-at-a-time fitting costs without the fast path.
  The compiled segments (``glassnet.fast.loop``) carry single fits as well as programs, so
  against ``gridsearch_glassnet`` the model axis only saves what is paid per fit and per call
  (sklearn's clone/validate/score, building a network, the logged steps), not per step;
* ``gridsearch_mlp``: ``GridSearchCV(MLPClassifier(solver="sgd", ...), grid, cv=5)`` --
  scikit-learn's own MLP (``learning_rate_init`` = lr, ``alpha=0``, classical momentum, no early
  stopping), for reference; its networks are not the same networks.

``--decompose`` also times every implementation at 1 epoch and splits its time into a fixed part
and a part per epoch (two-point fit, ``t(E) = fixed + E per_epoch``). The ratio of two searches is
then ``(fixed_b + E per_epoch_b) / (fixed_a + E per_epoch_a)``: the model axis saves per-fit costs
(the fixed parts), while the compiled kernels train one network at a time in both (a network must
train bit for bit as it does alone), so per epoch a program costs what its single fits cost, less
only what a second thread takes (none on a busy machine). The report prints both parts and the
ratio's two limits, few epochs (fixed parts) and many (per-epoch parts).

Every implementation runs in its own fresh subprocess (as ``benchmarks/run.py`` does), with
``--threads`` BLAS threads (default 1: the matrices are small, extra threads only contend), one
untimed warm-up search (2 candidates, 2 folds, 1 epoch), then ``--repeats`` timed searches
(default 3). Reported: the median wall time and its range, CPU time of the process, and the CPU
other processes used meanwhile (``/proc/stat``; the machine is shared, so a search is flagged
CONTENDED when others used more than 0.25 cores). Ratios come from medians of the same run.

Run from the repository root: ``python benchmarks/gridsearch.py [--epochs 10] [--repeats 3]
[--quick] [--json benchmarks/results/gridsearch.json]``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PREFIX = "@@GRIDSEARCH@@ "
IMPLS = ("glassnet_search", "gridsearch_glassnet", "gridsearch_glassnet_reference", "gridsearch_mlp")
#: implementations run with GLASSNET_FAST=0 (the reference path)
REFERENCE = {"gridsearch_glassnet_reference": "gridsearch_glassnet"}
GRID = {"hidden_layer_sizes": [(8,), (16,)], "lr": [0.01, 0.05, 0.2], "momentum": [0.0, 0.9]}
TARGET = 10.0
FOREIGN_WARN = 0.25


def _busy_seconds():
    """CPU-seconds the whole machine spent busy (all cores), from /proc/stat; None elsewhere."""
    try:
        with open("/proc/stat") as fh:
            f = [int(v) for v in fh.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    return (sum(f[:8]) - f[3] - f[4]) / os.sysconf("SC_CLK_TCK")


# --------------------------------------------------------------------------- child side
def make_search(impl, epochs, batch, grid=GRID, cv=5):
    from sklearn.model_selection import GridSearchCV

    if impl == "gridsearch_mlp":
        from sklearn.neural_network import MLPClassifier

        mlp = MLPClassifier(solver="sgd", max_iter=epochs, batch_size=batch, alpha=0.0, learning_rate="constant",
                            nesterovs_momentum=False, n_iter_no_change=epochs + 1, tol=0.0, random_state=0)
        mlp_grid = {"hidden_layer_sizes": grid["hidden_layer_sizes"], "learning_rate_init": grid["lr"],
                    "momentum": grid["momentum"]}
        return GridSearchCV(mlp, mlp_grid, cv=cv)
    from glassnet.sklearn import GlassnetClassifier, GlassnetSearchCV

    est = GlassnetClassifier(optimizer="sgd", epochs=epochs, batch_size=batch, random_state=0)
    if impl == "glassnet_search":
        return GlassnetSearchCV(est, grid, cv=cv)
    return GridSearchCV(est, grid, cv=cv)


def child(args) -> int:
    import warnings

    import numpy as np
    from sklearn.datasets import load_digits
    from sklearn.exceptions import ConvergenceWarning
    from threadpoolctl import threadpool_info, threadpool_limits

    warnings.simplefilter("ignore", ConvergenceWarning)  # MLPClassifier at max_iter: intended
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    limiter = threadpool_limits(args.threads)
    small = {"hidden_layer_sizes": [(8,)], "lr": [0.01, 0.05], "momentum": [0.0]}
    impl = REFERENCE.get(args.child, args.child)
    make_search(impl, 1, args.batch, small, cv=2).fit(X, y)  # warm-up: imports, caches
    walls, cpus, foreign, search, walls_1 = [], [], [], None, []
    for _ in range(args.repeats):
        gc.collect()
        b0, c0, t0 = _busy_seconds(), time.process_time(), time.perf_counter()
        search = make_search(impl, args.epochs, args.batch).fit(X, y)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        b1 = _busy_seconds()
        walls.append(wall)
        cpus.append(cpu)
        if b0 is not None and b1 is not None:
            foreign.append(max(0.0, (b1 - b0) - cpu) / wall)
        if args.decompose:  # the same search at 1 epoch, alternating with the timed one
            gc.collect()
            t0 = time.perf_counter()
            make_search(impl, 1, args.batch).fit(X, y)
            walls_1.append(time.perf_counter() - t0)
    res = search.cv_results_
    out = {
        "impl": args.child, "walls": walls, "cpus": cpus, "foreign_cores": foreign, "walls_1epoch": walls_1,
        "best_params": {k: list(v) if isinstance(v, tuple) else v for k, v in search.best_params_.items()},
        "best_score": float(search.best_score_),
        "split_scores": [[float(v) for v in res[f"split{k}_test_score"]] for k in range(5)],
        "programs": [{"models": p["models"], "n_train": p["n_train"], "seconds": p["seconds"]}
                     for p in getattr(search, "programs_", [])],
        "refit_s": float(search.refit_time_),
        "threadpools": [{k: d.get(k) for k in ("internal_api", "num_threads", "architecture")}
                        for d in threadpool_info()],
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "numpy": np.__version__,
    }
    del limiter
    sys.stdout.write(PREFIX + json.dumps(out) + "\n")
    return 0


# --------------------------------------------------------------------------- driver side
def run_child(impl, args):
    env = dict(os.environ)
    for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        env.pop(k, None)
    for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[k] = str(args.threads)
    if impl in REFERENCE:
        env["GLASSNET_FAST"] = "0"
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", impl, "--epochs", str(args.epochs),
           "--batch", str(args.batch), "--repeats", str(args.repeats), "--threads", str(args.threads)] \
        + (["--decompose"] if args.decompose else [])
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=args.timeout)
    for line in proc.stdout.splitlines():
        if line.startswith(PREFIX):
            return json.loads(line[len(PREFIX):])
    tail = " | ".join((proc.stderr or proc.stdout).strip().splitlines()[-3:])
    return {"impl": impl, "error": f"exit code {proc.returncode}: {tail}"}


def _fmt(seconds):
    return f"{seconds:.2f} s" if seconds >= 1 else f"{seconds * 1000:.0f} ms"


def report(results, args) -> str:
    ok = {r["impl"]: r for r in results if "error" not in r}
    base = statistics.median(ok["glassnet_search"]["walls"]) if "glassnet_search" in ok else None
    lines = [f"Grid search on digits: 12 candidates x 5 folds (+ refit), SGD batch {args.batch}, {args.epochs} epochs, "
             f"{args.repeats} timed repeats, {args.threads} BLAS thread(s), one subprocess per implementation", "",
             "| implementation | median wall | min .. max | median CPU | others' CPU (cores) | load avg (1 min) "
             "| vs GlassnetSearchCV | best params | best CV accuracy |",
             "|---|---:|---:|---:|---:|---:|---:|---|---:|"]
    for r in results:
        if "error" in r:
            lines.append(f"| {r['impl']} | error: {r['error']} |  |  |  |  |  |  |  |")
            continue
        med = statistics.median(r["walls"])
        busy = max(r["foreign_cores"]) if r["foreign_cores"] else float("nan")
        flag = " CONTENDED" if busy > FOREIGN_WARN else ""
        ratio = f"{med / base:.1f}x slower" if base and r["impl"] != "glassnet_search" else "1.0x"
        lines.append(f"| {r['impl']} | {_fmt(med)} | {_fmt(min(r['walls']))} .. {_fmt(max(r['walls']))} | "
                     f"{_fmt(statistics.median(r['cpus']))} | {busy:.2f}{flag} | "
                     f"{r.get('load_before', float('nan')):.1f} .. {r.get('load_after', float('nan')):.1f} | "
                     f"{ratio} | {r['best_params']} | "
                     f"{r['best_score']:.4f} |")
    if "glassnet_search" in ok and "gridsearch_glassnet" in ok:
        a, b = ok["glassnet_search"], ok["gridsearch_glassnet"]
        speedup = statistics.median(b["walls"]) / statistics.median(a["walls"])
        same = a["split_scores"] == b["split_scores"] and a["best_params"] == b["best_params"]
        lines += ["", f"GlassnetSearchCV vs GridSearchCV(GlassnetClassifier): {speedup:.1f}x faster (target >= "
                      f"{TARGET:g}x: {'PASS' if speedup >= TARGET else 'MISS'}); every split score identical: "
                      f"{'yes' if same else 'NO'}",
                  f"GlassnetSearchCV programs: " + ", ".join(f"{p['models']} networks x {p['n_train']} rows in "
                                                            f"{_fmt(p['seconds'])}" for p in a["programs"])
                  + f"; refit {_fmt(a['refit_s'])}"]
    lines += _decomposition(ok, args.epochs)
    if "glassnet_search" in ok and "gridsearch_glassnet_reference" in ok:
        r = ok["gridsearch_glassnet_reference"]
        speedup = statistics.median(r["walls"]) / base
        same = ok["glassnet_search"]["best_params"] == r["best_params"]
        lines.append(f"GlassnetSearchCV vs GridSearchCV(GlassnetClassifier) on the reference path (GLASSNET_FAST=0): "
                     f"{speedup:.1f}x faster; same best params: {'yes' if same else 'NO'}")
    if "glassnet_search" in ok and "gridsearch_mlp" in ok:
        speedup = statistics.median(ok["gridsearch_mlp"]["walls"]) / base
        lines.append(f"GlassnetSearchCV vs GridSearchCV(MLPClassifier): {speedup:.1f}x faster (information)")
    return "\n".join(lines)


def _decomposition(ok, epochs) -> list[str]:
    """Lines splitting each search's median time into fixed + per epoch (from its 1-epoch runs),
    and the ratio's limits for few and many epochs."""
    parts = {}
    for impl, r in ok.items():
        if r.get("walls_1epoch") and epochs > 1:
            t_e, t_1 = statistics.median(r["walls"]), statistics.median(r["walls_1epoch"])
            per_epoch = (t_e - t_1) / (epochs - 1)
            parts[impl] = (t_1 - per_epoch, per_epoch)
    if not parts:
        return []
    lines = ["", "Time split as fixed + epochs x per epoch (medians at 1 and " + f"{epochs} epochs):"]
    lines += [f"  {impl}: {_fmt(f)} + epochs x {_fmt(e)}" for impl, (f, e) in parts.items()]
    if "glassnet_search" in parts and "gridsearch_glassnet" in parts:
        (fa, ea), (fb, eb) = parts["glassnet_search"], parts["gridsearch_glassnet"]
        lines.append(f"  GridSearchCV / GlassnetSearchCV: fixed parts {fb / fa:.1f}x (the ratio as epochs -> 0), "
                     f"per epoch {eb / ea:.1f}x (the ratio as epochs grow)")
    return lines


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--impls", default=",".join(IMPLS), help="comma-separated subset of " + ",".join(IMPLS))
    ap.add_argument("--quick", action="store_true", help="smoke run: 2 epochs, 1 repeat")
    ap.add_argument("--timeout", type=float, default=1800)
    ap.add_argument("--json", help="also write the raw results here")
    ap.add_argument("--decompose", action="store_true", help="also time 1 epoch: fixed + per-epoch parts")
    ap.add_argument("--child", choices=IMPLS, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.quick:
        args.epochs, args.repeats = 2, 1
    if args.child:
        return child(args)
    impls = [i.strip() for i in args.impls.split(",") if i.strip()]
    bad = [i for i in impls if i not in IMPLS]
    if bad:
        ap.error(f"unknown implementation(s) {bad}; choose from {', '.join(IMPLS)}")
    results = []
    for impl in impls:
        print(f"running {impl} ...", file=sys.stderr, flush=True)
        load = os.getloadavg()[0]
        results.append({**run_child(impl, args), "load_before": load, "load_after": os.getloadavg()[0]})
    print(report(results, args))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"args": vars(args), "results": results}, indent=1))
    return 0 if all("error" not in r for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
