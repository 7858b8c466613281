"""Metrics against scikit-learn and hand-computed values."""

import json

import numpy as np
import pytest
from sklearn import metrics as skm

from softmax_nb.metrics import LOG_LOSS_EPS, calibration_bins, evaluate


@pytest.fixture
def predictions():
    rng = np.random.default_rng(0)
    proba = rng.dirichlet(np.ones(4) * 0.7, size=300)
    y = np.array([rng.choice(4, p=p) for p in proba])
    return y, proba, np.arange(4)


def test_matches_sklearn(predictions):
    y, proba, classes = predictions
    result = evaluate(y, proba, classes)
    y_pred = proba.argmax(axis=1)
    assert result["n_samples"] == 300
    assert result["accuracy"] == pytest.approx(skm.accuracy_score(y, y_pred))
    assert result["log_loss"] == pytest.approx(skm.log_loss(y, proba), rel=1e-12)
    p, r, f, s = skm.precision_recall_fscore_support(y, y_pred)
    for k, entry in enumerate(result["per_class"]):
        assert entry["class"] == k
        assert (entry["precision"], entry["recall"], entry["f1"], entry["support"]) == pytest.approx(
            (p[k], r[k], f[k], s[k])
        )
    assert result["confusion_matrix"] == skm.confusion_matrix(y, y_pred).tolist()
    assert result["macro_avg"]["f1"] == pytest.approx(skm.f1_score(y, y_pred, average="macro"))
    assert result["weighted_avg"]["recall"] == pytest.approx(skm.recall_score(y, y_pred, average="weighted"))
    json.dumps(result, allow_nan=False)


def test_log_proba_gives_exact_log_loss():
    log_proba = np.array([[0.0, -800.0], [-1e-3, np.log1p(-np.exp(-1e-3))]])
    proba = np.exp(log_proba)
    y = np.array([1, 0])
    exact = evaluate(y, proba, [0, 1], log_proba=log_proba)["log_loss"]
    # The -800 of the first row is clipped at log(1e-15) in both paths (so that a
    # single confident mistake cannot make the mean infinite) ...
    assert exact == pytest.approx((-np.log(LOG_LOSS_EPS) + 1e-3) / 2)
    clipped = evaluate(y, proba, [0, 1])["log_loss"]
    assert clipped == pytest.approx(exact, rel=1e-9)
    # ... and tiny probabilities that are not clipped are exact with log_proba.
    log_proba = np.array([[-30.0, np.log1p(-np.exp(-30.0))]])
    result = evaluate(np.array([0]), np.exp(log_proba), [0, 1], log_proba=log_proba)
    assert result["log_loss"] == 30.0


def test_ece_by_hand():
    # Bins of width 1/15; confidences 0.95 (two rows, one right) and 0.5 (one, right).
    proba = np.array([[0.95, 0.05], [0.95, 0.05], [0.5, 0.5]])
    y = np.array([0, 1, 0])
    result = evaluate(y, proba, [0, 1])
    expected = 2 / 3 * abs(0.5 - 0.95) + 1 / 3 * abs(1.0 - 0.5)
    assert result["ece"] == pytest.approx(expected)
    assert result["max_calibration_error"] == pytest.approx(0.5)
    bins = result["calibration_bins"]
    assert len(bins) == 15 and sum(b["count"] for b in bins) == 3
    full = [b for b in bins if b["count"]]
    assert [(b["count"], b["accuracy"], b["confidence"]) for b in full] == [(1, 1.0, 0.5), (2, 0.5, 0.95)]
    assert bins[7]["lower"] == pytest.approx(7 / 15) and bins[7]["count"] == 1
    assert all(b["accuracy"] is None for b in bins if not b["count"])


def test_ece_edges_and_perfect_calibration():
    ece, mce, bins = calibration_bins(np.array([0.0, 1.0, 1.0]), np.array([False, True, True]), n_bins=4)
    assert bins[0]["count"] == 1 and bins[-1]["count"] == 2 and ece == 0.0 and mce == 0.0
    rng = np.random.default_rng(1)
    confidence = rng.uniform(0.5, 1.0, 200000)
    correct = rng.random(200000) < confidence
    ece, _, _ = calibration_bins(confidence, correct)
    assert ece < 0.01


def test_class_absent_from_test_split_and_unseen_label():
    proba = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.6, 0.3, 0.1]])
    result = evaluate(np.array(["a", "b", "a"]), proba, np.array(["a", "b", "c"]))
    c = result["per_class"][2]
    assert c["class"] == "c" and c["support"] == 0 and c["recall"] is None and c["precision"] is None
    assert result["accuracy"] == 1.0
    assert result["macro_avg"]["recall"] == 1.0  # averages over classes present
    assert result["confusion_matrix"][2] == [0, 0, 0]
    # A label the model has never seen: appended, never predicted, clipped log-loss.
    result = evaluate(np.array(["a", "z"]), proba[:2], np.array(["a", "b", "c"]))
    assert result["classes"] == ["a", "b", "c", "z"]
    assert result["per_class"][3]["support"] == 1 and result["per_class"][3]["recall"] == 0.0
    assert result["log_loss"] == pytest.approx((-np.log(0.7) - np.log(LOG_LOSS_EPS)) / 2)
    json.dumps(result, allow_nan=False)


@pytest.mark.parametrize(
    "y, proba, classes, message",
    [
        (np.array([]), np.zeros((0, 2)), [0, 1], "non-empty"),
        (np.array([0, 1]), np.ones((2, 3)) / 3, [0, 1], "proba has shape"),
        (np.array([0, 1]), np.array([[np.nan, 1.0], [0.5, 0.5]]), [0, 1], "NaN"),
    ],
)
def test_bad_input(y, proba, classes, message):
    with pytest.raises(ValueError, match=message):
        evaluate(y, proba, classes)


def test_one_vs_rest_curves_match_sklearn(predictions):
    from softmax_nb.metrics import one_vs_rest_curves

    y, proba, _ = predictions
    curves = one_vs_rest_curves(y, proba)
    assert not curves["binary"] and [c["index"] for c in curves["classes"]] == [0, 1, 2, 3]
    for entry in curves["classes"]:
        k = entry["index"]
        assert entry["roc_auc"] == pytest.approx(skm.roc_auc_score(y == k, proba[:, k]))
        assert entry["average_precision"] == pytest.approx(skm.average_precision_score(y == k, proba[:, k]))
        assert entry["n_positive"] == int((y == k).sum())
    onehot = np.eye(4, dtype=bool)[y]
    assert curves["micro"]["roc_auc"] == pytest.approx(skm.roc_auc_score(onehot, proba, average="micro"))
    # sklearn's macro AUC is the mean of the per-class AUCs; the mean curve's area is close to it.
    assert curves["macro"]["roc_auc"] == pytest.approx(skm.roc_auc_score(onehot, proba, average="macro"), abs=0.02)
    assert curves["macro"]["average_precision"] == pytest.approx(
        skm.average_precision_score(onehot, proba, average="macro"))


def test_one_vs_rest_curves_of_a_binary_model_score_the_second_class():
    from softmax_nb.metrics import one_vs_rest_curves

    y = np.array([0, 1, 1, 0, 1])
    p1 = np.array([0.2, 0.9, 0.6, 0.4, 0.3])
    curves = one_vs_rest_curves(y, np.column_stack([1 - p1, p1]))
    assert curves["binary"] and len(curves["classes"]) == 1 and curves["micro"] is None
    assert curves["classes"][0]["index"] == 1
    assert curves["classes"][0]["roc_auc"] == pytest.approx(skm.roc_auc_score(y, p1))


def test_one_vs_rest_curves_leave_a_class_without_rows_undefined():
    from softmax_nb.metrics import one_vs_rest_curves

    proba = np.array([[0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.5, 0.4, 0.1]])
    curves = one_vs_rest_curves(np.array([0, 1, 0]), proba)
    assert curves["classes"][2]["roc_auc"] is None and curves["classes"][2]["n_positive"] == 0
    assert curves["classes"][0]["roc_auc"] == 1.0
    with pytest.raises(ValueError, match="true_index must lie in"):
        one_vs_rest_curves(np.array([0, 3, 0]), proba)
    with pytest.raises(ValueError, match="shape"):
        one_vs_rest_curves(np.array([0, 1]), proba)


def test_most_confident_mistakes():
    from softmax_nb.metrics import most_confident_mistakes

    proba = np.array([[0.9, 0.1], [0.3, 0.7], [0.2, 0.8], [0.6, 0.4], [0.05, 0.95]])
    y = np.array([0, 0, 1, 1, 0])
    mistakes = most_confident_mistakes(y, proba, n=2)
    assert [m["row"] for m in mistakes] == [4, 1]  # wrong rows 1, 3, 4 by confidence 0.7, 0.6, 0.95
    assert mistakes[0] == {"row": 4, "true": 0, "predicted": 1, "p_predicted": 0.95, "p_true": 0.05}
    assert most_confident_mistakes(np.array([0, 1]), np.array([[0.9, 0.1], [0.2, 0.8]])) == []
