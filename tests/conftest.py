"""Shared test cases for the engine suite, generated from the registries.

Tests ask for one of these arguments and ``pytest_generate_tests`` parametrizes them, so a new
activation, loss or layer registered in glassnet is picked up by every test that asks:

* ``activation_spec``: every registered activation with its defaults, plus non-default variants
  (leaky_relu/elu alpha, gelu's tanh form) and the learnable ``"prelu"``.
* ``loss_case``: every registered loss with targets of the right kind; the categorical losses
  twice (integer labels and one-hot rows). Output activation and targets follow the loss's
  declared ``task`` and ``from_logits``.
* ``layer_case``: a small network around every registered layer type. Known types have hand-made
  cases; an unknown type is tried with default arguments on flat and image inputs.
* ``optimizer_name``: every registered optimizer (built as ``cls(lr=...)``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Callable

import numpy as np
import pytest

import glassnet as gn
from glassnet.activations import activations
from glassnet.errors import GlassnetError
from glassnet.layers import layer_types
from glassnet.losses import losses
from glassnet.optimizers import optimizers

# -- activations ------------------------------------------------------------------------------

EXTRA_ACTIVATIONS = [
    {"name": "leaky_relu", "alpha": 0.2},
    {"name": "elu", "alpha": 0.5},
    {"name": "gelu", "approximate": "tanh"},
    "prelu",
]
#: activations whose derivative jumps at z = 0: finite differences must stay away from it
KINKED = {"relu", "leaky_relu", "elu", "selu", "prelu"}


def activation_specs() -> list:
    return list(activations.names()) + EXTRA_ACTIVATIONS


def spec_name(spec) -> str:
    return spec["name"] if isinstance(spec, dict) else spec


def spec_id(spec) -> str:
    if isinstance(spec, dict):
        extra = "-".join(f"{k}={v}" for k, v in spec.items() if k != "name")
        return f"{spec['name']}[{extra}]"
    return spec


def away_from_zero(rng, shape, margin: float = 0.2) -> np.ndarray:
    """Random numbers with |value| >= margin: no kink of relu-like functions is near them."""
    z = rng.standard_normal(shape)
    return np.sign(z) * (margin + np.abs(z))


# -- losses -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class LossCase:
    """A registered loss with matching targets.

    ``labels`` is "float" (regression or binary targets), "int" (class labels) or "onehot".
    ``output_activation`` is what the last Dense needs: None for logits/regression, "sigmoid"
    for binary probabilities, "softmax" for class probabilities.
    """

    name: str
    labels: str
    output_activation: str | None
    task: str

    @property
    def id(self) -> str:
        return self.name if self.labels == "float" else f"{self.name}[{self.labels}]"

    def targets(self, rng, B: int, K: int, M: int | None = None) -> np.ndarray:
        """Targets for B samples and K outputs, shared ``(B, ...)`` or per model ``(M, B, ...)``."""
        lead = (B,) if M is None else (M, B)
        if self.task == "regression":
            return rng.standard_normal(lead + (K,))
        if self.task == "binary":
            # soft targets exercise the y*log p + (1-y)*log(1-p) form fully
            return rng.uniform(0.05, 0.95, lead + (K,)).round(1)
        labels = rng.integers(0, K, lead)
        return labels if self.labels == "int" else np.eye(K)[labels]


def loss_cases() -> list[LossCase]:
    cases = []
    for name in losses.names():
        loss = losses.get(name)()
        if loss.task == "multiclass":
            out = None if loss.from_logits else "softmax"
            cases += [LossCase(name, "int", out, loss.task), LossCase(name, "onehot", out, loss.task)]
        elif loss.task == "binary":
            cases.append(LossCase(name, "float", None if loss.from_logits else "sigmoid", loss.task))
        else:
            cases.append(LossCase(name, "float", None, loss.task))
    return cases


# -- layers -----------------------------------------------------------------------------------

@dataclass
class LayerCase:
    """Layers to wrap around a layer type: ``make()`` returns fresh layers for one network."""

    id: str
    make: Callable[[], list]
    input_shape: tuple
    error: str | None = None  # set when no network could be built for an unknown layer type
    kinds: set = field(default_factory=set)
    generic: bool = False  # built by guessing default arguments (see _generic_case)
    #: a graph model instead of a chain: ``graph(**model_kwargs) -> gn.Model`` (merge layers)
    graph: Callable | None = None
    #: inputs other than random floats: ``inputs(rng, shape) -> x`` (token ids for embeddings)
    inputs: Callable | None = None
    #: check dL/dinput too (not for graphs or integer inputs)
    check_input: bool = True

    def build(self, **kwargs):
        """The test network: ``Sequential(make(), input_shape, **kwargs)`` or the graph."""
        if self.graph is not None:
            return self.graph(**kwargs)
        return gn.Sequential(self.make(), input_shape=self.input_shape, **kwargs)

    def data(self, rng, n: int, away_from_zero):
        shape = (n,) + self.input_shape
        return self.inputs(rng, shape) if self.inputs is not None else away_from_zero(rng, shape)


def _merge_graph(**kwargs):
    """Both branches of the input, merged three ways: add (a skip connection), multiply (gating)
    and concatenate, so every merge layer's gradient reaches a fan-out."""
    x = gn.Input((4,))
    h = gn.Dense(4, activation="tanh")(x)
    s = gn.Add()([x, h])
    g = gn.Multiply()([s, gn.Dense(4, activation="sigmoid")(x)])
    return gn.Model(x, gn.Dense(3)(gn.Concatenate()([g, h])), **kwargs)


KNOWN_LAYER_CASES = [
    LayerCase("dense", lambda: [gn.Dense(5, activation="tanh"), gn.Dense(3)], (4,), kinds={"dense"}),
    LayerCase("dense_nobias", lambda: [gn.Dense(5, activation="tanh", use_bias=False),
                                       gn.Dense(3, use_bias=False)], (4,), kinds={"dense"}),
    LayerCase("activation", lambda: [gn.Activation("sigmoid"), gn.Dense(5), gn.Activation("softmax"),
                                     gn.Dense(3)], (4,), kinds={"activation"}),
    LayerCase("prelu_first", lambda: [gn.PReLU(), gn.Dense(3)], (4,), kinds={"prelu"}),
    LayerCase("prelu_image", lambda: [gn.PReLU(alpha_init=0.1), gn.Flatten(), gn.Dense(3)], (2, 3, 2),
              kinds={"prelu", "flatten"}),
    LayerCase("dropout", lambda: [gn.Dense(5, activation="tanh"), gn.Dropout(0.4), gn.Dense(3)], (4,),
              kinds={"dropout"}),
    LayerCase("dropout_first", lambda: [gn.Dropout(0.5), gn.Dense(3)], (4,), kinds={"dropout"}),
    LayerCase("batchnorm", lambda: [gn.Dense(5, activation="tanh"), gn.BatchNorm(), gn.Dense(3)], (4,),
              kinds={"batchnorm"}),
    LayerCase("batchnorm_image", lambda: [gn.BatchNorm(momentum=0.3), gn.Flatten(), gn.Dense(3)], (3, 3, 2),
              kinds={"batchnorm", "flatten"}),
    LayerCase("flatten", lambda: [gn.Flatten(), gn.Dense(3, activation="tanh")], (2, 3, 2), kinds={"flatten"}),
    LayerCase("merge", lambda: [], (4,), kinds={"add", "multiply", "concatenate"}, graph=_merge_graph,
              check_input=False),
    LayerCase("conv1d", lambda: [gn.Conv1D(3, 3, strides=2, padding="same", activation="tanh"),
                                 gn.Conv1D(2, 2, padding="causal", dilation_rate=2), gn.Flatten(), gn.Dense(3)],
              (6, 2), kinds={"conv1d", "flatten"}),
    LayerCase("recurrent", lambda: [gn.SimpleRNN(3, return_sequences=True), gn.LSTM(3, return_sequences=True),
                                    gn.GRU(3)], (4, 2), kinds={"simple_rnn", "lstm", "gru"}),
    LayerCase("attention", lambda: [gn.PositionalEmbedding(5), gn.MultiHeadAttention(2, 2, causal=True), gn.LayerNorm(),
                                    gn.Flatten(), gn.Dense(3)], (4, 4),
              kinds={"positional_embedding", "multi_head_attention", "layernorm"}),
    LayerCase("embedding", lambda: [gn.Embedding(5, 3), gn.Flatten(), gn.Dense(3)], (4,), kinds={"embedding"},
              inputs=lambda rng, shape: rng.integers(0, 5, shape).astype(np.float64), check_input=False),
]


def _generic_case(kind: str) -> LayerCase:
    """A network for a layer type no hand-made case covers: default arguments, flat or image input."""
    cls = layer_types.get(kind)
    for args in [(), (3,), (3, 2)]:
        try:
            cls(*args)
        except (TypeError, GlassnetError):
            continue
        for shape in [(6,), (5, 5, 2)]:
            def make(args=args):
                return [cls(*args), gn.Flatten(), gn.Dense(3)]
            try:
                gn.Sequential(make(), input_shape=shape, dtype="float64")
            except (TypeError, GlassnetError, ValueError):
                continue
            return LayerCase(f"{kind}(generic)", make, shape, kinds={kind}, generic=True)
    return LayerCase(kind, lambda: [], (1,), error=f"no test network for layer type {kind!r}: add a "
                                                     "case to KNOWN_LAYER_CASES in tests/conftest.py")


def layer_cases() -> list[LayerCase]:
    covered = set().union(*(c.kinds for c in KNOWN_LAYER_CASES))
    extra = [_generic_case(k) for k in layer_types.names() if k not in covered]
    return KNOWN_LAYER_CASES + extra


# -- parametrization --------------------------------------------------------------------------

def pytest_generate_tests(metafunc):
    if "activation_spec" in metafunc.fixturenames:
        specs = activation_specs()
        metafunc.parametrize("activation_spec", specs, ids=[spec_id(s) for s in specs])
    if "loss_case" in metafunc.fixturenames:
        cases = loss_cases()
        metafunc.parametrize("loss_case", cases, ids=[c.id for c in cases])
    if "layer_case" in metafunc.fixturenames:
        cases = layer_cases()
        metafunc.parametrize("layer_case", cases, ids=[c.id for c in cases])
    if "optimizer_name" in metafunc.fixturenames:
        metafunc.parametrize("optimizer_name", optimizers.names())


@pytest.fixture(scope="session")
def cases():
    """The helpers above for test modules (test files do not import conftest: with several
    conftest.py files in the tree that import is ambiguous)."""
    return SimpleNamespace(KINKED=KINKED, away_from_zero=away_from_zero, spec_name=spec_name,
                           spec_id=spec_id, activation_specs=activation_specs, loss_cases=loss_cases,
                           layer_cases=layer_cases)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture(autouse=True)
def _restore_default_dtype():
    """Tests that change the default dtype must not leak it into others."""
    before = gn.backend.get_default_dtype()
    yield
    gn.set_default_dtype(before)
