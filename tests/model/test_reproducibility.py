"""Same config and seed -> bitwise identical data splits, model arrays and metrics,
across reruns and across thread counts; the model file records the versions."""

import json
import subprocess
import sys

import h5py
import numpy as np
import pytest

from softmax_nb import files as sio
from softmax_nb.model.persistence import load_model

CLI = [sys.executable, "-m", "softmax_nb.cli"]


def run(*args):
    subprocess.run(CLI + [str(a) for a in args], check=True, capture_output=True, text=True)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    outputs = {}
    for name, threads in (("a", 1), ("b", 2)):
        folder = tmp_path_factory.mktemp(f"repro_{name}")
        data = folder / "data.h5"
        model = folder / "model.h5"
        metrics = folder / "metrics.json"
        run("prepare", "--source", "digits", "--seed", 3, "--output", data)
        run("train", data, "--output", model, "--solver", "sgd", "--max-iter", 5, "--random-state", 7,
            "--threads", threads, "--config-hash", "abc123")
        run("evaluate", model, data, "--output", metrics)
        outputs[name] = (data, model, metrics)
    return outputs


def test_data_splits_are_bitwise_identical(runs):
    (data_a, _, _), (data_b, _, _) = runs["a"], runs["b"]
    for split in ("train", "val", "test"):
        X_a, y_a, _ = sio.read_dataset(data_a, split)
        X_b, y_b, _ = sio.read_dataset(data_b, split)
        assert X_a.tobytes() == X_b.tobytes() and y_a.tobytes() == y_b.tobytes()


def test_models_and_metrics_identical_across_thread_counts(runs):
    (_, model_a, metrics_a), (_, model_b, metrics_b) = runs["a"], runs["b"]
    a, b = load_model(model_a), load_model(model_b)
    assert a.coef_.tobytes() == b.coef_.tobytes()
    assert a.intercept_.tobytes() == b.intercept_.tobytes()
    first, second = json.loads(metrics_a.read_text()), json.loads(metrics_b.read_text())
    for record in (first, second):  # the file names differ by folder, nothing else may
        record.pop("model", None)
        record.pop("data", None)
    assert first == second


def test_model_file_records_versions_and_config_hash(runs):
    _, model, _ = runs["a"]
    with h5py.File(model, "r") as handle:
        text = json.dumps({k: str(v) for k, v in handle.attrs.items()})
    for needle in ("numba", "numpy", "abc123"):
        assert needle in text, f"{needle} not recorded in the model file attributes"
