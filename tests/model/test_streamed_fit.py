"""Out-of-core training: the streamed objective, solvers, partial_fit, checkpoints and resume, memory budget."""

import json
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from softmax_nb import SoftmaxClassifier
from softmax_nb.model.persistence import load_model
from softmax_nb.data import streaming
from softmax_nb.kernels import cpu as kernels
from softmax_nb.model import incremental
from softmax_nb.model.backends import StreamedRows
from softmax_nb.model.estimator import fit_streaming
from softmax_nb.model.objective import SoftmaxObjective, class_weight_vector
from softmax_nb import files as sio
from softmax_nb.cli import main as cli_main
from synthetic_files import make_dataset, rel_error

ROOT = Path(__file__).resolve().parents[2]


# -- streamed objective --------------------------------------------------------


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("class_weight", [None, "balanced"])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
def test_streamed_loss_gradient_equals_in_memory(small, fit_intercept, class_weight, label_smoothing):
    X, y, info = sio.read_dataset(small, "train")
    counts = np.bincount(y, minlength=info["n_classes"])
    weights = class_weight_vector(class_weight, info["classes"], class_counts=counts)
    rng = np.random.default_rng(3)
    coef = rng.standard_normal((info["n_classes"], info["n_features"]))
    intercept = rng.standard_normal(info["n_classes"]) if fit_intercept else None
    sample_weight = None if weights is None else weights[y]
    total = len(y) if weights is None else sample_weight.sum()
    C = 0.5
    expected = kernels.loss_gradient(X, y, coef, intercept, sample_weight, 1.0 / (C * total), label_smoothing)
    # Tiny blocks (2 file chunks of 7 rows) and a budget-chosen partition alike.
    for options in ({"block_rows": 14}, {"max_memory_mb": 4}):
        with streaming.H5Stream(small, "train", **options) as stream:
            rows = StreamedRows(stream, weights)
            assert rows.total_weight == pytest.approx(total, rel=1e-15)
            objective = SoftmaxObjective(rows, info["n_classes"], fit_intercept=fit_intercept,
                                         C=C, label_smoothing=label_smoothing)
            loss, grad_coef, grad_intercept = objective.loss_gradient(coef, intercept)
        assert abs(loss - expected[0]) <= 1e-12 * abs(expected[0])
        assert rel_error(grad_coef, expected[1]) <= 1e-12
        if fit_intercept:
            assert rel_error(grad_intercept, expected[2]) <= 1e-12
        else:
            assert grad_intercept is None


def test_streamed_float32_within_documented_tolerance(tmp_path):
    path = make_dataset(tmp_path / "f32.h5", dtype="float32", chunk_rows=10)
    X, y, info = sio.read_dataset(path, "train")
    coef = np.random.default_rng(0).standard_normal((info["n_classes"], info["n_features"]))
    expected = kernels.loss_gradient(X, y, coef, np.zeros(info["n_classes"]))
    with streaming.H5Stream(path, "train", block_rows=30) as stream:
        loss, grad_coef, _ = SoftmaxObjective(StreamedRows(stream), info["n_classes"], C=np.inf).loss_gradient(
            coef, np.zeros(info["n_classes"]))
    # float32 dot products, summed in float32 per block of rows (kernels.cpu.block_rows): the block edges move.
    assert abs(loss - expected[0]) <= 1e-6 * abs(expected[0])
    assert rel_error(grad_coef, expected[1]) <= 1e-5


def test_block_partition_is_reproducible(small):
    coef = np.random.default_rng(1).standard_normal((4, 12))
    results = []
    for rows in (14, 14, 700):
        with streaming.H5Stream(small, "train", block_rows=rows) as stream:
            results.append(SoftmaxObjective(StreamedRows(stream), 4, C=np.inf).loss_gradient(coef, np.ones(4)))
    assert results[0][0] == results[1][0] and np.array_equal(results[0][1], results[1][1])
    assert results[0][0] == pytest.approx(results[2][0], rel=1e-13)


# -- solvers -------------------------------------------------------------------


def test_streamed_lbfgs_equals_in_memory_fit(small):
    X, y, info = sio.read_dataset(small, "train")
    labels = info["classes"][y]
    params = {"C": 2.0, "max_iter": 6, "tol": 1e-12}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reference = SoftmaxClassifier(**params).fit(X, labels)
        streamed = fit_streaming(small, params, max_memory_mb=4, eval_split=None, progress=False)
    assert streamed.n_iter_ == reference.n_iter_ == 6
    # Same path to within rounding: the objectives differ by a few ulps only.
    assert rel_error(streamed.coef_, reference.coef_) <= 1e-10
    assert rel_error(streamed.intercept_, reference.intercept_) <= 1e-10
    np.testing.assert_allclose(streamed.history_["loss"], reference.history_["loss"], rtol=1e-12)
    # Run to convergence, both reach the same optimum (to the precision J determines it).
    full = fit_streaming(small, {"C": 2.0, "tol": 1e-8, "max_iter": 300}, max_memory_mb=4,
                                   progress=False)
    ref_full = SoftmaxClassifier(C=2.0, tol=1e-8, max_iter=300).fit(X, labels)
    assert rel_error(full.coef_, ref_full.coef_) <= 1e-5
    assert full.history_["loss"][-1] == pytest.approx(ref_full.history_["loss"][-1], rel=1e-12)
    assert np.all(np.isfinite(full.history_["val_loss"]))
    model = load_model(_save(full, small.parent / "model.h5"))
    assert np.array_equal(model.predict(X), full.predict(X))


def _save(clf, path):
    sio.save_model(path, clf)
    return path


def test_streamed_gd_and_max_iter_warning(small):
    with pytest.warns(ConvergenceWarning, match="failed to converge"):
        clf = fit_streaming(small, {"solver": "gd", "max_iter": 3}, max_memory_mb=4, progress=False)
    assert clf.n_iter_ == 3 and len(clf.history_["loss"]) == 3
    assert clf.history_["loss"][-1] < clf.history_["loss"][0]


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_minibatch_streaming_is_seeded_and_learns(small, solver):
    params = {"solver": solver, "max_iter": 8, "random_state": 0, "batch_size": 32,
              "learning_rate": 0.05 if solver == "sgd" else 0.01}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        first = fit_streaming(small, params, max_memory_mb=4, progress=False)
        second = fit_streaming(small, params, max_memory_mb=4, progress=False)
    assert np.array_equal(first.coef_, second.coef_)
    lbfgs = fit_streaming(small, {"max_iter": 200}, max_memory_mb=4, progress=False)
    X, y, info = sio.read_dataset(small, "val")
    labels = info["classes"][y]
    assert first.score(X, labels) >= lbfgs.score(X, labels) - 0.05
    assert first.history_["loss"][-1] <= 1.05 * lbfgs.history_["loss"][-1] + 0.02


def test_early_stopping_uses_the_validation_split(small):
    clf = fit_streaming(small, {"solver": "sgd", "max_iter": 50, "early_stopping": True,
                                          "n_iter_no_change": 2, "tol": 1.0, "random_state": 0},
                                  max_memory_mb=4, progress=False)
    # With tol=1 no epoch after the first counts as an improvement: stop after 1 + 2.
    assert clf.n_iter_ == 3
    best = int(np.argmin(clf.history_["val_loss"]))
    assert clf.history_["val_loss"][best] == min(clf.history_["val_loss"])


def test_fit_streaming_rejects_what_it_cannot_do(small):
    with pytest.raises(ValueError, match="CPU"):
        fit_streaming(small, {"device": "cuda"}, max_memory_mb=4)
    with pytest.raises(ValueError, match="validation split"):
        fit_streaming(small, {"solver": "sgd", "early_stopping": True}, max_memory_mb=4,
                                eval_split=None)
    with pytest.raises(streaming.MemoryBudgetError, match="max_memory_mb=0.5 is too small"):
        fit_streaming(small, {}, max_memory_mb=0.5)


# -- partial_fit ---------------------------------------------------------------


def test_partial_fit_over_chunks_converges(small):
    X, y, info = sio.read_dataset(small, "train")
    labels = info["classes"][y]
    X_val, y_val, _ = sio.read_dataset(small, "val")
    full = SoftmaxClassifier(max_iter=200).fit(X, labels)
    clf = SoftmaxClassifier(solver="sgd", learning_rate=0.02, batch_size=16, random_state=0)
    for epoch in range(6):
        for start in range(0, len(X), 100):
            incremental.partial_fit(clf, X[start:start + 100], labels[start:start + 100],
                                  classes=info["classes"] if epoch == 0 and start == 0 else None)
    assert clf.n_iter_ == 6 * len(range(0, len(X), 100))
    val_labels = info["classes"][y_val]
    assert clf.score(X_val, val_labels) >= full.score(X_val, val_labels) - 0.03
    assert clf.objective(X, labels) <= 1.03 * full.objective(X, labels)


def test_incremental_trainer_keeps_optimizer_state(small):
    X, y, info = sio.read_dataset(small, "train")
    labels = info["classes"][y]
    params = {"solver": "adam", "learning_rate": 0.01, "random_state": 0, "batch_size": 50}
    one = incremental.IncrementalTrainer(info["classes"], params)
    one.partial_fit(X[:600], labels[:600])
    one.partial_fit(X[600:], labels[600:])
    # The update counter (Adam's bias correction) carries over between calls.
    assert one.optimizer.n_updates == 12 + -(-(len(X) - 600) // 50)
    assert one.optimizer.iteration == 2 and len(one.history["loss"]) == 2
    again = incremental.IncrementalTrainer(info["classes"], params)
    again.partial_fit(X[:600], labels[:600])
    again.partial_fit(X[600:], labels[600:])
    assert np.array_equal(one.coef, again.coef)


def test_partial_fit_errors(small):
    X, y, info = sio.read_dataset(small, "train")
    labels = info["classes"][y]
    with pytest.raises(ValueError, match="classes must be given"):
        incremental.partial_fit(SoftmaxClassifier(solver="sgd"), X, labels)
    with pytest.raises(ValueError, match="solver 'sgd' or 'adam'"):
        incremental.partial_fit(SoftmaxClassifier(), X, labels, classes=info["classes"])
    clf = SoftmaxClassifier(solver="sgd")
    incremental.partial_fit(clf, X[:50], labels[:50], classes=info["classes"])
    with pytest.raises(ValueError, match="not in classes"):
        incremental.partial_fit(clf, X[:2], np.array([99, 98]))
    with pytest.raises(ValueError, match="features"):
        incremental.partial_fit(clf, X[:5, :3], labels[:5])
    # After fit, partial_fit continues from the fitted parameters.
    fitted = SoftmaxClassifier(solver="sgd", max_iter=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fitted.fit(X, labels)
    before = fitted.objective(X, labels)
    incremental.partial_fit(fitted, X, labels)
    assert fitted.objective(X, labels) < before + 1e-3


# -- memory budget (subprocess RSS) --------------------------------------------


_RSS_CHILD = textwrap.dedent("""
    import json, resource, sys, warnings
    from softmax_nb.model.estimator import fit_streaming
    tiny, big, budget = sys.argv[1], sys.argv[2], float(sys.argv[3])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # Imports, compilation, the reader thread and tqdm: the baseline.
        fit_streaming(tiny, {"max_iter": 2}, max_memory_mb=budget, progress=False)
        baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        clf = None
        if big != "-":
            clf = fit_streaming(big, {"max_iter": 2}, max_memory_mb=budget, progress=False)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"baseline_kib": baseline, "peak_kib": peak,
                      "streaming": clf.streaming_ if clf else None}))
""")


def _write_random(path, rows, n_features=784, n_classes=10, seed=0):
    rng = np.random.default_rng(seed)
    split_rows = {"train": rows, "val": rows // 10, "test": 10}
    with sio.DatasetWriter(path, np.arange(n_classes), n_features, split_rows, dtype="float32",
                           attrs={"source": "synthetic"}) as writer:
        for split, n in split_rows.items():
            for start in range(0, n, 4096):
                m = min(4096, n - start)
                writer.append(split, rng.standard_normal((m, n_features), dtype=np.float32),
                              rng.integers(0, n_classes, m))
    return path


def test_peak_memory_stays_within_budget_on_a_larger_file(tmp_path):
    tiny = _write_random(tmp_path / "tiny.h5", 500)
    big = _write_random(tmp_path / "big.h5", 20_000)  # 63 MB of X, 4x the budget
    budget = 16
    x_bytes = 20_000 * 784 * 4
    assert x_bytes > 3 * budget * 2**20
    env = {**os.environ, "NUMBA_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}

    def run(data):
        out = subprocess.run([sys.executable, "-c", _RSS_CHILD, str(tiny), data, str(budget)],
                             capture_output=True, text=True, env=env, check=True)
        return json.loads(out.stdout.strip().splitlines()[-1])

    baseline = run("-")
    streamed = run(str(big))
    assert streamed["streaming"]["bytes_read"] >= 3 * x_bytes  # it did read the file, several times
    growth_mib = (streamed["peak_kib"] - baseline["peak_kib"]) / 1024
    assert growth_mib <= budget, f"peak RSS grew {growth_mib:.1f} MiB over the baseline, budget {budget} MiB"


# -- writer and CLI ------------------------------------------------------------


def test_cli_train_with_max_memory_mb(small, tmp_path, capsys):
    out = tmp_path / "model.h5"
    history = tmp_path / "history.csv"
    code = cli_main(["train", str(small), "-o", str(out), "--max-memory-mb", "4", "--history", str(history),
                     "--C", "2.0", "--max-iter", "300", "--tol", "1e-8"])
    assert code == 0
    model, model_info = load_model(out, return_info=True)
    assert model_info["extra"]["streaming"]["max_memory_mb"] == 4
    reference = out.with_name("reference.h5")
    assert cli_main(["train", str(small), "-o", str(reference), "--C", "2.0", "--max-iter", "300",
                     "--tol", "1e-8", "--no-checkpoint"]) == 0
    X, _, _ = sio.read_dataset(small, "test")
    np.testing.assert_allclose(model.predict_proba(X), load_model(reference).predict_proba(X), atol=1e-6)
    assert history.read_text().startswith("iteration,")
    # The budget may also come with the hyperparameters (a workflow model entry).
    via_params = tmp_path / "via_params.h5"
    assert cli_main(["train", str(small), "-o", str(via_params), "--params",
                     json.dumps({"max_memory_mb": 4, "max_iter": 3})]) == 0
    assert load_model(via_params, return_info=True)[1]["extra"]["streaming"]["max_memory_mb"] == 4
    # --resume (which the workflow always passes) without a checkpoint yet trains from the start.
    assert cli_main(["train", str(small), "-o", str(tmp_path / "x.h5"), "--max-memory-mb", "4",
                     "--resume", "--max-iter", "2"]) == 0
    assert "training from the start" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        cli_main(["train", str(small), "-o", str(tmp_path / "y.h5"), "--max-memory-mb", "0.5"])
    assert exit_info.value.code == 1
    assert "too small" in capsys.readouterr().err


def test_partial_fit_state_pickles_without_old_rows(small):
    import pickle

    X, y, info = sio.read_dataset(small, "train")
    clf = SoftmaxClassifier(solver="adam", random_state=0)
    incremental.partial_fit(clf, X[:300], info["classes"][y[:300]], classes=info["classes"])
    copy = pickle.loads(pickle.dumps(clf))
    assert len(pickle.dumps(clf)) < X[:300].nbytes  # the first piece is not kept
    incremental.partial_fit(clf, X[300:], info["classes"][y[300:]])
    incremental.partial_fit(copy, X[300:], info["classes"][y[300:]])
    assert np.array_equal(clf.coef_, copy.coef_)


@pytest.mark.parametrize("class_weight", ["balanced", {0: 2.0, 3: 0.5}])
def test_streamed_class_weight_equals_in_memory(small, class_weight):
    X, y, info = sio.read_dataset(small, "train")
    params = {"max_iter": 5, "class_weight": class_weight, "fit_intercept": False}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reference = SoftmaxClassifier(**params).fit(X, info["classes"][y])
        streamed = fit_streaming(small, params, max_memory_mb=4, progress=False)
    assert rel_error(streamed.coef_, reference.coef_) <= 1e-10
    assert np.all(streamed.intercept_ == 0)


# -- one training loop: streamed fits checkpoint, resume and warn like in-memory fits --


@pytest.mark.parametrize("solver", ["lbfgs", "gd", "sgd", "adam"])
def test_streamed_resume_is_bitwise(small, tmp_path, solver):
    params = {"solver": solver, "tol": 1e-12, "random_state": 0, "batch_size": 32}
    path = str(tmp_path / "state.ckpt")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        full = fit_streaming(small, {**params, "max_iter": 8}, max_memory_mb=4, progress=False)
        fit_streaming(small, {**params, "max_iter": 3, "checkpoint_path": path, "checkpoint_every": 1},
                      max_memory_mb=4, progress=False)
        resumed = fit_streaming(small, {**params, "max_iter": 8, "checkpoint_path": path},
                                max_memory_mb=4, progress=False, resume=True)
    np.testing.assert_array_equal(full.coef_, resumed.coef_)
    np.testing.assert_array_equal(full.intercept_, resumed.intercept_)
    assert full.history_["loss"] == resumed.history_["loss"]
    # A checkpoint written with other hyperparameters is refused, with a message.
    with pytest.warns(ConvergenceWarning, match="failed to converge after 2 iteration"):
        fit_streaming(small, {**params, "max_iter": 2, "checkpoint_path": path, "checkpoint_every": 1},
                      max_memory_mb=4, progress=False)
    with pytest.raises(ValueError, match="other training data or other hyperparameters"):
        fit_streaming(small, {**params, "C": 0.5, "max_iter": 8, "checkpoint_path": path},
                      max_memory_mb=4, progress=False, resume=True)


def test_streamed_history_and_warnings_match_in_memory(small):
    X, y, info = sio.read_dataset(small, "train")
    X_val, y_val, _ = sio.read_dataset(small, "val")
    labels = info["classes"]
    params = {"C": np.inf, "max_iter": 4, "tol": 1e-12}
    with pytest.warns(ConvergenceWarning) as streamed_warnings:
        streamed = fit_streaming(small, params, max_memory_mb=4, progress=False)
    with pytest.warns(ConvergenceWarning) as memory_warnings:
        in_memory = SoftmaxClassifier(**params).fit(X, labels[y], eval_set=(X_val, labels[y_val]))
    assert set(streamed.history_) == set(in_memory.history_)
    # Train accuracy is recorded whenever validation rows are monitored, in both.
    assert not np.isnan(streamed.history_["train_accuracy"]).any()
    np.testing.assert_allclose(streamed.history_["train_accuracy"], in_memory.history_["train_accuracy"])
    assert sorted(str(w.message)[:40] for w in streamed_warnings) == \
        sorted(str(w.message)[:40] for w in memory_warnings)
