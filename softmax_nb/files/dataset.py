"""Dataset files: the train/val/test splits of one prepared dataset, in HDF5.

docs/FORMATS.md documents the layout group by group; this module is its only
writer (:func:`write_dataset` whole, :class:`DatasetWriter` block by block, with
the same layout) and reader (:func:`dataset_info`, :func:`read_dataset`).  No
pickle: every value is an array or a JSON string, so any HDF5 tool reads the file.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import sys
from pathlib import Path

import h5py
import numpy as np
import scipy.sparse as sp

from .atomic import atomic_write
# FileFormatError and _short are also read from here by data.streaming (the dataset reader).
from .common import DIGEST_ATTR, H5_LIBVER, _check_digest, content_digest
from .common import (FileFormatError, _attr_str, _decode_labels, _encode_labels, _open_h5,  # noqa: F401
                     _require, _short, _to_json, library_versions)

__all__ = [
    "DATASET_FORMAT",
    "DATASET_FORMAT_VERSION",
    "SPLITS",
    "FileFormatError",
    "write_dataset",
    "DatasetWriter",
    "read_dataset",
    "read_rows",
    "dataset_info",
]

DATASET_FORMAT = "softmax_nb-dataset"
#: Version of the dataset layout.  Readers accept exactly the versions they know;
#: any change of layout or meaning bumps it (see docs/FORMATS.md, "Version policy").
DATASET_FORMAT_VERSION = 2
#: Files with sparse X (``/SPLIT/X`` a CSR group: data, indices, indptr) are version 3;
#: files with dense X keep version 2's layout and number.
SPARSE_DATASET_FORMAT_VERSION = 3
#: Versions read: 1 has no root checksum (version 2's ``sha256``), the layout is the same.
READABLE_DATASET_VERSIONS = (1, 2, 3)

SPLITS = ("train", "val", "test")
_CSR_PARTS = ("data", "indices", "indptr")
#: Row data: checked by fletcher32 when chunked; left out of the root checksum, which
#: must stay cheap to verify at every open (a contiguous X is for memory mapping).
_ROW_DATA = tuple(f"{split}/{part}" for split in SPLITS for part in ("X", "y")) + tuple(
    f"{split}/X/{part}" for split in SPLITS for part in _CSR_PARTS)
#: Elements per chunk of a CSR part (data and indices: about 1-2 MiB).
_CSR_CHUNK = 1 << 18

# Aim for chunks of about 1 MiB when the caller does not choose: large enough for
# sequential reads to run at disk speed, small enough for a streamed pass to keep
# only a few chunks in memory.
_DEFAULT_CHUNK_BYTES = 1 << 20

_COMPRESSIONS = (None, "lzf", "gzip")


def write_dataset(
    path,
    splits,
    classes,
    attrs=None,
    *,
    preprocessing=None,
    feature_names=None,
    image_shape=None,
    class_names=None,
    config=None,
    chunk_rows=None,
    compression=None,
    compression_level=None,
):
    """Write a dataset file (atomically).

    Parameters
    ----------
    path : str or os.PathLike
        Target ``.h5`` file.
    splits : dict
        ``{"train": (X, y), "val": (X, y), "test": (X, y)}``; every split is
        required (an empty split has zero rows).  ``X`` is 2-D float32 or float64
        and is stored in its own dtype; ``y`` holds class *indices*
        ``0..len(classes)-1`` and is stored as int64.
    classes : array-like
        The class labels (numbers or strings), in index order.
    attrs : dict, optional
        ``source`` (str), ``seed`` (int or None) and any other JSON-serialisable
        provenance (stored in the ``meta`` attribute as JSON).
    preprocessing : dict, optional
        ``{"mean": (n_features,), "scale": (n_features,)}`` when X was standardized
        as ``(X_raw - mean) / scale``.
    feature_names : sequence of str, optional
    image_shape : tuple of int, optional
        ``(height, width)`` when every row is an image in row-major order.
    class_names : sequence of str, optional
        Human-readable names of the classes, same length as ``classes``.
    config : dict, optional
        The configuration that produced the file, stored as JSON.
    chunk_rows : int, optional
        Rows per HDF5 chunk of X.  ``None`` picks about 1 MiB per chunk; ``0``
        stores X contiguously (no chunks, no compression), which lets
        :func:`read_dataset` memory-map it.
    compression : {None, "lzf", "gzip"}
        Filter for X and y; ``compression_level`` is gzip's level (0-9).

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    if compression not in _COMPRESSIONS:
        raise ValueError(f"compression must be one of {_COMPRESSIONS}, got {compression!r}")
    if chunk_rows == 0 and compression is not None:
        raise ValueError("compression needs chunked storage; chunk_rows=0 (contiguous) cannot be compressed")
    if chunk_rows is not None and (not isinstance(chunk_rows, (int, np.integer)) or chunk_rows < 0):
        raise ValueError(f"chunk_rows must be a non-negative integer or None, got {chunk_rows!r}")
    attrs = dict(attrs or {})
    class_values, class_tag = _encode_labels(classes, "classes")
    n_classes = len(class_values)
    if n_classes < 1:
        raise ValueError("a dataset needs at least one class")
    missing = [name for name in SPLITS if name not in splits]
    extra = [name for name in splits if name not in SPLITS]
    if missing or extra:
        raise ValueError(f"splits must be exactly {SPLITS}; missing {missing}, unexpected {extra}")

    n_features = None
    checked = {}
    sparse_splits = {name for name in SPLITS if sp.issparse(splits[name][0])}
    if sparse_splits and len(sparse_splits) != len(SPLITS):
        raise ValueError(f"X must be sparse in every split or in none; sparse in {sorted(sparse_splits)} only")
    for name in SPLITS:
        X, y = splits[name]
        X = _check_sparse_split(name, X) if sparse_splits else np.asarray(X)
        y = np.asarray(y)
        if X.ndim != 2:
            raise ValueError(f"split {name!r}: X must be 2-D, got shape {X.shape}")
        if X.dtype not in (np.float32, np.float64):
            raise ValueError(f"split {name!r}: X must be float32 or float64, got {X.dtype}")
        if n_features is None:
            n_features = X.shape[1]
        elif X.shape[1] != n_features:
            raise ValueError(f"split {name!r} has {X.shape[1]} features, other splits have {n_features}")
        if y.shape != (X.shape[0],):
            raise ValueError(f"split {name!r}: y must have shape ({X.shape[0]},), got {y.shape}")
        if y.size and (y.dtype.kind not in "iu" or y.min() < 0 or y.max() >= n_classes):
            raise ValueError(f"split {name!r}: y must hold class indices in 0..{n_classes - 1}")
        checked[name] = (X, y.astype(np.int64, copy=False))
    dtypes = {X.dtype for X, _ in checked.values()}
    if len(dtypes) != 1:
        raise ValueError(f"all splits must share one X dtype, got {sorted(map(str, dtypes))}")

    if feature_names is not None:
        feature_names = [str(name) for name in feature_names]
        if len(feature_names) != n_features:
            raise ValueError(f"{len(feature_names)} feature names for {n_features} features")
    if image_shape is not None:
        image_shape = tuple(int(v) for v in image_shape)
        if int(np.prod(image_shape)) != n_features:
            raise ValueError(f"image_shape {image_shape} does not match {n_features} features")
    if class_names is not None:
        class_names = [str(name) for name in class_names]
        if len(class_names) != n_classes:
            raise ValueError(f"{len(class_names)} class names for {n_classes} classes")
    preprocessing = _check_preprocessing(preprocessing, n_features)

    itemsize = next(iter(dtypes)).itemsize
    if chunk_rows is None:
        chunk_rows = max(1, _DEFAULT_CHUNK_BYTES // max(1, n_features * itemsize))
    filter_kwargs = {}
    if compression is not None:
        filter_kwargs["compression"] = compression
        if compression == "gzip" and compression_level is not None:
            filter_kwargs["compression_opts"] = int(compression_level)

    # HDF5 must not meet a full disk: the raw size of the splits is the room asked for.
    expected = sum(_nbytes(X) + np.asarray(y).size * 8 for X, y in checked.values())
    with atomic_write(path, expected_bytes=expected // (4 if compression else 1)) as tmp:
        with h5py.File(tmp, "w", libver=H5_LIBVER) as handle:
            _write_header(handle, attrs=attrs, n_features=n_features, classes=class_values, class_tag=class_tag,
                          preprocessing=preprocessing, config=config, image_shape=image_shape,
                          feature_names=feature_names, class_names=class_names)
            if sparse_splits:
                handle.attrs["format_version"] = SPARSE_DATASET_FORMAT_VERSION
                handle.attrs["X_layout"] = "csr"
            for name in SPLITS:
                X, y = checked[name]
                group = handle.create_group(name)
                n_rows = X.shape[0]
                if sparse_splits:
                    _write_csr(group, X, y, filter_kwargs)
                else:
                    if chunk_rows == 0 or n_rows == 0 or n_features == 0:
                        # HDF5 cannot chunk an empty axis; empty splits stay contiguous.
                        x_kwargs, y_kwargs = {}, {}
                    else:
                        rows = int(min(chunk_rows, n_rows))
                        # fletcher32: a checksum per chunk, so a corrupted chunk fails
                        # loudly on read instead of feeding wrong numbers to training.
                        x_kwargs = {"chunks": (rows, n_features), "fletcher32": True, **filter_kwargs}
                        y_kwargs = {"chunks": (rows,), "fletcher32": True, **filter_kwargs}
                    group.create_dataset("X", data=np.ascontiguousarray(X), **x_kwargs)
                    group.create_dataset("y", data=y, **y_kwargs)
                group.attrs["n_samples"] = int(n_rows)
                group.attrs["class_counts"] = np.bincount(y, minlength=n_classes).astype(np.int64)
            _write_preprocessing(handle, preprocessing)
            handle.attrs[DIGEST_ATTR] = content_digest(handle, _ROW_DATA)
    return Path(path)


def _check_sparse_split(name, X):
    """A split's sparse X as canonical CSR (kernels.sparse.check_csr), errors naming the split."""
    from ..kernels.sparse import check_csr

    try:
        return check_csr(X)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"split {name!r}: {exc}") from None


def _nbytes(X):
    if sp.issparse(X):
        return X.data.nbytes + X.indices.nbytes + X.indptr.nbytes
    return np.asarray(X).nbytes


def _write_csr(group, X, y, filter_kwargs):
    """``/SPLIT/X`` as a CSR group (docs/FORMATS.md): data, indices (int32 when the columns
    allow), indptr (int64), each chunked with fletcher32 when not empty."""
    x_group = _csr_group(group, X.shape)
    parts = {"data": X.data, "indices": X.indices.astype(_csr_index_dtype(X.shape[1]), copy=False),
             "indptr": X.indptr.astype(np.int64, copy=False)}
    for part, values in parts.items():
        x_group.create_dataset(part, data=values, **_csr_storage(len(values), filter_kwargs))
    group.create_dataset("y", data=y, **_csr_storage(len(y), filter_kwargs))


def _csr_group(group, shape):
    x_group = group.create_group("X")
    x_group.attrs["layout"] = "csr"
    x_group.attrs["shape"] = np.asarray(shape, dtype=np.int64)
    return x_group


def _csr_index_dtype(n_features):
    return np.int32 if n_features < 2**31 else np.int64


def _csr_storage(length, filter_kwargs):
    """Storage of a CSR part (and of y beside it): chunks of up to 2^18 elements with
    fletcher32; an empty part contiguous (HDF5 cannot chunk an empty axis)."""
    return {"chunks": (min(length, _CSR_CHUNK),), "fletcher32": True, **filter_kwargs} if length else {}


def _csr_of(group, path, split, start=None, stop=None):
    """Rows ``start:stop`` (default all) of a CSR ``/SPLIT/X`` group, checked."""
    from ..kernels.sparse import check_csr

    n_rows, n_features = (int(v) for v in group.attrs["shape"])
    start = 0 if start is None else int(start)
    stop = n_rows if stop is None else int(stop)
    indptr = group["indptr"][start:stop + 1] if stop > start else np.zeros(1, dtype=np.int64)
    first, last = int(indptr[0]), int(indptr[-1])
    data, indices = group["data"][first:last], group["indices"][first:last]
    try:
        return check_csr(sp.csr_matrix((data, indices, indptr - first), shape=(stop - start, n_features)))
    except (TypeError, ValueError) as exc:
        raise FileFormatError(f"dataset file {str(path)!r}: /{split}/X rows {start}..{stop - 1}: {exc}") from None


def _check_preprocessing(preprocessing, n_features):
    """``(mean, scale)`` as float64 arrays, checked; ``None`` without standardization."""
    if preprocessing is None:
        return None
    mean = np.asarray(preprocessing["mean"], dtype=np.float64)
    scale = np.asarray(preprocessing["scale"], dtype=np.float64)
    if mean.shape != (n_features,) or scale.shape != (n_features,):
        raise ValueError(f"preprocessing mean/scale must have shape ({n_features},)")
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(scale)) and np.all(scale > 0)):
        raise ValueError("preprocessing mean must be finite and scale finite and positive")
    return {"mean": mean, "scale": scale}


def _write_header(handle, *, attrs, n_features, classes, class_tag, preprocessing, config, image_shape,
                  feature_names, class_names):
    """Root attributes, /classes, /feature_names, /class_names (both writers share them)."""
    attrs = dict(attrs)
    root = handle.attrs
    root["format"] = DATASET_FORMAT
    root["format_version"] = DATASET_FORMAT_VERSION
    root["source"] = str(attrs.pop("source", "unknown"))
    seed = attrs.pop("seed", None)
    root["seed"] = -1 if seed is None else int(seed)
    root["n_features"] = int(n_features)
    root["n_classes"] = int(len(classes))
    root["classes_dtype"] = class_tag
    root["standardized"] = preprocessing is not None
    root["created"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    root["library_versions"] = _to_json(library_versions())
    root["meta"] = _to_json(attrs)
    root["config"] = _to_json(config if config is not None else {})
    if image_shape is not None:
        root["image_shape"] = np.asarray(image_shape, dtype=np.int64)
    handle.create_dataset("classes", data=classes)
    strings = h5py.string_dtype("utf-8")
    if feature_names is not None:
        handle.create_dataset("feature_names", data=np.array(feature_names, dtype=strings))
    if class_names is not None:
        handle.create_dataset("class_names", data=np.array(class_names, dtype=strings))


def _write_preprocessing(handle, preprocessing):
    if preprocessing is not None:
        group = handle.create_group("preprocessing")
        group.attrs["method"] = "standardize"
        group.create_dataset("mean", data=preprocessing["mean"])
        group.create_dataset("scale", data=preprocessing["scale"])


def _check_chunks_allocated(handle, path, what):
    """Every chunk of the row data is stored. HDF5 reads a chunk its index has lost as
    zeros (the fill value), and fletcher32 only checks chunks that are there."""
    for name in _ROW_DATA:
        if name not in handle:
            continue
        node = handle[name]
        if not isinstance(node, h5py.Dataset) or node.chunks is None or node.shape[0] == 0:
            continue
        expected = 1
        for size, chunk in zip(node.shape, node.chunks):
            expected *= -(-size // chunk)
        stored = node.id.get_num_chunks()
        if stored != expected:
            raise FileFormatError(f"{what} {str(path)!r} is damaged: /{name} has {stored} of its {expected} "
                                  "chunks (its chunk index is broken)")


def _read_dataset_header(handle, path):
    what = "dataset file"
    if int(handle.attrs["format_version"]) >= 2:  # version 1 files carry no checksum
        _check_digest(handle, path, what, _ROW_DATA)
    _check_chunks_allocated(handle, path, what)
    for name in ("source", "seed", "n_features", "n_classes", "classes_dtype"):
        if name not in handle.attrs:
            raise FileFormatError(f"{what} {str(path)!r} is missing the root attribute {name!r}")
    classes = _decode_labels(_require(handle, "classes", path, what)[()], _attr_str(handle.attrs["classes_dtype"]))
    n_features = int(handle.attrs["n_features"])
    n_classes = int(handle.attrs["n_classes"])
    if len(classes) != n_classes:
        raise FileFormatError(
            f"{what} {str(path)!r} lists {len(classes)} classes but its n_classes attribute says {n_classes}"
        )
    seed = int(handle.attrs["seed"])
    info = {
        "path": str(path),
        "format": DATASET_FORMAT,
        "format_version": int(handle.attrs["format_version"]),
        # The content checksum, verified above ("" for version 1 files, which have none).
        "sha256": _attr_str(handle.attrs.get(DIGEST_ATTR, "")),
        "source": _attr_str(handle.attrs["source"]),
        "seed": None if seed < 0 else seed,
        "n_features": n_features,
        "n_classes": n_classes,
        "classes": classes,
        "standardized": bool(handle.attrs.get("standardized", False)),
        "created": _attr_str(handle.attrs.get("created", "")),
        "library_versions": json.loads(_attr_str(handle.attrs.get("library_versions", "{}"))),
        "meta": json.loads(_attr_str(handle.attrs.get("meta", "{}"))),
        "config": json.loads(_attr_str(handle.attrs.get("config", "{}"))),
        "image_shape": tuple(int(v) for v in handle.attrs["image_shape"]) if "image_shape" in handle.attrs else None,
        "feature_names": None,
        "class_names": None,
        "preprocessing": None,
        "splits": {},
    }
    if "feature_names" in handle:
        info["feature_names"] = [_attr_str(v) for v in handle["feature_names"][()].tolist()]
    if "class_names" in handle:
        info["class_names"] = [_attr_str(v) for v in handle["class_names"][()].tolist()]
    if "preprocessing" in handle:
        group = handle["preprocessing"]
        info["preprocessing"] = {
            "method": _attr_str(group.attrs.get("method", "standardize")),
            "mean": np.asarray(_require(group, "mean", path, what)[()], dtype=np.float64),
            "scale": np.asarray(_require(group, "scale", path, what)[()], dtype=np.float64),
        }
        for key in ("mean", "scale"):
            if info["preprocessing"][key].shape != (n_features,):
                raise FileFormatError(
                    f"{what} {str(path)!r}: /preprocessing/{key} has shape "
                    f"{info['preprocessing'][key].shape}, expected ({n_features},)"
                )
    sparse = _attr_str(handle.attrs.get("X_layout", "dense")) == "csr"
    info["layout"] = "csr" if sparse else "dense"
    for name in SPLITS:
        group = _require(handle, name, path, what)
        X = _require(group, "X", path, what)
        y = _require(group, "y", path, what)
        if sparse:
            info["splits"][name] = _csr_header(X, y, group, path, name, n_features)
            continue
        if not isinstance(X, h5py.Dataset) or not isinstance(y, h5py.Dataset):
            raise FileFormatError(f"{what} {str(path)!r}: /{name}/X and /{name}/y must be datasets")
        if len(X.shape) != 2 or X.shape[1] != n_features:
            raise FileFormatError(
                f"{what} {str(path)!r}: /{name}/X has shape {X.shape}, expected (n, {n_features})"
            )
        if X.dtype not in (np.float32, np.float64):
            raise FileFormatError(f"{what} {str(path)!r}: /{name}/X has dtype {X.dtype}, expected float32/float64")
        if y.shape != (X.shape[0],):
            raise FileFormatError(
                f"{what} {str(path)!r}: /{name}/y has shape {y.shape}, expected ({X.shape[0]},) to match X"
            )
        if y.dtype.kind not in "iu":
            raise FileFormatError(f"{what} {str(path)!r}: /{name}/y has dtype {y.dtype}, expected int64")
        info["splits"][name] = {
            "n_samples": int(X.shape[0]),
            "dtype": str(X.dtype),
            "chunks": X.chunks,
            "compression": X.compression,
            "class_counts": [int(v) for v in group.attrs["class_counts"]] if "class_counts" in group.attrs else None,
        }
    return info


def _csr_header(X, y, group, path, name, n_features):
    """The split entry of :func:`dataset_info` for a CSR ``/SPLIT/X`` group, its layout checked."""
    what = f"dataset file {str(path)!r}: /{name}/X"
    if not isinstance(X, h5py.Group) or _attr_str(X.attrs.get("layout", "")) != "csr" or "shape" not in X.attrs:
        raise FileFormatError(f"{what} must be a CSR group (layout 'csr', shape, data, indices, indptr)")
    for part in _CSR_PARTS:
        if part not in X or not isinstance(X[part], h5py.Dataset) or len(X[part].shape) != 1:
            raise FileFormatError(f"{what}/{part} is missing or not a 1-D dataset")
    n_rows, columns = (int(v) for v in X.attrs["shape"])
    if columns != n_features:
        raise FileFormatError(f"{what} has {columns} columns, expected {n_features}")
    if X["indptr"].shape != (n_rows + 1,) or X["data"].shape != X["indices"].shape:
        raise FileFormatError(f"{what}: indptr must have {n_rows + 1} entries and data as many as indices")
    nnz = int(X["indptr"][-1]) if n_rows else 0
    if nnz != X["data"].shape[0]:
        raise FileFormatError(f"{what}: indptr ends at {nnz} but data holds {X['data'].shape[0]} values")
    if X["data"].dtype not in (np.float32, np.float64):
        raise FileFormatError(f"{what}/data has dtype {X['data'].dtype}, expected float32/float64")
    if not isinstance(y, h5py.Dataset) or y.shape != (n_rows,) or y.dtype.kind not in "iu":
        raise FileFormatError(f"dataset file {str(path)!r}: /{name}/y must be {n_rows} integer class indices")
    return {
        "n_samples": n_rows,
        "dtype": str(X["data"].dtype),
        "chunks": X["data"].chunks,
        "compression": X["data"].compression,
        "class_counts": [int(v) for v in group.attrs["class_counts"]] if "class_counts" in group.attrs else None,
        "nnz": nnz,
        "density": nnz / (n_rows * n_features) if n_rows and n_features else 0.0,
    }


def dataset_info(path):
    """Read and check the header of a dataset file, without loading X.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    dict
        ``sha256`` (the verified content checksum), ``layout`` ('dense' or 'csr'),
        ``source``, ``seed``, ``n_features``, ``n_classes``, ``classes`` (ndarray,
        the stored label dtype), ``standardized``, ``preprocessing`` (``None`` or
        ``{"method", "mean", "scale"}``), ``image_shape``, ``feature_names``,
        ``class_names``, ``config``, ``meta``, ``library_versions``, and ``splits``:
        ``{name: {"n_samples", "dtype", "chunks", "compression", "class_counts"}}``.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    FileFormatError
        ``path`` is not a readable softmax_nb dataset file of a known version.
    """
    with _open_h5(path, "dataset file", DATASET_FORMAT, READABLE_DATASET_VERSIONS) as handle:
        return _read_dataset_header(handle, Path(path))


def read_dataset(path, split, *, mmap_ok=False):
    """Read one split of a dataset file.

    Parameters
    ----------
    path : str or os.PathLike
    split : {"train", "val", "test"}
    mmap_ok : bool, default False
        When true and X is stored contiguously without filters (``chunk_rows=0``
        at write time), return a read-only ``numpy.memmap`` instead of a copy in
        memory.  Chunked X is always read into memory.

    Returns
    -------
    X : ndarray or scipy.sparse.csr_matrix, shape (n_samples, n_features)
        In the stored dtype (float32 or float64).
    y : ndarray of int64, shape (n_samples,)
        Class indices into ``info["classes"]``.
    info : dict
        As :func:`dataset_info`.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    path = Path(path)
    with _open_h5(path, "dataset file", DATASET_FORMAT, READABLE_DATASET_VERSIONS) as handle:
        info = _read_dataset_header(handle, path)
        X_node = handle[split]["X"]
        if info["layout"] == "csr":
            X = _csr_of(X_node, path, split)
            y = handle[split]["y"][()].astype(np.int64, copy=False)
            _check_labels(y, info["n_classes"], path, split)
            return X, y, info
        X = None
        if mmap_ok and X_node.chunks is None and X_node.compression is None and X_node.shape[0] > 0:
            offset = X_node.id.get_offset()
            if offset is not None:
                X = np.memmap(path, mode="r", dtype=X_node.dtype, offset=offset, shape=X_node.shape, order="C")
        if X is None:
            X = X_node[()]
        y = handle[split]["y"][()].astype(np.int64, copy=False)
    _check_labels(y, info["n_classes"], path, split)
    return X, y, info


def _check_labels(y, n_classes, path, split):
    if y.size and (y.min() < 0 or y.max() >= n_classes):
        raise FileFormatError(f"dataset file {str(path)!r}: /{split}/y holds class indices outside 0..{n_classes - 1}")


def read_rows(path, split, start, stop):
    """Rows ``start:stop`` of one split of a dataset file: ``(X, y)`` as :func:`read_dataset`.

    For a reader that holds only its share of the rows (an MPI rank, a streamed piece):
    the same checks of the labels, and a damaged chunk named by its rows.
    """
    path = Path(path)
    with _open_h5(path, "dataset file", DATASET_FORMAT, READABLE_DATASET_VERSIONS) as handle:
        n_classes = int(handle.attrs["n_classes"])
        try:
            node = handle[split]["X"]
            X = _csr_of(node, path, split, start, stop) if isinstance(node, h5py.Group) else node[start:stop]
            y = handle[split]["y"][start:stop].astype(np.int64, copy=False)
        except (OSError, RuntimeError) as exc:
            raise FileFormatError(
                f"dataset file {str(path)!r}: cannot read /{split} rows {start}..{stop - 1} ({_short(exc)}); "
                "the file is corrupted or truncated: prepare it again or restore a good copy") from exc
    if y.size and (y.min() < 0 or y.max() >= n_classes):
        raise FileFormatError(f"dataset file {str(path)!r}: /{split}/y rows {start}..{stop - 1} hold class "
                              f"indices outside 0..{n_classes - 1}")
    return X, y


class DatasetWriter:
    """Write a dataset file one block of rows at a time, never holding X whole.

    The file has exactly the layout of :func:`write_dataset` (docs/FORMATS.md): X
    chunked by rows with fletcher32 checksums (empty splits contiguous), y int64,
    per-split ``n_samples`` and ``class_counts``.  With ``layout="csr"`` it is
    :func:`write_dataset`'s sparse file (format version 3) instead: appended blocks
    are ``scipy.sparse`` matrices, each ``/SPLIT/X`` a CSR group whose ``data`` and
    ``indices`` grow as blocks arrive (their length, the nnz, is not known up front;
    they are buffered up to one 2^18-element chunk, so the chunk shapes are
    :func:`write_dataset`'s too).  The row count of every split is
    declared up front and :meth:`append` fills the splits in order; leaving the
    ``with`` block checks that every declared row was written, then renames the
    temporary file over ``path`` (atomically, as :func:`atomic_write`).  An
    exception inside the block leaves no file behind.

    Parameters
    ----------
    path : str or os.PathLike
        Target ``.h5`` file.
    classes : array-like
        Class labels in index order.
    n_features : int
    split_rows : dict
        ``{"train": n, "val": n, "test": n}``, the rows each split will receive.
    dtype : {"float32", "float64"}
        Stored dtype of X; appended blocks are cast to it.
    attrs, preprocessing, feature_names, image_shape, class_names, config
        As :func:`write_dataset`.
    chunk_rows : int, optional
        Rows per HDF5 chunk (default about 1 MiB per chunk); must be positive:
        block-wise writing is for chunked files.  Not used by ``layout="csr"``
        (CSR parts are chunked by elements, as :func:`write_dataset` chunks them).
    compression : {None, "lzf", "gzip"}
    compression_level : int, optional
    layout : {"dense", "csr"}
        ``"csr"`` writes sparse X (format version 3); the disk-space check then
        counts y and indptr only (the nnz is not known up front).

    Examples
    --------
    >>> with DatasetWriter("big.h5", [0, 1], 784, {"train": n, "val": 0, "test": 0}) as w:  # doctest: +SKIP
    ...     for X_block, y_block in blocks:
    ...         w.append("train", X_block, y_block)
    """

    def __init__(self, path, classes, n_features, split_rows, *, dtype="float32", attrs=None,
                 preprocessing=None, feature_names=None, image_shape=None, class_names=None,
                 config=None, chunk_rows=None, compression=None, compression_level=None, layout="dense"):
        if layout not in ("dense", "csr"):
            raise ValueError(f"layout must be 'dense' or 'csr', got {layout!r}")
        self.layout = layout
        if compression not in _COMPRESSIONS:
            raise ValueError(f"compression must be one of {_COMPRESSIONS}, got {compression!r}")
        if chunk_rows is not None and (isinstance(chunk_rows, bool)
                                       or not isinstance(chunk_rows, (int, np.integer)) or chunk_rows < 1):
            raise ValueError(
                f"chunk_rows must be a positive integer or None for block-wise writing, got {chunk_rows!r}")
        if str(dtype) not in ("float32", "float64"):
            raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
        if isinstance(n_features, bool) or not isinstance(n_features, (int, np.integer)) or n_features < 1:
            raise ValueError(f"n_features must be a positive integer, got {n_features!r}")
        if sorted(split_rows) != sorted(SPLITS):
            raise ValueError(f"split_rows must name exactly the splits {SPLITS}, got {sorted(split_rows)}")
        for name, rows in split_rows.items():
            if isinstance(rows, bool) or not isinstance(rows, (int, np.integer)) or rows < 0:
                raise ValueError(f"split_rows[{name!r}] must be a non-negative integer, got {rows!r}")
        if split_rows["train"] == 0:
            raise ValueError("split_rows['train'] is 0: the training split needs rows")
        self.path = Path(path)
        self.classes, self._class_tag = _encode_labels(classes, "classes")
        self.n_classes = len(self.classes)
        if self.n_classes < 1:
            raise ValueError("a dataset needs at least one class")
        self.n_features = int(n_features)
        self.dtype = np.dtype(dtype)
        self.split_rows = {name: int(split_rows[name]) for name in SPLITS}
        self.attrs = dict(attrs or {})
        self.preprocessing = _check_preprocessing(preprocessing, int(n_features))
        self.feature_names = None if feature_names is None else [str(v) for v in feature_names]
        self.image_shape = None if image_shape is None else tuple(int(v) for v in image_shape)
        self.class_names = None if class_names is None else [str(v) for v in class_names]
        self.config = config
        if self.feature_names is not None and len(self.feature_names) != self.n_features:
            raise ValueError(f"{len(self.feature_names)} feature names for {self.n_features} features")
        if self.image_shape is not None and int(np.prod(self.image_shape)) != self.n_features:
            raise ValueError(f"image_shape {self.image_shape} does not match {self.n_features} features")
        if self.class_names is not None and len(self.class_names) != self.n_classes:
            raise ValueError(f"{len(self.class_names)} class names for {self.n_classes} classes")
        if chunk_rows is None:
            chunk_rows = max(1, _DEFAULT_CHUNK_BYTES // (self.n_features * self.dtype.itemsize))
        self.chunk_rows = int(chunk_rows)
        self._filters = {}
        if compression is not None:
            self._filters["compression"] = compression
            if compression == "gzip" and compression_level is not None:
                self._filters["compression_opts"] = int(compression_level)
        self._written = dict.fromkeys(SPLITS, 0)
        self._counts = {name: np.zeros(self.n_classes, dtype=np.int64) for name in SPLITS}
        # layout "csr": values written per split, and data/indices blocks not yet in the file.
        self._nnz = dict.fromkeys(SPLITS, 0)
        self._pending = {name: [] for name in SPLITS}
        self._stack = None
        self._handle = None

    def __enter__(self):
        self._stack = contextlib.ExitStack()
        try:
            rows = sum(self.split_rows.values())
            expected = rows * (16 if self.layout == "csr" else self.n_features * self.dtype.itemsize + 8)
            tmp = self._stack.enter_context(
                atomic_write(self.path, expected_bytes=expected // (4 if self._filters else 1)))
            # Closed before atomic_write syncs and renames (ExitStack unwinds in reverse).
            self._handle = self._stack.enter_context(h5py.File(tmp, "w", libver=H5_LIBVER))
            self._write_header()
        except BaseException:
            self._stack.__exit__(*sys.exc_info())
            raise
        return self

    def _write_header(self):
        handle = self._handle
        _write_header(handle, attrs=self.attrs, n_features=self.n_features, classes=self.classes,
                      class_tag=self._class_tag, preprocessing=self.preprocessing, config=self.config,
                      image_shape=self.image_shape, feature_names=self.feature_names,
                      class_names=self.class_names)
        if self.layout == "csr":
            handle.attrs["format_version"] = SPARSE_DATASET_FORMAT_VERSION
            handle.attrs["X_layout"] = "csr"
        for name in SPLITS:
            rows = self.split_rows[name]
            group = handle.create_group(name)
            if self.layout == "csr":
                indptr = _csr_group(group, (rows, self.n_features)).create_dataset(
                    "indptr", shape=(rows + 1,), dtype=np.int64, **_csr_storage(rows + 1, self._filters))
                indptr[0] = 0
                group.create_dataset("y", shape=(rows,), dtype=np.int64, **_csr_storage(rows, self._filters))
                continue
            if rows == 0:
                x_kwargs, y_kwargs = {}, {}
            else:
                chunk = min(self.chunk_rows, rows)
                x_kwargs = {"chunks": (chunk, self.n_features), "fletcher32": True, **self._filters}
                y_kwargs = {"chunks": (chunk,), "fletcher32": True, **self._filters}
            group.create_dataset("X", shape=(rows, self.n_features), dtype=self.dtype, **x_kwargs)
            group.create_dataset("y", shape=(rows,), dtype=np.int64, **y_kwargs)
        _write_preprocessing(handle, self.preprocessing)

    def append(self, split, X, y):
        """Write the next rows of ``split``.

        Parameters
        ----------
        split : {"train", "val", "test"}
        X : array-like of shape (n_rows, n_features)
            Real numbers; cast to the file's dtype.
        y : array-like of shape (n_rows,)
            Class indices ``0..n_classes-1``.
        """
        if self._handle is None:
            raise RuntimeError("DatasetWriter.append must be called inside its 'with' block")
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        if self.layout == "csr":
            if not sp.issparse(X) or X.dtype.kind not in "biuf":
                raise ValueError(f"split {split!r}: layout 'csr' appends scipy.sparse blocks of real numbers, "
                                 f"got {type(X).__name__}")
            X = _check_sparse_split(split, X.astype(self.dtype))
        else:
            X = np.asarray(X)
        y = np.asarray(y)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise ValueError(f"split {split!r}: X block must have shape (n, {self.n_features}), got {X.shape}")
        if X.dtype.kind not in "biuf":
            raise ValueError(f"split {split!r}: X block must hold real numbers, got dtype {X.dtype}")
        if y.shape != (X.shape[0],):
            raise ValueError(f"split {split!r}: y block must have shape ({X.shape[0]},), got {y.shape}")
        if y.size and (y.dtype.kind not in "iu" or y.min() < 0 or y.max() >= self.n_classes):
            raise ValueError(f"split {split!r}: y must hold class indices in 0..{self.n_classes - 1}")
        start = self._written[split]
        stop = start + X.shape[0]
        if stop > self.split_rows[split]:
            raise ValueError(
                f"split {split!r}: appending {X.shape[0]} rows after {start} exceeds the declared "
                f"{self.split_rows[split]} rows"
            )
        if X.shape[0] == 0:
            return
        group = self._handle[split]
        if self.layout == "csr":
            group["X/indptr"][start + 1:stop + 1] = X.indptr[1:].astype(np.int64) + self._nnz[split]
            self._nnz[split] += X.nnz
            self._pending[split].append((X.data, X.indices.astype(_csr_index_dtype(self.n_features))))
            self._flush_csr(split, final=False)
        else:
            group["X"][start:stop] = np.ascontiguousarray(X, dtype=self.dtype)
        group["y"][start:stop] = y.astype(np.int64, copy=False)
        self._counts[split] += np.bincount(y, minlength=self.n_classes).astype(np.int64)
        self._written[split] = stop

    def _flush_csr(self, split, final):
        """Move the pending data/indices of ``split`` into the file once they fill a chunk
        (the parts are then created resizable, in chunks of 2^18), or at the end (parts
        of less than a chunk are then created whole, as :func:`write_dataset` does)."""
        pending = self._pending[split]
        size = sum(len(data) for data, _ in pending)
        x_group = self._handle[split]["X"]
        if size < _CSR_CHUNK and not final:
            return
        dtypes = {"data": self.dtype, "indices": _csr_index_dtype(self.n_features)}
        for column, part in enumerate(("data", "indices")):
            values = np.concatenate([block[column] for block in pending] or [np.zeros(0, dtypes[part])])
            if part not in x_group:
                if size < _CSR_CHUNK:  # final: the whole part, in one chunk (or contiguous when empty)
                    x_group.create_dataset(part, data=values, **_csr_storage(size, self._filters))
                    continue
                x_group.create_dataset(part, shape=(0,), maxshape=(None,), dtype=dtypes[part],
                                       **_csr_storage(_CSR_CHUNK, self._filters))
            if size:
                node = x_group[part]
                node.resize((node.shape[0] + size,))
                node[node.shape[0] - size:] = values
        self._pending[split] = []

    @property
    def rows_written(self):
        """Rows appended so far, per split."""
        return dict(self._written)

    def __exit__(self, exc_type, exc, tb):
        try:
            if exc_type is None:
                short = {n: (self._written[n], self.split_rows[n]) for n in SPLITS
                         if self._written[n] != self.split_rows[n]}
                if short:
                    detail = ", ".join(f"{n} {w} of {r}" for n, (w, r) in short.items())
                    raise ValueError(f"{str(self.path)!r}: not every declared row was written ({detail})")
                for name in SPLITS:
                    if self.layout == "csr":
                        self._flush_csr(name, final=True)
                    group = self._handle[name]
                    group.attrs["n_samples"] = self.split_rows[name]
                    group.attrs["class_counts"] = self._counts[name]
                self._handle.attrs[DIGEST_ATTR] = content_digest(self._handle, _ROW_DATA)
        except BaseException:
            self._handle = None
            self._stack.__exit__(*sys.exc_info())
            raise
        self._handle = None
        return self._stack.__exit__(exc_type, exc, tb)

