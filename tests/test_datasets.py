"""Data sources, input checks, stratified splits, standardization and prepare()."""

import gzip
import os
import struct
from pathlib import Path

import h5py
import numpy as np
import pytest

from softmax_nb.data import datasets as ds
from softmax_nb.files import io as sio


def write_idx(path, array, type_code=0x08, magic=None, cut=0):
    """An IDX file of ``array`` (big-endian), optionally with a bad magic or cut short."""
    dtypes = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    header = magic if magic is not None else bytes([0, 0, type_code, array.ndim])
    header += struct.pack(f">{array.ndim}I", *array.shape)
    data = header + np.asarray(array).astype(dtypes[type_code]).tobytes()
    if cut:
        data = data[:-cut]
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wb") as handle:
        handle.write(data)
    return Path(path)


# ---------------------------------------------------------------------------
# check_X_y: the bad-array matrix
# ---------------------------------------------------------------------------


X_OK = np.arange(12.0).reshape(6, 2)
Y_OK = np.array([0, 1, 0, 1, 0, 1])


@pytest.mark.parametrize(
    "X, y, message",
    [
        (np.where(X_OK == 5, np.nan, X_OK), Y_OK, r"NaN/infinite value\(s\); first at row 2, column 1"),
        (np.where(X_OK == 3, -np.inf, X_OK), Y_OK, "row 1, column 1"),
        (np.arange(6.0), Y_OK, "must be 2-D"),
        (np.zeros((0, 2)), Y_OK[:0], "empty"),
        (np.zeros((6, 0)), Y_OK, "0 features"),
        (X_OK, Y_OK[:5], "5 labels but X has 6 rows"),
        (X_OK, np.array([0, 1, np.nan, 1, 0, 1]), "NaN label"),
        (X_OK, np.linspace(0, 1, 6), "continuous"),
        (X_OK, np.zeros(6, int), "single class"),
        (X_OK.astype(object), Y_OK, "real numbers"),
        (X_OK.astype(complex), Y_OK, "real numbers"),
        (X_OK, np.array([0, "a", 1, 0, 1, 0], dtype=object), "mix"),
    ],
)
def test_check_X_y_rejects(X, y, message):
    with pytest.raises(ds.DataError, match=message):
        ds.check_X_y(X, y, source="test")


def test_check_X_y_accepts_and_converts():
    X, y = ds.check_X_y(X_OK.astype(np.float32), Y_OK.astype(float))
    assert X.dtype == np.float32 and y.dtype == np.int64
    X, y = ds.check_X_y(X_OK.astype(int), np.array(list("ababab"), dtype=object))
    assert X.dtype == np.float64 and y.dtype.kind == "U"
    # Non-contiguous and read-only arrays are fine.
    view = np.asfortranarray(X_OK)[::1, ::-1]
    view.setflags(write=False)
    X, _ = ds.check_X_y(view, Y_OK)
    np.testing.assert_array_equal(X, X_OK[:, ::-1])


# ---------------------------------------------------------------------------
# sources
# ---------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------
# split and standardization
# ---------------------------------------------------------------------------


def test_stratified_split_is_a_seeded_stratified_partition():
    y = np.repeat(np.arange(4), [100, 50, 30, 20])
    train, val, test = ds.stratified_split(y, 0.2, 0.1, seed=3)
    assert len(train) + len(val) + len(test) == 200
    assert len(np.unique(np.concatenate([train, val, test]))) == 200
    assert len(val) == 40 and len(test) == 20
    for part in (train, val, test):
        np.testing.assert_allclose(np.bincount(y[part], minlength=4) / len(part), [0.5, 0.25, 0.15, 0.1], atol=0.03)
    again = ds.stratified_split(y, 0.2, 0.1, seed=3)
    for a, b in zip((train, val, test), again):
        np.testing.assert_array_equal(a, b)
    other = ds.stratified_split(y, 0.2, 0.1, seed=4)
    assert not np.array_equal(test, other[2])
    train, val, test = ds.stratified_split(y, 0.0, 0.25, seed=0)
    assert len(val) == 0 and len(test) == 50


def test_stratified_split_errors_and_fallback():
    y = np.array([0] * 10 + [1] * 10 + [2])
    with pytest.raises(ds.DataError, match="class index 2 has only 1 sample.*stratify: false"):
        ds.stratified_split(y, 0.2, 0.2, seed=0)
    train, val, test = ds.stratified_split(y, 0.2, 0.2, seed=0, stratify=False)
    assert len(train) + len(val) + len(test) == 21
    y = np.repeat(np.arange(10), 3)
    with pytest.raises(ds.DataError, match="cannot split"):
        ds.stratified_split(y, 0.1, 0.1, seed=0)  # 3 test rows for 10 classes
    for val, test in ((0.6, 0.4), (-0.1, 0.2), (0.2, 1.0)):
        with pytest.raises(ds.DataError, match="fraction"):
            ds.stratified_split(np.repeat([0, 1], 50), val, test, seed=0)


def test_standardization_zero_variance_and_float32():
    X = np.array([[1.0, 5.0, 1e20], [3.0, 5.0, 1e20], [5.0, 5.0, 1e20]])
    pre = ds.fit_standardization(X)
    np.testing.assert_array_equal(pre["scale"][1:], [1.0, 1.0])
    out = ds.apply_standardization(X, pre, np.float32)
    assert out.dtype == np.float32 and np.isfinite(out).all()
    np.testing.assert_allclose(out[:, 0], [-1.2247449, 0, 1.2247449], rtol=1e-6)
    np.testing.assert_array_equal(out[:, 1:], 0)


# ---------------------------------------------------------------------------
# prepare
# ---------------------------------------------------------------------------


def test_prepare_digits_is_reproducible_and_standardized_on_train(tmp_path):
    info = ds.prepare("digits", tmp_path / "a.h5", seed=1, val_fraction=0.2, test_fraction=0.2)
    assert info["image_shape"] == (8, 8) and info["n_features"] == 64 and info["source"] == "digits"
    assert {k: v["n_samples"] for k, v in info["splits"].items()} == {"train": 1077, "val": 360, "test": 360}
    ds.prepare("digits", tmp_path / "b.h5", seed=1, val_fraction=0.2, test_fraction=0.2)
    for split in sio.SPLITS:
        Xa, ya, _ = sio.read_dataset(tmp_path / "a.h5", split)
        Xb, yb, _ = sio.read_dataset(tmp_path / "b.h5", split)
        assert Xa.tobytes() == Xb.tobytes() and ya.tobytes() == yb.tobytes()
    X_train, _, info = sio.read_dataset(tmp_path / "a.h5", "train")
    X_test, _, _ = sio.read_dataset(tmp_path / "a.h5", "test")
    np.testing.assert_allclose(X_train.mean(axis=0), 0, atol=1e-12)
    assert np.abs(X_test.mean(axis=0)).max() > 1e-3  # statistics come from train only
    # Constant pixels (always 0 in digits) are centred, not divided by zero.
    assert (info["preprocessing"]["scale"] == 1.0).sum() >= 1 and np.isfinite(X_test).all()
    # Raw data are recovered from the stored statistics.
    X_raw, y_raw, _ = ds.load_digits()
    recovered = X_train * info["preprocessing"]["scale"] + info["preprocessing"]["mean"]
    assert np.abs(recovered - np.round(recovered)).max() < 1e-9


def test_prepare_options(tmp_path):
    info = ds.prepare(
        {"name": "synthetic", "n_samples": 400, "n_features": 6, "n_classes": 4, "seed": 2},
        tmp_path / "s.h5",
        dtype="float32", standardize=False, chunk_rows=32, compression="lzf", max_samples=200, seed=5,
    )
    assert info["splits"]["train"]["dtype"] == "float32" and info["splits"]["train"]["chunks"] == (32, 6)
    assert sum(s["n_samples"] for s in info["splits"].values()) == 200
    assert not info["standardized"] and info["meta"]["source_meta"]["class_sep"] == 1.0
    assert info["seed"] == 5 and info["meta"]["source_meta"]["seed"] == 2
    assert info["meta"]["split"]["max_samples"] == 200
    # Small true weights are kept as provenance (large ones are left out).
    assert np.array(info["meta"]["source_meta"]["true_coef"]).shape == (4, 6)


def test_prepare_with_string_labels_and_test_source(tmp_path):
    rng = np.random.default_rng(0)
    lines = ["f1,f2,kind"] + [f"{a:.3f},{b:.3f},{'ab'[int(a > 0)]}" for a, b in rng.standard_normal((60, 2))]
    (tmp_path / "train.csv").write_text("\n".join(lines) + "\n")
    lines = ["f1,f2,kind"] + [f"{a:.3f},{b:.3f},{'ab'[int(a > 0)]}" for a, b in rng.standard_normal((10, 2))]
    (tmp_path / "test.csv").write_text("\n".join(lines) + "\n")
    info = ds.prepare(
        {"name": "csv", "path": str(tmp_path / "train.csv"), "label_column": "kind"},
        tmp_path / "d.h5",
        test_source={"name": "csv", "path": str(tmp_path / "test.csv"), "label_column": "kind"},
        val_fraction=0.25, test_fraction=0.0, class_names=["Alpha", "Beta"],
    )
    assert info["classes"].tolist() == ["a", "b"] and info["class_names"] == ["Alpha", "Beta"]
    assert info["feature_names"] == ["f1", "f2"]
    assert {k: v["n_samples"] for k, v in info["splits"].items()} == {"train": 45, "val": 15, "test": 10}
    with pytest.raises(ds.DataError, match="test_fraction must be 0"):
        ds.prepare({"name": "digits"}, tmp_path / "x.h5", test_source={"name": "digits"}, test_fraction=0.1)
    with pytest.raises(ds.DataError, match="class_names has 3 names"):
        ds.prepare("digits", tmp_path / "x.h5", class_names=["a", "b", "c"])
    assert not (tmp_path / "x.h5").exists()


def test_prepare_rejects_bad_data_and_writes_nothing(tmp_path):
    (tmp_path / "bad.csv").write_text("a,b,label\n1,2,0\n3,oops,1\n")
    with pytest.raises(ds.DataError, match="line 3, column 2"):
        ds.prepare({"name": "csv", "path": str(tmp_path / "bad.csv")}, tmp_path / "out.h5")
    np.savez(tmp_path / "nan.npz", X=np.array([[1.0, np.nan], [0, 1]] * 5), y=np.arange(10) % 2)
    with pytest.raises(ds.DataError, match="NaN/infinite"):
        ds.prepare({"name": "npz", "path": str(tmp_path / "nan.npz")}, tmp_path / "out.h5")
    with pytest.raises(ds.DataError, match="dtype"):
        ds.prepare("digits", tmp_path / "out.h5", dtype="float16")
    with pytest.raises(FileNotFoundError, match="output folder"):
        ds.prepare("digits", tmp_path / "missing" / "out.h5")
    assert sorted(os.listdir(tmp_path)) == ["bad.csv", "nan.npz"]


def test_prepare_from_config_entries(tmp_path):
    # The workflow's schema fills every key; keys of other sources are ignored.
    entry = {
        "source": "synthetic", "path": None, "labels_path": None, "scale": None, "label_column": -1,
        "header": "auto", "delimiter": ",", "skip_columns": [], "x_key": "X", "y_key": "y",
        "n_samples": 300, "n_features": 5, "n_classes": 3, "class_sep": 2.0, "class_names": None,
        "max_samples": None, "val_fraction": 0.2, "test_fraction": 0.2, "stratify": True, "seed": 4,
        "standardize": True, "dtype": "float32",
    }
    info = ds.prepare_from_config(entry, tmp_path / "s.h5", name="syn")
    assert info["meta"]["source_meta"]["seed"] == 4 and info["seed"] == 4 and info["config"]["dataset"] == "syn"
    assert info["splits"]["train"]["dtype"] == "float32"
    # idx with a fixed test split from separate files.
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 40), ("t10k", 12)):
        write_idx(tmp_path / f"{prefix}-images.gz", rng.integers(0, 256, (n, 2, 3)).astype(np.uint8))
        write_idx(tmp_path / f"{prefix}-labels.gz", np.arange(n, dtype=np.uint8) % 2)
    entry = {
        "source": "idx", "path": str(tmp_path / "train-images.gz"), "labels_path": str(tmp_path / "train-labels.gz"),
        "test_path": str(tmp_path / "t10k-images.gz"), "test_labels_path": str(tmp_path / "t10k-labels.gz"),
        "scale": 255, "val_fraction": 0.25, "test_fraction": 0.0, "class_names": ["even", "odd"],
    }
    info = ds.prepare_from_config(entry, tmp_path / "i.h5", name="tiny_idx")
    assert {k: v["n_samples"] for k, v in info["splits"].items()} == {"train": 30, "val": 10, "test": 12}
    assert info["image_shape"] == (2, 3) and info["class_names"] == ["even", "odd"]
    with pytest.raises(ds.DataError, match="datasets.x has unknown key\\(s\\): colour"):
        ds.prepare_from_config({"source": "digits", "colour": 1}, tmp_path / "z.h5", name="x")
    with pytest.raises(ds.DataError, match="datasets.x.source is 'mnist'"):
        ds.prepare_from_config({"source": "mnist"}, tmp_path / "z.h5", name="x")
    with pytest.raises(ds.DataError, match="test_path applies to source 'idx' only"):
        ds.prepare_from_config({"source": "csv", "path": "a.csv", "test_path": "b"}, tmp_path / "z.h5", name="x")
