"""The one objective: its layout, C -> lambda, class and row weights, the penalty, and
its value against the plain NumPy reference, on every backend."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.utils.class_weight import compute_class_weight

import naive
from softmax_nb import SoftmaxClassifier
from softmax_nb.data import streaming
from softmax_nb.kernels.penalty import L2Penalty
from softmax_nb.model.backends import InMemoryRows, StreamedRows
from softmax_nb.model.objective import (ParameterLayout, SoftmaxObjective, class_weight_vector,
                                        l2_reg_strength, total_weight, weights_of_rows)
from softmax_nb import files


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_layout_round_trip(fit_intercept):
    layout = ParameterLayout(3, 4, fit_intercept)
    coef, intercept = np.arange(12.0).reshape(3, 4), np.array([7.0, 8.0, 9.0])
    theta = layout.pack(coef, intercept)
    assert theta.shape == (layout.n_params,) == (15 if fit_intercept else 12,)
    got_coef, got_intercept = layout.unpack(theta)
    np.testing.assert_array_equal(got_coef, coef)
    if fit_intercept:
        np.testing.assert_array_equal(got_intercept, intercept)
    else:
        assert got_intercept is None


def test_lambda_is_one_over_C_times_the_total_weight():
    assert l2_reg_strength(2.0, 50.0) == 1.0 / 100.0
    assert l2_reg_strength(np.inf, 50.0) == 0.0
    with pytest.raises(ValueError, match="sum to 0"):
        l2_reg_strength(1.0, 0.0)


def test_balanced_class_weights_are_scikit_learns_with_sample_weights():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 300)
    sample_weight = rng.uniform(0.1, 3.0, 300)
    classes = np.arange(4)
    expected = compute_class_weight("balanced", classes=classes, y=y, sample_weight=sample_weight)
    np.testing.assert_allclose(class_weight_vector("balanced", classes, y_index=y, sample_weight=sample_weight),
                               expected, rtol=1e-15)
    # From class counts alone (a dataset file), as from the rows themselves.
    counts = np.bincount(y, minlength=4)
    np.testing.assert_allclose(class_weight_vector("balanced", classes, class_counts=counts),
                               compute_class_weight("balanced", classes=classes, y=y), rtol=1e-15)


def test_class_weight_dicts():
    classes = np.array(["cat", "dog", "eel"])
    np.testing.assert_array_equal(class_weight_vector({"dog": 2.0}, classes), [1.0, 2.0, 1.0])
    # JSON and YAML keys are text: they name integer labels too.
    np.testing.assert_array_equal(class_weight_vector({"1": 3.0}, np.array([0, 1])), [1.0, 3.0])
    with pytest.raises(ValueError, match="not among the classes"):
        class_weight_vector({"cow": 2.0}, classes)
    # scikit-learn accepts extra keys once every class has a weight.
    np.testing.assert_array_equal(class_weight_vector({"cat": 1, "dog": 2, "eel": 3, "cow": 4}, classes),
                                  [1.0, 2.0, 3.0])
    # A class absent from the rows weighs 1: it adds nothing to J.
    np.testing.assert_array_equal(class_weight_vector("balanced", classes, class_counts=[4, 0, 4]),
                                  [1.0, 1.0, 1.0])


def test_row_weights_and_total_weight_agree():
    y = np.array([0, 1, 1, 2, 2, 2])
    weights = weights_of_rows({1: 2.0, 2: 0.5}, np.arange(3), y, np.full(6, 2.0))
    np.testing.assert_array_equal(weights, [2.0, 4.0, 4.0, 1.0, 1.0, 1.0])
    assert total_weight(np.bincount(y), class_weight_vector({1: 2.0, 2: 0.5}, np.arange(3))) == 1 + 4 + 1.5


def test_penalty_never_touches_the_intercept():
    coef = np.array([[1.0, -2.0], [0.5, 0.0]])
    grad = np.zeros_like(coef)
    assert L2Penalty(0.5).add_to(1.0, grad, coef) == 1.0 + 0.25 * (1 + 4 + 0.25)
    np.testing.assert_array_equal(grad, 0.5 * coef)
    with pytest.raises(ValueError, match=">= 0"):
        L2Penalty(-1.0)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("C", [0.3, np.inf])
def test_objective_equals_the_numpy_reference(fit_intercept, C):
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((80, 5)), rng.integers(0, 3, 80)
    weights = rng.uniform(0.5, 2.0, 80)
    objective = SoftmaxObjective(InMemoryRows(X, y, weights), 3, fit_intercept=fit_intercept, C=C,
                                 label_smoothing=0.1)
    coef, intercept = rng.standard_normal((3, 5)), rng.standard_normal(3)
    loss, grad_coef, grad_intercept = objective.loss_gradient(coef, intercept)
    lam = 0.0 if np.isinf(C) else 1.0 / (C * weights.sum())
    expected = naive.loss_gradient(X, y, coef, intercept if fit_intercept else None, weights, lam, 0.1)
    assert loss == pytest.approx(expected[0], rel=1e-12)
    np.testing.assert_allclose(grad_coef, expected[1], rtol=1e-10, atol=1e-14)
    if fit_intercept:
        np.testing.assert_allclose(grad_intercept, expected[2], rtol=1e-10, atol=1e-14)
    assert objective.penalized == (not np.isinf(C))
    # The flat form the optimisers use is the same numbers.
    flat_loss, flat_grad = objective(objective.pack(coef, intercept))
    assert flat_loss == loss
    np.testing.assert_array_equal(flat_grad, objective.pack(grad_coef, grad_intercept))


def test_streamed_and_in_memory_backends_give_one_objective(small):
    X, y, info = files.read_dataset(small, "train")
    class_weight = class_weight_vector("balanced", info["classes"], y_index=y)
    in_memory = SoftmaxObjective(InMemoryRows(X, y, weights_of_rows("balanced", info["classes"], y)),
                                 info["n_classes"], C=0.7)
    with streaming.H5Stream(small, "train", block_rows=70) as stream:
        streamed = SoftmaxObjective(StreamedRows(stream, class_weight), info["n_classes"], C=0.7)
        assert streamed.l2_reg_strength == pytest.approx(in_memory.l2_reg_strength, rel=1e-15)
        theta = np.random.default_rng(2).standard_normal(in_memory.n_params)
        loss, grad = streamed(theta)
    expected_loss, expected_grad = in_memory(theta)
    assert loss == pytest.approx(expected_loss, rel=1e-12)
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-10, atol=1e-13)


def test_balanced_fit_with_sample_weights_matches_logistic_regression():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((400, 6))
    y = rng.choice(3, size=400, p=[0.6, 0.3, 0.1])
    sample_weight = rng.uniform(0.2, 2.0, 400)
    ours = SoftmaxClassifier(C=0.5, class_weight="balanced", tol=1e-10, max_iter=500).fit(X, y, sample_weight)
    theirs = LogisticRegression(C=0.5, class_weight="balanced", tol=1e-10, max_iter=2000).fit(X, y, sample_weight)
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), atol=1e-6)
