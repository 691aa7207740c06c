"""Ready-made models from the seeds, built Keras-style from glassnet layers.

Seed ``002_e66a75d790413a6e.txt`` (a homework on 32x32 images) compares a fully connected
classifier with a CNN of "5 convolutional layers [with] 64, 128, 128, 256 and 256 filters, 2
fully-connected layers and a softmax output layer", L2 regularization on the convolutional
layers, batch normalization, and the same CNN with the filters halved. The seed gives neither
kernel sizes, padding, pooling nor the dense widths; the builders below fill them in with the
usual choices of such Keras course models and say so, and every one is an argument.

Both builders return an unbuilt-or-built :class:`~glassnet.model.Sequential` whose last layer
gives logits: train with ``loss="softmax_cross_entropy"`` (softmax and cross-entropy fused, the
same model as Keras' ``Dense(classes, activation="softmax")`` with categorical cross-entropy).
"""

from __future__ import annotations

from .errors import GlassnetError
from .layers import BatchNorm, Conv2D, Dense, Flatten, MaxPool2D
from .model import Sequential
from .regularizers import L2

SEED002_FILTERS = (64, 128, 128, 256, 256)


def _positive_ints(values, name: str) -> tuple[int, ...]:
    try:
        out = tuple(values)
    except TypeError:
        out = ()
    if not out or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in out):
        raise GlassnetError(f"{name} must be a non-empty sequence of positive ints, got {values!r}")
    return out


def seed002_cnn(filters=SEED002_FILTERS, input_shape=(32, 32, 3), classes: int = 10,
                dense_units=(512, 512), l2: float = 5e-4, batch_norm: bool = False,
                halve_filters: bool = False, pool_after=(2, 4), kernel_size: int = 3,
                activation="relu", **model_kwargs) -> Sequential:
    """Seed 002's CNN: five 3x3 convolutions, two dense layers, a softmax output.

    Layout (defaults; ``filters`` may have any length, ``pool_after`` indexes into it)::

        Conv2D(64, 3, padding="same", relu, kernel L2) [-> BatchNorm]
        Conv2D(128, ...) [-> BatchNorm]
        Conv2D(128, ...) [-> BatchNorm] -> MaxPool2D(2)        32x32 -> 16x16
        Conv2D(256, ...) [-> BatchNorm]
        Conv2D(256, ...) [-> BatchNorm] -> MaxPool2D(2)        16x16 -> 8x8
        Flatten (8*8*256 = 16384) -> Dense(512, relu) -> Dense(512, relu) -> Dense(classes)

    From the seed: five conv layers with filters [64, 128, 128, 256, 256], two fully connected
    layers, a softmax output, L2 on the conv kernels, optional batch normalization (Part 1 of the
    seed adds it to the dense model; here after each conv's activation) and the half-filter twin
    [32, 64, 64, 128, 128] (``halve_filters=True``). Our choices, not the seed's: 3x3 kernels,
    "same" padding, stride 1, 2x2 max-pooling after the third and fifth conv, dense widths 512.

    Parameters (per network) with the defaults, input 32x32x3, 10 classes: 1,108,480 in the
    convolutions + 8,389,120 + 262,656 + 5,130 in the dense layers = 9,765,386
    (``halve_filters``: 277,760 + 4,194,816 + 262,656 + 5,130 = 4,740,362); batch norm adds
    2 per channel (+1,664). PyTorch's count of the same architecture is the same (tested).

    Parameters
    ----------
    filters : filters of each conv layer.
    input_shape : ``(height, width, channels)``, channels-last.
    classes : outputs (logits) of the last dense layer.
    dense_units : widths of the hidden dense layers (the seed's "2 fully-connected layers").
    l2 : rate of the L2 penalty ``l2/2 * sum(W^2)`` on every conv kernel (0 for none). Keras'
        ``regularizers.l2(r)`` is ``r * sum(W^2)``, i.e. ``l2 = 2*r`` here.
    batch_norm : add ``BatchNorm()`` after each conv layer's activation.
    halve_filters : use ``filters // 2`` (the seed's second experiment).
    pool_after : indices of the conv layers followed by ``MaxPool2D(2)``.
    kernel_size, activation : of every conv layer (activation also of the hidden dense layers).
    **model_kwargs : passed to :class:`Sequential` (``seed``, ``models``, ``dtype``, ``init``, ...).
    """
    filters = _positive_ints(filters, "filters")
    dense_units = _positive_ints(dense_units, "dense_units") if len(tuple(dense_units)) else ()
    if halve_filters:
        filters = tuple(max(1, f // 2) for f in filters)
    bad = [i for i in pool_after if not isinstance(i, int) or not 0 <= i < len(filters)]
    if bad:
        raise GlassnetError(f"pool_after must index the {len(filters)} conv layers (0..{len(filters) - 1}), "
                            f"got {tuple(pool_after)!r}")
    if isinstance(l2, bool) or not isinstance(l2, (int, float)) or l2 < 0:
        raise GlassnetError(f"l2 must be a number >= 0, got {l2!r}")
    layers = []
    for i, f in enumerate(filters):
        layers.append(Conv2D(f, kernel_size, padding="same", activation=activation,
                             kernel_regularizer=L2(l2) if l2 else None))
        if batch_norm:
            layers.append(BatchNorm())
        if i in pool_after:
            layers.append(MaxPool2D(2))
    layers.append(Flatten())
    layers += [Dense(u, activation=activation) for u in dense_units]
    layers.append(Dense(classes))
    model_kwargs.setdefault("name", "seed002_cnn" + ("_half" if halve_filters else ""))
    return Sequential(layers, input_shape=input_shape, **model_kwargs)


def seed002_dense(hidden=(512, 256), input_shape=(32, 32, 3), classes: int = 10, activation="relu",
                  batch_norm: bool = False, **model_kwargs) -> Sequential:
    """Seed 002's fully connected classifier: Flatten -> hidden Dense layers -> softmax output.

    The seed trains it with ReLU and with Leaky ReLU (``activation="leaky_relu"``, its
    "new_a_model"), with batch sizes 64 and 32, and with batch normalization added
    (``batch_norm=True``: ``BatchNorm()`` after each hidden layer's activation). The widths
    (512, 256) are our choice; the seed does not give them. Input 32x32x3, 10 classes:
    1,573,376 + 131,328 + 2,570 = 1,707,274 parameters.

    ``**model_kwargs`` go to :class:`Sequential` (``seed``, ``models``, ``dtype``, ...).
    """
    hidden = _positive_ints(hidden, "hidden")
    layers = [Flatten()]
    for u in hidden:
        layers.append(Dense(u, activation=activation))
        if batch_norm:
            layers.append(BatchNorm())
    layers.append(Dense(classes))
    model_kwargs.setdefault("name", "seed002_dense")
    return Sequential(layers, input_shape=input_shape, **model_kwargs)
