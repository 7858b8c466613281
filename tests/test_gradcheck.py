"""The gradient check's criterion at an optimum (softmax_nb.model.gradcheck).

At a converged model the gradient is ~0, so an error relative to the gradient is
rounding noise over almost nothing. The check divides by the scale of the gradient's
terms instead: a converged model passes, a gradient that is wrong there still fails.
"""

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning

from softmax_nb import SoftmaxClassifier
from softmax_nb.kernels import cpu as kernels
from softmax_nb.model import objective as objective_module
from softmax_nb.model.gradcheck import gradcheck, gradcheck_model, term_scale

TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:300] / 16.0, y[:300]


def _converged(X, y, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # it must really converge
        return SoftmaxClassifier(C=1.0, max_iter=2000, tol=1e-10, **params).fit(X, y)


@pytest.mark.parametrize("binary", [False, True])
def test_a_converged_model_passes_on_its_own_training_rows(digits, binary):
    X, y = digits
    y = (y > 4).astype(int) if binary else y
    clf = _converged(X, y)
    # All training rows: the objective the fit minimised, at its optimum.
    result = gradcheck_model(clf, X, y, n_samples=None, tolerance=TOLERANCE)
    assert result["passed"], result
    for block in ("coef", "intercept"):
        entry = result[block]
        # It is an optimum: the gradient is tiny, and relative to it the (tiny) absolute
        # error would look like a failure; relative to the terms' scale it is noise.
        assert entry["max_abs_gradient"] < 1e-7, entry
        assert entry["max_abs_error"] / entry["max_abs_gradient"] > TOLERANCE, entry
        assert entry["max_rel_error"] < 1e-6, entry
        assert entry["gradient_scale"] > 1e-3, entry


def test_a_gradient_missing_its_l2_term_fails_at_the_optimum(digits, monkeypatch):
    X, y = digits
    clf = _converged(X, y)
    real = objective_module.SoftmaxObjective.loss_gradient

    def without_penalty_gradient(self, coef, intercept):
        loss, grad_coef, grad_intercept = real(self, coef, intercept)
        # The bug: the loss has the L2 term, its gradient forgets it.
        return loss, grad_coef - self.l2_reg_strength * coef, grad_intercept

    monkeypatch.setattr(objective_module.SoftmaxObjective, "loss_gradient", without_penalty_gradient)
    result = gradcheck_model(clf, X, y, n_samples=None, tolerance=TOLERANCE)
    assert not result["passed"]
    assert result["coef"]["max_rel_error"] > 100 * TOLERANCE


def test_a_scaled_gradient_fails_at_the_optimum_of_a_sample(digits, monkeypatch):
    # On a sample of the training rows (the workflow's default) the model is not at the
    # sample's optimum: a gradient 1 % too large is caught.
    X, y = digits
    clf = _converged(X, y)
    real = objective_module.SoftmaxObjective.loss_gradient

    def scaled(self, coef, intercept):
        loss, grad_coef, grad_intercept = real(self, coef, intercept)
        return loss, 1.01 * grad_coef, grad_intercept

    assert gradcheck_model(clf, X, y, n_samples=50, tolerance=TOLERANCE)["passed"]
    monkeypatch.setattr(objective_module.SoftmaxObjective, "loss_gradient", scaled)
    assert not gradcheck_model(clf, X, y, n_samples=50, tolerance=TOLERANCE)["passed"]


@pytest.mark.parametrize("n_rows", [1, 4])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_term_scale_is_the_sum_of_the_absolute_per_row_gradients(n_rows, smoothing):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(40, 5))
    n_classes = 2 if n_rows == 1 else n_rows
    y = rng.integers(0, n_classes, 40)
    coef, intercept = rng.normal(size=(n_rows, 5)), rng.normal(size=n_rows)
    weights = rng.random(40) + 0.1
    l2 = 0.3
    scale_coef, scale_intercept = term_scale(X, y, coef, intercept, weights, l2, smoothing)
    # Each row's own gradient (the kernel on that row alone) is its contribution.
    expected_coef = l2 * np.abs(coef)
    expected_intercept = np.zeros(n_rows)
    for j in range(40):
        _, g_coef, g_intercept = kernels.loss_gradient(X[j:j + 1], y[j:j + 1], coef, intercept, None, 0.0, smoothing)
        expected_coef += weights[j] / weights.sum() * np.abs(g_coef)
        expected_intercept += weights[j] / weights.sum() * np.abs(g_intercept)
    np.testing.assert_allclose(scale_coef, expected_coef, rtol=1e-10)
    np.testing.assert_allclose(scale_intercept, expected_intercept, rtol=1e-10)
    # The scale bounds the gradient: away from an optimum the check is no looser than before.
    _, grad_coef, grad_intercept = kernels.loss_gradient(X, y, coef, intercept, weights, l2, smoothing)
    assert np.all(np.abs(grad_coef) <= scale_coef + 1e-12)
    assert np.all(np.abs(grad_intercept) <= scale_intercept + 1e-12)


def test_gradcheck_reports_the_scale_it_divides_by():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(60, 4)), rng.integers(0, 3, 60)
    result = gradcheck(X, y, rng.normal(size=(3, 4)), rng.normal(size=3), l2_reg_strength=0.1)
    for block in ("coef", "intercept"):
        entry = result[block]
        assert entry["max_rel_error"] == pytest.approx(entry["max_abs_error"] / entry["gradient_scale"])
        assert entry["gradient_scale"] >= entry["max_abs_gradient"]
