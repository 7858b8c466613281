r"""CPU kernels for sparse X (CSR): the same loss, gradient and predictions as ``cpu``.

The math is the one of :mod:`softmax_nb.kernels.cpu` (its module docstring): the same
per-row loss and d loss / d a_k = s (p_k - t_k), the same binary log-odds row, the
same stable softmax. Only the products with X change:

- logits, a row at a time: a_k(x_i) = b_k + sum_{p in row i} X.data[p] coef[k, X.indices[p]],
  over a transposed (n_features, n_rows) copy of coef so that each nonzero reads one
  contiguous row of it; accumulated in float64.
- the gradient, scattered row after row straight from the CSR rows (no CSC copy):
  dJ/dw_k[j] = sum_{i in column j} X[i, j] D[i, k], with D[i, k] = s_i (p_k - t_k) kept
  in float64 for the rows of the pass. Each column is owned by one task and summed in
  row order.

Determinism: the row pass runs on the fixed chunks of ``cpu.chunk_bounds`` (loss and
intercept sums per chunk, added along the fixed tree); the scatter pass sums each
column in row order on one thread, whichever thread owns it. Both carry their sums on
from block to block, so row blocks read one after the other (a streamed fit) give the
bits of one pass. No two threads add into the same memory, so results are bitwise
identical for any thread count. SciPy's products (``X @ coef.T``, ``X.T @ D``) give the
same values to rounding, single-threaded.
"""

import numba
import numpy as np
import scipy.sparse as sp
from numba import njit, prange

from . import checks, tunables
from .cpu import _JIT, _binary_rows, _cast_params, _sigmoid_pair, _softmax_rows, _softmax_rows_loss
from .cpu import row_chunk_bounds, tree_sum
from .penalty import L2Penalty


@njit(**_JIT)
def _csr_block_logits(data, indices, indptr, row0, n_rows, coef_t, intercept, logits):
    """logits[r, k] = intercept[k] + sum_p data[p] coef_t[indices[p], k] over row row0 + r."""
    n_classes = coef_t.shape[1]
    for r in range(n_rows):
        for k in range(n_classes):
            logits[r, k] = 0.0
        for p in range(indptr[row0 + r], indptr[row0 + r + 1]):
            v = np.float64(data[p])
            j = indices[p]
            for k in range(n_classes):
                logits[r, k] += v * coef_t[j, k]
        for k in range(n_classes):
            logits[r, k] += intercept[k]


@njit(parallel=True, **_JIT)
def _row_pass(data, indices, indptr, first, y, coef_t, intercept, sample_weight, label_smoothing, bounds,
              block_rows, dloss_dlogits, loss_parts, intercept_parts):
    """Rows ``first..first + len(indptr) - 2`` of the data term (indptr, y, the weights and
    D local to them): D for every row, and each chunk's loss and intercept sums carried on
    in (loss_parts, intercept_parts), sub-block after sub-block from the chunk's start.

    A pass split into row blocks at sub-block boundaries (:func:`pass_units`) therefore
    makes the very additions of one pass over all rows.
    """
    n_classes = coef_t.shape[1]
    binary = n_classes == 1
    off_target = label_smoothing / (2 if binary else n_classes)
    on_target = 1.0 - label_smoothing
    stop = first + len(indptr) - 1
    for t in prange(len(bounds) - 1):
        lo, hi = max(bounds[t], first), min(bounds[t + 1], stop)
        if lo >= hi:
            continue
        logits = np.empty((block_rows, n_classes))
        prob = np.empty(n_classes)
        loss_t = loss_parts[t]
        for row0 in range(lo, hi, block_rows):
            n_rows = min(hi, row0 + block_rows) - row0
            r0 = row0 - first
            _csr_block_logits(data, indices, indptr, r0, n_rows, coef_t, intercept, logits)
            d = dloss_dlogits[r0:r0 + n_rows]
            if binary:
                loss_t += _binary_rows(logits, y, sample_weight, r0, n_rows, on_target, off_target, d,
                                       intercept_parts[t])
            else:
                loss_t += _softmax_rows_loss(logits, y, sample_weight, r0, n_rows, on_target, off_target, d,
                                             intercept_parts[t], prob)
        loss_parts[t] = loss_t


@njit(parallel=True, **_JIT)
def _scatter_pass(data, indices, indptr, dloss_dlogits, grad_t, column_bounds):
    """grad_t[j, k] += X[i, j] D[i, k] for every nonzero, row after row.

    Task t owns the columns ``column_bounds[t] <= j < column_bounds[t + 1]`` and scans
    every row for them (sorted indices: one run of each row), so each column's sum goes
    on from the value in grad_t in row order, on one thread: the same additions for
    any column partition and any number of threads, and row blocks passed one after
    the other add exactly what one pass over all rows adds. grad_t is
    (n_features, n_rows): a nonzero updates one contiguous row of it.
    """
    n_samples = len(indptr) - 1
    n_classes = grad_t.shape[1]
    for task in prange(len(column_bounds) - 1):
        lo, hi = column_bounds[task], column_bounds[task + 1]
        for i in range(n_samples):
            p, end = indptr[i], indptr[i + 1]
            while p < end and indices[p] < lo:
                p += 1
            while p < end and indices[p] < hi:
                j = indices[p]
                v = np.float64(data[p])
                for k in range(n_classes):
                    grad_t[j, k] += v * dloss_dlogits[i, k]
                p += 1


@njit(parallel=True, **_JIT)
def _transpose(src, dst):
    """dst = src.T, in blocks of 256 along the longer side (both sides stay in cache)."""
    n0, n1 = src.shape
    if n1 >= n0:
        for b in prange((n1 + 255) // 256):
            for a in range(n0):
                for j in range(b * 256, min(n1, (b + 1) * 256)):
                    dst[j, a] = src[a, j]
    else:
        for b in prange((n0 + 255) // 256):
            for i in range(b * 256, min(n0, (b + 1) * 256)):
                for a in range(n1):
                    dst[a, i] = src[i, a]


def _column_bounds(indices, n_features, n_tasks):
    """Cut the columns into ``n_tasks`` runs at multiples of 8 columns (whole cache lines
    of grad_t each). Any cut gives the same bits; a good one balances the threads.

    A frequent column's nonzeros are cheap (its grad_t row stays in cache), a rare
    one's cost a miss each: runs of equal sum of sqrt(count) (counts from a sample of
    the indices) balanced best of the weightings measured on Zipf-like text (nonzeros
    alone gave one thread all the rare columns, and ran slower than one thread).
    """
    if n_tasks == 1 or len(indices) == 0:
        return np.array([0, n_features], dtype=np.int64)
    weight = np.sqrt(np.bincount(indices[::max(1, len(indices) // 65536)], minlength=n_features))
    cuts = np.searchsorted(np.cumsum(weight), weight.sum() * np.arange(1, n_tasks) / n_tasks) // 8 * 8
    return np.concatenate(([0], np.minimum(cuts, n_features), [n_features])).astype(np.int64)


@njit(parallel=True, **_JIT)
def _logits(data, indices, indptr, coef_t, intercept, out):
    n_samples = len(indptr) - 1
    n_blocks = (n_samples + tunables.BLOCK_ROWS - 1) // tunables.BLOCK_ROWS
    for b in prange(n_blocks):
        row0 = b * tunables.BLOCK_ROWS
        n_rows = min(n_samples, row0 + tunables.BLOCK_ROWS) - row0
        _csr_block_logits(data, indices, indptr, row0, n_rows, coef_t, intercept, out[row0:row0 + n_rows])


@njit(parallel=True, **_JIT)
def _probabilities(logits, log, out):
    """Softmax (or log-softmax) of each row; [sigmoid(-z), sigmoid(z)] for one column."""
    n_samples, n_classes = logits.shape
    n_blocks = (n_samples + tunables.BLOCK_ROWS - 1) // tunables.BLOCK_ROWS
    for b in prange(n_blocks):
        row0 = b * tunables.BLOCK_ROWS
        n_rows = min(n_samples, row0 + tunables.BLOCK_ROWS) - row0
        if n_classes == 1:
            for r in range(row0, row0 + n_rows):
                _sigmoid_pair(logits[r, 0], log, out, r)
        else:
            _softmax_rows(logits[row0:row0 + n_rows], n_rows, log, out, row0, np.empty(n_classes))


def check_csr(X, *, allow_empty=True):
    """X as a canonical CSR matrix (sorted indices, no duplicates) of float32/float64 values.

    Other scipy.sparse formats are converted once; duplicates are summed and indices
    sorted (on a copy: the caller's matrix is left as it is). NaN or inf values, and
    indices outside the columns, are refused.
    """
    if not sp.issparse(X):
        raise TypeError(f"X must be a scipy.sparse matrix or array, got {type(X).__name__}")
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features), got shape {X.shape}")
    if X.dtype not in (np.float32, np.float64):
        raise TypeError(f"X must hold float32 or float64 values, got {X.dtype}")
    if X.format != "csr":
        X = X.tocsr()
    if X.indices.size and (X.indices.min() < 0 or X.indices.max() >= X.shape[1]):
        raise ValueError(f"X has column indices outside 0..{X.shape[1] - 1}")
    if len(X.indptr) != X.shape[0] + 1 or (X.indptr.size and (X.indptr[0] != 0 or np.any(np.diff(X.indptr) < 0))):
        raise ValueError("X has a malformed indptr (row pointers)")
    if not X.has_canonical_format:
        X = X.copy()
        X.sum_duplicates()  # also sorts the indices
    if not np.isfinite(X.data).all():
        raise ValueError("X contains NaN or infinity")
    if not allow_empty and X.shape[0] == 0:
        raise ValueError("X has no rows")
    return X


def _transposed(coef_x):
    """(n_features, n_rows) float64 copy of coef, for the row pass's gathers."""
    coef_t = np.empty((coef_x.shape[1], coef_x.shape[0]))
    _transpose(np.asarray(coef_x, dtype=np.float64), coef_t)
    return coef_t


def pass_units(n_samples, n_classes, n_features):
    """Row bounds at which a pass may be cut into blocks: the starts of the row pass's
    sub-blocks (``tunables.BLOCK_ROWS`` rows from each chunk's start) and ``n_samples``.
    The chunks are :func:`~softmax_nb.kernels.cpu.row_chunk_bounds`, a function of
    ``n_samples`` alone (``n_classes`` and ``n_features`` do not change them).

    Blocks made of whole units give bitwise the sums of one pass (:func:`_row_pass`).
    """
    bounds = row_chunk_bounds(max(n_samples, 1))
    starts = [np.arange(bounds[t], bounds[t + 1], tunables.BLOCK_ROWS) for t in range(len(bounds) - 1)]
    return np.append(np.concatenate(starts), n_samples).astype(np.int64) if n_samples else np.zeros(1, np.int64)


def loss_gradient_sums_blocks(blocks, n_samples, n_features, coef, intercept, label_smoothing):
    """``(loss, grad_coef, grad_intercept)`` of the weighted data term (weights as given,
    no 1/S) over row blocks that cover rows ``0..n_samples-1`` in order.

    ``blocks`` yields ``(first, X, y, sample_weight)``: X a canonical CSR block of rows
    ``first..``, cut at :func:`pass_units` bounds. Every block partition gives the same
    bits.
    """
    coef_x, intercept_64 = _cast_params(coef, intercept, n_features, np.float64)
    n_rows = coef_x.shape[0]
    bounds = row_chunk_bounds(max(n_samples, 1))
    units = set(pass_units(n_samples, n_rows, n_features).tolist())
    coef_t = _transposed(coef_x)
    loss_parts, intercept_parts = np.zeros(len(bounds) - 1), np.zeros((len(bounds) - 1, n_rows))
    grad_t = np.zeros((n_features, n_rows))
    covered = 0
    for first, X, y, sample_weight in blocks:
        if first != covered or first not in units or first + X.shape[0] not in units:
            raise ValueError(f"sparse row blocks must cover the rows in order at pass_units bounds; got a "
                             f"block of rows {first}..{first + X.shape[0] - 1} after {covered} rows")
        covered = first + X.shape[0]
        if not X.shape[0]:
            continue
        dloss_dlogits = np.empty((X.shape[0], n_rows))
        _row_pass(X.data, X.indices, X.indptr, first, y, coef_t, intercept_64, sample_weight,
                  float(label_smoothing), bounds, tunables.BLOCK_ROWS, dloss_dlogits, loss_parts,
                  intercept_parts)
        _scatter_pass(X.data, X.indices, X.indptr, dloss_dlogits, grad_t,
                      _column_bounds(X.indices, n_features, numba.get_num_threads()))
    if covered != n_samples:
        raise ValueError(f"sparse row blocks covered {covered} of {n_samples} rows")
    loss, _, grad_intercept = tree_sum((loss_parts, np.zeros((len(loss_parts), 1, 1)), intercept_parts),
                                       copy=False)
    grad_coef = np.empty((n_rows, n_features))
    _transpose(grad_t, grad_coef)
    return loss, grad_coef, grad_intercept


def loss_gradient_sums_data(X, y, coef, intercept, sample_weight, label_smoothing):
    """``(loss, grad_coef, grad_intercept)`` of the weighted data term (weights as given, no 1/S)."""
    return loss_gradient_sums_blocks([(0, X, y, sample_weight)], X.shape[0], X.shape[1], coef, intercept,
                                     label_smoothing)


def loss_gradient(X, y, coef, intercept=None, sample_weight=None, l2_reg_strength=0.0, label_smoothing=0.0):
    """:func:`softmax_nb.kernels.cpu.loss_gradient` for a CSR X (same arguments and results)."""
    X = check_csr(X, allow_empty=False)
    n_samples = X.shape[0]
    y = checks.check_labels(y, n_samples, checks.n_classes_of(np.asarray(coef)))
    weights = checks.normalized_sample_weight(sample_weight, n_samples)
    label_smoothing = checks.check_label_smoothing(label_smoothing)
    loss, grad_coef, grad_intercept = loss_gradient_sums_data(X, y, coef, intercept, weights, label_smoothing)
    loss = L2Penalty(l2_reg_strength).add_to(loss, grad_coef, coef)
    return loss, grad_coef, (grad_intercept if intercept is not None else None)


def _logits64(X, coef, intercept):
    X = check_csr(X)
    coef_x, intercept_64 = _cast_params(coef, intercept, X.shape[1], np.float64)
    out = np.empty((X.shape[0], coef_x.shape[0]))
    if X.shape[0]:
        _logits(X.data, X.indices, X.indptr, _transposed(coef_x), intercept_64, out)
    return X, out


def decision_function(X, coef, intercept=None):
    """(n_samples, n_rows) logits, in X's dtype (computed in float64)."""
    X, logits = _logits64(X, coef, intercept)
    return logits.astype(X.dtype, copy=False)


def _proba(X, coef, intercept, log):
    X, logits = _logits64(X, coef, intercept)
    out = np.empty((logits.shape[0], max(2, logits.shape[1])))
    if logits.shape[0]:
        _probabilities(logits, log, out)
    return out.astype(X.dtype, copy=False)


def predict_proba(X, coef, intercept=None):
    return _proba(X, coef, intercept, False)


def predict_log_proba(X, coef, intercept=None):
    return _proba(X, coef, intercept, True)


def predict(X, coef, intercept=None):
    """int64 class indices: the first maximum of the logits (z > 0 for one log-odds row)."""
    _, logits = _logits64(X, coef, intercept)
    if logits.shape[1] == 1:
        return (logits[:, 0] > 0).astype(np.int64)
    return np.argmax(logits, axis=1).astype(np.int64)
