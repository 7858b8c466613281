"""Where J's data term is evaluated: the rows of a fit, behind one small interface.

Every backend has ``n_samples``, ``n_features``, ``dtype`` (of X: the fitted
parameters take it), ``total_weight`` (S) and

- ``loss_gradient(coef, intercept, label_smoothing)``: the weighted mean
  ``1/S sum_j s_j loss_j`` and its gradients (no penalty: that is the objective's);
- ``minibatches(rng, batch_size)``: one epoch of seeded random minibatches
  ``(X, y, sample_weight)`` for SGD and Adam;
- ``scores(coef, intercept)``: unweighted mean log-loss and accuracy (monitoring);
- ``max_abs()``: the largest |x| (fixed-step solvers warn on unscaled features);
- ``digest()``: a hash of the rows, so that a checkpoint is resumed on its own data.

:class:`InMemoryRows` holds arrays (CPU kernels, or a CUDA device that receives X
once per fit); :class:`StreamedRows` reads a dataset file's row blocks within a
memory budget (:class:`softmax_nb.data.streaming.H5Stream`). A backend that spreads
rows over MPI ranks or holds sparse X implements the same methods.
"""

import hashlib

import numpy as np
import scipy.sparse as sp

from .. import kernels
from .objective import row_weights, total_weight


def _log_loss_correct(log_proba, y, mean=False):
    """Sum (or mean) of -log p(y) over rows with a known class (y >= 0), and the correct count."""
    rows = np.arange(len(y))
    known = y >= 0  # classes unseen in training cannot be predicted
    picked = log_proba[rows[known], y[known]]
    if not known.any():
        log_loss = np.nan
    elif mean:
        log_loss = -float(np.mean(picked, dtype=np.float64))
    else:
        log_loss = -float(np.sum(picked, dtype=np.float64))
    return log_loss, int(np.count_nonzero(np.argmax(log_proba, axis=1) == y))


def _update_with_rows(digest, X):
    """Feed the bytes of rows of X (dense, or a CSR matrix's three arrays) to a hash."""
    for part in (X.data, X.indices, X.indptr) if sp.issparse(X) else (X,):
        digest.update(np.ascontiguousarray(part).tobytes())


class InMemoryRows:
    """Rows held as arrays.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float32 or float64, C-contiguous,
        or a canonical CSR matrix
    y : ndarray of shape (n_samples,), int64 class indices (-1: a class the model
        does not know, allowed for monitoring rows only)
    sample_weight : ndarray of shape (n_samples,), optional
        The per-row weights s_j (sample weights times class weights).
    device : {'cpu', 'cuda'}
        'cuda' copies X, y and the weights to the GPU once, here.
    """

    def __init__(self, X, y, sample_weight=None, device="cpu"):
        self.X, self.y = X, np.asarray(y, dtype=np.int64)
        self.sample_weight = (np.ones(len(self.y)) if sample_weight is None
                              else np.asarray(sample_weight, dtype=np.float64))
        self.n_samples, self.n_features = X.shape
        self.dtype = X.dtype
        self.total_weight = float(self.sample_weight.sum())
        self.device = device
        self.device_data = None
        if sp.issparse(X) and device == "cuda":
            raise ValueError("device='cuda' takes dense X only: use device='cpu' for sparse X (docs/GPU.md)")
        if device == "cuda":
            from ..kernels import cuda

            self.device_data = cuda.DeviceData(X, self.y, self.sample_weight)

    def loss_gradient(self, coef, intercept, label_smoothing):
        if self.device_data is not None:
            from ..kernels import cuda

            return cuda.gpu_loss_gradient(self.device_data, coef, intercept, 0.0, label_smoothing)
        return kernels.loss_gradient(self.X, self.y, coef, intercept, self.sample_weight, 0.0,
                                     label_smoothing)

    def minibatches(self, rng, batch_size):
        order = rng.permutation(self.n_samples)
        for start in range(0, self.n_samples, batch_size):
            # Sorted indices read X in memory order; the batch's content is unchanged.
            indices = np.sort(order[start:start + batch_size])
            yield self.X[indices], self.y[indices], self.sample_weight[indices]

    def scores(self, coef, intercept):
        if self.n_samples == 0:
            return np.nan, np.nan
        log_proba = kernels.predict_log_proba(self.X, coef, intercept)
        log_loss, correct = _log_loss_correct(log_proba, self.y, mean=True)
        return log_loss, correct / self.n_samples

    def max_abs(self):
        values = self.X.data if sp.issparse(self.X) else self.X
        return float(np.max(np.abs(values))) if values.size else 0.0

    def digest(self):
        """The whole of y and the weights, and of X its shape, dtype and up to 1024 rows
        (hashing every row of a large X would cost a full pass)."""
        digest = hashlib.sha256()
        digest.update(repr((self.X.shape, str(self.X.dtype))).encode())
        rows = np.unique(np.linspace(0, self.n_samples - 1, num=min(self.n_samples, 1024)).astype(np.int64))
        _update_with_rows(digest, self.X[rows])
        digest.update(np.ascontiguousarray(self.y).tobytes())
        digest.update(np.ascontiguousarray(self.sample_weight).tobytes())
        return digest.hexdigest()


class StreamedRows:
    """The rows of one split of a dataset file, read block by block.

    The weighted sums of every block (``kernels.loss_gradient_sums``) are added in
    block order and divided by the stream's total weight S at the end. For a given
    file and block size the partition is fixed, so results are bitwise reproducible
    run to run and for any thread count; against the in-memory backend they differ
    only in the order of the additions (a few ulps). Sparse (CSR) blocks carry the
    sums of the CSR kernels on from block to block
    (``kernels.sparse.loss_gradient_sums_blocks``, each row weighed s_j / S as the
    in-memory kernels do): their results are the in-memory ones bit for bit, whatever
    the budget, when S is the same sum (unit weights; class weights: S is summed from
    the class counts here, pairwise over rows in memory, which may differ in the last bit).

    Parameters
    ----------
    stream : softmax_nb.data.streaming.H5Stream
    class_weight : ndarray of shape (n_classes,), optional
        Per-class weights (:func:`~softmax_nb.model.objective.class_weight_vector`):
        row j weighs ``class_weight[y_j]`` (dataset files hold no per-row weights).
    """

    def __init__(self, stream, class_weight=None):
        self.stream = stream
        self.class_weight = None if class_weight is None else np.asarray(class_weight, dtype=np.float64)
        self.n_samples = stream.n_rows
        self.n_features = stream.n_features
        self.dtype = np.dtype(stream.dtype)
        self.total_weight = total_weight(stream.class_counts, self.class_weight)
        self.n_evaluations = 0

    def _blocks(self, order=None, desc=None):
        """The stream's blocks with their row weights: ``(block, sample_weight)``."""
        for block in self.stream.blocks(order=order, desc=desc):
            yield block, row_weights(block.y, None, self.class_weight)

    def loss_gradient(self, coef, intercept, label_smoothing):
        coef = np.asarray(coef, dtype=np.float64)
        n_classes = coef.shape[0]
        self.n_evaluations += 1
        blocks = self._blocks(desc=f"loss+gradient pass {self.n_evaluations}")
        total = self.total_weight
        if self.stream.sparse:
            # Weights s_j / S, as the in-memory kernels normalise them: the same bits.
            loss, grad_coef, grad_intercept = kernels.sparse.loss_gradient_sums_blocks(
                ((block.start, block.X, block.y, sample_weight / total) for block, sample_weight in blocks),
                self.n_samples, self.n_features, coef, intercept, label_smoothing)
            return loss, grad_coef, (grad_intercept if intercept is not None else None)
        loss = 0.0
        grad_coef = np.zeros((n_classes, self.n_features))
        grad_intercept = np.zeros(n_classes)
        for block, sample_weight in blocks:
            part_loss, part_coef, part_intercept, _ = kernels.loss_gradient_sums(
                block.X, block.y, coef, intercept, sample_weight, label_smoothing)
            loss += part_loss
            grad_coef += part_coef
            grad_intercept += part_intercept
        return loss / total, grad_coef / total, (grad_intercept / total if intercept is not None else None)

    def minibatches(self, rng, batch_size):
        # Blocks in a shuffled order, rows shuffled within each block: a minibatch
        # never spans two blocks, and memory stays within the stream's budget.
        order = rng.permutation(self.stream.n_blocks)
        for block, sample_weight in self._blocks(order=order, desc="minibatch epoch"):
            rows = rng.permutation(block.stop - block.start)
            for first in range(0, len(rows), batch_size):
                indices = np.sort(rows[first:first + batch_size])
                yield block.X[indices], block.y[indices], sample_weight[indices]

    def scores(self, coef, intercept):
        if self.n_samples == 0:
            return np.nan, np.nan
        log_loss, correct = 0.0, 0
        for block in self.stream.blocks(desc=f"{self.stream.split} scores"):
            log_proba = kernels.predict_log_proba(block.X, coef, intercept)
            block_loss, block_correct = _log_loss_correct(log_proba, block.y)
            log_loss += block_loss
            correct += block_correct
        return log_loss / self.n_samples, correct / self.n_samples

    def max_abs(self):
        largest = 0.0
        for block in self.stream.blocks(desc="feature scale"):
            values = block.X.data if self.stream.sparse else block.X
            if values.size:
                largest = max(largest, float(np.max(np.abs(values))))
        return largest

    def digest(self):
        """The split's shape, dtypes, block size, classes and class counts, the class
        weights, and the labels and first 64 rows of the first and last blocks."""
        stream = self.stream
        digest = hashlib.sha256()
        digest.update(repr((stream.n_rows, stream.n_features, str(stream.stored_dtype), str(stream.dtype),
                            stream.block_rows, [str(c) for c in stream.classes])).encode())
        digest.update(np.ascontiguousarray(stream.class_counts).tobytes())
        if self.class_weight is not None:
            digest.update(self.class_weight.tobytes())
        for block in stream.blocks(order=sorted({0, stream.n_blocks - 1}), desc="checkpoint identity"):
            _update_with_rows(digest, block.X[:64])
            digest.update(np.ascontiguousarray(block.y).tobytes())
        return digest.hexdigest()
