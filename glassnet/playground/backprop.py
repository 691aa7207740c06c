"""Step-by-step backprop for one point: seed 001's calculation, live, on the page's network.

The numbers are the engine's own: :func:`glassnet.diagnostics.trace_model` runs
``model.forward``, the loss's ``value_and_grad`` and each layer's ``backward`` on the one point
and keeps every intermediate array. For each column ``l`` (a Dense layer, its activation f):

    forward:   z_l = a_{l-1} W_l + b_l,   a_l = f(z_l)            (a_0 = x, the input features)
    backward:  dL/dz_l = dL/da_l * f'(z_l),   dL/da_{l-1} = dL/dz_l W_l^T
    gradient:  dL/dW_l = a_{l-1}^T dL/dz_l (+ the L1/L2 penalty's gradient),  dL/db_l = dL/dz_l
    update:    W_l <- W_l - lr * dL/dW_l   (one plain SGD step on this point)

The trace runs on a copy of the network made of its Dense layers only: dropout is the identity
outside training, so the copy computes exactly what the page shows. Batch norm mixes the points
of a batch, so one point has no step of its own: the trace is refused while it is on. In an
ensemble the trace follows the main view's copy (its weights, activation and learning rate).
"""

from __future__ import annotations

import numpy as np

from ..data.toy2d import features
from ..diagnostics import trace_model
from ..errors import GlassnetError
from ..layers import Dense
from ..model import Sequential


def _list(a) -> list:
    """Full float64 precision: a vanishing gradient of 1e-9 must not read as 0 (the page
    formats numbers to significant digits, in scientific notation where small)."""
    return np.asarray(a, dtype=np.float64).tolist()


def _dense_copy(session) -> Sequential:
    if session.settings["batchNorm"]:
        raise GlassnetError("the backprop trace needs batch norm off: batch norm has no step for one point alone")
    m = session.focus
    layers = [Dense(g.dense.units, activation=g.activations[m]) for g in session.groups]
    copy = Sequential(layers, input_shape=session.model.input_shape, dtype="float64", name="trace")
    for g, layer in zip(session.groups, copy.layers):
        layer.W.value[...] = g.dense.W.value[m:m + 1]
        layer.b.value[...] = g.dense.b.value[m:m + 1]
    return copy


def _compute(session, x1: float, x2: float, label):
    """The engine's trace for one point, and each layer's full weight gradient (penalty included)."""
    x = features(np.array([[x1, x2]]), session.feature_names)  # (1, F)
    y = session._targets(np.array([label]))
    with np.errstate(all="ignore"):
        t = trace_model(_dense_copy(session), x, y, loss=session.loss, lr=session.focus_settings["learningRate"])
        grads = {}
        for p in t.params:
            g = p.grad
            if p.kind == "W" and session.reg is not None:
                g = g + session.reg.grad(p.value)
            grads[(p.k, p.kind)] = g
    return x, t, grads


def trace(session, x1: float, x2: float, label) -> dict:
    """The ``trace`` message for the point ``(x1, x2)`` with ``label`` (class or target)."""
    x, t, grads = _compute(session, x1, x2, label)
    lr = session.focus_settings["learningRate"]
    columns = []
    for lt in t.layers:
        dW, db = grads[(lt.k, "W")][0], grads[(lt.k, "b")][0]
        fprime = lt.fprime[0, 0] if lt.fprime is not None else np.full(lt.z.shape[-1], np.nan)
        columns.append({"activation": session.groups[lt.k - 1].activations[session.focus],
                        "input": _list(lt.inp[0, 0]), "z": _list(lt.z[0, 0]), "a": _list(lt.a[0, 0]),
                        "fprime": _list(fprime), "dL_da": _list(lt.dL_da[0, 0]), "dL_dz": _list(lt.delta[0, 0]),
                        "W": _list(lt.W[0]), "b": _list(lt.b[0]), "dW": _list(dW), "db": _list(db),
                        "newW": _list(lt.W[0] - lr * dW), "newB": _list(lt.b[0] - lr * db)})
    target = t.y.reshape(-1).tolist()
    return {"type": "trace", "point": [x1, x2], "label": label,
            "target": target[0] if len(target) == 1 else target,
            "features": session.feature_names, "x": _list(x[0]), "prediction": _list(t.yhat[0, 0]),
            "loss": float(t.loss_value[0]), "lossName": session.loss.name, "learningRate": lr,
            "penalty": session.focus_settings["regularization"] if session.reg is not None else "none",
            "columns": columns}


def apply(session, x1: float, x2: float, label) -> None:
    """Take the traced step: ``W <- W - lr dL/dW`` and ``b <- b - lr dL/db`` in every column."""
    lr, m = session.focus_settings["learningRate"], session.focus
    _, t, grads = _compute(session, x1, x2, label)
    for g, lt in zip(session.groups, t.layers):
        g.dense.W.value[m] -= lr * grads[(lt.k, "W")][0]
        g.dense.b.value[m] -= lr * grads[(lt.k, "b")][0]
