"""What every softmax_nb file shares: the error type, HDF5 opening and format
checks, provenance (library versions), label and JSON encoding.

The dataset (:mod:`.dataset`), model (:mod:`.model`) and checkpoint
(:mod:`.checkpoint`) formats build on these; docs/FORMATS.md documents them.
The underscored helpers are internal to :mod:`softmax_nb.files`.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import platform
import re
import sys
from pathlib import Path

import h5py
import numpy as np

__all__ = ["FileFormatError", "library_versions"]


class FileFormatError(ValueError):
    """A file exists but is not a valid softmax_nb file of the expected kind.

    The message always names the file and what is wrong with it.
    """



def library_versions():
    """Versions recorded in every file softmax_nb writes.

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


#: HDF5 format of the files written: 1.10's, whose object headers, chunk indices and other
#: metadata carry checksums (the 1.8 default has none: a flipped byte in a chunk index
#: could read a chunk as zeros without any error). Readable by HDF5 >= 1.10 (2016).
H5_LIBVER = ("v110", "latest")

#: The root attribute that holds :func:`content_digest`.
DIGEST_ATTR = "sha256"


def content_digest(handle, skip=()):
    """SHA-256 of everything an HDF5 file holds that no fletcher32 checksum covers: every
    attribute of every object (but the digest itself) and every dataset stored without
    fletcher32, in name order. With the fletcher32 datasets, every byte a reader uses is
    checked: a flipped bit anywhere is found. ``skip`` names datasets left out (row data
    stored contiguously for memory mapping, too large to hash at every open)."""
    digest = hashlib.sha256()

    def add_attrs(name, node):
        for key in sorted(node.attrs):
            if name == "/" and key == DIGEST_ATTR:
                continue
            value = node.attrs[key]
            value = value.decode() if isinstance(value, bytes) else value
            digest.update(f"{name}@{key}={np.asarray(value).tolist()!r};".encode())

    add_attrs("/", handle)
    names = []
    handle.visit(names.append)
    for name in sorted(names):
        node = handle[name]
        add_attrs(name, node)
        if isinstance(node, h5py.Dataset) and not node.fletcher32 and name not in skip:
            value = node[()]
            digest.update(f"{name}:{node.dtype.str}:{node.shape};".encode())
            if isinstance(value, np.ndarray) and value.dtype.kind not in "OSU":
                digest.update(np.ascontiguousarray(value).tobytes())
            else:
                digest.update(repr(np.asarray(value).tolist()).encode())
    return digest.hexdigest()


def _check_digest(handle, path, what, skip=()):
    stored = handle.attrs.get(DIGEST_ATTR)
    if stored is None:
        raise FileFormatError(f"{what} {str(path)!r} has no {DIGEST_ATTR!r} checksum attribute (damaged?)")
    if _attr_str(stored) != content_digest(handle, skip):
        raise FileFormatError(f"{what} {str(path)!r} is damaged: its checksum does not match its contents "
                              "(a changed byte); restore it from a copy or write it again")


def _check_exists(path, what):
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{what} {str(path)!r} does not exist")
    if path.is_dir():
        raise IsADirectoryError(f"{what} {str(path)!r} is a folder, not a file")
    return path


@contextlib.contextmanager
def _open_h5(path, what, expected_format, known_version):
    """Open an HDF5 file read-only and check its format name and version.

    ``known_version`` is the version of ``expected_format`` this softmax_nb
    writes, or a tuple of the versions it reads (see docs/FORMATS.md, "Version policy").

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
            try:
                _check_format(handle, path, what, expected_format, known_version)
                yield handle
            except (OSError, RuntimeError, KeyError, TypeError, ValueError) as exc:
                if type(exc) is not ValueError and isinstance(exc, ValueError):
                    raise  # our own messages (FileFormatError, DataError) name the problem
                # h5py's errors on damaged bytes (a plain ValueError for a mangled type)
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
    if getattr(exc, "errno", None) == errno.EACCES:
        return f"cannot read {what} {str(path)!r}: permission denied"
    if "truncated" in text:
        sizes = re.search(r"eof = (\d+).*stored_eof = (\d+)", text)
        detail = f": it holds {sizes[1]} bytes, its header says {sizes[2]}" if sizes else ""
        return f"{what} {str(path)!r} is truncated{detail} (an interrupted copy or write?)"
    if "signature" in text or "not an hdf5" in text.lower():
        return f"{what} {str(path)!r} is not an HDF5 file"
    return f"cannot open {what} {str(path)!r} as HDF5: {_short(exc)}"


def _check_format(handle, path, what, expected_format, known):
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
    if "format_version" not in attrs:
        raise FileFormatError(f"{what} {str(path)!r} has no 'format_version' attribute")
    try:
        version = int(attrs["format_version"])
    except (TypeError, ValueError) as exc:
        raise FileFormatError(
            f"{what} {str(path)!r} has an unreadable format_version {attrs['format_version']!r}"
        ) from exc
    known = tuple(known) if isinstance(known, (tuple, list)) else (known,)
    if version not in known:
        newer = " (written by a newer softmax_nb; upgrade to read it)" if version > max(known) else ""
        readable = " or ".join(map(str, known))
        raise FileFormatError(
            f"{what} {str(path)!r} has format version {version}; this softmax_nb reads version {readable}{newer}"
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
    except (RuntimeError, KeyError) as exc:  # HDF5's metadata checksums found damage
        raise FileFormatError(f"file {str(path)!r} is corrupted: {_short(exc)}") from exc

