"""Small dataset files for the streaming, writer and streamed-training tests."""

import numpy as np

from softmax_nb import data


def make_dataset(path, *, n_samples=1200, n_features=12, n_classes=4, chunk_rows=7, dtype="float64", seed=0):
    """A prepared synthetic dataset file with tiny HDF5 chunks (many blocks)."""
    data.prepare({"name": "synthetic", "n_samples": n_samples, "n_features": n_features,
                  "n_classes": n_classes, "seed": seed}, path, chunk_rows=chunk_rows, dtype=dtype, seed=seed)
    return path


def rel_error(a, b):
    """max |a - b| relative to max |b|."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))
