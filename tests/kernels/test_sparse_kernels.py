"""The CSR kernels (softmax_nb.kernels.sparse) against the plain NumPy reference on the
densified matrix: every kernel, both dtypes, both index types, with and without weights,
label smoothing, binary and multiclass; bitwise equal for any thread count; bad input
refused with a message."""

import numba
import numpy as np
import pytest
import scipy.sparse as sp

import naive
from softmax_nb import kernels
from softmax_nb.kernels import sparse


def make_csr(n_samples, n_features, density, dtype, index_dtype, seed=0):
    rng = np.random.default_rng(seed)
    X = sp.random(n_samples, n_features, density=density, format="csr", dtype=np.float64, random_state=rng)
    X.data = (rng.standard_normal(X.nnz) * 2).astype(dtype)
    X = sp.csr_matrix((X.data.astype(dtype), X.indices.astype(index_dtype), X.indptr.astype(index_dtype)),
                      shape=X.shape)
    return X


CASES = [(n_rows, dtype, index_dtype, weighted, smoothing)
         for n_rows in (1, 5) for dtype in (np.float32, np.float64) for index_dtype in (np.int32, np.int64)
         for weighted in (False, True) for smoothing in (0.0, 0.1)]


@pytest.mark.parametrize("n_rows,dtype,index_dtype,weighted,smoothing", CASES)
def test_loss_gradient_equals_the_dense_reference(n_rows, dtype, index_dtype, weighted, smoothing):
    X = make_csr(3000, 40, 0.1, dtype, index_dtype)
    rng = np.random.default_rng(1)
    n_classes = 2 if n_rows == 1 else n_rows
    y = rng.integers(0, n_classes, X.shape[0])
    coef, intercept = rng.standard_normal((n_rows, 40)) * 0.3, rng.standard_normal(n_rows)
    weights = rng.uniform(0.1, 3.0, X.shape[0]) if weighted else None
    got = kernels.loss_gradient(X, y, coef, intercept, weights, 0.05, smoothing)
    want = naive.loss_gradient(X.toarray(), y, coef, intercept, weights, 0.05, smoothing)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-12)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(got[2], want[2], rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("n_rows", [1, 4])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_predictions_equal_the_dense_reference(n_rows, dtype):
    X = make_csr(500, 30, 0.2, dtype, np.int32)
    rng = np.random.default_rng(2)
    coef, intercept = rng.standard_normal((n_rows, 30)), rng.standard_normal(n_rows)
    dense = X.toarray()
    tol = 1e-5 if dtype == np.float32 else 1e-12
    proba = kernels.predict_proba(X, coef, intercept)
    assert proba.dtype == dtype and proba.shape == (500, max(2, n_rows))
    np.testing.assert_allclose(proba, naive.predict_proba(dense, coef, intercept), atol=tol)
    np.testing.assert_allclose(kernels.predict_log_proba(X, coef, intercept),
                               naive.predict_log_proba(dense, coef, intercept), rtol=tol, atol=tol)
    np.testing.assert_allclose(kernels.decision_function(X, coef, intercept), naive.logits(dense, coef, intercept),
                               rtol=tol, atol=tol)
    np.testing.assert_array_equal(kernels.predict(X, coef, intercept), naive.predict(dense, coef, intercept))


def test_huge_logits_do_not_overflow():
    X = sp.csr_matrix(np.array([[1e4, 0.0], [0.0, -1e4]]))
    coef = np.array([[10.0, 0.0], [0.0, 10.0], [-5.0, 5.0]])
    loss, grad_coef, _ = kernels.loss_gradient(X, np.array([1, 0]), coef, np.zeros(3))
    assert np.isfinite(loss) and np.all(np.isfinite(grad_coef))
    assert np.all(np.isfinite(kernels.predict_log_proba(X, coef)))


def test_bitwise_identical_for_any_thread_count():
    X = make_csr(40000, 200, 0.02, np.float32, np.int32, seed=3)
    rng = np.random.default_rng(3)
    y = rng.integers(0, 7, X.shape[0])
    coef, intercept = rng.standard_normal((7, 200)), rng.standard_normal(7)
    results = []
    for threads in range(1, numba.config.NUMBA_NUM_THREADS + 1):
        numba.set_num_threads(threads)
        try:
            results.append(kernels.loss_gradient(X, y, coef, intercept, None, 0.01, 0.05))
        finally:
            numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    for other in results[1:]:
        assert other[0] == results[0][0]
        np.testing.assert_array_equal(other[1], results[0][1])
        np.testing.assert_array_equal(other[2], results[0][2])


def test_unsorted_and_duplicate_indices_are_canonicalised_on_a_copy():
    data = np.array([1.0, 2.0, 3.0, 4.0])
    indices = np.array([2, 0, 2, 1])  # row 0: columns 2, 0, 2 (a duplicate, unsorted)
    indptr = np.array([0, 3, 4])
    X = sp.csr_matrix((data, indices, indptr), shape=(2, 3))
    before = X.indices.copy()
    coef = np.arange(9.0).reshape(3, 3) / 10
    np.testing.assert_allclose(kernels.decision_function(X, coef), naive.logits(X.toarray(), coef))
    np.testing.assert_array_equal(X.indices, before)


@pytest.mark.parametrize("fmt", ["csc", "coo"])
def test_other_formats_are_converted(fmt):
    X = make_csr(200, 10, 0.3, np.float64, np.int32)
    rng = np.random.default_rng(4)
    coef = rng.standard_normal((3, 10))
    np.testing.assert_array_equal(kernels.predict_proba(X.asformat(fmt), coef), kernels.predict_proba(X, coef))


def test_bad_input_is_refused_with_a_message():
    X = make_csr(20, 5, 0.5, np.float64, np.int32)
    coef = np.zeros((3, 5))
    bad = X.copy()
    bad.data[0] = np.nan
    with pytest.raises(ValueError, match="NaN or infinity"):
        kernels.predict(bad, coef)
    outside = sp.csr_matrix((np.ones(1), np.array([7]), np.array([0, 1] + [1] * 19)), shape=(20, 5))
    with pytest.raises(ValueError, match="column indices outside 0..4"):
        kernels.predict(outside, coef)
    with pytest.raises(TypeError, match="float32 or float64"):
        kernels.predict(X.astype(np.int64), coef)
    with pytest.raises(ValueError, match=r"coef must have shape \(n_classes, 5\)"):
        kernels.predict(X, np.zeros((3, 6)))


def test_the_gradient_follows_the_reference_with_hot_columns_and_empty_rows():
    # Zipf-like columns (a few in most rows, as words in text), rows without nonzeros,
    # columns beyond 8 x tasks: every owner of the scatter pass gets work.
    rng = np.random.default_rng(5)
    rows = np.repeat(np.arange(3000), rng.integers(0, 12, 3000))
    p = 1.0 / np.arange(1, 301) ** 1.2
    cols = rng.choice(300, size=rows.size, p=p / p.sum())
    X = sp.csr_matrix((rng.standard_normal(rows.size), (rows, cols)), shape=(3000, 300))
    X.sum_duplicates()
    y = rng.integers(0, 4, 3000)
    coef = rng.standard_normal((4, 300)) * 0.2
    got = kernels.loss_gradient(X, y, coef, np.zeros(4))
    want = naive.loss_gradient(X.toarray(), y, coef, np.zeros(4), None, 0.0, 0.0)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-12)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("n_rows", [1, 3])
def test_row_blocks_at_pass_units_give_the_bits_of_one_pass(n_rows):
    # What a streamed fit relies on: any cut of the rows at pass_units bounds, blocks
    # fed in order, gives the loss and gradient of the whole matrix bit for bit.
    X = make_csr(40000, 50, 0.05, np.float64, np.int32, seed=3)
    rng = np.random.default_rng(4)
    y = rng.integers(0, max(2, n_rows), X.shape[0])
    coef, intercept = rng.standard_normal((n_rows, 50)) * 0.3, rng.standard_normal(n_rows)
    weights = rng.uniform(0.5, 2.0, X.shape[0])
    whole = sparse.loss_gradient_sums_data(X, y, coef, intercept, weights, 0.1)
    units = sparse.pass_units(X.shape[0], n_rows, 50)
    assert units[0] == 0 and units[-1] == X.shape[0] and np.all(np.diff(units) > 0)
    for cuts in ([0, units[5], units[-1]], [0, *units[1:-1:7], units[-1]], list(units)):
        blocks = [(a, X[a:b], y[a:b], weights[a:b]) for a, b in zip(cuts[:-1], cuts[1:])]
        got = sparse.loss_gradient_sums_blocks(blocks, X.shape[0], 50, coef, intercept, 0.1)
        assert got[0] == whole[0]
        np.testing.assert_array_equal(got[1], whole[1])
        np.testing.assert_array_equal(got[2], whole[2])


def test_row_blocks_off_pass_units_are_refused():
    X = make_csr(3000, 10, 0.2, np.float64, np.int32)
    y = np.arange(3000) % 2
    coef = np.zeros((1, 10))
    units = sparse.pass_units(3000, 1, 10)
    cut = int(units[1]) + 1
    blocks = [(0, X[:cut], y[:cut], np.ones(cut)), (cut, X[cut:], y[cut:], np.ones(3000 - cut))]
    with pytest.raises(ValueError, match="pass_units"):
        sparse.loss_gradient_sums_blocks(blocks, 3000, 10, coef, None, 0.0)
    with pytest.raises(ValueError, match="covered 64 of 3000"):
        sparse.loss_gradient_sums_blocks([(0, X[:64], y[:64], np.ones(64))], 3000, 10, coef, None, 0.0)


def test_bitwise_identical_with_more_threads_than_cores(tmp_path):
    # The scatter pass splits the columns among as many tasks as threads: 5 threads
    # (another owner pattern than 1 or 2) must give the bits of this process.
    import hashlib
    import os
    import subprocess
    import sys

    script = tmp_path / "run.py"
    script.write_text(
        "import hashlib, numpy as np, scipy.sparse as sp\n"
        "from softmax_nb import kernels\n"
        "X = sp.load_npz(r'%s')\n" % (tmp_path / "X.npz")
        + "rng = np.random.default_rng(8)\n"
        "y = rng.integers(0, 5, X.shape[0]); coef = rng.standard_normal((5, X.shape[1]))\n"
        "loss, g, b = kernels.loss_gradient(X, y, coef, np.ones(5), None, 0.01, 0.0)\n"
        "print(hashlib.sha256(np.float64(loss).tobytes() + g.tobytes() + b.tobytes()).hexdigest())\n")
    X = make_csr(20000, 700, 0.01, np.float64, np.int32, seed=8)
    sp.save_npz(tmp_path / "X.npz", X)
    rng = np.random.default_rng(8)
    y = rng.integers(0, 5, X.shape[0])
    coef = rng.standard_normal((5, X.shape[1]))
    loss, g, b = kernels.loss_gradient(X, y, coef, np.ones(5), None, 0.01, 0.0)
    here = hashlib.sha256(np.float64(loss).tobytes() + g.tobytes() + b.tobytes()).hexdigest()
    env = {**os.environ, "NUMBA_NUM_THREADS": "5"}
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == here


def test_the_row_pass_partition_ignores_the_model():
    """The streamed CSR plan and the kernel must cut the same units whatever coef rows
    (1 for a binary model, 2 classes in the file) or kept columns they are given."""
    want = sparse.pass_units(200000, 1, 2**18)
    for n_classes, n_features in ((2, 2**18), (5, 20000), (1000, 1024), (1, 1)):
        np.testing.assert_array_equal(sparse.pass_units(200000, n_classes, n_features), want)
