"""softmax_nb.data.sources: every loader, and its errors naming file, row and column."""

import gzip
import os

import h5py
import numpy as np
import pytest

from idx_files import write_idx
from softmax_nb import data as ds


def test_digits():
    X, y, meta = ds.load_digits()
    assert X.shape == (1797, 64) and X.dtype == np.float64
    assert sorted(np.unique(y)) == list(range(10))
    assert meta["image_shape"] == [8, 8] and len(meta["feature_names"]) == 64


def test_synthetic_is_seeded_and_multinomial_logistic():
    X1, y1, meta = ds.make_softmax_data(n_samples=300, n_features=4, n_classes=3, seed=5)
    X2, y2, _ = ds.make_softmax_data(n_samples=300, n_features=4, n_classes=3, seed=5)
    X3, _, _ = ds.make_softmax_data(n_samples=300, n_features=4, n_classes=3, seed=6)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(X1, X3)
    # A large sample lets a nearly unregularized fit recover the true weights
    # (up to the softmax's shift invariance: compare class-centred weights).
    from sklearn.linear_model import LogisticRegression

    X, y, meta = ds.make_softmax_data(n_samples=40000, n_features=3, n_classes=3, class_sep=3.0, seed=1)
    fit = LogisticRegression(C=1e6, max_iter=1000).fit(X, y)
    true = np.array(meta["true_coef"])
    centred = lambda W: W - W.mean(axis=0)  # noqa: E731
    np.testing.assert_allclose(centred(fit.coef_), centred(true), atol=0.1)


def test_synthetic_class_sep_controls_difficulty():
    from sklearn.linear_model import LogisticRegression

    scores = []
    for sep in (0.3, 5.0):
        X, y, _ = ds.make_softmax_data(n_samples=3000, n_features=10, n_classes=4, class_sep=sep, seed=2)
        scores.append(LogisticRegression(max_iter=500).fit(X, y).score(X, y))
    assert scores[0] < 0.5 < 0.8 < scores[1]


@pytest.mark.parametrize("bad", [{"n_classes": 1}, {"n_samples": 0}, {"class_sep": -1.0}, {"n_features": 2.5}])
def test_synthetic_rejects_bad_parameters(bad):
    with pytest.raises(ds.DataError, match="synthetic"):
        ds.make_softmax_data(**bad)


def test_csv_with_header_named_label_and_text_labels(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("id,x1,species,x2\n1,0.5,cat,2\n2,1.5,dog,-1e3\n\n3, 7 ,cat,0\n")
    X, y, meta = ds.load_csv(path, label_column="species", skip_columns=["id"])
    np.testing.assert_array_equal(X, [[0.5, 2], [1.5, -1000], [7, 0]])
    assert y.tolist() == ["cat", "dog", "cat"]
    assert meta["feature_names"] == ["x1", "x2"]


def test_csv_without_header_auto_and_gzip(tmp_path):
    path = tmp_path / "data.csv.gz"
    with gzip.open(path, "wt") as handle:
        handle.write("1.0,2.0,0\n3.0,4.0,1\n5.0,6.0,1\n")
    X, y, meta = ds.load_csv(path)
    assert X.shape == (3, 2) and y.tolist() == [0, 1, 1] and y.dtype == np.int64
    assert "feature_names" not in meta
    # Text labels in the first row do not make it a header.
    path = tmp_path / "t.csv"
    path.write_text("1.0;a\n2.0;b\n")
    X, y, _ = ds.load_csv(path, delimiter=";")
    assert X.shape == (2, 1) and y.tolist() == ["a", "b"]
    # Labels first, semicolon-separated, explicit no header.
    path.write_text("7;1.0;2.0\n8;3.0;4.0\n")
    X, y, _ = ds.load_csv(path, label_column=0, header=False, delimiter=";")
    assert y.tolist() == [7, 8] and X.tolist() == [[1, 2], [3, 4]]


@pytest.mark.parametrize(
    "text, kwargs, message",
    [
        ("a,b,label\n1,2,0\n3,4\n", {}, "line 3 has 2 columns but the header has 3"),
        ("1,2,0\n3,4,1,9\n", {}, r"line 2 has 4 columns but line 1 has 3 \(ragged rows\)"),
        ("a,b,label\n1,2,0\n3,x7,1\n", {}, "line 3, column 2 \\('b'\\): 'x7' is not a number"),
        ("1,2,0\n3,,1\n", {}, "line 2, column 2: '' is not a number"),
        ("a,b,label\n1,nan,0\n", {}, "line 2, column 2 \\('b'\\): 'nan' is not finite"),
        ("a,b,label\n1,2,0\n", {"label_column": "target"}, "'target' is not in the header"),
        ("a,b,label\n1,2,\n", {}, "label column 3 \\('label'\\) is empty"),
        ("1,2,0\n", {"label_column": 5}, "out of range"),
        ("a,a,label\n1,2,0\n", {}, "repeats column name"),
        ("a,b,label\n", {}, "no data rows"),
        ("", {}, "is empty"),
        ("1,2,0.5\n3,4,1.5\n", {}, None),
    ],
)
def test_csv_errors_name_line_and_column(tmp_path, text, kwargs, message):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    if message is None:
        # Continuous labels load; check_X_y (in prepare) rejects them.
        X, y, _ = ds.load_csv(path, **kwargs)
        with pytest.raises(ds.DataError, match="continuous"):
            ds.check_X_y(X, y)
        return
    with pytest.raises(ds.DataError, match=message):
        ds.load_csv(path, **kwargs)


def test_csv_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="CSV file .* does not exist"):
        ds.load_csv(tmp_path / "nope.csv")


def test_npz_and_npy(tmp_path):
    X = np.arange(8.0).reshape(4, 2)
    y = np.array([0, 1, 0, 1])
    np.savez(tmp_path / "d.npz", features=X, target=y)
    X2, y2, _ = ds.load_npz(tmp_path / "d.npz", x_key="features", y_key="target")
    np.testing.assert_array_equal(X2, X)
    with pytest.raises(ds.DataError, match=r"no array 'X'; it holds \['features', 'target'\]"):
        ds.load_npz(tmp_path / "d.npz")
    np.savez(tmp_path / "o.npz", X=np.array([{"a": 1}], dtype=object), y=y)
    with pytest.raises(ds.DataError, match="o.npz"):
        ds.load_npz(tmp_path / "o.npz")
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    X3, y3, _ = ds.load_npy(tmp_path / "X.npy", tmp_path / "y.npy")
    np.testing.assert_array_equal(X3, X)
    (tmp_path / "bad.npy").write_bytes(b"not numpy")
    with pytest.raises(ds.DataError, match="bad.npy"):
        ds.load_npy(tmp_path / "bad.npy", tmp_path / "y.npy")


def test_hdf5_source(tmp_path):
    path = tmp_path / "any.h5"
    with h5py.File(path, "w") as handle:
        handle["group/features"] = np.ones((3, 2))
        handle["labels"] = np.array([b"x", b"y", b"x"])
    X, y, _ = ds.load_hdf5(path, x_key="group/features", y_key="labels")
    assert X.shape == (3, 2) and len(y) == 3
    with pytest.raises(ds.DataError, match=r"no dataset 'X'; it holds \['group/features', 'labels'\]"):
        ds.load_hdf5(path)
    path.write_bytes(b"garbage")
    with pytest.raises(ds.DataError, match="cannot open HDF5 file"):
        ds.load_hdf5(path)


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_idx_round_trip(tmp_path, suffix):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (7, 3, 4)).astype(np.uint8)
    labels = rng.integers(0, 10, 7).astype(np.uint8)
    write_idx(tmp_path / f"img{suffix}", images)
    write_idx(tmp_path / f"lab{suffix}", labels)
    X, y, meta = ds.load_idx(tmp_path / f"img{suffix}", tmp_path / f"lab{suffix}", scale=255)
    assert X.dtype == np.float32 and X.shape == (7, 12)
    np.testing.assert_allclose(X, images.reshape(7, -1) / np.float32(255))
    np.testing.assert_array_equal(y, labels)
    assert meta["image_shape"] == [3, 4]


def test_idx_other_types_and_lists(tmp_path):
    values = np.array([[1.5, -2.0], [3.25, 4.0]])
    write_idx(tmp_path / "f.idx", values, type_code=0x0E)
    np.testing.assert_array_equal(ds.read_idx(tmp_path / "f.idx"), values)
    write_idx(tmp_path / "s.idx", np.array([-3, 300]), type_code=0x0B)
    assert ds.read_idx(tmp_path / "s.idx").tolist() == [-3, 300]
    write_idx(tmp_path / "i1", np.zeros((2, 2, 2), np.uint8))
    write_idx(tmp_path / "l1", np.array([0, 1], np.uint8))
    write_idx(tmp_path / "i2", np.ones((3, 2, 2), np.uint8))
    write_idx(tmp_path / "l2", np.array([1, 0, 1], np.uint8))
    X, y, _ = ds.load_idx([tmp_path / "i1", tmp_path / "i2"], [tmp_path / "l1", tmp_path / "l2"])
    assert X.shape == (5, 4) and y.tolist() == [0, 1, 1, 0, 1]


def test_idx_errors(tmp_path):
    images = np.zeros((5, 2, 2), np.uint8)
    write_idx(tmp_path / "magic", images, magic=b"\x08\x03\x00\x00")
    with pytest.raises(ds.DataError, match="bad magic number"):
        ds.read_idx(tmp_path / "magic")
    write_idx(tmp_path / "code", images, magic=b"\x00\x00\x07\x03")
    with pytest.raises(ds.DataError, match="unknown type code 0x07"):
        ds.read_idx(tmp_path / "code")
    write_idx(tmp_path / "short", images, cut=3)
    with pytest.raises(ds.DataError, match=r"announces shape \(5, 2, 2\) \(20 bytes of data\) but the file holds 17"):
        ds.read_idx(tmp_path / "short")
    (tmp_path / "empty").write_bytes(b"")
    with pytest.raises(ds.DataError, match="bad magic number"):
        ds.read_idx(tmp_path / "empty")
    write_idx(tmp_path / "img", images)
    write_idx(tmp_path / "lab", np.zeros(4, np.uint8))
    with pytest.raises(ds.DataError, match="has 4 labels, shorter than the 5 images"):
        ds.load_idx(tmp_path / "img", tmp_path / "lab")
    (tmp_path / "trunc.gz").write_bytes(gzip.compress(b"\x00\x00\x08\x01" + b"\x00" * 20)[:-8])
    with pytest.raises(ds.DataError, match="cannot read IDX file"):
        ds.read_idx(tmp_path / "trunc.gz")


@pytest.mark.skipif(not os.path.isdir(ds.FASHION_MNIST_DIR), reason="dataset-fashion-mnist is not installed")
def test_fashion_mnist_test_subset():
    X, y, meta = ds.load_fashion_mnist(subset="test")
    assert X.shape == (10000, 784) and X.dtype == np.float32
    assert np.bincount(y).tolist() == [1000] * 10
    assert meta["image_shape"] == [28, 28] and meta["class_names"][9] == "Ankle boot"


def test_fashion_mnist_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="apt-get install dataset-fashion-mnist"):
        ds.load_fashion_mnist(directory=tmp_path / "nope")


def test_load_source_checks_names_and_arguments():
    with pytest.raises(ds.DataError, match="unknown source 'mnist'; known sources: csv, digits"):
        ds.load_source({"name": "mnist"})
    with pytest.raises(ds.DataError, match="does not take 'n_rows'"):
        ds.load_source({"name": "synthetic", "n_rows": 5})
    with pytest.raises(ds.DataError, match="needs 'path'"):
        ds.load_source({"name": "csv"})
    X, y, meta = ds.load_source("digits")
    assert meta["source"] == "digits"


def test_npy_lists_hdf5_strings_and_npz_errors(tmp_path):
    X = np.arange(12.0).reshape(6, 2)
    y = np.array([0, 1, 0, 1, 1, 0])
    np.save(tmp_path / "X1.npy", X[:4])
    np.save(tmp_path / "X2.npy", X[4:])
    np.save(tmp_path / "y1.npy", y[:4])
    np.save(tmp_path / "y2.npy", y[4:])
    X2, y2, meta = ds.load_npy([tmp_path / "X1.npy", tmp_path / "X2.npy"], [tmp_path / "y1.npy", tmp_path / "y2.npy"])
    np.testing.assert_array_equal(X2, X)
    np.testing.assert_array_equal(y2, y)
    assert len(meta["x_path"]) == 2
    with pytest.raises(ds.DataError, match="2 X file"):
        ds.load_npy([tmp_path / "X1.npy", tmp_path / "X2.npy"], tmp_path / "y1.npy")
    np.savez(tmp_path / "a.npz", X=X, y=y)
    with pytest.raises(ds.DataError, match="is an .npz archive, not a single .npy array"):
        ds.load_npy(tmp_path / "a.npz", tmp_path / "y1.npy")
    (tmp_path / "broken.npz").write_bytes(open(tmp_path / "a.npz", "rb").read()[:200])
    with pytest.raises(ds.DataError, match="broken.npz"):
        ds.load_npz(tmp_path / "broken.npz")
    with h5py.File(tmp_path / "s.h5", "w") as handle:
        handle["X"] = X
        handle.create_dataset("y", data=np.array(["cat", "dog"] * 3, dtype=object), dtype=h5py.string_dtype())
    _, labels, _ = ds.load_hdf5(tmp_path / "s.h5")
    assert labels.dtype.kind == "U" and labels.tolist()[:2] == ["cat", "dog"]


def test_fashion_mnist_from_a_folder(tmp_path):
    for prefix, n in (("train", 6), ("t10k", 4)):
        write_idx(tmp_path / f"{prefix}-images-idx3-ubyte.gz", np.full((n, 2, 2), 51, np.uint8))
        write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte", np.arange(n, dtype=np.uint8))
    X, y, meta = ds.load_fashion_mnist(tmp_path, subset="all", scale=255)
    assert X.shape == (10, 4) and y.tolist() == [0, 1, 2, 3, 4, 5, 0, 1, 2, 3]
    assert np.allclose(X, 0.2) and meta["class_names"][0] == "T-shirt/top" and meta["image_shape"] == [2, 2]
    X, _, _ = ds.load_fashion_mnist(tmp_path, subset="test")
    assert X.shape == (4, 4)
    with pytest.raises(ds.DataError, match="subset must be"):
        ds.load_fashion_mnist(tmp_path, subset="val")
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(FileNotFoundError, match=r"t10k-labels-idx1-ubyte\(.gz\) not found"):
        ds.load_fashion_mnist(tmp_path)


CLEAN_CSVS = {
    "header, int labels": "a,b,label\n1,2,0\n3.5,-4e-3,1\n",
    "no header, text labels, blank lines": "\n1,2,cat\n\n3,4,dog\n5,6,cat\n",
    "quoted cells, spaces, BOM": '\ufeff"a","b",y\n" 1.5",2 ,x\n3,"4",y\n',
    "skip and label by name": "id,a,b,y\nr1,1,2,0\nr2,3,4,1\n",
}


@pytest.mark.parametrize("case", sorted(CLEAN_CSVS))
@pytest.mark.parametrize("gz", [False, True])
def test_fast_csv_reader_equals_the_row_by_row_reader(tmp_path, case, gz):
    """pandas' C parser reads clean files; the csv-module reader is the reference."""
    import gzip as gzip_module

    from softmax_nb.data import sources

    path = tmp_path / ("f.csv.gz" if gz else "f.csv")
    data = CLEAN_CSVS[case].encode("utf-8")
    path.write_bytes(gzip_module.compress(data) if gz else data)
    options = {"label_column": "y", "skip_columns": ["id"]} if case.startswith("skip") else {}
    X, y, meta = sources.load_csv(path, **options)
    with sources._open_text(path) as handle:
        first = sources._first_row(__import__("csv").reader(handle))
    layout = sources._CsvLayout(str(path), first, **{"label_column": -1, "header": "auto", "skip_columns": (),
                                                       **options})
    fast = sources._parse_csv_fast(path, layout, ",")
    assert fast is not None, "a clean file must take the fast path"
    X_ref, labels_ref = sources._parse_csv_rows(path, layout, ",")
    np.testing.assert_array_equal(X, X_ref)
    np.testing.assert_array_equal(y, sources._parse_labels(labels_ref))
    assert X.flags.c_contiguous and X.dtype == np.float64


def test_a_csv_in_another_encoding_names_the_line_and_byte(tmp_path):
    from softmax_nb.data import sources

    path = tmp_path / "latin.csv"
    path.write_bytes("a,b,label\n1,2,0\n1,2,caf\xe9\n".encode("latin-1"))
    with pytest.raises(ds.DataError, match=r"latin.csv': line 3, character 8: byte 0xe9 is not UTF-8"):
        sources.load_csv(path)
