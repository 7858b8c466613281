"""Compiled kernels: the fused loss + gradient and the predictions.

The functions here take dense or sparse X and call the kernels that fit it.

- :mod:`softmax_nb.kernels.cpu`: Numba ``@njit(parallel=True)`` kernels (the math
  is written once, in that module's docstring);
- :mod:`softmax_nb.kernels.sparse`: the same for sparse (CSR) X;
- :mod:`softmax_nb.kernels.cuda`: their numba-cuda twins;
- :mod:`softmax_nb.kernels.checks`: the input checks both share;
- :mod:`softmax_nb.kernels.penalty`: the penalty terms on ``coef``;
- :mod:`softmax_nb.kernels.blas`: the BLAS the CPU kernels' gemms call, on one thread;
- :mod:`softmax_nb.kernels.lbfgs`: the L-BFGS two-loop recursion of the optimisers;
- :mod:`softmax_nb.kernels.tunables`: block sizes, fastmath flags, CUDA threads.
"""

import contextlib
import math

import numba
import numpy as np
import scipy.sparse as sp

from . import cpu, sparse, tunables
from .cpu import loss_gradient_sums


def _for(X):
    """The kernels for X: CSR ones for a scipy.sparse X, else the dense CPU ones."""
    return sparse if sp.issparse(X) else cpu


@contextlib.contextmanager
def _threads_for(X, coef, serial_work, unit_rows):
    """One thread for a call of fewer than ``serial_work`` multiply-adds, or of at most
    ``unit_rows`` rows (one unit of the kernel's parallel loop).

    A parallel launch costs more than such a call, and waits for every thread: one
    that shares its core with another process's (or OpenBLAS's spinning) thread runs
    only when the scheduler gives it its turn, milliseconds later. The thread count
    never changes results (cpu module docstring), so tiny calls simply run on one.
    """
    entries = X.nnz if sp.issparse(X) else math.prod(np.shape(X))  # math.prod: np.prod costs ~5 us
    parallel = entries * max(1, np.shape(coef)[0]) >= serial_work and np.shape(X)[0] > unit_rows
    if parallel or numba.get_num_threads() == 1:
        yield
        return
    previous = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(previous)


def _call(name, X, coef, *args):
    """``name`` of the kernels for X, on the threads :func:`_threads_for` gives the call:
    the loss (dense or CSR) is parallel over chunks of at least ``tunables.MIN_CHUNK_ROWS``
    rows (so a loss on fewer rows has one), from ``SERIAL_WORK`` multiply-adds on;
    predictions over blocks of 16 to 512 rows, from ``SERIAL_PREDICT_WORK``."""
    if name == "loss_gradient":
        serial_work, unit_rows = tunables.SERIAL_WORK, tunables.MIN_CHUNK_ROWS
    else:
        serial_work, unit_rows = tunables.SERIAL_PREDICT_WORK, 0
    with _threads_for(X, coef, serial_work, unit_rows):
        return getattr(_for(X), name)(X, *args)


def loss_gradient(X, y, coef, intercept=None, sample_weight=None, l2_reg_strength=0.0, label_smoothing=0.0):
    """:func:`softmax_nb.kernels.cpu.loss_gradient`, for dense or sparse X."""
    return _call("loss_gradient", X, coef, y, coef, intercept, sample_weight, l2_reg_strength, label_smoothing)


def decision_function(X, coef, intercept=None):
    """:func:`softmax_nb.kernels.cpu.decision_function`, for dense or sparse X."""
    return _call("decision_function", X, coef, coef, intercept)


def predict_proba(X, coef, intercept=None):
    """:func:`softmax_nb.kernels.cpu.predict_proba`, for dense or sparse X."""
    return _call("predict_proba", X, coef, coef, intercept)


def predict_log_proba(X, coef, intercept=None):
    """:func:`softmax_nb.kernels.cpu.predict_log_proba`, for dense or sparse X."""
    return _call("predict_log_proba", X, coef, coef, intercept)


def predict(X, coef, intercept=None):
    """:func:`softmax_nb.kernels.cpu.predict`, for dense or sparse X."""
    return _call("predict", X, coef, coef, intercept)


__all__ = ["loss_gradient", "loss_gradient_sums", "decision_function", "predict_proba",
           "predict_log_proba", "predict"]
