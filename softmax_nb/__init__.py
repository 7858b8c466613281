"""softmax_nb: an exact, fast softmax (multinomial logistic regression) classifier.

Kernels are Numba-compiled (``softmax_nb.kernels``; CUDA twins in
``softmax_nb.gpu_kernels``); ``SoftmaxClassifier`` is a scikit-learn compatible
estimator on top of them.
"""

__version__ = "0.1.0"

from .kernels import (  # noqa: E402
    decision_function,
    loss_gradient,
    predict,
    predict_log_proba,
    predict_proba,
)

# scikit-learn takes about a second to import: the estimator and gradcheck load on
# first use, so that `import softmax_nb` plus a kernel call stays fast.
_LAZY = {"SoftmaxClassifier": "estimator", "gradcheck": "gradcheck"}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
