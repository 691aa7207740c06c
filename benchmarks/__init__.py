"""glassnet benchmark suite (not part of the installed package).

Run from the repository root:  ``python benchmarks/run.py`` (see benchmarks/README.md).
Every (case, implementation) pair runs in its own fresh subprocess
(``python -m benchmarks.cases.<case> --impl <impl> ...``) so that one library's
threads and BLAS never slow another's.
"""
