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


# -- layout "csr" ------------------------------------------------------


def _sparse_splits(dtype):
    """Splits of 2^18+ nonzeros (several chunks, resized), of one row and of none."""
    import scipy.sparse as sp

    X = sp.random(1300, 400, density=0.55, format="csr", random_state=1, dtype=np.float64).astype(dtype)
    y = np.random.default_rng(1).integers(0, 3, 1300)
    return {"train": (X[:1250], y[:1250]), "val": (X[1250:1251], y[1250:1251]), "test": (X[:0], y[:0])}


def _layout(path):
    """Every object of an HDF5 file: attributes, and for datasets shape, dtype, storage, values."""
    import h5py

    found = {}

    def add(name, node):
        attrs = {k: np.asarray(v).tolist() for k, v in node.attrs.items() if k not in ("created", "sha256")}
        if isinstance(node, h5py.Dataset):
            found[name] = (attrs, node.shape, node.dtype.str, node.chunks, node.fletcher32, node.compression,
                           node[()].tobytes() if node.dtype.kind not in "OS" else node[()].tolist())
        else:
            found[name] = attrs

    with h5py.File(path, "r") as handle:
        add("/", handle)
        handle.visititems(add)
    return found


@pytest.mark.parametrize("dtype,compression", [("float32", None), ("float64", "lzf")])
def test_csr_writer_writes_write_datasets_sparse_file(tmp_path, dtype, compression):
    splits = _sparse_splits(dtype)
    assert splits["train"][0].nnz > 2**18
    attrs = {"source": "test", "seed": 0}
    whole = sio.write_dataset(tmp_path / "whole.h5", splits, np.arange(3), attrs, compression=compression,
                              feature_names=[f"w{i}" for i in range(400)])
    path = tmp_path / "blocks.h5"
    rows = {name: len(y) for name, (_, y) in splits.items()}
    with sio.DatasetWriter(path, np.arange(3), 400, rows, dtype=dtype, attrs=attrs, compression=compression,
                           feature_names=[f"w{i}" for i in range(400)], layout="csr") as writer:
        for name, (X, y) in splits.items():
            for start in range(0, len(y), 97):
                writer.append(name, X[start:start + 97], y[start:start + 97])
    assert _layout(path) == _layout(whole)  # same objects, storage, attributes and bytes
    info = sio.dataset_info(path)
    assert info["layout"] == "csr" and info["format_version"] == 3 and len(info["sha256"]) == 64
    for name, (X, y) in splits.items():
        got, labels, _ = sio.read_dataset(path, name)
        assert got.dtype == dtype and (got != X).nnz == 0 and np.array_equal(labels, y)
        assert info["splits"][name]["nnz"] == X.nnz
    rows_read, labels = sio.read_rows(path, "train", 300, 700)
    assert (rows_read != splits["train"][0][300:700]).nnz == 0 and np.array_equal(labels, splits["train"][1][300:700])
    import h5py

    with h5py.File(path, "r+") as handle:  # a changed attribute: the checksum refuses the file
        handle["train/X"].attrs["shape"] = np.array([1250, 399])
    with pytest.raises(sio.FileFormatError, match="checksum does not match"):
        sio.dataset_info(path)


def test_csr_writer_refuses_dense_blocks_and_leaves_no_file(tmp_path):
    import scipy.sparse as sp

    path = tmp_path / "sparse.h5"
    with pytest.raises(ValueError, match="layout 'csr' appends scipy.sparse blocks"):
        with sio.DatasetWriter(path, [0, 1], 3, {"train": 2, "val": 0, "test": 0}, layout="csr") as writer:
            writer.append("train", np.zeros((2, 3)), np.zeros(2, dtype=int))
    with pytest.raises(ValueError, match="train 1 of 2"):
        with sio.DatasetWriter(path, [0, 1], 3, {"train": 2, "val": 0, "test": 0}, layout="csr") as writer:
            writer.append("train", sp.csr_matrix(np.eye(3)[:1]), np.zeros(1, dtype=int))
    with pytest.raises(ValueError, match="layout must be 'dense' or 'csr'"):
        sio.DatasetWriter(path, [0, 1], 3, {"train": 2, "val": 0, "test": 0}, layout="csc")
    assert not list(tmp_path.iterdir())
