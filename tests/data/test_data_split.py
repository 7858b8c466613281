"""softmax_nb.data.split: seeded stratified splits and standardization."""

import numpy as np
import pytest

from softmax_nb import data as ds


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
