"""softmax_nb.files.inspect: describing a file of either kind."""

import pytest

from h5_samples import fitted_classifier, write_small
from softmax_nb import files as sio


@pytest.fixture(scope="module")
def fitted():
    return fitted_classifier()


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
