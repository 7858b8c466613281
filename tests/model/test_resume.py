"""Nothing lost: a training process killed with SIGKILL, or stopped by SIGTERM
(a scheduler's time limit), resumes from its checkpoint and ends with the same
model as an uninterrupted run, bitwise -- in memory and streamed out of core
(--max-memory-mb), since both run the one training loop."""

import os
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

from softmax_nb import files as sio
from softmax_nb.model.persistence import load_model

CLI = [sys.executable, "-m", "softmax_nb.cli"]
TRAIN_ARGS = ["--solver", "sgd", "--batch-size", "8", "--max-iter", "12", "--tol", "1e-12",
              "--random-state", "0", "--checkpoint-every", "1", "--threads", "1"]
# Streamed: a 4 MiB budget reads the 3.8 MB training split in blocks of 2000 rows.
MODES = {"in_memory": [], "streamed": ["--max-memory-mb", "4"]}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    folder = tmp_path_factory.mktemp("resume")
    path = folder / "syn.h5"
    subprocess.run(CLI + ["prepare", "--source", "synthetic", "--arg", "n_samples=40000",
                          "--arg", "n_features=20", "--arg", "n_classes=4", "--chunk-rows", "1000",
                          "--output", str(path)],
                   check=True, capture_output=True)
    references = {}
    for mode, extra in MODES.items():
        references[mode] = folder / f"reference_{mode}.h5"
        subprocess.run(CLI + ["train", str(path), "--output", str(references[mode])] + TRAIN_ARGS + extra,
                       check=True, capture_output=True)
    return path, references


def checkpoint_iteration(path):
    try:
        with h5py.File(path, "r") as handle:
            return int(handle["optimizer/iteration"][()])
    except (OSError, KeyError):
        return -1


def start_and_signal(data, out, sig, extra=()):
    """Start training, wait until a checkpoint of iteration >= 2 exists, send sig."""
    process = subprocess.Popen(CLI + ["train", str(data), "--output", str(out)] + TRAIN_ARGS + list(extra),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    checkpoint = f"{out}.ckpt"
    deadline = time.monotonic() + 120
    while checkpoint_iteration(checkpoint) < 2:
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"training ended before a checkpoint: {process.communicate()}")
        time.sleep(0.05)
    process.send_signal(sig)
    _, stderr = process.communicate(timeout=120)
    return process.returncode, stderr, checkpoint


def assert_same_model(a, b):
    first, second = load_model(a), load_model(b)
    np.testing.assert_array_equal(first.coef_, second.coef_)
    np.testing.assert_array_equal(first.intercept_, second.intercept_)
    assert first.history_["loss"] == second.history_["loss"]


@pytest.mark.parametrize("mode", list(MODES))
def test_sigkill_then_resume_gives_the_same_model(dataset, tmp_path, mode):
    data, references = dataset
    out = tmp_path / "model.h5"
    code, _, checkpoint = start_and_signal(data, out, signal.SIGKILL, MODES[mode])
    assert code == -signal.SIGKILL
    assert not out.exists()
    assert checkpoint_iteration(checkpoint) >= 2
    done = subprocess.run(CLI + ["train", str(data), "--output", str(out), "--resume"] + TRAIN_ARGS
                          + MODES[mode], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "resuming from checkpoint" in done.stderr
    assert_same_model(out, references[mode])
    assert not os.path.exists(checkpoint)


def test_sigterm_writes_checkpoint_and_exits_nonzero(dataset, tmp_path):
    data, references = dataset
    reference = references["in_memory"]
    out = tmp_path / "model.h5"
    code, stderr, checkpoint = start_and_signal(data, out, signal.SIGTERM)
    assert code == 143
    assert "stopped by SIGTERM" in stderr and "--resume" in stderr
    assert not out.exists()
    assert os.path.exists(checkpoint)
    done = subprocess.run(CLI + ["train", str(data), "--output", str(out), "--resume"] + TRAIN_ARGS,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert_same_model(out, reference)


def test_checkpoint_for_other_data_is_refused(dataset, tmp_path):
    data, _ = dataset
    out = tmp_path / "model.h5"
    code, _, checkpoint = start_and_signal(data, out, signal.SIGKILL)
    changed = TRAIN_ARGS[:]
    changed[changed.index("--batch-size") + 1] = "16"
    done = subprocess.run(CLI + ["train", str(data), "--output", str(out), "--resume"] + changed,
                          capture_output=True, text=True)
    assert done.returncode == 1
    assert "other training data or other hyperparameters" in done.stderr
    assert not out.exists()


def _resumed_and_uninterrupted(tmp_path, params, max_iter, interrupted_at):
    """The fit of ``max_iter`` iterations on digits, and the same fit checkpointed after
    ``interrupted_at`` iterations and resumed."""
    import warnings

    from sklearn.datasets import load_digits
    from sklearn.exceptions import ConvergenceWarning

    from softmax_nb import SoftmaxClassifier

    X, y = load_digits(return_X_y=True)
    X = X / 16
    path = str(tmp_path / "state.h5")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        full = SoftmaxClassifier(max_iter=max_iter, **params).fit(X, y)
        SoftmaxClassifier(max_iter=interrupted_at, checkpoint_path=path, checkpoint_every=1, **params).fit(X, y)
        resumed = SoftmaxClassifier(max_iter=max_iter, checkpoint_path=path, **params).fit(X, y, resume=True)
    np.testing.assert_array_equal(full.coef_, resumed.coef_)
    assert full.history_["loss"] == resumed.history_["loss"]
    assert full.n_iter_ == resumed.n_iter_
    return full


@pytest.mark.parametrize("solver", ["lbfgs", "gd", "sgd", "adam"])
@pytest.mark.parametrize("early_stopping", [False, True])
def test_estimator_resume_is_bitwise(tmp_path, solver, early_stopping):
    _resumed_and_uninterrupted(tmp_path, dict(solver=solver, early_stopping=early_stopping, n_iter_no_change=3,
                                              tol=1e-6, random_state=0), max_iter=12, interrupted_at=5)


def test_lbfgs_resume_after_the_pair_memory_wrapped(tmp_path):
    """Checkpointed after 14 iterations, past the 10 pairs of the ring, an lbfgs fit resumes
    to the bits of the uninterrupted one (the ring is saved and restored oldest first)."""
    full = _resumed_and_uninterrupted(tmp_path, dict(solver="lbfgs", tol=1e-9, random_state=0),
                                      max_iter=20, interrupted_at=14)
    assert full.n_iter_ == 20
