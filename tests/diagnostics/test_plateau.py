"""Plateau detection (rule in glassnet/diagnostics/plateau.py): a stall between falls is found
wherever a curve has one (synthetic curves, and real 8-k-8 autoencoders of every width k = 2..5);
steadily falling curves, converging tails and noise are left alone."""

import numpy as np
import pytest

import glassnet as gn
from glassnet.diagnostics import Plateau, detect_plateau
from glassnet.diagnostics.plateau import detect_plateaus
from glassnet.errors import GlassnetError

STEPS = np.arange(0, 2000, 2)
S = STEPS.astype(float)
#: the loss of an autoencoder that outputs the mean target 1/8 for each of the 8 one-hot patterns:
#: half-SSE per sample 1/2 (7 (1/8)^2 + (7/8)^2) = 7/16 (hand-worked)
CONSTANT_OUTPUT_LOSS = 7 / 16


def noisy(curve, noise, seed=0):
    return curve * np.exp(noise * np.random.default_rng(seed).normal(size=curve.size))


def planted():
    """1.0 falling to 0.44 by step ~150, flat until 900, then falling to ~0.01."""
    first = 0.44 + 0.56 * np.exp(-S / 30)
    later = np.where(S > 900, 0.43 * np.exp(-(S - 900) / 200) + 0.01, 0.44)
    return np.minimum(first, 1.0) * (later / 0.44)


def two_plateaus():
    """1 -> 0.5 by step 40, flat (0.5 -> 0.48) to 600, down to 0.1 by 800, flat to 1300, then
    down to 0.01 (piecewise linear in log-loss)."""
    return np.exp(np.interp(S, [0, 40, 600, 800, 1300, 1500, 1998],
                            np.log([1, 0.5, 0.48, 0.1, 0.095, 0.02, 0.01])))


@pytest.mark.parametrize("noise", [0.0, 0.02, 0.1])
def test_planted_plateau_is_found(noise):
    (p,) = detect_plateaus(STEPS, noisy(planted(), noise))
    assert isinstance(p, Plateau)
    assert 30 <= p.start_step <= 250
    assert 800 <= p.end_step <= 960
    assert p.level == pytest.approx(0.44, rel=0.02)
    assert p.escaped


@pytest.mark.parametrize("noise", [0.0, 0.05])
def test_two_plateaus_are_both_found_in_order(noise):
    curve = noisy(two_plateaus(), noise)
    first, second = detect_plateaus(STEPS, curve)
    assert first.level == pytest.approx(0.49, rel=0.03) and second.level == pytest.approx(0.097, rel=0.05)
    assert 0 <= first.start_step <= 100 and 500 <= first.end_step <= 640
    assert 760 <= second.start_step <= 900 and 1200 <= second.end_step <= 1340
    assert first.escaped and second.escaped
    assert detect_plateau(STEPS, curve) == first  # the longest


STEADY = {
    "exponential": np.exp(-S / 400.0),
    "1/t": 1.0 / (1 + S / 50.0),
    "1/t over three decades": 1.0 / (1 + S / 2.0),
    "slow power law": (1 + S / 10.0) ** -0.5,
    "two time scales": 0.5 * np.exp(-S / 100) + 0.5 * np.exp(-S / 1000),
}


@pytest.mark.parametrize("name", STEADY)
@pytest.mark.parametrize("noise", [0.0, 0.03, 0.1])
def test_steadily_falling_curves_have_no_plateau(name, noise):
    for seed in range(5):
        assert detect_plateaus(STEPS, noisy(STEADY[name], noise, seed)) == [], (name, noise, seed)


@pytest.mark.parametrize("noise", [0.0, 0.03])
def test_a_converging_tail_is_not_a_plateau(noise):
    """A loss that falls and levels off at 0.3: the flat tail is never left, so by default it is
    not a plateau (a curve cannot tell it from a minimum); until_end=True reports it, unescaped."""
    tail = noisy(0.3 + 0.7 * np.exp(-S / 100), noise)
    assert detect_plateaus(STEPS, tail) == []
    (p,) = detect_plateaus(STEPS, tail, until_end=True)
    assert not p.escaped and p.end_step == STEPS[-1] and 300 <= p.start_step <= 700
    assert p.level == pytest.approx(0.3, rel=0.02)


def test_a_plateau_followed_by_a_converging_tail_reports_the_plateau_not_the_tail():
    curve = np.where(S < 600, 0.44 + 0.56 * np.exp(-S / 20), 0.01 + 0.43 * np.exp(-(S - 600) / 60))
    ps = detect_plateaus(STEPS, curve)
    assert len(ps) == 1 and ps[0].level == pytest.approx(0.44, rel=0.01) and ps[0].end_step <= 620
    assert detect_plateau(STEPS, curve) == ps[0]  # the longer flat tail (steps ~900..2000) is not it


def test_flat_from_the_start_then_falling_is_a_plateau_but_flat_throughout_is_not():
    stall = np.where(S < 500, 0.7, 0.7 * np.exp(-(S - 500) / 300))
    (p,) = detect_plateaus(STEPS, stall)
    assert p.start_step == 0 and 450 <= p.end_step <= 520 and p.escaped
    flat = np.full(S.size, 0.7)
    assert detect_plateau(STEPS, flat) is None
    p = detect_plateau(STEPS, flat, until_end=True)
    assert p.start_step == 0 and p.end_step == STEPS[-1] and not p.escaped


def test_per_model_curves_and_errors():
    both = np.stack([planted(), np.exp(-S / 400.0)])
    out = detect_plateau(STEPS, both)
    assert isinstance(out[0], Plateau) and out[1] is None
    assert [len(f) for f in detect_plateaus(STEPS, both)] == [1, 0]
    with pytest.raises(GlassnetError, match="steps and loss"):
        detect_plateau(STEPS[:10], planted())
    with pytest.raises(GlassnetError, match="strictly increasing"):
        detect_plateau(STEPS[::-1], planted())
    with pytest.raises(GlassnetError, match="min_span"):
        detect_plateau(STEPS, planted(), min_span=0)
    with pytest.raises(GlassnetError, match="window"):
        detect_plateau(STEPS, planted(), window=2)
    assert detect_plateau(STEPS[:4], planted()[:4]) is None  # too short to say


# -- real curves: 8-k-8 sigmoid autoencoders of every width, trained with Sequential / fit -------------
def autoencoder(k, lr, steps, seeds=(0, 1), log_every=10):
    """The seed-003 setup at width k: one-hot inputs and targets, sigmoid layers, weights and
    biases from N(0, variance 0.01), half-SSE, full-batch gradient descent."""
    init = gn.init.Normal(variance=0.01)
    model = gn.Sequential([gn.Dense(k, activation="sigmoid"), gn.Dense(8, activation="sigmoid")],
                          input_shape=(8,), init=init, bias_init=init, seed=list(seeds), dtype="float64")
    x = np.eye(8)
    return model.fit(x, x, loss="half_sse", optimizer=gn.SGD(lr=lr), batch_size=8, steps=steps,
                     log_every=log_every, metrics=[], progress=False)


@pytest.mark.parametrize("k", [2, 3, 4, 5])
def test_8_k_8_autoencoders_of_every_width_have_their_plateau_found(k):
    """The autoencoder study's quick settings (lr 0.5, 8,000 steps) at other widths: the loss sits
    at 7/16 for ~1,000 steps and then falls; the detector before this rule found nothing here."""
    hist = autoencoder(k, lr=0.5, steps=8000, log_every=16)
    loss = np.asarray(hist["loss"])
    for row in loss:
        ps = detect_plateaus(hist.steps, row)
        assert ps, f"8-{k}-8: no plateau found"
        p = ps[0]
        assert p.level == pytest.approx(CONSTANT_OUTPUT_LOSS, rel=0.01)
        assert p.start_step <= 200 and 700 <= p.end_step <= 2000 and p.escaped
        assert row[-1] < 0.5 * p.level


def test_8_4_8_at_a_large_rate_reports_its_short_plateau_not_the_convergence_tail():
    """lr 2 for 4,000 steps: the stall at 7/16 lasts ~250 steps (6% of the run), the long tail
    crawls to ~0.004. The old rule with the study's settings reported the tail (steps ~3,700 to
    4,000 at 0.004); this one reports the stall and nothing else."""
    hist = autoencoder(4, lr=2.0, steps=4000)
    for row in np.asarray(hist["loss"]):
        (p,) = detect_plateaus(hist.steps, row)
        assert p.level == pytest.approx(CONSTANT_OUTPUT_LOSS, rel=0.01) and p.end_step < 400
        (q,) = detect_plateaus(hist.steps, row, slope_tol=0.3, min_span=0.05)  # the study's settings
        assert q.level == pytest.approx(CONSTANT_OUTPUT_LOSS, rel=0.01) and q.end_step < 400


def test_real_convex_run_has_no_plateau():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3))
    y = x @ np.array([[1.0], [-2.0], [0.5]])
    model = gn.Sequential([gn.Dense(1)], input_shape=(3,), seed=0, dtype="float64")
    hist = model.fit(x, y, loss="mse", optimizer=gn.SGD(0.02), batch_size="full", steps=400, log_every=2)
    assert detect_plateau(hist.steps, hist["loss"]) is None
