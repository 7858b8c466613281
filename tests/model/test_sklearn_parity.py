"""scikit-learn's LogisticRegression, model for model: the binary log-odds model for the
same C, its conventions (shapes, dtypes, n_iter_, max_iter=0), and elastic net
(l1_ratio) by OWL-QN and FISTA against saga and against a NumPy reference."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_breast_cancer, load_iris, load_wine
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from softmax_nb import SoftmaxClassifier
from softmax_nb.model.estimator import fit_streaming


def standardized(loader):
    X, y = loader(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.fixture(scope="module")
def cancer():
    return standardized(load_breast_cancer)


def newton_binary(X, y, C):
    """The exact optimum of sum_j log(1 + exp(-y_j z_j)) + ||w||^2 / (2C) by Newton's method."""
    m, n = X.shape
    Xa = np.hstack([X, np.ones((m, 1))])
    reg = np.r_[np.ones(n), 0.0] / C
    w = np.zeros(n + 1)
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-(Xa @ w)))
        gradient = Xa.T @ (p - y) + reg * w
        hessian = (Xa.T * (p * (1 - p))) @ Xa + np.diag(reg)
        w -= np.linalg.solve(hessian, gradient)
    return w[:n], w[n]


def rel(a, b):
    return float(np.max(np.abs(np.asarray(a, float) - b)) / np.max(np.abs(b)))


# -- the binary model ----------------------------------------------------------------


@pytest.mark.parametrize("C", [0.1, 1.0])
def test_binary_model_is_scikit_learns_for_the_same_C(cancer, C):
    X, y = cancer
    ours = SoftmaxClassifier(C=C, tol=1e-10, max_iter=10000).fit(X, y)
    theirs = LogisticRegression(C=C, tol=1e-14, max_iter=100000).fit(X, y)
    coef, intercept = newton_binary(X, y, C)
    assert ours.coef_.shape == theirs.coef_.shape == (1, X.shape[1])
    assert ours.intercept_.shape == theirs.intercept_.shape == (1,)
    assert rel(ours.coef_[0], coef) <= 1e-7  # the exact optimum
    assert abs(ours.intercept_[0] - intercept) <= 1e-7 * max(1.0, abs(intercept))
    assert rel(ours.coef_, theirs.coef_) <= 1e-6  # scikit-learn's own, to its precision
    assert ours.decision_function(X).shape == (len(X),)
    np.testing.assert_allclose(ours.decision_function(X), theirs.decision_function(X), atol=1e-5)
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), atol=1e-6)
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))


def test_binary_string_labels_and_no_intercept(cancer):
    X, y = cancer
    labels = np.array(["benign", "malignant"])[1 - y]
    ours = SoftmaxClassifier(fit_intercept=False, tol=1e-10, max_iter=5000).fit(X, labels)
    theirs = LogisticRegression(fit_intercept=False, tol=1e-14, max_iter=100000).fit(X, labels)
    assert ours.intercept_.shape == (1,) and ours.intercept_[0] == 0
    assert rel(ours.coef_, theirs.coef_) <= 1e-6
    # The one row is the log-odds of classes_[1].
    z = ours.decision_function(X)
    np.testing.assert_array_equal(ours.predict(X), np.where(z > 0, ours.classes_[1], ours.classes_[0]))
    np.testing.assert_allclose(ours.predict_proba(X)[:, 1], 1 / (1 + np.exp(-z)), rtol=1e-12)


# -- conventions -----------------------------------------------------------------------


def test_n_iter_is_an_array_and_parameters_keep_the_dtype_of_X():
    X, y = standardized(load_iris)
    for dtype in (np.float32, np.float64):
        clf = SoftmaxClassifier().fit(X.astype(dtype), y)
        theirs = LogisticRegression().fit(X.astype(dtype), y)
        assert clf.coef_.dtype == clf.intercept_.dtype == theirs.coef_.dtype == dtype
        assert clf.n_iter_.shape == theirs.n_iter_.shape == (1,)
        assert clf.n_iter_.dtype == theirs.n_iter_.dtype


def test_max_iter_zero_returns_the_start_with_a_warning():
    X, y = standardized(load_iris)
    with pytest.warns(ConvergenceWarning, match="max_iter=0"):
        clf = SoftmaxClassifier(max_iter=0).fit(X, y)
    assert not np.any(clf.coef_) and clf.n_iter_[0] == 0
    warm = SoftmaxClassifier(warm_start=True).fit(X, y)
    before = warm.coef_.copy()
    warm.set_params(max_iter=0)
    warm.fit(X, y)  # the start is the converged previous fit: kept, and nothing to warn about
    np.testing.assert_array_equal(warm.coef_, before)


def test_bad_parameters_go_through_scikit_learns_validation():
    from sklearn.utils._param_validation import InvalidParameterError

    X, y = standardized(load_iris)
    with pytest.raises(InvalidParameterError, match="'n_threads' parameter of SoftmaxClassifier"):
        SoftmaxClassifier(n_threads=0).fit(X, y)
    with pytest.raises(ValueError, match="l1_ratio must be in"):
        SoftmaxClassifier(l1_ratio=-0.1).fit(X, y)


def test_balanced_class_weight_uses_sample_weight():
    """Weights in 'balanced' as scikit-learn: fitting with integer weights equals repeating rows."""
    X, y = standardized(load_wine)
    weights = np.random.default_rng(0).integers(1, 4, len(y))
    weighted = SoftmaxClassifier(class_weight="balanced", tol=1e-10, max_iter=2000).fit(X, y, sample_weight=weights)
    repeated = SoftmaxClassifier(class_weight="balanced", tol=1e-10, max_iter=2000).fit(
        np.repeat(X, weights, axis=0), np.repeat(y, weights))
    assert rel(weighted.coef_, repeated.coef_) <= 1e-6


# -- elastic net -------------------------------------------------------------------------


def saga(X, y, C, l1_ratio):
    return LogisticRegression(C=C, l1_ratio=l1_ratio, solver="saga", tol=1e-10, max_iter=200000).fit(X, y)


def objective_at(X, y, C, l1_ratio, coef, intercept):
    """Our J at someone else's parameters (the same function scikit-learn minimises, / S)."""
    clf = SoftmaxClassifier(C=C, l1_ratio=l1_ratio, max_iter=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    clf.coef_, clf.intercept_ = coef.copy(), intercept.copy()
    return clf.objective(X, y)


@pytest.mark.parametrize("data", ["cancer", "wine"])
@pytest.mark.parametrize("l1_ratio", [0.5, 1.0])
@pytest.mark.parametrize("solver", ["lbfgs", "gd"])
def test_elastic_net_reaches_sagas_objective_with_its_zeros(data, l1_ratio, solver):
    X, y = standardized(load_breast_cancer if data == "cancer" else load_wine)
    C = 0.1
    ours = SoftmaxClassifier(C=C, l1_ratio=l1_ratio, solver=solver, tol=1e-9, max_iter=20000).fit(X, y)
    theirs = saga(X, y, C, l1_ratio)
    mine = ours.objective(X, y)
    reference = objective_at(X, y, C, l1_ratio, theirs.coef_, theirs.intercept_)
    assert mine <= reference * (1 + 1e-8)
    np.testing.assert_array_equal(ours.coef_ == 0, theirs.coef_ == 0)
    assert np.count_nonzero(ours.coef_ == 0) > 0  # exact zeros, not tiny values


def test_l1_ratio_zero_is_the_l2_fit_bitwise():
    X, y = standardized(load_wine)
    a = SoftmaxClassifier(l1_ratio=0.0).fit(X, y)
    b = SoftmaxClassifier().fit(X, y)
    np.testing.assert_array_equal(a.coef_, b.coef_)


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_minibatch_solvers_refuse_l1(solver):
    X, y = standardized(load_iris)
    with pytest.raises(ValueError, match="l1_ratio > 0 needs solver 'lbfgs' .OWL-QN. or 'gd' .FISTA."):
        SoftmaxClassifier(solver=solver, l1_ratio=0.5).fit(X, y)


def test_sparsify_and_densify():
    X, y = standardized(load_wine)
    clf = SoftmaxClassifier(C=0.05, l1_ratio=1.0, max_iter=2000).fit(X, y)
    dense, logits = clf.predict_proba(X), clf.decision_function(X)
    assert clf.sparsify() is clf and sp.issparse(clf.coef_)
    assert clf.coef_.nnz == np.count_nonzero(clf.densify().coef_)
    clf.sparsify()
    np.testing.assert_array_equal(clf.predict_proba(X), dense)
    np.testing.assert_array_equal(clf.decision_function(X), logits)
    assert isinstance(clf.densify().coef_, np.ndarray)
    np.testing.assert_array_equal(clf.predict_proba(X), dense)


@pytest.mark.parametrize("solver", ["lbfgs", "gd"])
def test_elastic_net_resume_is_bitwise(tmp_path, solver):
    X, y = standardized(load_wine)
    params = dict(solver=solver, C=0.1, l1_ratio=0.5, tol=1e-12)
    path = str(tmp_path / "state.h5")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        full = SoftmaxClassifier(max_iter=30, **params).fit(X, y)
        SoftmaxClassifier(max_iter=11, checkpoint_path=path, checkpoint_every=1, **params).fit(X, y)
        resumed = SoftmaxClassifier(max_iter=30, checkpoint_path=path, **params).fit(X, y, resume=True)
    np.testing.assert_array_equal(full.coef_, resumed.coef_)
    assert full.history_["loss"] == resumed.history_["loss"]


def test_streamed_elastic_net_equals_in_memory(small):
    from softmax_nb import files as sio

    X, y, info = sio.read_dataset(small, "train")
    labels = info["classes"][y]
    params = {"C": 0.05, "l1_ratio": 0.7, "tol": 1e-10, "max_iter": 3000}
    reference = SoftmaxClassifier(**params).fit(X, labels)
    streamed = fit_streaming(small, params, max_memory_mb=4, eval_split=None, progress=False)
    assert rel(streamed.coef_, reference.coef_) <= 1e-6
    np.testing.assert_array_equal(streamed.coef_ == 0, reference.coef_ == 0)
    assert streamed.history_["loss"][-1] == pytest.approx(reference.history_["loss"][-1], rel=1e-10)


@pytest.mark.parametrize("l1_ratio", [0.0, 0.6])
def test_streamed_binary_fit_equals_in_memory(tmp_path, l1_ratio):
    from synthetic_files import make_dataset

    from softmax_nb import files as sio

    path = make_dataset(tmp_path / "binary.h5", n_classes=2, n_features=8)
    X, y, info = sio.read_dataset(path, "train")
    labels = info["classes"][y]
    params = {"C": 0.2, "l1_ratio": l1_ratio, "tol": 1e-10, "max_iter": 2000}
    reference = SoftmaxClassifier(**params).fit(X, labels)
    streamed = fit_streaming(path, params, max_memory_mb=4, eval_split=None, progress=False)
    assert streamed.coef_.shape == reference.coef_.shape == (1, 8)
    assert rel(streamed.coef_, reference.coef_) <= 1e-7
    assert streamed.history_["loss"][-1] == pytest.approx(reference.history_["loss"][-1], rel=1e-12)
    if l1_ratio == 0:
        theirs = LogisticRegression(C=0.2, tol=1e-14, max_iter=10000).fit(X, labels)
        assert rel(streamed.coef_, theirs.coef_) <= 1e-5
