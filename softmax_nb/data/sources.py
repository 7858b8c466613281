"""Data sources: loaders that read or generate ``(X, y, meta)``.

A *source* is a loader returning X (a 2-D array of numbers), y (the raw labels,
numbers or strings) and meta (provenance: ``image_shape``, ``feature_names``,
``class_names`` when known).  :data:`SOURCES` maps source names to loaders and
:func:`load_source` calls one from a ``{"name": ..., **arguments}`` entry.  The
chunked converter (:mod:`softmax_nb.data.chunked`) reads the same files block by
block with the same parsing rules (:class:`_CsvLayout`, :func:`idx_header`,
:func:`fashion_mnist_files`).

Every loader rejects bad input with a :class:`~softmax_nb.data.checks.DataError`
(or ``FileNotFoundError``) whose message names the file, key, row and column where
that is known.
"""

from __future__ import annotations

import bz2
import codecs
import csv
import errno
import gzip
import inspect
import io
import os
import struct
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np

from ..settings.config import dataset_default as _d  # the loaders' defaults are the workflow's
from .checks import DataError

__all__ = [
    "SOURCES",
    "SPARSE_SOURCES",
    "FASHION_MNIST_DIR",
    "FASHION_MNIST_CLASSES",
    "load_digits",
    "make_softmax_data",
    "load_csv",
    "load_npz",
    "load_svmlight",
    "load_sparse_npz",
    "svmlight_blocks",
    "read_vocabulary",
    "load_npy",
    "load_hdf5",
    "load_idx",
    "read_idx",
    "idx_header",
    "load_fashion_mnist",
    "fashion_mnist_files",
    "open_npy",
    "open_hdf5_arrays",
    "read_hdf5_labels",
    "check_scale",
    "check_arguments",
    "load_source",
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


def make_softmax_data(n_samples=_d("n_samples"), n_features=_d("n_features"), n_classes=_d("n_classes"),
                      class_sep=_d("class_sep"), seed=_d("seed")):
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
    # utf-8-sig: a byte-order mark (what spreadsheet programs write) is not part of the first cell.
    if path.suffix == ".gz":
        return gzip.open(path, "rt", newline="", encoding="utf-8-sig")
    return open(path, newline="", encoding="utf-8-sig")


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


def load_csv(path, label_column=_d("label_column"), header=_d("header"), delimiter=_d("delimiter"),
             skip_columns=_d("skip_columns")):
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
    name = str(path)
    with _decoding_errors_named(path):
        with _open_text(path) as handle:
            first = _first_row(csv.reader(handle, delimiter=delimiter))
        layout = _CsvLayout(name, first, label_column=label_column, header=header, skip_columns=skip_columns)
        parsed = _parse_csv_fast(path, layout, delimiter)
        if parsed is None:
            # Something is off (a cell that is no number, NaN, a ragged row, an empty
            # label): the row-by-row reader finds it and names its line and column.
            parsed = _parse_csv_rows(path, layout, delimiter)
    X, labels = parsed
    y = None if labels is None else _parse_labels(labels)
    return X, y, layout.meta()


def _first_row(reader):
    """``(line number, cells)`` of the first non-blank row, or None for an empty file."""
    for row in reader:
        if row and not (len(row) == 1 and not row[0].strip()):
            return reader.line_num, row
    return None


def _parse_csv_fast(path, layout, delimiter):
    """``(X, label texts or None)`` by pandas' C parser, or None when the file is not clean.

    Every cell is read (features as float64, the others as text), so a row with
    more cells than the first raises; a missing cell, NaN or infinity shows as a
    non-finite value or an empty label. None hands the file to :func:`_parse_csv_rows`.
    """
    import pandas as pd

    dtypes = {i: (np.float64 if i in set(layout.feature_index) else str) for i in range(layout.n_columns)}
    skip = layout.first_line if layout.has_header else layout.first_line - 1
    try:
        with _open_text(path) as handle, warnings.catch_warnings():
            # A row longer than the first is a warning to pandas (it drops cells): not here.
            warnings.simplefilter("error", pd.errors.ParserWarning)
            frame = pd.read_csv(handle, sep=delimiter, header=None, skiprows=skip, dtype=dtypes,
                                na_filter=False, keep_default_na=False, skip_blank_lines=True,
                                engine="c", names=range(layout.n_columns), index_col=False)
    except (ValueError, pd.errors.ParserError, pd.errors.ParserWarning):
        return None
    if frame.shape[0] == 0:
        return None
    X = np.ascontiguousarray(frame[layout.feature_index].to_numpy(dtype=np.float64))
    if not np.isfinite(X).all():
        return None
    if layout.label_index is None:
        return X, None
    labels = [text.strip() for text in frame[layout.label_index].tolist()]
    if not all(labels):
        return None
    return X, labels


def _parse_csv_rows(path, layout, delimiter):
    """The reference reader, row by row (``csv`` module): ``(X, label texts or None)``,
    or a DataError naming the file, line (1-based, as in an editor) and column."""
    name = layout.name
    with _open_text(path) as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        rows = []
        for row in reader:
            if not row or (len(row) == 1 and not row[0].strip()):
                continue  # blank line
            rows.append((reader.line_num, row))
    if layout.has_header:
        rows = rows[1:]
    if not rows:
        raise DataError(f"CSV file {name!r} has a header but no data rows")
    first_line, n_columns, column_names = layout.first_line, layout.n_columns, layout.names
    label_index, feature_index = layout.label_index, layout.feature_index
    column_label = layout.column_label
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
        labels.append(label)
    return X, (None if label_index is None else labels)


class _decoding_errors_named:
    """Turn a UnicodeDecodeError while reading a text file into a DataError naming the
    file, the line and the byte (CSV and label files must be UTF-8; a BOM is allowed)."""

    def __init__(self, path, what="CSV file"):
        self.path = Path(path)
        self.what = what

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, traceback):
        if kind is None or not issubclass(kind, UnicodeDecodeError):
            return False
        opener = gzip.open if self.path.suffix == ".gz" else open
        with opener(self.path, "rb") as handle:
            for number, line in enumerate(handle, start=1):
                try:
                    line.decode("utf-8")
                except UnicodeDecodeError as bad:
                    byte = line[bad.start]
                    # The text before it is UTF-8; a byte-order mark is no character of the file's text.
                    before = line[:bad.start]
                    if number == 1 and before.startswith(codecs.BOM_UTF8):
                        before = before[len(codecs.BOM_UTF8):]
                    column = len(before.decode("utf-8")) + 1
                    raise DataError(
                        f"{self.what} {str(self.path)!r}: line {number}, character {column}: byte "
                        f"0x{byte:02x} is not UTF-8; the file is in another encoding (latin-1 or "
                        "Windows-1252, say): save it as UTF-8, e.g. iconv -f latin1 -t utf-8") from None
        raise DataError(f"{self.what} {str(self.path)!r} is not valid UTF-8: {exc}") from None


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


class _CsvLayout:
    """The columns of a CSV file, decided from its first non-blank row.

    Shared by :func:`load_csv` and the block reader of
    :func:`~softmax_nb.data.chunked.prepare_chunked`, so both read a file the same
    way: ``has_header``, ``names`` (the header cells or ``None``), ``label_index``
    (``None`` without a label column), ``feature_index`` (the feature columns).
    """

    def __init__(self, name, first, *, label_column=-1, header="auto", skip_columns=()):
        if skip_columns is None:
            skip_columns = ()
        elif isinstance(skip_columns, (str, int)):
            # One column (``--arg skip_columns=id``), not a sequence of its characters.
            skip_columns = (skip_columns,)
        if header not in ("auto", True, False):
            raise DataError(f"CSV: header must be 'auto', true or false, got {header!r}")
        if first is None:
            raise DataError(f"CSV file {name!r} is empty")
        self.name = name
        self.first_line, first_row = first
        n_columns = self.n_columns = len(first_row)
        if n_columns < (1 if label_column is None else 2):
            raise DataError(
                f"CSV file {name!r}: line {self.first_line} has {n_columns} column; need features and a label")
        named = isinstance(label_column, str) or any(isinstance(c, str) for c in skip_columns)
        if header is True or named:
            if header is False:
                raise DataError(f"CSV file {name!r}: a column given by name needs header=true")
            has_header = True
        elif header is False:
            has_header = False
        else:
            # Only feature cells decide: text labels ("cat") are normal in data rows.
            not_features = {c % n_columns for c in (*skip_columns, label_column)
                            if isinstance(c, (int, np.integer)) and -n_columns <= c < n_columns}
            has_header = not all(_is_number(cell) for i, cell in enumerate(first_row) if i not in not_features)
        self.has_header = has_header
        self.names = None
        if has_header:
            self.names = [cell.strip() for cell in first_row]
            if len(set(self.names)) != len(self.names):
                dupes = sorted({c for c in self.names if self.names.count(c) > 1})
                raise DataError(f"CSV file {name!r}: header repeats column name(s) {dupes}")
        self.label_index = None if label_column is None else self._resolve(label_column, "label column")
        skipped = {self._resolve(c, "skip column") for c in skip_columns}
        if self.label_index is not None and self.label_index in skipped:
            raise DataError(f"CSV file {name!r}: the label column is also in skip_columns")
        self.feature_index = [i for i in range(n_columns) if i != self.label_index and i not in skipped]
        if not self.feature_index:
            raise DataError(f"CSV file {name!r} has no feature columns")

    def _resolve(self, column, what):
        if isinstance(column, str):
            if column not in self.names:
                raise DataError(f"CSV file {self.name!r}: {what} {column!r} is not in the header {self.names}")
            return self.names.index(column)
        if isinstance(column, bool) or not isinstance(column, (int, np.integer)) \
                or not -self.n_columns <= column < self.n_columns:
            raise DataError(
                f"CSV file {self.name!r}: {what} {column!r} is out of range for {self.n_columns} columns")
        return int(column) % self.n_columns

    def column_label(self, i):
        """Column ``i`` as the error messages name it: 1-based, with its header name."""
        return f"{i + 1} ({self.names[i]!r})" if self.names else str(i + 1)

    def meta(self):
        meta = {"path": self.name}
        if self.names is not None:
            meta["feature_names"] = [self.names[i] for i in self.feature_index]
            meta["label_column"] = None if self.label_index is None else self.names[self.label_index]
        else:
            meta["label_column"] = self.label_index
        return meta


def _parse_labels(texts):
    """Label cells as int64, integral-or-not floats, or text (a mix of numbers and words)."""
    values = [_parse_label(t) for t in texts]
    kinds = {type(v) for v in values}
    if kinds <= {int}:
        return np.array(values, dtype=np.int64)
    if kinds <= {int, float}:
        return np.array(values, dtype=np.float64)
    return np.array(texts, dtype=str)  # a mix of numbers and words is read as text labels ("3", "cat")


def load_npz(path, x_key=_d("x_key"), y_key=_d("y_key")):
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
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
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
        except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
            raise DataError(f"NPZ file {str(path)!r} is corrupted: {exc}") from exc
    return X, y, {"path": str(path), "x_key": x_key, "y_key": y_key}


def load_svmlight(path, vocabulary_path=None):
    """Read a svmlight / libsvm text file (``label index:value ...`` lines): sparse X (CSR).

    Parameters
    ----------
    path : str or os.PathLike
        Read with scikit-learn's ``load_svmlight_file`` (``.gz`` and ``.bz2`` too);
        indices may be 0- or 1-based, decided from the whole file as scikit-learn's
        ``zero_based="auto"`` decides it: 1-based when the file holds an index and
        none is 0 (the block reader of :func:`~softmax_nb.data.chunked.prepare_chunked`
        decides the same).
    vocabulary_path : str or os.PathLike, optional
        A text file with one feature name per line, in column order: the names of
        the features (the report's top-weighted features use them). It may name more
        columns than the file uses (the vocabulary's length sets the feature count).

    Raises
    ------
    DataError
        A malformed line, an index that is not sorted or negative, a NaN/infinite value
        (each naming the file and its line), more columns than the vocabulary names, an
        empty file.
    """
    from sklearn.datasets import load_svmlight_file

    path = _existing(path, "svmlight file")
    names = read_vocabulary(vocabulary_path)
    try:
        X, y = load_svmlight_file(str(path), n_features=None if names is None else len(names), dtype=np.float64)
    except (ValueError, OverflowError, OSError, EOFError) as exc:
        message = " ".join(str(exc).split())
        if names is not None and "n_features" in message:
            message = f"it uses more columns than the {len(names)} names of {str(vocabulary_path)!r} ({message})"
        elif isinstance(exc, (ValueError, OverflowError)):
            _locate_svmlight_error(path)
        raise DataError(f"cannot read svmlight file {str(path)!r}: {message}") from exc
    if not np.isfinite(X.data).all():
        _locate_svmlight_error(path)
    if X.shape[0] == 0:
        raise _svmlight_without_rows(path)
    return X.tocsr(), y, _vocabulary_meta({"path": str(path)}, names, vocabulary_path)


def read_vocabulary(vocabulary_path):
    """The feature names of a vocabulary file (one per line, UTF-8), or None without one."""
    if vocabulary_path is None:
        return None
    vocabulary = _existing(vocabulary_path, "vocabulary file")
    try:
        names = [line.rstrip("\r\n") for line in vocabulary.read_text(encoding="utf-8-sig").splitlines()]
    except UnicodeDecodeError as exc:
        raise DataError(f"vocabulary file {str(vocabulary)!r} is not UTF-8 text: {exc}") from exc
    if not names:
        raise DataError(f"vocabulary file {str(vocabulary)!r} is empty")
    return names


def _vocabulary_meta(meta, names, vocabulary_path):
    if names is not None:
        meta["feature_names"] = names
        meta["vocabulary_path"] = str(vocabulary_path)
    return meta


def svmlight_blocks(path, rows=None, *, max_bytes=None, zero_based=True, n_features=None):
    """Parse a svmlight file in blocks of data lines: yields ``(line_numbers, X, y)``.

    A line is split at ``#`` (a comment) and a line with nothing before it is no row,
    as in scikit-learn's parser; every block holds ``rows`` data lines (or fewer, when
    ``max_bytes`` of text come first) and is parsed by ``load_svmlight_file`` with
    ``zero_based`` and ``n_features`` as given (``zero_based=True`` shifts no index,
    ``False`` shifts every index down by one; ``"auto"`` would decide per block, so
    the caller decides once for the file).  ``line_numbers`` are the 1-based lines of
    the block's rows; X is float64 CSR, y float64.

    Raises
    ------
    DataError
        Naming the file and the line: a malformed line, an unsorted or bad index, a
        NaN/infinite value; or a file that cannot be read (a damaged ``.gz``).
    """
    path = Path(path)
    opener = {".gz": gzip.open, ".bz2": bz2.open}.get(path.suffix, open)  # as scikit-learn opens it
    block, size = [], 0
    try:
        with opener(path, "rb") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.split(b"#", 1)[0].split():
                    continue
                block.append((number, line))
                size += len(line)
                if len(block) == rows or (max_bytes is not None and size >= max_bytes):
                    yield _parse_svmlight_block(path, block, zero_based, n_features)
                    block, size = [], 0
    except (OSError, EOFError) as exc:
        raise DataError(f"cannot read svmlight file {str(path)!r}: {exc}") from exc
    if block:
        yield _parse_svmlight_block(path, block, zero_based, n_features)


def _parse_svmlight_block(path, block, zero_based, n_features):
    from sklearn.datasets import load_svmlight_file

    def parse(lines):
        return load_svmlight_file(io.BytesIO(b"".join(lines)), n_features=n_features, zero_based=zero_based,
                                  dtype=np.float64)

    where = f"svmlight file {str(path)!r}"
    try:
        X, y = parse([line for _, line in block])
    except (ValueError, OverflowError) as exc:
        for number, line in block:  # the first line that fails alone is the one to name
            try:
                parse([line])
            except (ValueError, OverflowError) as bad:
                raise DataError(f"cannot read {where}: line {number}: {' '.join(str(bad).split())}") from None
        raise DataError(f"cannot read {where}: lines {block[0][0]}-{block[-1][0]}: {exc}") from None
    finite = np.isfinite(X.data)
    if not finite.all():
        at = int(np.argmin(finite))
        row = int(np.searchsorted(X.indptr, at, side="right") - 1)
        index = int(X.indices[at]) + (zero_based is False)  # the index as the file writes it
        raise DataError(f"{where}: line {block[row][0]}, index {index}: {X.data[at]} is not finite")
    return [number for number, _ in block], X.tocsr(), y


def _svmlight_without_rows(path):
    return DataError(f"svmlight file {str(path)!r} holds no data lines (an empty file?)")


def _locate_svmlight_error(path):
    """Raise the DataError of the first bad line of a file that failed to parse whole."""
    for _ in svmlight_blocks(path, 1 << 16):
        pass


def load_sparse_npz(path, labels_path, vocabulary_path=None):
    """Read a SciPy sparse archive (``scipy.sparse.save_npz``) and its labels: sparse X (CSR).

    Parameters
    ----------
    path : str or os.PathLike
        An archive of any format ``save_npz`` writes (CSR, CSC, COO...), converted
        once to CSR; read without pickle (an object array is refused).
    labels_path : str or os.PathLike
        One label per row: a ``.npy`` array (integers or strings), or a UTF-8 text
        file (``.gz`` too) of one label per line, parsed as CSV label cells are
        (integers, numbers or text).
    vocabulary_path : str or os.PathLike, optional
        As for :func:`load_svmlight`: one feature name per line; its length sets the
        feature count (X is widened to it; it may not name fewer columns than X has).
    """
    import scipy.sparse as sp

    path = _existing(path, "sparse NPZ file")
    name = str(path)
    if not zipfile.is_zipfile(path):
        raise DataError(f"{name!r} is not a SciPy sparse archive (scipy.sparse.save_npz writes a zip file)")
    try:
        X = sp.load_npz(path)
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise DataError(f"sparse NPZ file {name!r} holds pickled objects, which are refused") from exc
        raise DataError(f"{name!r} is not a SciPy sparse archive ({exc}); a NumPy archive of dense arrays is "
                        "the 'npz' source") from exc
    except (KeyError, NotImplementedError) as exc:
        raise DataError(f"{name!r} is not a SciPy sparse archive: {exc}") from exc
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise DataError(f"sparse NPZ file {name!r} is corrupted: {exc}") from exc
    X = sp.csr_matrix(X)
    y = _read_labels(labels_path)
    if len(y) != X.shape[0]:
        raise DataError(f"labels file {str(labels_path)!r} has {len(y)} labels but {name!r} has {X.shape[0]} rows")
    names = read_vocabulary(vocabulary_path)
    if names is not None:
        if len(names) < X.shape[1]:
            raise DataError(f"sparse NPZ file {name!r} has {X.shape[1]} columns, more than the {len(names)} "
                            f"names of {str(vocabulary_path)!r}")
        X = sp.csr_matrix((X.data, X.indices, X.indptr), shape=(X.shape[0], len(names)))
    meta = {"path": name, "labels_path": str(labels_path)}
    return X, y, _vocabulary_meta(meta, names, vocabulary_path)


def _read_labels(labels_path):
    """Labels of a ``.npy`` file, or of a text file with one label per line."""
    path = _existing(labels_path, "labels file")
    if path.suffix == ".npy":
        return np.asarray(open_npy(path, "labels"))
    opener = gzip.open if path.suffix == ".gz" else open
    with _decoding_errors_named(path, "labels file"), opener(path, "rt", encoding="utf-8-sig") as handle:
        texts = handle.read().splitlines()
    while texts and not texts[-1].strip():
        texts.pop()  # blank lines at the end
    for number, text in enumerate(texts, start=1):
        if not text.strip():
            raise DataError(f"labels file {str(path)!r}: line {number} is empty")
    if not texts:
        raise DataError(f"labels file {str(path)!r} is empty")
    return _parse_labels(texts)


def _as_list(value):
    return [value] if isinstance(value, (str, os.PathLike)) else list(value)


def open_npy(path, what):
    """A ``.npy`` file memory-mapped read-only (no pickled objects), or a DataError."""
    path = _existing(path, f"NPY file for {what}")
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        if "Python objects" in str(exc):  # an object array: its values are pickled
            raise DataError(f"NPY file {str(path)!r} holds Python objects (pickled), which are refused") from exc
        raise DataError(f"cannot read NPY file {str(path)!r}: {exc}") from exc
    if not isinstance(array, np.ndarray):
        raise DataError(f"{str(path)!r} is an .npz archive, not a single .npy array; use the 'npz' source")
    return array


def load_npy(x_path, y_path):
    """Read X and y from ``.npy`` files (memory-mapped while checked).

    Parameters
    ----------
    x_path, y_path : str, os.PathLike or list of them
        The feature array(s) and the matching label array(s); lists are
        concatenated in order (as the chunked converter reads them).
    """
    x_paths, y_paths = _as_list(x_path), _as_list(y_path)
    if len(x_paths) != len(y_paths) or not x_paths:
        raise DataError(f"npy: {len(x_paths)} X file(s) but {len(y_paths)} label file(s)")
    Xs = [open_npy(p, "X") for p in x_paths]
    ys = [open_npy(p, "y") for p in y_paths]
    for path, X, y_file, y in zip(x_paths, Xs, y_paths, ys):
        if len(x_paths) > 1 and (X.ndim != 2 or len(y) != len(X)):
            raise DataError(f"NPY files {str(path)!r} and {str(y_file)!r}: X has shape {X.shape}, y {y.shape}")
    if len(Xs) == 1:
        X, y = Xs[0], ys[0]
    else:
        widths = {X.shape[1] for X in Xs}
        if len(widths) != 1:
            raise DataError(f"npy: the X files have different numbers of columns {sorted(widths)}")
        X, y = np.concatenate(Xs), np.concatenate(ys)
    meta = {"x_path": [str(p) for p in x_paths] if len(x_paths) > 1 else str(x_paths[0]),
            "y_path": [str(p) for p in y_paths] if len(y_paths) > 1 else str(y_paths[0])}
    return X, y, meta


def open_hdf5_arrays(path, x_key, y_key):
    """An open h5py file and its X and y datasets, checked; the caller closes the file."""
    import h5py

    path = _existing(path, "HDF5 file")
    try:
        handle = h5py.File(path, "r")
    except OSError as exc:
        reason = "permission denied" if exc.errno == errno.EACCES else str(exc).splitlines()[0]
        raise DataError(f"cannot open HDF5 file {str(path)!r}: {reason}") from exc
    try:
        nodes = []
        for key in (x_key, y_key):
            if key not in handle or not isinstance(handle[key], h5py.Dataset):
                found = []
                handle.visititems(lambda n, o: found.append(n) if isinstance(o, h5py.Dataset) else None)
                raise DataError(f"HDF5 file {str(path)!r} has no dataset {key!r}; it holds {found}")
            nodes.append(handle[key])
    except BaseException:
        handle.close()
        raise
    return handle, nodes[0], nodes[1]


def read_hdf5_labels(node):
    """All values of a label dataset; HDF5 strings come back as ``str``, not bytes."""
    import h5py

    if h5py.check_string_dtype(node.dtype) is not None:
        return np.array(node.asstr()[()], dtype=str)
    return node[()]


def load_hdf5(path, x_key=_d("x_key"), y_key=_d("y_key")):
    """Read X and y from datasets of any HDF5 file.

    Parameters
    ----------
    path : str or os.PathLike
    x_key, y_key : str
        Paths of the datasets inside the file (``"/features"``, ``"train/X"``...).
    """
    handle, X_node, y_node = open_hdf5_arrays(path, x_key, y_key)
    try:
        with handle:
            X, y = X_node[()], read_hdf5_labels(y_node)
    except OSError as exc:
        raise DataError(f"HDF5 file {str(path)!r} is corrupted: {str(exc).splitlines()[0]}") from exc
    return X, y, {"path": str(path), "x_key": x_key, "y_key": y_key}


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


def idx_header(path):
    """``(dtype, dims, header bytes)`` of an IDX file, read from its first bytes only."""
    path = _existing(path, "IDX file")
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            head = handle.read(4)
            if len(head) < 4 or head[0] != 0 or head[1] != 0:
                raise DataError(f"IDX file {str(path)!r} has a bad magic number ({head.hex() or 'empty file'})")
            if head[2] not in _IDX_TYPES:
                raise DataError(f"IDX file {str(path)!r} has unknown type code 0x{head[2]:02x} in its magic number")
            if head[3] < 1:
                raise DataError(f"IDX file {str(path)!r} declares {head[3]} dimensions")
            dims = struct.unpack(f">{head[3]}I", handle.read(4 * head[3]))
    except (OSError, EOFError, struct.error) as exc:
        raise DataError(f"cannot read IDX file {str(path)!r}: {exc}") from exc
    return _IDX_TYPES[head[2]], dims, 4 + 4 * len(dims)


def check_scale(scale, what="IDX"):
    if scale is not None and (isinstance(scale, bool) or not isinstance(scale, (int, float, np.number))
                              or not scale or not np.isfinite(scale)):
        raise DataError(f"{what}: scale must be a finite non-zero number, got {scale!r}")


def load_idx(images, labels, scale=_d("scale")):
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
    image_paths, label_paths = _as_list(images), _as_list(labels)
    check_scale(scale)
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
        X /= np.float32(scale)
    meta = {"images": [str(p) for p in image_paths], "labels": [str(p) for p in label_paths]}
    if len(shape) == 2:
        meta["image_shape"] = [int(shape[0]), int(shape[1])]
    return X, np.concatenate(blocks_y), meta


def fashion_mnist_files(directory=FASHION_MNIST_DIR, subset=_d("subset")):
    """The IDX files of Fashion-MNIST: ``(image files, label files)`` of ``subset``.

    Each file is looked up as ``<stem>.gz`` first, then ``<stem>``.
    """
    prefixes = {"train": ["train"], "test": ["t10k"], "all": ["train", "t10k"]}
    if subset not in prefixes:
        raise DataError(f"fashion_mnist: subset must be 'all', 'train' or 'test', got {subset!r}")
    directory = Path(FASHION_MNIST_DIR if directory is None else directory)
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
    return images, labels


def load_fashion_mnist(directory=FASHION_MNIST_DIR, subset=_d("subset"), scale=_d("scale")):
    """Fashion-MNIST from its IDX files (Debian package ``dataset-fashion-mnist``).

    Parameters
    ----------
    directory : str
        Folder holding ``train-images-idx3-ubyte.gz`` and friends.
    subset : {"all", "train", "test"}
        The 60000 training images, the 10000 test images, or both (70000); the
        split written by :func:`~softmax_nb.data.prepare.prepare` is made from
        whatever is loaded.
    scale : float, optional
        As in :func:`load_idx`.
    """
    images, labels = fashion_mnist_files(directory, subset)
    X, y, meta = load_idx(images, labels, scale=scale)
    meta["class_names"] = list(FASHION_MNIST_CLASSES)
    meta["subset"] = subset
    return X, y, meta


#: The sources whose X is sparse: prepared into CSR dataset files (docs/FORMATS.md).
SPARSE_SOURCES = ("svmlight", "sparse_npz")

#: Source name -> loader.  A loader takes keyword arguments (the source entry of a
#: config minus its ``name``) and returns ``(X, y, meta)``.
SOURCES = {
    "digits": load_digits,
    "synthetic": make_softmax_data,
    "csv": load_csv,
    "npz": load_npz,
    "svmlight": load_svmlight,
    "sparse_npz": load_sparse_npz,
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
    check_arguments(name, loader, kwargs)
    X, y, meta = loader(**kwargs)
    meta = dict(meta)
    meta["source"] = name
    return X, y, meta



def check_arguments(name, function, kwargs):
    """Refuse arguments ``function`` does not take and required ones that are missing, by name."""
    parameters = [p for p in inspect.signature(function).parameters.values() if p.name != "self"]
    names = [p.name for p in parameters]
    unknown = sorted(set(kwargs) - set(names))
    if unknown:
        raise DataError(
            f"source {name!r} does not take {', '.join(map(repr, unknown))}; "
            f"it takes {', '.join(names) or 'no arguments'}"
        )
    missing = [p.name for p in parameters if p.default is inspect.Parameter.empty and p.name not in kwargs]
    if missing:
        raise DataError(f"source {name!r} needs {', '.join(map(repr, missing))}")
