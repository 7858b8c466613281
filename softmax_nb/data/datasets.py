"""Data sources, stratified splits and standardization, ending in a dataset file.

A *source* is a loader returning ``(X, y, meta)``: X a 2-D float array, y the raw
labels (numbers or strings), meta a dict of provenance (``image_shape``,
``feature_names``, ``class_names`` when known).  :data:`SOURCES` maps source names to
loaders; :func:`prepare` is the single entry point used by the command line and the
workflow::

    prepare({"name": "digits"}, "results/data/digits.h5", seed=0)

Every loader and :func:`check_X_y` reject bad input with a :class:`DataError` whose
message names the file, row and column where that is known.
"""

from __future__ import annotations

import csv
import gzip
import inspect
import json
import os
import struct
from pathlib import Path

import numpy as np

from ..files import io as sio

__all__ = [
    "DataError",
    "SOURCES",
    "FASHION_MNIST_DIR",
    "FASHION_MNIST_CLASSES",
    "load_digits",
    "make_softmax_data",
    "load_csv",
    "load_npz",
    "load_npy",
    "load_hdf5",
    "load_idx",
    "read_idx",
    "load_fashion_mnist",
    "load_source",
    "check_X_y",
    "encode_labels",
    "stratified_split",
    "fit_standardization",
    "apply_standardization",
    "prepare",
    "prepare_from_config",
    "prepare_chunked",
    "CHUNKED_SOURCES",
]

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)


class DataError(ValueError):
    """Input data that cannot be used; the message says what and where."""


# ---------------------------------------------------------------------------
# validation
# ---------------------------------------------------------------------------


def check_X_y(X, y, *, source="input"):
    """Check a feature matrix and its labels before they are split and written.

    Parameters
    ----------
    X : array-like, shape (n_samples, n_features)
        Real numbers, all finite.
    y : array-like, shape (n_samples,)
        Class labels: integers, integral floats or strings.  NaN and continuous
        (non-integral float) targets are refused: this is a classifier.
    source : str
        Named in error messages.

    Returns
    -------
    X : ndarray of float64 or float32
        float32 input stays float32; integers become float64.
    y : ndarray
        Integral floats become int64; strings and integers are kept.

    Raises
    ------
    DataError
    """
    X = np.asarray(X)
    y = np.asarray(y)
    if X.dtype == object or X.dtype.kind not in "biuf":
        raise DataError(f"{source}: X must hold real numbers, got dtype {X.dtype}")
    if X.ndim != 2:
        raise DataError(f"{source}: X must be 2-D (n_samples, n_features), got shape {X.shape}")
    if X.shape[0] == 0:
        raise DataError(f"{source}: X is empty (0 samples)")
    if X.shape[1] == 0:
        raise DataError(f"{source}: X has 0 features")
    if X.dtype.kind != "f":
        X = X.astype(np.float64)
    finite = np.isfinite(X)
    if not finite.all():
        row, col = np.argwhere(~finite)[0]
        count = int(X.size - np.count_nonzero(finite))
        raise DataError(
            f"{source}: X holds {count} NaN/infinite value(s); first at row {row}, column {col} "
            f"(value {X[row, col]})"
        )
    if y.ndim == 2 and y.shape[1] == 1:
        y = y.ravel()
    if y.ndim != 1:
        raise DataError(f"{source}: y must be 1-D, got shape {y.shape}")
    if y.shape[0] != X.shape[0]:
        raise DataError(f"{source}: y has {y.shape[0]} labels but X has {X.shape[0]} rows")
    if y.dtype.kind == "c" or X.dtype.kind == "c":
        raise DataError(f"{source}: complex values are not supported")
    if y.dtype.kind == "f":
        nan = np.isnan(y)
        if nan.any():
            raise DataError(f"{source}: y holds {int(nan.sum())} NaN label(s); first at row {int(np.argmax(nan))}")
        if not np.isfinite(y).all():
            raise DataError(f"{source}: y holds infinite labels")
        if np.any(y != np.round(y)):
            row = int(np.argmax(y != np.round(y)))
            raise DataError(
                f"{source}: y looks continuous (row {row} has label {y[row]}); "
                "a classifier needs class labels (integers or strings)"
            )
        y = y.astype(np.int64)
    elif y.dtype == object:
        kinds = {type(v) for v in y.tolist()}
        if kinds <= {str}:
            y = y.astype(str)
        elif kinds <= {int, bool}:
            y = y.astype(np.int64)
        else:
            names = ", ".join(sorted(k.__name__ for k in kinds))
            raise DataError(f"{source}: y must be all integers or all strings, got a mix of {names}")
    elif y.dtype.kind not in "biuUS":
        raise DataError(f"{source}: y has unsupported dtype {y.dtype}")
    if y.dtype.kind == "S":
        y = y.astype(str)
    if np.unique(y).size < 2:
        raise DataError(f"{source}: y has a single class ({y[0]!r}); a classifier needs at least 2")
    return X, y


def encode_labels(y):
    """Class labels and the index of each sample's class.

    Returns
    -------
    classes : ndarray
        Sorted unique labels.
    y_index : ndarray of int64
    """
    classes, y_index = np.unique(y, return_inverse=True)
    return classes, y_index.astype(np.int64).ravel()


# ---------------------------------------------------------------------------
# sources
# ---------------------------------------------------------------------------


def load_digits():
    """scikit-learn's handwritten digits: 1797 images of 8x8 pixels, 10 classes.

    Returns
    -------
    X : ndarray of float64, shape (1797, 64)
    y : ndarray of int64, shape (1797,)
    meta : dict
        ``image_shape`` (8, 8), ``feature_names``.
    """
    from sklearn.datasets import load_digits as _load

    bunch = _load()
    return (
        bunch.data.astype(np.float64),
        bunch.target.astype(np.int64),
        {"image_shape": [8, 8], "feature_names": list(bunch.feature_names), "description": "sklearn load_digits"},
    )


def make_softmax_data(n_samples=1000, n_features=20, n_classes=3, class_sep=1.0, seed=0):
    """Samples drawn from a multinomial logistic model (the model this library fits).

    ``x ~ N(0, I)``; true weights ``W ~ N(0, class_sep^2 / n_features)`` with
    shape (n_classes, n_features) and intercepts ``b ~ N(0, 0.1^2)``; each label is
    drawn from ``softmax(W x + b)``.  With the weights scaled by ``1/sqrt(n_features)``
    the logits have standard deviation about ``class_sep`` whatever the number of
    features, so ``class_sep`` alone sets how separable the classes are.

    Parameters
    ----------
    n_samples, n_features, n_classes : int
    class_sep : float
        Larger is easier; 0 gives labels independent of x.
    seed : int

    Returns
    -------
    X : ndarray of float64, shape (n_samples, n_features)
    y : ndarray of int64, shape (n_samples,)
    meta : dict
        The generator's parameters and the true ``coef``/``intercept`` (lists).
    """
    for name, value, low in (("n_samples", n_samples, 1), ("n_features", n_features, 1), ("n_classes", n_classes, 2)):
        if not isinstance(value, (int, np.integer)) or value < low:
            raise DataError(f"synthetic: {name} must be an integer >= {low}, got {value!r}")
    if not np.isfinite(class_sep) or class_sep < 0:
        raise DataError(f"synthetic: class_sep must be finite and >= 0, got {class_sep!r}")
    rng = np.random.default_rng(seed)
    coef = rng.normal(0.0, class_sep / np.sqrt(n_features), size=(n_classes, n_features))
    intercept = rng.normal(0.0, 0.1, size=n_classes)
    X = rng.standard_normal((n_samples, n_features))
    logits = X @ coef.T + intercept
    logits -= logits.max(axis=1, keepdims=True)  # stable softmax
    proba = np.exp(logits)
    proba /= proba.sum(axis=1, keepdims=True)
    # Inverse-CDF sampling, one uniform per row: vectorised and seeded.
    u = rng.random(n_samples)[:, None]
    y = np.minimum((proba.cumsum(axis=1) < u).sum(axis=1), n_classes - 1).astype(np.int64)
    meta = {
        "generator": "multinomial logistic",
        "n_samples": int(n_samples),
        "n_features": int(n_features),
        "n_classes": int(n_classes),
        "class_sep": float(class_sep),
        "seed": seed,
        "true_coef": coef.tolist(),
        "true_intercept": intercept.tolist(),
    }
    return X, y, meta


def _open_text(path):
    path = _existing(path, "CSV file")
    if path.suffix == ".gz":
        return gzip.open(path, "rt", newline="", encoding="utf-8")
    return open(path, newline="", encoding="utf-8")


def _existing(path, what):
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{what} {str(path)!r} does not exist")
    if path.is_dir():
        raise DataError(f"{what} {str(path)!r} is a folder, not a file")
    return path


def _parse_label(text):
    text = text.strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def load_csv(path, label_column=-1, header="auto", delimiter=",", skip_columns=()):
    """Read a CSV file (optionally ``.gz``) of numeric features and one label column.

    Parameters
    ----------
    path : str or os.PathLike
    label_column : int, str or None, default -1
        Index of the label column (negative counts from the end) or its name in
        the header; ``None`` for a table of features only (``y`` is then ``None``).
    header : {"auto", True, False}
        ``"auto"``: the first row is a header when one of its feature cells is not
        a number.  A named ``label_column`` needs a header.
    delimiter : str
    skip_columns : sequence of int or str
        Columns to ignore (an id column, say), by index or header name.

    Returns
    -------
    X : ndarray of float64
    y : ndarray
        Integer labels as int64, integral floats as int64, text as str.
    meta : dict
        ``feature_names`` when there is a header.

    Raises
    ------
    FileNotFoundError
    DataError
        Ragged rows, a cell that is not a number, NaN/infinity, a header that
        does not match the rows, a label column that does not exist; the message
        names the line (1-based, as in an editor) and the column.
    """
    if header not in ("auto", True, False):
        raise DataError(f"CSV: header must be 'auto', true or false, got {header!r}")
    with _open_text(path) as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        rows = []
        first = None
        for row in reader:
            if not row or (len(row) == 1 and not row[0].strip()):
                continue  # blank line
            if first is None:
                first = (reader.line_num, row)
                continue
            rows.append((reader.line_num, row))
    name = str(path)
    if first is None:
        raise DataError(f"CSV file {name!r} is empty")
    first_line, first_row = first
    n_columns = len(first_row)
    if n_columns < (1 if label_column is None else 2):
        raise DataError(f"CSV file {name!r}: line {first_line} has {n_columns} column; need features and a label")

    column_names = None
    if header is True or isinstance(label_column, str) or any(isinstance(c, str) for c in skip_columns):
        has_header = True
        if header is False:
            raise DataError(f"CSV file {name!r}: a column given by name needs header=true")
    elif header is False:
        has_header = False
    else:
        # Only feature cells decide: text labels ("cat") are normal in data rows.
        not_features = {c % n_columns for c in (*skip_columns, label_column)
                        if isinstance(c, (int, np.integer)) and -n_columns <= c < n_columns}
        has_header = not all(_is_number(cell) for i, cell in enumerate(first_row) if i not in not_features)
    if has_header:
        column_names = [cell.strip() for cell in first_row]
        if len(set(column_names)) != len(column_names):
            dupes = sorted({c for c in column_names if column_names.count(c) > 1})
            raise DataError(f"CSV file {name!r}: header repeats column name(s) {dupes}")
    else:
        rows.insert(0, first)
    if not rows:
        raise DataError(f"CSV file {name!r} has a header but no data rows")

    def resolve(column, what):
        if isinstance(column, str):
            if column not in column_names:
                raise DataError(f"CSV file {name!r}: {what} {column!r} is not in the header {column_names}")
            return column_names.index(column)
        if not isinstance(column, (int, np.integer)) or not -n_columns <= column < n_columns:
            raise DataError(f"CSV file {name!r}: {what} {column!r} is out of range for {n_columns} columns")
        return int(column) % n_columns

    label_index = None if label_column is None else resolve(label_column, "label column")
    skipped = {resolve(c, "skip column") for c in skip_columns}
    if label_index is not None and label_index in skipped:
        raise DataError(f"CSV file {name!r}: the label column is also in skip_columns")
    feature_index = [i for i in range(n_columns) if i != label_index and i not in skipped]
    if not feature_index:
        raise DataError(f"CSV file {name!r} has no feature columns")

    def column_label(i):
        return f"{i + 1} ({column_names[i]!r})" if column_names else str(i + 1)

    X = np.empty((len(rows), len(feature_index)), dtype=np.float64)
    labels = []
    for r, (line, row) in enumerate(rows):
        if len(row) != n_columns:
            if column_names is not None:
                raise DataError(
                    f"CSV file {name!r}: line {line} has {len(row)} columns but the header has {n_columns}"
                )
            raise DataError(
                f"CSV file {name!r}: line {line} has {len(row)} columns but line {first_line} has {n_columns} "
                "(ragged rows)"
            )
        cells = [row[i] for i in feature_index]
        try:
            X[r] = np.array(cells, dtype=np.float64)
        except ValueError:
            for i in feature_index:
                if not _is_number(row[i]):
                    raise DataError(
                        f"CSV file {name!r}: line {line}, column {column_label(i)}: "
                        f"{row[i]!r} is not a number"
                    ) from None
            raise
        if not np.isfinite(X[r]).all():
            j = int(np.argmax(~np.isfinite(X[r])))
            raise DataError(
                f"CSV file {name!r}: line {line}, column {column_label(feature_index[j])}: "
                f"{row[feature_index[j]].strip()!r} is not finite"
            )
        if label_index is None:
            continue
        label = row[label_index].strip()
        if not label:
            raise DataError(f"CSV file {name!r}: line {line}, label column {column_label(label_index)} is empty")
        labels.append(_parse_label(label))
    kinds = {type(v) for v in labels}
    if label_index is None:
        y = None
    elif kinds <= {int}:
        y = np.array(labels, dtype=np.int64)
    elif kinds <= {int, float}:
        y = np.array(labels, dtype=np.float64)
    else:
        # A mix of numbers and words is read as text labels ("3", "cat").
        y = np.array([row[label_index].strip() for _, row in rows], dtype=str)
    meta = {"path": str(path)}
    if column_names is not None:
        meta["feature_names"] = [column_names[i] for i in feature_index]
        meta["label_column"] = None if label_index is None else column_names[label_index]
    else:
        meta["label_column"] = label_index
    return X, y, meta


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def load_npz(path, x_key="X", y_key="y"):
    """Read X and y from a NumPy ``.npz`` archive (no pickled objects).

    Parameters
    ----------
    path : str or os.PathLike
    x_key, y_key : str
        Names of the arrays in the archive.
    """
    path = _existing(path, "NPZ file")
    try:
        archive = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise DataError(f"cannot read NPZ file {str(path)!r}: {exc}") from exc
    if not hasattr(archive, "files"):
        raise DataError(f"{str(path)!r} is a single .npy array, not an .npz archive; use the 'npy' source")
    with archive:
        for key in (x_key, y_key):
            if key not in archive.files:
                raise DataError(f"NPZ file {str(path)!r} has no array {key!r}; it holds {archive.files}")
        try:
            X, y = archive[x_key], archive[y_key]
        except ValueError as exc:  # object arrays need pickle, which is refused
            raise DataError(f"NPZ file {str(path)!r}: {exc}") from exc
    return X, y, {"path": str(path), "x_key": x_key, "y_key": y_key}


def load_npy(x_path, y_path):
    """Read X and y from two ``.npy`` files (memory-mapped while checked)."""
    out = []
    for what, path in (("X", x_path), ("y", y_path)):
        path = _existing(path, f"NPY file for {what}")
        try:
            out.append(np.load(path, mmap_mode="r", allow_pickle=False))
        except (ValueError, OSError) as exc:
            raise DataError(f"cannot read NPY file {str(path)!r}: {exc}") from exc
    return out[0], out[1], {"x_path": str(x_path), "y_path": str(y_path)}


def load_hdf5(path, x_key="X", y_key="y"):
    """Read X and y from datasets of any HDF5 file.

    Parameters
    ----------
    path : str or os.PathLike
    x_key, y_key : str
        Paths of the datasets inside the file (``"/features"``, ``"train/X"``...).
    """
    import h5py

    path = _existing(path, "HDF5 file")
    try:
        handle = h5py.File(path, "r")
    except OSError as exc:
        raise DataError(f"cannot open HDF5 file {str(path)!r}: {str(exc).splitlines()[0]}") from exc
    try:
        with handle:
            out = []
            for key in (x_key, y_key):
                if key not in handle or not isinstance(handle[key], h5py.Dataset):
                    found = []
                    handle.visititems(lambda n, o: found.append(n) if isinstance(o, h5py.Dataset) else None)
                    raise DataError(f"HDF5 file {str(path)!r} has no dataset {key!r}; it holds {found}")
                out.append(handle[key][()])
    except OSError as exc:
        raise DataError(f"HDF5 file {str(path)!r} is corrupted: {str(exc).splitlines()[0]}") from exc
    return out[0], out[1], {"path": str(path), "x_key": x_key, "y_key": y_key}


# IDX type codes (third byte of the magic number) and the big-endian dtypes they mean.
_IDX_TYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def read_idx(path):
    """Read an IDX file (the MNIST format), plain or gzip-compressed.

    The header is two zero bytes, a type code, the number of dimensions, then one
    big-endian uint32 per dimension; the data follow in row-major order.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    ndarray
        Shaped as the header says, in native byte order.

    Raises
    ------
    DataError
        Bad magic number, unknown type code, or a data size that differs from
        what the header announces.
    """
    path = _existing(path, "IDX file")
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            data = handle.read()
    except (OSError, EOFError) as exc:
        raise DataError(f"cannot read IDX file {str(path)!r}: {exc}") from exc
    name = str(path)
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise DataError(
            f"IDX file {name!r} has a bad magic number ({data[:4].hex() or 'empty file'}); "
            "an IDX file starts with two zero bytes, a type code and the number of dimensions"
        )
    type_code, ndim = data[2], data[3]
    if type_code not in _IDX_TYPES:
        raise DataError(f"IDX file {name!r} has unknown type code 0x{type_code:02x} in its magic number")
    if ndim < 1:
        raise DataError(f"IDX file {name!r} declares {ndim} dimensions")
    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise DataError(f"IDX file {name!r} is shorter than its header ({len(data)} bytes)")
    dims = struct.unpack(f">{ndim}I", data[4:header_size])
    dtype = _IDX_TYPES[type_code]
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    found = len(data) - header_size
    if found != expected:
        raise DataError(
            f"IDX file {name!r}: the header announces shape {tuple(dims)} ({expected} bytes of data) "
            f"but the file holds {found} bytes"
        )
    array = np.frombuffer(data, dtype=dtype, offset=header_size).reshape(dims)
    return array.astype(dtype.newbyteorder("="))


def load_idx(images, labels, scale=None):
    """Images and labels from IDX files (MNIST, Fashion-MNIST, ...).

    Parameters
    ----------
    images, labels : str, os.PathLike or list of them
        Matching files; lists are concatenated in order (e.g. the train and test
        files of MNIST).
    scale : float, optional
        Divide pixel values by this (255 maps bytes to [0, 1]).

    Returns
    -------
    X : ndarray of float32, shape (n_images, prod(image dims))
    y : ndarray of int64
    meta : dict
        ``image_shape`` for 3-D image files.

    Raises
    ------
    DataError
        Besides :func:`read_idx`'s errors: labels file shorter (or longer) than the
        images file, labels that are not 1-D, image files of different shapes.
    """
    image_paths = [images] if isinstance(images, (str, os.PathLike)) else list(images)
    label_paths = [labels] if isinstance(labels, (str, os.PathLike)) else list(labels)
    if len(image_paths) != len(label_paths) or not image_paths:
        raise DataError(f"IDX: {len(image_paths)} image file(s) but {len(label_paths)} label file(s)")
    blocks_X, blocks_y, shape = [], [], None
    for image_path, label_path in zip(image_paths, label_paths):
        X = read_idx(image_path)
        y = read_idx(label_path)
        if y.ndim != 1:
            raise DataError(f"IDX labels file {str(label_path)!r} has shape {y.shape}; labels must be 1-D")
        if len(y) != len(X):
            relation = "shorter" if len(y) < len(X) else "longer"
            raise DataError(
                f"IDX labels file {str(label_path)!r} has {len(y)} labels, {relation} than the "
                f"{len(X)} images of {str(image_path)!r}"
            )
        if shape is None:
            shape = X.shape[1:]
        elif X.shape[1:] != shape:
            raise DataError(f"IDX file {str(image_path)!r} holds items of shape {X.shape[1:]}, others {shape}")
        blocks_X.append(X.reshape(len(X), -1))
        blocks_y.append(y.astype(np.int64))
    X = np.concatenate(blocks_X).astype(np.float32)
    if scale is not None:
        if not scale or not np.isfinite(scale):
            raise DataError(f"IDX: scale must be a finite non-zero number, got {scale!r}")
        X /= np.float32(scale)
    meta = {"images": [str(p) for p in image_paths], "labels": [str(p) for p in label_paths]}
    if len(shape) == 2:
        meta["image_shape"] = [int(shape[0]), int(shape[1])]
    return X, np.concatenate(blocks_y), meta


def load_fashion_mnist(directory=FASHION_MNIST_DIR, subset="all", scale=None):
    """Fashion-MNIST from its IDX files (Debian package ``dataset-fashion-mnist``).

    Parameters
    ----------
    directory : str
        Folder holding ``train-images-idx3-ubyte.gz`` and friends.
    subset : {"all", "train", "test"}
        The 60000 training images, the 10000 test images, or both (70000); the
        split written by :func:`prepare` is made from whatever is loaded.
    scale : float, optional
        As in :func:`load_idx`.
    """
    prefixes = {"train": ["train"], "test": ["t10k"], "all": ["train", "t10k"]}
    if subset not in prefixes:
        raise DataError(f"fashion_mnist: subset must be 'all', 'train' or 'test', got {subset!r}")
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(
            f"Fashion-MNIST folder {str(directory)!r} does not exist "
            "(install it with: apt-get install dataset-fashion-mnist)"
        )

    def find(stem):
        for candidate in (directory / f"{stem}.gz", directory / stem):
            if candidate.exists():
                return candidate
        raise FileNotFoundError(f"Fashion-MNIST file {stem}(.gz) not found in {str(directory)!r}")

    images = [find(f"{p}-images-idx3-ubyte") for p in prefixes[subset]]
    labels = [find(f"{p}-labels-idx1-ubyte") for p in prefixes[subset]]
    X, y, meta = load_idx(images, labels, scale=scale)
    meta["class_names"] = list(FASHION_MNIST_CLASSES)
    meta["subset"] = subset
    return X, y, meta


#: Source name -> loader.  A loader takes keyword arguments (the source entry of a
#: config minus its ``name``) and returns ``(X, y, meta)``.
SOURCES = {
    "digits": load_digits,
    "synthetic": make_softmax_data,
    "csv": load_csv,
    "npz": load_npz,
    "npy": load_npy,
    "hdf5": load_hdf5,
    "idx": load_idx,
    "fashion_mnist": load_fashion_mnist,
}


def load_source(source):
    """Call the loader a source entry names.

    Parameters
    ----------
    source : dict or str
        ``{"name": <key of SOURCES>, **loader arguments}``, or just the name.

    Returns
    -------
    X, y, meta
        As the loader returns them, with ``meta["source"]`` set to the name.

    Raises
    ------
    DataError
        Unknown source name, unknown or missing argument (named).
    """
    if isinstance(source, str):
        source = {"name": source}
    if not isinstance(source, dict) or "name" not in source:
        raise DataError(f"a source must be a dict with a 'name' key (one of {sorted(SOURCES)}), got {source!r}")
    kwargs = dict(source)
    name = kwargs.pop("name")
    if name not in SOURCES:
        raise DataError(f"unknown source {name!r}; known sources: {', '.join(sorted(SOURCES))}")
    loader = SOURCES[name]
    signature = inspect.signature(loader)
    unknown = sorted(set(kwargs) - set(signature.parameters))
    if unknown:
        raise DataError(
            f"source {name!r} does not take {', '.join(map(repr, unknown))}; "
            f"it takes {', '.join(signature.parameters) or 'no arguments'}"
        )
    missing = [
        p.name for p in signature.parameters.values() if p.default is inspect.Parameter.empty and p.name not in kwargs
    ]
    if missing:
        raise DataError(f"source {name!r} needs {', '.join(map(repr, missing))}")
    X, y, meta = loader(**kwargs)
    meta = dict(meta)
    meta["source"] = name
    return X, y, meta


# ---------------------------------------------------------------------------
# splitting and standardization
# ---------------------------------------------------------------------------


def stratified_split(y, val_fraction, test_fraction, seed, *, stratify=True):
    """Row indices of train, validation and test splits.

    Parameters
    ----------
    y : ndarray of int
        Class indices.
    val_fraction, test_fraction : float
        Fractions of all rows, each in [0, 1) with a sum below 1; 0 gives an empty
        split.
    seed : int
        The same seed and labels give the same split.
    stratify : bool, default True
        Keep class proportions in every split.  A stratified split needs every
        class to have at least 2 samples and each non-empty split at least one row
        per class; otherwise a :class:`DataError` names the offending class and
        suggests ``stratify=False`` (a plain seeded random split).

    Returns
    -------
    train, val, test : ndarray of int64
        Sorted row indices.
    """
    from sklearn.model_selection import train_test_split

    for name, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not isinstance(value, (int, float)) or not 0 <= value < 1:
            raise DataError(f"{name} must be in [0, 1), got {value!r}")
    if val_fraction + test_fraction >= 1:
        raise DataError(
            f"val_fraction + test_fraction must be below 1 (training needs rows), got "
            f"{val_fraction} + {test_fraction} = {val_fraction + test_fraction}"
        )
    y = np.asarray(y)
    n = len(y)
    rows = np.arange(n)
    if stratify:
        counts = np.bincount(y)
        n_splits = 1 + (val_fraction > 0) + (test_fraction > 0)
        small = np.flatnonzero((counts > 0) & (counts < n_splits))
        if small.size:
            raise DataError(
                f"class index {int(small[0])} has only {int(counts[small[0]])} sample(s); a stratified "
                f"split into {n_splits} parts needs at least {n_splits} per class "
                "(remove rare classes or set stratify: false)"
            )

    def split(indices, fraction, step):
        if fraction == 0:
            return indices, indices[:0]
        try:
            return train_test_split(
                indices,
                test_size=fraction,
                random_state=seed + step,  # distinct streams for the two cuts
                stratify=y[indices] if stratify else None,
            )
        except ValueError as exc:
            hint = " (or set stratify: false)" if stratify else ""
            raise DataError(f"cannot split {len(indices)} rows with fraction {fraction:.4g}: {exc}{hint}") from exc

    rest, test = split(rows, test_fraction, 0)
    # val_fraction is of all rows; rescale it to the rows left after the test cut.
    val_of_rest = val_fraction / (1 - test_fraction) if val_fraction else 0
    train, val = split(rest, val_of_rest, 1)
    if len(train) == 0:
        raise DataError(f"the training split is empty ({n} rows in all)")
    return tuple(np.sort(part).astype(np.int64) for part in (train, val, test))


def fit_standardization(X):
    """Mean and scale of each feature, from training rows only.

    Features with zero (or numerically zero) variance get scale 1, so they are
    centred but never divided by zero.

    Returns
    -------
    dict
        ``{"mean": float64 (n_features,), "scale": float64 (n_features,)}``
    """
    X = np.asarray(X, dtype=np.float64)
    mean = X.mean(axis=0)
    return {"mean": mean, "scale": _safe_scale(mean, X.std(axis=0))}


def _safe_scale(mean, std):
    """Standard deviations as scales, with 1 for (numerically) constant features."""
    # A constant column in float arithmetic can show a tiny non-zero spread; treat
    # spreads below ~1e-12 of the magnitude as zero, like scikit-learn's scaler.
    tiny = 10 * np.finfo(np.float64).eps * np.maximum(np.abs(mean), 1.0)
    return np.where(std <= tiny, 1.0, std)


def apply_standardization(X, preprocessing, dtype=None):
    """``(X - mean) / scale`` computed in float64, returned in ``dtype`` (default X's)."""
    dtype = np.dtype(dtype) if dtype is not None else np.asarray(X).dtype
    out = (np.asarray(X, dtype=np.float64) - preprocessing["mean"]) / preprocessing["scale"]
    return out.astype(dtype, copy=False)


# ---------------------------------------------------------------------------
# prepare
# ---------------------------------------------------------------------------


def prepare(
    source,
    out_path,
    *,
    val_fraction=0.15,
    test_fraction=0.15,
    seed=0,
    standardize=True,
    dtype="float64",
    chunk_rows=None,
    compression=None,
    stratify=True,
    max_samples=None,
    test_source=None,
    class_names=None,
    config=None,
):
    """Load a source, split it, standardize it and write a dataset file.

    Parameters
    ----------
    source : dict or str
        ``{"name": "digits"}``, ``{"name": "synthetic", "n_samples": 5000, ...}``,
        ``{"name": "csv", "path": "data.csv", "label_column": "label"}``... (see
        :data:`SOURCES` and each loader's parameters).
    out_path : str or os.PathLike
        The dataset file to write (atomically).
    val_fraction, test_fraction : float
        Fractions of all rows for validation and test (of ``source``'s rows).
    seed : int
        Seeds the split (and the subsample); the same seed gives the same file.
    standardize : bool
        Standardize with mean/scale fitted on the training rows only, stored in
        ``/preprocessing``.
    dtype : {"float64", "float32"}
        Stored dtype of X.
    chunk_rows : int, optional
        See :func:`softmax_nb.io.write_dataset`.
    compression : {None, "lzf", "gzip"}
    stratify : bool
        See :func:`stratified_split`.
    max_samples : int, optional
        Keep a stratified, seeded subsample of this many rows of ``source``
        before splitting (``test_source`` is kept whole).
    test_source : dict, optional
        A second source whose rows are the test split as they are (the official
        test files of MNIST, say); ``test_fraction`` must then be 0.
    class_names : sequence of str, optional
        Display names of the classes in label order; overrides names the loader
        knows.
    config : dict, optional
        Stored in the file as provenance; defaults to this call's arguments.

    Returns
    -------
    dict
        :func:`softmax_nb.io.dataset_info` of the written file.
    """
    if dtype not in ("float32", "float64"):
        raise DataError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise DataError(f"seed must be a non-negative integer, got {seed!r}")
    if test_source is not None and test_fraction:
        raise DataError(f"test_fraction must be 0 when a test source gives the test split (got {test_fraction})")
    if test_source is None and not test_fraction:
        raise DataError("test_fraction is 0 and there is no test source: the test split would be empty")
    out_path = Path(out_path)
    if not out_path.parent.exists():
        raise FileNotFoundError(f"output folder {str(out_path.parent)!r} does not exist")
    source_entry = {"name": source} if isinstance(source, str) else dict(source)
    X, y, meta = load_source(source_entry)
    X, y = check_X_y(X, y, source=f"source {source_entry['name']!r}")
    if max_samples is not None:
        X, y = _subsample(X, y, max_samples, seed, stratify)

    if test_source is not None:
        test_entry = {"name": test_source} if isinstance(test_source, str) else dict(test_source)
        X_test, y_test, _ = load_source(test_entry)
        X_test, y_test = _check_test_rows(X_test, y_test, X, y, test_entry)
        classes, y_all = encode_labels(np.concatenate([y, y_test]))
        y_index, y_test_index = y_all[: len(y)], y_all[len(y):]
        train, val, _ = stratified_split(y_index, val_fraction, 0.0, seed, stratify=stratify)
        parts = {"train": (X, y_index, train), "val": (X, y_index, val),
                 "test": (X_test, y_test_index, np.arange(len(y_test)))}
    else:
        classes, y_index = encode_labels(y)
        train, val, test = stratified_split(y_index, val_fraction, test_fraction, seed, stratify=stratify)
        parts = {"train": (X, y_index, train), "val": (X, y_index, val), "test": (X, y_index, test)}
    if np.unique(parts["train"][1][train]).size < 2:
        raise DataError("the training split holds a single class")

    preprocessing = fit_standardization(X[train]) if standardize else None
    splits = {}
    for name, (X_source, y_source, rows) in parts.items():
        X_part = X_source[rows]
        if preprocessing is not None:
            X_part = apply_standardization(X_part, preprocessing, dtype)
        else:
            X_part = X_part.astype(dtype, copy=False)
        splits[name] = (X_part, y_source[rows])
    options = {
        "val_fraction": val_fraction,
        "test_fraction": test_fraction,
        "seed": int(seed),
        "standardize": bool(standardize),
        "dtype": dtype,
        "chunk_rows": chunk_rows,
        "compression": compression,
        "stratify": bool(stratify),
        "max_samples": max_samples,
    }
    if config is None:
        config = {"source": source_entry, "test_source": test_source, **options}
    feature_names = meta.pop("feature_names", None)
    image_shape = meta.pop("image_shape", None)
    loader_names = meta.pop("class_names", None)
    if class_names is not None:
        class_names = [str(name) for name in class_names]
        if len(class_names) != len(classes):
            raise DataError(f"class_names has {len(class_names)} names but the data have {len(classes)} classes")
    elif loader_names is not None:
        # The loader names every class it knows, by label value; keep those present.
        if len(loader_names) == len(classes):
            class_names = list(loader_names)
        elif classes.dtype.kind in "iu" and classes.min() >= 0 and classes.max() < len(loader_names):
            class_names = [loader_names[int(c)] for c in classes]
    # Large provenance (the synthetic generator's true weights) stays out of the
    # root attributes, which HDF5 keeps small; it is reproducible from the seed.
    meta = {k: v for k, v in meta.items() if len(json.dumps(v, default=str)) < 4096}
    sio.write_dataset(
        out_path,
        splits,
        classes,
        {"source": source_entry["name"], "seed": int(seed), "source_meta": meta, "split": options},
        preprocessing=preprocessing,
        feature_names=feature_names,
        image_shape=image_shape,
        class_names=class_names,
        config=config,
        chunk_rows=chunk_rows,
        compression=compression,
    )
    return sio.dataset_info(out_path)


def _subsample(X, y, max_samples, seed, stratify):
    if not isinstance(max_samples, (int, np.integer)) or isinstance(max_samples, bool) or max_samples < 2:
        raise DataError(f"max_samples must be an integer >= 2, got {max_samples!r}")
    if max_samples >= len(y):
        return X, y
    from sklearn.model_selection import train_test_split

    try:
        keep, _ = train_test_split(
            np.arange(len(y)), train_size=int(max_samples), random_state=seed, stratify=y if stratify else None
        )
    except ValueError as exc:
        raise DataError(f"cannot draw a stratified sample of max_samples={max_samples} rows: {exc}") from exc
    keep = np.sort(keep)
    return X[keep], y[keep]


def _check_test_rows(X_test, y_test, X, y, entry):
    X_test, y_test = np.asarray(X_test), np.asarray(y_test)
    where = f"test source {entry['name']!r}"
    if X_test.ndim == 2 and X_test.shape[0] and X_test.shape[1] != X.shape[1]:
        raise DataError(f"{where} has {X_test.shape[1]} features but the training source has {X.shape[1]}")
    # A test set may hold a single class, so check_X_y's two-class rule is skipped
    # by checking with one extra row of the other source's labels.
    X_test, y_test = check_X_y(
        np.concatenate([X_test, X[:1]]) if X_test.ndim == 2 and X_test.shape[0] else X_test,
        np.concatenate([y_test, y[:1]]) if y_test.ndim == 1 and y_test.shape[0] else y_test,
        source=where,
    )
    X_test, y_test = X_test[:-1], y_test[:-1]
    if (y.dtype.kind in "US") != (y_test.dtype.kind in "US"):
        raise DataError(f"{where} has {y_test.dtype.kind in 'US' and 'text' or 'numeric'} labels, unlike the training source")
    return X_test, y_test


# Keys of a workflow dataset entry (config/config.yaml, datasets.<name>) that are
# passed to prepare() rather than to the loader.
_PREPARE_KEYS = (
    "val_fraction", "test_fraction", "seed", "standardize", "dtype", "chunk_rows",
    "compression", "stratify", "max_samples", "class_names",
)
# Per source: entry key -> loader argument.  Keys of other sources are ignored,
# because the workflow's schema fills every key with its default.
_ENTRY_SOURCE_KEYS = {
    "digits": {},
    "synthetic": {"n_samples": "n_samples", "n_features": "n_features", "n_classes": "n_classes",
                  "class_sep": "class_sep"},
    "csv": {"path": "path", "label_column": "label_column", "header": "header", "delimiter": "delimiter",
            "skip_columns": "skip_columns"},
    "npz": {"path": "path", "x_key": "x_key", "y_key": "y_key"},
    "npy": {"path": "x_path", "labels_path": "y_path"},
    "hdf5": {"path": "path", "x_key": "x_key", "y_key": "y_key"},
    "idx": {"path": "images", "labels_path": "labels", "scale": "scale"},
    "fashion_mnist": {"path": "directory", "subset": "subset", "scale": "scale"},
}
_ENTRY_OTHER_KEYS = ("source", "test_path", "test_labels_path", "subset", "out_of_core", "block_rows")


def prepare_from_config(entry, out_path, *, name="dataset"):
    """:func:`prepare` from one dataset entry of the workflow configuration.

    Parameters
    ----------
    entry : dict
        A ``datasets.<name>`` entry of ``config/config.yaml``: ``source`` (a key of
        :data:`SOURCES`), the source's options (``path``, ``labels_path``,
        ``label_column``, ``x_key``, ``n_samples``...), ``test_path`` and
        ``test_labels_path`` (idx: files of a fixed test split) and the options of
        :func:`prepare` (``val_fraction``, ``seed``, ``dtype``...).  Keys that
        belong to other sources are ignored; unknown keys are an error.
    out_path : str or os.PathLike
    name : str
        The entry's name, used in error messages.

    Returns
    -------
    dict
        As :func:`prepare`.
    """
    if not isinstance(entry, dict):
        raise DataError(f"datasets.{name} must be a mapping, got {type(entry).__name__}")
    entry = dict(entry)
    known = set(_PREPARE_KEYS) | set(_ENTRY_OTHER_KEYS) | {k for m in _ENTRY_SOURCE_KEYS.values() for k in m}
    unknown = sorted(set(entry) - known)
    if unknown:
        raise DataError(f"datasets.{name} has unknown key(s): {', '.join(unknown)}")
    source_name = entry.get("source", "digits")
    if source_name not in _ENTRY_SOURCE_KEYS:
        raise DataError(
            f"datasets.{name}.source is {source_name!r}; known sources: {', '.join(sorted(_ENTRY_SOURCE_KEYS))}"
        )
    source = {"name": source_name}
    for key, argument in _ENTRY_SOURCE_KEYS[source_name].items():
        if entry.get(key) is not None:
            source[argument] = entry[key]
    if source_name == "synthetic":
        # The generator shares the split's seed, so one number reproduces the file.
        source["seed"] = entry.get("seed", 0)
    options = {key: entry[key] for key in _PREPARE_KEYS if key in entry}
    if entry.get("out_of_core"):
        # Sources larger than memory: converted block by block (prepare_chunked).
        if entry.get("max_samples") is not None or entry.get("test_path") is not None:
            raise DataError(f"datasets.{name}: out_of_core conversion takes no max_samples or test_path")
        options.pop("max_samples", None)
        if entry.get("block_rows") is not None:
            options["block_rows"] = entry["block_rows"]
        return prepare_chunked(source, out_path, config={"dataset": name, **entry}, **options)
    test_source = None
    if entry.get("test_path") is not None or entry.get("test_labels_path") is not None:
        if source_name != "idx":
            raise DataError(f"datasets.{name}.test_path applies to source 'idx' only, not {source_name!r}")
        if entry.get("test_path") is None or entry.get("test_labels_path") is None:
            raise DataError(f"datasets.{name}.test_path and test_labels_path must be given together")
        test_source = {"name": "idx", "images": entry["test_path"], "labels": entry["test_labels_path"]}
        if entry.get("scale") is not None:
            test_source["scale"] = entry["scale"]
        options.setdefault("test_fraction", 0.0)
    return prepare(source, out_path, test_source=test_source, config={"dataset": name, **entry}, **options)


# ---------------------------------------------------------------------------
# chunked conversion of sources larger than memory (docs/OUT_OF_CORE.md)
# ---------------------------------------------------------------------------

#: Sources :func:`prepare_chunked` reads block by block.
CHUNKED_SOURCES = ("csv", "npy", "idx")


class _BlockSource:
    """A source read in row blocks: ``labels`` whole (one int or str per row, small
    next to X), then ``blocks(rows)`` yields float64 feature blocks in row order."""

    n_features = None
    meta = None

    def labels(self):
        raise NotImplementedError

    def blocks(self, rows):
        raise NotImplementedError


class _NpyBlocks(_BlockSource):
    def __init__(self, x_path, y_path):
        x_paths = [x_path] if isinstance(x_path, (str, os.PathLike)) else list(x_path)
        y_paths = [y_path] if isinstance(y_path, (str, os.PathLike)) else list(y_path)
        if len(x_paths) != len(y_paths) or not x_paths:
            raise DataError(f"npy: {len(x_paths)} X file(s) but {len(y_paths)} label file(s)")
        self.arrays = []
        for path in x_paths:
            path = _existing(path, "NPY file for X")
            try:
                X = np.load(path, mmap_mode="r", allow_pickle=False)
            except (ValueError, OSError) as exc:
                raise DataError(f"cannot read NPY file {str(path)!r}: {exc}") from exc
            if X.ndim != 2 or X.dtype.kind not in "biuf":
                raise DataError(f"NPY file {str(path)!r}: X must be a 2-D array of numbers, got {X.shape} {X.dtype}")
            if self.n_features is not None and X.shape[1] != self.n_features:
                raise DataError(f"NPY file {str(path)!r} has {X.shape[1]} columns, the first file {self.n_features}")
            self.n_features = X.shape[1]
            self.arrays.append((str(path), X))
        self.y_paths = y_paths
        self.meta = {"x_path": [p for p, _ in self.arrays], "y_path": [str(p) for p in y_paths]}

    def labels(self):
        parts = []
        for (x_path, X), y_path in zip(self.arrays, self.y_paths):
            _, y, _ = load_npy(x_path, y_path)
            y = np.asarray(y)
            if y.shape != (len(X),):
                raise DataError(f"NPY labels {str(y_path)!r} have shape {y.shape}, X {x_path!r} has {len(X)} rows")
            parts.append(y)
        return np.concatenate(parts)

    def blocks(self, rows):
        for _, X in self.arrays:
            for start in range(0, len(X), rows):
                yield np.asarray(X[start:start + rows], dtype=np.float64)


def _idx_header(path):
    """(dtype, dims, header bytes) of an IDX file, read from its first bytes."""
    path = _existing(path, "IDX file")
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            head = handle.read(4)
            if len(head) < 4 or head[0] != 0 or head[1] != 0:
                raise DataError(f"IDX file {str(path)!r} has a bad magic number ({head.hex() or 'empty file'})")
            if head[2] not in _IDX_TYPES or head[3] < 1:
                raise DataError(f"IDX file {str(path)!r} has an unknown type code or no dimensions")
            dims = struct.unpack(f">{head[3]}I", handle.read(4 * head[3]))
    except (OSError, EOFError, struct.error) as exc:
        raise DataError(f"cannot read IDX file {str(path)!r}: {exc}") from exc
    return _IDX_TYPES[head[2]], dims, 4 + 4 * len(dims)


class _IdxBlocks(_BlockSource):
    def __init__(self, images, labels, scale=None):
        self.image_paths = [images] if isinstance(images, (str, os.PathLike)) else list(images)
        self.label_paths = [labels] if isinstance(labels, (str, os.PathLike)) else list(labels)
        if len(self.image_paths) != len(self.label_paths) or not self.image_paths:
            raise DataError(f"IDX: {len(self.image_paths)} image file(s) but {len(self.label_paths)} label file(s)")
        if scale is not None and (not scale or not np.isfinite(scale)):
            raise DataError(f"IDX: scale must be a finite non-zero number, got {scale!r}")
        self.scale = scale
        self.headers = [_idx_header(p) for p in self.image_paths]
        shapes = {dims[1:] for _, dims, _ in self.headers}
        if len(shapes) != 1:
            raise DataError(f"IDX image files hold items of different shapes {sorted(shapes)}")
        item_shape = shapes.pop()
        self.n_features = int(np.prod(item_shape, dtype=np.int64))
        self.meta = {"images": [str(p) for p in self.image_paths], "labels": [str(p) for p in self.label_paths]}
        if len(item_shape) == 2:
            self.meta["image_shape"] = [int(item_shape[0]), int(item_shape[1])]

    def labels(self):
        parts = []
        for path, label_path, (_, dims, _) in zip(self.image_paths, self.label_paths, self.headers):
            y = read_idx(label_path)
            if y.ndim != 1 or len(y) != dims[0]:
                raise DataError(f"IDX labels file {str(label_path)!r} has shape {y.shape}, "
                                f"the images of {str(path)!r} number {dims[0]}")
            parts.append(y.astype(np.int64))
        return np.concatenate(parts)

    def blocks(self, rows):
        for path, (dtype, dims, header) in zip(self.image_paths, self.headers):
            path = Path(path)
            item_bytes = self.n_features * dtype.itemsize
            opener = gzip.open if path.suffix == ".gz" else open
            with opener(path, "rb") as handle:
                handle.read(header)
                for start in range(0, dims[0], rows):
                    n = min(rows, dims[0] - start)
                    data = handle.read(n * item_bytes)
                    if len(data) != n * item_bytes:
                        raise DataError(f"IDX file {str(path)!r} ends after {start + len(data) // item_bytes} of "
                                        f"the {dims[0]} items its header announces")
                    # float32 then scaled in float32, as load_idx does, so both paths agree.
                    block = np.frombuffer(data, dtype=dtype).reshape(n, self.n_features).astype(np.float32)
                    if self.scale is not None:
                        block /= np.float32(self.scale)
                    yield block.astype(np.float64)
                if handle.read(1):
                    raise DataError(f"IDX file {str(path)!r} holds more data than its header announces")


class _CsvBlocks(_BlockSource):
    """A CSV file read twice, row by row: labels first, then feature blocks.

    Same options and header rule as :func:`load_csv`."""

    def __init__(self, path, label_column=-1, header="auto", delimiter=",", skip_columns=()):
        if header not in ("auto", True, False):
            raise DataError(f"CSV: header must be 'auto', true or false, got {header!r}")
        if label_column is None:
            raise DataError("CSV: chunked conversion needs a label column")
        self.path, self.delimiter, self.name = path, delimiter, str(path)
        first = next(self._rows(), None)
        if first is None:
            raise DataError(f"CSV file {self.name!r} is empty")
        line, row = first
        n_columns = len(row)
        if n_columns < 2:
            raise DataError(f"CSV file {self.name!r}: line {line} has {n_columns} column; need features and a label")
        named = isinstance(label_column, str) or any(isinstance(c, str) for c in skip_columns)
        if header is False and named:
            raise DataError(f"CSV file {self.name!r}: a column given by name needs header=true")
        if header is True or named:
            has_header = True
        elif header is False:
            has_header = False
        else:
            not_features = {c % n_columns for c in (*skip_columns, label_column)
                            if isinstance(c, (int, np.integer)) and -n_columns <= c < n_columns}
            has_header = not all(_is_number(cell) for i, cell in enumerate(row) if i not in not_features)
        names = [cell.strip() for cell in row] if has_header else None

        def resolve(column, what):
            if isinstance(column, str):
                if column not in names:
                    raise DataError(f"CSV file {self.name!r}: {what} {column!r} is not in the header {names}")
                return names.index(column)
            if not isinstance(column, (int, np.integer)) or not -n_columns <= column < n_columns:
                raise DataError(f"CSV file {self.name!r}: {what} {column!r} is out of range for {n_columns} columns")
            return int(column) % n_columns

        self.label_index = resolve(label_column, "label column")
        skipped = {resolve(c, "skip column") for c in skip_columns}
        if self.label_index in skipped:
            raise DataError(f"CSV file {self.name!r}: the label column is also in skip_columns")
        self.feature_index = [i for i in range(n_columns) if i != self.label_index and i not in skipped]
        if not self.feature_index:
            raise DataError(f"CSV file {self.name!r} has no feature columns")
        self.n_columns, self.has_header, self.names = n_columns, has_header, names
        self.n_features = len(self.feature_index)
        self.meta = {"path": self.name}
        if names is not None:
            self.meta["feature_names"] = [names[i] for i in self.feature_index]
            self.meta["label_column"] = names[self.label_index]
        else:
            self.meta["label_column"] = self.label_index

    def _rows(self):
        with _open_text(self.path) as handle:
            reader = csv.reader(handle, delimiter=self.delimiter)
            for row in reader:
                if row and not (len(row) == 1 and not row[0].strip()):
                    yield reader.line_num, row

    def _data_rows(self):
        rows = self._rows()
        if self.has_header:
            next(rows)
        for line, row in rows:
            if len(row) != self.n_columns:
                raise DataError(f"CSV file {self.name!r}: line {line} has {len(row)} columns, expected "
                                f"{self.n_columns}")
            yield line, row

    def labels(self):
        texts = []
        for line, row in self._data_rows():
            text = row[self.label_index].strip()
            if not text:
                raise DataError(f"CSV file {self.name!r}: line {line}, the label column is empty")
            texts.append(text)
        if not texts:
            raise DataError(f"CSV file {self.name!r} has a header but no data rows")
        values = [_parse_label(t) for t in texts]
        kinds = {type(v) for v in values}
        if kinds <= {int}:
            return np.array(values, dtype=np.int64)
        if kinds <= {int, float}:
            return np.array(values, dtype=np.float64)
        return np.array(texts, dtype=str)  # a mix of numbers and words: text labels, as load_csv

    def blocks(self, rows):
        cells, lines = [], []
        for line, row in self._data_rows():
            cells.append([row[i] for i in self.feature_index])
            lines.append((line, row))
            if len(cells) == rows:
                yield self._parse(cells, lines)
                cells, lines = [], []
        if cells:
            yield self._parse(cells, lines)

    def _parse(self, cells, lines):
        try:
            return np.array(cells, dtype=np.float64)
        except ValueError:
            for line, row in lines:
                for i in self.feature_index:
                    if not _is_number(row[i]):
                        label = f"{i + 1} ({self.names[i]!r})" if self.names else str(i + 1)
                        raise DataError(f"CSV file {self.name!r}: line {line}, column {label}: "
                                        f"{row[i]!r} is not a number") from None
            raise


def _block_source(source):
    name = source.get("name")
    kwargs = {k: v for k, v in source.items() if k != "name"}
    classes = {"csv": _CsvBlocks, "npy": _NpyBlocks, "idx": _IdxBlocks}
    if name not in classes:
        raise DataError(f"chunked conversion reads sources {CHUNKED_SOURCES}, not {name!r}")
    signature = inspect.signature(classes[name].__init__)
    unknown = sorted(set(kwargs) - (set(signature.parameters) - {"self"}))
    if unknown:
        raise DataError(f"source {name!r} does not take {', '.join(map(repr, unknown))}")
    missing = [p.name for p in signature.parameters.values()
               if p.name != "self" and p.default is inspect.Parameter.empty and p.name not in kwargs]
    if missing:
        raise DataError(f"source {name!r} needs {', '.join(map(repr, missing))}")
    return classes[name](**kwargs)


def prepare_chunked(
    source,
    out_path,
    *,
    val_fraction=0.15,
    test_fraction=0.15,
    seed=0,
    standardize=True,
    dtype="float32",
    chunk_rows=None,
    compression=None,
    stratify=True,
    block_rows=65536,
    class_names=None,
    config=None,
):
    """:func:`prepare` for sources larger than memory: read, split and write in blocks.

    The labels are read whole (one value per row); X is read ``block_rows`` rows at
    a time, three times at most: for the standardization statistics of the
    training rows (Chan's pairwise merge of block means and squared deviations),
    then to write each row to its split.  The splits are the rows
    :func:`stratified_split` chooses, in source order, exactly as :func:`prepare`
    (the stored X equals ``prepare``'s to rounding of the standardization).

    Parameters
    ----------
    source : dict
        ``{"name": "csv", "path": ..., "label_column": ...}``,
        ``{"name": "npy", "x_path": file or list, "y_path": file or list}`` or
        ``{"name": "idx", "images": file or list, "labels": file or list, "scale": 255}``.
    out_path : str or os.PathLike
    block_rows : int
        Rows held in memory at once.
    val_fraction, test_fraction, seed, standardize, dtype, chunk_rows, compression, stratify, class_names, config
        As :func:`prepare` (``dtype`` defaults to float32 here: large data).

    Returns
    -------
    dict
        :func:`softmax_nb.io.dataset_info` of the written file.
    """
    if dtype not in ("float32", "float64"):
        raise DataError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise DataError(f"seed must be a non-negative integer, got {seed!r}")
    if isinstance(block_rows, bool) or not isinstance(block_rows, (int, np.integer)) or block_rows < 1:
        raise DataError(f"block_rows must be a positive integer, got {block_rows!r}")
    if not test_fraction:
        raise DataError("test_fraction is 0: the test split would be empty")
    out_path = Path(out_path)
    if not out_path.parent.exists():
        raise FileNotFoundError(f"output folder {str(out_path.parent)!r} does not exist")
    source_entry = dict(source)
    reader = _block_source(source_entry)
    labels = reader.labels()
    where = f"source {source_entry['name']!r}"
    # check_X_y's label rules (integral floats, strings, two classes) on the labels alone.
    _, labels = check_X_y(np.zeros((len(labels), 1)), labels, source=where)
    classes, y_index = encode_labels(labels)
    del labels
    parts = stratified_split(y_index, val_fraction, test_fraction, seed, stratify=stratify)
    if np.unique(y_index[parts[0]]).size < 2:
        raise DataError("the training split holds a single class")
    split_of_row = np.empty(len(y_index), dtype=np.int8)
    for code, rows in enumerate(parts):
        split_of_row[rows] = code

    def checked_blocks():
        first = 0
        for block in reader.blocks(int(block_rows)):
            if block.shape[1] != reader.n_features:
                raise DataError(f"{where}: rows from {first} have {block.shape[1]} features, not {reader.n_features}")
            finite = np.isfinite(block)
            if not finite.all():
                row, column = np.argwhere(~finite)[0]
                raise DataError(f"{where}: X holds NaN/infinite values; first at row {first + row}, column {column}")
            yield first, block
            first += len(block)
        if first != len(y_index):
            raise DataError(f"{where}: {first} feature rows but {len(y_index)} labels")

    preprocessing = None
    if standardize:
        count, mean, m2 = 0, np.zeros(reader.n_features), np.zeros(reader.n_features)
        for first, block in checked_blocks():
            train_rows = block[split_of_row[first:first + len(block)] == 0]
            n = len(train_rows)
            if not n:
                continue
            block_mean = train_rows.mean(axis=0)
            block_m2 = ((train_rows - block_mean) ** 2).sum(axis=0)
            delta = block_mean - mean
            total = count + n
            mean = mean + delta * (n / total)
            m2 = m2 + block_m2 + delta**2 * (count * n / total)
            count = total
        preprocessing = {"mean": mean, "scale": _safe_scale(mean, np.sqrt(m2 / count))}

    options = {"val_fraction": val_fraction, "test_fraction": test_fraction, "seed": int(seed),
               "standardize": bool(standardize), "dtype": dtype, "chunk_rows": chunk_rows,
               "compression": compression, "stratify": bool(stratify), "max_samples": None,
               "out_of_core": True, "block_rows": int(block_rows)}
    if config is None:
        config = {"source": source_entry, **options}
    meta = dict(reader.meta)
    feature_names = meta.pop("feature_names", None)
    image_shape = meta.pop("image_shape", None)
    if class_names is not None:
        class_names = [str(name) for name in class_names]
        if len(class_names) != len(classes):
            raise DataError(f"class_names has {len(class_names)} names but the data have {len(classes)} classes")
    split_rows = {name: len(rows) for name, rows in zip(sio.SPLITS, parts)}
    with sio.DatasetWriter(
        out_path, classes, reader.n_features, split_rows, dtype=dtype,
        attrs={"source": source_entry["name"], "seed": int(seed), "source_meta": meta, "split": options},
        preprocessing=preprocessing, feature_names=feature_names, image_shape=image_shape,
        class_names=class_names, config=config, chunk_rows=chunk_rows, compression=compression,
    ) as writer:
        for first, block in checked_blocks():
            if preprocessing is not None:
                block = apply_standardization(block, preprocessing, dtype)
            codes = split_of_row[first:first + len(block)]
            y_block = y_index[first:first + len(block)]
            for code, name in enumerate(sio.SPLITS):
                mask = codes == code
                if mask.any():
                    writer.append(name, block[mask], y_block[mask])
    return sio.dataset_info(out_path)
