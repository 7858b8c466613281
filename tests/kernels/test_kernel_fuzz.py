"""Property-based tests of the kernels (hypothesis): random shapes, dtypes, weights
with zeros and extreme logits, against the float64 log-sum-exp reference.

The default run is bounded (SOFTMAX_NB_FUZZ_EXAMPLES, default 60 examples per test);
set it higher for a longer search, e.g. SOFTMAX_NB_FUZZ_EXAMPLES=2000.
"""

import os

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from softmax_nb.kernels import cpu as kernels

import naive

EXAMPLES = int(os.environ.get("SOFTMAX_NB_FUZZ_EXAMPLES", "60"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@st.composite
def problems(draw):
    n_samples = draw(st.integers(1, 300))
    n_features = draw(st.integers(1, 40))
    n_classes = draw(st.integers(2, 40))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    seed = draw(st.integers(0, 2**32 - 1))
    logit_scale = draw(st.sampled_from([1e-3, 1.0, 30.0, 1e3, 1e4]))
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_samples, n_features)).astype(dtype)
    y = rng.integers(0, n_classes, n_samples)
    coef = rng.normal(size=(n_classes, n_features)) * logit_scale / np.sqrt(n_features)
    intercept = rng.normal(size=n_classes) * logit_scale if draw(st.booleans()) else None
    weights = None
    if draw(st.booleans()):
        weights = rng.random(n_samples) * (rng.random(n_samples) > 0.3)
        weights[rng.integers(0, n_samples)] = 1.0  # at least one positive weight
    l2 = draw(st.sampled_from([0.0, 0.1]))
    smoothing = draw(st.sampled_from([0.0, 0.1]))
    return X, y, coef, intercept, weights, l2, smoothing


@FUZZ
@given(problems())
def test_loss_gradient_finite_and_matches_reference(problem):
    X, y, coef, intercept, weights, l2, smoothing = problem
    loss, grad_coef, grad_intercept = kernels.loss_gradient(X, y, coef, intercept, weights, l2, smoothing)
    assert np.isfinite(loss) and np.all(np.isfinite(grad_coef))
    coef_seen = coef.astype(X.dtype).astype(np.float64)
    ref_loss, ref_coef, ref_intercept = naive.loss_gradient(X, y, coef_seen, intercept, weights, 0.0, smoothing)
    ref_loss += 0.5 * l2 * np.sum(coef**2)
    ref_coef += l2 * coef
    # float32 logits carry a relative error of ~1e-7 of their magnitude.
    logit_size = 1.0 + np.max(np.abs(naive.logits(X, coef_seen, intercept)))
    tol = 1e-11 if X.dtype == np.float64 else 1e-5
    assert abs(loss - ref_loss) <= tol * max(abs(ref_loss), logit_size)
    scale = max(np.max(np.abs(ref_coef)), 1e-300)
    grad_tol = tol if X.dtype == np.float64 else tol * logit_size
    assert np.max(np.abs(grad_coef - ref_coef)) <= grad_tol * max(scale, 1.0)
    if intercept is not None:
        assert np.max(np.abs(grad_intercept - ref_intercept)) <= grad_tol * max(np.max(np.abs(ref_intercept)), 1.0)


@FUZZ
@given(problems())
def test_predictions_are_normalised_and_finite(problem):
    X, _, coef, intercept, _, _, _ = problem
    proba = kernels.predict_proba(X, coef, intercept)
    log_proba = kernels.predict_log_proba(X, coef, intercept)
    assert np.all(np.isfinite(proba)) and np.all(np.isfinite(log_proba))
    assert np.all(proba >= 0)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5 if X.dtype == np.float32 else 1e-12)
    assert np.all(log_proba <= 1e-6)


@FUZZ
@given(problems())
def test_bitwise_equal_across_thread_counts(problem):
    import numba

    X, y, coef, intercept, weights, l2, smoothing = problem
    results = []
    previous = numba.get_num_threads()
    try:
        for threads in sorted({1, numba.config.NUMBA_NUM_THREADS}):
            numba.set_num_threads(threads)
            results.append(kernels.loss_gradient(X, y, coef, intercept, weights, l2, smoothing))
    finally:
        numba.set_num_threads(previous)
    first = results[0]
    for other in results[1:]:
        assert first[0] == other[0]
        assert np.array_equal(first[1], other[1])
