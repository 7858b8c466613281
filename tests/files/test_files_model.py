"""softmax_nb.files.model: model files, their round trip and the errors of bad files."""

import os

import h5py
import numpy as np
import pytest

from h5_samples import fitted_classifier, write_small
from softmax_nb import SoftmaxClassifier
from softmax_nb.model.persistence import load_model
from softmax_nb import files as sio


@pytest.fixture(scope="module")
def fitted():
    return fitted_classifier()


def test_model_round_trip(tmp_path, fitted):
    clf, X = fitted
    path = tmp_path / "m.h5"
    pre = {"mean": np.arange(5.0), "scale": np.ones(5)}
    sio.save_model(path, clf, preprocessing=pre, extra={"data": "x.h5"}, config_hash="abc123")
    loaded, info = load_model(path, return_info=True)
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
    loaded = load_model(tmp_path / "m.h5")
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
    from softmax_nb.files.common import DIGEST_ATTR, content_digest

    with h5py.File(path, "r+") as handle:
        damage(handle)
    with pytest.raises(sio.FileFormatError, match=r"damaged: its checksum|" + message):
        load_model(path)
    # The same damage with a matching checksum: the structural checks name it.
    with h5py.File(path, "r+") as handle:
        handle.attrs[DIGEST_ATTR] = content_digest(handle)
    with pytest.raises(sio.FileFormatError, match=message):
        load_model(path)


def test_truncated_model_file(tmp_path, fitted):
    path = tmp_path / "m.h5"
    sio.save_model(path, fitted[0])
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 100])
    with pytest.raises(sio.FileFormatError, match="truncated"):
        load_model(path)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        sio.read_dataset(tmp_path / "missing.h5", "train")
    with pytest.raises(FileNotFoundError, match="model file .* does not exist"):
        load_model(tmp_path / "missing.h5")


def test_hdf5_not_ours(tmp_path):
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as handle:
        handle["X"] = np.zeros((3, 2))
    with pytest.raises(sio.FileFormatError, match="not a softmax_nb file"):
        sio.read_dataset(path, "train")
    with pytest.raises(sio.FileFormatError, match="not a softmax_nb file"):
        load_model(path)


def test_wrong_format_kind_and_version(tmp_path):
    path = tmp_path / "d.h5"
    write_small(path)
    with pytest.raises(sio.FileFormatError, match="format 'softmax_nb-dataset', expected 'softmax_nb-model'"):
        load_model(path)
    with h5py.File(path, "r+") as handle:
        handle.attrs["format_version"] = max(sio.dataset.READABLE_DATASET_VERSIONS) + 1
    with pytest.raises(sio.FileFormatError, match=f"format version {max(sio.dataset.READABLE_DATASET_VERSIONS) + 1}.*newer"):
        sio.read_dataset(path, "train")


def test_binary_model_is_one_row_and_float32_stays_float32(tmp_path):
    rng = np.random.default_rng(2)
    X = rng.standard_normal((80, 4)).astype(np.float32)
    y = np.where(X[:, 0] + 0.3 * rng.standard_normal(80) > 0, "yes", "no")
    clf = SoftmaxClassifier().fit(X, y)
    path = tmp_path / "binary.h5"
    sio.save_model(path, clf)
    with h5py.File(path, "r") as handle:
        assert handle.attrs["format_version"] == sio.MODEL_FORMAT_VERSION == 2
        assert handle["coef"].shape == (1, 4) and handle["coef"].dtype == np.float32
    loaded = load_model(path)
    assert loaded.coef_.dtype == np.float32 and loaded.intercept_.shape == (1,)
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    np.testing.assert_array_equal(loaded.decision_function(X), clf.decision_function(X))


def test_version_1_binary_model_reads_as_its_log_odds_row(tmp_path):
    """A version-1 file (two softmax rows) predicts the same after conversion, with a warning."""
    rng = np.random.default_rng(3)
    X = rng.standard_normal((50, 3))
    y = (X[:, 1] > 0).astype(int)
    clf = SoftmaxClassifier().fit(X, y)
    path = tmp_path / "old.h5"
    sio.save_model(path, clf)
    two_rows = np.array([[0.4, -0.2, 0.1], [0.4 + 1.5, -0.2 - 0.7, 0.1 + 0.25]])
    two_intercepts = np.array([0.3, -0.2])
    with h5py.File(path, "r+") as handle:
        handle.attrs["format_version"] = 1
        for name, value in (("coef", two_rows), ("intercept", two_intercepts)):
            del handle[name]
            handle.create_dataset(name, data=value)
    with pytest.warns(UserWarning, match="format version 1.*2\\*C"):
        loaded = load_model(path)
    np.testing.assert_allclose(loaded.coef_, [[1.5, -0.7, 0.25]], rtol=1e-15)
    np.testing.assert_allclose(loaded.intercept_, [-0.5], rtol=1e-15)
    logits = X @ two_rows.T + two_intercepts
    softmax = np.exp(logits - logits.max(axis=1, keepdims=True))
    softmax /= softmax.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(loaded.predict_proba(X), softmax, rtol=1e-12)
    # A version-1 multiclass file reads unchanged, without a warning.
    three = SoftmaxClassifier().fit(X, rng.integers(0, 3, 50))
    sio.save_model(path, three)
    with h5py.File(path, "r+") as handle:
        handle.attrs["format_version"] = 1
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(load_model(path).coef_, three.coef_)


def test_a_flipped_bit_anywhere_in_a_model_file_is_found(tmp_path, fitted):
    """Every byte a reader uses is covered by fletcher32 (coef, intercept) or the file's
    SHA-256 (attributes, classes, history, preprocessing): no flip predicts silently."""
    from h5_samples import random_bit_flips

    path = tmp_path / "m.h5"
    sio.save_model(path, fitted[0], preprocessing={"mean": np.zeros(5), "scale": np.ones(5)})
    clean = path.read_bytes()
    reference = load_model(path)
    X = fitted[1]
    silent = []
    for position, data in random_bit_flips(clean, 150, seed=0):
        path.write_bytes(data)
        try:
            loaded, info = load_model(path, return_info=True)
        except (sio.FileFormatError, FileNotFoundError):
            continue
        same = (np.array_equal(loaded.predict_proba(X), reference.predict_proba(X))
                and loaded.get_params() == reference.get_params()
                and np.array_equal(loaded.classes_, reference.classes_)
                and all(np.array_equal(loaded.history_[k], reference.history_[k], equal_nan=True)
                        for k in reference.history_)
                and np.array_equal(info["preprocessing"]["mean"], np.zeros(5)))
        if not same:
            silent.append(position)
    assert not silent, f"flips at bytes {silent} changed the model without an error"
