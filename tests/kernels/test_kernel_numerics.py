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


def test_the_kernels_exp_is_within_one_ulp_of_libm():
    # Every exp of the CPU kernels is _exp_nonpositive's (branch-free, so that it runs
    # in SIMD lanes): within 1 ulp of libm's over [-750, 0], subnormals included, and
    # IEEE's 0 below -745.2.
    from numba import njit

    from softmax_nb.kernels.cpu import _exp_nonpositive

    @njit
    def apply(x):
        out = np.empty_like(x)
        for i in range(x.size):
            out[i] = _exp_nonpositive(x[i])
        return out

    rng = np.random.default_rng(0)
    x = np.concatenate([-rng.random(200000) * 750, -rng.random(200000), -rng.random(200000) * 1e-6,
                        -np.arange(0, 746, 0.5), [0.0, -0.0, -5e-324, -708.39, -708.4, -745.13, -745.2, -746.0,
                                                   -1e300, -np.inf]])
    got, want = apply(x), np.exp(x)
    normal = want >= np.finfo(np.float64).tiny
    assert np.all(np.abs(got - want)[normal] <= np.spacing(want[normal]))
    assert np.all(np.abs(got - want)[~normal] <= 5e-324)
    assert np.mean(got == want) > 0.85
    assert apply(np.array([0.0]))[0] == 1.0 and apply(np.array([-745.3, -1e300, -np.inf])).tolist() == [0.0] * 3


def test_a_nan_logit_gives_nan_not_a_confident_answer():
    # A NaN coefficient (a diverged run) must show as NaN, dense and sparse alike.
    import scipy.sparse as sp

    from softmax_nb import kernels

    X = np.ones((3, 2))
    coef = np.array([[np.nan, 0.0], [0.0, 0.0], [1.0, 0.0]])
    for rows in (X, sp.csr_matrix(X)):
        assert np.isnan(kernels.loss_gradient(rows, np.array([0, 1, 2]), coef)[0])
        assert np.isnan(kernels.predict_proba(rows, coef)).all()
        assert np.isnan(kernels.predict_proba(rows, coef[:1])).all()
