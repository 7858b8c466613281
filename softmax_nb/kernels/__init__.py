"""Compiled kernels: the fused loss + gradient and the predictions.

The functions here take dense or sparse X and call the kernels that fit it.

- :mod:`softmax_nb.kernels.cpu`: Numba ``@njit(parallel=True)`` kernels (the math
  is written once, in that module's docstring);
- :mod:`softmax_nb.kernels.sparse`: the same for sparse (CSR) X;
- :mod:`softmax_nb.kernels.cuda`: their numba-cuda twins;
- :mod:`softmax_nb.kernels.checks`: the input checks both share;
- :mod:`softmax_nb.kernels.penalty`: the penalty terms on ``coef``;
- :mod:`softmax_nb.kernels.tunables`: block sizes, fastmath flags, CUDA threads.
"""

import scipy.sparse as sp

from . import cpu, sparse
from .cpu import loss_gradient_sums


def _for(X):
    """The kernels for X: CSR ones for a scipy.sparse X, else the dense CPU ones."""
    return sparse if sp.issparse(X) else cpu


def loss_gradient(X, y, coef, intercept=None, sample_weight=None, l2_reg_strength=0.0, label_smoothing=0.0):
    """:func:`softmax_nb.kernels.cpu.loss_gradient`, for dense or sparse X."""
    return _for(X).loss_gradient(X, y, coef, intercept, sample_weight, l2_reg_strength, label_smoothing)


def decision_function(X, coef, intercept=None):
    """:func:`softmax_nb.kernels.cpu.decision_function`, for dense or sparse X."""
    return _for(X).decision_function(X, coef, intercept)


def predict_proba(X, coef, intercept=None):
    """:func:`softmax_nb.kernels.cpu.predict_proba`, for dense or sparse X."""
    return _for(X).predict_proba(X, coef, intercept)


def predict_log_proba(X, coef, intercept=None):
    """:func:`softmax_nb.kernels.cpu.predict_log_proba`, for dense or sparse X."""
    return _for(X).predict_log_proba(X, coef, intercept)


def predict(X, coef, intercept=None):
    """:func:`softmax_nb.kernels.cpu.predict`, for dense or sparse X."""
    return _for(X).predict(X, coef, intercept)


__all__ = ["loss_gradient", "loss_gradient_sums", "decision_function", "predict_proba",
           "predict_log_proba", "predict"]
