"""scikit-learn interop: glassnet networks as estimators, and a model-axis grid search.

* :class:`GlassnetClassifier`, :class:`GlassnetRegressor`: estimators over an MLP or a
  user-given model builder; they pass scikit-learn's estimator checks (minus
  :data:`EXPECTED_FAILED_CHECKS`) and work in ``Pipeline``, ``GridSearchCV``, ``cross_val_score``.
* :class:`GlassnetSearchCV`: grid or random search with cross-validation that trains every
  candidate x fold (x seed) of one architecture as ONE model-axis program.

Needs scikit-learn >= 1.6 (``pip install glassnet[sklearn]``); ``import glassnet`` does not import it.
"""

from ._checks import EXPECTED_FAILED_CHECKS
from ._estimators import OPTIMIZERS, PER_MODEL_PARAMS, GlassnetClassifier, GlassnetRegressor
from ._models import take_model
from ._search import GlassnetSearchCV

__all__ = ["EXPECTED_FAILED_CHECKS", "GlassnetClassifier", "GlassnetRegressor", "GlassnetSearchCV",
           "OPTIMIZERS", "PER_MODEL_PARAMS", "take_model"]
