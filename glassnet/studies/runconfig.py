"""Where the studies meet the experiment configs: data recipes, run configs, the re-run path.

A study obtains its arrays from a :class:`DataRecipe` (a ``[data]`` table of an experiment
config, loaded by the same function ``glassnet train`` loads it with), and every network it
trains is described by a run config that ``glassnet train`` accepts. Everything the studies need
from :mod:`glassnet.experiments` goes through this module and nowhere else, so a change in the
config path is adapted here once:

* :meth:`DataRecipe.load` is the worker's ``load_data`` of the (validated) table;
* :func:`canonical` validates a config into the frozen
  :class:`~glassnet.experiments.schema.RunConfig` a run of ``glassnet train`` trains from (its
  ``as_dict()`` is what the run store keeps and ``glassnet runs show ID --config`` prints);
* :func:`build` builds the networks of a run config the way the worker builds them (to check
  that a study's initial weights are the ones a re-run draws);
* :func:`batch_size_entry` spells a Trainer's batch size the way a config does.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np

from ..errors import GlassnetError
from ..training import FULL_BATCH


class DataRecipe:
    """A ``[data]`` table: a data set from the ``glassnet.data.datasets`` registry with its
    options (or inline arrays), and the split / standardization applied to it.

    ``DataRecipe("circle", options={"n": 400}, validation_split=0.5, standardize=True).load()``
    gives the arrays ``glassnet train`` gives a config with that table: ``x, y`` (training),
    ``x_val, y_val`` (the held-out part, or None), ``num_classes``.
    """

    def __init__(self, name: str | None = None, *, options: dict | None = None, validation_split: float = 0.0,
                 split_seed: int = 0, standardize: bool = False, x=None, y=None):
        table: dict = {}
        if name is not None:
            table["name"] = name
            if options:
                table["options"] = dict(options)
        else:
            table["x"], table["y"] = np.asarray(x).tolist(), np.asarray(y).tolist()
        if validation_split:
            table.update(validation_split=float(validation_split), split_seed=int(split_seed))
        if standardize:
            table["standardize"] = True
        self.table = table

    @classmethod
    def inline(cls, x, y) -> "DataRecipe":
        """Arrays written into the config itself (exact: floats round-trip through JSON/TOML)."""
        return cls(x=x, y=y)

    @property
    def key(self) -> str:
        return json.dumps(self.table, sort_keys=True)

    def load(self):
        """The arrays of this table, as a re-run of the config loads them."""
        import pydantic  # noqa: PLC0415 - studies load the config machinery lazily

        from ..experiments.config import format_error  # noqa: PLC0415
        from ..experiments.schema import DataConfig  # noqa: PLC0415
        from ..experiments.worker import load_data  # noqa: PLC0415

        try:
            table = DataConfig.model_validate(self.table)
        except pydantic.ValidationError as exc:
            raise GlassnetError(f"data recipe: {format_error(exc)}") from None
        return load_data(SimpleNamespace(data=table))  # the worker reads a run config's .data only

    def __repr__(self):
        if "name" in self.table:
            rest = ", ".join(f"{k}={v!r}" for k, v in self.table.items() if k != "name")
            return f"DataRecipe({self.table['name']!r}{', ' if rest else ''}{rest})"
        return f"DataRecipe(inline, {len(self.table['x'])} samples)"


def canonical(raw: dict):
    """The validated run config of ``raw`` (an experiment config without a sweep, with
    ``training.seed``): a frozen RunConfig, whose ``as_dict()`` is what the run store keeps for
    a run of ``glassnet train``; a GlassnetError names the first problem."""
    from ..experiments.config import run_config, validate  # noqa: PLC0415

    return run_config(validate(raw, "run config"))


def build(config, seeds, data):
    """The networks of the run config ``config`` for ``seeds`` (one per seed), built as a re-run
    builds them."""
    from ..experiments.worker import build_model  # noqa: PLC0415

    return build_model(config, [int(s) for s in seeds], data)


def batch_size_entry(batch_size):
    """A Trainer's batch size (a positive int or ``"full"``) as a config's ``training.batch_size``."""
    if batch_size == FULL_BATCH:
        return FULL_BATCH
    if isinstance(batch_size, (int, np.integer)) and not isinstance(batch_size, bool):
        return int(batch_size)
    raise GlassnetError(f"batch size {batch_size!r} has no config spelling")
