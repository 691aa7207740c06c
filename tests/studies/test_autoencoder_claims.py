"""Every claim of study ``autoencoder-838`` is written only when its premise holds.

One small measurement (the quick mode's settings with fewer steps, lr x steps kept) is altered
so that each claim's premise fails (or holds), and the analysis is re-run on it: the claim's
sentence must then be absent and its alternative present. Nothing here trains but the fixture.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

from glassnet.studies import get_study
from glassnet.studies.autoencoder_report import crossing
from glassnet.studies.recording import Recorder
from glassnet.studies.report import Report
from glassnet.studies.solutions import match_hidden, pairwise_match, relabel_patterns, relabelled_null

STUDY = get_study("autoencoder-838")


@pytest.fixture(scope="module")
def measured():
    """A quick-mode measurement, shortened: 2 seeds, 2,000 steps at lr 2 (lr x steps = 4,000 as
    in the quick and full modes, so the runs still cross the plateau)."""
    s = STUDY.settings(True, 2)
    s.update(steps=2_000, base_lr=2.0, log_every=8, lr_log_every=8, learning_rates=[0.5, 2.0, 5.0],
             weight_decays=[0.0, 1e-3, 0.1])
    return s, STUDY.measure(s, Recorder(STUDY.name, s, enabled=False))


def _analyze(data, s) -> Report:
    return STUDY.analyzed(data, s)


def _text(report) -> str:
    return report.findings_text


def _delayed(curves, d):
    """Shift curves ``(..., T)`` right by ``d`` logged points."""
    if d == 0:
        return curves.copy()
    pad = np.repeat(curves[..., :1], d, axis=-1)
    return np.concatenate([pad, curves[..., :-d]], axis=-1)


def test_the_measurement_makes_the_expected_claims(measured):
    s, data = measured
    r = _analyze(data, s)
    text = _text(r)
    assert r.claims["k1.params"] and "k (8-3-8) 59; the seed's k-1 (7-3-7, k-1 inputs and targets) 52" in text
    assert "k-1 targets on one-hot inputs (8-3-7) 55" in text
    assert r.claims["wd.stuck"] and not r.claims["wd.lambda0.1_weights"]
    assert "cannot show a network trained at lambda = 0.1" in text and "this measurement contradicts it" in text
    assert not r.claims["lr.plateau_removed"] and "nearly constant" in text
    assert r.claims["weights.different"] and not r.claims["plateau.trap"]


# -- weight decay ---------------------------------------------------------------------------------

def test_weight_decay_order_claim(measured):
    s, data = measured
    d = copy.deepcopy(data)
    fast = d["wd"]["loss"][0].copy()
    d["wd"]["loss"][:] = np.stack([_delayed(fast, 40 * (len(s["weight_decays"]) - 1 - c))
                                   for c in range(len(s["weight_decays"]))])  # the largest lambda first
    r = _analyze(d, s)
    assert not r.claims["wd.order"]
    assert "The larger lambda, the later" not in _text(r) and "not monotonic" in _text(r)
    d["wd"]["loss"][:] = 1.0  # nobody reaches the threshold
    r = _analyze(d, s)
    assert not r.claims["wd.order"] and "No lambda reached loss < 0.1" in _text(r)


def test_weight_decay_stuck_claim(measured):
    s, data = measured
    d = copy.deepcopy(data)
    d["wd"]["loss"][:] = d["wd"]["loss"][0]  # every lambda learns like lambda = 0
    r = _analyze(d, s)
    assert not r.claims["wd.stuck"]
    assert "Every lambda left the plateau" in _text(r) and "drives the weights to zero" not in _text(r)
    d = copy.deepcopy(data)
    for k in ("dense_0.W", "dense_1.W"):     # on the plateau, but with weights that did not decay
        d["wd"]["params"][k][-1] = d["wd"]["params"][k][0]
    r = _analyze(d, s)
    assert not r.claims["wd.stuck"] and "not all of their weights decayed" in _text(r)


def test_lambda_01_weights_claim(measured):
    s, data = measured
    d = copy.deepcopy(data)
    for k in ("dense_0.W", "dense_1.W"):
        d["wd"]["params"][k][-1] = d["wd"]["params"][k][0]
    r = _analyze(d, s)
    assert r.claims["wd.lambda0.1_weights"]
    text = _text(r)
    assert "kept a structure" in text and "cannot show a network trained" not in text
    assert "Figures 11-13 show the learned weights" in text and "this measurement agrees" in text


# -- k vs k-1 -------------------------------------------------------------------------------------

def test_k1_claims_follow_the_shared_loss(measured):
    s, data = measured
    d = copy.deepcopy(data)
    for key in ("k1", "k1_targets"):          # k-1 exactly as fast and as good as k
        d[key]["loss_shared"] = d["base"]["loss_shared"].copy()
    r = _analyze(d, s)
    assert not r.claims["k1.faster"] and not r.claims["k1.lower_loss"]
    text = _text(r)
    assert "about as fast as k" in text and "far faster" not in text.replace("passed the plateau far faster", "")
    assert "not clearly lower on equal terms" in text and r.claims["k1.targets"]
    d["k1_targets"]["loss_shared"] = _delayed(d["k1_targets"]["loss_shared"], 60)
    r = _analyze(d, s)
    assert not r.claims["k1.targets"] and "matters as well" in _text(r)


def test_k1_compares_equal_numbers_of_terms(measured):
    s, data = measured
    k = data["base"]
    # the shared loss is the k net's half SSE over the last 7 outputs: less than its 8-term sum
    assert np.all(k["loss_shared"] <= k["loss"] + 1e-12)
    assert k["constant_loss_shared"] == pytest.approx(0.5 * 7 * (1 / 8) * (7 / 8))
    assert data["k1"]["constant_loss_shared"] == pytest.approx(k["constant_loss_shared"])
    np.testing.assert_allclose(data["k1"]["loss_shared"], data["k1"]["loss"])  # k-1 has only those 7


def test_k1_params_claim(measured):
    s, data = measured
    d = copy.deepcopy(data)
    d["k1"]["param_count"] = 55  # what the 8-3-7 net trains: not the seed's count
    r = _analyze(d, s)
    assert not r.claims["k1.params"] and "not the seed's 59 and 52" in _text(r)


# -- plateau --------------------------------------------------------------------------------------

def test_plateau_claims(measured):
    s, data = measured
    r0 = _analyze(data, s)
    if "Plateau: none was detected" in _text(r0):
        pytest.skip("the plateau detector found no plateau in this measurement")
    d = copy.deepcopy(data)
    d["base"]["constant_loss"] *= 1.5
    d["base"]["loss"][0, 1, -5:] = d["base"]["constant_loss"]  # seed 1 back on the plateau at the end
    d["base"]["b_abs"][:] = 1e-3
    r = _analyze(d, s)
    assert not r.claims["plateau.constant"] and "away from" in _text(r)
    assert r.claims["plateau.trap"] and "1 of 2 lambda = 0 runs never left the plateau" in _text(r)
    assert "not a local minimum" not in _text(r)
    assert not r.claims["plateau.bias"] and "not markedly larger" in _text(r)


# -- learning rate --------------------------------------------------------------------------------

def test_crossing_is_interpolated_in_log_loss():
    steps = np.array([0, 10, 20, 30])
    assert crossing(steps, [1.0, 0.5, 0.05, 0.01], 0.1) == pytest.approx(10 + 10 * np.log(5) / np.log(10))
    assert crossing(steps, [1.0, 0.5, 0.2, 0.15], 0.1) is None
    assert crossing(steps, [0.01, 0.5, 0.2, 0.15], 0.1) == 0


def test_lr_plateau_claim(measured):
    s, data = measured
    r = _analyze(data, s)
    products = [r.numbers[f"lr.product.{v:g}"] for v in s["learning_rates"]]
    products = [p for p in products if p is not None]   # lr 0.5 does not get there in 2,000 steps
    assert len(products) >= 2 and max(products) / min(products) <= 1.5  # the measured fact behind the claim
    d = copy.deepcopy(data)
    c = int(np.argmax(s["learning_rates"]))
    steps = d["lr"]["steps"]
    # the largest rate reaches the threshold at a tenth of its steps: it cut the plateau itself
    T = np.flatnonzero(steps <= steps[-1] / 10)[-1] + 1
    squeezed = d["lr"]["loss"][c][:, np.linspace(0, steps.size - 1, T).astype(int)]
    d["lr"]["loss"][c] = np.concatenate([squeezed, np.repeat(squeezed[:, -1:], steps.size - T, axis=1)], axis=1)
    r = _analyze(d, s)
    assert r.claims["lr.plateau_removed"]
    assert "cut the plateau itself" in _text(r) and "nearly constant" not in _text(r)
    assert "eliminates the plateau (sections 8-9); this measurement agrees" in _text(r)


def test_lr_highest_claim(measured):
    s, data = measured
    d = copy.deepcopy(data)
    c = int(np.argmax(s["learning_rates"]))
    d["lr"]["status"][c, 0] = "diverged"
    r = _analyze(d, s)
    assert not r.claims["lr.highest"] and "1 diverged" in _text(r) and "converged in all" not in _text(r)


# -- batch size -----------------------------------------------------------------------------------

def test_batch_claim(measured):
    s, data = measured
    d = copy.deepcopy(data)
    d["b1"]["loss"] = d["base"]["loss"].copy()           # batch 1 exactly as fast per update as batch 8
    r = _analyze(d, s)
    assert not r.claims["batch.drastic"] and "no drastic difference" in _text(r)
    assert "drastic effects on the convergence (its Figure 10); this measurement contradicts it" in _text(r)
    d["b1"]["loss"] = _delayed(d["b1"]["loss"], 100)
    r = _analyze(d, s)
    assert r.claims["batch.drastic"] and "a drastic difference" in _text(r)


# -- the learned weights --------------------------------------------------------------------------

def test_weights_claims(measured):
    s, data = measured
    d = copy.deepcopy(data)
    for k in d["wd"]["params"]:   # every seed ends with seed 0's weights: one solution
        d["wd"]["params"][k][:, 1] = d["wd"]["params"][k][:, 0]
    d["wd"]["params"]["dense_1.b"][:] = np.abs(d["wd"]["params"]["dense_1.b"])
    r = _analyze(d, s)
    assert not r.claims["weights.different"]
    assert "the same solution up to relabelling the hidden units" in _text(r)
    assert "different training runs produce completely different sets of weights (section 11); this measurement " \
           "contradicts it" in _text(r)
    assert not r.claims["weights.bias_negative"] and "only 0% of them negative" in _text(r)


def test_relabelled_null_is_a_solution_of_equal_quality_and_unrelated():
    rng = np.random.default_rng(0)
    W1, W2 = rng.normal(size=(3, 8, 3)), rng.normal(size=(3, 3, 8))
    # a relabelled copy computes the same function on relabelled patterns: x_c -> out_c becomes
    # x_p(c) -> out_p(c); relabelling back gives the network itself (r = 1)
    perm = rng.permutation(8)
    a, b = relabel_patterns(W1[0], W2[0], perm)
    back = np.argsort(perm)
    assert match_hidden(W1[0], W2[0], *relabel_patterns(a, b, back))[0] == pytest.approx(1.0)
    null = relabelled_null(W1, W2, draws=20)
    assert null.shape == (3, 20) and np.all(null <= 1 + 1e-12)
    # hidden-unit permutations and flips of B do not change its best match with A
    s = np.array([1.0, -1.0, 1.0])
    assert match_hidden(W1[0], W2[0], W1[1][:, [2, 0, 1]] * s, W2[1][[2, 0, 1]] * s[:, None])[0] == \
        pytest.approx(match_hidden(W1[0], W2[0], W1[1], W2[1])[0])
    assert pairwise_match(W1, W2).shape == (3,)


def test_the_learning_rate_table_says_its_base_rate_runs_are_the_weight_decay_runs(measured):
    s, data = measured
    note = "The lr 2 runs are the weight decay table's lambda = 0 runs (the same networks, trained once)."
    assert note in _analyze(data, s).render()
    assert "are the weight decay table's lambda = 0 runs" not in _analyze(data, dict(s, base_lr=1.0)).render()


@pytest.mark.parametrize("low, minor", [(1e-2, True), (1e-6, False)])
def test_log_axes_keep_minor_ticks_only_up_to_3_decades(low, minor):
    from matplotlib.figure import Figure
    from matplotlib.ticker import NullLocator

    from glassnet.studies.autoencoder_figures import lr_collapse, small_multiples

    steps = np.arange(1, 101)
    curve = np.geomspace(1.0, low, 100)
    fig = Figure()
    small_multiples(steps, {"a": curve[None]})(fig)
    assert (not isinstance(fig.axes[0].yaxis.get_minor_locator(), NullLocator)) == minor
    assert fig.axes[0].get_yscale() == "log"
    fig = Figure()
    lr_collapse(steps, [0.5, 2.0], np.stack([curve[None], curve[None]]))(fig)
    left, right = fig.axes[:2]
    assert (not isinstance(left.yaxis.get_minor_locator(), NullLocator)) == minor
    assert not isinstance(left.xaxis.get_minor_locator(), NullLocator)  # steps 1-100: 2 decades
    assert right.get_xscale() == "log" and left.get_xscale() == "log"
