"""Out-of-core training: stream a dataset file's row blocks within a memory budget.

A dataset file (docs/FORMATS.md) stores X in row chunks with checksums.  Here it is
read block by block, each block a whole number of the file's chunks, with the next
block read by a background thread while the current one is computed (the compiled
kernels release the GIL, so reading and computing overlap):

- :class:`H5Stream` picks the block size from ``max_memory_mb`` and iterates the
  blocks of one split, in file order or in a given (shuffled) order;
- :class:`StreamedObjective` is the full objective J and its gradient as one pass:
  the sum, in block order, of :func:`softmax_nb.kernels.loss_gradient_sums` over the
  blocks, divided by the total weight, plus the L2 term;
- :func:`fit_streaming` trains a :class:`~softmax_nb.SoftmaxClassifier` from a file:
  exact full-batch L-BFGS or gradient descent (one pass per evaluation), or SGD /
  Adam epochs over shuffled blocks;
- :class:`IncrementalTrainer` and :func:`partial_fit` train on data given piece by
  piece, keeping the optimiser's state between calls.

Memory model
------------
Peak memory above the interpreter's baseline (imports, compiled kernels) is

    fixed + 2 x block_rows x (row bytes of X [+ converted copy] + 16)

where ``fixed`` covers the parameters and the optimiser's copies of them, the
kernel's per-chunk gradient buffers, the HDF5 chunk cache and one chunk of filter
scratch.  :func:`memory_plan` solves that for ``block_rows`` with a 15 % margin;
the result never depends on the size of the dataset.  See docs/OUT_OF_CORE.md.

Numerics
--------
The streamed objective differs from the in-memory one only in the order of the
floating-point additions (blocks instead of the kernel's own row chunks) and in
dividing by the total weight at the end instead of first: the difference is a few
ulps (tested at 1e-12 relative in float64).  For a given file and memory budget the
block partition is fixed, so results are bitwise reproducible run to run and for
any thread count.
"""

from __future__ import annotations

import concurrent.futures
import logging
import sys
import time
import warnings
from collections import namedtuple

import h5py
import numba
import numpy as np

from ..kernels import cpu as kernels, tunables
from ..files import io as sio

__all__ = [
    "MemoryBudgetError",
    "memory_plan",
    "H5Stream",
    "Block",
    "StreamedObjective",
    "fit_streaming",
    "IncrementalTrainer",
    "partial_fit",
]

log = logging.getLogger(__name__)

#: Upper bound of one read block: larger blocks no longer speed up reading.
MAX_BLOCK_BYTES = 256 * 2**20
# Parameter-sized float64 vectors an optimiser keeps alive at once (L-BFGS: 2 x 10
# history pairs, x, grad, the cached point, direction, line-search trial points).
_OPTIMIZER_COPIES = 32
# HDF5 bookkeeping, tqdm, the executor's thread, allocator slack.
_RESERVE_BYTES = 2 * 2**20
# Fraction of the data budget that block buffers may take: the rest absorbs
# allocator fragmentation and small temporaries.
_BLOCK_FRACTION = 0.85
_H5_CACHE_BYTES = 2**20

Block = namedtuple("Block", "index start stop X y sample_weight")
Block.__doc__ = """One block of rows ``start:stop`` of a split.

``X``, ``y`` and ``sample_weight`` are views of buffers that are reused: they are
valid until the next block is requested."""


class MemoryBudgetError(ValueError):
    """``max_memory_mb`` is too small for the model or for one chunk of the file."""


# ---------------------------------------------------------------------------
# memory plan
# ---------------------------------------------------------------------------


def memory_plan(n_rows, n_features, n_classes, max_memory_mb, *, itemsize=4, compute_itemsize=None,
                file_chunk_rows=None, output_columns=0, data_share=1.0, batch_rows=0, block_rows=None):
    """Choose the rows per read block so that peak memory stays within a budget.

    Parameters
    ----------
    n_rows, n_features, n_classes : int
        Shape of the split and of the model.
    max_memory_mb : float
        The budget in MiB, above the interpreter's baseline.
    itemsize : int
        Bytes per stored value of X (4 for float32, 8 for float64).
    compute_itemsize : int, optional
        Bytes per value of the dtype the kernels compute in, when it differs from
        the stored one (each block is then converted into a second buffer).
    file_chunk_rows : int or None
        Rows per HDF5 chunk of X; blocks are whole multiples of it so that no chunk
        is read (and checksummed) twice.  None for contiguous storage.
    output_columns : int
        Per-row outputs a pass allocates (``n_classes`` for a validation pass).
    data_share : float in (0, 1]
        Part of the data budget given to this stream (the rest to another one).
    batch_rows : int
        Minibatch rows copied out of a block (SGD, Adam).
    block_rows : int, optional
        Use these rows per block (a multiple of ``file_chunk_rows``) instead of
        solving for them; ``max_memory_mb`` is then not enforced.

    Returns
    -------
    dict
        ``block_rows``, ``n_blocks``, ``fixed_bytes`` (model, optimiser, kernel and
        HDF5 buffers), ``block_bytes`` (one block with its labels and weights) and
        ``peak_bytes`` (fixed + two blocks in flight + outputs).

    Raises
    ------
    MemoryBudgetError
        When the fixed part, or two of the file's chunks, do not fit.
    """
    budget = float(max_memory_mb) * 2**20 if block_rows is None else np.inf
    if not budget > 0:
        raise MemoryBudgetError(f"max_memory_mb must be positive, got {max_memory_mb!r}")
    compute_itemsize = compute_itemsize or itemsize
    n_params = n_classes * (n_features + 1)
    unit = int(file_chunk_rows) if file_chunk_rows else 1
    chunk_bytes = unit * n_features * itemsize
    # The kernel: one float64 gradient per row chunk (at most MAX_CHUNKS), one
    # compute-dtype block gradient per thread, the cast coef and the outputs.
    kernel_bytes = ((tunables.MAX_CHUNKS + 3) * n_classes * n_features * 8
                    + numba.get_num_threads() * n_classes * n_features * compute_itemsize)
    fixed = (_OPTIMIZER_COPIES * n_params * 8 + kernel_bytes + _RESERVE_BYTES
             + _H5_CACHE_BYTES + chunk_bytes  # HDF5 decodes a filtered chunk in scratch memory
             + 2 * batch_rows * n_features * compute_itemsize)
    row_bytes = n_features * itemsize + 16  # X row, y (int64) and weight (float64)
    if compute_itemsize != itemsize:
        row_bytes += n_features * compute_itemsize
    per_row = 2 * row_bytes + output_columns * compute_itemsize
    if block_rows is not None:
        if isinstance(block_rows, bool) or not isinstance(block_rows, (int, np.integer)) \
                or block_rows < 1 or block_rows % unit:
            raise ValueError(f"block_rows must be a positive multiple of the file's {unit} chunk rows, "
                             f"got {block_rows!r}")
        rows = int(block_rows)
    else:
        data_budget = (budget - fixed) * data_share * _BLOCK_FRACTION
        rows = int(data_budget // per_row) // unit * unit if data_budget > 0 else 0
    if rows < unit:
        needed_mb = (fixed + unit * per_row / (data_share * _BLOCK_FRACTION)) / 2**20
        what = f"two chunks of {unit} rows" if file_chunk_rows else "two rows"
        raise MemoryBudgetError(
            f"max_memory_mb={max_memory_mb} is too small: the model, optimiser and kernel buffers need "
            f"{fixed / 2**20:.1f} MiB and {what} {2 * unit * row_bytes / 2**20:.1f} MiB more; "
            f"give at least {np.ceil(needed_mb):.0f} MiB"
            + (" or rewrite the file with smaller chunks (softmax-nb prepare --chunk-rows)"
               if unit * per_row > 0.25 * budget else "")
        )
    if block_rows is None:
        rows = min(rows, max(unit, MAX_BLOCK_BYTES // (n_features * itemsize) // unit * unit))
    if n_rows:
        # No larger than the split itself (rounded up to whole chunks).
        rows = min(rows, -(-n_rows // unit) * unit)
    n_blocks = -(-n_rows // rows) if n_rows else 0
    buffer_rows = min(rows, max(n_rows, 1))
    return {
        "block_rows": rows,
        "n_blocks": n_blocks,
        "fixed_bytes": int(fixed),
        "block_bytes": int(buffer_rows * row_bytes),
        "peak_bytes": int(fixed + 2 * buffer_rows * row_bytes + buffer_rows * output_columns * compute_itemsize),
    }


# ---------------------------------------------------------------------------
# progress
# ---------------------------------------------------------------------------


class _LogWriter:
    """A file-like target for tqdm that turns its updates into log lines."""

    def write(self, text):
        text = text.strip("\r\n ")
        if text:
            log.info("%s", text)

    def flush(self):
        pass


def _progress_bar(total_bytes, desc, enabled):
    """tqdm on a terminal; on a pipe or log file, one log line every 30 s instead.

    Short passes (under 2 s on a terminal, 10 s in a log) show nothing.
    """
    if not enabled:
        return None
    from tqdm import tqdm

    terminal = hasattr(sys.stderr, "isatty") and sys.stderr.isatty()
    options = dict(total=total_bytes, desc=desc, unit="B", unit_scale=True, unit_divisor=1024,
                   leave=False)
    if terminal:
        return tqdm(delay=2.0, mininterval=0.5, **options)
    return tqdm(file=_LogWriter(), delay=10.0, mininterval=30.0, ascii=True, dynamic_ncols=False,
                ncols=100, **options)


# ---------------------------------------------------------------------------
# streaming reader
# ---------------------------------------------------------------------------


class BufferPool:
    """Two reusable byte buffers that streams over different splits can share.

    Passes over the training and the validation split never overlap, so they can
    read into the same memory: the pool holds the larger of their needs, not both.
    """

    def __init__(self):
        self._arrays = [None, None]

    def get(self, slot, nbytes):
        """A uint8 array of at least ``nbytes`` for buffer ``slot`` (0 or 1)."""
        array = self._arrays[slot]
        if array is None or array.nbytes < nbytes:
            self._arrays[slot] = None  # drop the old one before allocating the new
            array = self._arrays[slot] = np.empty(nbytes, dtype=np.uint8)
        return array

    def release(self):
        """Free both buffers."""
        self._arrays = [None, None]


def _carve(raw, offset, shape, dtype):
    """A view of ``raw`` at ``offset`` with the given shape and dtype; the next offset."""
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape)) * dtype.itemsize
    view = raw[offset:offset + nbytes].view(dtype).reshape(shape)
    return view, offset + -(-nbytes // 64) * 64  # keep every array 64-byte aligned


class H5Stream:
    """Row blocks of one split of a dataset file, read ahead in a background thread.

    Parameters
    ----------
    path : str or os.PathLike
        A dataset file (``softmax-nb prepare``), opened read-only.
    split : {"train", "val", "test"}
    max_memory_mb : float
        Memory budget (MiB) above the interpreter's baseline; see :func:`memory_plan`.
    dtype : {None, "float32", "float64"}
        Dtype the blocks are given in; None keeps the stored one.
    class_weight : ndarray of shape (n_classes,), optional
        Per-class weights; each block's ``sample_weight`` is ``class_weight[y]``
        (ones when None).
    n_parameters_classes : int, optional
        Classes of the model (default: the file's), for the memory plan.
    data_share, output_columns, batch_rows
        See :func:`memory_plan`.
    block_rows : int, optional
        Force the rows per block (a multiple of the file's chunk rows); the budget
        is then not enforced (tests, benchmarks).
    pool : BufferPool, optional
        Buffers shared with another stream whose passes never overlap this one's.
    prefetch : bool, default=True
        Read the next block while the current one is used.
    progress : bool, default=False
        Show a progress bar during each pass (see :func:`_progress_bar`).

    Attributes
    ----------
    n_rows, n_features, n_classes, classes, stored_dtype, dtype
    block_rows, n_blocks, file_chunk_rows : int or None
    class_counts : ndarray of int64
    total_weight : float
        Sum of the per-row weights over the split.
    plan : dict
        The :func:`memory_plan` used.
    bytes_read : int
        Bytes of X read so far.

    Raises
    ------
    FileNotFoundError, softmax_nb.io.FileFormatError
        Missing or invalid file; a block that fails its checksum raises
        ``FileFormatError`` naming the file and the row range.
    MemoryBudgetError
    """

    def __init__(self, path, split="train", *, max_memory_mb=None, dtype=None, class_weight=None,
                 n_parameters_classes=None, data_share=1.0, output_columns=0, batch_rows=0,
                 block_rows=None, prefetch=True, progress=False, pool=None):
        if split not in sio.SPLITS:
            raise ValueError(f"split must be one of {sio.SPLITS}, got {split!r}")
        if max_memory_mb is None and block_rows is None:
            raise ValueError("H5Stream needs max_memory_mb (or block_rows)")
        self.path = str(path)
        self.split = split
        info = sio.dataset_info(path)  # checks existence, truncation, format and shapes
        self.info = info
        self.classes = info["classes"]
        self.n_classes = info["n_classes"]
        self.n_features = info["n_features"]
        split_info = info["splits"][split]
        self.n_rows = split_info["n_samples"]
        self.stored_dtype = np.dtype(split_info["dtype"])
        self.dtype = self.stored_dtype if dtype is None else np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype must be float32 or float64, got {self.dtype}")
        chunks = split_info["chunks"]
        self.file_chunk_rows = int(chunks[0]) if chunks else None
        try:
            self._file = h5py.File(self.path, "r", rdcc_nbytes=_H5_CACHE_BYTES)
        except OSError as exc:
            raise sio.FileFormatError(f"cannot open dataset file {self.path!r}: {exc}") from exc
        self._X = self._file[split]["X"]
        self._y = self._file[split]["y"]
        self._executor = None
        self._buffers = None
        self._pool = pool if pool is not None else BufferPool()
        try:
            counts = split_info.get("class_counts")
            self.class_counts = (np.asarray(counts, dtype=np.int64) if counts is not None
                                 else self._count_classes())
            self.set_class_weight(class_weight)
            n_model_classes = n_parameters_classes or self.n_classes
            self.plan = memory_plan(
                self.n_rows, self.n_features, n_model_classes, max_memory_mb,
                itemsize=self.stored_dtype.itemsize, compute_itemsize=self.dtype.itemsize,
                file_chunk_rows=self.file_chunk_rows, output_columns=output_columns,
                data_share=data_share, batch_rows=batch_rows, block_rows=block_rows,
            )
            self.block_rows = self.plan["block_rows"]
            self.n_blocks = self.plan["n_blocks"]
        except BaseException:
            self._file.close()
            raise
        self.prefetch = bool(prefetch)
        self.progress = bool(progress)
        self.bytes_read = 0
        self.n_passes = 0

    def set_class_weight(self, class_weight):
        """Per-class weights (or None) for the blocks' ``sample_weight``; updates ``total_weight``."""
        if class_weight is not None:
            class_weight = np.asarray(class_weight, dtype=np.float64)
            if class_weight.shape != (self.n_classes,):
                raise ValueError(f"class_weight must have shape ({self.n_classes},), got {class_weight.shape}")
        self.class_weight = class_weight
        self.total_weight = float(self.n_rows if class_weight is None else np.dot(self.class_counts, class_weight))

    # -- resources ----------------------------------------------------------

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        """Stop the reader thread, free the buffers and close the file."""
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
        self._buffers = None
        self._pool = None
        if self._file is not None:
            self._file.close()
            self._file = None

    def _allocate(self):
        # Views are carved afresh for every pass: a shared pool may have been
        # regrown by the other stream in between.
        rows = min(self.block_rows, self.n_rows)
        convert = self.dtype != self.stored_dtype
        layout = [("X", (rows, self.n_features), self.stored_dtype),
                  ("Xc", (rows, self.n_features), self.dtype) if convert else None,
                  ("y", (rows,), np.int64), ("w", (rows,), np.float64)]
        layout = [entry for entry in layout if entry is not None]
        nbytes = sum(-(-int(np.prod(shape)) * np.dtype(dtype).itemsize // 64) * 64 for _, shape, dtype in layout)
        self._buffers = []
        for slot in range(2):
            raw = self._pool.get(slot, nbytes)
            views, offset = {"Xc": None}, 0
            for name, shape, dtype in layout:
                views[name], offset = _carve(raw, offset, shape, dtype)
            self._buffers.append(views)
        if self._executor is None and self.prefetch:
            self._executor = concurrent.futures.ThreadPoolExecutor(
                max_workers=1, thread_name_prefix="softmax_nb-reader")

    def _count_classes(self):
        counts = np.zeros(self.n_classes, dtype=np.int64)
        step = 1 << 16  # 512 KiB of labels at a time
        for start in range(0, self.n_rows, step):
            y = self._y[start:start + step]
            counts += np.bincount(y, minlength=self.n_classes)[: self.n_classes]
        return counts

    # -- reading ------------------------------------------------------------

    def row_range(self, index):
        """``(start, stop)`` rows of block ``index``."""
        start = index * self.block_rows
        return start, min(self.n_rows, start + self.block_rows)

    def _read(self, index, slot):
        """Read block ``index`` into buffer ``slot`` (runs in the reader thread)."""
        start, stop = self.row_range(index)
        n = stop - start
        buffer = self._buffers[slot]
        X, y, w = buffer["X"][:n], buffer["y"][:n], buffer["w"][:n]
        try:
            # read_direct fills the preallocated buffer: no new array per block.
            self._X.read_direct(buffer["X"], np.s_[start:stop], np.s_[0:n])
            self._y.read_direct(buffer["y"], np.s_[start:stop], np.s_[0:n])
        except (OSError, RuntimeError, ValueError) as exc:
            raise sio.FileFormatError(
                f"dataset file {self.path!r}: cannot read /{self.split} rows {start}..{stop - 1} "
                f"({sio._short(exc)}); the file is corrupted or truncated: prepare it again or "
                "restore a good copy"
            ) from exc
        if n and (y.min() < 0 or y.max() >= self.n_classes):
            raise sio.FileFormatError(
                f"dataset file {self.path!r}: /{self.split}/y rows {start}..{stop - 1} hold class "
                f"indices outside 0..{self.n_classes - 1}"
            )
        if buffer["Xc"] is not None:
            X = buffer["Xc"][:n]
            np.copyto(X, buffer["X"][:n])
        if self.class_weight is not None:
            np.take(self.class_weight, y, out=w)
        else:
            w.fill(1.0)
        self.bytes_read += n * self.n_features * self.stored_dtype.itemsize
        return Block(index, start, stop, X, y, w)

    def blocks(self, order=None, desc=None):
        """Iterate the blocks, reading the next one while the current one is used.

        Parameters
        ----------
        order : sequence of int, optional
            Block indices in the order to visit them (default: file order).
        desc : str, optional
            Label of the progress bar (when the stream has ``progress=True``).

        Yields
        ------
        Block
            Views into reused buffers, valid until the next block is requested.
        """
        if self._file is None:
            raise RuntimeError(f"the stream over {self.path!r} is closed")
        order = list(range(self.n_blocks)) if order is None else [int(i) for i in order]
        if any(not 0 <= i < self.n_blocks for i in order):
            raise ValueError(f"block indices must be in [0, {self.n_blocks}), got {order}")
        if not order:
            return
        self._allocate()
        self.n_passes += 1
        bar = _progress_bar(sum(np.subtract(*self.row_range(i)[::-1]) for i in order)
                            * self.n_features * self.stored_dtype.itemsize,
                            desc or f"{self.split} pass {self.n_passes}", self.progress)
        pending = None
        try:
            if self.prefetch:
                pending = self._executor.submit(self._read, order[0], 0)
            for position, index in enumerate(order):
                slot = position % 2
                if self.prefetch:
                    block = pending.result()
                    pending = None
                    if position + 1 < len(order):
                        # The other buffer was released when this block was asked for.
                        pending = self._executor.submit(self._read, order[position + 1], 1 - slot)
                else:
                    block = self._read(index, slot)
                yield block
                if bar is not None:
                    bar.update((block.stop - block.start) * self.n_features * self.stored_dtype.itemsize)
        finally:
            if pending is not None:
                # Abandoned early: let the read in flight finish before its buffer goes.
                pending.cancel()
                try:
                    pending.result()
                except BaseException:  # noqa: BLE001 - the caller's error matters, not this one
                    pass
            if bar is not None:
                bar.close()


# ---------------------------------------------------------------------------
# streamed objective
# ---------------------------------------------------------------------------


class StreamedObjective:
    """J(params) and its gradient as one pass over a stream; params = [coef.ravel(), intercept].

    ``J = 1/S sum_j s_j loss_j + lambda/2 ||W||^2`` (``softmax_nb.kernels``): the
    weighted sums of every block (``kernels.loss_gradient_sums``) are added in block
    order, divided by the stream's total weight S, and the L2 term is added last.

    Parameters
    ----------
    stream : H5Stream
    fit_intercept : bool
    l2_reg_strength : float
    label_smoothing : float
    """

    def __init__(self, stream, *, fit_intercept=True, l2_reg_strength=0.0, label_smoothing=0.0):
        self.stream = stream
        self.n_classes = stream.n_classes
        self.n_features = stream.n_features
        self.fit_intercept = bool(fit_intercept)
        self.l2_reg_strength = float(l2_reg_strength)
        self.label_smoothing = float(label_smoothing)
        self.n_evaluations = 0

    @property
    def n_params(self):
        return self.n_classes * self.n_features + (self.n_classes if self.fit_intercept else 0)

    def unpack(self, params):
        n_coef = self.n_classes * self.n_features
        coef = params[:n_coef].reshape(self.n_classes, self.n_features)
        return coef, (params[n_coef:] if self.fit_intercept else None)

    def pack(self, grad_coef, grad_intercept):
        if self.fit_intercept:
            return np.concatenate([grad_coef.ravel(), grad_intercept])
        return grad_coef.ravel()

    def loss_gradient(self, coef, intercept=None):
        """``(loss, grad_coef, grad_intercept)`` like :func:`softmax_nb.kernels.loss_gradient`."""
        coef = np.asarray(coef, dtype=np.float64)
        loss = 0.0
        grad_coef = np.zeros((self.n_classes, self.n_features))
        grad_intercept = np.zeros(self.n_classes)
        self.n_evaluations += 1
        for block in self.stream.blocks(desc=f"loss+gradient pass {self.n_evaluations}"):
            part_loss, part_coef, part_intercept, _ = kernels.loss_gradient_sums(
                block.X, block.y, coef, intercept, block.sample_weight, self.label_smoothing)
            loss += part_loss
            grad_coef += part_coef
            grad_intercept += part_intercept
        total = self.stream.total_weight
        loss /= total
        grad_coef /= total
        grad_intercept /= total
        if self.l2_reg_strength:
            # The same expression, in the same order, as kernels.loss_gradient.
            loss += 0.5 * self.l2_reg_strength * float(np.sum(coef * coef))
            grad_coef += self.l2_reg_strength * coef
        return float(loss), grad_coef, (grad_intercept if intercept is not None else None)

    def __call__(self, params):
        coef, intercept = self.unpack(np.asarray(params, dtype=np.float64))
        loss, grad_coef, grad_intercept = self.loss_gradient(coef, intercept)
        return loss, self.pack(grad_coef, grad_intercept)


def _streamed_scores(stream, coef, intercept):
    """Mean log-loss and accuracy over a stream (the estimator's validation scores)."""
    if stream is None or stream.n_rows == 0:
        return np.nan, np.nan
    log_loss = 0.0
    correct = 0
    for block in stream.blocks(desc=f"{stream.split} scores"):
        log_proba = kernels.predict_log_proba(block.X, coef, intercept)
        rows = np.arange(len(block.y))
        log_loss -= float(np.sum(log_proba[rows, block.y], dtype=np.float64))
        correct += int(np.count_nonzero(np.argmax(log_proba, axis=1) == block.y))
    return log_loss / stream.n_rows, correct / stream.n_rows


# ---------------------------------------------------------------------------
# training from a file
# ---------------------------------------------------------------------------


def _class_weight_vector(class_weight, classes, class_counts):
    """Per-class weights as scikit-learn's compute_class_weight, from class counts."""
    if class_weight is None:
        return None
    classes = np.asarray(classes)
    if isinstance(class_weight, str):
        if class_weight != "balanced":
            raise ValueError(f"class_weight must be None, 'balanced' or a dict, got {class_weight!r}")
        present = class_counts > 0
        weights = np.ones(len(classes))
        weights[present] = class_counts[present].sum() / (present.sum() * class_counts[present])
        return weights
    if not isinstance(class_weight, dict):
        raise ValueError(f"class_weight must be None, 'balanced' or a dict, got {class_weight!r}")
    weights = np.ones(len(classes))
    labels = classes.tolist()
    for label, weight in class_weight.items():
        if label not in labels:
            raise ValueError(f"class_weight names class {label!r}, which is not among the classes {labels}")
        weights[labels.index(label)] = float(weight)
    return weights


def _minibatch_epoch(optimizer, stream, objective, progress_name):
    """One epoch of optim.SGD / optim.Adam updates over shuffled blocks.

    The block order and the rows within each block are shuffled with the
    optimiser's own seeded RNG; a minibatch never spans two blocks.
    """
    lr = optimizer.current_learning_rate()
    batch_size = optimizer.batch_size
    order = optimizer.rng.permutation(stream.n_blocks)
    for block in stream.blocks(order=order, desc=f"{progress_name} epoch {optimizer.iteration + 1}"):
        rows = optimizer.rng.permutation(block.stop - block.start)
        for first in range(0, len(rows), batch_size):
            indices = np.sort(rows[first:first + batch_size])  # memory order; same batch
            grad = _batch_gradient(objective, optimizer.x, block.X[indices], block.y[indices],
                                   block.sample_weight[indices])
            optimizer.n_updates += 1
            optimizer._update(grad, lr)
    optimizer.iteration += 1
    optimizer.loss, optimizer.grad = objective(optimizer.x)


def _batch_gradient(objective, params, X, y, sample_weight):
    """Gradient of J on a minibatch (the estimator's ``_Objective.batch``)."""
    if not sample_weight.sum() > 0:
        # A batch of zero-weight rows carries no information.
        return np.zeros_like(params)
    coef, intercept = objective.unpack(params)
    _, grad_coef, grad_intercept = kernels.loss_gradient(
        X, y, coef, intercept, sample_weight, objective.l2_reg_strength, objective.label_smoothing)
    return objective.pack(grad_coef, grad_intercept)


def _planned_peak(stream, eval_stream):
    """Streams sharing one pool peak at the larger plan, not the sum."""
    return max(stream.plan["peak_bytes"], eval_stream.plan["peak_bytes"] if eval_stream else 0)


def fit_streaming(path, params=None, *, max_memory_mb, split="train", eval_split="val",
                  progress=True, init=None):
    """Train a SoftmaxClassifier on a dataset file without loading it into memory.

    Parameters
    ----------
    path : str or os.PathLike
        A dataset file (``softmax-nb prepare``); X should be stored in row chunks
        (the default) or contiguously.
    params : dict, optional
        :class:`~softmax_nb.SoftmaxClassifier` hyperparameters.  ``solver`` 'lbfgs'
        and 'gd' evaluate the exact full objective, one streamed pass per
        evaluation; 'sgd' and 'adam' run epochs over shuffled blocks.
        ``early_stopping`` monitors the ``eval_split`` (not a hold-out of the
        training rows).  ``device`` must be 'cpu' or 'auto' (runs on the CPU);
        checkpoints are not written.
    max_memory_mb : float
        Memory budget in MiB above the interpreter's baseline (see
        :func:`memory_plan`); the training and validation passes take turns with
        the same read buffers.
    split : str, default="train"
    eval_split : str or None, default="val"
        Split whose loss and accuracy are recorded each iteration (None or an
        empty split: NaN).
    progress : bool, default=True
        Progress bar per pass (a log line every 30 s when stderr is not a terminal).
    init : SoftmaxClassifier, optional
        A fitted classifier with the same classes and features to start from.

    Returns
    -------
    SoftmaxClassifier
        Fitted: ``classes_`` (the file's classes), ``coef_``, ``intercept_``,
        ``n_features_in_``, ``n_iter_``, ``history_``, ``device_used_``,
        ``fit_time_``, plus ``streaming_`` (the memory plan, passes and bytes read).
    """
    from sklearn.exceptions import ConvergenceWarning

    from ..model.estimator import (_DEFAULT_LEARNING_RATE, HISTORY_KEYS, SoftmaxClassifier, _Monitor,
                            _num_threads, _seed)
    from ..model.optim import LBFGS, SGD, Adam, GradientDescent

    clf = SoftmaxClassifier(**(params or {}))
    clf._check_params()
    if clf.device == "cuda":
        raise ValueError("streaming training runs on the CPU; device='cuda' needs the data in memory "
                         "(drop max_memory_mb, or use device='cpu')")
    if clf.checkpoint_path is not None:
        raise ValueError("streaming training does not write checkpoints; leave checkpoint_path unset")
    minibatch = clf.solver in ("sgd", "adam")
    info = sio.dataset_info(path)
    classes = info["classes"]
    counts = np.asarray(info["splits"][split]["class_counts"] or [], dtype=np.int64)
    if info["splits"][split]["n_samples"] == 0:
        raise ValueError(f"dataset file {str(path)!r}: the {split!r} split has no rows")
    if counts.size and np.count_nonzero(counts) < 2:
        raise ValueError(f"dataset file {str(path)!r}: the {split!r} split holds a single class")
    class_weight = _class_weight_vector(clf.class_weight, classes, counts) if counts.size else None
    use_eval = eval_split is not None and info["splits"][eval_split]["n_samples"] > 0
    if clf.early_stopping and not use_eval:
        raise ValueError("early_stopping in streaming training monitors the validation split, "
                         f"which is {'not given' if eval_split is None else 'empty'}")
    if init is not None and (not np.array_equal(np.asarray(init.classes_), classes)
                             or init.coef_.shape[1] != info["n_features"]):
        raise ValueError("init must be a classifier fitted on the same classes and features as the file")

    dtype = None if clf.dtype is None else np.dtype(clf.dtype)
    pool = BufferPool()  # training and validation passes take turns with the same buffers
    batch_rows = clf.batch_size if minibatch else 0
    seed = _seed(clf.random_state)
    start = time.perf_counter()
    with _num_threads(clf.n_threads), \
            H5Stream(path, split, max_memory_mb=max_memory_mb, dtype=dtype, class_weight=class_weight,
                     batch_rows=batch_rows, progress=progress, pool=pool) as stream:
        if counts.size == 0 and clf.class_weight is not None:
            # The file has no class_counts attribute: the stream counted y itself.
            stream.set_class_weight(_class_weight_vector(clf.class_weight, classes, stream.class_counts))
        eval_stream = None
        if use_eval:
            eval_stream = H5Stream(path, eval_split, max_memory_mb=max_memory_mb, dtype=dtype,
                                   output_columns=len(classes), progress=progress, pool=pool)
        try:
            l2 = 0.0 if np.isinf(clf.C) else 1.0 / (clf.C * stream.total_weight)
            objective = StreamedObjective(stream, fit_intercept=clf.fit_intercept, l2_reg_strength=l2,
                                          label_smoothing=float(clf.label_smoothing))
            n_classes, n_features = len(classes), info["n_features"]
            if init is not None:
                x0 = objective.pack(np.asarray(init.coef_, dtype=np.float64),
                                    np.asarray(init.intercept_, dtype=np.float64))
            else:
                x0 = np.zeros(objective.n_params)
            log.info("streaming %s/%s: %d rows in %d block(s) of %d rows; planned peak %.1f MiB "
                     "(budget %s MiB)", path, split, stream.n_rows, stream.n_blocks, stream.block_rows,
                     _planned_peak(stream, eval_stream) / 2**20, max_memory_mb)
            lr = clf.learning_rate if clf.learning_rate is not None else _DEFAULT_LEARNING_RATE[clf.solver]
            if clf.solver == "lbfgs":
                optimizer = LBFGS(objective, x0, gtol=clf.tol)
            elif clf.solver == "gd":
                optimizer = GradientDescent(objective, x0, learning_rate=lr, gtol=clf.tol)
            else:
                common = dict(batch_size=clf.batch_size, learning_rate=lr, lr_schedule=clf.lr_schedule,
                              max_epochs=clf.max_iter, random_state=seed)
                if clf.solver == "sgd":
                    optimizer = SGD(objective, None, x0, stream.n_rows, momentum=clf.momentum,
                                    nesterov=clf.nesterov, **common)
                else:
                    optimizer = Adam(objective, None, x0, stream.n_rows, **common)
            monitor = _Monitor(clf.tol, clf.n_iter_no_change)
            clf.history_ = {key: [] for key in HISTORY_KEYS}
            converged = False if minibatch else optimizer.converged
            stopped_early = False
            while not (converged or stopped_early) and optimizer.iteration < clf.max_iter:
                if minibatch:
                    _minibatch_epoch(optimizer, stream, objective, clf.solver)
                else:
                    optimizer.step()
                elapsed = time.perf_counter() - start
                val_loss, val_accuracy = _streamed_scores(eval_stream, *objective.unpack(optimizer.x))
                clf._record(optimizer, np.nan, val_loss, val_accuracy, elapsed)
                if not np.isfinite(optimizer.loss):
                    raise FloatingPointError(
                        f"the loss became {optimizer.loss} at iteration {optimizer.iteration}; "
                        "lower learning_rate or standardize the features")
                if clf.early_stopping:
                    stopped_early = monitor.update(val_loss, optimizer.x)
                elif minibatch:
                    converged = monitor.update(optimizer.loss, optimizer.x)
                else:
                    converged = optimizer.converged
            params_final = optimizer.x
            if stopped_early and monitor.best_x is not None:
                params_final = monitor.best_x
            clf.streaming_ = {
                "max_memory_mb": max_memory_mb,
                "block_rows": stream.block_rows,
                "n_blocks": stream.n_blocks,
                "planned_peak_bytes": _planned_peak(stream, eval_stream),
                "passes": stream.n_passes,
                "bytes_read": stream.bytes_read + (eval_stream.bytes_read if eval_stream else 0),
            }
        finally:
            if eval_stream is not None:
                eval_stream.close()
    clf.fit_time_ = time.perf_counter() - start
    clf.n_iter_ = optimizer.iteration
    if not converged and not stopped_early and optimizer.iteration >= clf.max_iter:
        warnings.warn(f"{clf.solver} did not converge in max_iter={clf.max_iter} iterations; "
                      "increase max_iter or scale the data", ConvergenceWarning)
    coef, intercept = objective.unpack(params_final)
    clf.classes_ = classes
    clf.n_features_in_ = n_features
    clf.coef_ = np.array(coef, dtype=np.float64)
    clf.intercept_ = np.array(intercept, dtype=np.float64) if clf.fit_intercept else np.zeros(n_classes)
    clf.device_used_ = "cpu"
    return clf


# ---------------------------------------------------------------------------
# incremental training (partial_fit)
# ---------------------------------------------------------------------------


class IncrementalTrainer:
    """SGD / Adam over data that arrive in pieces, keeping the optimiser's state.

    Each :meth:`partial_fit` call runs one pass of minibatch updates (shuffled,
    seeded by ``random_state``) over the rows it is given; the momentum (SGD) or
    moment estimates (Adam), the update counter and the RNG carry over between calls.

    The L2 term ``lambda = 1 / (C S)`` needs the total weight S of the training
    data: pass ``total_weight`` when it is known (the objective is then exactly the
    full-batch one); otherwise S is the weight seen so far, which over one pass ends
    at the full data's S.

    Parameters
    ----------
    classes : array-like
        All class labels that will ever appear.
    params : dict, optional
        :class:`~softmax_nb.SoftmaxClassifier` hyperparameters; ``solver`` must be
        'sgd' or 'adam'; ``class_weight`` may be None or a dict ('balanced' needs
        all the labels in advance: compute the weights and pass a dict).
    total_weight : float, optional
    coef, intercept : ndarray, optional
        Starting parameters (default zeros).
    """

    def __init__(self, classes, params=None, *, total_weight=None, coef=None, intercept=None):
        from ..model.estimator import SoftmaxClassifier

        self.estimator = SoftmaxClassifier(**(params or {}))
        self.estimator._check_params()
        if self.estimator.solver not in ("sgd", "adam"):
            raise ValueError(f"partial_fit needs solver 'sgd' or 'adam', got {self.estimator.solver!r}")
        if self.estimator.class_weight == "balanced":
            raise ValueError("class_weight='balanced' needs every label in advance and is not supported by "
                             "partial_fit; pass a dict of weights (sklearn.utils.class_weight.compute_class_weight)")
        classes = np.asarray(classes)
        if classes.ndim != 1:
            raise ValueError(f"classes must be 1-D, got shape {classes.shape}")
        self.classes = np.unique(classes)
        if len(self.classes) < 2:
            raise ValueError(f"classes must hold at least 2 distinct labels, got {classes.tolist()!r}")
        if total_weight is not None and not total_weight > 0:
            raise ValueError(f"total_weight must be positive, got {total_weight!r}")
        self.total_weight = total_weight
        self.class_weight = _class_weight_vector(self.estimator.class_weight, self.classes,
                                                 np.ones(len(self.classes), dtype=np.int64))
        self.weight_seen = 0.0
        self.n_features = None
        self.optimizer = None
        self._init = (coef, intercept)
        self.fit_time = 0.0
        self.history = None

    def _objective(self, n_features, l2):
        # A lightweight stand-in for StreamedObjective's pack/unpack and settings.
        obj = StreamedObjective.__new__(StreamedObjective)
        obj.n_classes, obj.n_features = len(self.classes), n_features
        obj.fit_intercept = bool(self.estimator.fit_intercept)
        obj.l2_reg_strength = l2
        obj.label_smoothing = float(self.estimator.label_smoothing)
        return obj

    def _encode(self, y):
        index = np.clip(np.searchsorted(self.classes, y), 0, len(self.classes) - 1)
        unknown = self.classes[index] != y
        if unknown.any():
            labels = np.unique(np.asarray(y)[unknown]).tolist()
            raise ValueError(f"y holds label(s) {labels[:10]} that are not in classes {self.classes.tolist()}")
        return index.astype(np.int64)

    def partial_fit(self, X, y, sample_weight=None):
        """One pass of minibatch updates over ``(X, y)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Labels among ``classes``.
        sample_weight : array-like of shape (n_samples,), optional

        Returns
        -------
        self
        """
        from sklearn.utils.validation import _check_sample_weight, check_array

        from ..model.estimator import _DEFAULT_LEARNING_RATE, HISTORY_KEYS, _num_threads, _seed
        from ..model.optim import SGD, Adam

        clf = self.estimator
        dtype = [np.float64, np.float32] if clf.dtype is None else np.dtype(clf.dtype).type
        X = check_array(X, dtype=dtype, order="C")
        y = np.asarray(y)
        if y.ndim != 1 or len(y) != len(X):
            raise ValueError(f"y must have shape ({len(X)},), got {y.shape}")
        if len(X) == 0:
            raise ValueError("partial_fit got 0 rows")
        if self.n_features is not None and X.shape[1] != self.n_features:
            raise ValueError(f"X has {X.shape[1]} features, but partial_fit started with {self.n_features}")
        y_index = self._encode(y)
        weights = _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)
        if self.class_weight is not None:
            weights = weights * self.class_weight[y_index]
        self.weight_seen += float(weights.sum())
        if not self.weight_seen > 0:
            raise ValueError("sample_weight (times class_weight) sums to zero: nothing to fit")
        total = self.total_weight if self.total_weight is not None else self.weight_seen
        l2 = 0.0 if np.isinf(clf.C) else 1.0 / (clf.C * total)
        objective = self._objective(X.shape[1], l2)

        def call_loss(params):
            coef, intercept = objective.unpack(params)
            if not weights.sum() > 0:
                return np.nan, np.zeros_like(params)
            loss, grad_coef, grad_intercept = kernels.loss_gradient(
                X, y_index, coef, intercept, weights, l2, objective.label_smoothing)
            return loss, objective.pack(grad_coef, grad_intercept)

        start = time.perf_counter()
        with _num_threads(clf.n_threads):
            if self.optimizer is None:
                self.n_features = X.shape[1]
                coef, intercept = self._init
                n_classes = len(self.classes)
                coef = np.zeros((n_classes, self.n_features)) if coef is None else np.asarray(coef, float)
                intercept = np.zeros(n_classes) if intercept is None else np.asarray(intercept, float)
                if coef.shape != (n_classes, self.n_features) or intercept.shape != (n_classes,):
                    self.n_features = None
                    raise ValueError(f"the starting coef has shape {coef.shape}; X and classes need "
                                     f"({n_classes}, {X.shape[1]})")
                x0 = objective.pack(coef, intercept)
                lr = clf.learning_rate if clf.learning_rate is not None else _DEFAULT_LEARNING_RATE[clf.solver]
                common = dict(batch_size=clf.batch_size, learning_rate=lr, lr_schedule=clf.lr_schedule,
                              max_epochs=clf.max_iter, random_state=_seed(clf.random_state))
                # n_samples only caps the batch size here; each call brings its own rows.
                if clf.solver == "sgd":
                    self.optimizer = SGD(call_loss, None, x0, clf.batch_size, momentum=clf.momentum,
                                         nesterov=clf.nesterov, **common)
                else:
                    self.optimizer = Adam(call_loss, None, x0, clf.batch_size, **common)
                # The closure holds this call's rows: keep no reference to them.
                self.optimizer.fun = None
                self.history = {key: [] for key in HISTORY_KEYS}
            optimizer = self.optimizer
            lr = optimizer.current_learning_rate()
            rows = optimizer.rng.permutation(len(X))
            for first in range(0, len(rows), optimizer.batch_size):
                indices = np.sort(rows[first:first + optimizer.batch_size])
                grad = _batch_gradient(objective, optimizer.x, X[indices], y_index[indices], weights[indices])
                optimizer.n_updates += 1
                optimizer._update(grad, lr)
            optimizer.iteration += 1
            optimizer.loss, optimizer.grad = call_loss(optimizer.x)
        self.fit_time += time.perf_counter() - start
        h = self.history
        h["iteration"].append(optimizer.iteration)
        h["loss"].append(float(optimizer.loss))
        h["grad_norm"].append(float(np.linalg.norm(optimizer.grad)))
        h["train_accuracy"].append(np.nan)
        h["val_loss"].append(np.nan)
        h["val_accuracy"].append(np.nan)
        h["time"].append(self.fit_time)
        if not np.isfinite(optimizer.loss):
            raise FloatingPointError(f"the loss became {optimizer.loss} after partial_fit call "
                                     f"{optimizer.iteration}; lower learning_rate or standardize the features")
        return self

    @property
    def coef(self):
        """Current coefficients, (n_classes, n_features) float64."""
        return self._objective(self.n_features, 0.0).unpack(self.optimizer.x)[0].copy()

    @property
    def intercept(self):
        """Current intercepts, (n_classes,) float64 (zeros without intercept)."""
        intercept = self._objective(self.n_features, 0.0).unpack(self.optimizer.x)[1]
        return np.zeros(len(self.classes)) if intercept is None else intercept.copy()

    def export(self, clf):
        """Set the fitted attributes of a SoftmaxClassifier from the current state."""
        clf.classes_ = self.classes
        clf.n_features_in_ = self.n_features
        clf.coef_ = self.coef
        clf.intercept_ = self.intercept
        clf.n_iter_ = self.optimizer.iteration
        clf.history_ = {key: list(values) for key, values in self.history.items()}
        clf.device_used_ = "cpu"
        clf.fit_time_ = self.fit_time
        return clf


def partial_fit(clf, X, y, classes=None, sample_weight=None):
    """``SoftmaxClassifier.partial_fit``: one pass of SGD / Adam updates over (X, y).

    The optimiser's state lives on the classifier (``clf._partial_fit_trainer``) and
    carries over between calls.  ``classes`` is required on the first call.  A call
    after ``fit`` (or after ``coef_`` was changed) starts a new optimiser from the
    current ``coef_`` and ``intercept_``.

    Returns
    -------
    clf
    """
    trainer = getattr(clf, "_partial_fit_trainer", None)
    if trainer is not None and not (np.array_equal(getattr(clf, "coef_", None), trainer.coef)
                                    and np.array_equal(getattr(clf, "intercept_", None), trainer.intercept)):
        trainer = None  # fitted (or edited) since: continue from the current parameters
    if trainer is None:
        fitted = hasattr(clf, "coef_") and hasattr(clf, "classes_")
        if classes is None and not fitted:
            raise ValueError("classes must be given on the first call to partial_fit")
        if classes is None:
            classes = clf.classes_
        elif fitted and not np.array_equal(np.unique(classes), clf.classes_):
            raise ValueError(f"classes {np.unique(classes).tolist()} differ from the fitted classes_ "
                             f"{np.asarray(clf.classes_).tolist()}")
        params = {k: v for k, v in clf.get_params().items()
                  if k not in ("checkpoint_path", "checkpoint_every", "checkpoint_seconds")}
        trainer = IncrementalTrainer(
            classes, params,
            coef=clf.coef_ if fitted else None,
            intercept=clf.intercept_ if fitted else None,
        )
    elif classes is not None and not np.array_equal(np.unique(classes), trainer.classes):
        raise ValueError(f"classes {np.unique(classes).tolist()} differ from those of the first "
                         f"partial_fit call {trainer.classes.tolist()}")
    trainer.partial_fit(X, y, sample_weight)
    trainer.export(clf)
    clf._partial_fit_trainer = trainer
    return clf
