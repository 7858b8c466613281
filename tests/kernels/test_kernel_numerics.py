"""Numerically hard inputs: separable data without regularization, huge feature
values, zero-variance features, classes missing from validation data."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from softmax_nb import SoftmaxClassifier


def test_separable_data_without_regularization_warns_and_stays_finite():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = (X[:, 0] > 0).astype(int)
    with pytest.warns(ConvergenceWarning, match="linearly separable"):
        clf = SoftmaxClassifier(C=np.inf).fit(X, y)
    assert np.all(np.isfinite(clf.coef_)) and np.all(np.isfinite(clf.intercept_))
    assert clf.score(X, y) == 1.0


@pytest.mark.parametrize("dtype,scale", [(np.float64, 1e30), (np.float32, 1e18)])
@pytest.mark.parametrize("solver", ["lbfgs", "gd"])
def test_huge_feature_values_fit_like_scaled_ones(dtype, scale, solver):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 4))
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        # Without an intercept the problem is scale invariant (coef just shrinks by
        # the scale); with one, the intercept is 1/scale as well conditioned, which
        # is why prepare standardizes features.
        params = dict(solver=solver, C=np.inf, max_iter=300, fit_intercept=False)
        huge = SoftmaxClassifier(**params).fit((X * scale).astype(dtype), y)
        plain = SoftmaxClassifier(**params).fit(X.astype(dtype), y)
    assert np.all(np.isfinite(huge.coef_))
    assert huge.history_["loss"][-1] < huge.history_["loss"][0]
    assert huge.score((X * scale).astype(dtype), y) >= plain.score(X.astype(dtype), y) - 0.02


def test_minibatch_solver_warns_on_unscaled_features():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(100, 3)) * 1e12
    y = rng.integers(0, 3, 100)
    with pytest.warns(UserWarning, match="standardize the features"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            SoftmaxClassifier(solver="sgd", max_iter=2).fit(X, y)


def test_zero_variance_feature_is_harmless():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(150, 3))
    X[:, 1] = 7.0
    y = (X[:, 0] > 0).astype(int) + (X[:, 2] > 0)
    clf = SoftmaxClassifier(C=10.0).fit(X, y)
    without = SoftmaxClassifier(C=10.0).fit(X[:, [0, 2]], y)
    assert np.all(np.isfinite(clf.coef_))
    assert abs(clf.score(X, y) - without.score(X[:, [0, 2]], y)) < 0.02


def test_class_missing_from_validation_data():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(120, 3))
    y = rng.integers(0, 3, 120)
    X_val, y_val = X[y != 2][:20], y[y != 2][:20]
    clf = SoftmaxClassifier(max_iter=10).fit(X, y, eval_set=(X_val, y_val))
    assert np.all(np.isfinite(clf.history_["val_loss"]))


def test_validation_label_unseen_in_training_is_counted_wrong_not_fatal():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(60, 2))
    y = rng.integers(0, 2, 60)
    clf = SoftmaxClassifier(max_iter=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y, eval_set=(X[:10], np.full(10, 9)))
    assert clf.history_["val_accuracy"][-1] == 0.0
