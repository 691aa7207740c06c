"""Plateau detection: a planted plateau (synthetic and a real 8-3-8 run) is found; steadily
falling curves are left alone."""

import numpy as np
import pytest

import glassnet as gn
from glassnet.diagnostics import Plateau, detect_plateau
from glassnet.errors import GlassnetError

STEPS = np.arange(0, 2000, 2)


def planted(noise=0.0, seed=0):
    """1.0 falling to 0.44 by step ~150, flat until 900, then falling to ~0.01."""
    s = STEPS.astype(float)
    first = 0.44 + 0.56 * np.exp(-s / 30)
    later = np.where(s > 900, 0.43 * np.exp(-(s - 900) / 200) + 0.01, 0.44)
    curve = np.minimum(first, 1.0) * (later / 0.44)
    return curve * np.exp(noise * np.random.default_rng(seed).normal(size=s.size))


@pytest.mark.parametrize("noise", [0.0, 0.02])
def test_planted_plateau_is_found(noise):
    p = detect_plateau(STEPS, planted(noise))
    assert isinstance(p, Plateau)
    assert 60 <= p.start_step <= 250
    assert 800 <= p.end_step <= 960
    assert p.level == pytest.approx(0.44, rel=0.02)
    assert p.escaped


@pytest.mark.parametrize("curve", [
    np.exp(-STEPS / 400.0),                      # exponential decay
    1.0 / (1 + STEPS / 50.0),                    # 1/t
    (1 + STEPS / 10.0) ** -0.5,                  # slow power law
    np.exp(-STEPS / 400.0) * np.exp(0.03 * np.random.default_rng(1).normal(size=STEPS.size)),  # noisy
])
def test_steadily_falling_curves_have_no_plateau(curve):
    assert detect_plateau(STEPS, curve) is None


def test_flat_from_the_start_needs_min_drop_zero():
    flat = np.full(STEPS.size, 0.7)
    assert detect_plateau(STEPS, flat) is None  # no initial drop
    p = detect_plateau(STEPS, flat, min_drop=0)
    assert p.start_step == 0 and p.end_step == STEPS[-1] and not p.escaped


def test_per_model_curves_and_errors():
    both = np.stack([planted(), np.exp(-STEPS / 400.0)])
    out = detect_plateau(STEPS, both)
    assert isinstance(out[0], Plateau) and out[1] is None
    with pytest.raises(GlassnetError, match="steps and loss"):
        detect_plateau(STEPS[:10], planted())


def autoencoder(lr, steps):
    model = gn.Sequential([gn.Dense(3, activation="sigmoid"), gn.Dense(8, activation="sigmoid")],
                          input_shape=(8,), init=gn.init.Normal(variance=0.01), seed=0, dtype="float64")
    x = np.eye(8)
    return model.fit(x, x, loss="half_sse", optimizer=gn.SGD(lr=lr), batch_size=8, steps=steps, log_every=10)


def test_real_838_plateau_with_a_small_learning_rate():
    hist = autoencoder(lr=0.5, steps=3000)
    p = detect_plateau(hist.steps, hist["loss"])
    assert p is not None
    # on the plateau every output sits near the mean target 1/8, so the half-SSE per sample is
    # 1/2 (7 (1/8)^2 + (7/8)^2) = 7/16 (hand-worked)
    assert p.level == pytest.approx(7 / 16, rel=0.01)
    assert 0 < p.start_step < p.end_step < 3000 and p.end_step - p.start_step >= 300
    assert p.escaped and hist.final("loss") < 0.3


def test_real_convex_run_has_no_plateau():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3))
    y = x @ np.array([[1.0], [-2.0], [0.5]])
    model = gn.Sequential([gn.Dense(1)], input_shape=(3,), seed=0, dtype="float64")
    hist = model.fit(x, y, loss="mse", optimizer=gn.SGD(0.02), batch_size="full", steps=400, log_every=2)
    assert detect_plateau(hist.steps, hist["loss"]) is None
