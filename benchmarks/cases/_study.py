"""Shared pieces of the whole-study cases (``study_ae838``, ``study_image``).

One timed block is ONE complete run of a study exactly as ``glassnet study NAME --out DIR``
runs it: settings, training every sweep, the analysis, report.md and its figures, and the run
store (``DIR/runs.db``), into a fresh temporary folder (removed afterwards). ``--quick`` runs
the study's own quick form (``glassnet study NAME --quick``) instead of the full one.

These are single-shot wall times: ``steps`` is 1 (so the "per step" time is the study's wall
time), ``repeats`` 1 by default (more with ``--repeats``), no warm-up, glassnet only (there is
no PyTorch version of a study). The driver runs them in full runs only, or when ``--only``
names them.
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from benchmarks import harness
from benchmarks.harness import Runner


def spec(name: str, study: str, title: str, target_s=None) -> dict:
    """The SPEC of the case timing ``glassnet study <study>`` (and its reference path)."""
    ratio = {"a": "glassnet", "kind": "seconds"}
    if target_s is not None:
        ratio["target"] = target_s
    return harness.add_reference_impls({
        "name": name,
        "study": study,
        "title": title,
        "unit": "whole study (single shot)",
        "models": 1,
        "repeats": 1,
        "quick_repeats": 1,
        "full_run_only": True,
        # the full image-classifier study took 686 s at load ~11 on 2 cores (683 s training)
        "timeout": 1800,
        "impls": {"glassnet": {"steps": 1, "quick": 1, "warmup": 0}},
        "ratios": [ratio, {"a": "glassnet_ref", "kind": "seconds"}],
    })


def glassnet_study(cfg, study: str):
    """Runner: ``train(n)`` runs the study n times, each into a fresh temporary folder."""
    harness.import_glassnet()
    from glassnet.studies import get_study

    st = get_study(study)
    info = {"study": study, "mode": "quick" if cfg.quick else "full", "measure_s": []}

    def train(n):
        if n < 1:  # the (empty) warm-up
            return
        for _ in range(n):
            out = Path(tempfile.mkdtemp(prefix=f"glassnet-bench-{study}-"))
            try:
                res = st.run(quick=cfg.quick, out=out, store=out / "runs.db")
                info["measure_s"].append(res.seconds)
                info.update(seeds=res.seeds, figures=len(res.figures), runs=res.extra.get("runs"))
            finally:
                shutil.rmtree(out, ignore_errors=True)
        last = info["measure_s"][-1]
        info["note"] = f"{info['mode']} study; training (measure) {last:.1f} s of it"

    return Runner(train, info=info)
