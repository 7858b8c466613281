"""Figures of a trained softmax classifier, used by the workflow and the CLI.

Every public ``plot_*`` function draws one figure and writes it to ``path``
atomically: the figure goes to a temporary file in the target's folder, which is
then renamed over the target, so an interrupted job never leaves a truncated image
where Snakemake (or a reader) expects a finished one. The file format follows the
suffix of ``path`` (``.png``, ``.svg``, ``.pdf``).

Matplotlib is switched to the non-interactive Agg backend on import: the workflow
runs without a display.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
import numpy as np  # noqa: E402

from .files.atomic import atomic_write  # noqa: E402

__all__ = [
    "save_figure",
    "plot_history",
    "plot_confusion_matrix",
    "plot_per_class_metrics",
    "plot_weights",
    "plot_reliability",
    "plot_model_comparison",
    "plot_parameter_curves",
    "plot_roc_pr",
    "plot_mistakes",
    "plot_class_samples",
]

# Figures are read in an HTML report at about page width; 100 dpi keeps the PNGs
# small while the text stays sharp.
_DPI = 110
_TRAIN_COLOR = "tab:blue"
_VAL_COLOR = "tab:orange"


def save_figure(fig, path):
    """Write a figure to ``path`` atomically and close it.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure to write.
    path : str or os.PathLike
        Target file; its suffix picks the format (png, svg, pdf...).

    Returns
    -------
    pathlib.Path
        The path written.
    """
    path = Path(path)
    fmt = path.suffix.lstrip(".").lower()
    if not fmt:
        raise ValueError(f"cannot infer an image format from the path {str(path)!r}: give it a suffix such as .png")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # A temporary file beside the target, renamed over it when complete.
        with atomic_write(path) as tmp:
            fig.savefig(tmp, format=fmt, dpi=_DPI, bbox_inches="tight")
    finally:
        plt.close(fig)
    return path


def _as_float_array(values, name):
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    return array


def _label_two_and_five(value, _position):
    # Minor log ticks labelled at 2 and 5 per decade only: readable without crowding.
    if value <= 0:
        return ""
    mantissa = value / 10.0 ** math.floor(math.log10(value))
    return f"{value:.3g}" if round(mantissa, 6) in (2.0, 5.0) else ""


def plot_history(history: Mapping[str, Sequence[float]], path, *, title: str | None = None, x_label: str = "iteration"):
    """Draw training curves: loss and accuracy against iterations (or epochs).

    Parameters
    ----------
    history : mapping
        Equal-length sequences as in ``SoftmaxClassifier.history_``. Required:
        ``'iteration'`` and ``'loss'`` (the training objective). Used when
        present and not all NaN: ``'val_loss'``, ``'val_accuracy'``,
        ``'train_accuracy'`` (or ``'accuracy'``).
    path : str or os.PathLike
        Where to write the figure.
    title : str, optional
        Figure title (e.g. the dataset and model names).
    x_label : str, default 'iteration'
        Label of the horizontal axis ('epoch' for the minibatch solvers).

    Returns
    -------
    pathlib.Path
        The path written.
    """
    for key in ("iteration", "loss"):
        if key not in history:
            raise KeyError(f"history has no {key!r} entry (keys: {sorted(history)})")
    iteration = _as_float_array(history["iteration"], "history['iteration']")
    series = {}
    for key in ("loss", "val_loss", "val_accuracy", "train_accuracy", "accuracy"):
        if key in history:
            values = _as_float_array(history[key], f"history[{key!r}]")
            if values.shape != iteration.shape:
                raise ValueError(
                    f"history[{key!r}] has {values.size} entries but history['iteration'] has {iteration.size}"
                )
            if np.isfinite(values).any():
                series[key] = values
    train_accuracy = series.get("train_accuracy", series.get("accuracy"))
    if iteration.size == 0:
        # A fit whose starting point already met its stopping rule (or max_iter=0).
        fig, ax = plt.subplots(figsize=(7.0, 2.2))
        ax.set_axis_off()
        ax.text(0.5, 0.5, "no iterations: the starting point already met the stopping rule\n"
                "(max |gradient| <= tol), or max_iter was 0", ha="center", va="center", fontsize=11)
        ax.set_title(title or "training history")
        return save_figure(fig, path)

    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.8))
    ax_loss.plot(iteration, series["loss"], color=_TRAIN_COLOR, label="train objective")
    if "val_loss" in series:
        ax_loss.plot(iteration, series["val_loss"], color=_VAL_COLOR, label="validation log-loss")
    # Losses span decades during the first iterations; a log axis shows the tail too.
    if np.all(series["loss"][np.isfinite(series["loss"])] > 0):
        ax_loss.set_yscale("log")
        ax_loss.yaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%.3g"))
        ax_loss.yaxis.set_minor_formatter(matplotlib.ticker.FuncFormatter(_label_two_and_five))
        ax_loss.tick_params(axis="y", which="minor", labelsize=8)
    ax_loss.set_xlabel(x_label)
    ax_loss.set_ylabel("loss")
    ax_loss.set_title("loss")
    ax_loss.grid(True, which="both", alpha=0.3)
    ax_loss.legend()

    if train_accuracy is None and "val_accuracy" not in series:
        ax_acc.text(0.5, 0.5, "no accuracy recorded\n(train without a validation set)", ha="center", va="center")
        ax_acc.set_axis_off()
    else:
        if train_accuracy is not None:
            ax_acc.plot(iteration, train_accuracy, color=_TRAIN_COLOR, label="train accuracy")
        if "val_accuracy" in series:
            ax_acc.plot(iteration, series["val_accuracy"], color=_VAL_COLOR, label="validation accuracy")
            best = int(np.nanargmax(series["val_accuracy"]))
            ax_acc.scatter(
                [iteration[best]], [series["val_accuracy"][best]], color=_VAL_COLOR, zorder=3,
                label=f"best {series['val_accuracy'][best]:.4f}",
            )
        ax_acc.set_xlabel(x_label)
        ax_acc.set_ylabel("accuracy")
        ax_acc.set_title("accuracy")
        ax_acc.grid(True, alpha=0.3)
        ax_acc.legend(loc="lower right")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return save_figure(fig, path)


def _class_labels(class_names, n_classes):
    if class_names is None:
        return [str(k) for k in range(n_classes)]
    labels = [str(name) for name in class_names]
    if len(labels) != n_classes:
        raise ValueError(f"got {len(labels)} class names for {n_classes} classes")
    return labels


def plot_confusion_matrix(confusion, path, *, class_names=None, normalize: bool = True, title: str | None = None):
    """Draw a confusion matrix as a heat map with the counts written in the cells.

    Parameters
    ----------
    confusion : array-like of shape (n_classes, n_classes)
        Counts; rows are true classes, columns predicted classes.
    path : str or os.PathLike
        Where to write the figure.
    class_names : sequence of str, optional
        Names of the classes in row order (defaults to 0..n_classes-1).
    normalize : bool, default True
        Colour each cell by its fraction of the true class (row), so rare classes
        are as visible as frequent ones; the cell text stays the raw count.
    title : str, optional
        Figure title.

    Returns
    -------
    pathlib.Path
        The path written.
    """
    counts = np.asarray(confusion)
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1]:
        raise ValueError(f"confusion must be a square 2-D array, got shape {counts.shape}")
    n_classes = counts.shape[0]
    labels = _class_labels(class_names, n_classes)
    if normalize:
        row_sums = counts.sum(axis=1, keepdims=True)
        # A class absent from the split has a zero row; show it as zeros, not NaN.
        shown = np.divide(counts, row_sums, out=np.zeros(counts.shape), where=row_sums > 0)
        color_label = "fraction of true class"
    else:
        shown = counts.astype(np.float64)
        color_label = "count"
    size = min(max(4.0, 0.45 * n_classes + 2.5), 14.0)
    fig, ax = plt.subplots(figsize=(size + 1.2, size))
    image = ax.imshow(shown, cmap="Blues", vmin=0.0, vmax=1.0 if normalize else None)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label=color_label)
    ticks = np.arange(n_classes)
    ax.set_xticks(ticks, labels, rotation=45 if max(map(len, labels)) > 2 else 0, ha="right" if max(map(len, labels)) > 2 else "center")
    ax.set_yticks(ticks, labels)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    if n_classes <= 30:
        threshold = 0.5 * (shown.max() if shown.size else 1.0)
        fontsize = 9 if n_classes <= 12 else 7
        for i in range(n_classes):
            for j in range(n_classes):
                if counts[i, j] == 0:
                    continue
                ax.text(
                    j, i, f"{int(counts[i, j])}", ha="center", va="center", fontsize=fontsize,
                    color="white" if shown[i, j] > threshold else "black",
                )
    accuracy = np.trace(counts) / counts.sum() if counts.sum() else float("nan")
    ax.set_title(title or f"confusion matrix (accuracy {accuracy:.4f})")
    fig.tight_layout()
    return save_figure(fig, path)


def plot_per_class_metrics(precision, recall, f1, path, *, support=None, class_names=None, title: str | None = None):
    """Draw precision, recall and F1 per class as grouped bars.

    Parameters
    ----------
    precision, recall, f1 : array-like of shape (n_classes,)
        Per-class scores in [0, 1].
    path : str or os.PathLike
        Where to write the figure.
    support : array-like of shape (n_classes,), optional
        Number of true samples per class, written under the class names.
    class_names : sequence of str, optional
        Class names (defaults to 0..n_classes-1).
    title : str, optional
        Figure title.

    Returns
    -------
    pathlib.Path
        The path written.
    """
    scores = {
        "precision": _as_float_array(precision, "precision"),
        "recall": _as_float_array(recall, "recall"),
        "F1": _as_float_array(f1, "f1"),
    }
    n_classes = scores["precision"].size
    for name, values in scores.items():
        if values.size != n_classes:
            raise ValueError(f"{name} has {values.size} entries, precision has {n_classes}")
    labels = _class_labels(class_names, n_classes)
    if support is not None:
        support = np.asarray(support)
        if support.shape != (n_classes,):
            raise ValueError(f"support must have shape ({n_classes},), got {support.shape}")
        labels = [f"{label}\n(n={int(count)})" for label, count in zip(labels, support)]
    x = np.arange(n_classes)
    width = 0.27
    fig, ax = plt.subplots(figsize=(max(6.0, 0.7 * n_classes + 2.0), 4.0))
    for offset, (name, values) in zip((-width, 0.0, width), scores.items()):
        ax.bar(x + offset, values, width, label=name)
    lowest = min(float(np.nanmin(v)) for v in scores.values()) if n_classes else 0.0
    # Good classifiers score 0.9+ everywhere; start the axis below the lowest bar so differences show.
    ax.set_ylim(max(0.0, math.floor((lowest - 0.05) * 10) / 10), 1.0)
    ax.set_xticks(x, labels, fontsize=8 if n_classes > 10 else 9)
    ax.set_ylabel("score")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=3, frameon=False)
    ax.set_title(title or "per-class precision, recall and F1 (test split)", pad=28)
    fig.tight_layout()
    return save_figure(fig, path)


def _shorten(text, limit=28):
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def plot_weights(coef, path, *, image_shape=None, class_names=None, feature_names=None, title: str | None = None,
                 top_k: int = 10):
    """Draw the learned weights: images when the features are pixels, else the top features by name.

    When the dataset declares that its features are the pixels of a
    ``(height, width)`` image (``image_shape``, from the dataset file: digits and
    IDX sources), each class's weight vector is drawn as an image: the template
    that class responds to. Otherwise each class gets a bar chart of its ``top_k``
    weights of largest magnitude, labelled with the feature names: which inputs
    push towards (red, positive) or away from (blue, negative) that class. The
    feature count alone never makes an image: 4 or 16 features are not a picture.

    Parameters
    ----------
    coef : array-like of shape (n_classes, n_features), or (1, n_features) for two classes
        Learned weights (a binary model's one row is the log-odds of the second class).
    path : str or os.PathLike
        Where to write the figure.
    image_shape : tuple of int, optional
        ``(height, width)`` with ``height * width == n_features``; None draws bars.
    class_names : sequence of str, optional
        Panel titles (defaults to 0..n_classes-1). Two names for a one-row ``coef``
        label the panel as the log-odds of the second class against the first.
    feature_names : sequence of str, optional
        Names of the features (bar labels); defaults to ``feature 0``, ``feature 1``, ...
    title : str, optional
        Figure title.
    top_k : int, default 10
        Bars per class (all features when there are fewer).

    Returns
    -------
    pathlib.Path
        The path written.
    """
    coef = np.asarray(coef, dtype=np.float64)
    if coef.ndim != 2:
        raise ValueError(f"coef must have shape (n_classes, n_features), got {coef.shape}")
    n_classes, n_features = coef.shape
    if n_classes == 1 and class_names is not None and len(class_names) == 2:
        labels = [f"log-odds of {class_names[1]} (vs {class_names[0]})"]
    else:
        labels = _class_labels(class_names, n_classes)
    # One symmetric colour scale for all classes: red pushes towards the class, blue away,
    # and classes are comparable with each other.
    limit = float(np.max(np.abs(coef))) if coef.size else 1.0
    limit = limit if limit > 0 else 1.0
    if image_shape is None:
        if feature_names is None:
            feature_names = [f"feature {i}" for i in range(n_features)]
        elif len(feature_names) != n_features:
            raise ValueError(f"got {len(feature_names)} feature names for {n_features} features")
        if int(top_k) < 1:
            raise ValueError(f"top_k must be at least 1, got {top_k}")
        return _plot_top_weights(coef, path, labels, limit, [str(n) for n in feature_names], int(top_k), title)
    height, width = (int(v) for v in image_shape)
    if height * width != n_features:
        raise ValueError(f"image_shape {height}x{width} does not hold {n_features} features")
    color_label = "weight"
    if n_features >= 256:
        # Large images have a few extreme pixels (near-constant border pixels blown up
        # by standardization) that would wash out every template; clip the scale there.
        clipped = float(np.percentile(np.abs(coef), 99.5))
        if 0 < clipped < limit:
            limit, color_label = clipped, "weight (scale clipped at the 99.5th percentile)"
    n_cols = n_classes if n_classes <= 5 else (math.ceil(n_classes / 2) if n_classes <= 12 else 10)
    n_rows = math.ceil(n_classes / n_cols)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(1.7 * n_cols + 1.0, 1.8 * n_rows + 0.4), squeeze=False)
    image = None
    for k, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        if k >= n_classes:
            ax.set_axis_off()
            continue
        image = ax.imshow(coef[k].reshape(height, width), cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest")
        ax.set_title(labels[k], fontsize=9)
    fig.colorbar(image, ax=axes.ravel().tolist(), fraction=0.025, pad=0.02, label=color_label)
    fig.suptitle(title or "learned weights per class")
    return save_figure(fig, path)


def _plot_top_weights(coef, path, labels, limit, feature_names, top_k, title):
    """One horizontal bar chart per class: its top_k weights by magnitude, largest on top."""
    n_classes, n_features = coef.shape
    k = min(top_k, n_features)
    n_cols = 1 if n_classes == 1 else (2 if n_classes <= 4 else 3)
    n_rows = math.ceil(n_classes / n_cols)
    longest = max(len(_shorten(name)) for name in feature_names)
    # Panel width grows with the longest name; the whole figure stays within about page width.
    panel_width = min(3.1 + 0.055 * longest, 9.6 / n_cols if n_cols > 1 else 7.5)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(panel_width * n_cols, (0.24 * k + 0.95) * n_rows + 0.7),
                             squeeze=False, layout="constrained")
    for index, ax in enumerate(axes.flat):
        if index >= n_classes:
            ax.set_axis_off()
            continue
        row = coef[index]
        # Stable order: ties (exact zeros of an L1 fit, say) keep the feature order.
        order = np.argsort(-np.abs(row), kind="stable")[:k]
        values = row[order]
        colors = np.where(values >= 0, "tab:red", "tab:blue")
        y = np.arange(k)
        ax.barh(y, values, color=colors)
        ax.set_yticks(y, [_shorten(feature_names[i]) for i in order], fontsize=8)
        ax.invert_yaxis()
        ax.axvline(0.0, color="black", linewidth=0.8)
        ax.set_xlim(-1.08 * limit, 1.08 * limit)
        ax.tick_params(axis="x", labelsize=8)
        ax.grid(True, axis="x", alpha=0.3)
        shown = "all" if k == n_features else f"top {k} of {n_features}"
        ax.set_title(f"{labels[index]}\n({shown} features by |weight|)", fontsize=9)
    fig.supxlabel("weight (red: raises the class score, blue: lowers it)", fontsize=9)
    fig.suptitle(title or "largest learned weights per class")
    return save_figure(fig, path)


def plot_reliability(bin_confidence, bin_accuracy, bin_count, path, *, ece: float | None = None, title: str | None = None):
    """Draw a reliability (calibration) diagram.

    Parameters
    ----------
    bin_confidence : array-like of shape (n_bins,)
        Mean top-class probability of the samples in each confidence bin
        (NaN for empty bins).
    bin_accuracy : array-like of shape (n_bins,)
        Fraction of those samples that are predicted correctly (NaN for empty bins).
    bin_count : array-like of shape (n_bins,)
        Number of samples per bin; the bins split [0, 1] into equal widths.
    path : str or os.PathLike
        Where to write the figure.
    ece : float, optional
        Expected calibration error, written in the title.
    title : str, optional
        Figure title.

    Returns
    -------
    pathlib.Path
        The path written.
    """
    confidence = _as_float_array(bin_confidence, "bin_confidence")
    accuracy = _as_float_array(bin_accuracy, "bin_accuracy")
    count = _as_float_array(bin_count, "bin_count")
    n_bins = confidence.size
    if accuracy.size != n_bins or count.size != n_bins:
        raise ValueError(
            f"bin arrays differ in length: confidence {n_bins}, accuracy {accuracy.size}, count {count.size}"
        )
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    centers = 0.5 * (edges[:-1] + edges[1:])
    filled = count > 0
    fig, (ax, ax_hist) = plt.subplots(
        2, 1, figsize=(5.2, 6.0), sharex=True, gridspec_kw={"height_ratios": [3, 1]}
    )
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect calibration")
    ax.bar(
        centers[filled], accuracy[filled], width=1.0 / n_bins, edgecolor="black", color=_TRAIN_COLOR,
        alpha=0.8, label="accuracy in bin",
    )
    # ECE averages the distance between these markers and the bar tops, weighted by the bin counts.
    ax.scatter(
        centers[filled], confidence[filled], marker="_", s=400, linewidths=2.5, color="tab:red", zorder=3,
        label="mean confidence in bin",
    )
    ax.set_xlim(0.0, 1.0)
    ax.set_ylim(0.0, 1.0)
    ax.set_ylabel("accuracy")
    # Above the axes: inside, bars of any height would hide it or be hidden.
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=2, fontsize=8, frameon=False)
    ax.grid(True, alpha=0.3)
    heading = title or "reliability diagram (test split)"
    if ece is not None:
        heading += f"\nECE = {ece:.4f}"
    ax.set_title(heading, pad=34)
    ax_hist.bar(centers, count, width=1.0 / n_bins, color="grey", edgecolor="black")
    if count.max(initial=0) > 0:
        ax_hist.set_yscale("log")
        ax_hist.yaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
        ax_hist.yaxis.set_minor_formatter(matplotlib.ticker.FuncFormatter(_label_two_and_five))
    ax_hist.set_xlabel("confidence (top-class probability)")
    ax_hist.set_ylabel("samples")
    fig.tight_layout()
    return save_figure(fig, path)


def _accuracy_axis_start(values):
    """Where an accuracy axis starts: 0 when the values spread widely, else a round value
    below the lowest (the axis label then says it does not start at 0)."""
    finite = values[np.isfinite(values)]
    if not finite.size:
        return 0.0
    low = float(finite.min())
    if low < 0.5:
        return 0.0
    spread = max(float(finite.max()) - low, 0.01)
    step = 0.01 if spread <= 0.05 else (0.05 if spread <= 0.2 else 0.1)
    return max(0.0, math.floor((low - 0.5 * spread) / step) * step)


def plot_model_comparison(summary: Sequence[Mapping[str, object]], path, *, title: str | None = None):
    """Compare all models of a dataset: test accuracy, test log-loss, validation loss, fit time.

    Four panels in a 2 x 2 grid with the model names on the left of each row, one
    line per model, the figure growing in height with the number of models so the
    text keeps its size (about page width, read unscaled in the report). Accuracy is
    drawn as dots, not bars, on an axis zoomed to the values; when that axis does
    not start at 0 its label says so. The losses are bars from 0; fit times are bars
    on a log axis (labelled as such).

    Parameters
    ----------
    summary : sequence of mappings
        One row per model with keys ``'model'``, ``'test_accuracy'``,
        ``'test_log_loss'``, ``'val_loss'`` and ``'fit_time'``; optional
        ``'dataset'`` (prefixed to the labels when several datasets appear)
        and ``'best'`` (truthy for the model chosen by validation loss).
    path : str or os.PathLike
        Where to write the figure.
    title : str, optional
        Figure title.

    Returns
    -------
    pathlib.Path
        The path written.
    """
    if not summary:
        raise ValueError("summary has no rows to compare")
    required = ("model", "test_accuracy", "test_log_loss", "val_loss", "fit_time")
    for i, row in enumerate(summary):
        missing = [key for key in required if key not in row]
        if missing:
            raise KeyError(f"summary row {i} lacks {missing}")
    several_datasets = len({row.get("dataset") for row in summary}) > 1
    labels = [_shorten(f"{row['dataset']}/{row['model']}" if several_datasets else str(row["model"]), 32)
              for row in summary]
    best = [bool(row.get("best", False)) for row in summary]
    n_models = len(summary)
    colors = ["tab:green" if is_best else _TRAIN_COLOR for is_best in best]
    panel_height = 0.3 * n_models + 1.1
    fig, axes = plt.subplots(2, 2, figsize=(9.6, 2 * panel_height + 0.6), sharey=True, layout="constrained")
    y = np.arange(n_models)
    values = {key: np.array([float(row[key]) for row in summary]) for key in required[1:]}

    ax = axes[0, 0]
    accuracy = values["test_accuracy"]
    start = _accuracy_axis_start(accuracy)
    # Dots, not bars: on an axis that does not start at 0 a bar's length would mislead.
    ax.scatter(accuracy, y, color=colors, s=36, zorder=3)
    ax.grid(True, axis="y", alpha=0.3)
    ax.set_xlim(start, 1.0 + 0.18 * (1.0 - start))  # room for the value labels
    ax.set_xticks([t for t in ax.get_xticks() if start - 1e-9 <= t <= 1.0 + 1e-9])
    ax.set_xlabel("test accuracy" if start == 0 else f"test accuracy (axis starts at {start:g}, not 0)",
                  fontsize=9)
    for yi, value in zip(y, accuracy):
        if np.isfinite(value):
            ax.text(value, yi, f"  {value:.4f}", va="center", fontsize=8.5)

    panels = ((axes[0, 1], "test_log_loss", "test log-loss (lower is better)", False),
              (axes[1, 0], "val_loss", "validation log-loss (selects the best model)", False),
              (axes[1, 1], "fit_time", "fit time [s], log scale", True))
    for ax, key, label, log_scale in panels:
        data = values[key]
        finite = data[np.isfinite(data)]
        log_scale = log_scale and finite.size and np.all(finite > 0)
        if log_scale:
            ax.set_xscale("log")
            low, high = float(finite.min()), float(finite.max())
            # Bars on a log axis start at a round power of ten below the shortest.
            base = 10.0 ** math.floor(math.log10(low) - 0.3)
            ax.barh(y, data - base, left=base, color=colors)
            ax.set_xlim(base, high * 8.0)
        else:
            ax.barh(y, data, color=colors)
            high = float(finite.max()) if finite.size else 1.0
            ax.set_xlim(0.0, 1.25 * high if high > 0 else 1.0)
        for yi, value in zip(y, data):
            if np.isfinite(value):
                ax.text(value, yi, f" {value:.4g}", va="center", fontsize=8.5)
        ax.set_xlabel(label, fontsize=9)
    for ax in axes.flat:
        ax.grid(True, axis="x", alpha=0.3)
        ax.tick_params(axis="both", labelsize=8.5)
    for row_axes in axes:
        row_axes[0].set_yticks(y, labels, fontsize=9)
    axes[0, 0].invert_yaxis()
    fig.suptitle(title or "model comparison (green: best by validation loss)", fontsize=11)
    return save_figure(fig, path)


def plot_parameter_curves(series: Mapping[str, tuple], path, *, x_label: str = "C",
                          y_label: str = "validation log-loss", log_x: bool = True, title: str | None = None,
                          second: Mapping[str, tuple] | None = None, second_label: str | None = None):
    """Draw a metric against one hyperparameter, one line per group of otherwise equal models.

    Used for sweeps: validation loss against C, one line per solver / dtype /
    learning rate combination, with the best point of all lines marked.

    Parameters
    ----------
    series : mapping of str to (x values, y values)
        Line label -> the hyperparameter values and the metric at them.
    path : str or os.PathLike
        Where to write the figure.
    x_label, y_label : str
        Axis labels (the hyperparameter and the metric).
    log_x : bool, default True
        Logarithmic horizontal axis (C and learning rates span decades).
    title : str, optional
        Figure title.
    second : mapping of str to (x values, y values), optional
        A second metric of the same lines (e.g. the fraction of zero weights against
        C), drawn in a panel beside the first.
    second_label : str, optional
        Its axis label.

    Returns
    -------
    pathlib.Path
        The path written.
    """
    if not series:
        raise ValueError("series is empty: nothing to draw")
    if second:
        fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12.0, 4.2))
        for label, (xs, ys) in second.items():
            xs, ys = _as_float_array(xs, f"x values of {label!r}"), _as_float_array(ys, f"y values of {label!r}")
            order = np.argsort(xs)
            ax2.plot(xs[order], ys[order], marker="o", label=label)
        if log_x:
            ax2.set_xscale("log")
        ax2.set_xlabel(x_label)
        ax2.set_ylabel(second_label or "")
        ax2.grid(True, which="both", alpha=0.3)
        ax2.set_title(f"{second_label} against {x_label}")
    else:
        fig, ax = plt.subplots(figsize=(7.0, 4.2))
    best = None
    for label, (xs, ys) in series.items():
        xs = _as_float_array(xs, f"x values of {label!r}")
        ys = _as_float_array(ys, f"y values of {label!r}")
        if xs.size != ys.size or xs.size == 0:
            raise ValueError(f"series {label!r} has {xs.size} x values and {ys.size} y values")
        if log_x and np.any(xs <= 0):
            raise ValueError(f"series {label!r} has non-positive {x_label} values; use log_x=False")
        order = np.argsort(xs)
        ax.plot(xs[order], ys[order], marker="o", label=label)
        k = int(np.nanargmin(ys)) if np.isfinite(ys).any() else None
        if k is not None and (best is None or ys[k] < best[1]):
            best = (xs[k], ys[k], label)
    if best is not None:
        ax.scatter([best[0]], [best[1]], s=160, facecolors="none", edgecolors="tab:green", linewidths=2,
                   zorder=3, label=f"best: {best[2]}, {x_label}={best[0]:.4g}")
    if log_x:
        ax.set_xscale("log")
    ax.set_xlabel(x_label)
    ax.set_ylabel(y_label)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    ax.set_title(title or f"{y_label} against {x_label}")
    fig.tight_layout()
    return save_figure(fig, path)


def plot_roc_pr(curves: Mapping, path, *, class_names=None, title: str | None = None, max_classes: int = 10,
                n_worst: int = 5):
    """Draw one-vs-rest ROC (left) and precision-recall (right) curves.

    Parameters
    ----------
    curves : mapping
        As returned by :func:`softmax_nb.metrics.one_vs_rest_curves`.
    path : str or os.PathLike
        Where to write the figure.
    class_names : sequence of str, optional
        Names of all classes of the model, in column order.
    title : str, optional
        Figure title.
    max_classes : int, default 10
        Up to this many classes, every class gets a curve. With more, the figure
        shows the micro and macro averages and the ``n_worst`` classes by ROC AUC
        (the legend says so), so it stays legible.
    n_worst : int, default 5

    Returns
    -------
    pathlib.Path
        The path written.
    """
    entries = list(curves["classes"])
    if not entries:
        raise ValueError("curves has no classes to draw")
    n_model_classes = 2 if curves["binary"] else len(entries)
    names = _class_labels(class_names, n_model_classes)
    defined = [c for c in entries if c["roc_auc"] is not None]
    undefined = [c for c in entries if c["roc_auc"] is None]
    if curves["binary"] or len(entries) <= max_classes:
        shown, note = defined, None
    else:
        shown = sorted(defined, key=lambda c: c["roc_auc"])[:n_worst]
        note = f"{len(shown)} worst of {len(entries)} classes by ROC AUC, plus the averages"
    fig, (ax_roc, ax_pr) = plt.subplots(1, 2, figsize=(9.6, 4.6), layout="constrained")
    colors = plt.get_cmap("tab10" if len(shown) <= 10 else "tab20")
    for i, entry in enumerate(shown):
        name = names[entry["index"]]
        if curves["binary"]:
            name = f"{name} vs {names[0]}"
        color = colors(i % colors.N)
        ax_roc.plot(entry["fpr"], entry["tpr"], color=color, linewidth=1.3,
                    label=f"{_shorten(name, 22)} (AUC {entry['roc_auc']:.3f})")
        ax_pr.plot(entry["recall"], entry["precision"], color=color, linewidth=1.3, drawstyle="steps-post",
                   label=f"{_shorten(name, 22)} (AP {entry['average_precision']:.3f})")
    for key, style in (("micro", ":"), ("macro", "--")):
        average = curves.get(key)
        if not average or average.get("roc_auc") is None:
            continue
        ax_roc.plot(average["fpr"], average["tpr"], color="black", linestyle=style, linewidth=1.8,
                    label=f"{key}-average (AUC {average['roc_auc']:.3f})")
        if key == "micro":
            ax_pr.plot(average["recall"], average["precision"], color="black", linestyle=style, linewidth=1.8,
                       drawstyle="steps-post", label=f"micro-average (AP {average['average_precision']:.3f})")
        else:
            # A mean of PR curves is not a PR curve: the macro average is reported as a number only.
            ax_pr.plot([], [], color="none", label=f"macro-average AP {average['average_precision']:.3f}")
    ax_roc.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=0.8, label="chance")
    ax_roc.set_xlabel("false positive rate")
    ax_roc.set_ylabel("true positive rate (recall)")
    ax_roc.set_title("ROC, one class vs the rest", fontsize=10)
    ax_pr.set_xlabel("recall")
    ax_pr.set_ylabel("precision")
    ax_pr.set_title("precision-recall, one class vs the rest", fontsize=10)
    for ax in (ax_roc, ax_pr):
        ax.set_xlim(-0.01, 1.01)
        ax.set_ylim(-0.01, 1.02)
        ax.set_aspect("equal")
        ax.grid(True, alpha=0.3)
        n_entries = len(ax.get_legend_handles_labels()[0])
        ax.legend(fontsize=7.5 if n_entries > 8 else 8.5, loc="lower right" if ax is ax_roc else "lower left",
                  ncols=1, framealpha=0.85)
    heading = title or "one-vs-rest ROC and precision-recall curves (test split)"
    if note:
        heading += f"\n({note})"
    if undefined:
        missing = ", ".join(_shorten(names[c["index"]], 16) for c in undefined[:5])
        heading += f"\nno curve for {len(undefined)} class(es) without test rows: {missing}"
        heading += "..." if len(undefined) > 5 else ""
    fig.suptitle(heading, fontsize=11)
    return save_figure(fig, path)


def _image_limits(images):
    images = np.asarray(images, dtype=np.float64)
    if not images.size:
        return 0.0, 1.0
    low, high = float(np.min(images)), float(np.max(images))
    return (low, high) if high > low else (low, low + 1.0)


def plot_mistakes(mistakes: Sequence[Mapping], path, *, images=None, class_names=None, title: str | None = None,
                  n_total: int | None = None):
    """Draw the most confidently wrong predictions: images with labels, or a table of rows.

    Parameters
    ----------
    mistakes : sequence of mappings
        As returned by :func:`softmax_nb.metrics.most_confident_mistakes`.
    path : str or os.PathLike
        Where to write the figure.
    images : array-like of shape (len(mistakes), height, width), optional
        The mistaken rows as images (pixel values as stored before standardization);
        without them the figure is a table of the rows.
    class_names : sequence of str, optional
        Names of the classes in column order.
    title : str, optional
        Figure title.
    n_total : int, optional
        Number of wrong predictions in all, written in the title.

    Returns
    -------
    pathlib.Path
        The path written.
    """
    mistakes = list(mistakes)
    if class_names is None:
        n_classes = 1 + max([max(m["true"], m["predicted"]) for m in mistakes], default=1)
        class_names = [str(k) for k in range(n_classes)]
    names = [str(name) for name in class_names]
    heading = title or "most confidently wrong test predictions"
    if n_total is not None:
        heading += f"\n{len(mistakes)} of {n_total} wrong predictions, most confident first"
    if not mistakes:
        fig, ax = plt.subplots(figsize=(7.0, 1.8))
        ax.set_axis_off()
        ax.text(0.5, 0.5, "no wrong prediction on the test split", ha="center", va="center", fontsize=11)
        ax.set_title(heading, fontsize=10)
        return save_figure(fig, path)
    if images is not None:
        images = np.asarray(images, dtype=np.float64)
        if images.ndim != 3 or images.shape[0] != len(mistakes):
            raise ValueError(f"images must have shape ({len(mistakes)}, height, width), got {images.shape}")
        n_cols = min(8, len(mistakes))
        n_rows = math.ceil(len(mistakes) / n_cols)
        low, high = _image_limits(images)
        fig, axes = plt.subplots(n_rows, n_cols, figsize=(1.2 * n_cols + 0.2, 1.62 * n_rows + 0.7), squeeze=False)
        for index, ax in enumerate(axes.flat):
            ax.set_xticks([])
            ax.set_yticks([])
            if index >= len(mistakes):
                ax.set_axis_off()
                continue
            m = mistakes[index]
            ax.imshow(images[index], cmap="gray_r", vmin=low, vmax=high, interpolation="nearest")
            ax.set_title(f"true {_shorten(names[m['true']], 12)}\npred {_shorten(names[m['predicted']], 12)}"
                         f"\np = {m['p_predicted']:.3f}", fontsize=7.5)
        fig.suptitle(heading, fontsize=10)
        fig.tight_layout()
        return save_figure(fig, path)
    # Not images: the rows as a table.
    def probability(p):
        return f"{p:.4f}" if p >= 1e-4 else f"{p:.1e}"

    cells = [[str(m["row"]), _shorten(names[m["true"]], 24), _shorten(names[m["predicted"]], 24),
              probability(m["p_predicted"]), probability(m["p_true"])] for m in mistakes]
    fig, ax = plt.subplots(figsize=(7.5, 0.25 * len(cells) + 0.8))
    ax.set_axis_off()
    table = ax.table(cellText=cells, colLabels=["test row", "true class", "predicted class", "p(predicted)",
                                                "p(true)"], loc="upper center", cellLoc="center")
    table.auto_set_font_size(False)
    table.set_fontsize(9)
    table.scale(1.0, 1.25)
    ax.set_title(heading, fontsize=10)
    return save_figure(fig, path)


def plot_class_samples(images, labels, path, *, class_names=None, per_class: int = 6, max_classes: int = 20,
                       title: str | None = None, seed: int = 0):
    """Draw a few images of every class: one row per class.

    Parameters
    ----------
    images : array-like of shape (n_samples, height, width)
        Pixel values (as stored before standardization).
    labels : array-like of shape (n_samples,)
        Class index of every image.
    path : str or os.PathLike
        Where to write the figure.
    class_names : sequence of str, optional
        Names of the classes by index (defaults to 0..max label).
    per_class : int, default 6
        Images per class (a seeded random choice; fewer when a class has fewer).
    max_classes : int, default 20
        Rows drawn at most (the title says when classes were left out).
    title : str, optional
    seed : int, default 0

    Returns
    -------
    pathlib.Path
        The path written.
    """
    images = np.asarray(images, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    if images.ndim != 3 or images.shape[0] != labels.shape[0]:
        raise ValueError(f"images must have shape (n_samples, height, width) matching {labels.shape[0]} labels, "
                         f"got {images.shape}")
    if not labels.size:
        raise ValueError("no images to draw")
    n_classes = len(class_names) if class_names is not None else int(labels.max()) + 1
    names = _class_labels(class_names, n_classes)
    rng = np.random.default_rng(seed)
    shown_classes = list(range(min(n_classes, max_classes)))
    chosen = {}
    for k in shown_classes:
        rows = np.flatnonzero(labels == k)
        chosen[k] = np.sort(rng.choice(rows, size=min(per_class, rows.size), replace=False)) if rows.size else rows
    low, high = _image_limits(images[np.concatenate([chosen[k] for k in shown_classes])])
    fig, axes = plt.subplots(len(shown_classes), per_class, figsize=(0.75 * per_class + 1.4, 0.75 * len(shown_classes) + 0.7),
                             squeeze=False)
    for row, k in enumerate(shown_classes):
        for col in range(per_class):
            ax = axes[row, col]
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if col < len(chosen[k]):
                ax.imshow(images[chosen[k][col]], cmap="gray_r", vmin=low, vmax=high, interpolation="nearest")
            elif col == 0:
                ax.text(0.5, 0.5, "no rows", ha="center", va="center", fontsize=8, transform=ax.transAxes)
        axes[row, 0].set_ylabel(_shorten(names[k], 14), rotation=0, ha="right", va="center", fontsize=9)
    heading = title or "sample images per class"
    if len(shown_classes) < n_classes:
        heading += f"\n(the first {len(shown_classes)} of {n_classes} classes)"
    fig.suptitle(heading, fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)
