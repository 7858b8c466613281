r"""CPU kernels of the softmax classifier: fused loss + gradient, and predictions.

The model
---------
For a sample x with n_features entries and n_classes = c classes,

    a_k(x) = w_k . x + b_k                         (logits; coef[k] = w_k, intercept[k] = b_k)
    p(y = k | x) = softmax_k(a(x)) = exp(a_k - max_j a_j) / sum_i exp(a_i - max_j a_j)

Subtracting the row maximum changes nothing mathematically and keeps every exp()
in (0, 1], so no logit, however large, overflows.

The objective
-------------
Maximum likelihood of the labels y_j under p(y | x_j) means minimising the mean
negative log-likelihood. With per-sample weights s_j (sample_weight x class_weight,
default 1), label smoothing eps (targets t_jk = (1 - eps) [k == y_j] + eps / c) and
an L2 penalty lambda on coef (never on the intercept):

    J(W, b) = 1/S sum_j s_j [ logsumexp(a(x_j)) - sum_k t_jk a_k(x_j) ] + lambda/2 ||W||^2,
    S = sum_j s_j,

computed per sample as  log(sum_i exp(a_i - a_max)) + sum_k t_jk (a_max - a_k),
which never subtracts two large numbers. Its gradients are

    dJ/dw_k = 1/S sum_j s_j (p_k(x_j) - t_jk) x_j + lambda w_k
    dJ/db_k = 1/S sum_j s_j (p_k(x_j) - t_jk)

(d/da_k of logsumexp(a) is p_k, and d/da_k of sum_i t_i a_i is t_k). With
scikit-learn's C, lambda = 1 / (C S), so the minimiser equals LogisticRegression's.

Two classes: one row of log-odds
--------------------------------
A ``coef`` of one row (and an intercept of one entry) is the binary model, as in
scikit-learn: z(x) = w . x + b is the log-odds of class 1, and

    p(y = 1 | x) = sigmoid(z) = softmax_1([0, z]),    p(y = 0 | x) = sigmoid(-z),

the softmax with the logits of class 0 pinned at 0. Its per-sample loss and
gradient follow from the formulas above with a = [0, z] and c = 2:

    loss_j = softplus(z) - t_j1 z,     d loss_j / dz = sigmoid(z) - t_j1,

computed as  max(z, 0) - t_j1 z + log1p(exp(-|z|))  (no overflow, no cancellation),
with t_j1 = (1 - eps) [y_j == 1] + eps / 2. The penalty is lambda/2 ||w||^2 on the
one row, which is scikit-learn's binary objective for the same C (two free rows
would halve the penalty of the same decision function: C would act as 2C).

Numerics and determinism
------------------------
- X is float32 or float64 and is never copied or upcast. Dot products run in X's
  dtype (coef is cast to it; a (c, n) copy); softmax, loss and all sums over samples
  run in float64. In float32 the gradient of one block of rows (``block_rows``) is
  summed in float32, then added to a float64 accumulator.
- Block products: for a block of rows, the logits X_b coef^T and the gradient
  dloss_b^T X_b are either register-blocked loops (four rows x four classes per pass
  over the features) or two BLAS gemms (``np.dot`` compiled by numba, on one BLAS
  thread: :mod:`softmax_nb.kernels.blas`). :func:`uses_blas` and :func:`block_rows`
  choose from the shape alone; the gemms won on every measured shape of at least 3
  classes and 128 coef entries (1.1-1.7x), the loops on binary and tiny models.
  A mid-sized block is read in order first (``_touch_rows``), so that either finds
  it in cache: the prefetchers do not follow their many short runs at once.
- Rows are split into a fixed number of contiguous chunks that depends only on the
  data's shape (``chunk_bounds``). Each chunk owns its partial sums (no thread ever
  adds into a shared array); they are added along one fixed pairwise tree over the
  chunk index (``_tree_sum``). So results are bitwise identical for any thread
  count, and for any split of the chunks over pieces or MPI ranks that sums whole
  tree nodes and combines them along the same tree (``tree_nodes``,
  ``tree_combine``; ``softmax_nb.model.distributed``).

- exp: every exp() here is of a number <= 0 (a_k - a_max, -|z|). ``_exp_nonpositive``
  computes it branch-free, so that the loops over the classes run in SIMD lanes
  (numba's np.exp is a scalar libm call, ~5 ns each, most of a many-class pass):
  x = n ln2 + r with |r| <= ln2/2 (Cody-Waite: ln2 in two parts), exp(r) by its
  Taylor polynomial to r^13 (truncation < 2^-57 relative) as 1 + (r + r^2 P(r)), and
  2^n applied as two exact powers of two (so results that are subnormal round once).
  Measured against libm on 4e6 points of [-750, 0]: at most 1 ulp apart, 89 %
  identical; exp(x) = 0 below -745.2, as in IEEE arithmetic.

Output dtypes
-------------
``loss_gradient``: loss is a Python float; grad_coef (c, n) and grad_intercept (c,)
are float64. ``decision_function``, ``predict_proba`` and ``predict_log_proba``
return (n_samples, c) arrays of X's dtype (computed in float64, then rounded once);
``predict`` returns int64 class indices.
"""

import contextlib
import math

import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.extending import intrinsic

from . import blas, checks, tunables
from .penalty import L2Penalty

_JIT = dict(cache=True, fastmath=tunables.FASTMATH, nogil=True)
_TOUCH_MIN_BYTES, _TOUCH_MAX_BYTES = tunables.TOUCH_MIN_BYTES, tunables.TOUCH_MAX_BYTES


@intrinsic
def _float64_from_bits(typingctx, bits):
    """The float64 whose IEEE bit pattern is the int64 ``bits`` (an LLVM bitcast)."""
    if bits != types.int64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(types.int64), codegen


_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01  # ln 2 to 32 bits: n * _LN2_HI is exact for |n| < 2^21
_LN2_LO = 1.90821492927058770002e-10  # ln 2 - _LN2_HI
_C13, _C12, _C11, _C10, _C9, _C8, _C7, _C6, _C5, _C4, _C3, _C2 = (1.0 / math.factorial(i) for i in range(13, 1, -1))


# No reassociation: the range reduction and the polynomial are written in the order
# that makes them accurate (module docstring, "exp").
@njit(cache=True, fastmath={"nsz", "contract"}, nogil=True)
def _exp_nonpositive(x):
    """exp(x) for x <= 0, branch-free (module docstring, "exp"); 0 below -745.2, NaN for NaN."""
    t = max(x, -746.0)
    n_float = np.floor(t * _LOG2E + 0.5)
    r = (t - n_float * _LN2_HI) - n_float * _LN2_LO
    p = _C13 * r + _C12
    p = p * r + _C11
    p = p * r + _C10
    p = p * r + _C9
    p = p * r + _C8
    p = p * r + _C7
    p = p * r + _C6
    p = p * r + _C5
    p = p * r + _C4
    p = p * r + _C3
    p = p * r + _C2
    y = 1.0 + (r + r * r * p)
    n = np.int64(n_float)
    half = n >> 1
    y = y * _float64_from_bits((half + 1023) << 52) * _float64_from_bits((n - half + 1023) << 52)
    # Below -745.2: 0; NaN (a NaN logit) stays NaN. Two selects: still branch-free.
    return y if x > -745.2 else (0.0 if x <= -745.2 else x)


def _n_chunks(n_samples, n_classes, n_features):
    """Number of row chunks: a function of the shape alone, never of the threads or ranks.

    MAX_CHUNKS chunks of at least MIN_CHUNK_ROWS rows; beyond MAX_CHUNKS x
    MAX_CHUNK_ROWS rows, chunks of at most MAX_CHUNK_ROWS (so that many MPI ranks can
    share very long data). A large gradient (n_classes x n_features) gets fewer chunks:
    at most the power of two whose float64 sums fit in CHUNK_SUMS_BYTES, and at least
    MIN_CHUNKS. Each chunk's sums are allocated, added to once a block and summed
    along the tree: memory traffic that, for a 1000 x 1024 gradient in 64 chunks of
    313 rows, took as long as the products themselves.
    """
    by_rows = -(-n_samples // tunables.MIN_CHUNK_ROWS)
    by_cap = -(-n_samples // tunables.MAX_CHUNK_ROWS)
    by_memory = tunables.CHUNK_SUMS_BYTES // (8 * (n_classes * n_features + n_classes + 1))
    most = max(tunables.MIN_CHUNKS, min(tunables.MAX_CHUNKS, 1 << max(0, int(by_memory).bit_length() - 1)))
    return int(max(1, min(by_rows, max(most, by_cap))))


def chunk_batch(n_classes, n_features):
    """Chunks whose partial sums are held at once: the largest power of two whose
    float64 buffers fit in CHUNK_BUFFER_BYTES (at least one)."""
    by_memory = tunables.CHUNK_BUFFER_BYTES // (8 * (n_classes * n_features + n_classes + 1))
    return 1 << max(0, int(by_memory).bit_length() - 1)


def sum_chunks(first, stop, batch, parts_of):
    """The tree sum of chunks ``first..stop-1``, computing at most ``batch`` chunks at a time.

    ``first..stop-1`` must be a node of the tree (:func:`tree_nodes`) or all chunks, and
    ``batch`` a power of two: batches are then whole subtrees, summed first, and their
    sums are combined along the rest of the same tree. ``parts_of(a, b)`` returns the
    partial sums of chunks ``a..b-1`` (as :func:`loss_gradient_parts`).
    """
    sums = [tree_sum(parts_of(a, min(a + batch, stop)), copy=False) for a in range(first, stop, batch)]
    if len(sums) == 1:
        return sums[0]
    return tree_sum(tuple(np.array([part[i] for part in sums]) for i in range(3)), copy=False)


@njit(**_JIT)
def _block_logits(X, row0, n_rows, coef, intercept, logits):
    """logits[r, k] = X[row0 + r] . coef[k] + intercept[k], in float64.

    Register blocking: four rows x four classes per pass over the features (16
    accumulators), so each loaded element of X serves four dot products and each
    element of coef four. Missing rows of the last group repeat the group's first
    row; their results are not stored.
    """
    n_classes, n_features = coef.shape
    zero = X.dtype.type(0)
    for r in range(0, n_rows, 4):
        x0 = X[row0 + r]
        x1 = X[row0 + r + 1] if r + 1 < n_rows else x0
        x2 = X[row0 + r + 2] if r + 2 < n_rows else x0
        x3 = X[row0 + r + 3] if r + 3 < n_rows else x0
        rows_here = min(4, n_rows - r)
        k = 0
        while k + 4 <= n_classes:
            w0 = coef[k]
            w1 = coef[k + 1]
            w2 = coef[k + 2]
            w3 = coef[k + 3]
            a00 = a01 = a02 = a03 = a10 = a11 = a12 = a13 = zero
            a20 = a21 = a22 = a23 = a30 = a31 = a32 = a33 = zero
            for j in range(n_features):
                u0 = x0[j]
                u1 = x1[j]
                u2 = x2[j]
                u3 = x3[j]
                v0 = w0[j]
                v1 = w1[j]
                v2 = w2[j]
                v3 = w3[j]
                a00 += u0 * v0
                a01 += u0 * v1
                a02 += u0 * v2
                a03 += u0 * v3
                a10 += u1 * v0
                a11 += u1 * v1
                a12 += u1 * v2
                a13 += u1 * v3
                a20 += u2 * v0
                a21 += u2 * v1
                a22 += u2 * v2
                a23 += u2 * v3
                a30 += u3 * v0
                a31 += u3 * v1
                a32 += u3 * v2
                a33 += u3 * v3
            _store4(logits, r, k, rows_here, intercept, a00, a10, a20, a30)
            _store4(logits, r, k + 1, rows_here, intercept, a01, a11, a21, a31)
            _store4(logits, r, k + 2, rows_here, intercept, a02, a12, a22, a32)
            _store4(logits, r, k + 3, rows_here, intercept, a03, a13, a23, a33)
            k += 4
        while k < n_classes:
            w0 = coef[k]
            a00 = a10 = a20 = a30 = zero
            for j in range(n_features):
                v0 = w0[j]
                a00 += x0[j] * v0
                a10 += x1[j] * v0
                a20 += x2[j] * v0
                a30 += x3[j] * v0
            _store4(logits, r, k, rows_here, intercept, a00, a10, a20, a30)
            k += 1


@njit(**_JIT)
def _store4(logits, r, k, rows_here, intercept, a0, a1, a2, a3):
    """Store the dot products of rows r..r+3 with class k (only the rows present)."""
    b = intercept[k]
    logits[r, k] = np.float64(a0) + b
    if rows_here > 1:
        logits[r + 1, k] = np.float64(a1) + b
    if rows_here > 2:
        logits[r + 2, k] = np.float64(a2) + b
    if rows_here > 3:
        logits[r + 3, k] = np.float64(a3) + b


@njit(**_JIT)
def _block_gradient(X, row0, n_rows, dloss_dlogits, grad_block):
    """grad_block[k] = sum_r dloss_dlogits[r, k] X[row0 + r], in X's dtype.

    Register blocking: four rows x four classes per pass over the features, so one
    load and store of a gradient row is shared by four rows of X.
    """
    n_classes, n_features = grad_block.shape
    grad_block[:] = 0
    d = dloss_dlogits
    r = 0
    while r + 4 <= n_rows:
        x0 = X[row0 + r]
        x1 = X[row0 + r + 1]
        x2 = X[row0 + r + 2]
        x3 = X[row0 + r + 3]
        k = 0
        while k + 4 <= n_classes:
            g0 = grad_block[k]
            g1 = grad_block[k + 1]
            g2 = grad_block[k + 2]
            g3 = grad_block[k + 3]
            d00, d10, d20, d30 = d[r, k], d[r + 1, k], d[r + 2, k], d[r + 3, k]
            d01, d11, d21, d31 = d[r, k + 1], d[r + 1, k + 1], d[r + 2, k + 1], d[r + 3, k + 1]
            d02, d12, d22, d32 = d[r, k + 2], d[r + 1, k + 2], d[r + 2, k + 2], d[r + 3, k + 2]
            d03, d13, d23, d33 = d[r, k + 3], d[r + 1, k + 3], d[r + 2, k + 3], d[r + 3, k + 3]
            for j in range(n_features):
                u0 = x0[j]
                u1 = x1[j]
                u2 = x2[j]
                u3 = x3[j]
                g0[j] += d00 * u0 + d10 * u1 + d20 * u2 + d30 * u3
                g1[j] += d01 * u0 + d11 * u1 + d21 * u2 + d31 * u3
                g2[j] += d02 * u0 + d12 * u1 + d22 * u2 + d32 * u3
                g3[j] += d03 * u0 + d13 * u1 + d23 * u2 + d33 * u3
            k += 4
        while k + 2 <= n_classes:
            g0 = grad_block[k]
            g1 = grad_block[k + 1]
            d00, d10, d20, d30 = d[r, k], d[r + 1, k], d[r + 2, k], d[r + 3, k]
            d01, d11, d21, d31 = d[r, k + 1], d[r + 1, k + 1], d[r + 2, k + 1], d[r + 3, k + 1]
            for j in range(n_features):
                u0 = x0[j]
                u1 = x1[j]
                u2 = x2[j]
                u3 = x3[j]
                g0[j] += d00 * u0 + d10 * u1 + d20 * u2 + d30 * u3
                g1[j] += d01 * u0 + d11 * u1 + d21 * u2 + d31 * u3
            k += 2
        while k < n_classes:
            g0 = grad_block[k]
            d00, d10, d20, d30 = d[r, k], d[r + 1, k], d[r + 2, k], d[r + 3, k]
            for j in range(n_features):
                g0[j] += d00 * x0[j] + d10 * x1[j] + d20 * x2[j] + d30 * x3[j]
            k += 1
        r += 4
    while r < n_rows:
        x0 = X[row0 + r]
        for k in range(n_classes):
            g0 = grad_block[k]
            d00 = d[r, k]
            for j in range(n_features):
                g0[j] += d00 * x0[j]
        r += 1


@intrinsic
def _keep(typingctx, value):
    """Use the float ``value`` in an empty inline asm, so that the load that made it is
    kept, as a scalar load (:func:`_touch_rows`); the asm itself is empty (the value only
    has to reach a general-purpose register)."""
    if value not in (types.float32, types.float64):
        return None
    width = value.bitwidth

    def codegen(context, builder, signature, args):
        bits = builder.bitcast(args[0], ir.IntType(width))
        builder.asm(ir.FunctionType(ir.VoidType(), [ir.IntType(width)]), "", "r", [bits], side_effect=True)
        return context.get_dummy_value()

    return types.void(value), codegen


@njit(**_JIT)
def _touch_rows(X, row0, n_rows):
    """Load one element of every cache line of rows ``row0..row0 + n_rows - 1`` of X.

    A gemm reads its block of X in many short runs at once, which the hardware
    prefetchers follow poorly: from memory, the small-matrix gemm of a 64-row block
    of 784 float32 features ran at 9 GB/s and 22 G FMA/s, against 51 G FMA/s on a
    block in cache. Read in order first, the rows arrive at streaming speed
    (27 GB/s on one core) and the gemm finds them in cache.
    """
    step = max(1, 64 // X.itemsize)
    last = X.shape[1] - 1
    if last < 0:
        return
    for r in range(row0, row0 + n_rows):
        row = X[r]
        for j in range(0, last, step):
            _keep(row[j])
        _keep(row[last])


@njit(**_JIT)
def _block_logits_blas(X, row0, n_rows, coef, intercept, logits_x, logits):
    """logits[r, k] = X[row0 + r] . coef[k] + intercept[k], the products by one BLAS gemm.

    The gemm runs in X's dtype into ``logits_x``; the intercept is added in float64.
    """
    np.dot(X[row0:row0 + n_rows], coef.T, logits_x[:n_rows])
    for r in range(n_rows):
        for k in range(coef.shape[0]):
            logits[r, k] = np.float64(logits_x[r, k]) + intercept[k]


@njit(**_JIT)
def _logits(X, row0, n_rows, coef, intercept, use_blas, logits_x, logits):
    """The logits of a block of rows, by BLAS (``use_blas``) or by the register-blocked loops.

    When a full block (``logits`` has ``block_rows`` rows) of X holds
    ``tunables.TOUCH_MIN_BYTES`` to ``TOUCH_MAX_BYTES``, the block's rows are first read in
    order (:func:`_touch_rows`); smaller blocks the prefetchers follow, larger ones would
    not stay in cache. Reads only: no bits change.
    """
    if _TOUCH_MIN_BYTES <= logits.shape[0] * X.shape[1] * X.itemsize <= _TOUCH_MAX_BYTES:
        _touch_rows(X, row0, n_rows)
    if use_blas:
        _block_logits_blas(X, row0, n_rows, coef, intercept, logits_x, logits)
    else:
        _block_logits(X, row0, n_rows, coef, intercept, logits)


@njit(parallel=True, **_JIT)
def _loss_gradient_parts(X, y, coef, intercept, sample_weight, label_smoothing, piece_bounds, block_rows,
                         use_blas, loss_parts, grad_parts, intercept_parts):
    """Add the weighted data-term sums of each piece of rows to its own partial sums.

    Piece p is rows ``piece_bounds[p]:piece_bounds[p + 1]`` of X; its sums are added
    to ``loss_parts[p]``, ``grad_parts[p]`` and ``intercept_parts[p]`` (no penalty).
    Pieces run in parallel, each on one thread, its rows in blocks of ``block_rows``
    from the piece's first row, so a chunk of rows handed over in several pieces (each
    starting at a multiple of ``block_rows`` from the chunk's start) sums exactly as
    in one. ``use_blas``: the block products are BLAS gemms (:func:`uses_blas`).
    """
    n_features = X.shape[1]
    n_classes = coef.shape[0]
    binary = n_classes == 1  # one row of log-odds (module docstring)
    off_target = label_smoothing / (2 if binary else n_classes)
    on_target = 1.0 - label_smoothing
    for t in prange(len(piece_bounds) - 1):
        start = piece_bounds[t]
        stop = piece_bounds[t + 1]
        logits = np.empty((block_rows, n_classes))
        logits_x = np.empty((block_rows, n_classes), X.dtype)
        prob = np.empty(n_classes)
        dloss_dlogits = np.empty((block_rows, n_classes), X.dtype)
        grad_block = np.empty((n_classes, n_features), X.dtype)
        grad_t = grad_parts[t]
        intercept_t = intercept_parts[t]
        loss_t = loss_parts[t]
        for row0 in range(start, stop, block_rows):
            n_rows = min(stop, row0 + block_rows) - row0
            _logits(X, row0, n_rows, coef, intercept, use_blas, logits_x, logits)
            if binary:
                loss_t += _binary_rows(logits, y, sample_weight, row0, n_rows, on_target,
                                       off_target, dloss_dlogits, intercept_t)
            else:
                loss_t += _softmax_rows_loss(logits, y, sample_weight, row0, n_rows, on_target,
                                             off_target, dloss_dlogits, intercept_t, prob)
            if use_blas:  # grad_block = dloss_dlogits^T X_block, one gemm
                np.dot(dloss_dlogits[:n_rows].T, X[row0:row0 + n_rows], grad_block)
            else:
                _block_gradient(X, row0, n_rows, dloss_dlogits, grad_block)
            for k in range(n_classes):
                for j in range(n_features):
                    grad_t[k, j] += grad_block[k, j]
        loss_parts[t] = loss_t


@njit(**_JIT)
def _tree_sum(loss_parts, grad_parts, intercept_parts):
    """Sum the chunks' partial sums pairwise over a fixed tree, in place (into index 0).

    The tree is the one of :func:`tree_nodes`: at level L, node i covers chunks
    ``i 2^L .. (i + 1) 2^L - 1`` and is its left half plus its right half. The
    result depends on the number of chunks alone, so any split of the chunks over
    threads, pieces or MPI ranks that sums whole nodes and then combines them along
    the same tree gets the same bits.
    """
    n_chunks = len(loss_parts)
    stride = 1
    while stride < n_chunks:
        for i in range(0, n_chunks - stride, 2 * stride):
            loss_parts[i] += loss_parts[i + stride]
            intercept_parts[i] += intercept_parts[i + stride]
            grad_parts[i] += grad_parts[i + stride]
        stride *= 2


def chunk_bounds(n_samples, n_classes, n_features):
    """Row bounds of the fixed chunks of a data term of ``n_samples`` rows: int64, K + 1 entries.

    The one partition rule (``_n_chunks``: a function of the shape alone) for the
    in-memory kernels, streamed pieces and MPI ranks alike.
    """
    n_chunks = _n_chunks(n_samples, n_classes, n_features)
    rows_per_chunk = -(-n_samples // n_chunks)
    bounds = np.minimum(np.arange(n_chunks + 1, dtype=np.int64) * rows_per_chunk, n_samples)
    bounds[-1] = n_samples
    return bounds


def uses_blas(n_classes, n_features):
    """Whether the kernels compute a block's products by BLAS gemms (module docstring):
    from ``tunables.BLAS_MIN_CLASSES`` coef rows and ``BLAS_MIN_ENTRIES`` coef entries
    on. Below (binary models, tiny models) the register-blocked loops are faster: no
    call, no packing. A function of the shape alone, like every choice that changes bits.
    """
    return n_classes >= tunables.BLAS_MIN_CLASSES and n_classes * n_features >= tunables.BLAS_MIN_ENTRIES


def block_rows(n_classes, n_features, dtype):
    """Rows per block of the kernels for coef's shape and X's dtype.

    ``tunables.BLOCK_ROWS`` for the loops. On the BLAS path, the block's two gemms
    (rows x classes x features multiply-adds each) are either small enough for
    OpenBLAS's small-matrix kernels, which skip packing (at most ``BLAS_SMALL_GEMM``
    multiply-adds: BLOCK_ROWS rows, or the largest power of two of rows down to
    ``BLAS_MIN_BLOCK_ROWS``), or large enough to pay for the packing
    (``BLAS_BLOCK_ROWS`` rows); a gemm in between ran up to 1.3x slower than the loops.
    Pieces of a chunk must start at multiples of it (:func:`loss_gradient_parts`).
    """
    if not uses_blas(n_classes, n_features):
        return tunables.BLOCK_ROWS
    small_rows = tunables.BLAS_SMALL_GEMM[np.dtype(dtype).name] // (n_classes * n_features)
    if small_rows >= tunables.BLOCK_ROWS:
        return tunables.BLOCK_ROWS
    if small_rows >= tunables.BLAS_MIN_BLOCK_ROWS:
        return 1 << (int(small_rows).bit_length() - 1)
    return tunables.BLAS_BLOCK_ROWS


def _blas_threads(use_blas, X, coef):
    """One BLAS thread while a kernel calls BLAS from its own threads (:mod:`.blas`);
    nothing to do for calls of at most ``tunables.BLAS_SERIAL_GEMM`` multiply-adds,
    whose gemms OpenBLAS runs on the calling thread anyway (limiting costs ~16 us)."""
    if use_blas and X.shape[0] * coef.shape[0] * coef.shape[1] > tunables.BLAS_SERIAL_GEMM:
        return blas.single_threaded()
    return contextlib.nullcontext()


def _run_loss_gradient_parts(X, y, coef, intercept, sample_weight, label_smoothing, piece_bounds, parts):
    """``_loss_gradient_parts`` on the path and block size of X's shape."""
    use_blas = uses_blas(*coef.shape)
    with _blas_threads(use_blas, X, coef):
        _loss_gradient_parts(X, y, coef, intercept, sample_weight, label_smoothing, piece_bounds,
                             block_rows(*coef.shape, X.dtype), use_blas, *parts)


def row_chunk_bounds(n_samples):
    """The chunks of a pass whose partial sums do not grow with the model (the CSR
    kernels keep only a loss and intercept sums per chunk): :func:`chunk_bounds` with no
    model, a function of the row count alone."""
    return chunk_bounds(n_samples, 0, 0)


def _loss_gradient(X, y, coef, intercept, sample_weight, label_smoothing, bounds):
    """Weighted data term of J and its gradient over the chunks ``bounds``; all float64, no penalty."""
    n_classes, n_features = coef.shape

    def parts_of(first, stop):
        parts = (np.zeros(stop - first), np.zeros((stop - first, n_classes, n_features)),
                 np.zeros((stop - first, n_classes)))
        _run_loss_gradient_parts(X, y, coef, intercept, sample_weight, label_smoothing, bounds[first:stop + 1],
                                 parts)
        return parts

    n_chunks = len(bounds) - 1
    return sum_chunks(0, n_chunks, chunk_batch(n_classes, n_features), parts_of)


def tree_nodes(first, stop, n_chunks):
    """The largest nodes of the fixed summation tree that chunks ``first..stop-1`` cover.

    Returns ``[(level, index), ...]`` in chunk order: node (L, i) covers chunks
    ``i 2^L .. min((i + 1) 2^L, n_chunks) - 1``. Summing each node's chunks with
    :func:`_tree_sum` and combining the nodes of all ranges with :func:`tree_combine`
    gives the bits of ``_tree_sum`` over all chunks.
    """
    top = (n_chunks - 1).bit_length()  # the root's level
    nodes = []
    chunk = first
    while chunk < stop:
        level = 0
        while (level < top and chunk % 2 ** (level + 1) == 0
               and min(chunk + 2 ** (level + 1), n_chunks) <= stop):
            level += 1
        nodes.append((level, chunk >> level))
        chunk = min(chunk + 2 ** level, n_chunks)
    return nodes


def tree_combine(nodes, n_chunks):
    """Combine node sums ``{(level, index): (loss, grad_coef, grad_intercept)}`` to the root.

    The nodes must cover all ``n_chunks`` chunks (as :func:`tree_nodes` of a partition
    of them gives); each addition is one of :func:`_tree_sum`'s, in the same order.
    """
    top = (n_chunks - 1).bit_length()

    def value(level, index):
        if (level, index) in nodes:
            return nodes[level, index]
        if level == 0:
            raise ValueError(f"chunk {index} of {n_chunks} is in no node")
        left = value(level - 1, 2 * index)
        if (2 * index + 1) * 2 ** (level - 1) >= n_chunks:
            return left  # a right half past the last chunk: the node is its left half
        right = value(level - 1, 2 * index + 1)
        return left[0] + right[0], left[1] + right[1], left[2] + right[2]

    return value(top, 0)


@njit(**_JIT)
def _row_max(a):
    """max_k a[k]: what the stable softmax subtracts."""
    a_max = a[0]
    for k in range(1, len(a)):
        a_max = max(a_max, a[k])
    return a_max


@njit(**_JIT)
def _softmax_rows_loss(logits, y, sample_weight, row0, n_rows, on_target, off_target, dloss_dlogits,
                       intercept_t, prob):
    """Loss sum of a block of rows of logits; sets dloss/da_k = s (p_k - t_k), adds it to intercept_t."""
    n_classes = logits.shape[1]
    loss = 0.0
    for r in range(n_rows):
        a = logits[r]
        a_max = _row_max(a)
        # exp(a_k - a_max) <= 1: no overflow whatever the logits
        exp_sum = 0.0
        gap_sum = 0.0
        for k in range(n_classes):
            e = _exp_nonpositive(a[k] - a_max)
            prob[k] = e
            exp_sum += e
            gap_sum += a_max - a[k]
        s = sample_weight[row0 + r]
        label = y[row0 + r]
        # loss_j = log(sum_i exp(a_i - a_max)) + sum_k t_k (a_max - a_k)
        loss += s * (np.log(exp_sum) + on_target * (a_max - a[label]) + off_target * gap_sum)
        inv_sum = 1.0 / exp_sum
        for k in range(n_classes):
            # gradient_k = s (p_k - t_k), formed in float64 before any rounding
            target = off_target + on_target if k == label else off_target
            g = s * (prob[k] * inv_sum - target)
            dloss_dlogits[r, k] = g
            intercept_t[k] += g
    return loss


@njit(**_JIT)
def _binary_rows(logits, y, sample_weight, row0, n_rows, on_target, off_target, dloss_dlogits,
                 intercept_t):
    """Loss sum of a block of binary rows (logits[:, 0] = z); sets dloss/dz = s (sigmoid(z) - t)."""
    loss = 0.0
    for r in range(n_rows):
        z = logits[r, 0]
        s = sample_weight[row0 + r]
        target = on_target + off_target if y[row0 + r] == 1 else off_target
        e = _exp_nonpositive(-abs(z))  # in (0, 1]: never overflows
        # softplus(z) - t z = max(z, 0) - t z + log1p(exp(-|z|))
        loss += s * ((max(z, 0.0) - target * z) + np.log1p(e))
        sigmoid = 1.0 / (1.0 + e) if z >= 0 else e / (1.0 + e)
        g = s * (sigmoid - target)
        dloss_dlogits[r, 0] = g
        intercept_t[0] += g
    return loss


@njit(**_JIT)
def _sigmoid_pair(z, log, out, i):
    """out[i] = [p(0), p(1)] = [sigmoid(-z), sigmoid(z)] (their logs when ``log``), stably."""
    e = _exp_nonpositive(-abs(z))
    if log:
        # log sigmoid(z) = -softplus(-z) = min(z, 0) - log1p(exp(-|z|))
        log1p_e = np.log1p(e)
        out[i, 0] = min(-z, 0.0) - log1p_e
        out[i, 1] = min(z, 0.0) - log1p_e
    else:
        big = 1.0 / (1.0 + e)  # sigmoid(|z|)
        small = e / (1.0 + e)  # sigmoid(-|z|), accurate however small
        out[i, 0] = small if z >= 0 else big
        out[i, 1] = big if z >= 0 else small


@njit(**_JIT)
def _block_of_logits(X, b, block_rows, coef, intercept, use_blas):
    """Block ``b`` of ``block_rows`` rows of a prediction: ``(row0, n_rows, logits)``, the
    float64 logits (:func:`_logits`) in the first ``n_rows`` rows of a new buffer."""
    row0 = b * block_rows
    n_rows = min(X.shape[0], row0 + block_rows) - row0
    logits = np.empty((block_rows, coef.shape[0]))
    _logits(X, row0, n_rows, coef, intercept, use_blas, np.empty((block_rows, coef.shape[0]), X.dtype), logits)
    return row0, n_rows, logits


@njit(parallel=True, **_JIT)
def _decision_function(X, coef, intercept, block_rows, use_blas, out):
    """out[i, k] = X[i] . coef[k] + intercept[k]."""
    n_classes = coef.shape[0]
    for b in prange((X.shape[0] + block_rows - 1) // block_rows):
        row0, n_rows, logits = _block_of_logits(X, b, block_rows, coef, intercept, use_blas)
        for r in range(n_rows):
            for k in range(n_classes):
                out[row0 + r, k] = logits[r, k]


@njit(parallel=True, **_JIT)
def _predict_proba(X, coef, intercept, block_rows, use_blas, log, out):
    """out = softmax (or log-softmax when ``log``) of the logits, row by row; for one
    row of log-odds, the two columns [sigmoid(-z), sigmoid(z)] (or their logs)."""
    n_classes = coef.shape[0]
    for b in prange((X.shape[0] + block_rows - 1) // block_rows):
        row0, n_rows, logits = _block_of_logits(X, b, block_rows, coef, intercept, use_blas)
        if n_classes == 1:  # binary: out has the two columns [p(0), p(1)]
            for r in range(n_rows):
                _sigmoid_pair(logits[r, 0], log, out, row0 + r)
        else:
            _softmax_rows(logits, n_rows, log, out, row0, np.empty(n_classes))


@njit(**_JIT)
def _softmax_rows(logits, n_rows, log, out, row0, exps):
    """out[row0 + r] = softmax (or log-softmax) of logits[r], subtracting the row maximum.

    ``exps`` (n_classes,) holds a row's exps, so that each is computed once."""
    n_classes = logits.shape[1]
    for r in range(n_rows):
        a = logits[r]
        a_max = _row_max(a)
        exp_sum = 0.0
        for k in range(n_classes):
            e = _exp_nonpositive(a[k] - a_max)
            exps[k] = e
            exp_sum += e
        if log:
            log_sum = np.log(exp_sum)
            for k in range(n_classes):
                out[row0 + r, k] = (a[k] - a_max) - log_sum
        else:
            inv_sum = 1.0 / exp_sum
            for k in range(n_classes):
                out[row0 + r, k] = exps[k] * inv_sum


@njit(parallel=True, **_JIT)
def _predict(X, coef, intercept, block_rows, use_blas, out):
    """out[i] = argmax_k of the logits (the first maximum on ties); for one row of
    log-odds, 1 where z > 0 (the argmax of [0, z])."""
    n_classes = coef.shape[0]
    for b in prange((X.shape[0] + block_rows - 1) // block_rows):
        row0, n_rows, logits = _block_of_logits(X, b, block_rows, coef, intercept, use_blas)
        for r in range(n_rows):
            best = 0
            if n_classes == 1:
                best = 1 if logits[r, 0] > 0 else 0
            for k in range(1, n_classes):
                if logits[r, k] > logits[r, best]:
                    best = k
            out[row0 + r] = best


# ---------------------------------------------------------------------------
# Public wrappers: check and prepare inputs, then call a kernel that trusts them.
# ---------------------------------------------------------------------------


def _cast_params(coef, intercept, n_features, dtype):
    """coef cast to X's dtype for the dot products; intercept float64 (zeros for None)."""
    coef, intercept_64 = checks.check_coef_intercept(coef, intercept, n_features)
    return np.ascontiguousarray(coef, dtype=dtype), intercept_64


def loss_gradient(
    X,
    y,
    coef,
    intercept=None,
    sample_weight=None,
    l2_reg_strength=0.0,
    label_smoothing=0.0,
):
    """Objective J and its gradient in one pass over X (see the module docstring).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float32 or float64
    y : ndarray of shape (n_samples,), integer class indices in [0, n_classes)
    coef : ndarray of shape (n_classes, n_features), or (1, n_features) for two classes
        One row is the binary log-odds model (module docstring).
    intercept : ndarray of shape (n_classes,) or (1,), or None
        None means no intercept (and no intercept gradient).
    sample_weight : ndarray of shape (n_samples,) or None
        Non-negative weights s_j; J divides by their sum.
    l2_reg_strength : float
        lambda in ``lambda/2 ||coef||^2``.
    label_smoothing : float in [0, 1)

    Returns
    -------
    loss : float
    grad_coef : ndarray of coef's shape, float64
    grad_intercept : ndarray of intercept's shape, float64, or None
    """
    X = checks.check_X(X, allow_empty=False)
    n_samples, n_features = X.shape
    coef_x, intercept_64 = _cast_params(coef, intercept, n_features, X.dtype)
    y = checks.check_labels(y, n_samples, checks.n_classes_of(coef_x))
    sample_weight = checks.normalized_sample_weight(sample_weight, n_samples)
    label_smoothing = checks.check_label_smoothing(label_smoothing)
    loss, grad_coef, grad_intercept = _loss_gradient(
        X, y, coef_x, intercept_64, sample_weight, label_smoothing,
        chunk_bounds(n_samples, coef_x.shape[0], n_features),
    )
    loss = L2Penalty(l2_reg_strength).add_to(loss, grad_coef, coef)
    return loss, grad_coef, (grad_intercept if intercept is not None else None)


def loss_gradient_sums(X, y, coef, intercept=None, sample_weight=None, label_smoothing=0.0):
    """Un-normalised weighted sums over the rows of X, for data seen in pieces.

    Returns ``(loss_sum, grad_coef_sum, grad_intercept_sum, weight_sum)`` with
    ``loss_sum = sum_j s_j loss_j`` and the gradient sums likewise (no L2 term).
    Summing these over the pieces of a dataset, in a fixed order, then dividing by
    the total weight and adding the L2 term gives ``loss_gradient`` of the whole.
    """
    X = checks.check_X(X)
    n_samples, n_features = X.shape
    coef_x, intercept_64 = _cast_params(coef, intercept, n_features, X.dtype)
    n_classes = coef_x.shape[0]
    y = checks.check_labels(y, n_samples, checks.n_classes_of(coef_x))
    if sample_weight is None:
        sample_weight = np.ones(n_samples)
    sample_weight = np.ascontiguousarray(sample_weight, dtype=np.float64)
    if sample_weight.shape != (n_samples,):
        raise ValueError(f"sample_weight must have shape ({n_samples},), got {sample_weight.shape}")
    label_smoothing = checks.check_label_smoothing(label_smoothing)
    if n_samples == 0:
        return 0.0, np.zeros((n_classes, n_features)), np.zeros(n_classes), 0.0
    loss, grad_coef, grad_intercept = _loss_gradient(
        X, y, coef_x, intercept_64, sample_weight, float(label_smoothing),
        chunk_bounds(n_samples, n_classes, n_features),
    )
    return float(loss), grad_coef, grad_intercept, float(sample_weight.sum())


def loss_gradient_parts(X, y, coef, intercept, sample_weight, label_smoothing, piece_bounds, parts):
    """Add the weighted data-term sums of pieces of X's rows to ``parts``, in parallel.

    For data split over MPI ranks or read in pieces: piece p (rows
    ``piece_bounds[p]:piece_bounds[p + 1]``) adds to ``parts[0][p]`` (loss),
    ``parts[1][p]`` (grad_coef) and ``parts[2][p]`` (grad_intercept), all float64.
    With the pieces of :func:`chunk_bounds`, the weights divided by S, and the parts
    summed with :func:`tree_nodes` / :func:`tree_combine`, the result has the bits of
    :func:`loss_gradient` on the whole data (without the L2 term).

    Returns ``parts`` (allocated as zeros when None).
    """
    X = checks.check_X(X)
    n_samples, n_features = X.shape
    coef_x, intercept_64 = _cast_params(coef, intercept, n_features, X.dtype)
    n_rows = coef_x.shape[0]
    y = checks.check_labels(y, n_samples, checks.n_classes_of(coef_x))
    sample_weight = np.ascontiguousarray(sample_weight, dtype=np.float64)
    if sample_weight.shape != (n_samples,):
        raise ValueError(f"sample_weight must have shape ({n_samples},), got {sample_weight.shape}")
    piece_bounds = np.ascontiguousarray(piece_bounds, dtype=np.int64)
    n_pieces = len(piece_bounds) - 1
    if n_pieces < 0 or piece_bounds[0] < 0 or piece_bounds[-1] > n_samples or np.any(np.diff(piece_bounds) < 0):
        raise ValueError(f"piece_bounds must be non-decreasing row bounds within 0..{n_samples}")
    if parts is None:
        parts = (np.zeros(n_pieces), np.zeros((n_pieces, n_rows, n_features)), np.zeros((n_pieces, n_rows)))
    _run_loss_gradient_parts(X, y, coef_x, intercept_64, sample_weight,
                             checks.check_label_smoothing(label_smoothing), piece_bounds, parts)
    return parts


def tree_sum(parts, copy=True):
    """The sum of ``parts`` (as :func:`loss_gradient_parts` fills them) along the fixed tree.

    ``copy=False`` sums in place (the parts are overwritten; they must be C-contiguous float64).
    """
    convert = np.array if copy else np.asarray
    loss, grad_coef, grad_intercept = (convert(part, dtype=np.float64) for part in parts)
    # Called for one chunk too (a no-op): every fit compiles it, so a warm-up run
    # (the workflow's compile job) leaves nothing for later jobs to compile.
    _tree_sum(loss, grad_coef, grad_intercept)
    return float(loss[0]), grad_coef[0].copy(), grad_intercept[0].copy()  # not views of the parts


def _prediction_inputs(X, coef, intercept):
    """Checked X, coef cast to X's dtype, and a float64 intercept (zeros for None)."""
    X = checks.check_X(X)
    coef_x, intercept_64 = _cast_params(coef, intercept, X.shape[1], X.dtype)
    return X, coef_x, intercept_64


def _run_prediction(kernel, X, coef, intercept, *args):
    """A prediction kernel on the path and block size of the shape (:func:`uses_blas`)."""
    use_blas = uses_blas(*coef.shape)
    with _blas_threads(use_blas, X, coef):
        kernel(X, coef, intercept, block_rows(*coef.shape, X.dtype), use_blas, *args)


def decision_function(X, coef, intercept=None):
    """Logits ``X @ coef.T + intercept``, shape (n_samples, coef rows), X's dtype
    (one column of log-odds z for a binary model)."""
    X, coef_x, intercept_64 = _prediction_inputs(X, coef, intercept)
    out = np.empty((X.shape[0], coef_x.shape[0]), dtype=X.dtype)
    _run_prediction(_decision_function, X, coef_x, intercept_64, out)
    return out


def predict_proba(X, coef, intercept=None):
    """Class probabilities (stable softmax of the logits; [sigmoid(-z), sigmoid(z)] for a
    binary model), (n_samples, n_classes), X's dtype."""
    X, coef_x, intercept_64 = _prediction_inputs(X, coef, intercept)
    out = np.empty((X.shape[0], checks.n_classes_of(coef_x)), dtype=X.dtype)
    _run_prediction(_predict_proba, X, coef_x, intercept_64, False, out)
    return out


def predict_log_proba(X, coef, intercept=None):
    """Log-probabilities ``a_k - logsumexp(a)``, (n_samples, n_classes), X's dtype."""
    X, coef_x, intercept_64 = _prediction_inputs(X, coef, intercept)
    out = np.empty((X.shape[0], checks.n_classes_of(coef_x)), dtype=X.dtype)
    _run_prediction(_predict_proba, X, coef_x, intercept_64, True, out)
    return out


def predict(X, coef, intercept=None):
    """Index of the most probable class per row, (n_samples,) int64."""
    X, coef_x, intercept_64 = _prediction_inputs(X, coef, intercept)
    out = np.empty(X.shape[0], dtype=np.int64)
    _run_prediction(_predict, X, coef_x, intercept_64, out)
    return out
