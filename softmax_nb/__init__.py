"""softmax_nb: an exact, fast softmax (multinomial logistic regression) classifier.

Kernels are Numba-compiled (``softmax_nb.kernels``; CUDA twins in
``softmax_nb.gpu_kernels``); ``SoftmaxClassifier`` is a scikit-learn compatible
estimator on top of them.
"""

__version__ = "0.1.0"

from .estimator import SoftmaxClassifier  # noqa: E402
from .gradcheck import gradcheck  # noqa: E402
from .kernels import (  # noqa: E402
    decision_function,
    loss_gradient,
    predict,
    predict_log_proba,
    predict_proba,
)

__all__ = [
    "__version__",
    "SoftmaxClassifier",
    "gradcheck",
    "loss_gradient",
    "decision_function",
    "predict_proba",
    "predict_log_proba",
    "predict",
]
