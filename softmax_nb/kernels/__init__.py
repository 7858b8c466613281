"""Compiled kernels: the fused loss + gradient and the predictions.

- :mod:`softmax_nb.kernels.cpu`: Numba ``@njit(parallel=True)`` kernels (the math
  is written once, in that module's docstring);
- :mod:`softmax_nb.kernels.cuda`: their numba-cuda twins;
- :mod:`softmax_nb.kernels.checks`: the input checks both share;
- :mod:`softmax_nb.kernels.penalty`: the penalty terms on ``coef``;
- :mod:`softmax_nb.kernels.tunables`: block sizes, fastmath flags, CUDA threads.
"""

from .cpu import (
    decision_function,
    loss_gradient,
    loss_gradient_sums,
    predict,
    predict_log_proba,
    predict_proba,
)

__all__ = ["loss_gradient", "loss_gradient_sums", "decision_function", "predict_proba",
           "predict_log_proba", "predict"]
