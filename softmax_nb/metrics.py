"""Classification metrics of predicted probabilities, as one JSON-ready dictionary.

Per-class precision, recall and F1 and their macro / weighted averages come from
:mod:`sklearn.metrics`. The log-loss and the calibration error are computed here, as
scikit-learn has no equal: its ``log_loss`` takes probabilities only (clipped at a
float eps, so inexact for confident predictions) where this one uses the exact
log-probabilities, and its ``calibration_curve`` is for the positive class of a binary
problem and drops empty bins, where the multiclass ECE bins the top-class confidence:

- log-loss: ``-(1/n) sum_i log p(y_i | x_i)``, from log-probabilities when they are
  given (exact for any logit size), else from probabilities clipped below at
  ``LOG_LOSS_EPS``;
- expected calibration error (ECE): rows are binned by their confidence (the largest
  predicted probability) into ``n_bins`` equal-width bins of [0, 1];
  ``ECE = sum_b (n_b / n) |accuracy_b - confidence_b|``.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "LOG_LOSS_EPS", "N_CALIBRATION_BINS", "evaluate", "calibration_bins", "log_loss", "weight_sparsity",
    "one_vs_rest_curves", "most_confident_mistakes",
]

#: Smallest probability used by the log-loss when only probabilities are given, so
#: a confident wrong prediction costs -log(1e-15) ~ 34.5 instead of infinity.
LOG_LOSS_EPS = 1e-15
N_CALIBRATION_BINS = 15


def log_loss(true_index, proba=None, log_proba=None):
    """Mean negative log-likelihood of the true classes.

    Parameters
    ----------
    true_index : ndarray of int, shape (n_samples,)
        Column of each sample's true class; ``-1`` for a class the model does not
        know (probability 0).
    proba, log_proba : ndarray, shape (n_samples, n_classes)
        One of them; ``log_proba`` is preferred (no clipping needed).

    Returns
    -------
    float
    """
    rows = np.arange(len(true_index))
    known = true_index >= 0
    if log_proba is not None:
        picked = np.full(len(true_index), np.log(LOG_LOSS_EPS))
        picked[known] = np.maximum(
            np.asarray(log_proba, dtype=np.float64)[rows[known], true_index[known]], np.log(LOG_LOSS_EPS)
        )
    else:
        picked = np.full(len(true_index), LOG_LOSS_EPS)
        picked[known] = np.asarray(proba, dtype=np.float64)[rows[known], true_index[known]]
        picked = np.log(np.clip(picked, LOG_LOSS_EPS, 1.0))
    return float(-picked.mean())


def calibration_bins(confidence, correct, n_bins=N_CALIBRATION_BINS):
    """Reliability table and expected calibration error.

    Parameters
    ----------
    confidence : ndarray of float, shape (n_samples,)
        Largest predicted probability of each row.
    correct : ndarray of bool, shape (n_samples,)
        Whether the predicted class is the true one.
    n_bins : int
        Equal-width bins of [0, 1]; bin ``b`` holds ``(b/n, (b+1)/n]`` and the first
        bin also holds 0.

    Returns
    -------
    ece : float
    max_calibration_error : float
        Largest ``|accuracy_b - confidence_b|`` over non-empty bins.
    bins : list of dict
        ``lower``, ``upper``, ``count``, ``accuracy`` and ``confidence`` (mean of
        the bin; ``None`` for an empty bin).
    """
    confidence = np.asarray(confidence, dtype=np.float64)
    correct = np.asarray(correct, dtype=bool)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    # Right-closed bins: a confidence of exactly 1.0 lands in the last bin.
    index = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, n_bins - 1)
    n = len(confidence)
    ece, mce, bins = 0.0, 0.0, []
    for b in range(n_bins):
        members = index == b
        count = int(members.sum())
        entry = {"lower": float(edges[b]), "upper": float(edges[b + 1]), "count": count,
                 "accuracy": None, "confidence": None}
        if count:
            accuracy = float(correct[members].mean())
            mean_confidence = float(confidence[members].mean())
            gap = abs(accuracy - mean_confidence)
            ece += count / n * gap
            mce = max(mce, gap)
            entry["accuracy"], entry["confidence"] = accuracy, mean_confidence
        bins.append(entry)
    return float(ece), float(mce), bins


def evaluate(y_true, proba, classes, *, log_proba=None, n_bins=N_CALIBRATION_BINS):
    """Accuracy, log-loss, per-class metrics, confusion matrix and calibration.

    Parameters
    ----------
    y_true : array-like, shape (n_samples,)
        True labels (same kind as ``classes``).
    proba : array-like, shape (n_samples, n_classes)
        Predicted probabilities; column ``k`` is ``classes[k]``.
    classes : array-like, shape (n_classes,)
        The model's classes (``clf.classes_``).
    log_proba : array-like, optional
        ``predict_log_proba`` output, for an exact log-loss.
    n_bins : int
        Calibration bins.

    Returns
    -------
    dict
        ``n_samples``, ``accuracy``, ``log_loss``, ``ece``,
        ``max_calibration_error``, ``classes`` (every label of the model or of
        ``y_true``, in the order of the tables), ``per_class`` (list of
        ``{"class", "precision", "recall", "f1", "support"}``), ``macro_avg`` and
        ``weighted_avg`` (over classes with support), ``confusion_matrix`` (rows:
        true class, columns: predicted class, both in ``classes`` order) and
        ``calibration_bins``.  Only built-in types; an undefined value (precision
        of a class never predicted) is ``None``.

    Notes
    -----
    A class of the model absent from ``y_true`` gets support 0 and recall ``None``;
    a label of ``y_true`` unknown to the model is appended to ``classes``, is never
    predicted, and costs ``-log(LOG_LOSS_EPS)`` in the log-loss.
    """
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    classes = np.asarray(classes)
    y_true = np.asarray(y_true)
    proba = np.asarray(proba, dtype=np.float64)
    if y_true.ndim != 1 or len(y_true) == 0:
        raise ValueError(f"y_true must be a non-empty 1-D array, got shape {y_true.shape}")
    if proba.shape != (len(y_true), len(classes)):
        raise ValueError(f"proba has shape {proba.shape}, expected ({len(y_true)}, {len(classes)})")
    if not np.isfinite(proba).all():
        raise ValueError("proba holds NaN or infinite values")
    if log_proba is not None:
        log_proba = np.asarray(log_proba, dtype=np.float64)
        if log_proba.shape != proba.shape:
            raise ValueError(f"log_proba has shape {log_proba.shape}, expected {proba.shape}")

    # Columns of the true classes; -1 for labels the model never saw.
    lookup = {label: k for k, label in enumerate(classes.tolist())}
    true_index = np.array([lookup.get(label, -1) for label in y_true.tolist()], dtype=np.int64)
    unseen = sorted({label for label in y_true.tolist() if label not in lookup}, key=str)
    labels = classes.tolist() + unseen
    # sklearn sees integer positions in `labels`, so any label type (strings, mixed
    # int/str across model and data) works the same.
    label_position = {label: k for k, label in enumerate(labels)}
    true_position = np.array([label_position[label] for label in y_true.tolist()], dtype=np.int64)
    positions = np.arange(len(labels))

    predicted_index = proba.argmax(axis=1)
    correct = predicted_index == true_index
    precision, recall, f1, support = precision_recall_fscore_support(
        true_position, predicted_index, labels=positions, zero_division=np.nan
    )
    matrix = confusion_matrix(true_position, predicted_index, labels=positions)
    ece, mce, bins = calibration_bins(proba.max(axis=1), correct, n_bins)

    present = positions[support > 0]

    def averages(kind):
        """scikit-learn's macro / weighted averages over the classes with support (an
        undefined value, zero_division=nan, is left out of the average)."""
        values = precision_recall_fscore_support(true_position, predicted_index, labels=present,
                                                 average=kind, zero_division=np.nan)[:3]
        return dict(zip(("precision", "recall", "f1"), (_finite_or_none(v) for v in values)))

    per_class = [
        {
            "class": _plain(label),
            "precision": _finite_or_none(p),
            "recall": _finite_or_none(r),
            "f1": _finite_or_none(f),
            "support": int(s),
        }
        for label, p, r, f, s in zip(labels, precision, recall, f1, support)
    ]
    return {
        "n_samples": int(len(y_true)),
        "accuracy": float(correct.mean()),
        "log_loss": log_loss(true_index, proba=proba, log_proba=log_proba),
        "ece": ece,
        "max_calibration_error": mce,
        "classes": [_plain(label) for label in labels],
        "per_class": per_class,
        "macro_avg": averages("macro"),
        "weighted_avg": averages("weighted"),
        "confusion_matrix": matrix.astype(np.int64).tolist(),
        "calibration_bins": bins,
    }


def weight_sparsity(coef):
    """How many learned weights are exactly zero (what an L1 / elastic-net penalty buys).

    Parameters
    ----------
    coef : array-like of shape (n_rows, n_features)

    Returns
    -------
    dict
        ``zero_fraction`` over all weights, ``per_row`` (one fraction per row of coef:
        per class, or the one log-odds row of a binary model) and ``nonzero`` (count).
    """
    coef = np.asarray(coef)
    zero = coef == 0
    return {
        "zero_fraction": float(zero.mean()) if coef.size else 0.0,
        "per_row": [float(v) for v in zero.mean(axis=1)] if coef.size else [],
        "nonzero": int(coef.size - zero.sum()),
    }


def one_vs_rest_curves(true_index, proba):
    """One-vs-rest ROC and precision-recall curves of predicted probabilities.

    Each class k is scored by its probability ``proba[:, k]`` against the rest
    (``sklearn.metrics.roc_curve``, ``precision_recall_curve``, ``auc`` and
    ``average_precision_score``). With two columns (a binary model) only the second
    class is scored: the first class's curves mirror it.

    Parameters
    ----------
    true_index : array-like of shape (n_samples,)
        Column of ``proba`` holding each row's true class.
    proba : array-like of shape (n_samples, n_classes)

    Returns
    -------
    dict
        ``classes``: one entry per scored class ``{"index", "n_positive", "fpr",
        "tpr", "roc_auc", "precision", "recall", "average_precision"}`` (curves and
        areas are None for a class with no positive or no negative row);
        ``micro``: the same for all (row, class) pairs pooled (multiclass only);
        ``macro``: ``{"fpr", "tpr", "roc_auc", "average_precision"}``, the mean of the
        per-class ROC curves on a common false-positive-rate grid and the mean
        average precision (multiclass only); ``binary``: bool.
    """
    from sklearn.metrics import auc, average_precision_score, precision_recall_curve, roc_curve

    true_index = np.asarray(true_index, dtype=np.int64)
    proba = np.asarray(proba, dtype=np.float64)
    if proba.ndim != 2 or proba.shape[0] != true_index.shape[0]:
        raise ValueError(f"proba must have shape (n_samples, n_classes) with n_samples = {true_index.shape[0]}, "
                         f"got {proba.shape}")
    n_classes = proba.shape[1]
    if n_classes < 2:
        raise ValueError("one-vs-rest curves need at least two classes")
    if true_index.size and (true_index.min() < 0 or true_index.max() >= n_classes):
        raise ValueError(f"true_index must lie in [0, {n_classes}), got {true_index.min()}..{true_index.max()}")
    binary = n_classes == 2

    def curves(positive, score):
        n_positive = int(positive.sum())
        entry = {"n_positive": n_positive, "fpr": None, "tpr": None, "roc_auc": None,
                 "precision": None, "recall": None, "average_precision": None}
        if n_positive == 0 or n_positive == positive.size:
            return entry  # ROC and PR are undefined without both kinds of rows
        fpr, tpr, _ = roc_curve(positive, score)
        precision, recall, _ = precision_recall_curve(positive, score)
        entry.update(fpr=fpr, tpr=tpr, roc_auc=float(auc(fpr, tpr)), precision=precision, recall=recall,
                     average_precision=float(average_precision_score(positive, score)))
        return entry

    scored = [1] if binary else range(n_classes)
    result = {"binary": binary, "classes": [], "micro": None, "macro": None}
    for k in scored:
        entry = curves(true_index == k, proba[:, k])
        entry["index"] = int(k)
        result["classes"].append(entry)
    if not binary:
        onehot = np.zeros_like(proba, dtype=bool)
        onehot[np.arange(true_index.size), true_index] = True
        result["micro"] = curves(onehot.ravel(), proba.ravel())
        defined = [c for c in result["classes"] if c["roc_auc"] is not None]
        if defined:
            grid = np.unique(np.concatenate([c["fpr"] for c in defined]))
            mean_tpr = np.mean([np.interp(grid, c["fpr"], c["tpr"]) for c in defined], axis=0)
            result["macro"] = {"fpr": grid, "tpr": mean_tpr, "roc_auc": float(auc(grid, mean_tpr)),
                               "average_precision": float(np.mean([c["average_precision"] for c in defined]))}
    return result


def most_confident_mistakes(true_index, proba, n=16):
    """The wrongly predicted rows with the highest probability on the predicted class.

    Parameters
    ----------
    true_index : array-like of shape (n_samples,)
        Column of ``proba`` holding each row's true class.
    proba : array-like of shape (n_samples, n_classes)
    n : int
        At most this many rows.

    Returns
    -------
    list of dict
        ``{"row", "true", "predicted", "p_predicted", "p_true"}`` (row: index in the
        given rows; true, predicted: class columns), most confident first; ties keep
        the row order.
    """
    true_index = np.asarray(true_index, dtype=np.int64)
    proba = np.asarray(proba, dtype=np.float64)
    if proba.ndim != 2 or proba.shape[0] != true_index.shape[0]:
        raise ValueError(f"proba must have shape (n_samples, n_classes) with n_samples = {true_index.shape[0]}, "
                         f"got {proba.shape}")
    predicted = proba.argmax(axis=1)
    wrong = np.flatnonzero(predicted != true_index)
    confidence = proba[wrong, predicted[wrong]]
    order = wrong[np.argsort(-confidence, kind="stable")][: max(int(n), 0)]
    return [{"row": int(i), "true": int(true_index[i]), "predicted": int(predicted[i]),
             "p_predicted": float(proba[i, predicted[i]]), "p_true": float(proba[i, true_index[i]])}
            for i in order]


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    return value


def _finite_or_none(value):
    value = float(value)
    return value if np.isfinite(value) else None
