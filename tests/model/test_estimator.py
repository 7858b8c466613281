"""SoftmaxClassifier: scikit-learn's estimator checks, agreement with
LogisticRegression, solvers, options and gradient checks."""

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from softmax_nb import SoftmaxClassifier, gradcheck

# Each solver, and the options that change the fit: class weights, no intercept, elastic
# net by OWL-QN (lbfgs) and L1 by FISTA (gd). Default parameters otherwise, but adam's
# learning_rate: check_class_weight_classifiers fits 50 rows (one minibatch, one step an
# epoch) for max_iter=1000 epochs, and adam's default steps of 1e-3 end far from the optimum.
ESTIMATOR_CHECK_CONFIGURATIONS = [
    SoftmaxClassifier(),
    SoftmaxClassifier(solver="gd"),
    SoftmaxClassifier(solver="sgd"),
    SoftmaxClassifier(solver="adam", learning_rate=0.01),
    SoftmaxClassifier(class_weight="balanced"),
    SoftmaxClassifier(fit_intercept=False),
    SoftmaxClassifier(l1_ratio=0.5),
    SoftmaxClassifier(solver="gd", l1_ratio=1.0),
]


def expected_failed_checks(estimator):
    """Checks we do not pass, with the reason. Keep this short."""
    if not estimator.fit_intercept:
        return {"check_class_weight_classifiers": (
            "without an intercept the decision boundaries pass through the origin: weighting "
            "class 0 by 1000 makes it predicted on 52% / 64% of the noisy blobs, not > 87%; "
            "scikit-learn's LogisticRegression(fit_intercept=False) fails it the same way "
            "(the same coef_)")}
    return {}


@parametrize_with_checks(
    ESTIMATOR_CHECK_CONFIGURATIONS,
    expected_failed_checks=expected_failed_checks,
)
def test_sklearn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def objective_of(coef, intercept, X, y, C):
    clf = SoftmaxClassifier(C=C)
    clf.classes_, clf.coef_, clf.intercept_ = np.unique(y), coef, intercept
    clf.n_features_in_ = X.shape[1]
    return clf.objective(X, y)


@pytest.mark.parametrize("C", [1.0, 0.05])
def test_lbfgs_matches_sklearn_logistic_regression(digits, C):
    X, y = digits
    ours = SoftmaxClassifier(C=C, tol=1e-10, max_iter=5000).fit(X, y)
    theirs = LogisticRegression(C=C, tol=1e-10, max_iter=5000).fit(X, y)
    coef_error = np.abs(ours.coef_ - theirs.coef_).max() / np.abs(theirs.coef_).max()
    intercept_error = np.abs(ours.intercept_ - theirs.intercept_).max() / np.abs(theirs.intercept_).max()
    assert coef_error < 1e-4
    assert intercept_error < 1e-4
    ours_objective = ours.objective(X, y)
    theirs_objective = objective_of(theirs.coef_, theirs.intercept_, X, y, C)
    assert abs(ours_objective - theirs_objective) <= 1e-7 * abs(theirs_objective)


def test_sample_weights_match_sklearn(digits):
    X, y = digits
    weights = np.random.default_rng(0).random(len(y)) * 2
    ours = SoftmaxClassifier(C=0.5, tol=1e-10, max_iter=5000).fit(X, y, sample_weight=weights)
    theirs = LogisticRegression(C=0.5, tol=1e-10, max_iter=5000).fit(X, y, sample_weight=weights)
    assert np.abs(ours.coef_ - theirs.coef_).max() / np.abs(theirs.coef_).max() < 1e-4


@pytest.mark.parametrize("solver", ["lbfgs", "gd", "sgd", "adam"])
def test_solvers_learn_digits(digits, solver):
    X, y = digits
    clf = SoftmaxClassifier(solver=solver, max_iter=60, random_state=0,
                            learning_rate={"adam": 0.01}.get(solver))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    assert clf.score(X, y) > 0.95
    history = clf.history_
    assert len(history["loss"]) == clf.n_iter_ > 0
    assert set(history) == {"iteration", "loss", "grad_norm", "train_accuracy", "val_loss",
                            "val_accuracy", "time"}
    assert history["loss"][-1] < history["loss"][0]


def test_convergence_warning_when_max_iter_is_hit(digits):
    X, y = digits
    with pytest.warns(ConvergenceWarning, match="max_iter=3"):
        SoftmaxClassifier(max_iter=3).fit(X, y)


def test_string_labels_and_float32_kept(digits):
    X, y = digits
    labels = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven",
                       "eight", "nine"])[y]
    X32 = X.astype(np.float32)
    clf = SoftmaxClassifier().fit(X32, labels)
    assert set(clf.classes_) == set(labels)
    assert clf.predict_proba(X32).dtype == np.float32
    assert clf.decision_function(X32).dtype == np.float32
    assert clf.score(X32, labels) > 0.97
    assert clf.predict(X32[:3]).dtype.kind == "U"


def test_eval_set_and_early_stopping(digits):
    X, y = digits
    clf = SoftmaxClassifier(max_iter=300).fit(X[:1500], y[:1500], eval_set=(X[1500:], y[1500:]))
    assert np.all(np.isfinite(clf.history_["val_loss"]))
    assert 0.8 < clf.history_["val_accuracy"][-1] <= 1.0
    early = SoftmaxClassifier(solver="sgd", early_stopping=True, n_iter_no_change=2,
                              max_iter=200, random_state=0).fit(X, y)
    assert early.n_iter_ < 200
    assert np.nanmin(early.history_["val_loss"]) > 0


def test_warm_start_continues(digits):
    X, y = digits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = SoftmaxClassifier(max_iter=5, warm_start=True).fit(X, y)
        first = clf.history_["loss"][-1]
        clf.fit(X, y)
    assert clf.history_["loss"][0] < first


def test_class_weight_balanced_and_dict(digits):
    X, y = digits
    clf = SoftmaxClassifier(class_weight="balanced").fit(X, y)
    theirs = LogisticRegression(class_weight="balanced", tol=1e-10, max_iter=5000).fit(X, y)
    ours = SoftmaxClassifier(class_weight="balanced", tol=1e-10, max_iter=5000).fit(X, y)
    assert np.abs(ours.coef_ - theirs.coef_).max() / np.abs(theirs.coef_).max() < 1e-4
    assert clf.score(X, y) > 0.97
    with pytest.raises(ValueError, match="not in class_weight|not found|class"):
        SoftmaxClassifier(class_weight={42: 2.0}).fit(X, y)


def test_fit_is_deterministic_across_thread_counts(digits):
    X, y = digits
    one = SoftmaxClassifier(n_threads=1).fit(X, y)
    two = SoftmaxClassifier(n_threads=min(2, __import__("numba").config.NUMBA_NUM_THREADS)).fit(X, y)
    np.testing.assert_array_equal(one.coef_, two.coef_)
    np.testing.assert_array_equal(one.intercept_, two.intercept_)


@pytest.mark.parametrize("bad,match", [
    (dict(C=-1.0), "C must be positive"),
    (dict(solver="newton"), "solver must be one of"),
    (dict(label_smoothing=1.5), "label_smoothing"),
    (dict(learning_rate=0.0), "learning_rate must be positive"),
    (dict(device="tpu"), "device must be one of"),
    (dict(max_iter=-1), "max_iter must be an integer >= 0"),
    (dict(l1_ratio=1.5), r"l1_ratio must be in \[0, 1\]"),
    (dict(l1_ratio=0.5, solver="sgd"), "l1_ratio > 0 needs solver 'lbfgs'"),
])
def test_bad_parameters_are_named(digits, bad, match):
    X, y = digits
    with pytest.raises((ValueError, TypeError), match=match):
        SoftmaxClassifier(**bad).fit(X[:50], y[:50])


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("l2", [0.0, 0.5])
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_gradcheck_all_options(fit_intercept, weighted, l2, smoothing):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 6))
    y = rng.integers(0, 4, 120)
    class_weight = np.array([1.0, 2.0, 0.5, 1.5])
    weights = rng.random(120) * class_weight[y] if weighted else None
    result = gradcheck(X, y, rng.normal(size=(4, 6)), rng.normal(size=4) if fit_intercept else None,
                       sample_weight=weights, l2_reg_strength=l2, label_smoothing=smoothing)
    assert result["passed"], result
    assert ("intercept" in result) == fit_intercept
    assert result["coef"]["max_rel_error"] < 1e-6


def test_gradcheck_detects_a_wrong_gradient(monkeypatch):
    import importlib

    gradcheck_module = importlib.import_module("softmax_nb.model.gradcheck")

    real = gradcheck_module.kernels.loss_gradient

    def wrong(*args, **kwargs):
        loss, grad_coef, grad_intercept = real(*args, **kwargs)
        return loss, grad_coef * 1.01, grad_intercept

    monkeypatch.setattr(gradcheck_module.kernels, "loss_gradient", wrong)
    rng = np.random.default_rng(0)
    result = gradcheck(rng.normal(size=(50, 3)), rng.integers(0, 3, 50), rng.normal(size=(3, 3)))
    assert not result["passed"]


def test_partial_fit_over_pieces_learns(digits):
    X, y = digits
    clf = SoftmaxClassifier(solver="sgd", random_state=0)
    for _ in range(3):
        for start in range(0, len(y), 300):
            clf.partial_fit(X[start:start + 300], y[start:start + 300], classes=np.unique(y))
    assert clf.score(X, y) > 0.95
    assert not hasattr(SoftmaxClassifier(solver="lbfgs"), "partial_fit")


def test_plain_arrays_skip_the_checks_and_the_rest_take_them(digits):
    """A finite C-contiguous ndarray of the fitted width predicts without scikit-learn's
    checks, with the same results; anything else still gets their errors and warnings."""
    import pandas as pd
    from sklearn.exceptions import NotFittedError

    X, y = digits
    clf = SoftmaxClassifier(max_iter=50).fit(X, y)
    rows = X[:7].copy()
    assert clf._is_plain_input(rows) and clf._is_plain_input(rows.astype(np.float32))
    for checked in (rows.tolist(), np.asfortranarray(rows), rows[::2], rows.astype(">f8")):
        assert not clf._is_plain_input(checked)
        np.testing.assert_array_equal(clf.predict_proba(checked),
                                      clf.predict_proba(np.ascontiguousarray(checked, dtype=np.float64)))
    np.testing.assert_array_equal(clf.predict(rows), clf.predict(rows.tolist()))
    assert not clf._is_plain_input(np.asmatrix(rows))  # scikit-learn's checks refuse np.matrix
    for bad, match in ((np.where(np.arange(64) == 3, np.nan, rows), "NaN"),
                       (np.where(np.arange(64) == 5, np.inf, rows), "infinity"),
                       (rows[:, :10].copy(), "features"),
                       (np.empty((0, 64)), "0 sample")):
        assert not clf._is_plain_input(bad)
        with pytest.raises(ValueError, match=match):
            clf.predict_proba(bad)
    # A finite array whose float32 sum overflows takes the checks, and passes them.
    huge = np.full((3, 64), np.finfo(np.float32).max, dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and no overflow warning on the way
        assert not clf._is_plain_input(huge)
    assert clf.predict(huge).shape == (3,)
    with pytest.raises(NotFittedError):
        SoftmaxClassifier().predict_proba(rows)
    only32 = SoftmaxClassifier(max_iter=50, dtype="float32").fit(X, y)
    assert not only32._is_plain_input(rows) and only32._is_plain_input(rows.astype(np.float32))
    named = SoftmaxClassifier(max_iter=50).fit(pd.DataFrame(X, columns=[f"f{i}" for i in range(64)]), y)
    with pytest.warns(UserWarning, match="feature names"):
        named.predict(rows)
