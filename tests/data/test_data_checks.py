"""softmax_nb.data.checks: the bad-array matrix of check_X_y, label encoding, class names."""

import numpy as np
import pytest

from softmax_nb.data import checks as ds

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


def test_encode_labels_and_class_names():
    classes, index = ds.encode_labels(np.array(["b", "a", "b", "c"]))
    assert classes.tolist() == ["a", "b", "c"] and index.tolist() == [1, 0, 1, 2] and index.dtype == np.int64
    assert ds.resolve_class_names(classes, ["A", "B", "C"]) == ["A", "B", "C"]
    with pytest.raises(ds.DataError, match="class_names has 2 names but the data have 3 classes"):
        ds.resolve_class_names(classes, ["A", "B"])
    # Names a loader knows by label value: those of the classes present are kept.
    assert ds.resolve_class_names(np.array([1, 3]), known=["zero", "one", "two", "three"]) == ["one", "three"]
    assert ds.resolve_class_names(np.array([1, 3])) is None
