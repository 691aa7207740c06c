"""Building glassnet models for the estimators, and cutting one network out of an ensemble."""

from __future__ import annotations

import numpy as np

from ..errors import GlassnetError


def mlp_builder(hidden_layer_sizes, activation, dtype):
    """A builder ``(input_shape, n_outputs, seed) -> Sequential``: Dense layers of
    ``hidden_layer_sizes`` units with ``activation``, then a linear Dense of ``n_outputs`` (logits
    for a classifier, values for a regressor)."""
    from ..layers import Dense, Flatten
    from ..model import Sequential

    def build(input_shape, n_outputs, seed):
        layers = [Flatten()] if len(input_shape) > 1 else []
        layers += [Dense(int(h), activation=activation) for h in hidden_layer_sizes]
        layers.append(Dense(int(n_outputs)))
        return Sequential(layers, input_shape=tuple(input_shape), seed=seed, dtype=dtype)

    return build


def build_checked(builder, input_shape, n_outputs, seed, dtype, name="build_fn"):
    """Call ``builder(input_shape, n_outputs, seed)`` and check what comes back: a built
    :class:`~glassnet.Sequential` or graph :class:`~glassnet.Model` of one input and one output,
    per-sample output ``(n_outputs,)``, one network per seed (a list of seeds must reach
    ``Sequential(seed=...)`` / ``Model(..., seed=...)`` as given) and the estimator's dtype."""
    from ..graph import Model
    from ..model import Sequential

    model = builder(tuple(input_shape), int(n_outputs), seed)
    if not isinstance(model, (Sequential, Model)):
        raise GlassnetError(f"{name} must return a glassnet Sequential or Model, got {type(model).__name__}",
                            field=name, value=builder)
    if isinstance(model, Model) and not (model._single_input and model._single_output):
        raise GlassnetError(f"{name} must return a Model of one input and one output (X is one array, y one "
                            f"target), got {len(model.inputs)} inputs and {len(model.outputs)} outputs",
                            field=name, value=builder)
    if not model.built:
        model.build(tuple(input_shape))
    if tuple(model.input_shape) != tuple(input_shape):
        raise GlassnetError(f"{name} built a model for input_shape {model.input_shape}, but the data "
                            f"has per-sample shape {tuple(input_shape)}", field=name, value=builder)
    if tuple(model.output_shape) != (int(n_outputs),):
        raise GlassnetError(f"{name} built a model with output shape {model.output_shape}; the estimator "
                            f"needs ({n_outputs},): one linear output per "
                            f"{'class (logits, no softmax)' if n_outputs else 'target'}",
                            field=name, value=builder)
    seeds = list(seed) if isinstance(seed, (list, tuple)) else [seed]
    if list(model.seeds) != [int(s) for s in seeds]:
        raise GlassnetError(f"{name} must pass its `seed` argument to Sequential(seed=seed) or Model(seed=seed) "
                            f"unchanged (got seeds {model.seeds}, expected {seeds})", field=name, value=builder)
    if model.dtype != np.dtype(dtype):
        raise GlassnetError(f"{name} built a {model.dtype} model but the estimator's dtype is {dtype!r}; "
                            "pass dtype to Sequential or set the estimator's dtype", field=name, value=builder)
    return model


def take_model(model, m: int):
    """Network ``m`` of an ensemble as a single network of the same kind (a Sequential or a graph
    Model) with its own copy of the parameters and buffers; predictions equal row ``m`` of
    ``model.predict``.

    The new model's random streams start afresh from seed ``model.seeds[m]``: further training
    does not continue the ensemble's shuffles (nor its optimizer state, which is not copied).
    """
    from ..network import architecture_header, build_from_header

    if not 0 <= m < model.M:
        raise GlassnetError(f"model index must be in [0, {model.M}), got {m}", field="model_index", value=m)
    arrays = {f"param/{l.name}/{s}": p.value[m] for l in model.layers for s, p in l.params.items()}
    arrays.update({f"buffer/{l.name}/{s}": b[m] for l in model.layers for s, b in l.buffers.items()})
    return build_from_header(architecture_header(model), int(model.seeds[m]), arrays)
