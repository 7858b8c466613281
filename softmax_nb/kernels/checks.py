"""Input checks shared by the CPU and CUDA kernel wrappers.

The compiled kernels trust their inputs; the public wrappers in ``cpu`` and
``cuda`` call these first, so both devices accept and refuse exactly the same input
with the same messages.
"""

import numpy as np


def check_X(X, *, allow_empty=True):
    """X as a C-contiguous float32/float64 2-D array (only a non-contiguous view is copied)."""
    if not isinstance(X, np.ndarray):
        raise TypeError(f"X must be a numpy.ndarray, got {type(X).__name__}")
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features), got shape {X.shape}")
    if X.dtype not in (np.float32, np.float64):
        raise TypeError(f"X must be float32 or float64, got {X.dtype}")
    if not allow_empty and X.shape[0] == 0:
        raise ValueError("X has no rows")
    # A float32 X stays float32: the dot products run in X's dtype.
    return np.ascontiguousarray(X)


def check_coef_intercept(coef, intercept, n_features):
    """``coef`` (n_classes, n_features) as an array, and a float64 intercept (zeros for None)."""
    coef = np.asarray(coef)
    if coef.ndim != 2 or coef.shape[1] != n_features:
        raise ValueError(f"coef must have shape (n_classes, {n_features}), got {coef.shape}")
    n_classes = coef.shape[0]
    if n_classes < 1:
        raise ValueError("coef must have at least one class (row)")
    if intercept is None:
        return coef, np.zeros(n_classes)
    intercept = np.asarray(intercept, dtype=np.float64)
    if intercept.shape != (n_classes,):
        raise ValueError(f"intercept must have shape ({n_classes},), got {intercept.shape}")
    return coef, np.ascontiguousarray(intercept)


def n_classes_of(coef):
    """Classes of a model with these coefficient rows: one row is the binary log-odds model."""
    n_rows = np.shape(coef)[0]
    return 2 if n_rows == 1 else n_rows


def softmax_twin(coef, intercept):
    """The two-row softmax model ``[[0], [w]], [0, b]`` of a one-row (log-odds) model.

    softmax([0, z]) = [sigmoid(-z), sigmoid(z)]: kernels written for the softmax serve
    the binary model through it (the CUDA ones; the CPU kernels have a binary path).
    Other models come back unchanged.
    """
    coef = np.asarray(coef)
    if coef.ndim != 2 or coef.shape[0] != 1:
        return coef, intercept
    twin = np.zeros((2, coef.shape[1]), dtype=coef.dtype)
    twin[1] = coef[0]
    if intercept is None:
        return twin, None
    return twin, np.array([0.0, float(np.asarray(intercept).reshape(-1)[0])])


def check_labels(y, n_samples, n_classes=None):
    """y as C-contiguous int64 class indices in [0, n_classes)."""
    y = np.asarray(y)
    if y.shape != (n_samples,):
        raise ValueError(f"y must have shape ({n_samples},), got {y.shape}")
    if y.size and not np.issubdtype(y.dtype, np.integer):
        raise TypeError(f"y must hold integer class indices, got dtype {y.dtype}")
    y = np.ascontiguousarray(y, dtype=np.int64)
    if y.size:
        low, high = int(y.min()), int(y.max())
        if n_classes is not None and (low < 0 or high >= n_classes):
            raise ValueError(f"y must hold class indices in [0, {n_classes}), got [{low}, {high}]")
        if low < 0:
            raise ValueError(f"y must hold class indices >= 0, got {low}")
    return y


def check_label_smoothing(label_smoothing):
    if not 0.0 <= label_smoothing < 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing}")
    return float(label_smoothing)


def normalized_sample_weight(sample_weight, n_samples):
    """Weights divided by their sum (``1 / n_samples`` each for None): J's 1/S factor."""
    if sample_weight is None:
        return np.full(n_samples, 1.0 / n_samples)
    weights = np.asarray(sample_weight, dtype=np.float64)
    if weights.shape != (n_samples,):
        raise ValueError(f"sample_weight must have shape ({n_samples},), got {weights.shape}")
    weight_sum = weights.sum()
    if not np.isfinite(weight_sum) or weight_sum <= 0 or weights.min() < 0:
        raise ValueError("sample_weight must be finite, non-negative, with a positive sum")
    return np.ascontiguousarray(weights / weight_sum)
