"""Chunked conversion of sources larger than memory (docs/OUT_OF_CORE.md).

:func:`prepare_chunked` is :func:`~softmax_nb.data.prepare.prepare` for data that
do not fit in memory: the labels are read whole (one value per row), X is read in
blocks of ``block_rows`` rows and written block by block with
:class:`~softmax_nb.files.dataset.DatasetWriter`.

Every file source but sparse_npz has a block reader here (:data:`CHUNKED_SOURCES`):
csv, npz, svmlight, npy, hdf5, idx and fashion_mnist.  They parse exactly as the
in-memory loaders of :mod:`softmax_nb.data.sources` do (same arguments, defaults and
messages).  A svmlight file stays sparse: its blocks are CSR matrices, written as a
sparse dataset file (``DatasetWriter(layout="csr")``).  digits and synthetic are
generated in memory and sparse_npz is read whole (a SciPy archive holds each array as
one zip member): they have no block reader and are refused with a message, never
converted in memory behind the caller's back.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import zipfile
import zlib
from pathlib import Path

import numpy as np

from ..files.dataset import SPLITS, DatasetWriter, dataset_info
from ..settings.config import dataset_default as _d
from .checks import DataError, _check_sparse_X, check_X_y, encode_labels, resolve_class_names
from .sources import (FASHION_MNIST_CLASSES, FASHION_MNIST_DIR, _as_list, _CsvLayout, _decoding_errors_named,
                      _existing, _is_number, _open_text, _parse_labels, _svmlight_without_rows, _vocabulary_meta,
                      check_arguments, check_scale, fashion_mnist_files, idx_header, open_hdf5_arrays, open_npy,
                      read_hdf5_labels, read_idx, read_vocabulary, svmlight_blocks)
from .split import SparseMoments, apply_standardization, safe_scale, stratified_split

__all__ = ["CHUNKED_SOURCES", "NOT_CHUNKED", "BLOCK_BYTES", "prepare_chunked", "block_reader"]

#: Size of one block of float64 features when ``block_rows`` is not given.
BLOCK_BYTES = 64 * 2**20


class _BlockSource:
    """A source read in row blocks: ``labels()`` whole (one int or str per row, small
    next to X), then ``blocks(rows)`` yields float64 feature blocks in row order
    (CSR matrices when ``sparse``).  ``n_rows`` is the number of rows when the reader
    knows it before reading X."""

    n_features = None
    n_rows = None
    meta = None
    sparse = False

    def labels(self):
        raise NotImplementedError

    def blocks(self, rows):
        raise NotImplementedError

    def default_block_rows(self):
        """Rows of about :data:`BLOCK_BYTES` of float64 features."""
        return max(1, BLOCK_BYTES // (8 * self.n_features))


class _CsvBlocks(_BlockSource):
    """A CSV file read twice, row by row: labels first, then feature blocks.

    Same options, defaults and header rule as :func:`~softmax_nb.data.sources.load_csv`."""

    def __init__(self, path, label_column=_d("label_column"), header=_d("header"), delimiter=_d("delimiter"),
                 skip_columns=_d("skip_columns")):
        if label_column is None:
            raise DataError("CSV: chunked conversion needs a label column")
        self.path, self.delimiter, self.name = path, delimiter, str(path)
        self.layout = _CsvLayout(self.name, next(self._rows(), None), label_column=label_column, header=header,
                                 skip_columns=skip_columns)
        self.n_features = len(self.layout.feature_index)
        self.meta = self.layout.meta()

    def _rows(self):
        # A byte that is not UTF-8 is named with its line and character, as load_csv names it.
        with _decoding_errors_named(self.path), _open_text(self.path) as handle:
            reader = csv.reader(handle, delimiter=self.delimiter)
            for row in reader:
                if row and not (len(row) == 1 and not row[0].strip()):
                    yield reader.line_num, row

    def _data_rows(self):
        rows = self._rows()
        if self.layout.has_header:
            next(rows)
        n_columns = self.layout.n_columns
        for line, row in rows:
            if len(row) != n_columns:
                raise DataError(f"CSV file {self.name!r}: line {line} has {len(row)} columns, expected "
                                f"{n_columns}")
            yield line, row

    def labels(self):
        texts = []
        label_index = self.layout.label_index
        for line, row in self._data_rows():
            text = row[label_index].strip()
            if not text:
                raise DataError(f"CSV file {self.name!r}: line {line}, label column "
                                f"{self.layout.column_label(label_index)} is empty")
            texts.append(text)
        if not texts:
            raise DataError(f"CSV file {self.name!r} has a header but no data rows")
        return _parse_labels(texts)

    def blocks(self, rows):
        cells, lines = [], []
        feature_index = self.layout.feature_index
        for line, row in self._data_rows():
            cells.append([row[i] for i in feature_index])
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
                for i in self.layout.feature_index:
                    if not _is_number(row[i]):
                        raise DataError(f"CSV file {self.name!r}: line {line}, column "
                                        f"{self.layout.column_label(i)}: {row[i]!r} is not a number") from None
            raise


class _SvmlightBlocks(_BlockSource):
    """A svmlight / libsvm file parsed in blocks of lines (:func:`svmlight_blocks`), sparse.

    The first pass (at construction, in blocks of :data:`BLOCK_BYTES` of text) reads
    the labels and the smallest and largest feature index, and decides for the whole
    file what :func:`~softmax_nb.data.sources.load_svmlight` (scikit-learn's
    ``zero_based="auto"``) decides: the indices are 1-based, shifted down by one, when
    the file holds an index and none is 0; the feature count is the vocabulary's
    length, else the largest index (after the shift) + 1.  :meth:`blocks` parses with
    that decision and that count, so every block is the rows of the whole-file parse.
    """

    sparse = True

    def __init__(self, path, vocabulary_path=None):
        self.path = _existing(path, "svmlight file")
        name = str(self.path)
        names = read_vocabulary(vocabulary_path)
        labels, low, high, high_line, nnz = [], None, -1, None, 0
        for lines, X, y in svmlight_blocks(self.path, max_bytes=BLOCK_BYTES):
            labels.append(y)
            nnz += X.nnz
            if X.nnz:
                low = int(X.indices.min()) if low is None else min(low, int(X.indices.min()))
                at = int(np.argmax(X.indices))
                if X.indices[at] > high:
                    high, high_line = int(X.indices[at]), lines[np.searchsorted(X.indptr, at, side="right") - 1]
        if not labels:
            raise _svmlight_without_rows(name)
        self._labels = np.concatenate(labels)
        self.n_rows = len(self._labels)
        self.zero_based = not (low is not None and low > 0)
        used = high + self.zero_based  # scikit-learn's count: the largest 0-based index + 1, 1 without any
        if names is not None and used > len(names):
            raise DataError(f"cannot read svmlight file {name!r}: line {high_line} has index {high}: it uses more "
                            f"columns than the {len(names)} names of {str(vocabulary_path)!r}")
        self.n_features = len(names) if names is not None else max(used, 1)
        self._row_bytes = 16 * (nnz / self.n_rows + 1)  # float64 value and int64 index of each nonzero
        self.meta = _vocabulary_meta({"path": name}, names, vocabulary_path)

    def labels(self):
        return self._labels

    def default_block_rows(self):
        """Rows of about :data:`BLOCK_BYTES` of parsed nonzeros."""
        return max(1, int(BLOCK_BYTES // self._row_bytes))

    def blocks(self, rows):
        for _, X, _ in svmlight_blocks(self.path, rows, zero_based=self.zero_based, n_features=self.n_features):
            yield X


class _NpyBlocks(_BlockSource):
    """``.npy`` files, memory-mapped: X sliced in blocks; lists are concatenated."""

    def __init__(self, x_path, y_path):
        x_paths, y_paths = _as_list(x_path), _as_list(y_path)
        if len(x_paths) != len(y_paths) or not x_paths:
            raise DataError(f"npy: {len(x_paths)} X file(s) but {len(y_paths)} label file(s)")
        self.arrays = []
        for path in x_paths:
            X = open_npy(path, "X")
            if X.ndim != 2 or X.dtype.kind not in "biuf":
                raise DataError(f"NPY file {str(path)!r}: X must be a 2-D array of numbers, got {X.shape} {X.dtype}")
            if self.n_features is not None and X.shape[1] != self.n_features:
                raise DataError(f"NPY file {str(path)!r} has {X.shape[1]} columns, the first file {self.n_features}")
            self.n_features = X.shape[1]
            self.arrays.append((str(path), X))
        self.y_paths = y_paths
        self.n_rows = sum(len(X) for _, X in self.arrays)
        self.meta = {"x_path": [p for p, _ in self.arrays], "y_path": [str(p) for p in y_paths]}

    def labels(self):
        parts = []
        for (x_path, X), y_path in zip(self.arrays, self.y_paths):
            y = np.asarray(open_npy(y_path, "y"))
            if y.ndim == 2 and y.shape[1] == 1:
                y = y.ravel()
            if y.shape != (len(X),):
                raise DataError(f"NPY labels {str(y_path)!r} have shape {y.shape}, X {x_path!r} has {len(X)} rows")
            parts.append(y)
        return np.concatenate(parts)

    def blocks(self, rows):
        for _, X in self.arrays:
            for start in range(0, len(X), rows):
                yield np.asarray(X[start:start + rows], dtype=np.float64)


class _NpzBlocks(_BlockSource):
    """An ``.npz`` archive: its X member streamed in row blocks (stored or deflated)."""

    def __init__(self, path, x_key=_d("x_key"), y_key=_d("y_key")):
        self.path = _existing(path, "NPZ file")
        self.name, self.x_key, self.y_key = str(self.path), x_key, y_key
        try:
            with zipfile.ZipFile(self.path) as archive:
                members = archive.namelist()
        except (zipfile.BadZipFile, OSError) as exc:
            raise DataError(f"cannot read NPZ file {self.name!r}: {exc}") from exc
        arrays = [m[:-4] for m in members if m.endswith(".npy")]
        for key in (x_key, y_key):
            if f"{key}.npy" not in members:
                raise DataError(f"NPZ file {self.name!r} has no array {key!r}; it holds {arrays}")
        with self._open_x() as (_, shape, dtype):
            pass
        self.n_rows, self.n_features = shape
        self.dtype = dtype
        self.meta = {"path": self.name, "x_key": x_key, "y_key": y_key}

    @contextlib.contextmanager
    def _open_x(self):
        try:
            with zipfile.ZipFile(self.path) as archive, archive.open(f"{self.x_key}.npy") as stream:
                version = np.lib.format.read_magic(stream)
                if version == (1, 0):
                    shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(stream)
                elif version == (2, 0):
                    shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(stream)
                else:
                    raise DataError(f"NPZ file {self.name!r}: array {self.x_key!r} has .npy format version "
                                    f"{version}, which the block reader does not read")
                if dtype.hasobject or dtype.kind not in "biuf" or len(shape) != 2:
                    raise DataError(f"NPZ file {self.name!r}: array {self.x_key!r} must be a 2-D array of "
                                    f"numbers, got shape {shape} dtype {dtype}")
                if fortran_order and shape[0] > 1 and shape[1] > 1:
                    raise DataError(
                        f"NPZ file {self.name!r}: array {self.x_key!r} is stored in Fortran (column) order, "
                        "which cannot be read in row blocks; save it in C order (np.ascontiguousarray) "
                        "or convert it in memory (out_of_core: false)")
                yield stream, shape, dtype
        except DataError:
            raise
        except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
            raise DataError(f"NPZ file {self.name!r} is corrupted: {exc}") from exc
        except ValueError as exc:  # a malformed .npy header
            raise DataError(f"NPZ file {self.name!r}: cannot read array {self.x_key!r}: {exc}") from exc

    def labels(self):
        try:
            with np.load(self.path, allow_pickle=False) as archive:
                y = np.asarray(archive[self.y_key])
        except ValueError as exc:  # object arrays need pickle, which is refused
            raise DataError(f"NPZ file {self.name!r}: {exc}") from exc
        except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
            raise DataError(f"NPZ file {self.name!r} is corrupted: {exc}") from exc
        if y.ndim == 2 and y.shape[1] == 1:
            y = y.ravel()
        return y

    def blocks(self, rows):
        row_bytes = self.n_features * self.dtype.itemsize
        with self._open_x() as (stream, shape, dtype):
            for start in range(0, shape[0], rows):
                n = min(rows, shape[0] - start)
                data = stream.read(n * row_bytes)
                if len(data) != n * row_bytes:
                    raise DataError(f"NPZ file {self.name!r}: array {self.x_key!r} ends after "
                                    f"{start + len(data) // max(row_bytes, 1)} of its {shape[0]} rows")
                yield np.frombuffer(data, dtype=dtype).reshape(n, self.n_features).astype(np.float64)


class _Hdf5Blocks(_BlockSource):
    """Datasets of any HDF5 file: X sliced in row blocks (h5py reads only those rows)."""

    def __init__(self, path, x_key=_d("x_key"), y_key=_d("y_key")):
        self.path, self.name, self.x_key, self.y_key = path, str(path), x_key, y_key
        handle, X, _ = open_hdf5_arrays(path, x_key, y_key)
        with handle:
            if len(X.shape) != 2 or X.dtype.kind not in "biuf":
                raise DataError(f"HDF5 file {self.name!r}: dataset {x_key!r} must be a 2-D array of numbers, "
                                f"got shape {X.shape} dtype {X.dtype}")
            self.n_rows, self.n_features = X.shape
        self.meta = {"path": self.name, "x_key": x_key, "y_key": y_key}

    def labels(self):
        handle, _, y = open_hdf5_arrays(self.path, self.x_key, self.y_key)
        try:
            with handle:
                return read_hdf5_labels(y)
        except OSError as exc:
            raise DataError(f"HDF5 file {self.name!r} is corrupted: {str(exc).splitlines()[0]}") from exc

    def blocks(self, rows):
        handle, X, _ = open_hdf5_arrays(self.path, self.x_key, self.y_key)
        with handle:
            for start in range(0, self.n_rows, rows):
                try:
                    block = X[start:start + rows]
                except OSError as exc:
                    raise DataError(f"HDF5 file {self.name!r} is corrupted in rows {start}-{start + rows - 1} "
                                    f"of {self.x_key!r}: {str(exc).splitlines()[0]}") from exc
                yield np.asarray(block, dtype=np.float64)


class _IdxBlocks(_BlockSource):
    """IDX files (plain or gzip) read item by item after their header."""

    def __init__(self, images, labels, scale=_d("scale")):
        self.image_paths, self.label_paths = _as_list(images), _as_list(labels)
        if len(self.image_paths) != len(self.label_paths) or not self.image_paths:
            raise DataError(f"IDX: {len(self.image_paths)} image file(s) but {len(self.label_paths)} label file(s)")
        check_scale(scale)
        self.scale = scale
        self.headers = [idx_header(p) for p in self.image_paths]
        shapes = {dims[1:] for _, dims, _ in self.headers}
        if len(shapes) != 1:
            raise DataError(f"IDX image files hold items of different shapes {sorted(shapes)}")
        item_shape = shapes.pop()
        self.n_features = int(np.prod(item_shape, dtype=np.int64))
        self.n_rows = sum(dims[0] for _, dims, _ in self.headers)
        self.meta = {"images": [str(p) for p in self.image_paths], "labels": [str(p) for p in self.label_paths]}
        if len(item_shape) == 2:
            self.meta["image_shape"] = [int(item_shape[0]), int(item_shape[1])]

    def labels(self):
        parts = []
        for path, label_path, (_, dims, _) in zip(self.image_paths, self.label_paths, self.headers):
            y = read_idx(label_path)
            if y.ndim != 1:
                raise DataError(f"IDX labels file {str(label_path)!r} has shape {y.shape}; labels must be 1-D")
            if len(y) != dims[0]:
                relation = "shorter" if len(y) < dims[0] else "longer"
                raise DataError(f"IDX labels file {str(label_path)!r} has {len(y)} labels, {relation} than the "
                                f"{dims[0]} images of {str(path)!r}")
            parts.append(y.astype(np.int64))
        return np.concatenate(parts)

    def blocks(self, rows):
        for path, (dtype, dims, header) in zip(self.image_paths, self.headers):
            path = Path(path)
            item_bytes = self.n_features * dtype.itemsize
            opener = gzip.open if path.suffix == ".gz" else open
            try:
                with opener(path, "rb") as handle:
                    handle.read(header)
                    for start in range(0, dims[0], rows):
                        n = min(rows, dims[0] - start)
                        data = handle.read(n * item_bytes)
                        if len(data) != n * item_bytes:
                            raise DataError(f"IDX file {str(path)!r} ends after {start + len(data) // item_bytes} "
                                            f"of the {dims[0]} items its header announces")
                        # float32 then scaled in float32, as load_idx does, so both paths agree.
                        block = np.frombuffer(data, dtype=dtype).reshape(n, self.n_features).astype(np.float32)
                        if self.scale is not None:
                            block /= np.float32(self.scale)
                        yield block.astype(np.float64)
                    if handle.read(1):
                        raise DataError(f"IDX file {str(path)!r} holds more data than its header announces")
            except (OSError, EOFError) as exc:
                raise DataError(f"cannot read IDX file {str(path)!r}: {exc}") from exc


class _FashionMnistBlocks(_IdxBlocks):
    """Fashion-MNIST's IDX files, found as :func:`~softmax_nb.data.sources.load_fashion_mnist` finds them."""

    def __init__(self, directory=FASHION_MNIST_DIR, subset=_d("subset"), scale=_d("scale")):
        images, labels = fashion_mnist_files(directory, subset)
        super().__init__(images, labels, scale=scale)
        self.meta["class_names"] = list(FASHION_MNIST_CLASSES)
        self.meta["subset"] = subset


_BLOCK_READERS = {
    "csv": _CsvBlocks,
    "npz": _NpzBlocks,
    "svmlight": _SvmlightBlocks,
    "npy": _NpyBlocks,
    "hdf5": _Hdf5Blocks,
    "idx": _IdxBlocks,
    "fashion_mnist": _FashionMnistBlocks,
}

#: Sources :func:`prepare_chunked` reads block by block.
CHUNKED_SOURCES = tuple(_BLOCK_READERS)
#: The sources without a block reader, and why.
NOT_CHUNKED = {
    "digits": "generated in memory",
    "synthetic": "generated in memory",
    "sparse_npz": "read whole (a SciPy archive holds each array as one zip member)",
}


def block_reader(source):
    """The block reader of a source entry ``{"name": ..., **loader arguments}``.

    Raises
    ------
    DataError
        The source has no block reader, or an argument is unknown or missing.
    """
    name = source.get("name")
    kwargs = {k: v for k, v in source.items() if k != "name"}
    if name not in _BLOCK_READERS:
        raise DataError(
            f"chunked conversion reads sources {', '.join(CHUNKED_SOURCES)}, not {name!r}"
            + (f" (it is {NOT_CHUNKED[name]}: convert it without out_of_core)" if name in NOT_CHUNKED else "")
        )
    check_arguments(name, _BLOCK_READERS[name].__init__, kwargs)
    return _BLOCK_READERS[name](**kwargs)


def prepare_chunked(
    source,
    out_path,
    *,
    val_fraction=_d("val_fraction"),
    test_fraction=_d("test_fraction"),
    seed=_d("seed"),
    standardize=_d("standardize"),
    dtype=_d("dtype"),
    chunk_rows=_d("chunk_rows"),
    compression=_d("compression"),
    stratify=_d("stratify"),
    block_rows=_d("block_rows"),
    class_names=_d("class_names"),
    config=None,
):
    """:func:`~softmax_nb.data.prepare.prepare` for sources larger than memory.

    The labels are read whole (one value per row); X is read ``block_rows`` rows at
    a time, twice at most: for the standardization statistics of the training rows
    (Chan's pairwise merge of block means and squared deviations), then to write
    each row to its split.  The splits are the rows :func:`stratified_split`
    chooses, in source order, exactly as ``prepare``; the stored X equals
    ``prepare``'s to rounding of the standardization statistics.  A sparse source
    (svmlight) gives a sparse file equal to ``prepare``'s bitwise: its scale-only
    statistics (:class:`~softmax_nb.data.split.SparseMoments`) are summed in row
    order in both paths.

    The defaults are the workflow's (the schema's ``datasets`` defaults, read from
    :mod:`softmax_nb.settings`), as for ``prepare``: in particular ``dtype``
    defaults to float64 here too; pass ``dtype="float32"`` to halve the file.

    Parameters
    ----------
    source : dict
        ``{"name": <one of CHUNKED_SOURCES>, **loader arguments}``, with the
        arguments of the in-memory loader: ``{"name": "csv", "path": ...,
        "label_column": ...}``, ``{"name": "npy", "x_path": file or list,
        "y_path": file or list}``, ``{"name": "idx", "images": ..., "labels": ...,
        "scale": 255}``, ``{"name": "npz"/"hdf5", "path": ..., "x_key": ...,
        "y_key": ...}``, ``{"name": "fashion_mnist", "directory": ...}``,
        ``{"name": "svmlight", "path": ..., "vocabulary_path": ...}``.
    out_path : str or os.PathLike
    block_rows : int, optional
        Rows held in memory at once; ``None`` picks blocks of about
        :data:`BLOCK_BYTES` (64 MiB) of float64 features (svmlight: of parsed
        nonzeros, 16 bytes each).
    val_fraction, test_fraction, seed, standardize, dtype, chunk_rows, compression, stratify, class_names, config
        As ``prepare``.

    Returns
    -------
    dict
        :func:`softmax_nb.files.dataset.dataset_info` of the written file.
    """
    if dtype not in ("float32", "float64"):
        raise DataError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise DataError(f"seed must be a non-negative integer, got {seed!r}")
    if block_rows is not None and (isinstance(block_rows, bool) or not isinstance(block_rows, (int, np.integer))
                                   or block_rows < 1):
        raise DataError(f"block_rows must be a positive integer or None, got {block_rows!r}")
    if not test_fraction:
        raise DataError("test_fraction is 0: the test split would be empty")
    out_path = Path(out_path)
    if not out_path.parent.exists():
        raise FileNotFoundError(f"output folder {str(out_path.parent)!r} does not exist")
    source_entry = {"name": source} if isinstance(source, str) else dict(source)
    reader = block_reader(source_entry)
    if block_rows is None:
        block_rows = reader.default_block_rows()
    labels = reader.labels()
    where = f"source {source_entry['name']!r}"
    if reader.n_rows is not None and len(labels) != reader.n_rows:
        raise DataError(f"{where}: y has {len(labels)} labels but X has {reader.n_rows} rows")
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
            if first + block.shape[0] > len(y_index):
                raise DataError(f"{where}: more feature rows than the {len(y_index)} labels")
            if reader.sparse:
                block = _check_sparse_X(block, where)  # canonical CSR, as check_X_y leaves it in memory
            else:
                finite = np.isfinite(block)
                if not finite.all():
                    row, column = np.argwhere(~finite)[0]
                    raise DataError(f"{where}: X holds NaN/infinite values; first at row {first + row}, "
                                    f"column {column}")
            yield first, block
            first += block.shape[0]
        if first != len(y_index):
            raise DataError(f"{where}: {first} feature rows but {len(y_index)} labels")

    preprocessing = None
    if standardize and reader.sparse:
        moments = SparseMoments(reader.n_features)  # the in-memory statistic, bitwise
        for first, block in checked_blocks():
            moments.update(block[split_of_row[first:first + block.shape[0]] == 0])
        preprocessing = moments.standardization()
    elif standardize:
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
        preprocessing = {"mean": mean, "scale": safe_scale(mean, np.sqrt(m2 / count))}

    options = {"val_fraction": val_fraction, "test_fraction": test_fraction, "seed": int(seed),
               "standardize": bool(standardize), "dtype": dtype, "chunk_rows": chunk_rows,
               "compression": compression, "stratify": bool(stratify), "max_samples": None,
               "out_of_core": True, "block_rows": int(block_rows)}
    if config is None:
        config = {"source": source_entry, **options}
    meta = dict(reader.meta)
    feature_names = meta.pop("feature_names", None)
    image_shape = meta.pop("image_shape", None)
    class_names = resolve_class_names(classes, class_names, meta.pop("class_names", None))
    split_rows = {name: len(rows) for name, rows in zip(SPLITS, parts)}
    with DatasetWriter(
        out_path, classes, reader.n_features, split_rows, dtype=dtype,
        attrs={"source": source_entry["name"], "seed": int(seed), "source_meta": meta, "split": options},
        preprocessing=preprocessing, feature_names=feature_names, image_shape=image_shape,
        class_names=class_names, config=config, chunk_rows=chunk_rows, compression=compression,
        layout="csr" if reader.sparse else "dense",
    ) as writer:
        for first, block in checked_blocks():
            if preprocessing is not None:
                block = apply_standardization(block, preprocessing, dtype)
            codes = split_of_row[first:first + block.shape[0]]
            y_block = y_index[first:first + block.shape[0]]
            for code, name in enumerate(SPLITS):
                mask = codes == code
                if mask.any():
                    writer.append(name, block[mask], y_block[mask])
    return dataset_info(out_path)
