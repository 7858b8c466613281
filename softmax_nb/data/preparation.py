"""Preparing a dataset file: load a source, check it, split it, standardize it, write it.

- :func:`prepare_from_config` is *the* function that takes a ``datasets.<name>``
  entry of the workflow configuration.  The workflow's prepare rule, ``softmax-nb
  prepare --config`` and Python all call it, so one entry gives one dataset
  (bitwise) whichever path prepares it.  It fills the entry's defaults from the
  schema (:mod:`softmax_nb.settings`), runs the cross-key checks of
  :func:`check_dataset_entry` (the workflow runs them at start-up too), then calls
  :func:`prepare` (in memory) or :func:`~softmax_nb.data.chunked.prepare_chunked`
  (``out_of_core: true``).
- :func:`prepare` loads a source whole; its defaults are the schema's too::

    prepare({"name": "digits"}, "results/data/digits.h5", seed=0)
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..files.dataset import dataset_info, write_dataset
from ..settings.config import ConfigError, dataset_default as _d, fill_dataset_entry
from .checks import DataError, check_X_y, encode_labels, resolve_class_names
from .chunked import CHUNKED_SOURCES, NOT_CHUNKED, prepare_chunked
from .sources import FASHION_MNIST_DIR, fashion_mnist_files, load_source
from .split import apply_standardization, fit_standardization, stratified_split, subsample

__all__ = [
    "prepare",
    "prepare_from_config",
    "dataset_entry",
    "check_dataset_entry",
    "entry_source",
    "entry_files",
    "SOURCE_KEYS",
    "PREPARE_KEYS",
]


def prepare(
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
    max_samples=_d("max_samples"),
    test_source=None,
    class_names=_d("class_names"),
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
        Every default of this function is the workflow's: the ``datasets``
        defaults of the configuration schema (:mod:`softmax_nb.settings`).
    seed : int
        Seeds the split (and the subsample); the same seed gives the same file.
    standardize : bool
        Standardize with mean/scale fitted on the training rows only, stored in
        ``/preprocessing``.
    dtype : {"float64", "float32"}
        Stored dtype of X.
    chunk_rows : int, optional
        See :func:`softmax_nb.files.dataset.write_dataset`.
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
        :func:`softmax_nb.files.dataset.dataset_info` of the written file.
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
        X, y = subsample(X, y, max_samples, seed, stratify)

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
    # The loader may name every class it knows, by label value; those present are kept.
    class_names = resolve_class_names(classes, class_names, meta.pop("class_names", None))
    # Large provenance (the synthetic generator's true weights) stays out of the
    # root attributes, which HDF5 keeps small; it is reproducible from the seed.
    meta = {k: v for k, v in meta.items() if len(json.dumps(v, default=str)) < 4096}
    write_dataset(
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
    return dataset_info(out_path)


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


# ---------------------------------------------------------------------------
# one dataset entry of the configuration
# ---------------------------------------------------------------------------

#: Per source: the keys of a ``datasets.<name>`` entry that belong to its loader
#: -> the loader's argument (``None``: used by prepare_from_config itself).  A key
#: of another source must keep its default: a value there is an error, never ignored.
SOURCE_KEYS = {
    "digits": {},
    "synthetic": {"n_samples": "n_samples", "n_features": "n_features", "n_classes": "n_classes",
                  "class_sep": "class_sep"},
    "csv": {"path": "path", "label_column": "label_column", "header": "header", "delimiter": "delimiter",
            "skip_columns": "skip_columns"},
    "npz": {"path": "path", "x_key": "x_key", "y_key": "y_key"},
    "svmlight": {"path": "path", "vocabulary_path": "vocabulary_path"},
    "sparse_npz": {"path": "path", "labels_path": "labels_path", "vocabulary_path": "vocabulary_path"},
    "npy": {"path": "x_path", "labels_path": "y_path"},
    "hdf5": {"path": "path", "x_key": "x_key", "y_key": "y_key"},
    "idx": {"path": "images", "labels_path": "labels", "scale": "scale", "test_path": None,
            "test_labels_path": None},
    "fashion_mnist": {"path": "directory", "subset": "subset", "scale": "scale"},
}
#: Keys of an entry passed to :func:`prepare` / ``prepare_chunked`` as they are.
PREPARE_KEYS = ("val_fraction", "test_fraction", "seed", "standardize", "dtype", "chunk_rows",
                "compression", "stratify", "max_samples", "class_names")
#: Keys of the out-of-core conversion.
OUT_OF_CORE_KEYS = ("out_of_core", "block_rows")

# Sources whose `path` is required, and those that take lists of files there.
_NEEDS_PATH = ("csv", "npz", "svmlight", "sparse_npz", "npy", "hdf5", "idx")
_NEEDS_LABELS = ("npy", "idx", "sparse_npz")
_LIST_PATHS = ("npy", "idx")


def _sources_of(key):
    return [name for name, keys in SOURCE_KEYS.items() if key in keys]


def _listed(value):
    return value if isinstance(value, list) else [value]


def check_dataset_entry(name, entry):
    """The checks of a dataset entry that span several keys (the schema checks each key).

    ``entry`` has every key (defaults filled, as the workflow's validation and
    :func:`dataset_entry` leave it).  The workflow runs these checks at start-up,
    before any job (workflow/rules/common.smk), and :func:`prepare_from_config`
    runs them again, so every path refuses the same entries.

    Raises
    ------
    ConfigError
        Naming the key, e.g. ``datasets.mine.path is required for source 'csv'``.
    """
    key = f"datasets.{name}"
    source = entry["source"]
    defaults = {k: _d(k) for k in entry}
    val, test = entry["val_fraction"], entry["test_fraction"]
    if val + test >= 1:
        raise ConfigError(
            f"{key}.val_fraction + {key}.test_fraction = {val} + {test} = {val + test:g}, "
            "but must be below 1 so that rows are left for training"
        )
    # Keys of other sources: a value there would be silently ignored.
    own = SOURCE_KEYS[source]
    for option in sorted({k for keys in SOURCE_KEYS.values() for k in keys} - set(own)):
        value = entry.get(option)
        if value != defaults[option] and not (isinstance(value, list) and tuple(value) == defaults[option]):
            users = _sources_of(option)
            raise ConfigError(f"{key}.{option} applies to source{'s' if len(users) > 1 else ''} "
                              f"{', '.join(map(repr, users))} only, not {source!r}")
    path = entry["path"]
    if source in _NEEDS_PATH and not path:
        raise ConfigError(f"{key}.path is required for source {source!r}")
    for option in ("path", "labels_path"):
        if isinstance(entry[option], list) and source not in _LIST_PATHS:
            raise ConfigError(f"{key}.{option} may be a list for sources {', '.join(map(repr, _LIST_PATHS))} "
                              f"only, not {source!r}")
    if source in _NEEDS_LABELS:
        if not entry["labels_path"]:
            raise ConfigError(f"{key}.labels_path is required for source {source!r}")
        if len(_listed(path)) != len(_listed(entry["labels_path"])):
            what = "image" if source == "idx" else "X"
            raise ConfigError(
                f"{key}.path names {len(_listed(path))} {what} file(s) but {key}.labels_path "
                f"{len(_listed(entry['labels_path']))} label file(s)"
            )
    if source == "idx" and (entry["test_path"] or entry["test_labels_path"]):
        if not (entry["test_path"] and entry["test_labels_path"]):
            raise ConfigError(f"{key}.test_path and {key}.test_labels_path must be given together")
        if len(_listed(entry["test_path"])) != len(_listed(entry["test_labels_path"])):
            raise ConfigError(f"{key}.test_path and {key}.test_labels_path name different numbers of files")
        if test:
            raise ConfigError(
                f"{key}.test_fraction is {test}, but with {key}.test_path the test split is those files: "
                "set test_fraction: 0"
            )
    elif not test:
        raise ConfigError(f"{key}.test_fraction is 0 and there is no test_path: the test split would be empty")
    names = entry["class_names"]
    if names is not None and len(set(names)) != len(names):
        raise ConfigError(f"{key}.class_names has duplicates")
    if entry["chunk_rows"] == 0 and entry["compression"] is not None:
        raise ConfigError(f"{key}.chunk_rows is 0 (contiguous), which cannot be compressed "
                          f"({key}.compression is {entry['compression']!r})")
    if entry["out_of_core"]:
        if source not in CHUNKED_SOURCES:
            raise ConfigError(
                f"{key}.out_of_core: source {source!r} is {NOT_CHUNKED[source]} and cannot be "
                f"converted block by block (out_of_core works for {', '.join(CHUNKED_SOURCES)}); "
                "set out_of_core: false"
            )
        for option, why in (("max_samples", "a sample of the rows"), ("test_path", "a fixed test split")):
            if entry[option] is not None:
                raise ConfigError(f"{key}.{option}: the out-of-core conversion ({key}.out_of_core) takes no {why}")
        if entry["chunk_rows"] == 0:
            raise ConfigError(f"{key}.chunk_rows is 0 (contiguous), but the out-of-core conversion "
                              f"({key}.out_of_core) writes chunked files")
    elif entry["block_rows"] is not None:
        raise ConfigError(f"{key}.block_rows applies to out_of_core: true only")


def dataset_entry(name, entry=None, *, where=None):
    """A dataset entry as the workflow sees it: schema-checked, defaults filled, cross-checked.

    Parameters
    ----------
    name : str
        Its name under ``datasets`` (named in error messages).
    entry : dict, optional
        The entry as written (missing keys take the schema's defaults).
    where : str, optional
        The configuration file, prefixed to error messages.

    Raises
    ------
    ConfigError
    """
    entry = fill_dataset_entry(entry, name=name, where=where)
    try:
        check_dataset_entry(name, entry)
    except ConfigError as exc:
        if where:
            raise ConfigError(f"{where}: {exc}") from None
        raise
    return entry


def entry_source(entry):
    """The loader arguments of a filled entry: ``{"name": source, **arguments}``."""
    source_name = entry["source"]
    source = {"name": source_name}
    for key, argument in SOURCE_KEYS[source_name].items():
        if argument is not None and entry.get(key) is not None:
            source[argument] = entry[key]
    if source_name == "synthetic":
        # The generator shares the split's seed, so one number reproduces the file.
        source["seed"] = entry["seed"]
    return source


def _entry_test_source(entry):
    if not entry.get("test_path"):
        return None
    test_source = {"name": "idx", "images": entry["test_path"], "labels": entry["test_labels_path"]}
    if entry.get("scale") is not None:
        test_source["scale"] = entry["scale"]
    return test_source


def entry_files(entry):
    """The input files of a filled entry (none for digits and synthetic), for the workflow."""
    if entry["source"] == "fashion_mnist":
        directory = entry["path"] or FASHION_MNIST_DIR
        try:
            images, labels = fashion_mnist_files(directory, entry["subset"])
        except (FileNotFoundError, DataError):
            # Missing files: name the expected ones, so the workflow reports them.
            prefixes = {"train": ["train"], "test": ["t10k"]}.get(entry["subset"], ["train", "t10k"])
            images = [Path(directory) / f"{p}-images-idx3-ubyte.gz" for p in prefixes]
            labels = [Path(directory) / f"{p}-labels-idx1-ubyte.gz" for p in prefixes]
        return [str(p) for p in [*images, *labels]]
    files = []
    for key in ("path", "labels_path", "vocabulary_path", "test_path", "test_labels_path"):
        if key in SOURCE_KEYS[entry["source"]] and entry.get(key):
            files.extend(str(p) for p in _listed(entry[key]))
    return files


def prepare_from_config(entry, out_path, *, name="dataset", where=None):
    """Prepare one ``datasets.<name>`` entry of the workflow configuration.

    The one function from a configuration entry to a dataset file: the workflow's
    prepare rule, ``softmax-nb prepare --config FILE --dataset NAME`` and Python
    call it, so the same entry gives a bitwise identical file.

    Parameters
    ----------
    entry : dict
        A ``datasets.<name>`` entry of ``config/config.yaml``
        (config/README.md documents every key).  Keys left out take the schema's
        defaults; unknown keys, values out of range and inconsistent keys (see
        :func:`check_dataset_entry`) are refused with a message naming the key.
    out_path : str or os.PathLike
    name : str
        The entry's name, used in error messages and stored as provenance.
    where : str, optional
        The configuration file, named in error messages.

    Returns
    -------
    dict
        :func:`softmax_nb.files.dataset.dataset_info` of the written file.

    Raises
    ------
    ConfigError
        A bad entry (names the key).
    DataError, FileNotFoundError
        Bad or missing data (names the file, row and column).
    """
    entry = dataset_entry(name, entry, where=where)
    source = entry_source(entry)
    options = {key: entry[key] for key in PREPARE_KEYS}
    config = {"dataset": name, **entry}
    if entry["out_of_core"]:
        # Sources larger than memory: converted block by block.
        options.pop("max_samples")
        return prepare_chunked(source, out_path, block_rows=entry["block_rows"], config=config, **options)
    return prepare(source, out_path, test_source=_entry_test_source(entry), config=config, **options)
