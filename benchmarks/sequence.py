#!/usr/bin/env python
"""Sequence and residual models against PyTorch (CPU): issue 13's speed goals, measured.

    python benchmarks/sequence.py                      # all three cases, 3 rounds (~5 min on 2 quiet cores)
    python benchmarks/sequence.py --quick              # smoke run (~1 min)
    python benchmarks/sequence.py --only lstm --rounds 5 --json benchmarks/results/sequence.json
    python benchmarks/sequence.py --threads 1          # 1 BLAS/torch thread (steadier on a busy machine)
    python benchmarks/sequence.py --only lstm16 --paired 16   # 16 pairs of alternating blocks
    python -m benchmarks.sequence --child lstm --impl glassnet --steps 20   # one raw child (JSON line)

Cases (float32; one training step = forward + backward + SGD update; data fixed, trained on
repeatedly, so only the per-step cost is timed):

* ``lstm`` -- one LSTM, batch 32, 50 steps, 16 features, hidden 64, last state -> Dense 10,
  softmax cross-entropy on integer labels, SGD lr 0.01. ``glassnet``:
  ``Sequential([LSTM(64), Dense(10)]).fit``; ``torch_eager``: ``nn.LSTM(batch_first=True)`` +
  ``nn.Linear``, ``F.cross_entropy``, ``optim.SGD``. Goal: glassnet within **1.5x** of PyTorch.
* ``lstm16`` -- 16 small LSTMs (different seeds), batch 32, 50 steps, 8 features, hidden 16,
  Dense 4. ``glassnet``: ``models=16`` on the model axis, one ``fit``; ``torch_loop``: a Python
  loop over 16 (LSTM, Linear) pairs, each with its own ``optim.SGD``. Reported in model-steps/s.
  Goal: glassnet **>= 5x** the loop. ``--hidden`` changes the hidden size of this case (the gap
  depends on it: the loop's cost is mostly per-call overhead, glassnet's grows with the arrays).
* ``residual`` -- 100 MLPs on the model axis, 16 -> 32 -> 32 -> 32 -> 32 -> 1 (ReLU, MSE, full
  batch 64, SGD lr 0.01), plain (``Sequential``) and residual (graph ``Model``: the last three
  hidden layers as ``h = h + relu(Dense(h))``; the same parameters and FLOPs plus three adds);
  peers ``torch_bmm_plain``/``torch_bmm_residual``: the same maths on stacked ``(M, in, out)``
  leaf tensors with ``torch.baddbmm`` and autograd. The goal: the residual ensemble keeps the plain
  dense ensemble's ratio to PyTorch (glassnet residual vs torch residual about glassnet plain vs
  torch plain).

How it measures -- the conventions of ``benchmarks/README.md``, reused rather than copied:
every (case, implementation) runs in its own fresh subprocess (``benchmarks.run.child_env``: the
same thread count for OpenBLAS/OpenMP/MKL, ``OPENBLAS_CORETYPE``/``OPENBLAS_L2_SIZE`` unset) and is
timed by ``benchmarks.harness.main`` (setup and warm-up untimed, ``repeats`` blocks of ``steps``
steps with the garbage collector off, the median of block time / steps, the CPU used by other
processes per block). Ratios are computed from the medians *of the same round*; with
``--rounds N`` every case is measured N times and the table gives each round's ratio and their
median. The children also record their own CPU time per block (``info.cpu_step_s``, median):
on a busy machine it is less disturbed than wall time, and with ``--threads 1`` the two
libraries' CPU times compare directly (with 2 threads a spinning thread pool counts too).

``--paired N`` measures each ratio another way: its two implementations' children are started
together and, once both are set up and warmed up, run one timed block each in turn, N pairs,
the order swapped every pair (:func:`run_paired`, :func:`benchmarks.harness.serve_blocks`). The
two sides of each ratio are then timed seconds apart instead of a child's lifetime apart. Why:
this machine's cores change speed over minutes (the same glassnet child runs lstm16 at ~4.8 or
at ~7.2 ms a step, with 8.5 or 13 ms of CPU), and the two libraries do not change together: in
16 pairs (2026-11-30, 17:51 UTC) the torch loop ran at 26.6-29.1 ms while glassnet was at its
slowest (7.0 ms) and at 43.8-48.0 ms while glassnet was at its fastest (4.8-5.2 ms; correlation
of the pairs' two times -0.40; in 32 pairs at 18:07, +0.07). A ratio from two separate children
pairs such states at random; paired blocks give one ratio per state, and their spread.

Correctness is not re-checked here: ``tests/layers/test_recurrent.py`` compares the LSTM with
``torch.nn.LSTM`` (same weights, float64, 1e-9) and the graph tests cover the residual nets.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import types

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from benchmarks.harness import BLOCK_PREFIX, READY_PREFIX, RESULT_PREFIX, Runner  # noqa: E402

# -- the cases' sizes ---------------------------------------------------------------------------
LSTM = dict(B=32, T=50, C=16, H=64, K=10, lr=0.01)
SMALL = dict(B=32, T=50, C=8, H=16, K=4, lr=0.01, M=16)
RESID = dict(B=64, C=16, W=32, M=100, lr=0.01)


def _cpu_timed(train, info):
    """Wrap ``train(n)`` to record the process CPU time of every call (``info["cpu_calls"]``)."""
    calls = info.setdefault("cpu_calls", [])

    def timed(n):
        c0 = time.process_time()
        train(n)
        calls.append((n, time.process_time() - c0))

    return timed


def _glassnet_fit_runner(model, x, y, loss, lr, batch):
    from benchmarks.harness import import_glassnet

    gn = import_glassnet()
    info = {}

    def train(n):
        model.fit(x, y, loss=loss, optimizer=gn.SGD(lr), batch_size=batch, steps=n, log_every=n,
                  shuffle=False, metrics=[], progress=False)

    return Runner(_cpu_timed(train, info), fit_overhead=True, info=info)


def _torch_runner(step, info=None):
    info = {} if info is None else info

    def train(n):
        for _ in range(n):
            step()

    return Runner(_cpu_timed(train, info), info=info)


def _lstm_data(p, seed, dtype):
    import numpy as np

    rng = np.random.default_rng(seed + 1)
    x = rng.standard_normal((p["B"], p["T"], p["C"])).astype(dtype)
    return x, rng.integers(0, p["K"], p["B"])


# -- lstm --------------------------------------------------------------------------------------
def lstm_glassnet(cfg, p=LSTM, models=None):
    from benchmarks.harness import import_glassnet

    gn = import_glassnet()
    x, y = _lstm_data(p, cfg.seed, cfg.dtype)
    seeds = cfg.seed if models is None else list(range(cfg.seed, cfg.seed + models))
    model = gn.Sequential([gn.LSTM(p["H"]), gn.Dense(p["K"])], input_shape=(p["T"], p["C"]), seed=seeds,
                          dtype=cfg.dtype)
    return _glassnet_fit_runner(model, x, y, "softmax_cross_entropy", p["lr"], p["B"])


def _torch_lstm(torch, p, dtype, seed):
    torch.manual_seed(seed)
    lstm = torch.nn.LSTM(p["C"], p["H"], batch_first=True, dtype=dtype)
    head = torch.nn.Linear(p["H"], p["K"], dtype=dtype)
    opt = torch.optim.SGD(list(lstm.parameters()) + list(head.parameters()), lr=p["lr"])
    return lstm, head, opt


def lstm_torch_eager(cfg, p=LSTM):
    import torch

    torch.set_num_threads(cfg.threads)
    dtype = getattr(torch, cfg.dtype)
    x, y = _lstm_data(p, cfg.seed, cfg.dtype)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    lstm, head, opt = _torch_lstm(torch, p, dtype, cfg.seed)

    def step():
        opt.zero_grad()
        _, (h, _) = lstm(xt)
        torch.nn.functional.cross_entropy(head(h[0]), yt).backward()
        opt.step()

    return _torch_runner(step)


# -- lstm16 ------------------------------------------------------------------------------------
def _small():
    p = dict(SMALL)
    if os.environ.get("GLASSNET_BENCH_HIDDEN"):
        p["H"] = int(os.environ["GLASSNET_BENCH_HIDDEN"])
    return p


def lstm16_glassnet(cfg):
    p = _small()
    return lstm_glassnet(cfg, p, models=cfg.models)


def lstm16_torch_loop(cfg):
    import torch

    torch.set_num_threads(cfg.threads)
    p = _small()
    dtype = getattr(torch, cfg.dtype)
    x, y = _lstm_data(p, cfg.seed, cfg.dtype)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    nets = [_torch_lstm(torch, p, dtype, cfg.seed + m) for m in range(cfg.models)]

    def step():  # one step of every model
        for lstm, head, opt in nets:
            opt.zero_grad()
            _, (h, _) = lstm(xt)
            torch.nn.functional.cross_entropy(head(h[0]), yt).backward()
            opt.step()

    return _torch_runner(step)


# -- residual ----------------------------------------------------------------------------------
def _resid_data(seed, dtype):
    import numpy as np

    p = RESID
    rng = np.random.default_rng(seed + 1)
    x = rng.standard_normal((p["B"], p["C"])).astype(dtype)
    return x, np.sin(x.sum(1, keepdims=True)).astype(dtype)


def _resid_glassnet(cfg, residual):
    from benchmarks.harness import import_glassnet

    gn = import_glassnet()
    p = RESID
    x, y = _resid_data(cfg.seed, cfg.dtype)
    seeds = list(range(cfg.seed, cfg.seed + cfg.models))
    if residual:
        inp = gn.Input((p["C"],))
        h = gn.Dense(p["W"], activation="relu")(inp)
        for _ in range(3):
            h = gn.Add()([h, gn.Dense(p["W"], activation="relu")(h)])
        model = gn.Model(inp, gn.Dense(1)(h), seed=seeds, dtype=cfg.dtype)
    else:
        model = gn.Sequential([gn.Dense(p["W"], activation="relu") for _ in range(4)] + [gn.Dense(1)],
                              input_shape=(p["C"],), seed=seeds, dtype=cfg.dtype)
    return _glassnet_fit_runner(model, x, y, "mse", p["lr"], p["B"])


def residual_glassnet_plain(cfg):
    return _resid_glassnet(cfg, residual=False)


def residual_glassnet_residual(cfg):
    return _resid_glassnet(cfg, residual=True)


def _resid_torch(cfg, residual):
    import torch

    torch.set_num_threads(cfg.threads)
    p, M = RESID, cfg.models
    dtype = getattr(torch, cfg.dtype)
    x, y = (torch.from_numpy(a) for a in _resid_data(cfg.seed, cfg.dtype))
    g = torch.Generator().manual_seed(cfg.seed)
    sizes = [(p["C"], p["W"])] + [(p["W"], p["W"])] * 3 + [(p["W"], 1)]
    params = []
    for fan_in, fan_out in sizes:
        bound = (6.0 / (fan_in + fan_out)) ** 0.5  # Glorot uniform, as glassnet's default
        W = ((torch.rand(M, fan_in, fan_out, generator=g, dtype=dtype) * 2 - 1) * bound).requires_grad_()
        params += [W, torch.zeros(M, 1, fan_out, dtype=dtype, requires_grad=True)]
    opt = torch.optim.SGD(params, lr=p["lr"])
    xb = x.expand(M, *x.shape)

    def forward():
        h = torch.relu(torch.baddbmm(params[1], xb, params[0]))
        for k in range(1, 4):
            z = torch.relu(torch.baddbmm(params[2 * k + 1], h, params[2 * k]))
            h = h + z if residual else z
        return torch.baddbmm(params[9], h, params[8])

    def step():
        opt.zero_grad()
        # the sum over models of each model's mean squared error: each model's gradient is its own
        ((forward() - y) ** 2).mean(dim=(1, 2)).sum().backward()
        opt.step()

    return _torch_runner(step)


def residual_torch_bmm_plain(cfg):
    return _resid_torch(cfg, residual=False)


def residual_torch_bmm_residual(cfg):
    return _resid_torch(cfg, residual=True)


# -- the cases as harness modules ----------------------------------------------------------------
SPECS = {
    "lstm": {
        "name": "lstm", "title": "LSTM batch 32, 50 steps, 16 -> 64 hidden -> Dense 10, SGD", "unit": "training step",
        "models": 1, "repeats": 5, "quick_repeats": 3,
        "impls": {"glassnet": {"steps": 20, "quick": 5, "warmup": 20},
                  "torch_eager": {"steps": 20, "quick": 5, "warmup": 3}},
        "ratios": [{"a": "glassnet", "b": "torch_eager", "kind": "time", "target": 1.5}],
        "fns": {"glassnet": lstm_glassnet, "torch_eager": lstm_torch_eager},
    },
    "lstm16": {
        "name": "lstm16", "title": "16 small LSTMs (batch 32, 50 steps, 8 -> 16 hidden -> Dense 4), SGD",
        "unit": "training step of all 16 models", "models": 16, "repeats": 5, "quick_repeats": 3,
        "impls": {"glassnet": {"steps": 10, "quick": 3, "warmup": 10},
                  "torch_loop": {"steps": 4, "quick": 1, "warmup": 1}},
        "ratios": [{"a": "glassnet", "b": "torch_loop", "kind": "speedup", "target": 5.0}],
        "fns": {"glassnet": lstm16_glassnet, "torch_loop": lstm16_torch_loop},
    },
    "residual": {
        "name": "residual", "title": "100 MLPs 16-32-32-32-32-1 (ReLU, MSE, batch 64): plain vs residual",
        "unit": "training step of all 100 models", "models": 100, "repeats": 5, "quick_repeats": 3,
        "impls": {"glassnet_plain": {"steps": 100, "quick": 20}, "glassnet_residual": {"steps": 100, "quick": 20},
                  "torch_bmm_plain": {"steps": 100, "quick": 20}, "torch_bmm_residual": {"steps": 100, "quick": 20}},
        "ratios": [{"a": "glassnet_plain", "b": "torch_bmm_plain", "kind": "speedup"},
                   {"a": "glassnet_residual", "b": "torch_bmm_residual", "kind": "speedup"},
                   {"a": "glassnet_residual", "b": "glassnet_plain", "kind": "time"},
                   {"a": "torch_bmm_residual", "b": "torch_bmm_plain", "kind": "time"}],
        "fns": {"glassnet_plain": residual_glassnet_plain, "glassnet_residual": residual_glassnet_residual,
                "torch_bmm_plain": residual_torch_bmm_plain, "torch_bmm_residual": residual_torch_bmm_residual},
    },
}


def child(case: str, argv) -> int:
    """Run one implementation of ``case`` through ``benchmarks.harness.main`` (one JSON line)."""
    from benchmarks import harness

    spec = SPECS[case]
    module = types.SimpleNamespace(__name__=f"benchmarks.sequence --child {case}",
                                   SPEC={k: v for k, v in spec.items() if k != "fns"}, **spec["fns"])
    return harness.main(module, argv)


# -- the driver ----------------------------------------------------------------------------------
def run_child(case, impl, extra, env, timeout):
    cmd = [sys.executable, "-m", "benchmarks.sequence", "--child", case, "--impl", impl] + extra
    try:
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"case": case, "impl": impl, "status": "error", "error": f"timed out after {timeout} s"}
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT_PREFIX):
            res = json.loads(line[len(RESULT_PREFIX):])
            break
    else:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return {"case": case, "impl": impl, "status": "error", "error": f"exit {proc.returncode}: " + " | ".join(tail)}
    calls = (res.get("info") or {}).get("cpu_calls") or []
    blocks = [c / n for n, c in calls if n == res.get("steps")]
    if blocks:
        res["cpu_step_s"] = statistics.median(blocks)
    return res


class ServedChild:
    """One implementation's child in ``--serve`` mode (:func:`benchmarks.harness.serve_blocks`):
    set up and warmed up once, then timed a block at a time on request."""

    def __init__(self, case, impl, extra, env, timeout=600.0):
        cmd = [sys.executable, "-m", "benchmarks.sequence", "--child", case, "--impl", impl, "--serve"] + extra
        self.impl, self.timeout = impl, timeout
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self._read(READY_PREFIX)

    def _read(self, prefix):
        """The payload of the child's next ``prefix`` line; a child that stops first, or says nothing
        for ``timeout`` seconds (it is then killed), is one RuntimeError naming it."""
        watchdog = threading.Timer(self.timeout, self.proc.kill)
        watchdog.start()
        try:
            for line in self.proc.stdout:
                if line.startswith(prefix):
                    return line[len(prefix):]
                if line.startswith(RESULT_PREFIX):  # the child stopped early: its result says why
                    res = json.loads(line[len(RESULT_PREFIX):])
                    raise RuntimeError(f"{self.impl}: {res.get('status')}: {res.get('error', '')[:200]}")
        finally:
            watchdog.cancel()
        code = self.proc.wait()
        why = f"no answer in {self.timeout:g} s" if code == -9 else f"exited {code}"
        raise RuntimeError(f"{self.impl}: {why}: " + " | ".join(self.proc.stderr.read().strip().splitlines()[-3:]))

    def block(self):
        """One timed block: ``{"step_s", "cpu_step_s", "steps", "models"}``."""
        self.proc.stdin.write("block\n")
        self.proc.stdin.flush()
        return json.loads(self._read(BLOCK_PREFIX))

    def close(self):
        try:
            self.proc.stdin.close()  # end of input: the child reports and exits
        except OSError:
            pass
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def paired_ratio(r, a, b):
    """The ratio ``r`` (speedup or time, per model-step) of two blocks timed one after the other."""
    ta, tb = a["step_s"] / a["models"], b["step_s"] / b["models"]
    return tb / ta if r["kind"] == "speedup" else ta / tb


def run_paired(case, pairs, extra, env, emit=print, ratios=None, timeout=600.0):
    """``--paired N``: for every ratio of ``case``, its two implementations' children alive at
    once, N pairs of blocks, the order swapped every pair (a b, b a, ...); one ratio per pair.
    Returns one record per ratio: each pair's two times per step (``step_s``), the pairs' ratios
    (wall and CPU), their median and the pairs at the goal. ``ratios``: these instead of the case's."""
    spec, recs = SPECS[case], []
    for r in spec["ratios"] if ratios is None else ratios:
        children = {}
        try:
            for impl in (r["a"], r["b"]):
                children[impl] = ServedChild(case, impl, extra, env, timeout)
            vals, cpus, times = [], [], []
            for i in range(pairs):
                order = (r["a"], r["b"]) if i % 2 == 0 else (r["b"], r["a"])
                got = {impl: children[impl].block() for impl in order}
                vals.append(paired_ratio(r, got[r["a"]], got[r["b"]]))
                times.append([got[r["a"]]["step_s"], got[r["b"]]["step_s"]])
                if got[r["a"]]["cpu_step_s"] and got[r["b"]]["cpu_step_s"]:
                    cpus.append(paired_ratio(r, *({**got[k], "step_s": got[k]["cpu_step_s"]} for k in (r["a"], r["b"]))))
                emit(f"  {case:<9} pair {i + 1:>2}  {r['a']} {fmt_time(got[r['a']]['step_s'])}, "
                     f"{r['b']} {fmt_time(got[r['b']]['step_s'])}: {vals[-1]:.2f}x", flush=True)
        finally:
            for child in children.values():
                child.close()
        label, goal = ratio_label(r)
        med = statistics.median(vals)
        at_goal = None if not r.get("target") else sum(
            (v >= r["target"]) if r["kind"] == "speedup" else (v <= r["target"]) for v in vals)
        recs.append({"case": case, "ratio": label, "goal": goal, "impls": [r["a"], r["b"]], "step_s": times,
                     "pairs": vals, "median": med,
                     "verdict": verdict(r, med), "at_goal": at_goal, "cpu_pairs": cpus,
                     "cpu_median": statistics.median(cpus) if cpus else None})
    return recs


def per_step(res, key="step_s"):
    """Time per step of ONE model (the ratios compare per-model rates)."""
    if res and res.get("status") == "ok" and res.get(key) is not None:
        return res[key] / res["models"]
    return None


def ratio(r, results, key="step_s"):
    ta, tb = per_step(results.get(r["a"]), key), per_step(results.get(r["b"]), key)
    if ta is None or tb is None:
        return None
    return tb / ta if r["kind"] == "speedup" else ta / tb


def ratio_label(r):
    if r["kind"] == "speedup":
        return f"{r['a']} vs {r['b']}, model-steps/s", f">= {r['target']:g}x" if r.get("target") else "info"
    return f"{r['a']} / {r['b']}, time per model-step", f"<= {r['target']:g}x" if r.get("target") else "info"


def verdict(r, v):
    if v is None or not r.get("target"):
        return ""
    ok = v >= r["target"] if r["kind"] == "speedup" else v <= r["target"]
    return "PASS" if ok else "MISS"


def fmt_time(s):
    if s is None:
        return "-"
    return f"{s * 1e6:.1f} µs" if s < 1e-3 else f"{s * 1e3:.2f} ms" if s < 1 else f"{s:.2f} s"


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        return child(argv[1], argv[2:])
    from benchmarks.run import child_env, machine_busy_cores, wait_quiet

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="smoke run: short blocks, 1 round")
    ap.add_argument("--only", default="", help=f"cases, comma separated (default all: {','.join(SPECS)})")
    ap.add_argument("--rounds", type=int, default=None, help="times every case is measured (default 3, quick 1)")
    ap.add_argument("--threads", type=int, default=2, help="BLAS/OpenMP/torch threads per child (default 2)")
    ap.add_argument("--hidden", type=int, default=None, help="hidden size of the lstm16 case (default 16)")
    ap.add_argument("--wait-quiet", type=float, default=5.0, help="wait up to S s for a quiet machine per child")
    ap.add_argument("--timeout", type=float, default=600.0,
                    help="seconds a child may take (--paired: for its set-up, and for each block)")
    ap.add_argument("--json", default=None, help="write every result and ratio here")
    ap.add_argument("--paired", type=int, default=0, metavar="N",
                    help="instead of rounds of separate children: N pairs of blocks from two children "
                         "alive at once, alternating (each ratio's two sides under the same machine state)")
    args = ap.parse_args(argv)
    cases = [c for c in (args.only.split(",") if args.only else SPECS) if c]
    bad = [c for c in cases if c not in SPECS]
    if bad:
        ap.error(f"unknown case(s) {bad}; cases: {', '.join(SPECS)}")
    if args.paired < 0:
        ap.error(f"--paired must be a number of pairs >= 1 (0: rounds instead), got {args.paired}")
    rounds = args.rounds or (1 if args.quick else 3)
    env, removed = child_env(args.threads)
    if args.hidden:
        env["GLASSNET_BENCH_HIDDEN"] = str(args.hidden)
    extra = ["--threads", str(args.threads)] + (["--quick"] if args.quick else [])
    load = machine_busy_cores(1.0)
    mode = f"{args.paired} pairs of blocks" if args.paired else f"{rounds} round(s)"
    print(f"# benchmarks/sequence.py: {mode}, {args.threads} thread(s), cores {os.cpu_count()}, "
          f"machine busy before start: {load:.2f} cores" + (f"; unset {', '.join(removed)}" if removed else ""))
    if args.paired:
        return _main_paired(cases, args, extra, env)
    records, table = [], []
    for case in cases:
        spec = SPECS[case]
        per_round = []
        for rnd in range(rounds):
            results = {}
            for impl in spec["impls"]:
                wait_quiet(0 if args.quick else args.wait_quiet)
                res = run_child(case, impl, extra, env, args.timeout)
                res["round"] = rnd + 1
                results[impl] = res
                records.append(res)
                busy = res.get("foreign_cores")
                print(f"  {case:<9} round {rnd + 1}  {impl:<19} "
                      + (f"{fmt_time(res['step_s'])}/step (cpu {fmt_time(res.get('cpu_step_s'))}), "
                         f"other processes {statistics.median(busy):.2f} cores" if res.get("status") == "ok" and busy
                         else f"{res.get('status')}: {res.get('error', '')[:100]}"), flush=True)
            per_round.append(results)
        for impl in spec["impls"]:
            ok = [r[impl] for r in per_round if r[impl].get("status") == "ok"]
            if ok:
                med = statistics.median(r["step_s"] for r in ok)
                cpu = [r["cpu_step_s"] for r in ok if r.get("cpu_step_s")]
                busy = statistics.median(statistics.median(r["foreign_cores"]) for r in ok if r.get("foreign_cores"))
                table.append([case, impl, ok[0]["models"], fmt_time(med), fmt_time(statistics.median(cpu) if cpu else None),
                              f"{ok[0]['models'] / med:,.0f}", f"{busy:.2f}",
                              ", ".join(fmt_time(r["step_s"]) for r in ok)])
        for r in spec["ratios"]:
            label, goal = ratio_label(r)
            vals = [ratio(r, res) for res in per_round]
            cpus = [ratio(r, res, "cpu_step_s") for res in per_round]
            good = [v for v in vals if v is not None]
            med = statistics.median(good) if good else None
            good_cpu = [v for v in cpus if v is not None]
            rec = {"case": case, "ratio": label, "goal": goal, "rounds": vals, "median": med, "verdict": verdict(r, med),
                   "cpu_rounds": cpus, "cpu_median": statistics.median(good_cpu) if good_cpu else None}
            records.append(rec)
            r["_rec"] = rec
    print("\n| case | impl | M | median / step (wall) | median / step (CPU) | model-steps/s | other processes (cores) | rounds |")
    print("|---|---|---:|---:|---:|---:|---:|---|")
    for row in table:
        print("| " + " | ".join(str(c) for c in row) + " |")
    print("\n| case | ratio (same round, from medians) | rounds | median | CPU-time ratio (median) | goal | verdict |")
    print("|---|---|---|---:|---:|---|---|")
    for rec in (r for r in records if "ratio" in r):
        rounds_txt = ", ".join("-" if v is None else f"{v:.2f}x" for v in rec["rounds"])
        med = "-" if rec["median"] is None else f"{rec['median']:.2f}x"
        cpu = "-" if rec["cpu_median"] is None else f"{rec['cpu_median']:.2f}x"
        print(f"| {rec['case']} | {rec['ratio']} | {rounds_txt} | {med} | {cpu} | {rec['goal']} | {rec['verdict']} |")
    if args.json:
        _write_json(args.json, {"threads": args.threads, "rounds": rounds, "hidden": args.hidden, "records": records})
    return 0


def _write_json(path, payload):
    """``payload`` as JSON at ``path``, written to a temporary name and renamed (no half file)."""
    path = os.path.abspath(path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as fh:
        json.dump(payload, fh, indent=1)
    os.replace(tmp, path)


def _main_paired(cases, args, extra, env):
    from benchmarks.run import wait_quiet

    records = []
    for case in cases:
        wait_quiet(0 if args.quick else args.wait_quiet)
        try:
            records += run_paired(case, args.paired, extra, env, timeout=args.timeout)
        except RuntimeError as exc:  # a child failed: one line naming it, and a failed run
            print(f"sequence.py --paired: {case}: {exc}", file=sys.stderr)
            return 1
    print("\n| case | ratio (pairs of blocks, alternating) | pairs | median | min - max | pairs at goal "
          "| CPU-time ratio (median) | goal | verdict |")
    print("|---|---|---:|---:|---|---:|---:|---|---|")
    for rec in records:
        at = "-" if rec["at_goal"] is None else f"{rec['at_goal']} of {len(rec['pairs'])}"
        cpu = "-" if rec["cpu_median"] is None else f"{rec['cpu_median']:.2f}x"
        print(f"| {rec['case']} | {rec['ratio']} | {len(rec['pairs'])} | {rec['median']:.2f}x | "
              f"{min(rec['pairs']):.2f}x - {max(rec['pairs']):.2f}x | {at} | {cpu} | {rec['goal']} | {rec['verdict']} |")
    if args.json:
        _write_json(args.json, {"threads": args.threads, "paired": args.paired, "hidden": args.hidden,
                                "records": records})
    return 0


if __name__ == "__main__":
    sys.exit(main())
