"""HDF5 dataset and model files, atomic writes, and their error messages."""

import os
import stat

import h5py
import numpy as np
import pytest

from softmax_nb import SoftmaxClassifier
from softmax_nb.files import io as sio


def leftovers(folder):
    """Temporary files of atomic_write left in a folder (there must be none)."""
    return [name for name in os.listdir(folder) if ".tmp-" in name]


def small_splits(dtype=np.float64, n_features=3, n_classes=3, seed=0, sizes=(30, 9, 9)):
    rng = np.random.default_rng(seed)
    out = {}
    for name, n in zip(sio.SPLITS, sizes):
        out[name] = (rng.standard_normal((n, n_features)).astype(dtype), rng.integers(0, n_classes, n))
    return out


def write_small(path, **kwargs):
    kwargs.setdefault("classes", np.array([10, 20, 30]))
    splits = kwargs.pop("splits", small_splits())
    classes = kwargs.pop("classes")
    attrs = kwargs.pop("attrs", {"source": "test", "seed": 3})
    return sio.write_dataset(path, splits, classes, attrs, **kwargs)


# ---------------------------------------------------------------------------
# atomic_write
# ---------------------------------------------------------------------------


def test_atomic_write_replaces_target_and_leaves_no_temp(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with sio.atomic_write(target, "w") as handle:
        handle.write("new")
        # Until the block ends, the old content is still in place.
        assert target.read_text() == "old"
    assert target.read_text() == "new"
    assert leftovers(tmp_path) == []


def test_atomic_write_failure_keeps_old_file_and_removes_temp(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="boom"):
        with sio.atomic_write(target, "wb") as handle:
            handle.write(b"half of the new")
            raise RuntimeError("boom")
    assert target.read_bytes() == b"old"
    assert leftovers(tmp_path) == []


def test_atomic_write_failure_without_old_file_leaves_nothing(tmp_path):
    target = tmp_path / "model.h5"
    with pytest.raises(ValueError):
        with sio.atomic_write(target) as tmp:
            with h5py.File(tmp, "w") as handle:
                handle["x"] = 1
            raise ValueError("interrupted")
    assert os.listdir(tmp_path) == []


def test_atomic_write_path_mode_and_permissions(tmp_path):
    target = tmp_path / "data.h5"
    with sio.atomic_write(target) as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(".data.h5.tmp-")
        with h5py.File(tmp, "w") as handle:
            handle["x"] = np.arange(3)
    with h5py.File(target, "r") as handle:
        assert handle["x"][()].tolist() == [0, 1, 2]
    # Permissions follow the umask like any new file, not mkstemp's 0600.
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o666 & ~umask


def test_atomic_write_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        with sio.atomic_write(tmp_path / "nope" / "x.txt", "w"):
            pass


# ---------------------------------------------------------------------------
# dataset files
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "classes",
    [
        np.array([10, 20, 30]),
        np.array([-1.5, 0.0, 2.5]),
        np.array(["cat", "dog", "émeu"]),
        np.array(["a", "b", "c"], dtype=object),
        np.array([3, 5, 7], dtype=np.uint8),
    ],
)
def test_dataset_round_trip(tmp_path, dtype, classes):
    splits = small_splits(dtype)
    path = tmp_path / "d.h5"
    sio.write_dataset(
        path,
        splits,
        classes,
        {"source": "unit", "seed": 7, "note": "hello"},
        preprocessing={"mean": np.arange(3.0), "scale": np.array([1.0, 2.0, 3.0])},
        feature_names=["a", "b", "c"],
        image_shape=None,
        class_names=["x", "y", "z"],
        config={"k": [1, 2]},
        chunk_rows=4,
        compression="gzip",
        compression_level=4,
    )
    for name in sio.SPLITS:
        X, y, info = sio.read_dataset(path, name)
        assert X.dtype == dtype
        np.testing.assert_array_equal(X, splits[name][0])
        np.testing.assert_array_equal(y, splits[name][1])
        assert y.dtype == np.int64
    assert info["classes"].dtype == classes.dtype
    np.testing.assert_array_equal(info["classes"], classes)
    assert info["source"] == "unit" and info["seed"] == 7 and info["meta"] == {"note": "hello"}
    assert info["n_features"] == 3 and info["n_classes"] == 3
    assert info["feature_names"] == ["a", "b", "c"] and info["class_names"] == ["x", "y", "z"]
    assert info["config"] == {"k": [1, 2]}
    assert info["standardized"]
    np.testing.assert_array_equal(info["preprocessing"]["scale"], [1.0, 2.0, 3.0])
    split = info["splits"]["train"]
    assert split["chunks"] == (4, 3) and split["compression"] == "gzip" and split["n_samples"] == 30
    assert sum(split["class_counts"]) == 30
    assert info["library_versions"]["numpy"] == np.__version__


def test_dataset_chunking_default_and_contiguous_mmap(tmp_path):
    splits = small_splits(sizes=(5000, 10, 10), n_features=40)
    path = tmp_path / "auto.h5"
    write_small(path, splits=splits)
    info = sio.dataset_info(path)
    # ~1 MiB chunks: 1 MiB / (40 * 8 bytes) = 3276 rows.
    assert info["splits"]["train"]["chunks"] == (3276, 40)
    X, _, _ = sio.read_dataset(path, "train", mmap_ok=True)
    assert not isinstance(X, np.memmap)  # chunked data cannot be mapped

    path = tmp_path / "contiguous.h5"
    write_small(path, splits=splits, chunk_rows=0)
    assert sio.dataset_info(path)["splits"]["train"]["chunks"] is None
    X, y, _ = sio.read_dataset(path, "train", mmap_ok=True)
    assert isinstance(X, np.memmap)
    np.testing.assert_array_equal(X, splits["train"][0])
    X2, _, _ = sio.read_dataset(path, "train")
    assert not isinstance(X2, np.memmap)


def test_dataset_empty_split_and_image_shape(tmp_path):
    splits = small_splits(n_features=4, sizes=(12, 0, 5))
    path = tmp_path / "d.h5"
    write_small(path, splits=splits, image_shape=(2, 2), compression="lzf")
    X, y, info = sio.read_dataset(path, "val")
    assert X.shape == (0, 4) and y.shape == (0,)
    assert info["image_shape"] == (2, 2)
    assert info["preprocessing"] is None and not info["standardized"]


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda s, c: s.update(val=(s["val"][0][:, :2], s["val"][1])), "has 2 features"),
        (lambda s, c: s.update(test=(s["test"][0], s["test"][1] + 5)), "class indices"),
        (lambda s, c: s.update(train=(s["train"][0].astype(np.int64), s["train"][1])), "float32 or float64"),
        (lambda s, c: s.pop("val"), "missing"),
        (lambda s, c: s.update(train=(s["train"][0].astype(np.float32), s["train"][1])), "one X dtype"),
    ],
)
def test_write_dataset_rejects_inconsistent_input(tmp_path, change, message):
    splits = small_splits()
    change(splits, None)
    with pytest.raises(ValueError, match=message):
        sio.write_dataset(tmp_path / "d.h5", splits, [1, 2, 3], {"source": "x"})
    assert os.listdir(tmp_path) == []


def test_write_dataset_rejects_bad_options(tmp_path):
    with pytest.raises(ValueError, match="compression must be"):
        write_small(tmp_path / "d.h5", compression="zstd")
    with pytest.raises(ValueError, match="contiguous"):
        write_small(tmp_path / "d.h5", chunk_rows=0, compression="lzf")
    with pytest.raises(ValueError, match="image_shape"):
        write_small(tmp_path / "d.h5", image_shape=(2, 2))
    with pytest.raises(ValueError, match="numbers or all strings"):
        write_small(tmp_path / "d.h5", classes=np.array([1, "a", 2.0], dtype=object))


# ---------------------------------------------------------------------------
# bad files
# ---------------------------------------------------------------------------


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        sio.read_dataset(tmp_path / "missing.h5", "train")
    with pytest.raises(FileNotFoundError, match="model file .* does not exist"):
        sio.load_model(tmp_path / "missing.h5")


def test_truncated_file(tmp_path):
    path = tmp_path / "d.h5"
    write_small(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(sio.FileFormatError, match="truncated"):
        sio.read_dataset(path, "train")
    with pytest.raises(sio.FileFormatError, match="truncated"):
        sio.describe(path)


def test_corrupted_chunk_is_detected(tmp_path):
    splits = small_splits(sizes=(400, 10, 10), n_features=8)
    path = tmp_path / "d.h5"
    write_small(path, splits=splits, chunk_rows=50)
    with h5py.File(path, "r") as handle:
        offset = handle["train/X"].id.get_chunk_info(2).byte_offset
    with open(path, "r+b") as handle:
        handle.seek(offset + 17)
        byte = handle.read(1)
        handle.seek(offset + 17)
        handle.write(bytes([byte[0] ^ 0xFF]))
    sio.dataset_info(path)  # the header is intact
    with pytest.raises(sio.FileFormatError, match="corrupted"):
        sio.read_dataset(path, "train")


def test_not_hdf5(tmp_path):
    path = tmp_path / "d.h5"
    path.write_text("label,x\n1,2\n")
    with pytest.raises(sio.FileFormatError, match="not an HDF5 file"):
        sio.read_dataset(path, "train")


def test_hdf5_not_ours(tmp_path):
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as handle:
        handle["X"] = np.zeros((3, 2))
    with pytest.raises(sio.FileFormatError, match="not a softmax_nb file"):
        sio.read_dataset(path, "train")
    with pytest.raises(sio.FileFormatError, match="not a softmax_nb file"):
        sio.load_model(path)


def test_wrong_format_kind_and_version(tmp_path):
    path = tmp_path / "d.h5"
    write_small(path)
    with pytest.raises(sio.FileFormatError, match="format 'softmax_nb-dataset', expected 'softmax_nb-model'"):
        sio.load_model(path)
    with h5py.File(path, "r+") as handle:
        handle.attrs["format_version"] = sio.DATASET_FORMAT_VERSION + 1
    with pytest.raises(sio.FileFormatError, match="format version 2.*newer"):
        sio.read_dataset(path, "train")


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda h: h.__delitem__("val"), "missing '/val'"),
        (lambda h: h.__delitem__("classes"), "missing '/classes'"),
        (lambda h: h.attrs.__delitem__("n_features"), "n_features"),
        (lambda h: h.attrs.__setitem__("n_classes", 4), "lists 3 classes"),
        (lambda h: (h.__delitem__("test/y"), h.create_dataset("test/y", data=np.zeros(2, np.int64))), "/test/y"),
        (lambda h: h.attrs.__setitem__("n_features", 5), "/train/X has shape"),
    ],
)
def test_inconsistent_dataset_file(tmp_path, damage, message):
    path = tmp_path / "d.h5"
    write_small(path)
    with h5py.File(path, "r+") as handle:
        damage(handle)
    with pytest.raises(sio.FileFormatError, match=message):
        sio.read_dataset(path, "train")


def test_labels_out_of_range_in_file(tmp_path):
    path = tmp_path / "d.h5"
    write_small(path, chunk_rows=0)
    with h5py.File(path, "r+") as handle:
        handle["train/y"][0] = 99
    with pytest.raises(sio.FileFormatError, match="outside 0..2"):
        sio.read_dataset(path, "train")


# ---------------------------------------------------------------------------
# model files
# ---------------------------------------------------------------------------


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


def test_model_round_trip(tmp_path, fitted):
    clf, X = fitted
    path = tmp_path / "m.h5"
    pre = {"mean": np.arange(5.0), "scale": np.ones(5)}
    sio.save_model(path, clf, preprocessing=pre, extra={"data": "x.h5"}, config_hash="abc123")
    loaded, info = sio.load_model(path, return_info=True)
    assert type(loaded) is SoftmaxClassifier
    assert loaded.get_params() == clf.get_params()
    np.testing.assert_array_equal(loaded.classes_, clf.classes_)
    assert loaded.classes_.dtype == clf.classes_.dtype
    np.testing.assert_array_equal(loaded.coef_, clf.coef_)
    np.testing.assert_array_equal(loaded.intercept_, clf.intercept_)
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))
    assert loaded.n_features_in_ == 5 and loaded.n_iter_ == clf.n_iter_
    assert loaded.device_used_ == clf.device_used_ and loaded.fit_time_ == clf.fit_time_
    assert set(loaded.history_) == set(clf.history_)
    for key in clf.history_:
        np.testing.assert_array_equal(loaded.history_[key], clf.history_[key])
    assert info["config_hash"] == "abc123" and info["extra"] == {"data": "x.h5"}
    np.testing.assert_array_equal(info["preprocessing"]["mean"], pre["mean"])
    versions = info["library_versions"]
    assert versions["numpy"] == np.__version__ and versions["numba"] != "unknown"
    assert versions["softmax_nb"] == __import__("softmax_nb").__version__
    # Nothing in the file needs pickle: every object is a plain dataset or attribute.
    with h5py.File(path, "r") as handle:
        assert handle["coef"].fletcher32
        assert all(not isinstance(v, np.void) for v in handle.attrs.values())


def test_model_class_weight_with_integer_keys(tmp_path):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((60, 3))
    y = rng.integers(0, 3, 60)
    clf = SoftmaxClassifier(class_weight={0: 1.0, 2: 3.0}, C=float("inf"), max_iter=5)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(X, y)
    sio.save_model(tmp_path / "m.h5", clf)
    loaded = sio.load_model(tmp_path / "m.h5")
    assert loaded.class_weight == {0: 1.0, 2: 3.0}
    assert np.isinf(loaded.C)


def test_save_unfitted_model_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unfitted"):
        sio.save_model(tmp_path / "m.h5", SoftmaxClassifier())
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda h: h.__delitem__("coef"), "missing '/coef'"),
        (lambda h: (h.__delitem__("intercept"), h.create_dataset("intercept", data=np.zeros(2))), "/intercept"),
        (lambda h: h.attrs.__setitem__("n_features_in", 7), "/coef has shape"),
        (lambda h: h.attrs.__setitem__("n_classes", 4), "lists 3 classes"),
        (lambda h: h.attrs.__setitem__("hyperparameters", "{not json"), "not valid JSON"),
        (lambda h: h.attrs.__setitem__("hyperparameters", '{"C": 1.0, "bogus": 2}'), "bogus"),
        (lambda h: h.attrs.__setitem__("format_version", 99), "format version 99"),
        (lambda h: h.attrs.__setitem__("format", "something-else"), "format 'something-else'"),
    ],
)
def test_inconsistent_model_file(tmp_path, fitted, damage, message):
    path = tmp_path / "m.h5"
    sio.save_model(path, fitted[0])
    with h5py.File(path, "r+") as handle:
        damage(handle)
    with pytest.raises(sio.FileFormatError, match=message):
        sio.load_model(path)


def test_truncated_model_file(tmp_path, fitted):
    path = tmp_path / "m.h5"
    sio.save_model(path, fitted[0])
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 100])
    with pytest.raises(sio.FileFormatError, match="truncated"):
        sio.load_model(path)


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
