"""softmax_nb.files.inspect: describing a file of either kind."""

import numpy as np
import pytest

from h5_samples import write_small
from softmax_nb import SoftmaxClassifier
from softmax_nb import files as sio


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((120, 5))
    y = np.array(["b", "a", "c"])[rng.integers(0, 3, 120)]
    X_val = rng.standard_normal((30, 5))
    y_val = np.array(["b", "a", "c"])[rng.integers(0, 3, 30)]
    clf = SoftmaxClassifier(C=0.5, max_iter=50, class_weight={"a": 2.0, "b": 1.0}, random_state=3)
    clf.fit(X, y, eval_set=(X_val, y_val))
    return clf, X


def test_describe_and_file_info(tmp_path, fitted):
    data = tmp_path / "d.h5"
    write_small(data, image_shape=None)
    text = sio.describe(data)
    assert "dataset file" in text and "train:" in text and "classes (3): 10, 20, 30" in text
    model = tmp_path / "m.h5"
    sio.save_model(model, fitted[0], config_hash="h1")
    text = sio.describe(model)
    assert "model file" in text and "solver: lbfgs" in text and "config hash: h1" in text
    info = sio.file_info(model)
    assert info["kind"] == "model" and info["coef_shape"] == [3, 5]
    import json

    json.dumps(info, allow_nan=False)  # JSON-ready
    assert sio.file_info(data)["kind"] == "dataset"
