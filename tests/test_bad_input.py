"""The estimator's side of the bad-input matrix: each case stops with a message
naming the problem; non-contiguous and read-only (memmap) arrays work."""

import numpy as np
import pytest

from softmax_nb import SoftmaxClassifier

rng = np.random.default_rng(0)
X = rng.normal(size=(40, 3))
y = rng.integers(0, 3, 40)


def with_value(array, index, value):
    out = np.array(array, dtype=float)
    out[index] = value
    return out


@pytest.mark.parametrize("X_bad,y_bad,match", [
    (with_value(X, (3, 1), np.nan), y, "NaN"),
    (with_value(X, (3, 1), np.inf), y, "infinity"),
    (X[:, 0], y, "2D array"),
    (np.empty((0, 3)), np.empty(0), "0 sample"),
    (np.empty((40, 0)), y, "0 feature"),
    (X, y[:30], "inconsistent numbers of samples"),
    (X, with_value(y, 2, np.nan), "NaN"),
    (X, rng.normal(size=40), "continuous"),
    (X, np.zeros(40), "only one class"),
    (X.astype(object), y, None),
    (X.astype(complex), y, "[Cc]omplex"),
])
def test_bad_arrays_are_named(X_bad, y_bad, match):
    if match is None:  # object arrays of numbers are converted, as in scikit-learn
        SoftmaxClassifier(max_iter=200).fit(X_bad, y_bad)
        return
    with pytest.raises(ValueError, match=match):
        SoftmaxClassifier().fit(X_bad, y_bad)


@pytest.mark.parametrize("weights,match", [
    (-np.ones(40), "Negative values"),
    (with_value(np.ones(40), 0, np.nan), "NaN"),
    (np.ones(30), r"sample_weight.shape|\(30,\)"),
    (np.zeros(40), "at least one non-zero"),
])
def test_bad_sample_weights_are_named(weights, match):
    with pytest.raises(ValueError, match=match):
        SoftmaxClassifier().fit(X, y, sample_weight=weights)


def test_class_weight_naming_unknown_class():
    with pytest.raises(ValueError, match="class_weight"):
        SoftmaxClassifier(class_weight={0: 1.0, 7: 2.0}).fit(X, y)


def test_non_contiguous_and_read_only_memmap_work(tmp_path):
    wide = np.zeros((40, 6))
    wide[:, ::2] = X
    reference = SoftmaxClassifier().fit(X, y)
    strided = SoftmaxClassifier().fit(wide[:, ::2], y)
    np.testing.assert_array_equal(reference.coef_, strided.coef_)
    path = tmp_path / "X.npy"
    np.save(path, X)
    mapped = np.load(path, mmap_mode="r")
    assert not mapped.flags.writeable
    from_memmap = SoftmaxClassifier().fit(mapped, y)
    np.testing.assert_array_equal(reference.coef_, from_memmap.coef_)
    np.testing.assert_array_equal(from_memmap.predict(mapped), reference.predict(X))


def test_predict_time_errors():
    clf = SoftmaxClassifier().fit(X, y)
    with pytest.raises(ValueError, match="3 features"):
        clf.predict(np.zeros((2, 5)))
    with pytest.raises(Exception, match="not fitted"):
        SoftmaxClassifier().predict(X)
