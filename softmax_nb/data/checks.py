"""Input checks: :class:`DataError`, :func:`check_X_y`, label encoding, class names.

Every check rejects bad input with a :class:`DataError` whose message names the
source, row and column where that is known.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

__all__ = ["DataError", "check_X_y", "encode_labels", "class_indices", "resolve_class_names"]


class DataError(ValueError):
    """Input data that cannot be used; the message says what and where."""


def check_X_y(X, y, *, source="input"):
    """Check a feature matrix and its labels before they are split and written.

    Parameters
    ----------
    X : array-like, shape (n_samples, n_features)
        Real numbers, all finite.
    y : array-like, shape (n_samples,)
        Class labels: integers, integral floats or strings.  NaN and continuous
        (non-integral float) targets are refused: this is a classifier.
    source : str
        Named in error messages.

    Returns
    -------
    X : ndarray of float64 or float32
        float32 input stays float32; integers become float64.
    y : ndarray
        Integral floats become int64; strings and integers are kept.

    Raises
    ------
    DataError
    """
    y = np.asarray(y)
    if sp.issparse(X):
        X = _check_sparse_X(X, source)
    else:
        X = _check_dense_X(X, source)
    return X, _check_y(y, X.shape[0], source)


def _check_sparse_X(X, source):
    """Sparse X as canonical CSR of float32/float64 (integers become float64), all finite."""
    from ..kernels.sparse import check_csr

    if X.ndim != 2:
        raise DataError(f"{source}: X must be 2-D (n_samples, n_features), got shape {X.shape}")
    if X.dtype.kind not in "biuf":
        raise DataError(f"{source}: X must hold real numbers, got dtype {X.dtype}")
    if X.shape[0] == 0:
        raise DataError(f"{source}: X is empty (0 samples)")
    if X.shape[1] == 0:
        raise DataError(f"{source}: X has 0 features")
    X = X.tocsr()
    if X.dtype.kind != "f":
        X = X.astype(np.float64)
    if not np.isfinite(X.data).all():
        bad = int(np.flatnonzero(~np.isfinite(X.data))[0])
        row = int(np.searchsorted(X.indptr, bad, side="right") - 1)
        count = int(np.count_nonzero(~np.isfinite(X.data)))
        raise DataError(f"{source}: X holds {count} NaN/infinite value(s); first at row {row}, column "
                        f"{int(X.indices[bad])} (value {X.data[bad]})")
    try:
        return check_csr(X)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{source}: {exc}") from None


def _check_dense_X(X, source):
    X = np.asarray(X)
    if X.dtype == object or X.dtype.kind not in "biuf":
        raise DataError(f"{source}: X must hold real numbers, got dtype {X.dtype}")
    if X.ndim != 2:
        raise DataError(f"{source}: X must be 2-D (n_samples, n_features), got shape {X.shape}")
    if X.shape[0] == 0:
        raise DataError(f"{source}: X is empty (0 samples)")
    if X.shape[1] == 0:
        raise DataError(f"{source}: X has 0 features")
    if X.dtype.kind != "f":
        X = X.astype(np.float64)
    finite = np.isfinite(X)
    if not finite.all():
        row, col = np.argwhere(~finite)[0]
        count = int(X.size - np.count_nonzero(finite))
        raise DataError(
            f"{source}: X holds {count} NaN/infinite value(s); first at row {row}, column {col} "
            f"(value {X[row, col]})"
        )
    return X


def _check_y(y, n_samples, source):
    if y.ndim == 2 and y.shape[1] == 1:
        y = y.ravel()
    if y.ndim != 1:
        raise DataError(f"{source}: y must be 1-D, got shape {y.shape}")
    if y.shape[0] != n_samples:
        raise DataError(f"{source}: y has {y.shape[0]} labels but X has {n_samples} rows")
    if y.dtype.kind == "c":
        raise DataError(f"{source}: complex values are not supported")
    if y.dtype.kind == "f":
        nan = np.isnan(y)
        if nan.any():
            raise DataError(f"{source}: y holds {int(nan.sum())} NaN label(s); first at row {int(np.argmax(nan))}")
        if not np.isfinite(y).all():
            raise DataError(f"{source}: y holds infinite labels")
        if np.any(y != np.round(y)):
            row = int(np.argmax(y != np.round(y)))
            raise DataError(
                f"{source}: y looks continuous (row {row} has label {y[row]}); "
                "a classifier needs class labels (integers or strings)"
            )
        y = y.astype(np.int64)
    elif y.dtype == object:
        kinds = {type(v) for v in y.tolist()}
        if kinds <= {str}:
            y = y.astype(str)
        elif kinds <= {int, bool}:
            y = y.astype(np.int64)
        else:
            names = ", ".join(sorted(k.__name__ for k in kinds))
            raise DataError(f"{source}: y must be all integers or all strings, got a mix of {names}")
    elif y.dtype.kind not in "biuUS":
        raise DataError(f"{source}: y has unsupported dtype {y.dtype}")
    if y.dtype.kind == "S":
        y = y.astype(str)
    if np.unique(y).size < 2:
        raise DataError(f"{source}: y has a single class ({y[0]!r}); a classifier needs at least 2")
    return y


def encode_labels(y):
    """Class labels and the index of each sample's class.

    Returns
    -------
    classes : ndarray
        Sorted unique labels.
    y_index : ndarray of int64
    """
    classes, y_index = np.unique(y, return_inverse=True)
    return classes, y_index.astype(np.int64).ravel()



def class_indices(classes, y):
    """Index of each label of ``y`` in the sorted ``classes``; -1 for a label not among them."""
    classes = np.asarray(classes)
    y = np.asarray(y)
    index = np.clip(np.searchsorted(classes, y), 0, len(classes) - 1)
    return np.where(classes[index] == y, index, -1).astype(np.int64)


def resolve_class_names(classes, given=None, known=None):
    """Display names of the classes, in the order of ``classes``, or ``None``.

    Parameters
    ----------
    classes : ndarray
        The sorted class labels of the data.
    given : sequence of str, optional
        Names from the configuration (``class_names``), one per class.
    known : sequence of str, optional
        Names the loader knows (Fashion-MNIST's garments) for every label value
        ``0..len(known)-1``: those of the classes present are kept.

    Raises
    ------
    DataError
        ``given`` does not have one name per class.
    """
    if given is not None:
        names = [str(name) for name in given]
        if len(names) != len(classes):
            raise DataError(f"class_names has {len(names)} names but the data have {len(classes)} classes")
        return names
    if known is None:
        return None
    if len(known) == len(classes):
        return [str(name) for name in known]
    if classes.dtype.kind in "iu" and classes.min() >= 0 and classes.max() < len(known):
        return [str(known[int(c)]) for c in classes]
    return None
