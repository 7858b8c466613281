"""Small dataset files for the tests of softmax_nb.files (imported by name: pytest puts this folder on sys.path)."""

import os

import numpy as np

from softmax_nb.files.dataset import SPLITS, write_dataset


def leftovers(folder):
    """Temporary files of atomic_write left in a folder (there must be none)."""
    return [name for name in os.listdir(folder) if ".tmp-" in name]


def small_splits(dtype=np.float64, n_features=3, n_classes=3, seed=0, sizes=(30, 9, 9)):
    rng = np.random.default_rng(seed)
    out = {}
    for name, n in zip(SPLITS, sizes):
        out[name] = (rng.standard_normal((n, n_features)).astype(dtype), rng.integers(0, n_classes, n))
    return out


def write_small(path, **kwargs):
    kwargs.setdefault("classes", np.array([10, 20, 30]))
    splits = kwargs.pop("splits", small_splits())
    classes = kwargs.pop("classes")
    attrs = kwargs.pop("attrs", {"source": "test", "seed": 3})
    return write_dataset(path, splits, classes, attrs, **kwargs)


def fitted_classifier():
    """A small fitted classifier with string labels and class weights, and its X."""
    from softmax_nb import SoftmaxClassifier

    rng = np.random.default_rng(0)
    X = rng.standard_normal((120, 5))
    y = np.array(["b", "a", "c"])[rng.integers(0, 3, 120)]
    X_val = rng.standard_normal((30, 5))
    y_val = np.array(["b", "a", "c"])[rng.integers(0, 3, 30)]
    clf = SoftmaxClassifier(C=0.5, max_iter=50, class_weight={"a": 2.0, "b": 1.0}, random_state=3)
    clf.fit(X, y, eval_set=(X_val, y_val))
    return clf, X


def random_bit_flips(clean, count, seed):
    """``(position, data)``: ``count`` copies of the bytes ``clean``, each with one random bit
    flipped (seeded), for the damage tests of every file type."""
    import random

    rng = random.Random(seed)
    for _ in range(count):
        data = bytearray(clean)
        position = rng.randrange(len(data))
        data[position] ^= 1 << rng.randrange(8)
        yield position, bytes(data)
