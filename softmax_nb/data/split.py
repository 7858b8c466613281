"""Splits and standardization: which rows go where, and how features are scaled.

:func:`stratified_split` gives seeded, stratified train/val/test row indices;
:func:`fit_standardization` fits mean and scale on the training rows only (sparse X:
scale only, :class:`SparseMoments`) and :func:`apply_standardization` applies them (in
float64, stored in any dtype).
:func:`subsample` draws the seeded ``max_samples`` sample before splitting.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .checks import DataError

__all__ = ["stratified_split", "fit_standardization", "apply_standardization", "safe_scale", "subsample",
           "SparseMoments"]


def stratified_split(y, val_fraction, test_fraction, seed, *, stratify=True):
    """Row indices of train, validation and test splits.

    Parameters
    ----------
    y : ndarray of int
        Class indices.
    val_fraction, test_fraction : float
        Fractions of all rows, each in [0, 1) with a sum below 1; 0 gives an empty
        split.
    seed : int
        The same seed and labels give the same split.
    stratify : bool, default True
        Keep class proportions in every split.  A stratified split needs every
        class to have at least 2 samples and each non-empty split at least one row
        per class; otherwise a :class:`DataError` names the offending class and
        suggests ``stratify=False`` (a plain seeded random split).

    Returns
    -------
    train, val, test : ndarray of int64
        Sorted row indices.
    """
    from sklearn.model_selection import train_test_split

    for name, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not isinstance(value, (int, float)) or not 0 <= value < 1:
            raise DataError(f"{name} must be in [0, 1), got {value!r}")
    if val_fraction + test_fraction >= 1:
        raise DataError(
            f"val_fraction + test_fraction must be below 1 (training needs rows), got "
            f"{val_fraction} + {test_fraction} = {val_fraction + test_fraction}"
        )
    y = np.asarray(y)
    n = len(y)
    rows = np.arange(n)
    if stratify:
        counts = np.bincount(y)
        n_splits = 1 + (val_fraction > 0) + (test_fraction > 0)
        small = np.flatnonzero((counts > 0) & (counts < n_splits))
        if small.size:
            raise DataError(
                f"class index {int(small[0])} has only {int(counts[small[0]])} sample(s); a stratified "
                f"split into {n_splits} parts needs at least {n_splits} per class "
                "(remove rare classes or set stratify: false)"
            )

    def split(indices, fraction, step):
        if fraction == 0:
            return indices, indices[:0]
        try:
            return train_test_split(
                indices,
                test_size=fraction,
                random_state=seed + step,  # distinct streams for the two cuts
                stratify=y[indices] if stratify else None,
            )
        except ValueError as exc:
            hint = " (or set stratify: false)" if stratify else ""
            raise DataError(f"cannot split {len(indices)} rows with fraction {fraction:.4g}: {exc}{hint}") from exc

    rest, test = split(rows, test_fraction, 0)
    # val_fraction is of all rows; rescale it to the rows left after the test cut.
    val_of_rest = val_fraction / (1 - test_fraction) if val_fraction else 0
    train, val = split(rest, val_of_rest, 1)
    if len(train) == 0:
        raise DataError(f"the training split is empty ({n} rows in all)")
    return tuple(np.sort(part).astype(np.int64) for part in (train, val, test))


def fit_standardization(X):
    """Mean and scale of each feature, from training rows only.

    Features with zero (or numerically zero) variance get scale 1, so they are
    centred but never divided by zero.

    Returns
    -------
    dict
        ``{"mean": float64 (n_features,), "scale": float64 (n_features,)}``
    """
    if sp.issparse(X):
        moments = SparseMoments(X.shape[1])
        moments.update(X)
        return moments.standardization()
    X = np.asarray(X, dtype=np.float64)
    mean = X.mean(axis=0)
    return {"mean": mean, "scale": safe_scale(mean, X.std(axis=0))}


class SparseMoments:
    """Scale-only standardization of sparse X, accumulated over row blocks.

    Sparse X is scaled without centring (scikit-learn's ``with_mean=False``):
    centring would fill every zero.  The stored mean is 0, so ``(x - mean) / scale``
    holds for all, and ``scale`` is the population standard deviation of each column
    (zeros included), through :func:`safe_scale`::

        mean_j = s1_j / n,   var_j = max(s2_j / n - mean_j^2, 0),   scale_j = sqrt(var_j)

    with ``s1_j = sum_i x_ij`` and ``s2_j = sum_i x_ij^2`` in float64.  Every value is
    added to its column's running sum in row order (``np.add.at`` is unbuffered and
    ordered), so one :meth:`update` with all rows (:func:`fit_standardization`) and
    many with consecutive row blocks (the out-of-core conversion) give the same bits.
    """

    def __init__(self, n_features):
        self.count = 0
        self.sum = np.zeros(n_features)
        self.sum_squares = np.zeros(n_features)

    def update(self, X):
        """Add the rows of a sparse block (duplicates are summed first, on a copy)."""
        X = sp.csr_matrix(X)
        if not X.has_canonical_format:
            X = X.copy()
            X.sum_duplicates()
        data = X.data.astype(np.float64, copy=False)
        np.add.at(self.sum, X.indices, data)
        np.add.at(self.sum_squares, X.indices, data * data)
        self.count += X.shape[0]

    def standardization(self):
        """``{"mean": zeros, "scale": ...}`` of the rows added so far."""
        mean = self.sum / self.count
        std = np.sqrt(np.maximum(self.sum_squares / self.count - mean**2, 0.0))
        return {"mean": np.zeros_like(mean), "scale": safe_scale(mean, std)}


def safe_scale(mean, std):
    """Standard deviations as scales, with 1 for (numerically) constant features.

    Shared by the in-memory and the block-wise (:mod:`.chunked`) statistics.
    """
    # A constant column in float arithmetic can show a tiny non-zero spread; treat
    # spreads below ~1e-12 of the magnitude as zero, like scikit-learn's scaler.
    tiny = 10 * np.finfo(np.float64).eps * np.maximum(np.abs(mean), 1.0)
    return np.where(std <= tiny, 1.0, std)


def apply_standardization(X, preprocessing, dtype=None):
    """``(X - mean) / scale`` computed in float64, returned in ``dtype`` (default X's)."""
    dtype = np.dtype(dtype) if dtype is not None else np.asarray(X).dtype if not sp.issparse(X) else X.dtype
    if sp.issparse(X):
        if np.any(preprocessing["mean"]):
            raise ValueError("sparse X cannot be centred (it would fill every zero): its mean must be 0")
        return sp.csr_matrix(X.astype(np.float64).multiply(1.0 / preprocessing["scale"])).astype(dtype)
    out = (np.asarray(X, dtype=np.float64) - preprocessing["mean"]) / preprocessing["scale"]
    return out.astype(dtype, copy=False)


def subsample(X, y, max_samples, seed, stratify):
    """A seeded (and stratified) sample of ``max_samples`` rows, in source order."""
    if not isinstance(max_samples, (int, np.integer)) or isinstance(max_samples, bool) or max_samples < 2:
        raise DataError(f"max_samples must be an integer >= 2, got {max_samples!r}")
    if max_samples >= len(y):
        return X, y
    from sklearn.model_selection import train_test_split

    try:
        keep, _ = train_test_split(
            np.arange(len(y)), train_size=int(max_samples), random_state=seed, stratify=y if stratify else None
        )
    except ValueError as exc:
        raise DataError(f"cannot draw a stratified sample of max_samples={max_samples} rows: {exc}") from exc
    keep = np.sort(keep)
    return X[keep], y[keep]

