"""HDF5 dataset and model files, and atomic writes.

Both file formats are documented, group by group and attribute by attribute, in
``docs/FORMATS.md``; this module is their only reader and writer.  Neither format
uses pickle: every value is an array or a JSON string, so a file written here can be
read by any HDF5 tool.

Every write goes through :func:`atomic_write`: the content is written to a temporary
file in the target's folder, flushed to disk, then renamed over the target, so an
interrupted job leaves either the old file or the new one, never half a file.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import platform
import re
import secrets
import sys
from pathlib import Path

import numpy as np

import h5py

__all__ = [
    "DATASET_FORMAT",
    "DATASET_FORMAT_VERSION",
    "MODEL_FORMAT",
    "MODEL_FORMAT_VERSION",
    "SPLITS",
    "FileFormatError",
    "atomic_write",
    "write_dataset",
    "DatasetWriter",
    "read_dataset",
    "dataset_info",
    "save_model",
    "load_model",
    "model_info",
    "file_info",
    "describe",
    "library_versions",
]

DATASET_FORMAT = "softmax_nb-dataset"
#: Version of the dataset layout.  Readers accept exactly the versions they know;
#: any change of layout or meaning bumps it (see docs/FORMATS.md, "Version policy").
DATASET_FORMAT_VERSION = 1
MODEL_FORMAT = "softmax_nb-model"
MODEL_FORMAT_VERSION = 1

SPLITS = ("train", "val", "test")

# Aim for chunks of about 1 MiB when the caller does not choose: large enough for
# sequential reads to run at disk speed, small enough for a streamed pass to keep
# only a few chunks in memory.
_DEFAULT_CHUNK_BYTES = 1 << 20

_COMPRESSIONS = (None, "lzf", "gzip")

_HISTORY_INT_KEYS = ("iteration",)


class FileFormatError(ValueError):
    """A file exists but is not a valid softmax_nb file of the expected kind.

    The message always names the file and what is wrong with it.
    """


# ---------------------------------------------------------------------------
# atomic writes
# ---------------------------------------------------------------------------


@contextlib.contextmanager
def atomic_write(path, mode=None, *, encoding="utf-8", newline=None):
    """Write a file atomically: a temporary file in the same folder, then a rename.

    Parameters
    ----------
    path : str or os.PathLike
        Final location of the file.  Its folder must exist.
    mode : {None, "w", "wb"}, optional
        ``None`` yields the temporary *path* (for writers that open files
        themselves, such as h5py); ``"w"`` or ``"wb"`` yields an open file object.
    encoding, newline : str, optional
        Passed to :func:`open` in text mode.

    Yields
    ------
    pathlib.Path or file object
        Where to write.

    Notes
    -----
    On normal exit the temporary file is flushed with ``fsync`` and renamed over
    ``path`` with :func:`os.replace` (atomic on POSIX within one file system), then
    the folder is synced so the rename itself survives a crash.  If the body raises,
    the temporary file is removed and an existing ``path`` is left untouched.
    """
    if mode not in (None, "w", "wb"):
        raise ValueError(f"atomic_write mode must be None, 'w' or 'wb', got {mode!r}")
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise FileNotFoundError(f"cannot write {str(target)!r}: folder {str(folder)!r} does not exist")
    # A hidden, unique name in the same folder: the rename stays on one file system,
    # and concurrent writers of the same target never share a temporary file.
    tmp = folder / f".{target.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}"
    # O_EXCL: never clobber someone else's file; 0o666 lets the umask decide the
    # permissions, as for a plainly created file (mkstemp would force 0o600).
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        if mode is None:
            os.close(fd)
            fd = None
            yield tmp
        else:
            kwargs = {"encoding": encoding, "newline": newline} if mode == "w" else {}
            with os.fdopen(fd, mode, **kwargs) as handle:
                fd = None
                yield handle
        _fsync_file(tmp)
        os.replace(tmp, target)
    except BaseException:
        if fd is not None:
            os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_folder(folder)


def _fsync_file(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_folder(folder):
    # Not every platform/file system lets a folder be opened or synced; the data
    # itself is already on disk, so this is best effort.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# ---------------------------------------------------------------------------
# shared helpers
# ---------------------------------------------------------------------------


def library_versions():
    """Versions recorded in every file written by this module.

    Returns
    -------
    dict
        ``softmax_nb``, ``numba``, ``numpy``, ``h5py``, ``python`` versions as strings
        (``"unknown"`` where a package cannot be found).
    """
    return {
        "softmax_nb": _softmax_nb_version(),
        "numba": _package_version("numba"),
        "numpy": np.__version__,
        "h5py": h5py.__version__,
        "python": platform.python_version(),
    }


def _softmax_nb_version():
    package = sys.modules.get("softmax_nb")
    version = getattr(package, "__version__", None)
    if version:
        return str(version)
    return _package_version("softmax_nb")


def _package_version(name):
    try:
        from importlib.metadata import PackageNotFoundError, version
    except ImportError:  # pragma: no cover - Python < 3.8
        return "unknown"
    try:
        return version(name)
    except PackageNotFoundError:
        return "unknown"


def _encode_labels(labels, what):
    """Labels as an array HDF5 can store, and a tag that restores the numpy dtype."""
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"{what} must be 1-D, got shape {labels.shape}")
    if labels.dtype.kind in "iub":
        return labels, labels.dtype.kind
    if labels.dtype.kind == "f":
        return labels.astype(np.float64, copy=False), "f"
    if labels.dtype.kind in "US" or labels.dtype == object:
        values = []
        for value in labels.tolist():
            if isinstance(value, bytes):
                value = value.decode("utf-8")
            if not isinstance(value, str):
                raise ValueError(
                    f"{what} must be all numbers or all strings; got {type(value).__name__} {value!r}"
                )
            values.append(value)
        tag = "O" if labels.dtype == object else "U"
        return np.array(values, dtype=h5py.string_dtype("utf-8")), tag
    raise ValueError(f"{what} have unsupported dtype {labels.dtype}")


def _decode_labels(values, tag):
    values = np.asarray(values)
    if tag in ("U", "O"):
        strings = [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in values.tolist()]
        if tag == "O":
            out = np.empty(len(strings), dtype=object)
            out[:] = strings
            return out
        return np.array(strings, dtype=str)
    if tag == "b":
        return values.astype(bool)
    return values


def _json_default(value):
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"value of type {type(value).__name__} is not JSON serialisable: {value!r}")


def _to_json(value):
    return json.dumps(value, default=_json_default, sort_keys=True)


def _attr_str(value):
    if isinstance(value, bytes):
        return value.decode("utf-8")
    return str(value)


def _check_exists(path, what):
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{what} {str(path)!r} does not exist")
    if path.is_dir():
        raise IsADirectoryError(f"{what} {str(path)!r} is a folder, not a file")
    return path


@contextlib.contextmanager
def _open_h5(path, what, expected_format):
    """Open an HDF5 file read-only and check its format name and version.

    h5py's own errors (truncated file, bad signature, unreadable object) are turned
    into :class:`FileFormatError` naming the file, including those raised while the
    body reads from it.
    """
    path = _check_exists(path, what)
    try:
        handle = h5py.File(path, "r")
    except OSError as exc:
        raise FileFormatError(_h5_open_message(path, what, exc)) from exc
    try:
        with handle:
            _check_format(handle, path, what, expected_format)
            try:
                yield handle
            except (OSError, RuntimeError, KeyError) as exc:
                raise FileFormatError(
                    f"{what} {str(path)!r} is corrupted or incomplete: {_short(exc)}"
                ) from exc
    except OSError as exc:  # raised while closing a damaged file
        raise FileFormatError(f"{what} {str(path)!r} is corrupted or incomplete: {_short(exc)}") from exc


def _short(exc):
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def _h5_open_message(path, what, exc):
    text = str(exc)
    if "truncated" in text:
        sizes = re.search(r"eof = (\d+).*stored_eof = (\d+)", text)
        detail = f": it holds {sizes[1]} bytes, its header says {sizes[2]}" if sizes else ""
        return f"{what} {str(path)!r} is truncated{detail} (an interrupted copy or write?)"
    if "signature" in text or "not an hdf5" in text.lower():
        return f"{what} {str(path)!r} is not an HDF5 file"
    return f"cannot open {what} {str(path)!r} as HDF5: {_short(exc)}"


def _check_format(handle, path, what, expected_format):
    attrs = handle.attrs
    if "format" not in attrs:
        raise FileFormatError(
            f"{what} {str(path)!r} is an HDF5 file but not a softmax_nb file "
            f"(no 'format' attribute; expected {expected_format!r})"
        )
    found = _attr_str(attrs["format"])
    if found != expected_format:
        raise FileFormatError(
            f"{what} {str(path)!r} has format {found!r}, expected {expected_format!r}"
        )
    known = DATASET_FORMAT_VERSION if expected_format == DATASET_FORMAT else MODEL_FORMAT_VERSION
    if "format_version" not in attrs:
        raise FileFormatError(f"{what} {str(path)!r} has no 'format_version' attribute")
    try:
        version = int(attrs["format_version"])
    except (TypeError, ValueError) as exc:
        raise FileFormatError(
            f"{what} {str(path)!r} has an unreadable format_version {attrs['format_version']!r}"
        ) from exc
    if version != known:
        newer = " (written by a newer softmax_nb; upgrade to read it)" if version > known else ""
        raise FileFormatError(
            f"{what} {str(path)!r} has format version {version}; this softmax_nb reads version {known}{newer}"
        )


def _require(handle, name, path, what):
    if name not in handle:
        raise FileFormatError(f"{what} {str(path)!r} is missing {'/' + name.lstrip('/')!r}")
    return handle[name]


def _detect_format(path):
    """The ``format`` attribute of an HDF5 file, or raise a clear error."""
    path = _check_exists(path, "file")
    try:
        with h5py.File(path, "r") as handle:
            if "format" not in handle.attrs:
                raise FileFormatError(
                    f"file {str(path)!r} is an HDF5 file but not a softmax_nb file (no 'format' attribute)"
                )
            return _attr_str(handle.attrs["format"])
    except OSError as exc:
        raise FileFormatError(_h5_open_message(path, "file", exc)) from exc


# ---------------------------------------------------------------------------
# dataset files
# ---------------------------------------------------------------------------


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
    for name in SPLITS:
        X, y = splits[name]
        X = np.asarray(X)
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
    if preprocessing is not None:
        mean = np.asarray(preprocessing["mean"], dtype=np.float64)
        scale = np.asarray(preprocessing["scale"], dtype=np.float64)
        if mean.shape != (n_features,) or scale.shape != (n_features,):
            raise ValueError(f"preprocessing mean/scale must have shape ({n_features},)")
        if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(scale)) and np.all(scale > 0)):
            raise ValueError("preprocessing mean must be finite and scale finite and positive")

    itemsize = next(iter(dtypes)).itemsize
    if chunk_rows is None:
        chunk_rows = max(1, _DEFAULT_CHUNK_BYTES // max(1, n_features * itemsize))
    filter_kwargs = {}
    if compression is not None:
        filter_kwargs["compression"] = compression
        if compression == "gzip" and compression_level is not None:
            filter_kwargs["compression_opts"] = int(compression_level)

    versions = library_versions()
    with atomic_write(path) as tmp:
        with h5py.File(tmp, "w") as handle:
            root = handle.attrs
            root["format"] = DATASET_FORMAT
            root["format_version"] = DATASET_FORMAT_VERSION
            root["source"] = str(attrs.pop("source", "unknown"))
            seed = attrs.pop("seed", None)
            root["seed"] = -1 if seed is None else int(seed)
            root["n_features"] = int(n_features)
            root["n_classes"] = int(n_classes)
            root["classes_dtype"] = class_tag
            root["standardized"] = preprocessing is not None
            root["created"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
            root["library_versions"] = _to_json(versions)
            root["meta"] = _to_json(attrs)
            root["config"] = _to_json(config if config is not None else {})
            if image_shape is not None:
                root["image_shape"] = np.asarray(image_shape, dtype=np.int64)
            handle.create_dataset("classes", data=class_values)
            if feature_names is not None:
                handle.create_dataset(
                    "feature_names", data=np.array(feature_names, dtype=h5py.string_dtype("utf-8"))
                )
            if class_names is not None:
                handle.create_dataset(
                    "class_names", data=np.array(class_names, dtype=h5py.string_dtype("utf-8"))
                )
            for name in SPLITS:
                X, y = checked[name]
                group = handle.create_group(name)
                n_rows = X.shape[0]
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
            if preprocessing is not None:
                group = handle.create_group("preprocessing")
                group.attrs["method"] = "standardize"
                group.create_dataset("mean", data=mean)
                group.create_dataset("scale", data=scale)
    return Path(path)


def _read_dataset_header(handle, path):
    what = "dataset file"
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
    for name in SPLITS:
        group = _require(handle, name, path, what)
        X = _require(group, "X", path, what)
        y = _require(group, "y", path, what)
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


def dataset_info(path):
    """Read and check the header of a dataset file, without loading X.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    dict
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
    with _open_h5(path, "dataset file", DATASET_FORMAT) as handle:
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
    X : ndarray, shape (n_samples, n_features)
        In the stored dtype (float32 or float64).
    y : ndarray of int64, shape (n_samples,)
        Class indices into ``info["classes"]``.
    info : dict
        As :func:`dataset_info`.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    path = Path(path)
    with _open_h5(path, "dataset file", DATASET_FORMAT) as handle:
        info = _read_dataset_header(handle, path)
        X_node = handle[split]["X"]
        X = None
        if mmap_ok and X_node.chunks is None and X_node.compression is None and X_node.shape[0] > 0:
            offset = X_node.id.get_offset()
            if offset is not None:
                X = np.memmap(path, mode="r", dtype=X_node.dtype, offset=offset, shape=X_node.shape, order="C")
        if X is None:
            X = X_node[()]
        y = handle[split]["y"][()].astype(np.int64, copy=False)
    if y.size and (y.min() < 0 or y.max() >= info["n_classes"]):
        raise FileFormatError(
            f"dataset file {str(path)!r}: /{split}/y holds class indices outside 0..{info['n_classes'] - 1}"
        )
    return X, y, info


# ---------------------------------------------------------------------------
# dataset files written in row blocks (out-of-core conversion, docs/OUT_OF_CORE.md)
# ---------------------------------------------------------------------------


class DatasetWriter:
    """Write a dataset file one block of rows at a time, never holding X whole.

    The file has exactly the layout of :func:`write_dataset` (docs/FORMATS.md): X
    chunked by rows with fletcher32 checksums (empty splits contiguous), y int64,
    per-split ``n_samples`` and ``class_counts``.  The row count of every split is
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
        block-wise writing is for chunked files.
    compression : {None, "lzf", "gzip"}
    compression_level : int, optional

    Examples
    --------
    >>> with DatasetWriter("big.h5", [0, 1], 784, {"train": n, "val": 0, "test": 0}) as w:  # doctest: +SKIP
    ...     for X_block, y_block in blocks:
    ...         w.append("train", X_block, y_block)
    """

    def __init__(self, path, classes, n_features, split_rows, *, dtype="float32", attrs=None,
                 preprocessing=None, feature_names=None, image_shape=None, class_names=None,
                 config=None, chunk_rows=None, compression=None, compression_level=None):
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
        self.preprocessing = preprocessing
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
        self._stack = None
        self._handle = None

    def __enter__(self):
        self._stack = contextlib.ExitStack()
        try:
            tmp = self._stack.enter_context(atomic_write(self.path))
            # Closed before atomic_write syncs and renames (ExitStack unwinds in reverse).
            self._handle = self._stack.enter_context(h5py.File(tmp, "w"))
            self._write_header()
        except BaseException:
            self._stack.__exit__(*sys.exc_info())
            raise
        return self

    def _write_header(self):
        handle, root, attrs = self._handle, self._handle.attrs, dict(self.attrs)
        root["format"] = DATASET_FORMAT
        root["format_version"] = DATASET_FORMAT_VERSION
        root["source"] = str(attrs.pop("source", "unknown"))
        seed = attrs.pop("seed", None)
        root["seed"] = -1 if seed is None else int(seed)
        root["n_features"] = self.n_features
        root["n_classes"] = self.n_classes
        root["classes_dtype"] = self._class_tag
        root["standardized"] = self.preprocessing is not None
        root["created"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        root["library_versions"] = _to_json(library_versions())
        root["meta"] = _to_json(attrs)
        root["config"] = _to_json(self.config if self.config is not None else {})
        if self.image_shape is not None:
            root["image_shape"] = np.asarray(self.image_shape, dtype=np.int64)
        handle.create_dataset("classes", data=self.classes)
        strings = h5py.string_dtype("utf-8")
        if self.feature_names is not None:
            handle.create_dataset("feature_names", data=np.array(self.feature_names, dtype=strings))
        if self.class_names is not None:
            handle.create_dataset("class_names", data=np.array(self.class_names, dtype=strings))
        for name in SPLITS:
            rows = self.split_rows[name]
            group = handle.create_group(name)
            if rows == 0:
                x_kwargs, y_kwargs = {}, {}
            else:
                chunk = min(self.chunk_rows, rows)
                x_kwargs = {"chunks": (chunk, self.n_features), "fletcher32": True, **self._filters}
                y_kwargs = {"chunks": (chunk,), "fletcher32": True, **self._filters}
            group.create_dataset("X", shape=(rows, self.n_features), dtype=self.dtype, **x_kwargs)
            group.create_dataset("y", shape=(rows,), dtype=np.int64, **y_kwargs)
        if self.preprocessing is not None:
            mean = np.asarray(self.preprocessing["mean"], dtype=np.float64)
            scale = np.asarray(self.preprocessing["scale"], dtype=np.float64)
            if mean.shape != (self.n_features,) or scale.shape != (self.n_features,):
                raise ValueError(f"preprocessing mean/scale must have shape ({self.n_features},)")
            if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(scale)) and np.all(scale > 0)):
                raise ValueError("preprocessing mean must be finite and scale finite and positive")
            group = handle.create_group("preprocessing")
            group.attrs["method"] = "standardize"
            group.create_dataset("mean", data=mean)
            group.create_dataset("scale", data=scale)

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
        group["X"][start:stop] = np.ascontiguousarray(X, dtype=self.dtype)
        group["y"][start:stop] = y.astype(np.int64, copy=False)
        self._counts[split] += np.bincount(y, minlength=self.n_classes).astype(np.int64)
        self._written[split] = stop

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
                    group = self._handle[name]
                    group.attrs["n_samples"] = self.split_rows[name]
                    group.attrs["class_counts"] = self._counts[name]
        except BaseException:
            self._handle = None
            self._stack.__exit__(*sys.exc_info())
            raise
        self._handle = None
        return self._stack.__exit__(exc_type, exc, tb)


# ---------------------------------------------------------------------------
# model files
# ---------------------------------------------------------------------------

# get_params values that JSON cannot hold as-is are tagged so they load back exactly.
_DICT_TAG = "__dict_items__"


def _encode_param(value):
    if isinstance(value, dict):
        # JSON object keys are strings only; class_weight keys are class labels of
        # any type, so keep (key, value) pairs.
        return {_DICT_TAG: [[_encode_param(k), _encode_param(v)] for k, v in value.items()]}
    if isinstance(value, (list, tuple)):
        return [_encode_param(v) for v in value]
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    if isinstance(value, np.dtype):
        return value.name
    if isinstance(value, type) and issubclass(value, np.generic):
        return np.dtype(value).name
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(type(value).__name__)


def _decode_param(value):
    if isinstance(value, dict) and _DICT_TAG in value:
        return {_decode_param_key(k): _decode_param(v) for k, v in value[_DICT_TAG]}
    if isinstance(value, list):
        return [_decode_param(v) for v in value]
    return value


def _decode_param_key(key):
    return tuple(key) if isinstance(key, list) else key


def _encode_params(params):
    """Hyperparameters as JSON, plus the names of those that could not be stored."""
    encoded, dropped = {}, {}
    for name, value in params.items():
        try:
            encoded[name] = _encode_param(value)
        except TypeError:
            # e.g. a numpy RandomState as random_state: not a hyperparameter value a
            # file can hold; the loaded model gets None and the file says so.
            encoded[name] = None
            dropped[name] = repr(value)
    return encoded, dropped


def save_model(path, clf, *, preprocessing=None, extra=None, config_hash=None):
    """Write a fitted :class:`~softmax_nb.SoftmaxClassifier` to an HDF5 model file.

    Parameters
    ----------
    path : str or os.PathLike
        Target ``.h5`` file, written atomically.
    clf : SoftmaxClassifier
        A fitted classifier.
    preprocessing : dict, optional
        ``{"mean", "scale"}`` of the standardization applied to the raw features
        before ``clf`` saw them (typically ``dataset_info(...)["preprocessing"]``),
        so that raw data can be predicted later.
    extra : dict, optional
        JSON-serialisable provenance (dataset path, CLI arguments...), stored in
        the ``extra`` attribute.
    config_hash : str, optional
        Hash of the configuration that produced the model (reproducibility).

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    for attr in ("coef_", "intercept_", "classes_", "n_features_in_"):
        if not hasattr(clf, attr):
            raise ValueError(f"cannot save an unfitted classifier (it has no {attr})")
    coef = np.asarray(clf.coef_, dtype=np.float64)
    intercept = np.asarray(clf.intercept_, dtype=np.float64)
    class_values, class_tag = _encode_labels(clf.classes_, "classes_")
    n_features = int(clf.n_features_in_)
    if coef.ndim != 2 or coef.shape[1] != n_features:
        raise ValueError(f"coef_ has shape {coef.shape}, expected (n_classes, {n_features})")
    if intercept.shape != (coef.shape[0],):
        raise ValueError(f"intercept_ has shape {intercept.shape}, expected ({coef.shape[0]},)")
    params, dropped = _encode_params(clf.get_params(deep=False))
    history = getattr(clf, "history_", None) or {}
    if preprocessing is not None:
        mean = np.asarray(preprocessing["mean"], dtype=np.float64)
        scale = np.asarray(preprocessing["scale"], dtype=np.float64)
        if mean.shape != (n_features,) or scale.shape != (n_features,):
            raise ValueError(f"preprocessing mean/scale must have shape ({n_features},)")
    feature_names = getattr(clf, "feature_names_in_", None)

    with atomic_write(path) as tmp:
        with h5py.File(tmp, "w") as handle:
            root = handle.attrs
            root["format"] = MODEL_FORMAT
            root["format_version"] = MODEL_FORMAT_VERSION
            root["estimator"] = type(clf).__name__
            root["n_features_in"] = n_features
            root["n_classes"] = int(len(class_values))
            root["classes_dtype"] = class_tag
            root["n_iter"] = int(np.max(getattr(clf, "n_iter_", 0)))
            root["device_used"] = str(getattr(clf, "device_used_", "cpu"))
            root["fit_time"] = float(getattr(clf, "fit_time_", float("nan")))
            root["hyperparameters"] = json.dumps(params, sort_keys=True)
            if dropped:
                root["hyperparameters_not_stored"] = json.dumps(dropped, sort_keys=True)
            versions = library_versions()
            root["library_versions"] = _to_json(versions)
            root["library_version"] = versions["softmax_nb"]
            root["numba_version"] = versions["numba"]
            root["numpy_version"] = versions["numpy"]
            root["python_version"] = versions["python"]
            root["created"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
            if config_hash is not None:
                root["config_hash"] = str(config_hash)
            root["extra"] = _to_json(extra if extra is not None else {})
            # Checksummed (fletcher32 needs chunked storage): a flipped bit in the
            # parameters is reported at load time, not silently predicted with.
            handle.create_dataset("coef", data=coef, chunks=coef.shape if coef.size else None,
                                  fletcher32=bool(coef.size))
            handle.create_dataset("intercept", data=intercept, chunks=intercept.shape if intercept.size else None,
                                  fletcher32=bool(intercept.size))
            handle.create_dataset("classes", data=class_values)
            if feature_names is not None:
                handle.create_dataset(
                    "feature_names",
                    data=np.array([str(v) for v in feature_names], dtype=h5py.string_dtype("utf-8")),
                )
            group = handle.create_group("history")
            lengths = set()
            for key, values in history.items():
                values = np.asarray(values)
                if key in _HISTORY_INT_KEYS:
                    values = values.astype(np.int64)
                else:
                    values = values.astype(np.float64)
                lengths.add(len(values))
                group.create_dataset(str(key), data=values)
            if len(lengths) > 1:
                raise ValueError(f"history_ lists have different lengths: {sorted(lengths)}")
            if preprocessing is not None:
                group = handle.create_group("preprocessing")
                group.attrs["method"] = "standardize"
                group.create_dataset("mean", data=mean)
                group.create_dataset("scale", data=scale)
    return Path(path)


def _read_model_header(handle, path):
    what = "model file"
    for name in ("n_features_in", "n_classes", "classes_dtype", "hyperparameters"):
        if name not in handle.attrs:
            raise FileFormatError(f"{what} {str(path)!r} is missing the root attribute {name!r}")
    classes = _decode_labels(_require(handle, "classes", path, what)[()], _attr_str(handle.attrs["classes_dtype"]))
    coef = np.asarray(_require(handle, "coef", path, what)[()])
    intercept = np.asarray(_require(handle, "intercept", path, what)[()])
    n_features = int(handle.attrs["n_features_in"])
    n_classes = int(handle.attrs["n_classes"])
    if len(classes) != n_classes:
        raise FileFormatError(f"{what} {str(path)!r} lists {len(classes)} classes but n_classes says {n_classes}")
    if n_classes < 2:
        raise FileFormatError(f"{what} {str(path)!r} has {n_classes} class(es); a classifier needs at least 2")
    # Binary models may store one row of coefficients (scikit-learn's convention)
    # or one per class; anything else is inconsistent.
    allowed_rows = {n_classes, 1} if n_classes == 2 else {n_classes}
    if coef.ndim != 2 or coef.shape[1] != n_features or coef.shape[0] not in allowed_rows:
        raise FileFormatError(
            f"{what} {str(path)!r}: /coef has shape {coef.shape}, expected ({n_classes}, {n_features})"
        )
    if intercept.shape != (coef.shape[0],):
        raise FileFormatError(
            f"{what} {str(path)!r}: /intercept has shape {intercept.shape}, expected ({coef.shape[0]},)"
        )
    if coef.dtype.kind != "f" or intercept.dtype.kind != "f":
        raise FileFormatError(f"{what} {str(path)!r}: /coef and /intercept must be floating point")
    if not (np.all(np.isfinite(coef)) and np.all(np.isfinite(intercept))):
        raise FileFormatError(f"{what} {str(path)!r}: /coef or /intercept holds NaN or infinity")
    try:
        params = json.loads(_attr_str(handle.attrs["hyperparameters"]))
    except json.JSONDecodeError as exc:
        raise FileFormatError(f"{what} {str(path)!r}: the hyperparameters attribute is not valid JSON") from exc
    if not isinstance(params, dict):
        raise FileFormatError(f"{what} {str(path)!r}: hyperparameters must be a JSON object")
    history = {}
    if "history" in handle:
        lengths = set()
        for key, node in handle["history"].items():
            history[key] = node[()].tolist()
            lengths.add(len(history[key]))
        if len(lengths) > 1:
            raise FileFormatError(f"{what} {str(path)!r}: /history datasets have different lengths {sorted(lengths)}")
    preprocessing = None
    if "preprocessing" in handle:
        group = handle["preprocessing"]
        preprocessing = {
            "method": _attr_str(group.attrs.get("method", "standardize")),
            "mean": np.asarray(_require(group, "mean", path, what)[()], dtype=np.float64),
            "scale": np.asarray(_require(group, "scale", path, what)[()], dtype=np.float64),
        }
        for key in ("mean", "scale"):
            if preprocessing[key].shape != (n_features,):
                raise FileFormatError(
                    f"{what} {str(path)!r}: /preprocessing/{key} has shape {preprocessing[key].shape}, "
                    f"expected ({n_features},)"
                )
    attrs = handle.attrs
    return {
        "path": str(path),
        "format": MODEL_FORMAT,
        "format_version": int(attrs["format_version"]),
        "estimator": _attr_str(attrs.get("estimator", "SoftmaxClassifier")),
        "n_features_in": n_features,
        "n_classes": n_classes,
        "classes": classes,
        "coef": coef.astype(np.float64, copy=False),
        "intercept": intercept.astype(np.float64, copy=False),
        "hyperparameters": {k: _decode_param(v) for k, v in params.items()},
        "hyperparameters_not_stored": json.loads(_attr_str(attrs.get("hyperparameters_not_stored", "{}"))),
        "n_iter": int(attrs.get("n_iter", 0)),
        "device_used": _attr_str(attrs.get("device_used", "cpu")),
        "fit_time": float(attrs.get("fit_time", float("nan"))),
        "library_versions": json.loads(_attr_str(attrs.get("library_versions", "{}"))),
        "config_hash": _attr_str(attrs["config_hash"]) if "config_hash" in attrs else None,
        "created": _attr_str(attrs.get("created", "")),
        "extra": json.loads(_attr_str(attrs.get("extra", "{}"))),
        "feature_names": [_attr_str(v) for v in handle["feature_names"][()].tolist()]
        if "feature_names" in handle
        else None,
        "history": history,
        "preprocessing": preprocessing,
    }


def model_info(path):
    """Read and check a model file without building a classifier.

    Returns
    -------
    dict
        ``coef``, ``intercept``, ``classes``, ``n_features_in``, ``n_classes``,
        ``hyperparameters``, ``history`` (dict of lists), ``preprocessing``,
        ``n_iter``, ``device_used``, ``fit_time``, ``library_versions``,
        ``config_hash``, ``extra``, ``feature_names``, ``created``.

    Raises
    ------
    FileNotFoundError, FileFormatError
    """
    with _open_h5(path, "model file", MODEL_FORMAT) as handle:
        return _read_model_header(handle, Path(path))


def load_model(path, *, return_info=False):
    """Load a fitted :class:`~softmax_nb.SoftmaxClassifier` from a model file.

    Parameters
    ----------
    path : str or os.PathLike
    return_info : bool, default False
        Also return the :func:`model_info` dictionary (preprocessing, provenance).

    Returns
    -------
    clf : SoftmaxClassifier
        Ready for ``predict``/``predict_proba``; hyperparameters as saved.
    info : dict
        Only when ``return_info`` is true.

    Raises
    ------
    FileNotFoundError, FileFormatError
    """
    from softmax_nb import SoftmaxClassifier

    info = model_info(path)
    valid = SoftmaxClassifier().get_params(deep=False)
    unknown = sorted(set(info["hyperparameters"]) - set(valid))
    if unknown:
        raise FileFormatError(
            f"model file {str(path)!r} has hyperparameters this softmax_nb does not know: {', '.join(unknown)}"
        )
    clf = SoftmaxClassifier(**info["hyperparameters"])
    clf.classes_ = info["classes"]
    clf.coef_ = info["coef"].copy()
    clf.intercept_ = info["intercept"].copy()
    clf.n_features_in_ = info["n_features_in"]
    clf.n_iter_ = info["n_iter"]
    clf.device_used_ = info["device_used"]
    clf.fit_time_ = info["fit_time"]
    clf.history_ = {key: list(values) for key, values in info["history"].items()}
    if info["feature_names"] is not None:
        clf.feature_names_in_ = np.array(info["feature_names"], dtype=object)
    return (clf, info) if return_info else clf


# ---------------------------------------------------------------------------
# describing files
# ---------------------------------------------------------------------------


def file_info(path):
    """Check a softmax_nb file of either kind and return its header.

    Returns
    -------
    dict
        :func:`dataset_info` or :func:`model_info` (without coefficient arrays),
        with ``kind`` set to ``"dataset"`` or ``"model"``.  JSON-ready.
    """
    found = _detect_format(path)
    if found == DATASET_FORMAT:
        info = dataset_info(path)
        info["kind"] = "dataset"
    elif found == MODEL_FORMAT:
        info = model_info(path)
        info["kind"] = "model"
        info["coef_shape"] = list(info.pop("coef").shape)
        info.pop("intercept")
        history = info.pop("history")
        info["history"] = {
            "n_records": len(next(iter(history.values()))) if history else 0,
            "keys": sorted(history),
            "final": {k: v[-1] for k, v in history.items() if v},
        }
    else:
        raise FileFormatError(
            f"file {str(path)!r} has format {found!r}, expected {DATASET_FORMAT!r} or {MODEL_FORMAT!r}"
        )
    return _jsonable(info)


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_jsonable(v) for v in value.tolist()]
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def describe(path):
    """A human-readable summary of a dataset or model file (``softmax-nb info``).

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    str
    """
    info = file_info(path)
    lines = [f"{info['path']}: softmax_nb {info['kind']} file, format version {info['format_version']}"]
    classes = info["classes"]
    shown = ", ".join(map(str, classes[:20])) + (", ..." if len(classes) > 20 else "")
    if info["kind"] == "dataset":
        lines.append(f"  source: {info['source']}  seed: {info['seed']}")
        lines.append(f"  features: {info['n_features']}" + (
            f"  (image {info['image_shape'][0]}x{info['image_shape'][1]})" if info["image_shape"] else ""))
        lines.append(f"  classes ({info['n_classes']}): {shown}")
        if info["class_names"]:
            names = info["class_names"]
            lines.append("  class names: " + ", ".join(names[:20]) + (", ..." if len(names) > 20 else ""))
        lines.append(f"  standardized: {'yes (mean/scale in /preprocessing)' if info['standardized'] else 'no'}")
        for name, split in info["splits"].items():
            chunks = split["chunks"][0] if split["chunks"] else "contiguous"
            lines.append(
                f"  {name:5s}: {split['n_samples']:>9d} rows  {split['dtype']}  chunk rows: {chunks}"
                f"  compression: {split['compression'] or 'none'}"
            )
    else:
        params = info["hyperparameters"]
        lines.append(f"  estimator: {info['estimator']}  solver: {params.get('solver')}  C: {params.get('C')}")
        lines.append(f"  features: {info['n_features_in']}  coef shape: {tuple(info['coef_shape'])}")
        lines.append(f"  classes ({info['n_classes']}): {shown}")
        lines.append(f"  iterations: {info['n_iter']}  fit time: {info['fit_time']} s  device: {info['device_used']}")
        final = info["history"]["final"]
        if final:
            lines.append("  final: " + "  ".join(f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v}"
                                                  for k, v in sorted(final.items()) if v is not None))
        lines.append(f"  standardization stored: {'yes' if info['preprocessing'] else 'no'}")
        if info["config_hash"]:
            lines.append(f"  config hash: {info['config_hash']}")
    versions = info.get("library_versions") or {}
    if versions:
        lines.append("  written by: " + ", ".join(f"{k} {v}" for k, v in sorted(versions.items())))
    lines.append(f"  created: {info['created']}")
    return "\n".join(lines)
