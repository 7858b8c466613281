"""SoftmaxClassifier on scipy.sparse X: every solver, binary and elastic net, as on dense X;
float32 kept; X never densified; bitwise identical for any thread count; scikit-learn's
LogisticRegression on the same CSR matrix; clear errors for bad sparse input."""

import warnings

import numba
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from softmax_nb import SoftmaxClassifier


def text_like(n_samples=3000, n_features=800, n_classes=4, seed=0, dtype=np.float64):
    """Zipf-like column frequencies, a planted linear model: rows of a few dozen counts."""
    rng = np.random.default_rng(seed)
    frequencies = 1.0 / np.arange(1, n_features + 1) ** 1.1
    frequencies /= frequencies.sum()
    rows, cols = [], []
    for i in range(n_samples):
        chosen = np.unique(rng.choice(n_features, size=30, p=frequencies))
        rows.append(np.full(len(chosen), i))
        cols.append(chosen)
    rows, cols = np.concatenate(rows), np.concatenate(cols)
    X = sp.csr_matrix((np.log1p(rng.poisson(2.0, len(rows)) + 1.0), (rows, cols)), shape=(n_samples, n_features))
    w = rng.standard_normal((n_classes, n_features)) * 2
    y = np.argmax(X @ w.T + rng.gumbel(size=(n_samples, n_classes)), axis=1)
    return X.astype(dtype), y


@pytest.fixture(scope="module")
def data():
    return text_like()


@pytest.mark.parametrize("params", [
    dict(C=1.0), dict(C=0.5, l1_ratio=0.5), dict(C=1.0, solver="gd", max_iter=30),
    dict(C=1.0, class_weight="balanced"), dict(C=1.0, label_smoothing=0.1),
])
def test_sparse_and_dense_fits_reach_the_same_optimum(data, params):
    X, y = data
    params = {"max_iter": 500, "tol": 1e-8, **params}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sparse_fit = SoftmaxClassifier(**params).fit(X, y)
        dense_fit = SoftmaxClassifier(**params).fit(X.toarray(), y)
    # The same objective value (to 1e-10 relative: the two fits stop at different points
    # within the tolerance), so coefficients agree to what that flat optimum allows.
    objective = dense_fit.objective(X.toarray(), y)
    assert abs(sparse_fit.objective(X, y) - objective) <= (1e-6 if params.get("solver") == "gd" else 1e-10) * objective
    np.testing.assert_allclose(sparse_fit.coef_, dense_fit.coef_, atol=1e-4)
    np.testing.assert_allclose(sparse_fit.predict_proba(X), dense_fit.predict_proba(X.toarray()), atol=1e-5)


def test_equals_scikit_learn_on_the_same_csr_matrix(data):
    # L2 against LogisticRegression(lbfgs) on the CSR matrix itself; elastic net is compared
    # with the dense fit above (saga needs minutes to reach 1e-4 here).
    X, y = data
    ours = SoftmaxClassifier(C=0.5, max_iter=1000, tol=1e-10).fit(X, y)
    theirs = LogisticRegression(C=0.5, max_iter=5000, tol=1e-12).fit(X, y)
    # The same optimum: objectives to 1e-10 relative; the optimum is flat, so the
    # parameters agree to what the two stopping points allow (measured up to 2.1e-5).
    twin = SoftmaxClassifier(C=0.5, max_iter=0).fit(X, y)
    twin.coef_, twin.intercept_ = theirs.coef_, theirs.intercept_
    assert abs(ours.objective(X, y) - twin.objective(X, y)) <= 1e-10 * twin.objective(X, y)
    np.testing.assert_allclose(ours.coef_, theirs.coef_, atol=1e-4)
    np.testing.assert_allclose(ours.intercept_, theirs.intercept_, atol=1e-4)


def test_binary_minibatch_partial_fit_and_early_stopping(data):
    X, y = data
    binary = SoftmaxClassifier(max_iter=100).fit(X, y % 2)
    assert binary.coef_.shape == (1, X.shape[1])
    np.testing.assert_allclose(binary.coef_, SoftmaxClassifier(max_iter=100).fit(X.toarray(), y % 2).coef_,
                               atol=1e-5)
    for solver in ("sgd", "adam"):
        sparse_fit = SoftmaxClassifier(solver=solver, max_iter=3, random_state=0, learning_rate=0.05).fit(X, y)
        dense_fit = SoftmaxClassifier(solver=solver, max_iter=3, random_state=0, learning_rate=0.05).fit(
            X.toarray(), y)
        np.testing.assert_allclose(sparse_fit.coef_, dense_fit.coef_, atol=1e-6)
    stopped = SoftmaxClassifier(early_stopping=True, max_iter=200).fit(X, y)
    assert stopped.score(X, y) > 0.7
    pieces = SoftmaxClassifier(solver="sgd", random_state=0)
    for start in range(0, X.shape[0], 1000):
        pieces.partial_fit(X[start:start + 1000], y[start:start + 1000], classes=np.arange(4))
    assert pieces.score(X, y) > 0.4


def test_float32_stays_float32_and_other_formats_are_accepted(data):
    X, y = data
    X32 = X.astype(np.float32)
    clf = SoftmaxClassifier(max_iter=50).fit(X32.tocsc(), y)
    assert clf.coef_.dtype == np.float32
    assert clf.predict_proba(X32).dtype == np.float32
    np.testing.assert_array_equal(clf.predict_proba(X32.tocoo()), clf.predict_proba(X32))
    assert clf.score(sp.csr_array(X32), y) == clf.score(X32, y)


def test_unsorted_duplicate_indices_are_summed_and_the_input_left_alone():
    X = sp.csr_matrix((np.array([1.0, 2.0, 3.0, 1.0, 5.0]), np.array([2, 0, 2, 1, 0]), np.array([0, 3, 4, 5])),
                      shape=(3, 3))
    y = np.array([0, 1, 0])
    canonical = X.copy()
    canonical.sum_duplicates()
    indices = X.indices.copy()
    a = SoftmaxClassifier(C=1.0).fit(X, y)
    b = SoftmaxClassifier(C=1.0).fit(canonical, y)
    np.testing.assert_array_equal(a.coef_, b.coef_)
    np.testing.assert_array_equal(X.indices, indices)


def test_bitwise_identical_for_any_thread_count(data):
    X, y = data
    fits = []
    for threads in range(1, numba.config.NUMBA_NUM_THREADS + 1):
        fits.append(SoftmaxClassifier(C=1.0, max_iter=30, n_threads=threads).fit(X, y))
    for other in fits[1:]:
        np.testing.assert_array_equal(other.coef_, fits[0].coef_)
        np.testing.assert_array_equal(other.intercept_, fits[0].intercept_)


def test_a_matrix_far_too_wide_to_densify_fits():
    # 2000 x 5,000,000 with 20 nonzeros per row: dense it would be 80 GB (float64).
    rng = np.random.default_rng(7)
    n_samples, n_features = 2000, 5_000_000
    cols = rng.integers(0, n_features, size=(n_samples, 20))
    X = sp.csr_matrix((np.ones(n_samples * 20), (np.repeat(np.arange(n_samples), 20), cols.ravel())),
                      shape=(n_samples, n_features))
    y = (X[:, : n_features // 2].sum(axis=1).A1 > 10).astype(int)
    clf = SoftmaxClassifier(C=10.0, max_iter=30).fit(X, y)
    assert clf.coef_.shape == (1, n_features)
    assert clf.score(X, y) > 0.9


def test_bad_sparse_input_is_refused_with_a_message(data):
    X, y = data
    clf = SoftmaxClassifier(max_iter=5).fit(X, y)
    bad = X.copy()
    bad.data[3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        SoftmaxClassifier().fit(bad, y)
    with pytest.raises(ValueError, match="features"):
        clf.predict(X[:, :-1])
    with pytest.raises(ValueError, match="device='cuda' takes dense X only"):
        from softmax_nb.model.backends import InMemoryRows

        InMemoryRows(X, y, device="cuda")


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("params", [{"solver": "lbfgs", "C": 0.5}, {"solver": "lbfgs", "C": 0.5, "l1_ratio": 0.5},
                                    {"solver": "sgd", "random_state": 0}])
def test_columns_without_a_nonzero_are_left_out_exactly(params):
    # Text with a large vocabulary: most columns are empty in the training rows. They
    # keep coef 0, and the others are fitted as on the columns in use alone.
    rng = np.random.default_rng(0)
    used = np.sort(rng.choice(20000, 300, replace=False))
    X_used = sp.random(500, 300, density=0.05, format="csr", random_state=1)
    y = rng.integers(0, 3, 500)
    X = sp.csr_matrix((X_used.data, used[X_used.indices], X_used.indptr), shape=(500, 20000))
    wide = SoftmaxClassifier(max_iter=30, **params).fit(X, y)
    narrow = SoftmaxClassifier(max_iter=30, **params).fit(X_used, y)
    assert wide.coef_.shape == (3, 20000) and wide.n_features_in_ == 20000
    assert not np.any(np.delete(wide.coef_, used, axis=1))
    np.testing.assert_allclose(wide.coef_[:, used], narrow.coef_, rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(wide.predict(X), narrow.predict(X_used))
