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
processes (machine busy time from /proc/stat minus this process's CPU time, in cores)
is recorded as ``foreign_cores``; the driver flags runs where it was high.

Peak memory is ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` of the whole process
(KiB on Linux), reported in MiB.
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


def _peak_rss_mib() -> float:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 1024.0 if sys.platform != "darwin" else rss / (1024.0 * 1024.0)


def _versions():
    v = {"python": platform.python_version()}
    for name in ("numpy", "torch", "glassnet"):
        mod = sys.modules.get(name)
        if mod is not None:
            v[name] = getattr(mod, "__version__", "?")
    return v


def _emit(payload: dict):
    sys.stdout.flush()
    sys.stdout.write(RESULT_PREFIX + json.dumps(payload) + "\n")
    sys.stdout.flush()


# --------------------------------------------------------------------------- main
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
    args = ap.parse_args(argv)

    ispec = spec["impls"][args.impl]
    models = args.models or ispec.get("models") or spec.get("models", 1)
    steps = args.steps or (ispec.get("quick") if args.quick else None) or ispec["steps"]
    repeats = args.repeats or (
        ispec.get("quick_repeats", spec.get("quick_repeats", 3)) if args.quick
        else ispec.get("repeats", spec.get("repeats", 5)))
    warmup = args.warmup if args.warmup is not None else ispec.get("warmup", max(1, steps // 10))
    cfg = Config(case=spec["name"], impl=args.impl, models=models, dtype=args.dtype,
                 seed=args.seed, threads=args.threads, check=bool(args.check),
                 params=dict(spec.get("params", {})))
    out = {"case": spec["name"], "impl": args.impl, "models": models, "dtype": args.dtype,
           "threads_requested": args.threads, "mode": "check" if args.check else "bench",
           "env_openblas": {k: os.environ.get(k) for k in
                            ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS",
                             "OMP_NUM_THREADS")}}
    fn = getattr(module, args.impl)
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
            times, foreign = [], []
            gc.collect()
            for _ in range(repeats):
                busy0, cpu0 = _machine_busy_s(), time.process_time()
                gc.disable()
                t0 = time.perf_counter()
                runner.train(steps)
                dt = time.perf_counter() - t0
                gc.enable()
                busy1, cpu1 = _machine_busy_s(), time.process_time()
                times.append(dt)
                if busy0 is not None and busy1 is not None:
                    # CPU used by OTHER processes during the block, in cores (0..ncpu)
                    foreign.append(max(0.0, (busy1 - busy0) - (cpu1 - cpu0)) / dt)
                gc.collect()
            per = [t / steps for t in times]
            med = statistics.median(per)
            out.update(
                status="ok", steps=steps, repeats=repeats, warmup=warmup,
                block_s=times, step_s=med, step_min_s=min(per), step_max_s=max(per),
                spread=(max(per) - min(per)) / med if med > 0 else 0.0,
                steps_per_s=1.0 / med, model_steps_per_s=models / med,
                foreign_cores=foreign, foreign_cores_max=max(foreign) if foreign else None,
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
    _emit(out)
    return 0
