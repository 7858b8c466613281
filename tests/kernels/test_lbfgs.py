"""The compiled L-BFGS two-loop recursion against a plain NumPy one."""

import numpy as np
import pytest

from softmax_nb.kernels.lbfgs import PairMemory


def numpy_two_loop(grad, s_pairs, y_pairs):
    """H g by Nocedal & Wright's Algorithm 7.4, pairs oldest first."""
    q = grad.copy()
    alphas = []
    for s, y in zip(reversed(s_pairs), reversed(y_pairs)):
        rho = 1.0 / np.dot(y, s)
        alpha = rho * np.dot(s, q)
        q -= alpha * y
        alphas.append((rho, alpha))
    q *= np.dot(s_pairs[-1], y_pairs[-1]) / np.dot(y_pairs[-1], y_pairs[-1])
    for (s, y), (rho, alpha) in zip(zip(s_pairs, y_pairs), reversed(alphas)):
        q += (alpha - rho * np.dot(y, q)) * s
    return q


def random_pairs(rng, n_pairs, size):
    """Pairs of a convex quadratic: y = A s with A symmetric positive definite."""
    basis = rng.normal(size=(size, size))
    hessian = basis @ basis.T + size * np.eye(size)
    s_pairs = [rng.normal(size=size) for _ in range(n_pairs)]
    return s_pairs, [hessian @ s for s in s_pairs]


@pytest.mark.parametrize("n_appended", [1, 3, 10, 14, 31])
@pytest.mark.parametrize("size", [1, 7, 130])
def test_matches_the_numpy_two_loop_through_the_ring(n_appended, size):
    rng = np.random.default_rng(n_appended * 1000 + size)
    s_pairs, y_pairs = random_pairs(rng, n_appended, size)
    pairs = PairMemory(10)
    for s, y in zip(s_pairs, y_pairs):
        pairs.append(s, y)
    kept = min(n_appended, 10)
    assert len(pairs) == kept
    s_kept, y_kept = pairs.arrays()
    np.testing.assert_array_equal(s_kept, np.array(s_pairs[-kept:]))  # oldest first
    np.testing.assert_array_equal(y_kept, np.array(y_pairs[-kept:]))
    grad = rng.normal(size=size)
    expected = numpy_two_loop(grad, s_pairs[-kept:], y_pairs[-kept:])
    got = pairs.times(grad)
    np.testing.assert_allclose(got, expected, rtol=1e-11, atol=1e-14 * np.abs(expected).max())
    assert got is not grad and np.array_equal(grad, grad.copy())


def test_no_pairs_scales_to_unit_length_and_clear_and_load_round_trip():
    rng = np.random.default_rng(1)
    pairs = PairMemory(4)
    grad = np.array([3.0, 4.0])
    np.testing.assert_array_equal(pairs.times(grad), grad / 5.0)
    np.testing.assert_array_equal(pairs.times(grad / 10), grad / 10)  # shorter than 1: as it is
    s_pairs, y_pairs = random_pairs(rng, 6, 2)
    for s, y in zip(s_pairs, y_pairs):
        pairs.append(s, y)
    saved = pairs.arrays()
    again = PairMemory(4)
    again.load(*saved)
    np.testing.assert_array_equal(again.times(grad), pairs.times(grad))  # the same bits
    pairs.clear()
    assert len(pairs) == 0
    np.testing.assert_array_equal(pairs.times(grad), grad / 5.0)
