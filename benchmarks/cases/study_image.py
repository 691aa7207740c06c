"""study_image -- wall time of the whole ``image-classifier`` study
(``glassnet study image-classifier``), glassnet only, single shot (wall time for information: no
target was set); see :mod:`benchmarks.cases._study`."""
from __future__ import annotations

import sys

from benchmarks import harness
from benchmarks.cases import _study

SPEC = _study.spec("study_image", "image-classifier",
                    "the image-classifier study (seed 002): glassnet study image-classifier",
                    target_s=None)


def glassnet(cfg):
    """``glassnet.studies.get_study("image-classifier").run(out=TMP, store=TMP/runs.db)``, once per block."""
    return _study.glassnet_study(cfg, SPEC["study"])


if __name__ == "__main__":
    sys.exit(harness.main(sys.modules[__name__]))
