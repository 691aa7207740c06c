"""Hyperparameter search inside one fit: the configurations are models on the model axis.

* :func:`successive_halving` and :func:`hyperband`: score at rungs, stop the worse fraction,
  optionally refill the freed slots with new configurations (:mod:`glassnet.tune.halving`);
* :func:`pbt`: population-based training, the worse models copy a better one's weights and
  optimizer state and perturb its hyperparameters, with the lineage recorded
  (:mod:`glassnet.tune.pbt`);
* :func:`grid` and :func:`sample`: configurations to try.

>>> import glassnet as gn
>>> from glassnet import tune
>>> configs = tune.grid(lr=[0.01, 0.1, 1.0], momentum=[0.0, 0.9])          # doctest: +SKIP
>>> result = tune.successive_halving(lambda seeds: gn.Sequential([...], input_shape=(64,), seed=seeds),
...                                  x, y, configs, validation_data=(xv, yv), loss="softmax_cross_entropy",
...                                  min_steps=50, max_steps=450)           # doctest: +SKIP
>>> result.best.config                                                     # doctest: +SKIP
"""

from .halving import Trial, TuneResult, hyperband, hyperband_brackets, rung_ages, successive_halving
from .pbt import PBTResult, pbt
from .space import grid, sample

__all__ = ["PBTResult", "Trial", "TuneResult", "grid", "hyperband", "hyperband_brackets", "pbt", "rung_ages",
           "sample", "successive_halving"]
