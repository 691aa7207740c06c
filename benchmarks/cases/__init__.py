"""Benchmark cases.

EXTENSION POINT: ``CASES`` is the list the driver (benchmarks/run.py) walks, in order.
To add a case:

1. create ``benchmarks/cases/<name>.py`` with
   - ``SPEC`` -- a dict: ``name``, ``title``, ``unit`` (what one step is), ``models``
     (models trained together; model-steps/s = models * steps/s), ``repeats`` /
     ``quick_repeats``, ``impls`` {impl: {"steps": N, "quick": n, ...}}, ``check``
     {"impls": [...], "steps": k, "models": m} and ``ratios`` (see ae838_single.py);
   - one function per implementation, named like the ``impls`` keys, taking a
     ``benchmarks.harness.Config`` and returning a ``benchmarks.harness.Runner``
     (``train(n)`` runs n steps; ``loss()`` returns the per-model loss as float64,
     used by ``--check``). Import numpy / torch / glassnet INSIDE the function, never
     at module top level: the driver imports the module only to read SPEC;
   - ``if __name__ == "__main__": harness.main(sys.modules[__name__])``;
2. append ``"<name>"`` to ``CASES`` below.
"""

CASES = [
    "ae838_single",
    "ae838_ensemble",
    "mlp784",
    "cnn32",
    "sweep003",
    "cnn8",
    "study_ae838",
    "study_image",
]
