"""Linear collapse: a network whose activations are all the identity is one affine map.

With z_k = a_{k-1} W_k + b_k and a_k = z_k, composing the layers gives
yhat = x (W_1 W_2 ... W_L) + ((b_1 W_2 + b_2) W_3 + ...) = x W + b (seed 001's 2-3-2-1 network,
seed 004's first question): depth adds no expressive power without a non-linearity.
"""

from __future__ import annotations

import numpy as np

from ..errors import GlassnetError


def collapse_linear(model):
    """The single affine map of a linear network: ``(W (M, in, out), b (M, out))``.

    Allowed layers: Dense with the identity activation, identity Activation layers, Dropout (the
    identity at inference) and Flatten (the input is read flattened, row-major). Anything else
    raises a :class:`GlassnetError` naming the layer.
    """
    from ..layers import Activation, Dense, Dropout, Flatten  # noqa: PLC0415

    if not model.built:
        raise GlassnetError("collapse_linear needs a built model (give input_shape)")
    n_in = int(np.prod(model.input_shape))
    W = np.broadcast_to(np.eye(n_in), (model.M, n_in, n_in)).astype(np.float64)
    b = np.zeros((model.M, n_in))
    for i, layer in enumerate(model.layers):
        if isinstance(layer, Dense):
            if not (isinstance(layer.act, Activation) and layer.act._identity):
                raise GlassnetError(f"collapse_linear needs identity activations; layer {layer.name!r} "
                                    f"uses {layer.act!r}")
            Wk = layer.W.value.astype(np.float64)
            b = np.einsum("mi,mio->mo", b, Wk)
            if layer.use_bias:
                b = b + layer.b.value
            W = W @ Wk
        elif isinstance(layer, Activation) and layer._identity:
            continue
        elif isinstance(layer, Dropout):
            continue
        elif isinstance(layer, Flatten) and i == 0:
            continue
        else:
            raise GlassnetError(f"collapse_linear supports Dense layers with identity activations; "
                                f"layer {layer.name!r} is {layer!r}")
    return W, b


def check_collapse(model, x) -> np.ndarray:
    """Max |network(x) - (x W + b)| per model, ``(M,)``: zero up to rounding for a linear net."""
    W, b = collapse_linear(model)
    xp = model.prepare_inputs(x)
    net = model.forward(xp, train=False)
    lead = xp.ndim - len(model.input_shape)
    flat = xp.reshape(xp.shape[:lead] + (-1,)).astype(np.float64)
    direct = flat @ W + b[:, None, :]
    return np.abs(net - direct).reshape(model.M, -1).max(axis=1)
