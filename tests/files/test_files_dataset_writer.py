"""DatasetWriter: block-by-block writing equals write_dataset; missing rows leave no file."""


import numpy as np
import pytest

from softmax_nb import files as sio




# -- writer ------------------------------------------------------------


def test_dataset_writer_matches_write_dataset(tmp_path, small):
    splits = {name: sio.read_dataset(small, name)[:2] for name in sio.SPLITS}
    info = sio.dataset_info(small)
    rows = {name: len(y) for name, (_, y) in splits.items()}
    path = tmp_path / "blocks.h5"
    with sio.DatasetWriter(path, info["classes"], info["n_features"], rows, dtype="float64", chunk_rows=7,
                           attrs={"source": "synthetic", "seed": 0},
                           preprocessing=info["preprocessing"]) as writer:
        for name, (X, y) in splits.items():
            for start in range(0, len(y), 100):
                writer.append(name, X[start:start + 100], y[start:start + 100])
    written = sio.dataset_info(path)
    for name, (X, y) in splits.items():
        X2, y2, _ = sio.read_dataset(path, name)
        assert np.array_equal(X, X2) and np.array_equal(y, y2)
        assert written["splits"][name]["class_counts"] == info["splits"][name]["class_counts"]
        assert written["splits"][name]["chunks"] == info["splits"][name]["chunks"]
    np.testing.assert_array_equal(written["preprocessing"]["mean"], info["preprocessing"]["mean"])


def test_dataset_writer_leaves_no_file_when_rows_are_missing(tmp_path):
    path = tmp_path / "short.h5"
    with pytest.raises(ValueError, match="train 5 of 10"):
        with sio.DatasetWriter(path, [0, 1], 3, {"train": 10, "val": 0, "test": 0}) as writer:
            writer.append("train", np.zeros((5, 3)), np.zeros(5, dtype=int))
    assert not path.exists() and not list(tmp_path.iterdir())
    with pytest.raises(ValueError, match="exceeds the declared"):
        with sio.DatasetWriter(path, [0, 1], 3, {"train": 2, "val": 0, "test": 0}) as writer:
            writer.append("train", np.zeros((3, 3)), np.zeros(3, dtype=int))
    assert not path.exists()
