"""softmax_nb.plots: every figure is written, atomically, and bad input is rejected clearly."""

from __future__ import annotations

import os

import numpy as np
import pytest

from softmax_nb import plots

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _history(n=20, with_validation=True):
    iteration = np.arange(1, n + 1)
    history = {
        "iteration": iteration.tolist(),
        "loss": (2.0 / iteration + 0.1).tolist(),
        "grad_norm": (1.0 / iteration).tolist(),
        "time": (0.01 * iteration).tolist(),
    }
    if with_validation:
        history["val_loss"] = (2.0 / iteration + 0.2).tolist()
        history["val_accuracy"] = (1.0 - 0.5 / iteration).tolist()
    else:
        history["val_loss"] = [float("nan")] * n
        history["val_accuracy"] = [float("nan")] * n
    return history


def _is_png(path):
    with open(path, "rb") as handle:
        return handle.read(8) == PNG_MAGIC


def _no_temporaries(folder):
    return [name for name in os.listdir(folder) if name.startswith(".")] == []


def test_history_plot(tmp_path):
    path = plots.plot_history(_history(), tmp_path / "history.png", title="digits / lbfgs")
    assert _is_png(path) and _no_temporaries(tmp_path)


def test_history_without_validation_still_plots(tmp_path):
    # A fit that stopped at its starting point has an empty history: a figure that says so.
    empty = {key: [] for key in ("iteration", "loss", "grad_norm", "val_loss")}
    assert plots.plot_history(empty, tmp_path / "empty.png").read_bytes().startswith(b"\x89PNG")
    path = plots.plot_history(_history(with_validation=False), tmp_path / "h.png", x_label="epoch")
    assert _is_png(path)


def test_history_rejects_mismatched_lengths(tmp_path):
    history = _history()
    history["val_loss"] = history["val_loss"][:-1]
    with pytest.raises(ValueError, match="val_loss"):
        plots.plot_history(history, tmp_path / "h.png")
    assert not (tmp_path / "h.png").exists() and _no_temporaries(tmp_path)


def test_history_needs_loss(tmp_path):
    with pytest.raises(KeyError, match="loss"):
        plots.plot_history({"iteration": [1, 2]}, tmp_path / "h.png")


def test_confusion_matrix_with_an_absent_class(tmp_path):
    counts = np.array([[5, 1, 0], [0, 0, 0], [2, 0, 7]])  # class 1 has no samples: no NaN, no crash
    path = plots.plot_confusion_matrix(counts, tmp_path / "cm.png", class_names=["a", "b", "c"])
    assert _is_png(path)


def test_confusion_matrix_rejects_non_square(tmp_path):
    with pytest.raises(ValueError, match="square"):
        plots.plot_confusion_matrix(np.ones((2, 3)), tmp_path / "cm.png")


def test_confusion_matrix_checks_class_names(tmp_path):
    with pytest.raises(ValueError, match="3 class names for 2 classes"):
        plots.plot_confusion_matrix(np.eye(2), tmp_path / "cm.png", class_names=["a", "b", "c"])


def test_per_class_metrics(tmp_path):
    path = plots.plot_per_class_metrics(
        [0.9, 1.0, np.nan], [0.8, 0.95, 0.0], [0.85, 0.97, np.nan], tmp_path / "pc.svg", support=[10, 12, 3]
    )
    assert path.read_text().lstrip().startswith("<?xml")


def test_per_class_metrics_rejects_length_mismatch(tmp_path):
    with pytest.raises(ValueError, match="recall has 2 entries"):
        plots.plot_per_class_metrics([0.9, 1.0, 0.5], [0.8, 0.9], [0.8, 0.9, 0.5], tmp_path / "pc.png")


def _drawn(monkeypatch, draw):
    """Call ``draw()`` and return the matplotlib figure it saved (the file is still written)."""
    figures = []
    real = plots.save_figure

    def capture(fig, path):
        figures.append(fig)
        return real(fig, path)

    monkeypatch.setattr(plots, "save_figure", capture)
    draw()
    assert len(figures) == 1
    return figures[0]


def test_weights_are_images_only_with_a_declared_image_shape(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    images = _drawn(monkeypatch, lambda: plots.plot_weights(rng.standard_normal((10, 64)), tmp_path / "digits.png",
                                                            image_shape=(8, 8)))
    assert sum(len(ax.images) for ax in images.axes) == 10
    assert _is_png(tmp_path / "digits.png")
    # 64 or 4 features without a declared shape are not pictures: bars of named features.
    for n_features in (64, 4):
        fig = _drawn(monkeypatch, lambda: plots.plot_weights(rng.standard_normal((3, n_features)),
                                                             tmp_path / f"bars{n_features}.png"))
        assert sum(len(ax.images) for ax in fig.axes) == 0
        panels = [ax for ax in fig.axes if ax.patches]
        assert len(panels) == 3
        assert all(len(ax.patches) == min(10, n_features) for ax in panels)


def test_weight_bars_name_the_largest_features(tmp_path, monkeypatch):
    coef = np.array([[0.1, -3.0, 0.5, 2.0], [1.0, 0.0, -0.2, 0.3], [0.0, 0.0, 4.0, -0.1]])
    names = ["sepal length", "sepal width", "petal length", "petal width"]
    fig = _drawn(monkeypatch, lambda: plots.plot_weights(coef, tmp_path / "iris.png", feature_names=names,
                                                         class_names=["a", "b", "c"], top_k=2))
    panels = [ax for ax in fig.axes if ax.patches]
    shown = [[label.get_text() for label in ax.get_yticklabels()] for ax in panels]
    assert shown == [["sepal width", "petal width"], ["sepal length", "petal width"],
                     ["petal length", "petal width"]]
    assert [round(p.get_width(), 6) for p in panels[0].patches] == [-3.0, 2.0]
    assert "a" in panels[0].get_title() and "top 2 of 4" in panels[0].get_title()


def test_binary_weight_bars_are_the_log_odds_of_the_second_class(tmp_path, monkeypatch):
    fig = _drawn(monkeypatch, lambda: plots.plot_weights(np.array([[1.0, -2.0, 0.5]]), tmp_path / "bin.png",
                                                         class_names=["no", "yes"]))
    panels = [ax for ax in fig.axes if ax.patches]
    assert len(panels) == 1 and "log-odds of yes (vs no)" in panels[0].get_title()
    assert [t.get_text() for t in panels[0].get_yticklabels()] == ["feature 1", "feature 0", "feature 2"]


def test_weights_as_images_and_as_bars(tmp_path):
    rng = np.random.default_rng(0)
    assert _is_png(plots.plot_weights(rng.standard_normal((3, 6)), tmp_path / "grid.png", image_shape=(2, 3)))
    bars = plots.plot_weights(
        rng.standard_normal((3, 5)), tmp_path / "bars.png", feature_names=list("abcde"), class_names=["x", "y", "z"]
    )
    assert _is_png(bars)
    # All-zero weights (e.g. an untrained model) must not divide by zero.
    assert _is_png(plots.plot_weights(np.zeros((2, 4)), tmp_path / "zeros.png"))
    with pytest.raises(ValueError, match="3 feature names for 5 features"):
        plots.plot_weights(np.zeros((2, 5)), tmp_path / "w.png", feature_names=list("abc"))


def test_weights_reject_a_wrong_image_shape(tmp_path):
    with pytest.raises(ValueError, match="does not hold 64 features"):
        plots.plot_weights(np.zeros((2, 64)), tmp_path / "w.png", image_shape=(7, 9))


def test_reliability_with_empty_bins(tmp_path):
    confidence = [np.nan, 0.45, 0.7, 0.95]
    accuracy = [np.nan, 0.4, 0.75, 0.97]
    path = plots.plot_reliability(confidence, accuracy, [0, 3, 10, 80], tmp_path / "rel.png", ece=0.0123)
    assert _is_png(path)


def test_reliability_rejects_uneven_bins(tmp_path):
    with pytest.raises(ValueError, match="differ in length"):
        plots.plot_reliability([0.5, 0.9], [0.5], [1, 2], tmp_path / "rel.png")


def test_model_comparison(tmp_path):
    rows = [
        {"dataset": "digits", "model": "lbfgs", "test_accuracy": 0.96, "test_log_loss": 0.13, "val_loss": 0.16,
         "fit_time": 0.7, "best": True},
        {"dataset": "digits", "model": "sgd", "test_accuracy": 0.95, "test_log_loss": 0.15, "val_loss": 0.18,
         "fit_time": 0.05, "best": False},
    ]
    assert _is_png(plots.plot_model_comparison(rows, tmp_path / "cmp.png"))


def _comparison_rows(n, accuracy=(0.93, 0.97)):
    rng = np.random.default_rng(n)
    return [{"model": f"model_{i}", "test_accuracy": float(rng.uniform(*accuracy)),
             "test_log_loss": float(rng.uniform(0.1, 0.5)), "val_loss": float(rng.uniform(0.1, 0.5)),
             "fit_time": float(rng.uniform(0.01, 3.0)), "best": i == 0} for i in range(n)]


def test_model_comparison_says_where_a_zoomed_accuracy_axis_starts(tmp_path, monkeypatch):
    rows = _comparison_rows(4)
    fig = _drawn(monkeypatch, lambda: plots.plot_model_comparison(rows, tmp_path / "cmp.png"))
    accuracy_axis = next(ax for ax in fig.axes if ax.get_xlabel().startswith("test accuracy"))
    start = accuracy_axis.get_xlim()[0]
    assert 0 < start < min(row["test_accuracy"] for row in rows)
    assert f"axis starts at {start:g}, not 0" in accuracy_axis.get_xlabel()
    assert max(accuracy_axis.get_xticks()) <= 1.0  # no accuracy ticks above 1
    # Accuracy as dots (no bar lengths on a truncated axis); the losses as bars from 0.
    assert not accuracy_axis.patches and accuracy_axis.collections
    for ax in fig.axes:
        if "log-loss" in ax.get_xlabel():
            assert ax.get_xlim()[0] == 0 and ax.patches
    # Widely spread accuracies start at 0, and the label does not claim otherwise.
    fig = _drawn(monkeypatch, lambda: plots.plot_model_comparison(_comparison_rows(3, (0.2, 0.9)),
                                                                  tmp_path / "wide.png"))
    axis = next(ax for ax in fig.axes if ax.get_xlabel().startswith("test accuracy"))
    assert axis.get_xlim()[0] == 0 and axis.get_xlabel() == "test accuracy"


@pytest.mark.parametrize("n_models", [1, 8, 60])
def test_model_comparison_keeps_its_text_size_for_any_number_of_models(tmp_path, monkeypatch, n_models):
    fig = _drawn(monkeypatch, lambda: plots.plot_model_comparison(_comparison_rows(n_models), tmp_path / "c.png"))
    width, height = fig.get_size_inches()
    # About page width (the report shows it unscaled), taller with more models: the labels
    # keep their size and do not overlap.
    assert width <= 10.0
    assert height >= 0.6 * n_models * 0.3 * 2
    labels = fig.axes[0].get_yticklabels()
    assert len(labels) == n_models and all(label.get_fontsize() >= 8 for label in labels)


def test_model_comparison_rejects_incomplete_rows(tmp_path):
    with pytest.raises(KeyError, match="val_loss"):
        plots.plot_model_comparison([{"model": "a", "test_accuracy": 1, "test_log_loss": 0, "fit_time": 1}],
                                    tmp_path / "cmp.png")
    with pytest.raises(ValueError, match="no rows"):
        plots.plot_model_comparison([], tmp_path / "cmp.png")


def test_save_needs_a_suffix(tmp_path):
    import matplotlib.pyplot as plt

    fig = plt.figure()
    with pytest.raises(ValueError, match="suffix"):
        plots.save_figure(fig, tmp_path / "figure")
    plt.close(fig)


def test_failed_save_keeps_the_old_file(tmp_path, monkeypatch):
    import matplotlib.figure

    target = tmp_path / "history.png"
    plots.plot_history(_history(), target)
    before = target.read_bytes()

    def broken_savefig(self, *args, **kwargs):
        with open(args[0], "wb") as handle:
            handle.write(b"half a fig")  # a partial write, then a crash
        raise OSError("disk full")

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", broken_savefig)
    with pytest.raises(OSError, match="disk full"):
        plots.plot_history(_history(5), target)
    assert target.read_bytes() == before
    assert _no_temporaries(tmp_path)


def test_parameter_curves(tmp_path):
    series = {"lbfgs, dtype=float32": ([0.01, 1.0, 0.1], [1.2, 1.0, 1.1]), "adam": ([0.1, 1.0], [1.05, 1.3])}
    assert _is_png(plots.plot_parameter_curves(series, tmp_path / "sweep.png"))


def test_parameter_curves_reject_bad_series(tmp_path):
    with pytest.raises(ValueError, match="empty"):
        plots.plot_parameter_curves({}, tmp_path / "s.png")
    with pytest.raises(ValueError, match="2 x values and 1 y values"):
        plots.plot_parameter_curves({"a": ([1.0, 2.0], [1.0])}, tmp_path / "s.png")
    with pytest.raises(ValueError, match="non-positive"):
        plots.plot_parameter_curves({"a": ([0.0, 2.0], [1.0, 2.0])}, tmp_path / "s.png")


def _curves(n_classes, n=400, seed=0):
    from softmax_nb.metrics import one_vs_rest_curves

    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes, n)
    logits = rng.normal(size=(n, n_classes))
    logits[np.arange(n), y] += 2.0
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return one_vs_rest_curves(y, proba)


def _legend_texts(ax):
    return [t.get_text() for t in ax.get_legend().get_texts()]


def test_roc_pr_draws_every_class_up_to_ten(tmp_path, monkeypatch):
    fig = _drawn(monkeypatch, lambda: plots.plot_roc_pr(_curves(4), tmp_path / "roc.png",
                                                        class_names=["a", "b", "c", "d"]))
    roc, pr = fig.axes[:2]
    texts = _legend_texts(roc)
    assert [t.split(" (")[0] for t in texts[:4]] == ["a", "b", "c", "d"]
    assert any(t.startswith("micro-average") for t in texts) and any(t.startswith("macro-average") for t in texts)
    assert any("AP" in t for t in _legend_texts(pr))
    assert _is_png(tmp_path / "roc.png")


def test_roc_pr_with_many_classes_shows_the_averages_and_the_worst(tmp_path, monkeypatch):
    curves = _curves(30, n=3000)
    fig = _drawn(monkeypatch, lambda: plots.plot_roc_pr(curves, tmp_path / "roc.png"))
    texts = _legend_texts(fig.axes[0])
    per_class = [t for t in texts if not t.startswith(("micro", "macro", "chance"))]
    assert len(per_class) == 5
    worst = sorted(curves["classes"], key=lambda c: c["roc_auc"])[:5]
    assert {t.split(" (")[0] for t in per_class} == {str(c["index"]) for c in worst}
    assert "5 worst of 30 classes" in fig._suptitle.get_text()


def test_roc_pr_of_a_binary_model_is_one_curve(tmp_path, monkeypatch):
    fig = _drawn(monkeypatch, lambda: plots.plot_roc_pr(_curves(2), tmp_path / "roc.png", class_names=["no", "yes"]))
    texts = _legend_texts(fig.axes[0])
    assert texts[0].startswith("yes vs no") and not any(t.startswith(("micro", "macro")) for t in texts)


def test_roc_pr_names_a_class_without_test_rows(tmp_path, monkeypatch):
    from softmax_nb.metrics import one_vs_rest_curves

    proba = np.array([[0.7, 0.2, 0.1], [0.2, 0.7, 0.1], [0.6, 0.3, 0.1], [0.3, 0.6, 0.1]])
    curves = one_vs_rest_curves(np.array([0, 1, 0, 1]), proba)
    fig = _drawn(monkeypatch, lambda: plots.plot_roc_pr(curves, tmp_path / "roc.png", class_names=["a", "b", "c"]))
    assert "without test rows: c" in fig._suptitle.get_text()


def test_mistakes_as_images_as_a_table_and_none(tmp_path, monkeypatch):
    mistakes = [{"row": 7, "true": 1, "predicted": 0, "p_predicted": 0.99, "p_true": 0.004},
                {"row": 3, "true": 0, "predicted": 2, "p_predicted": 0.8, "p_true": 0.1}]
    fig = _drawn(monkeypatch, lambda: plots.plot_mistakes(mistakes, tmp_path / "img.png", images=np.ones((2, 4, 4)),
                                                          class_names=["a", "b", "c"], n_total=5))
    titles = [ax.get_title() for ax in fig.axes if ax.images]
    assert titles == ["true b\npred a\np = 0.990", "true a\npred c\np = 0.800"]
    assert "2 of 5 wrong predictions" in fig._suptitle.get_text()
    fig = _drawn(monkeypatch, lambda: plots.plot_mistakes(mistakes, tmp_path / "table.png", class_names=["a", "b", "c"]))
    cells = fig.axes[0].tables[0].get_celld()
    assert cells[(1, 0)].get_text().get_text() == "7" and cells[(1, 2)].get_text().get_text() == "a"
    assert _is_png(plots.plot_mistakes([], tmp_path / "none.png", n_total=0))
    with pytest.raises(ValueError, match="images must have shape"):
        plots.plot_mistakes(mistakes, tmp_path / "bad.png", images=np.ones((3, 4, 4)))


def test_class_samples(tmp_path, monkeypatch):
    images = np.arange(30 * 16, dtype=float).reshape(30, 4, 4)
    labels = np.repeat([0, 1, 2], 10)
    fig = _drawn(monkeypatch, lambda: plots.plot_class_samples(images, labels, tmp_path / "s.png", per_class=4,
                                                               class_names=["x", "y", "z"]))
    assert sum(len(ax.images) for ax in fig.axes) == 12
    assert [fig.axes[4 * k].get_ylabel() for k in range(3)] == ["x", "y", "z"]
    with pytest.raises(ValueError, match="images must have shape"):
        plots.plot_class_samples(np.ones((5, 16)), np.zeros(5), tmp_path / "bad.png")
