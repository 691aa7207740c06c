"""Metrics from the registry agree with scikit-learn on random predictions, per model."""

import numpy as np
import pytest

import glassnet as gn
from glassnet import losses, metrics
from glassnet.errors import GlassnetError

sk = pytest.importorskip("sklearn.metrics")

RNG = np.random.default_rng(0)
M, B, K = 3, 40, 4
LOGITS = RNG.standard_normal((M, B, K))
LABELS = RNG.integers(0, K, B)
CE = losses.get("softmax_cross_entropy")


def per_model(fn):
    return np.array([fn(m) for m in range(M)])


@pytest.mark.parametrize("name, ref", [
    ("accuracy", lambda m: sk.accuracy_score(LABELS, LOGITS[m].argmax(1))),
    ("precision", lambda m: sk.precision_score(LABELS, LOGITS[m].argmax(1), average="macro", zero_division=0)),
    ("recall", lambda m: sk.recall_score(LABELS, LOGITS[m].argmax(1), average="macro", zero_division=0)),
    ("f1", lambda m: sk.f1_score(LABELS, LOGITS[m].argmax(1), average="macro", zero_division=0)),
    ({"name": "top_k_accuracy", "k": 2}, lambda m: sk.top_k_accuracy_score(LABELS, LOGITS[m], k=2, labels=range(K))),
])
def test_classification_metrics_match_sklearn(name, ref):
    got = metrics.get(name)(LOGITS, LABELS, CE)
    np.testing.assert_allclose(got, per_model(ref), rtol=1e-12)


def test_macro_metrics_skip_classes_that_never_occur():
    labels = np.array([0, 0, 1, 1, 1, 0])
    pred = np.eye(4)[[0, 1, 1, 1, 0, 0]][None] * 5.0  # class 2 and 3 never occur anywhere
    for name, fn in (("precision", sk.precision_score), ("recall", sk.recall_score), ("f1", sk.f1_score)):
        ref = fn(labels, pred[0].argmax(1), average="macro", zero_division=0)
        assert metrics.get(name)(pred, labels, CE)[0] == pytest.approx(ref, rel=1e-12)


def test_regression_metrics_match_sklearn():
    y = RNG.standard_normal((B, 2))
    pred = y + 0.3 * RNG.standard_normal((M, B, 2))
    mse = losses.get("mse")
    for name, fn in (("mae", sk.mean_absolute_error), ("mse", sk.mean_squared_error), ("r2", sk.r2_score)):
        np.testing.assert_allclose(metrics.get(name)(pred, y, mse), per_model(lambda m: fn(y, pred[m])), rtol=1e-12)


def test_binary_metrics_on_one_logit_and_on_tanh_outputs():
    y01 = RNG.integers(0, 2, B)
    z = RNG.standard_normal((M, B, 1))
    bce = losses.get("binary_cross_entropy_logits")
    np.testing.assert_allclose(metrics.get("accuracy")(z, y01[:, None], bce),
                               per_model(lambda m: sk.accuracy_score(y01, z[m, :, 0] > 0)))
    np.testing.assert_allclose(metrics.get("binary_accuracy")(z, y01[:, None], bce),
                               per_model(lambda m: sk.accuracy_score(y01, z[m, :, 0] > 0)))
    # the playground's tanh output against -1/+1 targets reads both at 0
    pm = (2.0 * y01 - 1)[:, None]
    acc = metrics.get({"name": "accuracy", "threshold": 0})(np.tanh(z), pm, losses.get("half_sse"))
    np.testing.assert_allclose(acc, per_model(lambda m: np.mean((z[m, :, 0] > 0) == (y01 == 1))))


def test_k_minus_1_accuracy_reads_the_reference_class():
    from glassnet.data import one_hot

    labels = np.arange(8)
    targets = one_hot(labels, 8, encoding="k-1")          # class 0 is the all-zero row
    outputs = np.where(targets > 0, 0.9, 0.1)
    outputs[0, -1] = 0.3                                   # class 0: every output below 0.5
    acc = metrics.get({"name": "accuracy", "encoding": "k-1"})(outputs[None], targets, losses.get("half_sse"))
    assert acc[0] == 1.0
    plain = metrics.get("accuracy")(outputs[None], targets, losses.get("half_sse"))[0]
    assert plain == 7 / 8                                  # argmax reads row 0 as class 7


def test_fit_logs_every_metric_named_and_refuses_unknown_ones():
    x = RNG.standard_normal((30, 3))
    y = (x[:, 0] > 0).astype(int)
    model = gn.Sequential([gn.Dense(2)], input_shape=(3,), dtype="float64")
    hist = model.fit(x, y, loss="softmax_cross_entropy", steps=3, metrics=["accuracy", "f1", "recall"],
                     validation_data=(x, y))
    assert {"accuracy", "f1", "recall", "val_f1"} <= set(hist.keys())
    with pytest.raises(GlassnetError, match="unknown metric 'f3'; valid names: .*accuracy"):
        model.fit(x, y, loss="softmax_cross_entropy", metrics=["f3"])
    with pytest.raises(GlassnetError, match="given twice"):
        model.fit(x, y, loss="softmax_cross_entropy", metrics=["accuracy", "acc"])


def test_every_registered_metric_runs_on_both_tasks():
    for name in metrics.metrics.names():
        m = metrics.get(name)
        assert m(LOGITS, LABELS, CE).shape == (M,)
        assert np.isfinite(m(LOGITS, np.eye(K)[LABELS], CE)).all()


def test_per_model_labels_when_the_batch_size_equals_the_number_of_classes():
    """(M, B) labels with B == K were read as shared one-hot rows (a 10-sample last batch of a
    10-class problem crashed)."""
    pred = RNG.standard_normal((3, 4, 4))
    labels = RNG.integers(0, 4, (3, 4))
    want = (pred.argmax(-1) == labels).mean(axis=1)
    np.testing.assert_allclose(metrics.get("accuracy")(pred, labels, CE), want)
