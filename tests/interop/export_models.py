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
