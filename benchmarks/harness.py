"""Child-process side of the benchmark suite.

A case module calls ``main(module)``; this parses the command line the driver built,
builds the requested implementation, times it and prints ONE line
``@@GLASSNET_BENCH@@ {json}`` on stdout, which the driver collects.

Timing protocol (per process, one implementation):

* setup (building models, buffers, importing the library) is timed separately and
  not counted;
* ``warmup`` steps are run once, untimed;
* then ``repeats`` timed blocks of ``steps`` steps each (``time.perf_counter``),
  with the garbage collector collected before and disabled during each block (as
  ``timeit`` does) -- reference counting still frees everything;
* the reported per-step time is the MEDIAN over blocks of (block time / steps);
  min, max and the spread (max - min) / median are reported with it;
* for implementations that go through a ``fit`` call (glassnet), each block is ONE
  ``fit(steps=N)`` call, so per-call setup is included but divided by N; the cost of a
  1-step ``fit`` call is measured separately and reported as ``call_1step_s``.

Contention: this machine is shared, so for every block the CPU time used by OTHER
processes (machine busy time from /proc/stat minus the CPU time of this process's whole
tree -- itself, its children and grandchildren, e.g. a sweep's pool workers -- in cores)
is recorded as ``foreign_cores``; the driver flags runs where it was high
(:class:`CpuMeter`).

Peak memory is ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` of the whole process
(KiB on Linux), reported in MiB; the largest finished child process (RUSAGE_CHILDREN) is
reported beside it where there was one.

JAX implementations (``jax_*``) time float32 and check float64 (``jax_enable_x64``), end
every timed block with ``block_until_ready()`` (so the block waits for the asynchronous
work) and compile in setup (untimed): the first call's time (trace + compile + one run) is
``info["compile_s"]``. ``--threads N`` pins a JAX process to N cores
(``sched_setaffinity``, before XLA builds its thread pool).

``glassnet_ref`` (and ``<glassnet impl>_ref``) is the same code as its glassnet
implementation with ``GLASSNET_FAST=0`` in the environment: the readable reference path
(:func:`add_reference_impls`).
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import statistics
import sys
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

RESULT_PREFIX = "@@GLASSNET_BENCH@@ "


class Unavailable(Exception):
    """The implementation cannot run in this checkout (e.g. glassnet not importable)."""


@dataclass
class Config:
    case: str
    impl: str
    models: int
    dtype: str
    seed: int
    threads: int
    check: bool
    params: dict = field(default_factory=dict)
    quick: bool = False


@dataclass
class Runner:
    """What an implementation function returns.

    train(n): run n training steps.  loss(): current per-model loss, a sequence of
    floats (length = models), computed by the implementation itself.
    fit_overhead: True when train(n) is one call into a library ``fit`` (the harness
    then also measures the cost of a 1-step call).
    trajectory(k): optional, used by --check instead of k x (train(1), loss()): the k+1
    per-model losses before/after each of k steps from ONE training call (glassnet: one
    ``fit(steps=k, log_every=1)``, whose history holds the loss before each update --
    so the check does not depend on what a second ``fit`` call keeps, e.g. momentum).
    """

    train: Callable[[int], Any]
    loss: Optional[Callable[[], Any]] = None
    fit_overhead: bool = False
    info: dict = field(default_factory=dict)
    trajectory: Optional[Callable[[int], Any]] = None


# --------------------------------------------------------------------------- helpers
def import_glassnet():
    """Import glassnet or raise Unavailable with a one-line reason."""
    try:
        import glassnet as gn  # noqa: F401
    except Exception as exc:  # ImportError, or an error inside a half-written package
        raise Unavailable(f"glassnet not importable: {type(exc).__name__}: {exc}") from None
    return gn


REF_ENV = {"GLASSNET_FAST": "0"}


def add_reference_impls(spec):
    """Add ``<impl>_ref`` beside every glassnet implementation of ``spec`` (in place): the same
    function run with :data:`REF_ENV` (``GLASSNET_FAST=0``, the readable reference path) in the
    child's environment; also in the cross-check and as an information ratio
    (fast path vs reference). Returns ``spec``."""
    impls = {}
    for name, ispec in spec["impls"].items():
        impls[name] = ispec
        if name.startswith("glassnet") and not name.endswith("_ref") and "env" not in ispec:
            impls[name + "_ref"] = dict(ispec, base=name, env=dict(REF_ENV))
    spec["impls"] = impls
    chk = spec.get("check")
    if chk:
        names = []
        for name in chk["impls"]:
            names.append(name)
            if name + "_ref" in impls and name + "_ref" not in chk["impls"]:
                names.append(name + "_ref")
        chk["impls"] = names
    ratios = spec.setdefault("ratios", [])
    for name, ispec in impls.items():
        if ispec.get("base") and not any(r["a"] == ispec["base"] and r.get("b") == name for r in ratios):
            ratios.append({"a": ispec["base"], "b": name, "kind": "speedup"})
    return spec


def glassnet_fast_info():
    """Whether glassnet's fast path is switched on in this process (after the import)."""
    mod = sys.modules.get("glassnet.fast")
    if mod is None:
        try:
            import glassnet.fast as mod  # noqa: F811
        except Exception:
            return {}
    info = {"glassnet_fast": bool(mod.enabled())}
    # best effort, private state of glassnet.fast: did the kernels actually run?
    nb = getattr(mod, "_numba", None)
    if info["glassnet_fast"] and nb is False:
        info["note"] = "fast path OFF: numba not importable"
    broken = sorted(getattr(mod, "_broken", ()) or ())
    if info["glassnet_fast"] and broken:
        info["glassnet_fast_broken"] = broken
        info["note"] = f"fast kernels fell back to the reference: {', '.join(broken)}"
    return info


# --------------------------------------------------------------------------- JAX
def import_jax(cfg):
    """Import JAX for the CPU in ``cfg.dtype`` (float64 switches ``jax_enable_x64`` on), pinned to
    ``cfg.threads`` cores; raise Unavailable if it is not installed."""
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    pinned = _pin_cores(cfg.threads)
    try:
        import jax
    except ImportError as exc:
        raise Unavailable(f"jax not installed ({exc}); pip install jax jaxlib") from None
    jax.config.update("jax_enable_x64", cfg.dtype == "float64")
    jax.config.update("jax_platforms", "cpu")
    return jax, {"cores": pinned}


def _pin_cores(n):
    """Restrict this process to ``n`` of its allowed cores (XLA sizes its pool from them)."""
    if not hasattr(os, "sched_getaffinity"):
        return None
    allowed = sorted(os.sched_getaffinity(0))
    if 0 < n < len(allowed):
        os.sched_setaffinity(0, allowed[:n])
    return len(os.sched_getaffinity(0))


def jax_first_call(fn, *args):
    """Call ``fn(*args)`` once and wait for it: (result, seconds) -- trace + compile + one run."""
    import jax

    t0 = time.perf_counter()
    out = jax.block_until_ready(fn(*args))
    return out, time.perf_counter() - t0


def glassnet_param_arrays(model):
    """The model's parameter arrays, in layer order (W, b per Dense), best effort.

    Used only by --check to load the same initial weights as the reference loops.
    """
    import numpy as np

    cand = getattr(model, "params", None)
    if callable(cand):
        cand = cand()
    if cand is None and hasattr(model, "get_weights"):
        cand = model.get_weights()
    if cand is None:
        raise Unavailable("cannot find glassnet parameters (model.params / get_weights)")
    if isinstance(cand, dict):
        cand = list(cand.values())
    out = []
    for p in cand:
        for attr in ("value", "data", "array"):
            if not isinstance(p, np.ndarray) and hasattr(p, attr):
                p = getattr(p, attr)
        if isinstance(p, (tuple, list)) and len(p) == 2 and isinstance(p[1], np.ndarray):
            p = p[1]  # (name, array) pairs
        if not isinstance(p, np.ndarray):
            raise Unavailable(f"glassnet parameter of unexpected type {type(p).__name__}")
        out.append(p)
    return out


def glassnet_load_params(model, arrays):
    """Copy reference arrays (shapes as the reference loops use) into the model in place."""
    import numpy as np

    targets = glassnet_param_arrays(model)
    if len(targets) != len(arrays):
        raise Unavailable(f"glassnet has {len(targets)} parameter arrays, expected {len(arrays)}")
    for t, a in zip(targets, arrays):
        a = np.asarray(a)
        if t.size != a.size:
            raise Unavailable(f"glassnet parameter shape {t.shape} does not fit {a.shape}")
        t[...] = a.reshape(t.shape)


def glassnet_runner(model, fit_kwargs, loss):
    """The Runner of a glassnet implementation: each block is ONE ``model.fit(**fit_kwargs,
    steps=n, log_every=n)`` call; ``loss()`` gives the per-model loss for --check."""

    def train(n):
        model.fit(**fit_kwargs, steps=n, log_every=n)

    return Runner(train, loss, fit_overhead=True,
                  trajectory=lambda k: glassnet_trajectory(model, fit_kwargs, k, loss))


def numpy_ce(logits, labels):
    """Mean softmax cross-entropy in float64: the loss every classifier case reports for --check."""
    import numpy as np

    z = np.asarray(logits, np.float64)
    z = z - z.max(-1, keepdims=True)
    return float(np.mean(np.log(np.exp(z).sum(-1)) - z[np.arange(len(labels)), labels]))


def glassnet_classifier_runner(model, x, labels, optimizer, batch):
    """:func:`glassnet_runner` for a softmax classifier trained full batch on ``(x, labels)``."""
    import numpy as np

    kw = dict(x=x, y=labels, loss="softmax_cross_entropy", optimizer=optimizer, batch_size=batch,
              shuffle=False, progress=False)

    def loss():
        return [numpy_ce(np.asarray(model.predict(x)).reshape(batch, -1), labels)]

    return glassnet_runner(model, kw, loss)


def glassnet_trajectory(model, fit_kwargs, k, final_loss):
    """k+1 per-model losses: the history of ONE fit(steps=k, log_every=1) (loss of the full
    batch before each update) and then ``final_loss()`` after the last update."""
    import numpy as np

    hist = model.fit(**fit_kwargs, steps=k, log_every=1)
    curve = np.asarray(hist["loss"], dtype=np.float64)
    curve = curve.reshape(-1, curve.shape[-1])  # (M, T)
    if curve.shape[1] != k:
        raise Unavailable(f"glassnet history has {curve.shape[1]} points for {k} steps")
    return [list(curve[:, t]) for t in range(k)] + [list(final_loss())]


def thread_report(threads: Optional[int] = None):
    """threadpoolctl's view of the native thread pools loaded in this process."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return [{"error": "threadpoolctl not installed"}]
    keys = ("user_api", "internal_api", "prefix", "version", "num_threads",
            "architecture", "threading_layer")
    return [{k: d.get(k) for k in keys if d.get(k) is not None} for d in threadpool_info()]


def _limit_threads(threads: int):
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return None
    return threadpool_limits(limits=threads)


_CLK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _proc_stat(pid):
    """(ppid, CPU seconds) of one process from /proc/<pid>/stat: utime + stime of all its
    threads plus cutime + cstime (its finished, waited-for children); None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            raw = fh.read()
    except OSError:
        return None
    f = raw[raw.rfind(b")") + 2:].split()  # after "pid (comm) ": state is f[0]
    try:
        return int(f[1]), sum(int(v) for v in f[11:15]) / _CLK
    except (IndexError, ValueError):
        return None


def tree_cpu_s(root=None):
    """CPU-seconds used by process ``root`` (default: this one) and all its descendants
    (children, grandchildren: pool workers, loky/joblib workers), alive or finished and reaped
    inside the tree; None where /proc is unavailable.

    Each process counts its own time (utime + stime) plus its reaped children's (cutime +
    cstime); a child leaves the tree only by being reaped, so nothing is counted twice."""
    root = os.getpid() if root is None else root
    try:
        pids = [int(d) for d in os.listdir("/proc") if d.isdigit()]
    except OSError:
        return None
    stats, kids = {}, {}
    for pid in pids:
        st = _proc_stat(pid)
        if st is not None:
            stats[pid] = st
            kids.setdefault(st[0], []).append(pid)
    if root not in stats:
        return None
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        total += stats[pid][1]
        todo.extend(kids.get(pid, ()))
    return total


class CpuMeter:
    """CPU used by processes OUTSIDE this process's tree while a block runs, in cores.

    ``start()`` before the block, ``stop(seconds)`` after it returns
    ``max(0, machine busy - own tree) / seconds`` (None without /proc). The machine's busy time
    is from /proc/stat; the tree's from :func:`tree_cpu_s`, so a sweep's own worker processes
    are not "contention"."""

    def start(self):
        self.busy0, self.tree0 = _machine_busy_s(), tree_cpu_s()

    def stop(self, seconds):
        busy1, tree1 = _machine_busy_s(), tree_cpu_s()
        if None in (self.busy0, self.tree0, busy1, tree1) or seconds <= 0:
            return None
        self.own_cpu_s = tree1 - self.tree0
        self.busy_cpu_s = busy1 - self.busy0
        return max(0.0, self.busy_cpu_s - self.own_cpu_s) / seconds


def _machine_busy_s():
    """CPU-seconds the whole machine spent busy (all cores, incl. hypervisor steal), from
    /proc/stat; None where unavailable."""
    try:
        with open("/proc/stat") as fh:
            f = [int(v) for v in fh.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = f[3] + (f[4] if len(f) > 4 else 0)  # idle + iowait
    total = sum(f[:8])  # user nice system idle iowait irq softirq steal (guest is in user)
    return (total - idle) / _CLK


def _peak_rss_mib(who=resource.RUSAGE_SELF) -> float:
    rss = resource.getrusage(who).ru_maxrss
    return rss / 1024.0 if sys.platform != "darwin" else rss / (1024.0 * 1024.0)


def _versions():
    v = {"python": platform.python_version()}
    for name in ("numpy", "torch", "glassnet", "jax", "jaxlib"):
        mod = sys.modules.get(name)
        if mod is not None:
            v[name] = getattr(mod, "__version__", "?")
    return v


def _emit(payload: dict):
    sys.stdout.flush()
    sys.stdout.write(RESULT_PREFIX + json.dumps(payload) + "\n")
    sys.stdout.flush()


# --------------------------------------------------------------------------- main
READY_PREFIX = "@@GLASSNET_READY@@"
BLOCK_PREFIX = "@@GLASSNET_BLOCK@@ "


def serve_blocks(block, steps, models, commands=None, emit=print):
    """Paired runs (``benchmarks/sequence.py --paired``): after set-up and warm-up, print
    ``@@GLASSNET_READY@@`` and then run one timed block (``block()`` -> (wall s, own CPU s or
    None)) per ``block`` line read from ``commands`` (stdin), printing each as
    ``@@GLASSNET_BLOCK@@ {json}`` with the time per step; any other line or the end of input
    stops. The driver keeps two such children waiting and alternates their blocks, so that the
    two sides of a ratio are timed within a block of each other, under the same machine state.
    Returns the number of blocks run."""
    commands = sys.stdin if commands is None else commands
    emit(READY_PREFIX, flush=True)
    n = 0
    for line in commands:
        if line.strip() != "block":
            break
        wall, cpu = block()
        n += 1
        emit(BLOCK_PREFIX + json.dumps({"step_s": wall / steps, "cpu_step_s": None if cpu is None else cpu / steps,
                                        "steps": steps, "models": models}), flush=True)
    return n


def main(module, argv=None):
    spec = module.SPEC
    ap = argparse.ArgumentParser(prog=f"python -m {module.__name__}",
                                 description=spec.get("title", spec["name"]))
    ap.add_argument("--impl", required=True, choices=sorted(spec["impls"]))
    ap.add_argument("--steps", type=int, default=None, help="steps per timed block")
    ap.add_argument("--repeats", type=int, default=None, help="timed blocks")
    ap.add_argument("--warmup", type=int, default=None, help="untimed steps first")
    ap.add_argument("--models", type=int, default=None, help="models trained together")
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--check", type=int, default=0, metavar="K",
                    help="instead of timing, report the loss before and after each of K steps")
    ap.add_argument("--serve", action="store_true",
                    help="after the warm-up, time one block per 'block' line on stdin (paired runs, see serve_blocks)")
    args = ap.parse_args(argv)

    ispec = spec["impls"][args.impl]
    for k, v in ispec.get("env", {}).items():  # the driver sets these too; direct runs need them
        os.environ[k] = v
    models = args.models or ispec.get("models") or spec.get("models", 1)
    steps = args.steps or (ispec.get("quick") if args.quick else None) or ispec["steps"]
    repeats = args.repeats or (
        ispec.get("quick_repeats", spec.get("quick_repeats", 3)) if args.quick
        else ispec.get("repeats", spec.get("repeats", 5)))
    warmup = args.warmup if args.warmup is not None else ispec.get("warmup", max(1, steps // 10))
    cfg = Config(case=spec["name"], impl=args.impl, models=models, dtype=args.dtype,
                 seed=args.seed, threads=args.threads, check=bool(args.check),
                 params=dict(spec.get("params", {})), quick=args.quick)
    out = {"case": spec["name"], "impl": args.impl, "models": models, "dtype": args.dtype,
           "threads_requested": args.threads, "mode": "check" if args.check else "bench",
           "env_openblas": {k: os.environ.get(k) for k in
                            ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS",
                             "OMP_NUM_THREADS")}}
    if ispec.get("env"):
        out["env"] = dict(ispec["env"])
    fn = getattr(module, ispec.get("base", args.impl))
    try:
        t0 = time.perf_counter()
        runner = fn(cfg)
        out["setup_s"] = time.perf_counter() - t0
        limiter = _limit_threads(args.threads)  # after imports: covers every loaded pool
        if args.check and runner.trajectory is not None:
            out["losses"] = [[float(v) for v in row] for row in runner.trajectory(args.check)]
        elif args.check:
            if runner.loss is None:
                raise Unavailable("implementation has no loss() for --check")
            losses = [[float(v) for v in runner.loss()]]
            for _ in range(args.check):
                runner.train(1)
                losses.append([float(v) for v in runner.loss()])
            out["losses"] = losses
        else:
            runner.train(warmup)
            times, foreign, own = [], [], []
            meter = CpuMeter()
            gc.collect()

            def block():
                meter.start()
                gc.disable()
                t0 = time.perf_counter()
                runner.train(steps)
                dt = time.perf_counter() - t0
                gc.enable()
                fc = meter.stop(dt)  # CPU of processes outside this tree, in cores (0..ncpu)
                times.append(dt)
                if fc is not None:
                    foreign.append(fc)
                    own.append(meter.own_cpu_s / dt)
                gc.collect()
                return dt, (meter.own_cpu_s if fc is not None else None)

            if args.serve:
                serve_blocks(block, steps, models)
            else:
                for _ in range(repeats):
                    block()
            repeats = len(times)
            if not repeats:
                raise Unavailable("no block was asked for (--serve)")
            per = [t / steps for t in times]
            med = statistics.median(per)
            out.update(
                status="ok", steps=steps, repeats=repeats, warmup=warmup,
                block_s=times, step_s=med, step_min_s=min(per), step_max_s=max(per),
                spread=(max(per) - min(per)) / med if med > 0 else 0.0,
                steps_per_s=1.0 / med, model_steps_per_s=models / med,
                foreign_cores=foreign, foreign_cores_max=max(foreign) if foreign else None,
                own_cores=own,
            )
            if runner.fit_overhead:
                one = []
                for _ in range(5):
                    t0 = time.perf_counter()
                    runner.train(1)
                    one.append(time.perf_counter() - t0)
                out["call_1step_s"] = statistics.median(one)
            if runner.loss is not None:
                fl = [float(v) for v in runner.loss()]
                out["final_loss_mean"] = sum(fl) / len(fl)
        out["status"] = "ok"
        out["info"] = runner.info
        if "glassnet" in sys.modules:
            fast = glassnet_fast_info()
            note = fast.pop("note", None)
            out["info"].update(fast)
            if note:
                out["info"]["note"] = "; ".join(filter(None, [out["info"].get("note"), note]))
        del limiter
    except Unavailable as exc:
        out.update(status="unavailable", error=str(exc))
    except Exception as exc:  # report, do not crash the driver
        tb = traceback.format_exc(limit=-3)
        out.update(status="error", error=f"{type(exc).__name__}: {exc}", traceback=tb)
    out["threadpools"] = thread_report()
    if "torch" in sys.modules:
        torch = sys.modules["torch"]
        out["torch_threads"] = torch.get_num_threads()
    out["versions"] = _versions()
    out["peak_rss_mib"] = _peak_rss_mib()
    children = _peak_rss_mib(resource.RUSAGE_CHILDREN)
    if children > 0:
        out["peak_rss_children_mib"] = children  # the largest finished child (sweep workers)
    _emit(out)
    return 0
