"""CUDA kernels against the CPU kernels and a plain NumPy reference.

These tests need a usable CUDA device: a real GPU, or numba's simulator, which must
be switched on before numba.cuda is first imported, hence its own pytest run:

    NUMBA_ENABLE_CUDASIM=1 python -m pytest tests/kernels/test_cuda_kernels.py

Without either, the kernel tests skip with that hint; the tunables and no-GPU error
tests still run. Threads per block are patched small so that several blocks, several
tiles per block and several features per thread are exercised.
"""

import numpy as np
import pytest

from softmax_nb.kernels import cpu as kernels, tunables as config
from softmax_nb.kernels import cuda as gk

HAVE_CUDA = gk.cuda_available()
needs_cuda = pytest.mark.skipif(
    not HAVE_CUDA,
    reason=(
        "no usable CUDA GPU and numba's simulator is off: run "
        "NUMBA_ENABLE_CUDASIM=1 python -m pytest tests/kernels/test_cuda_kernels.py"
    ),
)
pytestmark = pytest.mark.gpu

# (n_samples, n_features, n_classes): with 8 threads per block the first has one
# feature per thread, the second three (19 features + the intercept column).
SHAPES = [(37, 5, 3), (53, 19, 4)]
RTOL = {np.float64: 1e-12, np.float32: 1e-5}


@pytest.fixture
def small_blocks(monkeypatch):
    """8 threads per block in groups of 4 lanes x 2 rows: 4-row tiles, 3 blocks."""
    monkeypatch.setattr(config, "THREADS_PER_BLOCK", 8)
    monkeypatch.setattr(config, "LANES_PER_ROW", 4)
    monkeypatch.setattr(config, "ROWS_PER_GROUP", 2)
    monkeypatch.setattr(config, "MAX_BLOCKS", 3)


def naive_loss_gradient(X, y, coef, intercept, sample_weight, l2_reg_strength, label_smoothing):
    """The objective written out with NumPy in float64, one formula per line."""
    X = X.astype(np.float64)
    n_samples = X.shape[0]
    n_classes = coef.shape[0]
    logits = X @ coef.T + (0.0 if intercept is None else intercept)
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_sum = np.log(np.exp(shifted).sum(axis=1))
    prob = np.exp(shifted - log_sum[:, None])
    target = (1 - label_smoothing) * np.eye(n_classes)[y] + label_smoothing / n_classes
    s = np.ones(n_samples) if sample_weight is None else sample_weight.astype(np.float64)
    s = s / s.sum()
    per_sample = log_sum - (target * shifted).sum(axis=1)
    loss = s @ per_sample + 0.5 * l2_reg_strength * np.sum(coef * coef)
    residual = s[:, None] * (prob - target)
    grad_coef = residual.T @ X + l2_reg_strength * coef
    grad_intercept = residual.sum(axis=0) if intercept is not None else None
    return loss, grad_coef, grad_intercept


def naive_log_proba(X, coef, intercept):
    logits = X.astype(np.float64) @ coef.T + (0.0 if intercept is None else intercept)
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def assert_close(actual, expected, rtol):
    """Relative to the largest entry, so entries near zero don't demand the impossible."""
    expected = np.asarray(expected, dtype=np.float64)
    scale = max(float(np.max(np.abs(expected))), 1e-300)
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale)


def make_problem(shape, dtype, seed=0, weighted=False, scale=1.0):
    n_samples, n_features, n_classes = shape
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features)).astype(dtype)
    y = rng.permutation(np.arange(n_samples) % n_classes)
    coef = scale * rng.standard_normal((n_classes, n_features))
    intercept = scale * rng.standard_normal(n_classes)
    sample_weight = rng.uniform(0.1, 3.0, n_samples) if weighted else None
    return X, y, coef, intercept, sample_weight


# ---------------------------------------------------------------------------
# Loss and gradient
# ---------------------------------------------------------------------------


@needs_cuda
@pytest.mark.usefixtures("small_blocks")
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("l2_reg_strength, label_smoothing", [(0.0, 0.0), (0.7, 0.1)])
def test_loss_gradient_matches_cpu_and_numpy(
    shape, dtype, fit_intercept, weighted, l2_reg_strength, label_smoothing
):
    X, y, coef, intercept, sample_weight = make_problem(shape, dtype, weighted=weighted)
    intercept = intercept if fit_intercept else None
    data = gk.DeviceData(X, y, sample_weight)
    loss, grad_coef, grad_intercept = gk.gpu_loss_gradient(
        data, coef, intercept, l2_reg_strength, label_smoothing
    )
    assert isinstance(loss, float)
    assert grad_coef.dtype == np.float64 and grad_coef.shape == coef.shape
    assert grad_coef.flags.c_contiguous
    cpu = kernels.loss_gradient(
        X, y, coef, intercept, sample_weight, l2_reg_strength, label_smoothing
    )
    naive = naive_loss_gradient(
        X, y, coef, intercept, sample_weight, l2_reg_strength, label_smoothing
    )
    rtol = RTOL[dtype]
    for reference in (cpu, naive):
        assert_close(loss, reference[0], rtol)
        assert_close(grad_coef, reference[1], rtol)
        if fit_intercept:
            assert grad_intercept.dtype == np.float64 and grad_intercept.shape == (shape[2],)
            assert_close(grad_intercept, reference[2], rtol)
        else:
            assert grad_intercept is None


@needs_cuda
@pytest.mark.usefixtures("small_blocks")
def test_small_blocks_cover_several_blocks_and_tiles():
    # Guards the fixture: the comparisons above must run over a real partition.
    geometry = gk._Geometry(3)
    assert (geometry.threads, geometry.lanes, geometry.tile_rows) == (8, 4, 4)
    n_tiles = -(-37 // geometry.tile_rows)
    assert gk._loss_blocks(37, geometry.tile_rows) == 3 < n_tiles


@needs_cuda
@pytest.mark.usefixtures("small_blocks")
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_loss_gradient_is_deterministic(dtype):
    X, y, coef, intercept, sample_weight = make_problem((53, 19, 4), dtype, weighted=True)
    first = gk.gpu_loss_gradient(gk.DeviceData(X, y, sample_weight), coef, intercept, 0.3, 0.05)
    data = gk.DeviceData(X, y, sample_weight)
    for _ in range(2):
        again = gk.gpu_loss_gradient(data, coef, intercept, 0.3, 0.05)
        assert again[0] == first[0]
        assert np.array_equal(again[1], first[1])
        assert np.array_equal(again[2], first[2])


@needs_cuda
@pytest.mark.usefixtures("small_blocks")
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_extreme_logits_stay_finite(dtype):
    # Logits of order 1e4: exp() without the row maximum subtracted would overflow.
    X, y, coef, intercept, _ = make_problem((37, 5, 3), dtype, seed=3, scale=3000.0)
    loss, grad_coef, grad_intercept = gk.gpu_loss_gradient(
        gk.DeviceData(X, y), coef, intercept, 0.0, 0.1
    )
    assert np.isfinite(loss) and loss > 100
    assert np.all(np.isfinite(grad_coef)) and np.all(np.isfinite(grad_intercept))
    cpu = kernels.loss_gradient(X, y, coef, intercept, None, 0.0, 0.1)
    assert_close(loss, cpu[0], RTOL[dtype])
    assert_close(grad_coef, cpu[1], RTOL[dtype])
    proba = gk.gpu_predict_proba(X, coef, intercept)
    assert np.all(np.isfinite(proba))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    log_proba = gk.gpu_predict_log_proba(X, coef, intercept)
    assert np.all(np.isfinite(log_proba))
    assert_close(log_proba, naive_log_proba(X, coef, intercept), RTOL[dtype])


@needs_cuda
@pytest.mark.usefixtures("small_blocks")
def test_many_classes_use_several_reduction_rounds():
    # 2 rows x 23 classes per lane = 46 partial logits, summed 4 columns per round.
    X, y, coef, intercept, sample_weight = make_problem((29, 7, 23), np.float64, weighted=True)
    got = gk.gpu_loss_gradient(gk.DeviceData(X, y, sample_weight), coef, intercept, 0.2, 0.0)
    want = naive_loss_gradient(X, y, coef, intercept, sample_weight, 0.2, 0.0)
    for a, b in zip(got, want):
        assert_close(a, b, 1e-12)
    assert_close(gk.gpu_decision_function(X, coef, intercept), X @ coef.T + intercept, 1e-12)


@needs_cuda
def test_default_tunables():
    # The shipped geometry: 256 threads, lane groups of 32, more lanes than features.
    X, y, coef, intercept, sample_weight = make_problem((37, 5, 3), np.float64, weighted=True)
    got = gk.gpu_loss_gradient(gk.DeviceData(X, y, sample_weight), coef, intercept, 0.5, 0.2)
    want = kernels.loss_gradient(X, y, coef, intercept, sample_weight, 0.5, 0.2)
    for a, b in zip(got, want):
        assert_close(a, b, 1e-12)


@needs_cuda
@pytest.mark.usefixtures("small_blocks")
def test_non_contiguous_X_is_accepted_without_upcast():
    X, y, coef, intercept, _ = make_problem((37, 5, 3), np.float32)
    X_fortran = np.asfortranarray(X)
    data = gk.DeviceData(X_fortran, y)
    assert data.dtype == np.float32
    got = gk.gpu_loss_gradient(data, coef, intercept)
    want = kernels.loss_gradient(X, y, coef, intercept)
    assert_close(got[1], want[1], 1e-5)


# ---------------------------------------------------------------------------
# Predictions
# ---------------------------------------------------------------------------


@needs_cuda
@pytest.mark.usefixtures("small_blocks")
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("on_device", [False, True])
def test_predictions_match_cpu_and_numpy(shape, dtype, fit_intercept, on_device):
    X, _, coef, intercept, _ = make_problem(shape, dtype, seed=1)
    intercept = intercept if fit_intercept else None
    source = gk.DeviceData(X) if on_device else X
    rtol = RTOL[dtype]
    log_proba_ref = naive_log_proba(X, coef, intercept)
    logits_ref = X.astype(np.float64) @ coef.T + (0.0 if intercept is None else intercept)

    logits = gk.gpu_decision_function(source, coef, intercept)
    assert logits.dtype == dtype and logits.shape == (shape[0], shape[2])
    assert_close(logits, kernels.decision_function(X, coef, intercept), rtol)
    assert_close(logits, logits_ref, rtol)

    proba = gk.gpu_predict_proba(source, coef, intercept)
    assert proba.dtype == dtype
    assert_close(proba, kernels.predict_proba(X, coef, intercept), rtol)
    assert_close(proba, np.exp(log_proba_ref), rtol)

    log_proba = gk.gpu_predict_log_proba(source, coef, intercept)
    assert log_proba.dtype == dtype
    assert_close(log_proba, kernels.predict_log_proba(X, coef, intercept), rtol)
    assert_close(log_proba, log_proba_ref, rtol)

    labels = gk.gpu_predict(source, coef, intercept)
    assert labels.dtype == np.int64
    np.testing.assert_array_equal(labels, kernels.predict(X, coef, intercept))


@needs_cuda
@pytest.mark.usefixtures("small_blocks")
def test_predict_takes_first_maximum_on_ties():
    X = np.ones((9, 2))
    coef = np.array([[0.0, 1.0], [1.0, 0.0], [0.5, 0.5]])
    np.testing.assert_array_equal(gk.gpu_predict(X, coef, None), np.zeros(9, np.int64))


# ---------------------------------------------------------------------------
# Input checks
# ---------------------------------------------------------------------------


@needs_cuda
def test_device_data_rejects_bad_input():
    X, y, coef, intercept, _ = make_problem((37, 5, 3), np.float64)
    with pytest.raises(TypeError, match="float32 or float64"):
        gk.DeviceData(X.astype(np.int64), y)
    with pytest.raises(ValueError, match="2-D"):
        gk.DeviceData(X[0], y)
    with pytest.raises(ValueError, match="y must have shape"):
        gk.DeviceData(X, y[:-1])
    with pytest.raises(TypeError, match="integer class indices"):
        gk.DeviceData(X, y.astype(np.float64))
    with pytest.raises(ValueError, match=">= 0"):
        gk.DeviceData(X, y - 1)
    with pytest.raises(ValueError, match="non-negative"):
        gk.DeviceData(X, y, -np.ones(37))
    with pytest.raises(ValueError, match="sample_weight must have shape"):
        gk.DeviceData(X, y, np.ones(36))
    with pytest.raises(ValueError, match="needs y"):
        gk.DeviceData(X, None, np.ones(37))


@needs_cuda
def test_loss_gradient_rejects_bad_parameters():
    X, y, coef, intercept, _ = make_problem((37, 5, 3), np.float64)
    data = gk.DeviceData(X, y)
    with pytest.raises(ValueError, match="class indices in \\[0, 2\\)"):
        gk.gpu_loss_gradient(data, coef[:2], intercept[:2])
    with pytest.raises(ValueError, match="coef must have shape"):
        gk.gpu_loss_gradient(data, coef[:, :4], intercept)
    with pytest.raises(ValueError, match="intercept must have shape"):
        gk.gpu_loss_gradient(data, coef, intercept[:2])
    with pytest.raises(ValueError, match="label_smoothing"):
        gk.gpu_loss_gradient(data, coef, intercept, label_smoothing=1.0)
    with pytest.raises(ValueError, match="no labels"):
        gk.gpu_loss_gradient(gk.DeviceData(X), coef, intercept)
    with pytest.raises(TypeError, match="DeviceData"):
        gk.gpu_loss_gradient(X, coef, intercept)


def test_bad_tunables_are_reported(monkeypatch):
    monkeypatch.setattr(config, "THREADS_PER_BLOCK", 12)
    monkeypatch.setattr(config, "LANES_PER_ROW", 8)
    with pytest.raises(ValueError, match="multiple of LANES_PER_ROW"):
        gk._Geometry(3)
    monkeypatch.setattr(config, "THREADS_PER_BLOCK", 16)
    monkeypatch.setattr(config, "ROWS_PER_GROUP", 9)
    with pytest.raises(ValueError, match="ROWS_PER_GROUP"):
        gk._Geometry(3)


def test_large_class_counts_shrink_the_block_or_fail_clearly():
    # Default tunables: 256 threads until the shared logits no longer fit.
    assert gk._Geometry(10).threads == config.THREADS_PER_BLOCK
    big = gk._Geometry(1000)
    assert big.threads < config.THREADS_PER_BLOCK and big.threads % big.lanes == 0
    with pytest.raises(ValueError, match="n_classes=100000 is too large"):
        gk._Geometry(100_000)


@pytest.mark.skipif(HAVE_CUDA, reason="a CUDA device (or the simulator) is available")
def test_without_a_device_the_error_is_immediate_and_clear():
    X, y, _, _, _ = make_problem((37, 5, 3), np.float64)
    with pytest.raises(RuntimeError, match="device='cpu'|numba-cuda"):
        gk.DeviceData(X, y)
    with pytest.raises(RuntimeError, match="device='cpu'|numba-cuda"):
        gk.device_name()


@needs_cuda
def test_device_name():
    name = gk.device_name()
    assert isinstance(name, str) and name
    assert (name == "CUDA simulator") == gk.simulator_enabled()


@needs_cuda
@pytest.mark.usefixtures("small_blocks")
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_binary_log_odds_model_matches_cpu(dtype, fit_intercept):
    """A one-row coef is the binary model on the GPU too (as its softmax twin)."""
    rng = np.random.default_rng(4)
    X = rng.standard_normal((41, 7)).astype(dtype)
    y = rng.integers(0, 2, 41)
    coef, intercept = rng.standard_normal((1, 7)), (rng.standard_normal(1) if fit_intercept else None)
    weights = rng.uniform(0.1, 3.0, 41)
    rtol = RTOL[dtype]
    got = gk.gpu_loss_gradient(gk.DeviceData(X, y, weights), coef, intercept, 0.3, 0.1)
    want = kernels.loss_gradient(X, y, coef, intercept, weights, 0.3, 0.1)
    assert abs(got[0] - want[0]) <= rtol * abs(want[0])
    assert got[1].shape == (1, 7)
    assert_close(got[1], want[1], rtol)
    if fit_intercept:
        assert got[2].shape == (1,)
        assert_close(got[2], want[2], rtol)
    else:
        assert got[2] is None
    logits = gk.gpu_decision_function(X, coef, intercept)
    assert logits.shape == (41, 1)
    assert_close(logits, kernels.decision_function(X, coef, intercept), rtol)
    for gpu, cpu in ((gk.gpu_predict_proba, kernels.predict_proba),
                     (gk.gpu_predict_log_proba, kernels.predict_log_proba)):
        out = gpu(X, coef, intercept)
        assert out.shape == (41, 2) and out.dtype == dtype
        assert_close(out, cpu(X, coef, intercept), rtol * 10)
    np.testing.assert_array_equal(gk.gpu_predict(X, coef, intercept), kernels.predict(X, coef, intercept))
