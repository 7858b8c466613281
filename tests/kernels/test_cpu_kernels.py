"""Each kernel against the NumPy reference in naive.py."""

import os
import subprocess
import sys

import numpy as np
import pytest

from softmax_nb.kernels import cpu as kernels

import naive

# (n_samples, n_features, coef rows): one row is the binary log-odds model (two classes).
# Block products (kernels.cpu.uses_blas, block_rows): the loops for (37, 5, 3) and the
# binary ones; BLAS gemms in blocks of 64 rows (513 x 40 x 6: two chunks of 257 rows, so
# a one-row last block), of 32 (1100 x 400 x 50) and of 512 (2100 x 300 x 250: chunks of
# 420 rows, one short block each; full 512-row blocks: test_full_512_row_blocks).
SHAPES = [(1, 1, 2), (37, 5, 3), (700, 33, 7), (3001, 64, 10), (37, 5, 1), (3001, 64, 1),
          (513, 40, 6), (1100, 400, 50), (2100, 300, 250)]
TOL = {np.float64: 1e-12, np.float32: 2e-5}


def make_problem(n_samples, n_features, n_classes, dtype, seed=0, scale=None):
    # Logits of standard deviation ~8 at most: wider ones would only measure float32's rounding.
    scale = min(1.0, 8 / np.sqrt(n_features)) if scale is None else scale
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_samples, n_features)).astype(dtype)
    y = rng.integers(0, 2 if n_classes == 1 else n_classes, n_samples)
    coef = scale * rng.normal(size=(n_classes, n_features))
    intercept = scale * rng.normal(size=n_classes)
    sample_weight = rng.random(n_samples)
    return X, y, coef, intercept, sample_weight


def assert_close(actual, expected, rtol, what):
    scale = max(np.max(np.abs(expected)), 1e-300)
    err = np.max(np.abs(np.asarray(actual, float) - expected)) / scale
    assert err <= rtol, f"{what}: relative error {err:.3g} > {rtol:.3g}"


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("l2", [0.0, 0.7])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_loss_gradient_matches_reference(dtype, shape, fit_intercept, weighted, l2, smoothing):
    X, y, coef, intercept, sample_weight = make_problem(*shape, dtype)
    intercept = intercept if fit_intercept else None
    sample_weight = sample_weight if weighted else None
    loss, grad_coef, grad_intercept = kernels.loss_gradient(
        X, y, coef, intercept, sample_weight, l2, smoothing
    )
    # The reference sees the same (rounded) X and the coef rounded to X's dtype.
    coef_seen = coef.astype(dtype).astype(np.float64)
    ref_loss, ref_coef, ref_intercept = naive.loss_gradient(
        X, y, coef_seen, intercept, sample_weight, 0.0, smoothing
    )
    ref_loss += 0.5 * l2 * np.sum(coef**2)
    ref_coef += l2 * coef
    tol = TOL[dtype]
    assert abs(loss - ref_loss) <= tol * max(1.0, abs(ref_loss))
    assert grad_coef.dtype == np.float64
    assert_close(grad_coef, ref_coef, tol, "grad_coef")
    if fit_intercept:
        assert_close(grad_intercept, ref_intercept, tol, "grad_intercept")
    else:
        assert grad_intercept is None


def test_class_weights_are_sample_weights():
    X, y, coef, intercept, _ = make_problem(500, 8, 4, np.float64)
    class_weight = np.array([0.5, 2.0, 1.0, 3.0])
    a = kernels.loss_gradient(X, y, coef, intercept, class_weight[y])
    b = naive.loss_gradient(X, y, coef, intercept, class_weight[y])
    assert abs(a[0] - b[0]) < 1e-12
    assert_close(a[1], b[1], 1e-12, "grad_coef")


def test_intercept_equals_column_of_ones():
    X, y, coef, intercept, sw = make_problem(300, 6, 3, np.float64)
    X1 = np.hstack([X, np.ones((300, 1))])
    coef1 = np.hstack([coef, intercept[:, None]])
    loss, grad_coef, grad_intercept = kernels.loss_gradient(X, y, coef, intercept, sw)
    loss1, grad_coef1, _ = kernels.loss_gradient(X1, y, coef1, None, sw)
    assert abs(loss - loss1) < 1e-13
    assert_close(grad_coef, grad_coef1[:, :-1], 1e-13, "coef")
    assert_close(grad_intercept, grad_coef1[:, -1], 1e-13, "intercept")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", SHAPES)
def test_predictions_match_reference(dtype, shape):
    X, y, coef, intercept, _ = make_problem(*shape, dtype)
    coef_seen = coef.astype(dtype).astype(np.float64)
    tol = 1e-12 if dtype == np.float64 else 1e-5
    logits = kernels.decision_function(X, coef, intercept)
    proba = kernels.predict_proba(X, coef, intercept)
    log_proba = kernels.predict_log_proba(X, coef, intercept)
    assert logits.dtype == proba.dtype == log_proba.dtype == dtype
    assert_close(logits, naive.logits(X, coef_seen, intercept), tol, "logits")
    assert_close(proba, naive.predict_proba(X, coef_seen, intercept), tol, "proba")
    assert_close(log_proba, naive.predict_log_proba(X, coef_seen, intercept), tol * 10, "log_proba")
    predicted = kernels.predict(X, coef, intercept)
    assert predicted.dtype == np.int64
    if coef.shape[0] == 1:  # binary: class 1 where the log-odds are positive
        assert proba.shape == (len(X), 2)
        np.testing.assert_array_equal(predicted, (logits[:, 0] > 0).astype(int))
    else:
        np.testing.assert_array_equal(predicted, np.argmax(logits, axis=1))


@pytest.mark.parametrize("dtype,scale", [(np.float64, 1e4), (np.float32, 1e30)])
def test_binary_extreme_log_odds_stay_exact(dtype, scale):
    """sigmoid and log-sigmoid of huge |z|: no overflow, and the tiny probability is not
    rounded to 0 before it must be (log p stays finite and equals -|z|)."""
    X = np.array([[1.0], [-1.0], [0.0]], dtype=dtype)
    coef, intercept = np.array([[scale]]), np.zeros(1)
    log_proba = kernels.predict_log_proba(X, coef, intercept)
    assert np.all(np.isfinite(log_proba))
    np.testing.assert_allclose(log_proba[0], [-scale, 0.0], rtol=1e-6)
    np.testing.assert_allclose(log_proba[1], [0.0, -scale], rtol=1e-6)
    np.testing.assert_allclose(log_proba[2], [np.log(0.5)] * 2, rtol=1e-6)
    proba = kernels.predict_proba(np.array([[30.0]], dtype=dtype), np.array([[1.0]]), intercept)
    assert proba[0, 0] > 0 and abs(proba[0, 0] - np.exp(-30.0)) <= 1e-6 * np.exp(-30.0)
    loss, grad_coef, _ = kernels.loss_gradient(X, np.array([0, 1, 1]), coef, intercept)
    assert np.isfinite(loss) and np.all(np.isfinite(grad_coef))
    assert abs(loss - (2 * scale + np.log(2)) / 3) <= 1e-6 * loss


@pytest.mark.parametrize("dtype,scale", [(np.float64, 1e4), (np.float32, 1e30)])
def test_extreme_logits_stay_finite(dtype, scale):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 3)).astype(dtype)
    coef = np.array([[1.0, 0, 0], [0, 1.0, 0], [-1.0, 0, 1.0]]) * scale
    y = rng.integers(0, 3, 200)
    loss, grad_coef, grad_intercept = kernels.loss_gradient(X, y, coef, np.zeros(3))
    assert np.isfinite(loss) and np.all(np.isfinite(grad_coef)) and np.all(np.isfinite(grad_intercept))
    proba = kernels.predict_proba(X, coef, np.zeros(3))
    log_proba = kernels.predict_log_proba(X, coef, np.zeros(3))
    assert np.all(np.isfinite(proba)) and np.all(np.isfinite(log_proba))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    if dtype == np.float64:
        ref = naive.loss_gradient(X, y, coef, np.zeros(3))
        assert abs(loss - ref[0]) <= 1e-12 * abs(ref[0])


def test_float32_input_is_not_copied_or_upcast(monkeypatch):
    X, y, coef, intercept, _ = make_problem(100, 4, 3, np.float32)
    seen = {}
    original = kernels._loss_gradient

    def spy(X_in, *args):
        seen["X"] = X_in
        return original(X_in, *args)

    monkeypatch.setattr(kernels, "_loss_gradient", spy)
    kernels.loss_gradient(X, y, coef, intercept)
    assert seen["X"] is X


def test_non_contiguous_input_works():
    X, y, coef, intercept, _ = make_problem(100, 8, 3, np.float64)
    wide = np.zeros((100, 16))
    wide[:, ::2] = X
    a = kernels.loss_gradient(wide[:, ::2], y, coef, intercept)
    b = kernels.loss_gradient(X, y, coef, intercept)
    assert a[0] == b[0]
    np.testing.assert_array_equal(a[1], b[1])


@pytest.mark.parametrize("bad,match", [
    (dict(X=np.zeros(5)), "2-D"),
    (dict(X=np.zeros((5, 2), dtype=np.int64)), "float32 or float64"),
    (dict(y=np.array([0, 1, 5, 0, 1])), "class indices"),
    (dict(coef=np.zeros((3, 7))), "coef must have shape"),
    (dict(intercept=np.zeros(2)), "intercept must have shape"),
    (dict(sample_weight=np.array([1.0, -1, 1, 1, 1])), "sample_weight"),
    (dict(y=np.zeros(4, dtype=int)), "y must have shape"),
])
def test_wrappers_reject_bad_input(bad, match):
    args = dict(X=np.zeros((5, 2)), y=np.array([0, 1, 2, 0, 1]), coef=np.zeros((3, 2)),
                intercept=np.zeros(3), sample_weight=None)
    args.update(bad)
    with pytest.raises((ValueError, TypeError), match=match):
        kernels.loss_gradient(**args)


DETERMINISM_SCRIPT = """
import hashlib, numpy as np, numba, sys
numba.set_num_threads(int(sys.argv[1]))
from softmax_nb.kernels import cpu as kernels
rng = np.random.default_rng(3)
# Each path of the block products: loops (3 classes x 4 features, binary), BLAS gemms in
# blocks of 64, 16 or 32, and 512 rows.
for n, d, c in ((20000, 40, 6), (9000, 4, 3), (9000, 30, 1), (6000, 784, 32), (5000, 300, 250)):
    for dtype in (np.float32, np.float64):
        X = rng.normal(size=(n, d)).astype(dtype)
        y = rng.integers(0, max(c, 2), n)
        coef, intercept = rng.normal(size=(c, d)) / np.sqrt(d), rng.normal(size=c)
        loss, g, b = kernels.loss_gradient(X, y, coef, intercept, rng.random(n), 0.1, 0.05)
        proba = kernels.predict_proba(X, coef, intercept)
        digest = hashlib.sha256(g.tobytes() + b.tobytes() + proba.tobytes()).hexdigest()
        sys.stdout.write(repr(loss) + " " + digest + "\\n")
"""


def test_bitwise_identical_across_thread_counts(tmp_path):
    """The same bits on 1 and 2 threads. Both runs load the kernels from one numba cache,
    filled by a first run, in the same order: a process that compiles a parallel kernel
    itself, or loads its variants in another order, can get other last bits (README,
    "Deterministic")."""
    env = dict(os.environ, NUMBA_NUM_THREADS="2", NUMBA_CACHE_DIR=str(tmp_path))
    outputs = []
    for threads in ("2", "1", "2"):
        result = subprocess.run([sys.executable, "-c", DETERMINISM_SCRIPT, threads],
                                capture_output=True, text=True, env=env, check=True)
        outputs.append(result.stdout)
    assert any(tmp_path.rglob("*.nbc")), "the first run did not fill the cache"
    assert outputs[1] == outputs[2]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(700, 33, 7), (3001, 64, 10), (1100, 400, 50), (2100, 300, 250)])
@pytest.mark.parametrize("use_blas", [False, True])
def test_both_block_product_paths_match_the_reference(monkeypatch, dtype, shape, use_blas):
    """The register-blocked loops and the BLAS gemms, each forced on shapes the rule
    gives to one of them, agree with the NumPy reference."""
    from softmax_nb.kernels import tunables

    monkeypatch.setattr(tunables, "BLAS_MIN_CLASSES", 1 if use_blas else 10**9)
    monkeypatch.setattr(tunables, "BLAS_MIN_ENTRIES", 1)
    assert kernels.uses_blas(*shape[2:0:-1]) is use_blas
    X, y, coef, intercept, sample_weight = make_problem(*shape, dtype)
    coef_seen = coef.astype(dtype).astype(np.float64)
    loss, grad_coef, grad_intercept = kernels.loss_gradient(X, y, coef, intercept, sample_weight, 0.0, 0.1)
    ref_loss, ref_coef, ref_intercept = naive.loss_gradient(X, y, coef_seen, intercept, sample_weight, 0.0, 0.1)
    tol = TOL[dtype]
    assert abs(loss - ref_loss) <= tol * max(1.0, abs(ref_loss))
    assert_close(grad_coef, ref_coef, tol, "grad_coef")
    assert_close(grad_intercept, ref_intercept, tol, "grad_intercept")
    assert_close(kernels.predict_proba(X, coef, intercept), naive.predict_proba(X, coef_seen, intercept),
                 1e-12 if dtype == np.float64 else 1e-5, "proba")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_one_row_whose_stride_numpy_leaves_free(dtype):
    """One row of X broadcast from a vector (row stride 0, still C-contiguous to NumPy)
    on the BLAS path: the results of that row."""
    X, y, coef, intercept, _ = make_problem(5, 200, 10, dtype)
    row = np.broadcast_to(X[2], (1, 200))
    assert row.strides[0] == 0 and row.flags.c_contiguous and kernels.uses_blas(10, 200)
    np.testing.assert_array_equal(kernels.decision_function(row, coef, intercept),
                                  kernels.decision_function(X[2:3].copy(), coef, intercept))
    coef_seen = coef.astype(dtype).astype(np.float64)
    assert_close(kernels.predict_proba(row, coef, intercept), naive.predict_proba(X[2:3], coef_seen, intercept),
                 1e-12 if dtype == np.float64 else 1e-5, "proba")
    loss, grad_coef, _ = kernels.loss_gradient(row, y[2:3], coef, intercept)
    ref_loss, ref_coef, _ = naive.loss_gradient(X[2:3], y[2:3], coef_seen, intercept, np.ones(1), 0.0, 0.0)
    assert abs(loss - ref_loss) <= TOL[dtype] * max(1.0, abs(ref_loss))
    assert_close(grad_coef, ref_coef, TOL[dtype], "grad_coef")


def test_blas_runs_on_one_thread_during_a_call_and_its_count_comes_back():
    """The kernels' gemms run on the calling thread: the BLAS they call (SciPy's) is held
    to one thread while a kernel runs from the main thread (nested calls too), then
    restored, and NumPy's is left alone; other threads leave the process-wide counts
    alone, and a limit they set still takes effect."""
    import os
    import threading

    import scipy
    import scipy.linalg.cython_blas  # noqa: F401  (the BLAS numba's gemms call, loaded before counting)
    from threadpoolctl import threadpool_info, threadpool_limits

    from softmax_nb.kernels import blas

    def counts():
        return {info["filepath"]: info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"}

    scipy_dir = os.path.dirname(os.path.realpath(scipy.__file__))
    kernels_blas = {path for path in counts() if os.path.realpath(path).startswith(scipy_dir)} or set(counts())
    X, y, coef, intercept, _ = make_problem(3001, 64, 10, np.float32)
    kernels.loss_gradient(X, y, coef, intercept)
    before = counts()
    with blas.single_threaded():
        inside = counts()
        with blas.single_threaded():
            kernels.loss_gradient(X, y, coef, intercept)
        assert counts() == inside
    assert inside == {path: 1 if path in kernels_blas else threads for path, threads in before.items()}
    assert counts() == before
    with blas.single_threaded("all"):
        assert set(counts().values()) == {1}
    assert counts() == before

    seen = {}

    def in_a_thread():
        with blas.single_threaded():
            seen["inside"] = counts()
            kernels.loss_gradient(X, y, coef, intercept)
        with threadpool_limits(limits=1, user_api="blas"):  # the kernels left control free
            seen["limited"] = counts()

    other = threading.Thread(target=in_a_thread)
    other.start()
    other.join()
    assert seen["inside"] == before and set(seen["limited"].values()) == {1}
    assert counts() == before


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_full_512_row_blocks_match_the_reference(dtype):
    """Chunks of more than 512 rows (over 32768 rows) on the 512-row BLAS path: full blocks
    and a short last one per chunk, against the NumPy reference."""
    n, d, c = 33500, 300, 250
    assert kernels.block_rows(c, d, dtype) == 512
    bounds = kernels.chunk_bounds(n, c, d)
    assert np.diff(bounds).max() > 512 and np.any(np.diff(bounds) % 512)
    X, y, coef, intercept, sample_weight = make_problem(n, d, c, dtype)
    coef_seen = coef.astype(dtype).astype(np.float64)
    loss, grad_coef, grad_intercept = kernels.loss_gradient(X, y, coef, intercept, sample_weight)
    ref_loss, ref_coef, ref_intercept = naive.loss_gradient(X, y, coef_seen, intercept, sample_weight)
    tol = TOL[dtype]
    assert abs(loss - ref_loss) <= tol * max(1.0, abs(ref_loss))
    assert_close(grad_coef, ref_coef, tol, "grad_coef")
    assert_close(grad_intercept, ref_intercept, tol, "grad_intercept")
