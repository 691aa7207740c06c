"""Small experiment configs for the experiments tests (seconds, not minutes)."""

from __future__ import annotations

import copy

BASE = {
    "name": "tiny",
    "data": {"name": "identity8", "options": {"encoding": "k"}},
    "model": {"hidden": [3], "activation": "sigmoid", "output_activation": "sigmoid",
              "init": {"name": "normal", "variance": 0.01}},
    "training": {"loss": "half_sse", "optimizer": {"name": "sgd", "lr": 2.0}, "steps": 300,
                 "batch_size": 8, "log_every": 10},
}


def make_raw(sweep=None, **sections) -> dict:
    """The tiny seed-003 autoencoder config as a dict; ``sections`` update its tables."""
    raw = copy.deepcopy(BASE)
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(raw.get(key), dict):
            raw[key].update(value)
        else:
            raw[key] = value
    if sweep is not None:
        raw["sweep"] = sweep
    return raw


