"""study_ae838 -- wall time of the whole ``autoencoder-838`` study
(``glassnet study autoencoder-838``), glassnet only, single shot (73 s at the last measure
before issue 17; goal < 30 s); see :mod:`benchmarks.cases._study`."""
from __future__ import annotations

import sys

from benchmarks import harness
from benchmarks.cases import _study

SPEC = _study.spec("study_ae838", "autoencoder-838",
                    "the autoencoder-838 study (seed 003): glassnet study autoencoder-838",
                    target_s=30.0)


def glassnet(cfg):
    """``glassnet.studies.get_study("autoencoder-838").run(out=TMP, store=TMP/runs.db)``, once per block."""
    return _study.glassnet_study(cfg, SPEC["study"])


if __name__ == "__main__":
    sys.exit(harness.main(sys.modules[__name__]))
