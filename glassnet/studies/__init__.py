"""One-command studies that reproduce the seed experiments: ``glassnet study NAME``.

Each study module registers one :class:`Study` in ``studies``; a study measures (trains the
networks), then analyzes the measurements into a Markdown report with figures whose findings are
generated from the numbers (see :mod:`glassnet.studies.report`).

>>> from glassnet.studies import run_study
>>> result = run_study("dead-relu", quick=True, out="/tmp/dead-relu")   # doctest: +SKIP
>>> result.findings[0]                                                   # doctest: +SKIP
"""

from .base import DEFAULT_ROOT, Study, StudyResult, all_studies, get_study, run_study, studies

# importing a study module registers it
from . import autoencoder_838  # noqa: E402,F401  isort: skip

__all__ = ["DEFAULT_ROOT", "Study", "StudyResult", "all_studies", "get_study", "run_study", "studies"]
from . import dead_relu  # noqa: E402,F401  isort: skip
from . import initialization  # noqa: E402,F401  isort: skip
from . import activations  # noqa: E402,F401  isort: skip
from . import momentum  # noqa: E402,F401  isort: skip
from . import dropout_cost  # noqa: E402,F401  isort: skip
from . import playground_exercises  # noqa: E402,F401  isort: skip
from . import image_classifier  # noqa: E402,F401  isort: skip
from . import sparsity  # noqa: E402,F401  isort: skip
from . import loss_landscape  # noqa: E402,F401  isort: skip
from . import vanishing_gradients  # noqa: E402,F401  isort: skip
from . import sequence_memory  # noqa: E402,F401  isort: skip
