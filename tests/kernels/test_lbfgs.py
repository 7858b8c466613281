"""The compiled L-BFGS two-loop recursion against the NumPy reference in naive.py."""

import numpy as np
import pytest

import naive
from softmax_nb.kernels.lbfgs import PairMemory


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
    s_kept, y_kept = pairs.arrays(size)
    np.testing.assert_array_equal(s_kept, np.array(s_pairs[-kept:]))  # oldest first
    np.testing.assert_array_equal(y_kept, np.array(y_pairs[-kept:]))
    grad = rng.normal(size=size)
    before = grad.copy()
    expected = naive.lbfgs_inverse_hessian_times(grad, s_pairs[-kept:], y_pairs[-kept:])
    got = pairs.times(grad)
    np.testing.assert_allclose(got, expected, rtol=1e-11, atol=1e-14 * np.abs(expected).max())
    np.testing.assert_array_equal(grad, before)  # a new vector; the argument is left alone


def test_no_pairs_scales_to_unit_length_and_clear_and_load_round_trip():
    rng = np.random.default_rng(1)
    pairs = PairMemory(4)
    assert [a.shape for a in pairs.arrays(2)] == [(0, 2), (0, 2)]  # the checkpoint of a first step
    grad = np.array([3.0, 4.0])
    np.testing.assert_array_equal(pairs.times(grad), grad / 5.0)
    np.testing.assert_array_equal(pairs.times(grad / 10), grad / 10)  # shorter than 1: as it is
    s_pairs, y_pairs = random_pairs(rng, 6, 2)
    for s, y in zip(s_pairs, y_pairs):
        pairs.append(s, y)
    saved = pairs.arrays(2)
    again = PairMemory(4)
    again.load(*saved)
    np.testing.assert_array_equal(again.times(grad), pairs.times(grad))  # the same bits
    empty = PairMemory(4)
    empty.load(np.empty((0, 2)), np.empty((0, 2)))
    assert len(empty) == 0 and [a.shape for a in empty.arrays(2)] == [(0, 2), (0, 2)]
    pairs.clear()
    assert len(pairs) == 0
    np.testing.assert_array_equal(pairs.times(grad), grad / 5.0)


def test_mismatched_sizes_are_refused():
    pairs = PairMemory(3)
    with pytest.raises(ValueError, match="two vectors of one size"):
        pairs.append(np.ones(3), np.ones(1))
    pairs.append(np.ones(3), np.full(3, 2.0))
    with pytest.raises(ValueError, match="3 entries, got 4"):
        pairs.append(np.ones(4), np.ones(4))
    with pytest.raises(ValueError, match="3 entries"):
        pairs.times(np.ones(5))
