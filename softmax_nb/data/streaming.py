"""Out-of-core data: stream a dataset file's row blocks within a memory budget.

A dataset file (docs/FORMATS.md) stores X in row chunks with checksums.  Here it is
read block by block, each block a whole number of the file's chunks, with the next
block read by a background thread while the current one is computed (the compiled
kernels release the GIL, so reading and computing overlap):

- :class:`H5Stream` picks the block size from ``max_memory_mb`` and iterates the
  blocks of one split, in file order or in a given (shuffled) order;
- :func:`memory_plan` is the memory model below.

Training over a stream is :class:`softmax_nb.model.backends.StreamedRows` (the
objective's data term, block by block) and :func:`softmax_nb.model.estimator.fit_streaming`.

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
For a given file and memory budget the block partition is fixed, so a pass over
the blocks is bitwise reproducible run to run and for any thread count (see
:class:`softmax_nb.model.backends.StreamedRows`).
"""

from __future__ import annotations

import concurrent.futures
import logging
import sys
from collections import namedtuple

import h5py
import numba
import numpy as np
import scipy.sparse as sp

from ..kernels import tunables
from ..files import dataset as sio

__all__ = ["MemoryBudgetError", "memory_plan", "sparse_memory_plan", "H5Stream", "Block", "BufferPool"]

log = logging.getLogger(__name__)

#: Upper bound of one read block: larger blocks no longer speed up reading.
MAX_BLOCK_BYTES = 256 * 2**20
# Parameter-sized float64 vectors an optimiser keeps alive at once (L-BFGS: 2 x 10
# history pairs, x, grad, the cached point, direction, line-search trial points).
_OPTIMIZER_COPIES = 32
# Entries of a CSR part read at once when the row pointers or column indices are
# scanned whole (the plan, the columns in use; before any block is read): 2 MiB of int64.
_PIECE = 1 << 18
# Temporaries of renumbering a block's columns, per nonzero: new index (int64), kept
# mask, kept values and indices, the cumulative count.
_MAPPED_NNZ_BYTES = 33
# HDF5 bookkeeping, tqdm, the executor's thread, allocator slack.
_RESERVE_BYTES = 2 * 2**20
# Fraction of the data budget that block buffers may take: the rest absorbs
# allocator fragmentation and small temporaries.
_BLOCK_FRACTION = 0.85
_H5_CACHE_BYTES = 2**20

Block = namedtuple("Block", "index start stop X y")
Block.__doc__ = """One block of rows ``start:stop`` of a split.

``X`` and ``y`` are views of buffers that are reused: they are
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
    # compute-dtype block gradient per thread, the cast coef and the outputs. The
    # thread bound is numba's pool size, not the threads set now: the block
    # partition (and so every streamed sum) must not change with --threads, or a
    # resume with other threads would meet another partition.
    kernel_bytes = ((tunables.MAX_CHUNKS + 3) * n_classes * n_features * 8
                    + numba.config.NUMBA_NUM_THREADS * n_classes * n_features * compute_itemsize)
    fixed = (_OPTIMIZER_COPIES * n_params * 8 + kernel_bytes + _RESERVE_BYTES
             + _H5_CACHE_BYTES + chunk_bytes  # HDF5 decodes a filtered chunk in scratch memory
             + 2 * batch_rows * n_features * compute_itemsize)
    row_bytes = n_features * itemsize + 16  # X row, y (int64), the backend's row weight (float64)
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


def sparse_memory_plan(unit_bounds, unit_nnz, n_features, n_classes, max_memory_mb, *, itemsize=8,
                       compute_itemsize=None, index_itemsize=8, mapped=False, output_columns=0, batch_rows=0,
                       block_rows=None):
    """Cut a CSR split into row blocks that keep peak memory within a budget.

    Blocks are runs of whole units (``kernels.sparse.pass_units``: the streamed sums
    are then the in-memory ones, bitwise). A block costs, per nonzero, its value and
    index twice (two blocks in flight) and a converted copy of the values; per row,
    its pointers, label, weight and the float64 dloss/da row. The fixed part is
    :func:`memory_plan`'s with the kernel's float64 gradient, transposed coef and cast coef.

    Parameters
    ----------
    unit_bounds : ndarray of int64
        Row bounds of the units, from 0 to the split's rows.
    unit_nnz : ndarray of int64
        Nonzeros of each unit.
    n_features, n_classes, max_memory_mb, itemsize, compute_itemsize, output_columns, batch_rows
        As :func:`memory_plan`.
    index_itemsize : int
        Bytes per stored column index (4 or 8).
    mapped : bool
        Blocks are renumbered to the columns in use (``H5Stream.keep_columns``): their
        new indices, values and the mask of kept entries, ~33 bytes a nonzero more.
    block_rows : int, optional
        Close a block once it holds at least this many rows (tests, benchmarks);
        the budget is then not enforced.

    Returns
    -------
    dict
        ``bounds`` (int64 row bounds of the blocks), ``block_rows`` (rows of the
        largest block), ``n_blocks``, ``fixed_bytes``, ``block_bytes`` (largest
        block) and ``peak_bytes``.
    """
    budget = float(max_memory_mb) * 2**20 if block_rows is None else np.inf
    if not budget > 0:
        raise MemoryBudgetError(f"max_memory_mb must be positive, got {max_memory_mb!r}")
    if block_rows is not None and (isinstance(block_rows, bool) or not isinstance(block_rows, (int, np.integer))
                                   or block_rows < 1):
        raise ValueError(f"block_rows must be a positive integer, got {block_rows!r}")
    compute_itemsize = compute_itemsize or itemsize
    n_params = n_classes * (n_features + 1)
    # The kernel's float64 gradient, transposed and cast coef; 24 bytes a column for the
    # scatter pass's column cut (kernels.sparse._column_bounds). (The scans of whole
    # parts in _PIECE pieces run before any block is read.)
    fixed = (_OPTIMIZER_COPIES * n_params * 8 + 3 * n_classes * n_features * 8 + 24 * n_features
             + _RESERVE_BYTES + _H5_CACHE_BYTES + 3 * sio._CSR_CHUNK * 8
             + 2 * batch_rows * n_features * compute_itemsize)
    # Two blocks in flight, and the converted values.
    converted = compute_itemsize if compute_itemsize != itemsize else 0
    nnz_bytes = 2 * (itemsize + index_itemsize) + converted + (_MAPPED_NNZ_BYTES if mapped else 0)
    row_bytes = 2 * (8 + 8) + 8 + n_classes * 8 + output_columns * compute_itemsize
    unit_rows = np.diff(unit_bounds)
    unit_bytes = unit_nnz * nnz_bytes + unit_rows * row_bytes
    data_budget = (budget - fixed) * _BLOCK_FRACTION
    if block_rows is None and (data_budget <= 0 or unit_bytes.size and unit_bytes.max() > data_budget):
        worst = int(unit_bytes.max()) if unit_bytes.size else 0
        needed_mb = (fixed + worst / _BLOCK_FRACTION) / 2**20
        raise MemoryBudgetError(
            f"max_memory_mb={max_memory_mb} is too small: the model, optimiser and kernel buffers need "
            f"{fixed / 2**20:.1f} MiB and the densest {int(unit_rows.max()) if unit_rows.size else 0} rows "
            f"{worst / 2**20:.1f} MiB more; give at least {np.ceil(needed_mb):.0f} MiB")
    bounds, rows, held = [0], 0, 0
    for count, cost in zip(unit_rows.tolist(), unit_bytes.tolist()):
        full = rows >= block_rows if block_rows is not None else held + cost > min(data_budget, MAX_BLOCK_BYTES)
        if rows and full:
            bounds.append(bounds[-1] + rows)
            rows, held = 0, 0
        rows, held = rows + count, held + cost
    if rows:
        bounds.append(bounds[-1] + rows)
    bounds = np.asarray(bounds, dtype=np.int64)
    sizes = np.diff(bounds)
    largest = 0
    for a, b in zip(bounds[:-1], bounds[1:]):
        first, last = np.searchsorted(unit_bounds, [a, b])
        largest = max(largest, int(unit_bytes[first:last].sum()))
    return {"bounds": bounds, "block_rows": int(sizes.max()) if sizes.size else 0, "n_blocks": len(sizes),
            "fixed_bytes": int(fixed), "block_bytes": largest, "peak_bytes": int(fixed + largest)}


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
    plan : dict
        The :func:`memory_plan` used.
    bytes_read : int
        Bytes of X read so far.

    Raises
    ------
    FileNotFoundError, softmax_nb.files.FileFormatError
        Missing or invalid file; a block that fails its checksum raises
        ``FileFormatError`` naming the file and the row range.
    MemoryBudgetError
    """

    def __init__(self, path, split="train", *, max_memory_mb=None, dtype=None,
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
        self.sparse = info.get("layout") == "csr"
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
        self.file_chunk_rows = int(chunks[0]) if chunks and not self.sparse else None
        try:
            self._file = h5py.File(self.path, "r", rdcc_nbytes=_H5_CACHE_BYTES)
        except OSError as exc:
            raise sio.FileFormatError(f"cannot open dataset file {self.path!r}: {exc}") from exc
        self._X = self._file[split]["X"]  # a CSR group of data, indices, indptr for sparse X
        self._y = self._file[split]["y"]
        self._column_map = None
        self._row_bytes = self.n_features * self.stored_dtype.itemsize
        if self.sparse and self.n_rows:
            stored = split_info["nnz"] * (self.stored_dtype.itemsize + self._X["indices"].dtype.itemsize)
            self._row_bytes = stored / self.n_rows
        self._executor = None
        self._buffers = None
        self._pool = pool if pool is not None else BufferPool()
        try:
            counts = split_info.get("class_counts")
            self.class_counts = (np.asarray(counts, dtype=np.int64) if counts is not None
                                 else self._count_classes())
            n_model_classes = n_parameters_classes or self.n_classes
            if self.sparse:
                self._plan_args = (n_model_classes, max_memory_mb, output_columns, batch_rows, block_rows)
                self.plan = self._sparse_plan(*self._plan_args)
            else:
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

    def _sparse_plan(self, n_classes, max_memory_mb, output_columns, batch_rows, block_rows, mapped=False):
        """:func:`sparse_memory_plan` from the split's row pointers (read in pieces)."""
        from ..kernels.sparse import pass_units

        # The partition of rows is a function of their count alone (kernels.cpu.row_chunk_bounds).
        units = pass_units(self.n_rows, n_classes, self.n_features)
        indptr = self._X["indptr"]
        at_units = np.empty(len(units), dtype=np.int64)
        step = _PIECE
        for start in range(0, len(indptr), step):
            picked = (units >= start) & (units < start + step)
            at_units[picked] = indptr[start:start + step][units[picked] - start]
        return sparse_memory_plan(units, np.diff(at_units), self.n_features, n_classes, max_memory_mb,
                                  itemsize=self.stored_dtype.itemsize, compute_itemsize=self.dtype.itemsize,
                                  index_itemsize=self._X["indices"].dtype.itemsize, mapped=mapped,
                                  output_columns=output_columns, batch_rows=batch_rows, block_rows=block_rows)

    def _allocate(self):
        if self._executor is None and self.prefetch:
            self._executor = concurrent.futures.ThreadPoolExecutor(
                max_workers=1, thread_name_prefix="softmax_nb-reader")
        if self.sparse:
            return  # CSR blocks are read into new arrays: their sizes differ block to block
        # Views are carved afresh for every pass: a shared pool may have been
        # regrown by the other stream in between.
        rows = min(self.block_rows, self.n_rows)
        convert = self.dtype != self.stored_dtype
        layout = [("X", (rows, self.n_features), self.stored_dtype),
                  ("Xc", (rows, self.n_features), self.dtype) if convert else None,
                  ("y", (rows,), np.int64)]
        layout = [entry for entry in layout if entry is not None]
        nbytes = sum(-(-int(np.prod(shape)) * np.dtype(dtype).itemsize // 64) * 64 for _, shape, dtype in layout)
        self._buffers = []
        for slot in range(2):
            raw = self._pool.get(slot, nbytes)
            views, offset = {"Xc": None}, 0
            for name, shape, dtype in layout:
                views[name], offset = _carve(raw, offset, shape, dtype)
            self._buffers.append(views)

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
        if self.sparse:
            bounds = self.plan["bounds"]
            return int(bounds[index]), int(bounds[index + 1])
        start = index * self.block_rows
        return start, min(self.n_rows, start + self.block_rows)

    def _read_csr(self, index):
        """Block ``index`` of a CSR split: a canonical csr_matrix in ``dtype`` (new arrays)."""
        start, stop = self.row_range(index)
        try:
            X = sio._csr_of(self._X, self.path, self.split, start, stop)
            y = self._y[start:stop].astype(np.int64, copy=False)
        except (OSError, RuntimeError) as exc:
            raise self._unreadable(start, stop, exc) from exc
        self._check_block_labels(y, start, stop)
        self.bytes_read += X.data.nbytes + X.indices.nbytes + X.indptr.nbytes
        if X.dtype != self.dtype:
            X = X.astype(self.dtype)
        return Block(index, start, stop, self._mapped(X), y)

    def columns_in_use(self):
        """Boolean mask of the columns of a CSR split that hold a nonzero (one pass over its
        column indices and values, in pieces)."""
        seen = np.zeros(self.n_features, dtype=bool)
        indices, data = self._X["indices"], self._X["data"]
        try:
            for start in range(0, len(indices), _PIECE):
                seen[indices[start:start + _PIECE][data[start:start + _PIECE] != 0]] = True
        except (OSError, RuntimeError) as exc:
            raise sio.FileFormatError(
                f"dataset file {self.path!r}: cannot read /{self.split}/X column indices ({sio._short(exc)}); "
                "the file is corrupted or truncated: prepare it again or restore a good copy") from exc
        return seen

    def keep_columns(self, columns):
        """Give blocks of the sorted ``columns`` only (renumbered 0..len-1), or all for None.

        Nonzeros of the other columns are dropped (a validation split may hold columns
        the training rows do not: their coef is 0).
        """
        self._column_map = None
        if columns is not None:
            self._column_map = np.full(self.info["n_features"], -1, dtype=np.int64)
            self._column_map[columns] = np.arange(len(columns))
            # Renumbering a block makes its own copies: the blocks are cut again for them.
            self.plan = self._sparse_plan(*self._plan_args, mapped=True)
            self.block_rows, self.n_blocks = self.plan["block_rows"], self.plan["n_blocks"]
        self.n_features = self.info["n_features"] if columns is None else len(columns)

    def _mapped(self, X):
        """X with its columns renumbered by :meth:`keep_columns` (the others dropped)."""
        if self._column_map is None:
            return X
        new = self._column_map[X.indices]
        kept = new >= 0
        indptr = np.concatenate(([0], np.cumsum(kept)))[X.indptr]
        return sp.csr_matrix((X.data[kept], new[kept], indptr), shape=(X.shape[0], self.n_features))

    def _bytes_of(self, start, stop):
        """Bytes of X in rows ``start:stop`` (for sparse X, at the split's mean row size)."""
        return (stop - start) * self._row_bytes

    def _unreadable(self, start, stop, exc):
        return sio.FileFormatError(
            f"dataset file {self.path!r}: cannot read /{self.split} rows {start}..{stop - 1} "
            f"({sio._short(exc)}); the file is corrupted or truncated: prepare it again or "
            "restore a good copy")

    def _check_block_labels(self, y, start, stop):
        if len(y) and (y.min() < 0 or y.max() >= self.n_classes):
            raise sio.FileFormatError(
                f"dataset file {self.path!r}: /{self.split}/y rows {start}..{stop - 1} hold class "
                f"indices outside 0..{self.n_classes - 1}"
            )

    def _read(self, index, slot):
        """Read block ``index`` into buffer ``slot`` (runs in the reader thread)."""
        if self.sparse:
            return self._read_csr(index)
        start, stop = self.row_range(index)
        n = stop - start
        buffer = self._buffers[slot]
        X, y = buffer["X"][:n], buffer["y"][:n]
        try:
            # read_direct fills the preallocated buffer: no new array per block.
            self._X.read_direct(buffer["X"], np.s_[start:stop], np.s_[0:n])
            self._y.read_direct(buffer["y"], np.s_[start:stop], np.s_[0:n])
        except (OSError, RuntimeError, ValueError) as exc:
            raise self._unreadable(start, stop, exc) from exc
        self._check_block_labels(y, start, stop)
        if buffer["Xc"] is not None:
            X = buffer["Xc"][:n]
            np.copyto(X, buffer["X"][:n])
        self.bytes_read += n * self.n_features * self.stored_dtype.itemsize
        return Block(index, start, stop, X, y)

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
        bar = _progress_bar(sum(self._bytes_of(*self.row_range(i)) for i in order),
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
                    bar.update(self._bytes_of(block.start, block.stop))
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
