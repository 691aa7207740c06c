#!/usr/bin/env python
"""glassnet benchmark driver -- one command for the whole suite.

    python benchmarks/run.py                  # check + full suite (< ~10 min on 2 cores)
    python benchmarks/run.py --quick          # smoke run (< ~60 s)
    python benchmarks/run.py --only mlp784 --json benchmarks/results/mlp.json
    python benchmarks/run.py --check          # only the float64 cross-checks

Implementations: hand-written NumPy floors, PyTorch (eager, loops, bmm, torch.func vmap), JAX
(jit, vmap, fori_loop; optional), glassnet and glassnet_ref (GLASSNET_FAST=0).

Every (case, implementation) pair runs in its own fresh subprocess
``python -m benchmarks.cases.<case> --impl <impl> ...`` (NumPy's GEMM is ~3x slower in a
process that has imported torch, so libraries never share a process).  The subprocess
environment has OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE removed (this only ever happens
here, never in tests/CI) and the same thread count for OpenBLAS/OpenMP/MKL and torch.
Only the standard library is imported in this process.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import importlib
import json
import math
import os
import platform
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from benchmarks.cases import CASES  # noqa: E402
from benchmarks.harness import RESULT_PREFIX  # noqa: E402

UNSET_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
CHECK_RTOL = 1e-9
FOREIGN_WARN = 0.25  # cores used by other processes during a timed block -> flag it
SPEC_TIMEOUT = {}  # case -> its SPEC's "timeout" (s), when longer than --timeout (whole studies)


# --------------------------------------------------------------------------- helpers
def child_env(threads: int):
    env = dict(os.environ)
    removed = {k: env.pop(k) for k in UNSET_VARS if k in env}
    for k in THREAD_VARS:
        env[k] = str(threads)
    env["PYTHONPATH"] = ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.pop("PYTHONSTARTUP", None)
    return env, removed


def impl_env(env, spec, impl):
    """The child's environment for one implementation: ``env`` plus the implementation's own
    variables (``glassnet_ref``: GLASSNET_FAST=0)."""
    extra = spec["impls"].get(impl, {}).get("env")
    return dict(env, **extra) if extra else env


def run_child(case, impl, extra, env, timeout):
    cmd = [sys.executable, "-m", f"benchmarks.cases.{case}", "--impl", impl] + extra
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"case": case, "impl": impl, "status": "error",
                "error": f"timed out after {timeout} s", "cmd": " ".join(cmd)}
    wall = time.perf_counter() - t0
    res = None
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT_PREFIX):
            res = json.loads(line[len(RESULT_PREFIX):])
    if res is None:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        res = {"case": case, "impl": impl, "status": "error",
               "error": f"exit code {proc.returncode}, no result: " + " | ".join(tail)}
    res["wall_s"] = wall
    res["cmd"] = " ".join(["python"] + cmd[1:])
    return res


def machine_busy_cores(window=0.5):
    """Cores busy on the whole machine over a short window (this driver is idle meanwhile)."""
    from benchmarks.harness import _machine_busy_s

    b0 = _machine_busy_s()
    time.sleep(window)
    b1 = _machine_busy_s()
    return None if b0 is None or b1 is None else (b1 - b0) / window


def wait_quiet(max_wait, threshold=FOREIGN_WARN):
    """Wait (up to max_wait s) until other processes use < threshold cores; returns the
    last measured load."""
    if max_wait <= 0:
        return None
    t0 = time.perf_counter()
    load = machine_busy_cores()
    while load is not None and load > threshold and time.perf_counter() - t0 < max_wait:
        load = machine_busy_cores(1.0)
    return load


def run_bench(case, impl, extra, env, args):
    """Run one benchmark child; rerun (after waiting for quiet) if other processes took CPU
    during its timed blocks, keeping the least contended result."""
    best = None
    for attempt in range(1 + max(0, args.retries)):
        wait_quiet(args.wait_quiet)
        res = run_child(case, impl, extra, env, max(args.timeout, SPEC_TIMEOUT.get(case, 0)))
        res["attempt"] = attempt + 1
        fc = res.get("foreign_cores_max")
        if best is None or (fc is not None and (best.get("foreign_cores_max") or 0) > fc):
            best = res
        if res.get("status") != "ok" or fc is None or fc <= FOREIGN_WARN or attempt >= args.retries:
            break
        print(f"  {case}/{impl}: contended ({fc:.2f} cores busy elsewhere), rerunning",
              flush=True)
    return best


def fmt_time(s):
    if s is None or not math.isfinite(s):
        return "-"
    if s < 1e-3:
        return f"{s * 1e6:.1f} us"
    if s < 1:
        return f"{s * 1e3:.2f} ms"
    return f"{s:.2f} s"


def fmt_rate(r):
    if r is None:
        return "-"
    for div, suf in ((1e6, "M"), (1e3, "k")):
        if r >= div:
            return f"{r / div:.2f}{suf}"
    return f"{r:.1f}"


def pools_summary(res):
    parts = []
    for p in res.get("threadpools", []):
        if "error" in p:
            parts.append(p["error"])
            continue
        name = p.get("internal_api", "?")
        if p.get("architecture"):
            name += f" {p.get('version', '')} {p['architecture']}".rstrip()
        parts.append(f"{name} x{p.get('num_threads')}")
    if "torch_threads" in res:
        parts.append(f"torch x{res['torch_threads']}")
    cores = (res.get("info") or {}).get("cores")
    if cores:
        parts.append(f"JAX/XLA pinned to {cores} cores")
    return ", ".join(parts) or "-"


def table(rows, headers):
    w = [max(len(str(h)), *(len(str(r[i])) for r in rows)) if rows else len(str(h))
         for i, h in enumerate(headers)]
    line = "  ".join(str(h).ljust(w[i]) for i, h in enumerate(headers))
    out = [line, "  ".join("-" * x for x in w)]
    for r in rows:
        out.append("  ".join(str(c).ljust(w[i]) if i < 2 else str(c).rjust(w[i])
                             for i, c in enumerate(r)))
    return "\n".join(out)


def note(res):
    """The note column: fixed costs (a 1-step fit call, JAX's first call), what ran, memory of
    finished children."""
    info, parts = res.get("info") or {}, []
    if res.get("call_1step_s") is not None:
        parts.append(f"1-step fit call {fmt_time(res['call_1step_s'])}")
    if info.get("compile_s") is not None:
        parts.append(f"compile {fmt_time(info['compile_s'])}")
    if info.get("note"):
        parts.append(str(info["note"]))
    if res.get("env"):
        parts.append(" ".join(f"{k}={v}" for k, v in res["env"].items()))
    if res.get("peak_rss_children_mib"):
        parts.append(f"child RSS {res['peak_rss_children_mib']:.0f} MiB")
    return "; ".join(parts)


def per_model_step(res):
    if res and res.get("status") == "ok" and "step_s" in res:
        return res["step_s"] / res["models"]
    return None


def ratio_lines(spec, results):
    """Evaluate the case's ratio definitions on results of this run.

    kinds: "speedup" (b's time per model-step / a's; a target is a minimum), "time" (a's / b's;
    a target is a maximum) and "seconds" (a's time per step in seconds -- the wall time of a
    single-shot case such as a whole study; a target is a maximum)."""
    out = []
    for r in spec.get("ratios", []):
        if r["kind"] == "seconds":
            a = results.get(r["a"])
            rec = dict(case=spec["name"], a=r["a"], b=None, kind="seconds", target=r.get("target"),
                       stretch=None, value=None, verdict="n/a")
            label = f"{r['a']}: wall time"
            goal = f"target < {r['target']:g} s" if r.get("target") else "info"
            if per_model_step(a) is None:
                st = a.get("status", "missing") if a else "not run"
                out.append((f"  {label:<52} {'n/a':>8}  {goal}  -- {r['a']}: {st}", rec))
                continue
            v = a["step_s"]
            rec["value"] = v
            verdict = ("PASS" if v < r["target"] else "MISS") if r.get("target") else ""
            rec["verdict"] = verdict or "info"
            out.append((f"  {label:<52} {v:>7.1f}s  {goal:<34} {verdict}", rec))
            continue
        a, b = results.get(r["a"]), results.get(r["b"])
        ta, tb = per_model_step(a), per_model_step(b)
        rec = dict(case=spec["name"], a=r["a"], b=r["b"], kind=r["kind"],
                   target=r.get("target"), stretch=r.get("stretch"), value=None, verdict="n/a")
        if r["kind"] == "speedup":
            label = f"{r['a']} vs {r['b']}: model-steps/s ratio"
            goal = f"target >= {r['target']:g}x" if r.get("target") else "info"
            if r.get("stretch"):
                goal += f" (stretch {r['stretch']:g}x)"
        else:
            label = f"{r['a']} / {r['b']}: time per step"
            goal = f"target <= {r['target']:g}x" if r.get("target") else "info"
        if ta is None or tb is None:
            missing = [f"{n}: {x.get('status', 'missing') if x else 'not run'}"
                       + (f" ({x['error'][:60]})" if x and x.get("error") else "")
                       for n, x in ((r["a"], a), (r["b"], b)) if per_model_step(x) is None]
            out.append((f"  {label:<52} {'n/a':>8}  {goal}  -- " + "; ".join(missing), rec))
            continue
        v = tb / ta if r["kind"] == "speedup" else ta / tb
        rec["value"] = v
        if r.get("target"):
            ok = v >= r["target"] if r["kind"] == "speedup" else v <= r["target"]
            verdict = "PASS" if ok else "MISS"
            if ok and r.get("stretch") and v >= r["stretch"]:
                verdict = "PASS (stretch)"
        else:
            verdict = ""
        rec["verdict"] = verdict or "info"
        out.append((f"  {label:<52} {v:>7.2f}x  {goal:<34} {verdict}", rec))
    return out


# --------------------------------------------------------------------------- check
def run_checks(specs, env, args):
    print("\n== check: loss trajectories in float64 from the same initial weights ==")
    print(f"   (loss before and after each of k SGD steps; max relative difference to the "
          f"case's reference, numpy_loop unless named; PASS if < {CHECK_RTOL:g})")
    records = []
    for spec in specs:
        chk = spec.get("check")
        if not chk:
            continue
        traj = {}
        ref_name = chk.get("ref", "numpy_loop")
        for impl in chk["impls"]:
            if args.impls and impl not in args.impls:
                continue
            extra = ["--check", str(chk["steps"]), "--dtype", "float64",
                     "--models", str(chk.get("models", 1)), "--threads", str(args.threads)]
            res = run_child(spec["name"], impl, extra, impl_env(env, spec, impl), args.timeout)
            traj[impl] = res
        ref = traj.get(ref_name)
        for impl, res in traj.items():
            rec = {"case": spec["name"], "impl": impl, "status": res.get("status")}
            if res.get("status") != "ok":
                msg = f"{res.get('status')}: {res.get('error', '')}"
                print(f"  {spec['name']:<15} {impl:<15} SKIP  {msg[:110]}")
                rec["error"] = res.get("error")
            elif impl == ref_name:
                L = res["losses"]
                print(f"  {spec['name']:<15} {impl:<15} ref   loss {L[0][0]:.10f} -> "
                      f"{L[-1][0]:.10f} (model 0, {len(L) - 1} steps)")
                rec["losses"] = L
            elif ref is None or ref.get("status") != "ok":
                print(f"  {spec['name']:<15} {impl:<15} ----  no {ref_name} reference")
            else:
                a, b = ref["losses"], res["losses"]
                if len(a) != len(b) or any(len(u) != len(v) for u, v in zip(a, b)):
                    err = float("inf")
                else:
                    err = max(abs(u - v) / max(abs(u), 1e-300)
                              for ra, rb in zip(a, b) for u, v in zip(ra, rb))
                ok = err < CHECK_RTOL
                rec.update(max_rel_diff=err, passed=ok, losses=b)
                print(f"  {spec['name']:<15} {impl:<15} {'PASS' if ok else 'FAIL'}  "
                      f"max rel diff {err:.2e} over {len(b)} x {len(b[0]) if b else 0} losses")
            records.append(rec)
    return records


# --------------------------------------------------------------------------- main
def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="short smoke run (< ~60 s)")
    ap.add_argument("--only", default="", metavar="NAME[,NAME]",
                    help=f"cases to run (default all: {','.join(CASES)})")
    ap.add_argument("--impls", default="", metavar="IMPL[,IMPL]",
                    help="restrict to these implementations (e.g. numpy_loop,glassnet)")
    ap.add_argument("--json", default=None, metavar="PATH", help="save all results as JSON")
    ap.add_argument("--check", action="store_true", help="only run the float64 cross-checks")
    ap.add_argument("--no-check", action="store_true", help="skip the cross-checks")
    ap.add_argument("--threads", type=int, default=2,
                    help="threads for OpenBLAS/OpenMP/MKL and torch.set_num_threads (default 2)")
    ap.add_argument("--repeats", type=int, default=None, help="override timed blocks per run")
    ap.add_argument("--timeout", type=int, default=600, help="seconds per subprocess")
    ap.add_argument("--wait-quiet", type=float, default=None, metavar="S",
                    help="before each run wait up to S s for other processes to go quiet "
                         "(default 10, 0 with --quick)")
    ap.add_argument("--retries", type=int, default=None,
                    help="reruns of a run whose timed blocks were contended (default 1, 0 with --quick)")
    args = ap.parse_args(argv)

    names = [n.strip() for n in args.only.split(",") if n.strip()] or list(CASES)
    unknown = [n for n in names if n not in CASES]
    if unknown:
        ap.error(f"--only: unknown case(s) {', '.join(unknown)}; known: {', '.join(CASES)}")
    args.impls = [n.strip() for n in args.impls.split(",") if n.strip()]
    if args.wait_quiet is None:
        args.wait_quiet = 0.0 if args.quick else 10.0
    if args.retries is None:
        args.retries = 0 if args.quick else 1
    specs = [importlib.import_module(f"benchmarks.cases.{n}").SPEC for n in names]
    SPEC_TIMEOUT.update({s["name"]: s["timeout"] for s in specs if s.get("timeout")})
    skipped = []
    if args.quick and not args.only:  # single-shot cases (whole studies) run in full runs only
        skipped = [s["name"] for s in specs if s.get("full_run_only")]
        specs = [s for s in specs if not s.get("full_run_only")]

    env, removed = child_env(args.threads)
    t_start = time.perf_counter()
    meta = {
        "date": _dt.datetime.now().isoformat(timespec="seconds"),
        "machine": platform.machine(), "platform": platform.platform(),
        "cpu": _cpu_name(), "cpus": os.cpu_count(), "python": platform.python_version(),
        "threads": args.threads, "quick": args.quick,
        "unset_in_children": {k: removed.get(k) for k in UNSET_VARS},
        "git_head": _git_head(),
    }
    print(f"glassnet benchmarks  {meta['date']}  {meta['cpu']} ({meta['cpus']} cpus), "
          f"Python {meta['python']}, git {meta['git_head'] or '?'}")
    print(f"subprocess env: unset {', '.join(f'{k} (was {v!r})' for k, v in removed.items()) or 'nothing (not set here)'}"
          f"; {'/'.join(THREAD_VARS)}={args.threads}; torch.set_num_threads({args.threads})"
          f"{'; QUICK smoke run' if args.quick else ''}")
    if skipped:
        print(f"--quick: skipping {', '.join(skipped)} (full runs only; name them in --only "
              f"for their quick form)")

    checks = []
    if args.check or not args.no_check:
        checks = run_checks(specs, env, args)
    if args.check:
        _save(args.json, meta, checks, [], [])
        return 1 if any(c.get("passed") is False for c in checks) else 0

    print("\n== benchmarks ==")
    all_results, all_ratios, per_case = [], [], {}
    for spec in specs:
        per_case[spec["name"]] = {}
        for impl in spec["impls"]:
            if args.impls and impl not in args.impls:
                continue
            extra = ["--threads", str(args.threads)]
            if args.quick:
                extra.append("--quick")
            if args.repeats:
                extra += ["--repeats", str(args.repeats)]
            res = run_bench(spec["name"], impl, extra, impl_env(env, spec, impl), args)
            per_case[spec["name"]][impl] = res
            all_results.append(res)
            if res.get("status") == "ok":
                fc = res.get("foreign_cores_max")
                print(f"  {spec['name']}/{impl}: {fmt_time(res['step_s'])} per step "
                      f"(spread {100 * res['spread']:.1f}%, {res['repeats']} x {res['steps']} "
                      f"steps, {res['wall_s']:.1f} s wall"
                      + (f", other processes <= {fc:.2f} cores" if fc is not None else "") + ")"
                      + ("  [CONTENDED]" if fc is not None and fc > FOREIGN_WARN else ""),
                      flush=True)
            else:
                print(f"  {spec['name']}/{impl}: {res.get('status')}: {res.get('error')}",
                      flush=True)

    rows = []
    for spec in specs:
        for impl, res in per_case[spec["name"]].items():
            if res.get("status") == "ok":
                extra = note(res)
                fc = res.get("foreign_cores_max")
                if fc is not None and fc > FOREIGN_WARN:
                    extra = (extra + "; " if extra else "") + f"CONTENDED ({fc:.2f} cores busy elsewhere)"
                rows.append([spec["name"], impl, res["models"], fmt_time(res["step_s"]),
                             f"{fmt_time(res['step_min_s'])} .. {fmt_time(res['step_max_s'])}",
                             f"{100 * res['spread']:.1f}%", fmt_rate(res["steps_per_s"]),
                             fmt_rate(res["model_steps_per_s"]), f"{res['peak_rss_mib']:.0f}",
                             f"{res['repeats']}x{res['steps']}", extra])
            else:
                err = "glassnet not importable" if res.get("status") == "unavailable" and \
                    "not importable" in res.get("error", "") else \
                    f"{res.get('status')}: {res.get('error', '')}"[:70]
                rows.append([spec["name"], impl, res.get("models", "-"), err, "", "", "", "",
                             f"{res['peak_rss_mib']:.0f}" if "peak_rss_mib" in res else "-",
                             "", ""])
    print()
    print(table(rows, ["case", "impl", "M", "median/step", "min .. max", "spread", "steps/s",
                       "model-steps/s", "RSS MiB", "blocks", "note"]))

    print("\n== ratios (same run) ==")
    for spec in specs:
        print(f"{spec['name']}:")
        for text, rec in ratio_lines(spec, per_case[spec["name"]]):
            print(text)
            all_ratios.append(rec)

    print("\n== thread pools seen in each subprocess (threadpoolctl) ==")
    for res in all_results:
        print(f"  {res['case']}/{res['impl']}: {pools_summary(res)}")
    contended = [f"{r['case']}/{r['impl']}" for r in all_results
                 if (r.get("foreign_cores_max") or 0) > FOREIGN_WARN]
    if contended:
        print(f"\nWARNING: other processes used > {FOREIGN_WARN} cores during timed blocks of "
              f"{', '.join(contended)}; the median is robust to a few such blocks, but rerun "
              f"those (--only CASE --impls IMPL) on a quiet machine before quoting numbers.")
    print(f"\ntotal wall time {time.perf_counter() - t_start:.1f} s")
    _save(args.json, meta, checks, all_results, all_ratios)
    failed_check = any(c.get("passed") is False for c in checks)
    return 1 if failed_check else 0


def _save(path, meta, checks, results, ratios):
    if not path:
        return
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    with open(path, "w") as fh:
        json.dump({"meta": meta, "check": checks, "results": results, "ratios": ratios},
                  fh, indent=1)
    print(f"saved {path}")


def _cpu_name():
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def _git_head():
    try:  # read-only
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                              capture_output=True, text=True, timeout=5).stdout.strip() or None
    except Exception:
        return None


if __name__ == "__main__":
    sys.exit(main())
