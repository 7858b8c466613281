"""softmax_nb: an exact, fast softmax (multinomial logistic regression) classifier.

The layers, bottom up (docs/ARCHITECTURE.md draws them):

- :mod:`softmax_nb.kernels`: compiled kernels, CPU (Numba) and CUDA (numba-cuda);
- :mod:`softmax_nb.files`: atomic writes; dataset, model and checkpoint files;
- :mod:`softmax_nb.data`: sources, splits, preparation, streaming of row blocks;
- :mod:`softmax_nb.model`: the objective, optimisers, the training loop, the estimator;
- :mod:`softmax_nb.settings`: the one table of defaults (the configuration schema);
- beside them :mod:`~softmax_nb.metrics`, :mod:`~softmax_nb.plots`,
  :mod:`~softmax_nb.sweep` and the command line, :mod:`softmax_nb.cli`.
"""

__version__ = "0.1.0"

from . import _moved  # noqa: E402
from .kernels import (  # noqa: E402
    decision_function,
    loss_gradient,
    predict,
    predict_log_proba,
    predict_proba,
)

_moved.install()

# scikit-learn takes about a second to import: the estimator and gradcheck load on
# first use, so that `import softmax_nb` plus a kernel call stays fast.
_LAZY = {"SoftmaxClassifier": "model.estimator", "gradcheck": "model.gradcheck",
         "load_model": "model.persistence"}


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
    "load_model",
    "loss_gradient",
    "decision_function",
    "predict_proba",
    "predict_log_proba",
    "predict",
]
