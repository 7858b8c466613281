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


@pytest.mark.parametrize("n_features, expected", [(64, (8, 8)), (784, (28, 28)), (5, None), (1, None), (48, None)])
def test_image_shape_for(n_features, expected):
    assert plots.image_shape_for(n_features) == expected


def test_weights_as_images_and_as_heat_map(tmp_path):
    rng = np.random.default_rng(0)
    assert _is_png(plots.plot_weights(rng.standard_normal((10, 64)), tmp_path / "digits.png"))
    assert _is_png(plots.plot_weights(rng.standard_normal((3, 6)), tmp_path / "grid.png", image_shape=(2, 3)))
    heat = plots.plot_weights(
        rng.standard_normal((3, 5)), tmp_path / "heat.png", feature_names=list("abcde"), class_names=["x", "y", "z"]
    )
    assert _is_png(heat)
    # All-zero weights (e.g. an untrained model) must not divide by zero.
    assert _is_png(plots.plot_weights(np.zeros((2, 4)), tmp_path / "zeros.png"))


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
