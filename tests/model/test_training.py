"""The one training loop: stopping rules, warnings, a diverging loss, partial_fit's
epochs, and the float64 gradient check of a float32 model."""

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning

from softmax_nb import SoftmaxClassifier
from softmax_nb.model import training
from softmax_nb.model.gradcheck import gradcheck_model


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X / 16.0, y


def test_monitor_counts_rounds_without_improvement():
    monitor = training.Monitor(tol=0.1, n_iter_no_change=2)
    x = np.zeros(1)
    assert not monitor.update(1.0, x)
    assert not monitor.update(0.95, x + 1)   # better, but not by tol: a bad round
    assert monitor.update(0.99, x + 2)       # second bad round: stop
    assert monitor.best_value == 0.95 and monitor.best_x[0] == 1
    state = monitor.state_dict()
    again = training.Monitor(0.1, 2)
    again.load_state_dict(state)
    assert again.stopped and again.best_value == 0.95


def test_history_columns_are_the_same_for_every_solver(digits):
    X, y = digits
    for solver in ("lbfgs", "gd", "sgd", "adam"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf = SoftmaxClassifier(solver=solver, max_iter=3).fit(X, y, eval_set=(X[:100], y[:100]))
        assert tuple(clf.history_) == training.HISTORY_KEYS
        assert clf.history_["iteration"] == list(range(1, clf.n_iter_[0] + 1))
        assert not np.isnan(clf.history_["train_accuracy"]).any()


def test_a_diverging_loss_stops_with_advice(digits):
    X, y = digits
    with pytest.raises(FloatingPointError, match="lower learning_rate"):
        SoftmaxClassifier(solver="sgd", learning_rate=1e12, momentum=0.0, max_iter=5).fit(X * 1e3, y)


def test_unpenalized_separable_fit_warns(digits):
    X, y = digits
    with pytest.warns(ConvergenceWarning, match="C=inf"):
        SoftmaxClassifier(C=np.inf, max_iter=200).fit(X[:200], y[:200])


def test_partial_fit_is_one_epoch_of_the_loop(digits):
    X, y = digits
    clf = SoftmaxClassifier(solver="sgd", learning_rate=0.05)
    for start in range(0, 1500, 500):
        clf.partial_fit(X[start:start + 500], y[start:start + 500], classes=np.arange(10))
    assert clf.n_iter_ == 3 and tuple(clf.history_) == training.HISTORY_KEYS
    assert clf.history_["time"] == sorted(clf.history_["time"])
    assert clf.score(X, y) > 0.85


def test_gradcheck_of_a_float32_model_runs_in_float64(digits):
    X, y = digits
    clf = SoftmaxClassifier(dtype="float32", max_iter=50).fit(X.astype(np.float32), y)
    result = gradcheck_model(clf, X.astype(np.float32), y, n_samples=100)
    assert result["passed"], result
    assert result["coef"]["max_rel_error"] < 1e-6


def test_blas_runs_on_one_thread_inside_the_training_loop_only(digits, monkeypatch):
    # OpenBLAS threads started by the optimiser's vector operations would spin after
    # each call and take a core from the next kernel call (softmax_nb.model.runtime).
    from threadpoolctl import threadpool_info

    from softmax_nb import kernels

    def blas_threads():
        return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]

    seen, kernel = [], kernels.loss_gradient

    def watched(*args, **kwargs):
        seen.append(blas_threads())
        return kernel(*args, **kwargs)

    monkeypatch.setattr(kernels, "loss_gradient", watched)
    before = blas_threads()
    X, y = digits
    wide = np.hstack([X] * 20)  # 10 x 1281 parameters: above runtime.BLAS_THREADED_SIZE
    SoftmaxClassifier(max_iter=3).fit(wide, y)
    assert seen and all(threads == [1] * len(before) for threads in seen)
    assert blas_threads() == before
    seen.clear()
    SoftmaxClassifier(max_iter=3).fit(X, y)  # 650 parameters: BLAS left alone
    assert seen and all(threads == before for threads in seen)


def test_fits_in_other_threads_leave_the_process_wide_blas_count_alone(digits):
    import threading

    from threadpoolctl import threadpool_info

    from softmax_nb import kernels

    def blas_threads():
        return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]

    before, seen = blas_threads(), []
    X, y = digits
    wide = np.hstack([X] * 20)

    def fit():
        kernel = kernels.loss_gradient
        try:
            kernels.loss_gradient = lambda *a, **k: (seen.append(blas_threads()), kernel(*a, **k))[1]
            SoftmaxClassifier(max_iter=2).fit(wide, y)
        finally:
            kernels.loss_gradient = kernel

    thread = threading.Thread(target=fit)
    thread.start()
    thread.join(60)
    assert seen and all(threads == before for threads in seen)
    assert blas_threads() == before
