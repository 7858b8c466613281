"""The ``softmax-nb`` command line: prepare, train, evaluate, gradcheck, info, predict.

Each subcommand works without Snakemake; the workflow calls the same functions.
Every output file is written atomically.  Expected failures (bad arguments, missing
or malformed files, unusable data) print ``softmax-nb: error: <what is wrong>`` on
stderr and exit with status 2 (usage) or 1 (data and files), without a traceback
and without leaving an output file behind.  ``SOFTMAX_NB_DEBUG=1`` shows the
traceback of such errors too.
"""

from __future__ import annotations

import argparse
import csv
import errno
import json
import logging
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from . import data as datasets
from . import files as sio
from .settings.config import dataset_default, load_config
from .model.hyperparameters import DEFAULTS as HYPERPARAMETERS
from .model.training import TrainingInterrupted
from .settings import default, defaults

PROG = "softmax-nb"
EXIT_DATA = 1
EXIT_USAGE = 2

log = logging.getLogger("softmax_nb.cli")

# Every model key of the configuration schema is a train option (--max-iter, --C,
# --no-nesterov...), built from the schema's type, choices, description and default,
# so a new hyperparameter needs no CLI edit. Booleans whose default is true become
# --no-KEY flags; these keep their established names.
_FLAG_NAMES = {"fit_intercept": "--no-intercept"}
# Options that the train command spells itself (not hyperparameters, or parsed specially).
_OWN_OPTIONS = {"threads", "max_memory_mb", "class_weight", "tasks"}
_EXTRA_BOOL_FLAGS = {"warm_start": ("--warm-start", True, "start from the coefficients of --init-model")}


def _hyperparameter_options():
    """``[(key, flag, add_argument keywords, value when a bool flag is given or None)]``."""
    from .settings import schema

    options = []
    for key, spec in schema()["$defs"]["model"]["properties"].items():
        if key in _OWN_OPTIONS:
            continue
        default_value = spec.get("default")
        help_text = " ".join(str(spec.get("description", "")).split())
        if spec.get("type") == "boolean":
            flag = _FLAG_NAMES.get(key) or (f"--no-{key.replace('_', '-')}" if default_value
                                            else f"--{key.replace('_', '-')}")
            help_text = f"set {key} to {str(not default_value).lower()} ({help_text})"
            options.append((key, flag, {"action": "store_true", "help": help_text}, not default_value))
            continue
        types = spec.get("type") if isinstance(spec.get("type"), list) else [spec.get("type")]
        kwargs = {"help": f"{help_text} (default {default_value})"}
        if spec.get("enum"):
            kwargs["choices"] = [value for value in spec["enum"] if value is not None]
        elif "integer" in types:
            kwargs["type"] = int
        elif "number" in types:
            kwargs["type"] = float
        options.append((key, f"--{key.replace('_', '-')}", kwargs, None))
    return options


class CLIError(Exception):
    """An expected failure: reported as one line, exit status ``code``."""

    def __init__(self, message, code=EXIT_DATA):
        super().__init__(message)
        self.code = code


class _Parser(argparse.ArgumentParser):
    """argparse with usage errors that name the program as ``softmax-nb``."""

    def error(self, message):
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{PROG}: error: {message}\n")


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


def _parse_value(text):
    """A command-line value as YAML reads it: 3 -> int, 0.1 -> float, true -> bool, [a, b] -> list.

    Other unquoted text stays as typed (trimmed), a file name above all: YAML would fold
    a newline into a space, read what follows ' #' as a comment, 'a: b' as a mapping.
    """
    import yaml

    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    first = text.strip()[:1]
    if isinstance(value, str) and first not in ("'", '"'):
        return text.strip()
    if value is None and text.strip() not in ("", "~", "null", "Null", "NULL"):
        return text.strip()
    if isinstance(value, (list, dict)) and first not in ("[", "{"):
        return text.strip()
    return value


def _key_values(items, flag):
    out = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CLIError(f"{flag} expects KEY=VALUE, got {item!r}", EXIT_USAGE)
        out[key.strip().replace("-", "_")] = _parse_value(value)
    return out


def _read_config(path):
    """The configuration file as the workflow reads it: checked against the schema,
    every default filled (softmax_nb.settings.config.load_config); a bad file or key
    is a one-line error naming it."""
    return load_config(path)


def _config_entry(config, section, name, path):
    entries = config.get(section)
    if not isinstance(entries, dict) or name not in entries:
        known = ", ".join(sorted(entries)) if isinstance(entries, dict) else "none"
        raise CLIError(f"config file {str(path)!r} defines no {section}.{name} (defined: {known})")
    return entries[name] or {}


def _same_file(a, b):
    """True when paths a and b name one file (the same path, or the same inode)."""
    a, b = Path(a), Path(b)
    if a.resolve() == b.resolve():
        return True
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def _check_output(path, *, option="--output", inputs=()):
    """An output path that can be written, and is none of the command's ``inputs``.

    Checked before any work: writing over an input would destroy it.
    """
    path = Path(path)
    if not path.parent.is_dir():
        raise CLIError(f"{option} {str(path)!r}: folder {str(path.parent)!r} does not exist")
    try:
        name_max = os.pathconf(path.parent, "PC_NAME_MAX")
    except (OSError, ValueError):
        name_max = 255
    if len(os.fsencode(path.name)) > name_max:
        raise CLIError(f"{option} {str(path)!r}: the name is {len(os.fsencode(path.name))} bytes long, more "
                       f"than the {name_max} the file system allows")
    if path.is_dir():
        raise CLIError(f"{option} {str(path)!r} is a folder")
    folder = Path(os.path.realpath(path)).parent if path.is_symlink() else path.parent  # written through a link
    if not os.access(folder, os.W_OK | os.X_OK):
        raise CLIError(f"{option} {str(path)!r}: folder {str(folder)!r} is not writable")
    for source in inputs:
        if source is not None and _same_file(path, source):
            raise CLIError(f"{option} {str(path)!r} is also an input of this command ({str(source)!r}): "
                           "writing it would destroy that input; choose another output path", EXIT_USAGE)
    return path


def _write_json(data, path):
    text = json.dumps(data, indent=2, sort_keys=False, allow_nan=False, default=_json_default) + "\n"
    if path is None or str(path) == "-":
        sys.stdout.write(text)
        return
    with sio.atomic_write(path, "w") as handle:
        handle.write(text)


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _finite(value):
    """JSON has no NaN: undefined numbers (val_loss without a validation set) are null."""
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def _set_threads(threads):
    if threads is None:
        return None
    import numba

    if threads < 1:
        raise CLIError(f"--threads must be >= 1, got {threads}", EXIT_USAGE)
    limit = numba.config.NUMBA_NUM_THREADS
    if threads > limit:
        raise CLIError(
            f"--threads {threads} exceeds numba's limit of {limit} threads "
            f"(set NUMBA_NUM_THREADS={threads} in the environment to raise it)",
            EXIT_USAGE,
        )
    numba.set_num_threads(threads)
    return threads


def _labels(info, y_index):
    return np.asarray(info["classes"])[y_index]


def _load_model(path, **options):
    # The estimator (and scikit-learn, ~1 s to import) loads only for commands that need it.
    from .model.persistence import load_model

    return load_model(path, **options)


def _load_model_for(path, n_features, data_path):
    clf, minfo = _load_model(path, return_info=True)
    if clf.n_features_in_ != n_features:
        raise CLIError(
            f"model {str(path)!r} expects {clf.n_features_in_} features but {str(data_path)!r} has {n_features}"
        )
    return clf, minfo


def _check_classes(clf, info, model_path, data_path):
    """Labels of the data that the model has never seen make its metrics meaningless."""
    model_classes = set(np.asarray(clf.classes_).tolist())
    data_classes = set(np.asarray(info["classes"]).tolist())
    if not model_classes & data_classes:
        raise CLIError(
            f"model {str(model_path)!r} was trained on classes {sorted(model_classes, key=str)[:10]} but "
            f"{str(data_path)!r} has classes {sorted(data_classes, key=str)[:10]}: no class in common"
        )


# ---------------------------------------------------------------------------
# prepare
# ---------------------------------------------------------------------------


# Flags of `prepare` that set a key of the dataset entry (or of the call).
_PREPARE_FLAGS = ("val_fraction", "test_fraction", "seed", "dtype", "chunk_rows", "compression", "max_samples",
                  "block_rows")


def _cmd_prepare(args):
    """``prepare``: a dataset entry of a config file (exactly as the workflow prepares it),
    or a source given by --source/--arg; the defaults are the schema's in both cases."""
    out = _check_output(args.output, inputs=[args.config])
    if args.config:
        if not args.dataset:
            raise CLIError("--config needs --dataset NAME", EXIT_USAGE)
        if args.source or args.arg or args.test_arg:
            raise CLIError("give either --config/--dataset or --source/--arg, not both", EXIT_USAGE)
        config = _read_config(args.config)
        entry = dict(_config_entry(config, "datasets", args.dataset, args.config))
        for key in _PREPARE_FLAGS:
            value = getattr(args, key)
            if value is not None:
                entry[key] = value
        if args.no_standardize:
            entry["standardize"] = False
        if args.no_stratify:
            entry["stratify"] = False
        if args.out_of_core:
            entry["out_of_core"] = True
        info = datasets.prepare_from_config(entry, out, name=args.dataset, where=str(args.config))
    else:
        if args.dataset:
            raise CLIError("--dataset needs --config FILE", EXIT_USAGE)
        source = {"name": args.source or dataset_default("source"), **_key_values(args.arg, "--arg")}
        test_source = None
        if args.test_arg:
            test_source = {"name": source["name"], **_key_values(args.test_arg, "--test-arg")}
        options = {key: dataset_default(key) if getattr(args, key) is None else getattr(args, key)
                   for key in _PREPARE_FLAGS}
        if test_source is not None and args.test_fraction is None:
            options["test_fraction"] = 0.0  # the test source is the test split
        options["standardize"] = dataset_default("standardize") and not args.no_standardize
        options["stratify"] = dataset_default("stratify") and not args.no_stratify
        block_rows = options.pop("block_rows")
        if args.out_of_core:
            if test_source is not None or args.max_samples is not None:
                raise CLIError("--out-of-core takes no --test-arg or --max-samples", EXIT_USAGE)
            options.pop("max_samples")
            info = datasets.prepare_chunked(source, out, block_rows=block_rows, **options)
        else:
            if block_rows is not None:
                raise CLIError("--block-rows needs --out-of-core", EXIT_USAGE)
            info = datasets.prepare(source, out, test_source=test_source, **options)
    sizes = ", ".join(f"{name} {split['n_samples']}" for name, split in info["splits"].items())
    log.info("wrote %s: %d features, %d classes; %s rows", out, info["n_features"], info["n_classes"], sizes)
    return 0


# ---------------------------------------------------------------------------
# train
# ---------------------------------------------------------------------------


def _hyperparameters(args):
    """Classifier arguments from --config/--model, then --params, then flags."""
    valid = HYPERPARAMETERS
    params = {}
    threads = None
    if args.config:
        if not args.model:
            raise CLIError("--config needs --model NAME", EXIT_USAGE)
        entry = dict(_config_entry(_read_config(args.config), "models", args.model, args.config))
        threads = entry.pop("threads", None)
        entry.pop("tasks", None)  # how the workflow launches the job (mpiexec -n TASKS), not a hyperparameter
        params.update(entry)
    elif args.model:
        raise CLIError("--model needs --config FILE", EXIT_USAGE)
    if args.params:
        text = args.params
        if not text.lstrip().startswith("{"):
            path = Path(text)
            if not path.exists():
                raise CLIError(f"--params: {text!r} is neither a JSON object nor an existing file", EXIT_USAGE)
            text = path.read_text(encoding="utf-8")
        try:
            extra = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CLIError(f"--params is not valid JSON: {exc}", EXIT_USAGE) from exc
        if not isinstance(extra, dict):
            raise CLIError("--params must be a JSON object", EXIT_USAGE)
        params.update(extra)
    for key, _, _, flag_value in _hyperparameter_options():
        value = getattr(args, key)
        if flag_value is not None:
            if value:
                params[key] = flag_value
        elif value is not None:
            params[key] = value
    for key, (_, flag_value, _) in _EXTRA_BOOL_FLAGS.items():
        if getattr(args, key):
            params[key] = flag_value
    if args.verbose is not None:
        params["verbose"] = args.verbose
    if args.class_weight is not None:
        if args.class_weight == "balanced":
            params["class_weight"] = "balanced"
        else:
            try:
                weights = json.loads(args.class_weight)
            except json.JSONDecodeError as exc:
                raise CLIError(
                    f"--class-weight must be 'balanced' or a JSON object of label: weight, got {args.class_weight!r}",
                    EXIT_USAGE,
                ) from exc
            if not isinstance(weights, dict):
                raise CLIError("--class-weight JSON must be an object of label: weight", EXIT_USAGE)
            params["class_weight"] = weights
    # Not a hyperparameter: the memory budget of streaming training, accepted in a
    # model entry or --params so the workflow can set it per model (null: in memory).
    memory = params.pop("max_memory_mb", None)
    if memory is not None and getattr(args, "max_memory_mb", None) is None:
        if isinstance(memory, bool) or not isinstance(memory, (int, float)):
            raise CLIError(f"max_memory_mb must be a number of MiB or null, got {memory!r}", EXIT_USAGE)
        args.max_memory_mb = float(memory)
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise CLIError(f"unknown hyperparameter(s): {', '.join(unknown)}", EXIT_USAGE)
    if args.threads is not None:
        threads = args.threads
    return params, threads


def _warm_up(X, n_classes):
    """Time the first kernel calls: numba compiles (or loads from its cache) here."""
    from softmax_nb import kernels
    from softmax_nb.kernels.lbfgs import PairMemory

    rows = X[: min(X.shape[0], 4)]
    if not sp.issparse(rows):
        rows = np.ascontiguousarray(rows)
    coef = np.zeros((n_classes, X.shape[1]))
    intercept = np.zeros(n_classes)
    y = np.zeros(rows.shape[0], dtype=np.int64)
    start = time.perf_counter()
    kernels.loss_gradient(rows, y, coef, intercept)
    kernels.predict_proba(rows, coef, intercept)
    # The L-BFGS two-loop recursion (lbfgs and OWL-QN fits): one signature for every fit.
    pairs = PairMemory(1)
    pairs.append(np.ones(2), np.ones(2))
    pairs.times(np.ones(2))
    return time.perf_counter() - start


def _write_history(history, path):
    path = Path(path)
    keys = list(history)
    n = len(history[keys[0]]) if keys else 0
    if path.suffix.lower() == ".json":
        _write_json({k: [_finite(float(v)) if k != "iteration" else int(v) for v in history[k]] for k in keys}, path)
        return
    with sio.atomic_write(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(keys)
        for i in range(n):
            writer.writerow([repr(float(history[k][i])) if k != "iteration" else int(history[k][i]) for k in keys])


def _cmd_train(args):
    """``train``: in memory, or streamed from the file with --max-memory-mb, over MPI ranks
    with --mpi (or under mpiexec/srun with several ranks); all checkpoint."""
    import numba

    from softmax_nb import SoftmaxClassifier
    from softmax_nb.model import distributed
    from softmax_nb.model.estimator import fit_streaming
    from softmax_nb.model.runtime import resolve_device

    comm = None
    if args.mpi or distributed.launched_with_mpi():
        try:
            comm = _MPI["comm"] = distributed.world()
        except RuntimeError as exc:
            raise CLIError(str(exc)) from exc
        if comm.size == 1 and distributed.launched_with_mpi():
            # Several processes each alone in its world would each train the whole model.
            raise CLIError("the launcher started several tasks but MPI sees one rank in each: the launcher "
                           "and mpi4py's MPI do not talk (with srun, pass --mpi=pmi2 or set MpiDefault; "
                           "docs/CLUSTER.md)")
        if comm.rank > 0:
            # One log for the job: rank 0's (the others still print warnings and errors).
            logging.getLogger("softmax_nb").setLevel(logging.WARNING)

    inputs = [args.data, args.init_model, args.config,
              args.params if args.params and not args.params.lstrip().startswith("{") else None]
    out = _check_output(args.output, inputs=inputs)
    if args.history:
        _check_output(args.history, option="--history", inputs=inputs + [out])
        if Path(args.history).suffix.lower() not in (".csv", ".json"):
            raise CLIError(f"--history must end in .csv or .json, got {args.history!r}", EXIT_USAGE)
    params, threads = _hyperparameters(args)
    threads = _set_threads(threads)
    if params.get("device", "cpu") != "cpu":
        # Before any data is read: "no GPU here" is a setup problem, not a crash.
        try:
            resolve_device(params["device"])
        except (RuntimeError, ImportError) as exc:
            raise CLIError(str(exc)) from exc
    if threads is not None and "n_threads" not in params:
        params["n_threads"] = threads
    streamed = args.max_memory_mb is not None
    if streamed and not args.max_memory_mb > 0:
        raise CLIError(f"--max-memory-mb must be positive, got {args.max_memory_mb}", EXIT_USAGE)
    checkpoint = None if args.no_checkpoint else Path(args.checkpoint or f"{out}.ckpt")
    if checkpoint is not None:
        checkpoint.parent.mkdir(parents=True, exist_ok=True)
        _check_output(checkpoint, option="--checkpoint", inputs=inputs + [out, args.history])
        params.update(checkpoint_path=str(checkpoint), checkpoint_every=args.checkpoint_every,
                      checkpoint_seconds=args.checkpoint_seconds)
        if args.resume and checkpoint.exists():
            log.info("resuming from checkpoint %s", checkpoint)
        elif args.resume:
            log.info("no checkpoint at %s yet: training from the start", checkpoint)
    elif args.resume:
        raise CLIError("--resume needs checkpoints (drop --no-checkpoint)", EXIT_USAGE)
    try:
        # Before any data is read: a bad value is a usage error, named, not a traceback.
        SoftmaxClassifier(**params)._check_params()
    except (TypeError, ValueError) as exc:
        raise CLIError(f"bad hyperparameters: {exc}", EXIT_USAGE) from exc
    init = _load_model(args.init_model) if args.init_model else None
    info = sio.dataset_info(args.data)
    train_rows = int(info["splits"]["train"]["n_samples"])
    # Room for the model and the checkpoints (L-BFGS keeps 2 x 10 vectors of the
    # parameters), asked for before any work: HDF5 does not survive a full disk.
    n_params = (info["n_features"] + 1) * (1 if info["n_classes"] == 2 else info["n_classes"])
    from .files.atomic import check_free_space

    check_free_space(Path(out).parent, out, 8 * n_params * (26 if checkpoint is not None else 2))
    if streamed or comm is not None:
        first_rows, _ = sio.read_rows(args.data, "train", 0, min(4, train_rows))
        compile_seconds = _warm_up(first_rows, info["n_classes"])
    else:
        X, y, info = sio.read_dataset(args.data, "train")
        compile_seconds = _warm_up(X, info["n_classes"])
    log.info(
        "numba kernels ready in %.2f s (compilation or cache load; NUMBA_CACHE_DIR=%s), %d thread(s)",
        compile_seconds, os.environ.get("NUMBA_CACHE_DIR", "<numba default>"), numba.get_num_threads(),
    )
    log.info("%s on %s: %d rows x %d features, %d classes%s; %s",
             (f"training over {comm.size} MPI rank(s)" if comm is not None
              else "streaming training" if streamed else "training"), args.data, train_rows, info["n_features"],
             info["n_classes"], f", max_memory_mb={args.max_memory_mb:g}" if streamed else "",
             json.dumps(params, default=str, sort_keys=True))
    # The fit's warnings are shown as they come and kept in the model file (the report's
    # "converged" column quotes them).
    fit_warnings = []
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        shown = warnings.showwarning

        def keep(message, category, *rest, **kw):
            fit_warnings.append(f"{category.__name__}: {message}")
            shown(message, category, *rest, **kw)

        warnings.showwarning = keep
        if comm is not None:
            clf = distributed.fit_distributed(args.data, params, comm=comm, max_memory_mb=args.max_memory_mb,
                                              eval_split=None if args.no_eval else "val", init=init,
                                              resume=bool(args.resume))
        elif streamed:
            clf = fit_streaming(args.data, params, max_memory_mb=args.max_memory_mb,
                                eval_split=None if args.no_eval else "val", progress=not args.quiet,
                                init=init, resume=bool(args.resume))
        else:
            eval_set = None
            if not args.no_eval:
                X_val, y_val, _ = sio.read_dataset(args.data, "val")
                if len(y_val):
                    eval_set = (X_val, _labels(info, y_val))
            clf = SoftmaxClassifier(**params)
            if init is not None:
                clf.set_params(warm_start=True)
                for attr in ("coef_", "intercept_", "classes_", "n_features_in_"):
                    setattr(clf, attr, getattr(init, attr))
            clf.fit(X, _labels(info, y), eval_set=eval_set, resume=bool(args.resume))
    history = clf.history_
    final = {k: v[-1] for k, v in history.items() if len(v)}
    passes = f", {clf.streaming_['passes']} passes over the data" if streamed and comm is None else ""
    log.info("done in %.2f s, %s iterations%s; final %s", clf.fit_time_, int(np.max(clf.n_iter_)), passes,
             ", ".join(f"{k}={float(v):.6g}" for k, v in final.items()))
    extra = {
        "data": str(args.data),
        "compile_seconds": compile_seconds,
        "numba_threads": numba.get_num_threads(),
        "train_rows": train_rows,
        "dataset_source": info["source"],
        "converged": clf.converged_,
        "stopped_early": clf.stopped_early_,
        "warnings": fit_warnings,
    }
    if streamed and comm is None:
        extra["streaming"] = clf.streaming_
    if comm is not None:
        extra["mpi"] = clf.distributed_
        extra["mpi"].pop("rank_rows")
        if comm.rank > 0:
            return 0  # rank 0 writes the model, the history and removes the checkpoint
    if info.get("class_names"):
        extra["class_names"] = info["class_names"]
    if info.get("image_shape"):
        extra["image_shape"] = list(info["image_shape"])
    sio.save_model(out, clf, preprocessing=info["preprocessing"], extra=extra, config_hash=args.config_hash,
                   feature_names=info.get("feature_names"))
    if args.history:
        _write_history(history, args.history)
    if checkpoint is not None and checkpoint.exists():
        # The model is safely written: the training state is no longer needed.
        checkpoint.unlink()
    log.info("wrote %s", out)
    return 0


# ---------------------------------------------------------------------------
# evaluate, predict, gradcheck, info
# ---------------------------------------------------------------------------


def _split_and_model(args):
    """Check ``--output``, read the non-empty split ``args.split`` and the model for it."""
    if args.output and args.output != "-":  # '-': standard output
        _check_output(args.output, inputs=[args.model, args.data])
    X, y, info = sio.read_dataset(args.data, args.split)
    if len(y) == 0:
        raise CLIError(f"split {args.split!r} of {str(args.data)!r} is empty")
    clf, _ = _load_model_for(args.model, X.shape[1], args.data)
    return X, y, info, clf


def _cmd_evaluate(args):
    from softmax_nb import metrics

    X, y, info, clf = _split_and_model(args)
    _check_classes(clf, info, args.model, args.data)
    proba = clf.predict_proba(X)
    log_proba = clf.predict_log_proba(X)
    result = metrics.evaluate(_labels(info, y), proba, clf.classes_, log_proba=log_proba, n_bins=args.bins)
    result = {"model": str(args.model), "data": str(args.data), "split": args.split, **result}
    if info.get("class_names"):
        names = dict(zip(np.asarray(info["classes"]).tolist(), info["class_names"]))
        result["class_names"] = [names.get(label, str(label)) for label in result["classes"]]
    _write_json(result, args.output)
    log.info("%s on %s/%s: accuracy %.4f, log-loss %.4f, ECE %.4f", args.model, args.data, args.split,
             result["accuracy"], result["log_loss"], result["ece"])
    return 0


def _read_features(path, split, id_column=None):
    """Features to predict: ``(X, preprocessed, feature names or None, row ids or None)``
    from a split of a dataset file, or raw rows from CSV/NPY."""
    path = Path(path)
    suffixes = "".join(path.suffixes[-2:]).lower()
    is_csv = suffixes.endswith(".csv") or suffixes.endswith(".csv.gz")
    if id_column is not None and not is_csv:
        raise CLIError(f"--id-column needs a CSV file, got {str(path)!r}", EXIT_USAGE)
    if path.suffix.lower() in (".h5", ".hdf5"):
        X, y, info = sio.read_dataset(path, split)
        return X, True, info.get("feature_names"), None
    if path.suffix.lower() == ".npy":
        if not path.exists():
            raise CLIError(f"data file {str(path)!r} does not exist")
        X = np.load(path, allow_pickle=False)
        return X, False, None, None
    if is_csv:
        if id_column is not None and id_column.lstrip("-").isdigit():
            id_column = int(id_column)  # an index, as for label_column
        # The id column is read like a label column: passed through, never a feature.
        X, ids, meta = datasets.load_csv(path, label_column=id_column)
        return X, False, meta.get("feature_names"), ids
    raise CLIError(f"cannot read features from {str(path)!r}: expected .h5, .npy or .csv")


def _check_feature_names(model_names, data_names, model_path, data_path):
    """The data's columns must be the model's features, in the model's order."""
    if model_names is None or data_names is None:
        return
    model_names, data_names = [str(n) for n in model_names], [str(n) for n in data_names]
    if model_names == data_names:
        return
    unknown = [n for n in data_names if n not in model_names]
    missing = [n for n in model_names if n not in data_names]
    if unknown or missing:
        parts = []
        if unknown:
            parts.append(f"columns the model does not know: {', '.join(map(repr, unknown[:5]))}"
                         + (" ..." if len(unknown) > 5 else ""))
        if missing:
            parts.append(f"features missing: {', '.join(map(repr, missing[:5]))}" + (" ..." if len(missing) > 5 else ""))
        raise CLIError(f"the columns of {str(data_path)!r} are not the features of model {str(model_path)!r}: "
                       f"{'; '.join(parts)} (an identifier column can pass through with --id-column)")
    k = next(i for i, (a, b) in enumerate(zip(data_names, model_names)) if a != b)
    raise CLIError(f"the columns of {str(data_path)!r} are the model's features in another order: column "
                   f"{k + 1} is {data_names[k]!r} where model {str(model_path)!r} has {model_names[k]!r}; "
                   "reorder the columns")


def _cmd_predict(args):
    to_stdout = args.output == "-"
    out = None if to_stdout else _check_output(args.output, inputs=[args.model, args.data])
    X, preprocessed, data_names, ids = _read_features(args.data, args.split, args.id_column)
    X = X if sp.issparse(X) else np.asarray(X)  # a sparse dataset file's split stays sparse
    if X.dtype.kind not in "fiub":
        raise CLIError(f"{str(args.data)!r} holds {X.dtype} values; features must be real numbers")
    clf, minfo = _load_model(args.model, return_info=True)
    _check_feature_names(minfo["feature_names"], data_names, args.model, args.data)
    if X.ndim != 2 or X.shape[1] != clf.n_features_in_:
        raise CLIError(
            f"model {str(args.model)!r} expects {clf.n_features_in_} features but {str(args.data)!r} "
            f"has shape {X.shape}"
        )
    if not preprocessed and minfo["preprocessing"] is not None:
        # Raw features: apply the standardization the model was trained after.
        X = datasets.apply_standardization(X, minfo["preprocessing"], X.dtype if X.dtype.kind == "f" else None)
    if sp.issparse(X):
        X = X.tocsr() if X.dtype in (np.float32, np.float64) else X.tocsr().astype(np.float64)
    else:
        X = np.ascontiguousarray(X if X.dtype in (np.float32, np.float64) else X.astype(np.float64))
    if not np.isfinite(X.data if sp.issparse(X) else X).all():
        raise CLIError(f"{str(args.data)!r} holds NaN or infinite feature values")
    proba = clf.predict_proba(X)
    predicted = np.asarray(clf.classes_)[proba.argmax(axis=1)]

    def write(handle):
        writer = csv.writer(handle)
        header = [str(args.id_column) if ids is not None else "row", "predicted"]
        if not args.no_proba:
            header += [f"p_{label}" for label in np.asarray(clf.classes_).tolist()]
        writer.writerow(header)
        for i in range(X.shape[0]):
            row = [ids[i] if ids is not None else i, predicted[i]]
            if not args.no_proba:
                row += [f"{p:.9g}" for p in proba[i]]
            writer.writerow(row)

    if to_stdout:
        write(sys.stdout)
        sys.stdout.flush()
        log.info("wrote %d predictions to stdout", X.shape[0])
    else:
        with sio.atomic_write(out, "w", newline="") as handle:
            write(handle)
        log.info("wrote %d predictions to %s", X.shape[0], out)
    return 0


def _cmd_gradcheck(args):
    from softmax_nb.model.gradcheck import gradcheck_model

    X, y, info, clf = _split_and_model(args)
    if args.n_samples is not None and args.n_samples < 1:
        raise CLIError(f"--n-samples must be >= 1, got {args.n_samples}", EXIT_USAGE)
    result = gradcheck_model(clf, X, _labels(info, y), n_samples=args.n_samples, eps=args.eps,
                             tolerance=args.max_rel_error, random_state=args.seed)
    if result["n_unknown"]:
        log.warning("%d row(s) have classes the model does not know; they are left out", result["n_unknown"])
    blocks = [block for block in ("coef", "intercept") if block in result]
    table = {
        "model": str(args.model),
        "data": str(args.data),
        "split": args.split,
        "n_samples": result["n_samples"],
        "n_checked": {block: result[block]["n_checked"] for block in blocks},
        "eps": args.eps,
        "l2_reg_strength": result["l2_reg_strength"],
        "max_rel_error_allowed": args.max_rel_error,
        "blocks": [{"block": block, "max_abs_error": result[block]["max_abs_error"],
                    "max_rel_error": result[block]["max_rel_error"],
                    "passed": bool(result[block]["max_rel_error"] <= args.max_rel_error)}
                   for block in blocks],
        "passed": bool(result["passed"]),
    }
    if args.output:
        if Path(args.output).suffix.lower() == ".csv":
            with sio.atomic_write(args.output, "w", newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow(["block", "max_abs_error", "max_rel_error", "passed"])
                for row in table["blocks"]:
                    writer.writerow([row["block"], repr(row["max_abs_error"]), repr(row["max_rel_error"]),
                                     row["passed"]])
        else:
            _write_json(table, args.output)
    else:
        print(f"{'block':10s} {'max_abs_error':>14s} {'max_rel_error':>14s}  passed")
        for row in table["blocks"]:
            print(f"{row['block']:10s} {row['max_abs_error']:14.3e} {row['max_rel_error']:14.3e}  {row['passed']}")
    if not table["passed"]:
        log.warning("gradient check failed: relative error above %g", args.max_rel_error)
        if args.strict:
            return EXIT_DATA
    return 0


def _cmd_info(args):
    if args.json:
        _write_json(sio.file_info(args.path), None)
    else:
        print(sio.describe(args.path))
    return 0


# ---------------------------------------------------------------------------
# parser
# ---------------------------------------------------------------------------


def _number(kind, *, low=0, low_open=True, finite=True):
    """An argparse type: a number of ``kind`` above ``low`` (and finite), else a usage error."""
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'}, "
                                             f"got {text!r}") from None
        if (finite and not np.isfinite(value)) or not (value > low if low_open else value >= low):
            bound = f"> {low}" if low_open else f">= {low}"
            what = "an integer" if kind is int else ("a finite number" if finite else "a number")
            raise argparse.ArgumentTypeError(f"must be {what} {bound}, got {text!r}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its messages
    return parse


_POSITIVE = _number(float)
_POSITIVE_INT = _number(int)


def build_parser():
    """The argparse parser of ``softmax-nb`` (exposed for documentation and tests)."""
    parser = _Parser(
        prog=PROG,
        description="Softmax (multinomial logistic regression) classifier on Numba kernels.",
        epilog="Run 'softmax-nb COMMAND --help' for a command's options.",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors on stderr")
    from . import __version__

    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    # -q also after the command name; SUPPRESS keeps the top-level value when absent.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                        help="only warnings and errors on stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    _add_parser = sub.add_parser

    def add_parser(name, **kwargs):
        return _add_parser(name, parents=[common], **kwargs)

    sub.add_parser = add_parser
    sub.required = True

    d = {key: dataset_default(key) for key in ("source", "val_fraction", "test_fraction", "seed", "dtype")}
    p = sub.add_parser("prepare", help="load a data source, split and standardize it, write a dataset .h5",
                       description="Load a data source, make a stratified train/val/test split, standardize "
                                   "with statistics of the training rows, and write a dataset HDF5 file. "
                                   "With --config/--dataset the entry is prepared exactly as the workflow "
                                   "prepares it; every default is the workflow's (config/README.md).")
    p.add_argument("-o", "--output", required=True, help="dataset file to write (.h5)")
    p.add_argument("--source", choices=sorted(datasets.SOURCES),
                   help=f"data source (default {d['source']}); its options go in --arg")
    p.add_argument("--arg", action="append", metavar="KEY=VALUE",
                   help="a source option, repeatable: path=data.csv, label_column=label, n_samples=5000, "
                        "images=a.gz, labels=b.gz, x_key=X, x_path=X.npy, y_path=y.npy, labels_path=y.txt ...")
    p.add_argument("--test-arg", action="append", metavar="KEY=VALUE",
                   help="options of a second source of the same kind whose rows are the test split "
                        "(e.g. the official MNIST test files); implies --test-fraction 0")
    p.add_argument("--config", help="workflow configuration file (config/config.yaml)")
    p.add_argument("--dataset", help="name of the dataset entry in --config; the flags below override its keys")
    p.add_argument("--val-fraction", type=float,
                   help=f"fraction of rows for validation (default {d['val_fraction']})")
    p.add_argument("--test-fraction", type=float,
                   help=f"fraction of rows for the test split (default {d['test_fraction']})")
    p.add_argument("--seed", type=int, help=f"seed of the split (default {d['seed']})")
    p.add_argument("--no-standardize", action="store_true", help="store the features as they are")
    p.add_argument("--no-stratify", action="store_true", help="plain seeded random split")
    p.add_argument("--dtype", choices=["float32", "float64"],
                   help=f"stored feature dtype, in memory and out of core (default {d['dtype']})")
    p.add_argument("--chunk-rows", type=int, help="rows per HDF5 chunk (default ~1 MiB chunks; 0 = contiguous)")
    p.add_argument("--compression", choices=["lzf", "gzip"], help="HDF5 compression of X and y")
    p.add_argument("--max-samples", type=int, help="stratified subsample of this many rows before splitting")
    p.add_argument("--out-of-core", action="store_true",
                   help="convert a large csv/npz/svmlight/npy/hdf5/idx/fashion_mnist source block by block, "
                        "never holding X whole")
    p.add_argument("--block-rows", type=int,
                   help="rows per block with --out-of-core (default: blocks of ~64 MiB of float64)")
    p.set_defaults(func=_cmd_prepare)

    p = sub.add_parser("train", help="train a SoftmaxClassifier on a dataset .h5, write a model .h5",
                       description="Fit a SoftmaxClassifier on the train split (the val split is the eval_set "
                                   "recorded in the history) and write a model HDF5 file.")
    p.add_argument("data", help="dataset file from 'prepare'")
    p.add_argument("-o", "--output", required=True, help="model file to write (.h5)")
    p.add_argument("--history", help="also write the training history (.csv or .json)")
    p.add_argument("--config", help="workflow configuration file; hyperparameters from models.NAME")
    p.add_argument("--model", help="name of the model entry in --config")
    p.add_argument("--params", help="hyperparameters as a JSON object or a JSON file")
    for key, flag, kwargs, _ in _hyperparameter_options():
        p.add_argument(flag, dest=key, **kwargs)
    p.add_argument("--class-weight", help="'balanced' or a JSON object {label: weight}")
    p.add_argument("-v", "--verbose", action="count", default=None,
                   help="print one line per iteration to stdout (repeatable: -vv)")
    for key, (flag, _, text) in _EXTRA_BOOL_FLAGS.items():
        p.add_argument(flag, dest=key, action="store_true", help=text)
    p.add_argument("--init-model", help="model file to start from (warm start)")
    p.add_argument("--threads", type=int, help="numba threads (numba.set_num_threads)")
    p.add_argument("--no-eval", action="store_true", help="do not record validation metrics in the history")
    p.add_argument("--config-hash", help="hash of the configuration, recorded in the model file")
    p.add_argument("--checkpoint", help="training checkpoint file (default: OUTPUT.ckpt); removed once "
                   "the model is written")
    every, seconds = HYPERPARAMETERS["checkpoint_every"], HYPERPARAMETERS["checkpoint_seconds"]
    p.add_argument("--checkpoint-every", type=_POSITIVE_INT, default=every,
                   help=f"checkpoint every N iterations (default {every})")
    p.add_argument("--checkpoint-seconds", type=_number(float, finite=False), default=seconds,
                   help=f"and at least every S seconds (default {seconds:g})")
    p.add_argument("--no-checkpoint", action="store_true", help="write no checkpoints")
    p.add_argument("--max-memory-mb", type=_POSITIVE,
                   help="stream the dataset file in row blocks within this memory budget (MiB above the "
                        "interpreter's baseline) instead of loading it; checkpoints and --resume work "
                        "as in memory (docs/OUT_OF_CORE.md)")
    p.add_argument("--resume", action="store_true",
                   help="continue from the checkpoint if there is one (after a kill or SIGTERM)")
    p.add_argument("--mpi", action="store_true",
                   help="train one model over the ranks of mpiexec or srun, each reading only its rows "
                        "(on by default when launched with several ranks; needs mpi4py: docs/CLUSTER.md)")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("evaluate", help="metrics JSON of a model on a split of a dataset",
                       description="Accuracy, mean log-loss, per-class precision/recall/F1, confusion matrix "
                                   "and expected calibration error of a model on one split.")
    p.add_argument("model", help="model file")
    p.add_argument("data", help="dataset file")
    p.add_argument("--split", default="test", choices=list(sio.SPLITS))
    p.add_argument("-o", "--output", help="metrics JSON to write (default: stdout)")
    bins = default("evaluate", "ece_bins")
    p.add_argument("--bins", type=_number(int, low=2, low_open=False), default=bins, help=f"calibration bins (default {bins})")
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser("gradcheck", help="finite-difference check of the gradient at a trained model",
                       description="Compare the analytic gradient of the objective at the model's parameters "
                                   "with central differences on a sample of rows.")
    p.add_argument("model", help="model file")
    p.add_argument("data", help="dataset file")
    p.add_argument("--split", default="train", choices=list(sio.SPLITS))
    check = defaults("gradcheck")
    p.add_argument("--n-samples", type=_POSITIVE_INT, default=check["n_samples"],
                   help=f"rows to use (default {check['n_samples']})")
    p.add_argument("--eps", type=_POSITIVE, default=check["eps"],
                   help=f"central-difference step (default {check['eps']:g})")
    p.add_argument("--seed", type=int, default=0, help="seed of the row sample")
    p.add_argument("--max-rel-error", type=_POSITIVE, default=check["max_rel_error"],
                   help=f"pass threshold (default {check['max_rel_error']:g})")
    p.add_argument("--strict", action="store_true", help="exit 1 when the check fails")
    p.add_argument("-o", "--output", help="write the table (.json or .csv) instead of printing it")
    p.set_defaults(func=_cmd_gradcheck)

    p = sub.add_parser("info", help="describe a dataset or model file",
                       description="Check a softmax_nb HDF5 file and describe its contents.")
    p.add_argument("path", help="dataset or model file")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=_cmd_info)

    p = sub.add_parser("predict", help="predicted labels and probabilities as CSV",
                       description="Predict with a model; DATA is a dataset file (one split, already "
                                   "standardized) or raw features in .npy/.csv (the model's stored "
                                   "standardization is applied).")
    p.add_argument("model", help="model file")
    p.add_argument("data", help="dataset .h5, or raw features .npy/.csv")
    p.add_argument("--split", default="test", choices=list(sio.SPLITS), help="split of a dataset file")
    p.add_argument("-o", "--output", required=True, help="CSV to write ('-': standard output)")
    p.add_argument("--no-proba", action="store_true", help="labels only")
    p.add_argument("--id-column", default=None,
                   help="CSV column (name or index) that identifies the rows: not a feature, written as "
                        "the first output column instead of the row number")
    p.set_defaults(func=_cmd_predict)
    return parser


def _configure_logging(level):
    """Log lines of the package on the current stderr, prefixed with the program name.

    Configured on every call (not with ``logging.basicConfig``, which works only
    once per process), so repeated in-process calls log to the stderr of the time.
    """
    logger = logging.getLogger("softmax_nb")
    for handler in list(logger.handlers):
        if getattr(handler, "_softmax_nb_cli", False):
            logger.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"{PROG}: %(message)s"))
    handler._softmax_nb_cli = True
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False


def _log_warning(message, category, filename, lineno, file=None, line=None):
    log.warning("warning: %s (%s)", message, category.__name__)


def _one_line(exc):
    """The error as one line (HDF5's messages span several); a full disk says so first."""
    text = " ".join(str(exc).split())
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC and "free space" not in text:
        text = f"no space left on the device ({text})"
    return text


#: The MPI communicator of a ``train --mpi`` run, once it is started.
_MPI = {"comm": None}


def _exit(parser, code, message):
    """Print the error and exit; over several MPI ranks, end them all (no rank waits for a failed one)."""
    comm = _MPI["comm"]
    several = comm is not None and comm.size > 1
    where = f" (MPI rank {comm.rank} of {comm.size})" if several else ""
    if several:
        sys.stderr.write(f"{PROG}: error{where}: {message}\n")
        sys.stderr.flush()
        time.sleep(0.5)  # the launcher forwards the line before MPI_Abort ends the job
        comm.Abort(code)
        os._exit(code)
    parser.exit(code, f"{PROG}: error: {message}\n")


def main(argv=None):
    """Run ``softmax-nb``; returns the exit status (0 success, 1 data error, 2 usage)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging(logging.WARNING if args.quiet else logging.INFO)
    debug = os.environ.get("SOFTMAX_NB_DEBUG", "") not in ("", "0")
    try:
        with warnings.catch_warnings():
            # Warnings (a ConvergenceWarning, say) as one log line each, like the
            # rest of the output, instead of Python's two-line file:line form.
            warnings.showwarning = _log_warning
            return args.func(args)
    except CLIError as exc:
        if debug:
            raise
        _exit(parser, exc.code, str(exc))
    except TrainingInterrupted as exc:
        # 128 + SIGTERM, as a shell reports a process ended by that signal.
        parser.exit(143, f"{PROG}: error: {exc}\n")
    except (FileNotFoundError, IsADirectoryError, PermissionError) as exc:
        if debug:
            raise
        message = str(exc) if exc.filename is None else f"{exc.strerror}: {exc.filename!r}"
        _exit(parser, EXIT_DATA, message)
    except (ValueError, OSError, ArithmeticError) as exc:
        # Library errors (DataError, FileFormatError, the estimator's input checks,
        # a diverging optimiser's FloatingPointError) carry a message meant for the user.
        if debug:
            raise
        _exit(parser, EXIT_DATA, _one_line(exc))
    except KeyboardInterrupt:
        parser.exit(130, f"{PROG}: error: interrupted\n")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
