r"""One model over MPI ranks: data-parallel full-batch training, bitwise equal for any rank count.

How the work is split
---------------------
The training rows of a dataset file are cut into the kernels' fixed chunks
(:func:`softmax_nb.kernels.cpu.chunk_bounds`, a function of the data's shape alone)
and each of N ranks takes a contiguous run of whole chunks (rank r: chunks
``ceil(r K / N) .. ceil((r + 1) K / N) - 1`` of K). A rank reads only its rows of the file, in
memory or in pieces within ``max_memory_mb``, and no rank holds all of X.

Every rank runs the same optimiser steps (:func:`softmax_nb.model.training.train`,
the one loop). Per evaluation of J, a rank sums each of its chunks
(:func:`~softmax_nb.kernels.cpu.loss_gradient_parts`, chunks in parallel on its
threads), adds them up to the largest nodes of the fixed pairwise tree it holds
whole (:func:`~softmax_nb.kernels.cpu.tree_nodes`, at most ~2 log2 K of them), and
all ranks exchange those node sums (``allgather``, a few c x n floats each) and
combine them along the same tree (:func:`~softmax_nb.kernels.cpu.tree_combine`).

Why the bits do not depend on the ranks
---------------------------------------
Each chunk's sum is computed by the same code on the same rows, whoever holds them,
and the sums are added in the one order of the tree, which depends on K alone: not
on N, not on threads, not on MPI's own reduction order (MPI's ``Allreduce`` is
never used for floats). A single process (``comm=None``, no mpi4py) runs the same
path. Against ``SoftmaxClassifier.fit`` on the same rows, which sums the same chunks
along the same tree, the model is bitwise equal as long as the weights divided by S
are the same bits: always without class weights; with class weights S is computed
from the class counts here and as a sum of row weights there (the last bits may
differ, within 1e-15 relative).

What is left out
----------------
Minibatch solvers ('sgd', 'adam') are refused: their steps would need a shuffle of
rows across ranks. ``device='cuda'`` is refused (one GPU per rank is future work).
"""

import hashlib
import logging
import os
import socket
import time

import numpy as np

from ..files import dataset as dataset_file
from ..kernels import cpu as kernels
from .backends import _log_loss_correct
from .objective import total_weight

log = logging.getLogger(__name__)

#: Environment variables that MPI launchers set to the number of ranks (MPICH and
#: Intel MPI, Open MPI, PMIx, SLURM's srun).
_WORLD_SIZE_VARIABLES = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "MPI_LOCALNRANKS")


def launched_with_mpi():
    """True when this process is one of several ranks started by mpiexec or srun.

    Read from the launcher's environment, so that a plain run never imports mpi4py.
    """
    for name in _WORLD_SIZE_VARIABLES:
        try:
            if int(os.environ.get(name, "1")) > 1:
                return True
        except ValueError:
            continue
    # srun without MPI variables: several tasks of one step.
    return "SLURM_STEP_ID" in os.environ and int(os.environ.get("SLURM_STEP_NUM_TASKS", "1") or 1) > 1


def world():
    """MPI's COMM_WORLD (imports mpi4py; a clear error when it is missing)."""
    try:
        from mpi4py import MPI
    except ImportError as exc:
        raise RuntimeError("training over MPI needs mpi4py: pip install 'softmax_nb[mpi]' "
                           "(or build mpi4py against the site's MPI: docs/CLUSTER.md)") from exc
    return MPI.COMM_WORLD


class SelfComm:
    """The one-process stand-in for an MPI communicator (no mpi4py)."""

    rank = 0
    size = 1

    def allgather(self, value):
        return [value]

    def bcast(self, value, root=0):
        return value

    def Abort(self, code=1):  # noqa: N802 (mpi4py's name)
        os._exit(code)


def rank_chunks(n_chunks, rank, size):
    """Chunks ``first, stop`` of rank ``rank`` of ``size``: contiguous and whole (the last
    ranks hold none when there are more ranks than chunks)."""
    return -(-rank * n_chunks // size), -(-(rank + 1) * n_chunks // size)


class RankRows:
    """This rank's rows of one split of a dataset file: a backend of the objective.

    Parameters
    ----------
    path : str or os.PathLike
    split : str
    comm : mpi4py communicator or SelfComm
    n_classes : int
        Classes of the model (coef has one row for two).
    dtype : numpy dtype or None
        X's dtype in the fit (None: as stored).
    class_weight : ndarray of shape (n_classes,), optional
    max_memory_mb : float, optional
        Per-rank budget for X: rows are read in pieces (None: the rank's rows held).
    """

    def __init__(self, path, split, comm, n_classes, *, dtype=None, class_weight=None, max_memory_mb=None,
                 info=None):
        info = dataset_file.dataset_info(path) if info is None else info
        self.path, self.split, self.comm = str(path), split, comm
        split_info = info["splits"][split]
        self.n_samples = int(split_info["n_samples"])
        self.n_features = int(info["n_features"])
        stored = np.dtype(split_info["dtype"])
        self.dtype = stored if dtype is None else np.dtype(dtype)
        self.class_weight = None if class_weight is None else np.asarray(class_weight, dtype=np.float64)
        self.class_counts = np.asarray(split_info["class_counts"], dtype=np.int64)
        self.total_weight = total_weight(self.class_counts, self.class_weight)
        n_rows = 1 if n_classes == 2 else n_classes
        self.bounds = kernels.chunk_bounds(max(self.n_samples, 1), n_rows, self.n_features)
        self.n_chunks = len(self.bounds) - 1
        self.first, self.stop = rank_chunks(self.n_chunks, comm.rank, comm.size)
        self.row_start = int(self.bounds[self.first])
        self.row_stop = int(self.bounds[self.stop]) if self.n_samples else 0
        self.nodes = kernels.tree_nodes(self.first, self.stop, self.n_chunks)
        # Every rank's nodes, in rank order: what the exchange receives, known to all.
        self.all_nodes = [kernels.tree_nodes(*rank_chunks(self.n_chunks, rank, comm.size), self.n_chunks)
                          for rank in range(comm.size)]
        self.n_evaluations = 0
        self.exchange_seconds = 0.0
        self.exchange_bytes = 0
        self._digest = _file_identity(split, info)
        # Pieces: rows read together, each split at chunk bounds, within the budget.
        row_bytes = self.n_features * (stored.itemsize + (self.dtype.itemsize if self.dtype != stored else 0)) + 16
        if max_memory_mb is None:
            piece_rows = max(self.row_stop - self.row_start, 1)
        else:
            piece_rows = int(float(max_memory_mb) * 2**20 // row_bytes)
            block_rows = kernels.block_rows(n_rows, self.n_features, self.dtype)
            piece_rows -= piece_rows % block_rows
            if piece_rows < block_rows:
                raise ValueError(f"max_memory_mb={max_memory_mb} holds fewer than {block_rows} rows "
                                 f"of {self.n_features} features: raise it")
        self.piece_rows = piece_rows
        self._held = None
        if max_memory_mb is None and self.row_stop > self.row_start:
            self._held = self._read(self.row_start, self.row_stop)

    # -- rows -----------------------------------------------------------------

    def _read(self, start, stop):
        X, y = dataset_file.read_rows(self.path, self.split, start, stop)
        if X.dtype != self.dtype:
            X = X.astype(self.dtype)
        if not np.isfinite(X).all():
            bad = start + int(np.flatnonzero(~np.isfinite(X).all(axis=1))[0])
            raise ValueError(f"dataset file {self.path!r}: /{self.split}/X row {bad} holds NaN or inf")
        weights = (np.ones(len(y)) if self.class_weight is None else self.class_weight[y])
        return X, y, weights / self.total_weight

    def _pieces(self, first=None, stop=None):
        """Chunks ``first..stop-1`` (default: this rank's) as ``(X, y, normalised weights,
        chunk index of each piece - first, piece bounds)``, in row order.

        A piece starts at its chunk's first row or a multiple of ``kernels.block_rows`` after it,
        so a chunk read in several pieces sums as in one (``loss_gradient_parts``).
        """
        first = self.first if first is None else first
        stop = self.stop if stop is None else stop
        if self._held is not None:
            X, y, weights = self._held
            lo, hi = int(self.bounds[first]) - self.row_start, int(self.bounds[stop]) - self.row_start
            yield (X[lo:hi], y[lo:hi], weights[lo:hi], np.arange(stop - first),
                   self.bounds[first:stop + 1] - self.bounds[first])
            return
        spans = []  # (row_start, row_stop, chunk) within the budget
        for chunk in range(first, stop):
            for start in range(int(self.bounds[chunk]), int(self.bounds[chunk + 1]), self.piece_rows):
                spans.append((start, min(start + self.piece_rows, int(self.bounds[chunk + 1])), chunk))
        group = []
        for span in spans + [None]:
            if group and (span is None or span[1] - group[0][0] > self.piece_rows):
                start, stop = group[0][0], group[-1][1]
                X, y, weights = self._read(start, stop)
                slots = np.array([chunk - first for _, _, chunk in group])
                piece_bounds = np.array([s - start for s, _, _ in group] + [stop - start])
                yield X, y, weights, slots, piece_bounds
                group = []
            if span is not None:
                group.append(span)

    # -- the backend interface --------------------------------------------------

    def loss_gradient(self, coef, intercept, label_smoothing):
        coef = np.asarray(coef, dtype=np.float64)
        n_rows = coef.shape[0]

        def parts_of(first, stop):
            parts = (np.zeros(stop - first), np.zeros((stop - first, n_rows, self.n_features)),
                     np.zeros((stop - first, n_rows)))
            for X, y, weights, slots, piece_bounds in self._pieces(first, stop):
                # Each piece continues its chunk's running sums (in place when the pieces
                # are whole chunks in order).
                if np.array_equal(slots, np.arange(slots[0], slots[0] + len(slots))):
                    kernels.loss_gradient_parts(X, y, coef, intercept, weights, label_smoothing, piece_bounds,
                                                tuple(part[slots[0]:slots[0] + len(slots)] for part in parts))
                    continue
                piece_parts = tuple(np.ascontiguousarray(part[slots]) for part in parts)
                kernels.loss_gradient_parts(X, y, coef, intercept, weights, label_smoothing, piece_bounds,
                                            piece_parts)
                for part, piece_part in zip(parts, piece_parts):
                    part[slots] = piece_part
            return parts

        batch = kernels.chunk_batch(n_rows, self.n_features)
        mine = {}
        for level, index in self.nodes:
            first, stop = index << level, min((index + 1) << level, self.n_chunks)
            mine[level, index] = kernels.sum_chunks(first, stop, batch, parts_of)
        started = time.perf_counter()
        nodes = self._exchange(mine, n_rows)
        self.exchange_seconds += time.perf_counter() - started
        self.exchange_bytes += 8 * len(mine) * (1 + n_rows * self.n_features + n_rows)
        self.n_evaluations += 1
        loss, grad_coef, grad_intercept = kernels.tree_combine(nodes, self.n_chunks)
        return float(loss), grad_coef, (grad_intercept if intercept is not None else None)

    def _exchange(self, mine, n_rows):
        """Every rank's node sums, on every rank: one ``Allgatherv`` of float64 buffers
        (each node ``[loss, grad_coef.ravel(), grad_intercept]``; which nodes a rank sends
        is known to all from the partition)."""
        if self.comm.size == 1:
            return mine
        from mpi4py import MPI

        width = 1 + n_rows * self.n_features + n_rows
        send = np.empty(len(mine) * width)
        for i, node in enumerate(self.nodes):
            loss, grad_coef, grad_intercept = mine[node]
            send[i * width] = loss
            send[i * width + 1:i * width + 1 + grad_coef.size] = grad_coef.ravel()
            send[i * width + 1 + grad_coef.size:(i + 1) * width] = grad_intercept
        counts = np.array([len(nodes) * width for nodes in self.all_nodes])
        displacements = np.concatenate([[0], np.cumsum(counts)[:-1]])
        received = np.empty(int(counts.sum()))
        self.comm.Allgatherv(send, [received, counts, displacements, MPI.DOUBLE])
        nodes, offset = {}, 0
        for rank_nodes in self.all_nodes:
            for node in rank_nodes:
                block = received[offset:offset + width]
                nodes[node] = (float(block[0]), block[1:1 + n_rows * self.n_features].reshape(n_rows, self.n_features),
                               block[1 + n_rows * self.n_features:])
                offset += width
        return nodes

    def scores(self, coef, intercept):
        """Mean log-loss and accuracy; per-chunk sums added in chunk order (rank-count free)."""
        if self.n_samples == 0:
            return np.nan, np.nan
        local = {}
        for X, y, _, slots, piece_bounds in self._pieces():
            for slot, start, stop in zip(slots, piece_bounds[:-1], piece_bounds[1:]):
                # One call per chunk (or per piece of one): a row's logits may depend on
                # the gemm block it falls in, and these blocks start where its chunk does
                # whatever the ranks (a piece starts at a multiple of block_rows).
                log_proba = kernels.predict_log_proba(X[start:stop], coef, intercept)
                loss, correct = _log_loss_correct(log_proba, y[start:stop])
                previous = local.get(int(slot), (0.0, 0))
                local[int(slot)] = (previous[0] + loss, previous[1] + correct)
        chunks = {}
        for rank_scores in self.comm.allgather({self.first + slot: value for slot, value in local.items()}):
            chunks.update(rank_scores)
        log_loss = sum(chunks[chunk][0] for chunk in sorted(chunks))
        correct = sum(chunks[chunk][1] for chunk in sorted(chunks))
        return log_loss / self.n_samples, correct / self.n_samples

    def minibatches(self, rng, batch_size):
        raise ValueError("minibatch solvers ('sgd', 'adam') do not run over MPI ranks; use 'lbfgs' or 'gd'")

    def max_abs(self):
        largest = 0.0
        for X, *_ in self._pieces():
            largest = max(largest, float(np.max(np.abs(X))) if X.size else 0.0)
        return max(self.comm.allgather(largest))

    def digest(self):
        """The file's identity (its checksum and the split's shape) and the class weights: the same on every rank."""
        digest = hashlib.sha256(self._digest.encode())
        if self.class_weight is not None:
            digest.update(self.class_weight.tobytes())
        digest.update(str(self.dtype).encode())
        return digest.hexdigest()


def _file_identity(split, info):
    """What must agree between ranks: the file's content checksum, the split's rows and features."""
    split_info = info["splits"][split]
    return repr((info["sha256"], split, int(split_info["n_samples"]), int(info["n_features"]),
                 str(split_info["dtype"]), [int(c) for c in split_info["class_counts"]]))


def check_same_file(comm, path, split, info):
    """Fail every rank alike when the ranks do not all see the same dataset file (``info``:
    its :func:`~softmax_nb.files.dataset.dataset_info` on this rank)."""
    identity = _file_identity(split, info)
    seen = comm.allgather((identity, socket.gethostname()))
    if any(other != seen[0][0] for other, _ in seen):
        differ = [f"rank {rank} on {host}" for rank, (other, host) in enumerate(seen) if other != seen[0][0]]
        raise ValueError(f"dataset file {str(path)!r} differs between MPI ranks: {', '.join(differ)} "
                         f"see other contents than rank 0 on {seen[0][1]} (copy the same file to every node, "
                         "or put it on a shared file system)")


def fit_distributed(path, params=None, *, comm=None, max_memory_mb=None, split="train", eval_split="val",
                    init=None, resume=False):
    """Fit a SoftmaxClassifier on a dataset file with the rows spread over MPI ranks.

    Every rank calls this with the same arguments (``mpiexec -n N python script.py``);
    every rank returns the same fitted classifier, bitwise equal for any N (module
    docstring). Only rank 0 writes checkpoints.

    Parameters
    ----------
    path : str or os.PathLike
        A dataset file (``softmax-nb prepare``) that every rank can read.
    params : dict, optional
        :class:`SoftmaxClassifier` hyperparameters; 'lbfgs' and 'gd' (with elastic net
        too); 'sgd', 'adam' and ``device='cuda'`` are refused. ``early_stopping``
        monitors ``eval_split``.
    comm : mpi4py communicator, optional
        None: one process without MPI (the same sums, the same bits).
    max_memory_mb : float, optional
        Per-rank budget for X: read in pieces, one pass per evaluation (None: each
        rank holds its rows).
    split, eval_split : str
        Training split, and the split whose loss and accuracy the history records
        (None or an empty split: NaN).
    init : SoftmaxClassifier, optional
        A fitted classifier with the same classes and features to start from.
    resume : bool, default=False
        Continue from ``params['checkpoint_path']`` (rank 0's file) when it exists; any
        number of ranks may resume a checkpoint written by any other number.

    Returns
    -------
    SoftmaxClassifier
        Fitted, plus ``distributed_``: ranks, chunks, this rank's rows, evaluations,
        exchange seconds and bytes.
    """
    from .estimator import SoftmaxClassifier, file_fit_start
    from .objective import class_weight_vector
    from .runtime import num_threads

    comm = SelfComm() if comm is None else comm
    clf = SoftmaxClassifier(**(params or {}))
    clf._check_params()
    if clf._minibatch:
        raise ValueError(f"solver={clf.solver!r} does not run over MPI ranks (its minibatch steps would "
                         "need rows shuffled across ranks); use 'lbfgs' or 'gd'")
    if clf.device == "cuda":
        raise ValueError("training over MPI runs on the CPU; device='cuda' is not supported there")
    info = dataset_file.dataset_info(path)  # read once: the ranks' check and the rows share it
    check_same_file(comm, path, split, info)
    if info.get("layout") == "csr":
        raise ValueError(f"dataset file {str(path)!r} holds sparse X: training over MPI ranks is not built for "
                         "sparse files yet; train it in one process")
    info, use_eval = file_fit_start(clf, info, path, split, eval_split, init, "over MPI")
    classes = info["classes"]
    counts = np.asarray(info["splits"][split]["class_counts"])
    if np.count_nonzero(counts) < 2:
        raise ValueError(f"dataset file {str(path)!r}: the {split!r} split holds a single class")
    class_weight = class_weight_vector(clf.class_weight, classes, class_counts=counts)
    dtype = None if clf.dtype is None else np.dtype(clf.dtype)
    with num_threads(clf.n_threads):
        rows = RankRows(path, split, comm, len(classes), dtype=dtype, class_weight=class_weight,
                        max_memory_mb=max_memory_mb, info=info)
        validation = (RankRows(path, eval_split, comm, len(classes), dtype=dtype, max_memory_mb=max_memory_mb,
                               info=info) if use_eval else None)
        log.info("MPI rank %d of %d: rows %d..%d of %d (chunks %d..%d of %d)", comm.rank, comm.size,
                 rows.row_start, rows.row_stop - 1, rows.n_samples, rows.first, rows.stop - 1, rows.n_chunks)
        log.info("%d chunks of rows over %d ranks; the exchange sends %d tree node(s) from this rank", rows.n_chunks,
                 comm.size, len(rows.nodes))
        if comm.size > rows.n_chunks and comm.rank == 0:
            log.warning("%d ranks for %d chunks of rows: %d rank(s) hold no rows", comm.size, rows.n_chunks,
                        comm.size - rows.n_chunks)
        objective = clf._objective(rows, len(classes))
        checkpointing, resume_state, seed = (None, None, None)
        if comm.rank == 0:
            checkpointing, resume_state, seed = clf._checkpointing(rows.digest(), classes, resume)
        checkpointing, resume_state, seed = comm.bcast((checkpointing, resume_state, seed), root=0)
        if checkpointing is not None:
            checkpointing.writer = comm.rank == 0
            if comm.size > 1:
                checkpointing.agree = lambda flags: tuple(np.max(np.array(comm.allgather(flags)), axis=0))
        clf._train(objective, classes, validation=validation, seed=seed, checkpointing=checkpointing,
                   resume_state=resume_state, start_from=init is not None)
    clf.n_features_in_ = info["n_features"]
    clf.device_used_ = "cpu"
    clf.distributed_ = {
        "ranks": comm.size,
        "chunks": rows.n_chunks,
        "rank_rows": [rows.row_start, rows.row_stop],
        "evaluations": rows.n_evaluations,
        "exchange_seconds": rows.exchange_seconds,
        "exchange_bytes_per_evaluation": rows.exchange_bytes / max(rows.n_evaluations, 1),
    }
    return clf
