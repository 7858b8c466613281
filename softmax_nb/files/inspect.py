"""Describing softmax_nb files of either kind (``softmax-nb info``)."""

from __future__ import annotations

import numpy as np

from .common import FileFormatError, _detect_format
from .dataset import DATASET_FORMAT, dataset_info
from .model import MODEL_FORMAT, model_info

__all__ = ["file_info", "describe"]


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
        coef = info.pop("coef")
        info["coef_shape"] = list(coef.shape)
        info["coef_zero_fraction"] = float((coef == 0).mean()) if coef.size else 0.0
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
        if info.get("layout") == "csr":
            lines.append("  layout: sparse (CSR: data, indices, indptr per split)")
        for name, split in info["splits"].items():
            chunks = split["chunks"][0] if split["chunks"] else "contiguous"
            if "nnz" in split:
                lines.append(
                    f"  {name:5s}: {split['n_samples']:>9d} rows  {split['dtype']}  nnz: {split['nnz']}"
                    f"  density: {split['density']:.3g}  chunk values: {chunks}"
                    f"  compression: {split['compression'] or 'none'}")
                continue
            lines.append(
                f"  {name:5s}: {split['n_samples']:>9d} rows  {split['dtype']}  chunk rows: {chunks}"
                f"  compression: {split['compression'] or 'none'}"
            )
    else:
        params = info["hyperparameters"]
        lines.append(f"  estimator: {info['estimator']}  solver: {params.get('solver')}  C: {params.get('C')}"
                     f"  l1_ratio: {params.get('l1_ratio', 0.0)}")
        lines.append(f"  features: {info['n_features_in']}  coef shape: {tuple(info['coef_shape'])}"
                     f"  ({'one row of log-odds' if info['n_classes'] == 2 else 'one row per class'}; "
                     f"{100 * info['coef_zero_fraction']:.1f}% of weights exactly zero)")
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
