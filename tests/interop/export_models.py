"""Models the export tests run through ONNX and PyTorch: every exportable layer and activation."""

import numpy as np

import glassnet as gn

# every activation with an export, with options where it has some
ACTIVATIONS = ["identity", "relu", {"name": "leaky_relu", "alpha": 0.2}, "elu", {"name": "elu", "alpha": 0.5},
               "selu", "tanh", "sigmoid", "softmax", "softplus", "gelu", {"name": "gelu", "approximate": "tanh"},
               "swish", "prelu"]


def act_id(spec):
    return spec if isinstance(spec, str) else "-".join(str(v) for v in spec.values())


def dense_model(activation, seed=0, dtype="float32", models=None):
    return gn.Sequential([gn.Dense(7, activation=activation), gn.Dropout(0.3), gn.Dense(4, activation=activation)],
                         input_shape=(5,), seed=seed, models=models, dtype=dtype)


def image_models(dtype="float32"):
    """``{name: (model, per-sample input shape)}``: convolutions, pooling and batch norm in many
    settings (valid/same/uneven same padding, strides, pooling windows that do not tile)."""
    I = (9, 9, 2)
    return {
        "conv_valid_maxpool": [gn.Conv2D(3, 3, activation="relu"), gn.MaxPool2D(2), gn.Flatten(), gn.Dense(3)],
        "conv_same_stride2_prelu": [gn.Conv2D(4, 3, strides=2, padding="same", activation="prelu"), gn.Flatten(),
                                    gn.Dense(3, activation="softmax")],
        "conv_uneven_same_padding": [gn.Conv2D(3, 2, padding="same", activation="tanh"),
                                     gn.Conv2D(2, (2, 3), strides=(2, 1), padding="same"), gn.Flatten(), gn.Dense(2)],
        "conv_int_padding_no_bias": [gn.Conv2D(3, 3, padding=1, use_bias=False, activation="elu"), gn.Flatten(),
                                     gn.Dense(2)],
        "pools_same_overlapping": [gn.Conv2D(3, 3, activation="swish"), gn.MaxPool2D(3, strides=2, padding="same"),
                                   gn.AvgPool2D(2, strides=1, padding="same"), gn.AvgPool2D(2), gn.Flatten(),
                                   gn.Dense(2)],
        "batchnorm_gap": [gn.Conv2D(4, 3, activation="gelu"), gn.BatchNorm(), gn.Activation("softmax"),
                          gn.GlobalAveragePooling2D(), gn.BatchNorm(), gn.Dense(3, activation="sigmoid")],
        "channels_last_prelu_dropout": [gn.PReLU(), gn.Dropout(0.5), gn.Conv2D(2, 3), gn.Activation("selu"),
                                        gn.Flatten(), gn.PReLU(), gn.Dense(2)],
        "image_output": [gn.Conv2D(3, 3, padding="same", activation="leaky_relu"), gn.AvgPool2D(3, padding="same")],
    }, I


def trained(layers, input_shape, seed=0, dtype="float32", models=None):
    """A model trained a few steps (so batch-norm statistics and PReLU slopes are not at their
    initial values), with the batch it was trained on."""
    model = gn.Sequential(layers, input_shape=input_shape, seed=seed, models=models, dtype=dtype)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((16,) + tuple(input_shape)).astype(dtype)
    y = rng.standard_normal((16,) + tuple(model.output_shape)).astype(dtype)
    model.fit(x, y, loss="mse", optimizer=gn.SGD(0.05), epochs=3, batch_size=8, progress=False)
    return model, x


def graph_models(dtype="float32", seed=0):
    """``{name: graph Model}``: skip connections and merges, on vectors and on images, with one
    or several inputs and outputs."""
    out = {}
    # a residual MLP: x -> dense -> dense (+ x) -> relu -> head
    x = gn.Input((6,))
    h = gn.Dense(6, activation="tanh")(x)
    h = gn.Dense(6)(h)
    h = gn.Activation("relu")(gn.Add()([x, h]))
    out["residual"] = gn.Model(x, gn.Dense(3)(h), seed=seed, dtype=dtype)
    # two branches of different widths joined by Concatenate
    x = gn.Input((5,))
    a = gn.Dense(4, activation="relu")(x)
    b = gn.Dense(3, activation="sigmoid")(gn.Dropout(0.2)(x))
    out["two_branch_concat"] = gn.Model(x, gn.Dense(2, activation="softmax")(gn.Concatenate()([a, b, x])),
                                        seed=seed, dtype=dtype)
    # a gate: Multiply of a sigmoid branch and a value branch, three inputs to one Add
    x = gn.Input((4,))
    gate = gn.Dense(4, activation="sigmoid")(x)
    val = gn.Dense(4, activation="tanh")(x)
    y = gn.Add()([gn.Multiply()([gate, val]), x, gn.Dense(4)(x)])
    out["gated_add"] = gn.Model(x, gn.Dense(2)(y), seed=seed, dtype=dtype)
    # image residual block: the Add stays channels-first, the input is transposed once for two readers
    x = gn.Input((6, 6, 2))
    c = gn.Conv2D(2, 3, padding="same", activation="relu")(x)
    c = gn.BatchNorm()(gn.Conv2D(2, 3, padding="same")(c))
    r = gn.Add()([x, c])
    p = gn.MaxPool2D(2)(r)
    out["conv_residual"] = gn.Model(x, gn.Dense(3)(gn.Flatten()(p)), seed=seed, dtype=dtype)
    # image branches concatenated on the channel axis, an image output
    x = gn.Input((5, 5, 3))
    a = gn.Conv2D(2, 1, activation="swish")(x)
    b = gn.AvgPool2D(3, strides=1, padding="same")(x)
    out["conv_concat_image_output"] = gn.Model(x, gn.Concatenate()([a, b, x]), seed=seed, dtype=dtype)
    # two inputs, two outputs (one an image-free head on the flattened image)
    xa, xb = gn.Input((4, 4, 1), name="image"), gn.Input((3,), name="extra")
    f = gn.Flatten()(gn.Conv2D(2, 2, activation="relu")(xa))
    j = gn.Concatenate()([f, gn.Dense(3, activation="tanh")(xb)])
    out["two_inputs_two_outputs"] = gn.Model([xa, xb], [gn.Dense(2, name="head_a")(j),
                                                        gn.Dense(1, activation="sigmoid", name="head_b")(j)],
                                             seed=seed, dtype=dtype)
    return out


def trained_graph(model, seed=0):
    """``model`` trained a few steps, with the batch it was trained on (a list of arrays for
    several inputs)."""
    rng = np.random.default_rng(seed)
    dtype = model.dtype
    shapes = model.input_shapes
    xs = [rng.standard_normal((16,) + tuple(s)).astype(dtype) for s in shapes]
    outs = model.output_shape if isinstance(model.output_shape, list) else [model.output_shape]
    ys = [rng.standard_normal((16,) + tuple(s)).astype(dtype) for s in outs]
    x = xs[0] if len(xs) == 1 else xs
    y = ys[0] if not isinstance(model.output_shape, list) else ys
    model.fit(x, y, loss="mse", optimizer=gn.SGD(0.05), epochs=3, batch_size=8, progress=False)
    return model, x
