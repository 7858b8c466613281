"""Model files: a fitted :class:`~softmax_nb.SoftmaxClassifier` in HDF5.

docs/FORMATS.md documents the layout; :func:`save_model` is its only writer and
:func:`model_info` its reader.  No pickle: hyperparameters are JSON, coefficients
are checksummed arrays.  Turning a file back into an estimator is the model
layer's :func:`softmax_nb.model.persistence.load_model` (this layer knows no
estimator class).
"""

from __future__ import annotations

import datetime
import json
import warnings
from pathlib import Path

import h5py
import numpy as np

from .atomic import atomic_write
from .common import (DIGEST_ATTR, H5_LIBVER, FileFormatError, _attr_str, _check_digest, _decode_labels, _encode_labels,
                     _open_h5, _require, _to_json, content_digest, library_versions)

__all__ = ["MODEL_FORMAT", "MODEL_FORMAT_VERSION", "save_model", "model_info"]

MODEL_FORMAT = "softmax_nb-model"
#: Version 2: a binary model is one row of log-odds (scikit-learn's model for the same
#: C), and coef/intercept keep the dtype of the training data.
MODEL_FORMAT_VERSION = 2
#: Versions this softmax_nb reads; a version-1 binary model (two softmax rows) is
#: converted on reading to its log-odds row, which predicts the same.
READABLE_MODEL_VERSIONS = (1, 2)

_HISTORY_INT_KEYS = ("iteration",)

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


def save_model(path, clf, *, preprocessing=None, extra=None, config_hash=None, feature_names=None):
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
    feature_names : sequence of str, optional
        Names of the features when the classifier has none of its own (it was fitted
        on an array; the names are the dataset file's), so that ``predict`` can check
        the columns of a CSV against them. ``clf.feature_names_in_`` wins when set.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    for attr in ("coef_", "intercept_", "classes_", "n_features_in_"):
        if not hasattr(clf, attr):
            raise ValueError(f"cannot save an unfitted classifier (it has no {attr})")
    coef = clf._dense_coef() if hasattr(clf, "_dense_coef") else clf.coef_
    coef, intercept = np.asarray(coef), np.asarray(clf.intercept_)
    if coef.dtype not in (np.float32, np.float64):
        coef = coef.astype(np.float64)
    intercept = intercept.astype(coef.dtype)
    class_values, class_tag = _encode_labels(clf.classes_, "classes_")
    n_features = int(clf.n_features_in_)
    n_rows = 1 if len(class_values) == 2 else len(class_values)
    if coef.shape != (n_rows, n_features):
        raise ValueError(f"coef_ has shape {coef.shape}, expected ({n_rows}, {n_features})")
    if intercept.shape != (coef.shape[0],):
        raise ValueError(f"intercept_ has shape {intercept.shape}, expected ({coef.shape[0]},)")
    params, dropped = _encode_params(clf.get_params(deep=False))
    history = getattr(clf, "history_", None) or {}
    if preprocessing is not None:
        mean = np.asarray(preprocessing["mean"], dtype=np.float64)
        scale = np.asarray(preprocessing["scale"], dtype=np.float64)
        if mean.shape != (n_features,) or scale.shape != (n_features,):
            raise ValueError(f"preprocessing mean/scale must have shape ({n_features},)")
    fitted_names = getattr(clf, "feature_names_in_", None)
    if fitted_names is None and feature_names is not None:
        feature_names = [str(v) for v in feature_names]
        if len(feature_names) != n_features:
            raise ValueError(f"feature_names has {len(feature_names)} names for {n_features} features")
    else:
        feature_names = fitted_names

    expected = coef.nbytes + intercept.nbytes + sum(8 * len(v) for v in history.values())
    with atomic_write(path, expected_bytes=expected) as tmp:
        with h5py.File(tmp, "w", libver=H5_LIBVER) as handle:
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
                # True: the estimator saw the names at fit (a DataFrame), and predicts
                # with scikit-learn's name checks; False: they are the dataset's.
                root["feature_names_fitted"] = fitted_names is not None
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
            # Last: a checksum of everything fletcher32 does not cover (classes, history...).
            root[DIGEST_ATTR] = content_digest(handle)
    return Path(path)


def _read_model_header(handle, path):
    what = "model file"
    version = int(handle.attrs["format_version"])
    if version >= 2:  # version 1 files carry no checksum
        _check_digest(handle, path, what)
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
    # A binary model is one row of log-odds; version 1 stored two softmax rows.
    n_rows = 1 if n_classes == 2 and version >= 2 else n_classes
    if coef.ndim != 2 or coef.shape != (n_rows, n_features):
        raise FileFormatError(
            f"{what} {str(path)!r}: /coef has shape {coef.shape}, expected ({n_rows}, {n_features})"
        )
    if intercept.shape != (coef.shape[0],):
        raise FileFormatError(
            f"{what} {str(path)!r}: /intercept has shape {intercept.shape}, expected ({coef.shape[0]},)"
        )
    if coef.dtype.kind != "f" or intercept.dtype.kind != "f":
        raise FileFormatError(f"{what} {str(path)!r}: /coef and /intercept must be floating point")
    if coef.dtype not in (np.float32, np.float64):
        coef = coef.astype(np.float64)
    intercept = intercept.astype(coef.dtype)
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
    if version == 1 and n_classes == 2:
        # softmax([a0, a1]) = [sigmoid(a0 - a1), sigmoid(a1 - a0)]: the same predictions
        # from one row. Its C meant twice scikit-learn's C (both rows were penalised).
        warnings.warn(
            f"{what} {str(path)!r} was written by an older softmax_nb (format version 1) with a "
            "two-row binary model; it is read as its one row of log-odds, which predicts the "
            "same. Its hyperparameter C acted as scikit-learn's 2*C: retrain for the model of C.",
            UserWarning, stacklevel=3)
        coef = coef[1:] - coef[:1]
        intercept = intercept[1:] - intercept[:1]
    attrs = handle.attrs
    return {
        "path": str(path),
        "format": MODEL_FORMAT,
        "format_version": version,
        "estimator": _attr_str(attrs.get("estimator", "SoftmaxClassifier")),
        "n_features_in": n_features,
        "n_classes": n_classes,
        "classes": classes,
        "coef": coef,
        "intercept": intercept,
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
        "feature_names_fitted": bool(attrs.get("feature_names_fitted", "feature_names" in handle)),
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
    with _open_h5(path, "model file", MODEL_FORMAT, READABLE_MODEL_VERSIONS) as handle:
        return _read_model_header(handle, Path(path))
