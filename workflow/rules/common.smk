"""Configuration checks, the run list and input/resource functions shared by all rules."""

import hashlib
import importlib
import json
import math
import os
import re
import shlex
from pathlib import Path

import yaml

from snakemake.utils import validate

from softmax_nb.data.preparation import check_dataset_entry, entry_files
from softmax_nb.data.sources import SPARSE_SOURCES
from softmax_nb.settings import SCHEMA_PATH
from softmax_nb.model.hyperparameters import MINIBATCH_SOLVERS, check_model_entry
from softmax_nb.settings.config import ConfigError, check_unique_keys

# ---------------------------------------------------------------------------
# configuration
# ---------------------------------------------------------------------------

# Types, ranges and unknown keys (with the defaults filled in) come from the schema;
# the checks that span several keys, which a JSON schema cannot say clearly, come
# from the library (check_dataset_entry: the same checks prepare_from_config runs).
# YAML keeps the last of two equal keys silently: refuse them in every config file.
for _configfile in workflow.configfiles:
    check_unique_keys(_configfile)


def _user_run_list():
    """The run list of the last --configfile that has one (None: no such file)."""
    run = None
    for path in workflow.overwrite_configfiles or ():
        with open(path) as handle:
            data = yaml.safe_load(handle)
        if isinstance(data, dict) and "run" in data:
            run = data["run"]
    return run


# Snakemake merges a --configfile into config/config.yaml key by key, so a user's
# `run: {mine: all}` would keep the default `digits: all` too: a run list in a user's
# config file replaces the default one instead (datasets and models still merge).
_user_run = _user_run_list()
if _user_run is not None:
    config["run"] = _user_run
# A single grid may be written without the list around it.
if isinstance(config.get("sweep"), dict):
    config["sweep"] = [config["sweep"]]
validate(config, str(SCHEMA_PATH))


def _expand_sweep(cfg):
    """Add the models of the sweep: section to models: (softmax_nb.sweep.expand_sweep)."""
    if not cfg["sweep"]:
        return
    from softmax_nb.sweep import expand_sweep

    from softmax_nb.settings import defaults

    model_keys = defaults("model")
    cfg["models"] = expand_sweep(cfg["sweep"], cfg["models"], allowed_keys=model_keys)


_expand_sweep(config)
# Again, so the generated models get their defaults and their values are checked.
validate(config, str(SCHEMA_PATH))


def cuda_status():
    """Return ``(usable, reason)`` for the CUDA backend on the machine running Snakemake."""
    try:
        gpu_kernels = importlib.import_module("softmax_nb.kernels.cuda")
    except ImportError as error:
        return (
            False,
            f"the CUDA backend softmax_nb.kernels.cuda cannot be imported ({error})",
        )
    if not hasattr(gpu_kernels, "cuda_available"):
        return (
            False,
            "softmax_nb.kernels.cuda has no cuda_available(); CUDA is treated as unavailable",
        )
    if gpu_kernels.cuda_available():
        return True, "a CUDA GPU is usable"
    return False, "no usable CUDA GPU was found (numba-cuda sees none)"


def _build_runs(cfg):
    """The (dataset, model) pairs to train, checked against the defined names."""
    runs = []
    for dataset, models in cfg["run"].items():
        if dataset not in cfg["datasets"]:
            raise ConfigError(
                f"run.{dataset} names dataset {dataset!r}, which is not defined under datasets "
                f"(defined: {', '.join(sorted(cfg['datasets'])) or 'none'})"
            )
        names = sorted(cfg["models"]) if models == "all" else list(models)
        if not names:
            raise ConfigError(
                f"run.{dataset} is 'all' but no models are defined under models"
            )
        for model in names:
            if model not in cfg["models"]:
                raise ConfigError(
                    f"run.{dataset} names model {model!r}, which is not defined under models "
                    f"(defined: {', '.join(sorted(cfg['models'])) or 'none'})"
                )
            runs.append((dataset, model))
    if not runs:
        raise ConfigError("run is empty: name at least one dataset and its models")
    return runs


def _check_sources_exist(cfg, runs):
    """A source file that has gone away must stop the run: Snakemake alone would keep
    using the dataset file prepared from it earlier, without a word."""
    for dataset in sorted({dataset for dataset, _ in runs}):
        for path in entry_files(cfg["datasets"][dataset]):
            if not os.path.exists(path):
                prepared = f"results/data/{dataset}.h5"
                note = (
                    f"; {prepared} was prepared from it and is not used without it"
                    if os.path.exists(prepared)
                    else ""
                )
                raise ConfigError(
                    f"datasets.{dataset}: the source file {str(path)!r} does not exist{note} "
                    "(restore the file, correct the path, or remove the dataset from run)"
                )


def check_config(cfg):
    """Checks across keys, run at start-up before any job; raises ConfigError naming the key."""
    for name, dataset in cfg["datasets"].items():
        check_dataset_entry(name, dataset)
    for name, model in cfg["models"].items():
        # The estimator's own rules (a YAML 10.0 for max_iter, C: .nan), before any job.
        check_model_entry(name, model)
    for name, model in cfg["models"].items():
        if model["tasks"] > 1 and (
            model["solver"] in MINIBATCH_SOLVERS or model["device"] == "cuda"
        ):
            what = (
                f"solver {model['solver']!r}"
                if model["solver"] in MINIBATCH_SOLVERS
                else "device 'cuda'"
            )
            raise ConfigError(
                f"models.{name}.tasks: {model['tasks']} MPI tasks need a full-batch solver "
                f"(lbfgs, gd) on the CPU, not {what}; set tasks: 1"
            )
    runs = _build_runs(cfg)
    _check_sources_exist(cfg, runs)
    cuda_models = sorted({m for _, m in runs if cfg["models"][m]["device"] == "cuda"})
    # Only where jobs run on this machine: a cluster's login node (or a CPU job on
    # a CPU node) has no GPU, while the cuda jobs land on GPU nodes.
    if cuda_models and workflow.local_exec and not workflow.remote_exec:
        usable, reason = cuda_status()
        if not usable:
            keys = ", ".join(f"models.{m}.device" for m in cuda_models)
            raise ConfigError(f"{keys} is 'cuda' but {reason}; use 'cpu' or 'auto'")
    return runs


RUNS = check_config(config)
DATASETS = sorted({dataset for dataset, _ in RUNS})
PLOT_EXT = config["plots"]["format"]


# ---------------------------------------------------------------------------
# helpers for rules
# ---------------------------------------------------------------------------


def models_of(dataset):
    return [m for d, m in RUNS if d == dataset]


def dataset_metrics(wildcards):
    """The metrics files of every model run on one dataset."""
    return [
        f"results/metrics/{wildcards.dataset}/{model}.json"
        for model in models_of(wildcards.dataset)
    ]


# Fewest values of C for a sweep figure (see c_sweep_groups).
MIN_SWEEP_POINTS = 3


def c_sweep_groups(dataset):
    """Models of a dataset that differ only in C, grouped: {line label: [model names]}.

    Groups with at least three values of C become lines of the sweep figure
    (validation loss against C): two points only make a straight line that says
    nothing about where the optimum lies. The label names the settings that tell the
    groups apart.
    """
    groups = {}
    for model in models_of(dataset):
        settings = {
            k: v
            for k, v in config["models"][model].items()
            if k not in ("C", "threads")
        }
        groups.setdefault(json.dumps(settings, sort_keys=True), []).append(model)
    groups = {
        key: models
        for key, models in groups.items()
        if len({config["models"][m]["C"] for m in models}) >= MIN_SWEEP_POINTS
    }
    labels = {}
    for key, models in groups.items():
        values = json.loads(key)
        # Name a line by its solver and the settings that differ from other lines of that solver.
        same_solver = [
            json.loads(k) for k in groups if json.loads(k)["solver"] == values["solver"]
        ]
        varying = sorted(
            k for k in values if len({json.dumps(s[k]) for s in same_solver}) > 1
        )
        labels[
            ", ".join([values["solver"]] + [f"{k}={values[k]}" for k in varying])
        ] = models
    return labels


def code_version(folder=None):
    """The git commit of the workflow's code: {"commit", "dirty", "note"}.

    ``commit`` is ``git rev-parse HEAD`` of the folder of the Snakefile, or None when
    that folder is not a git checkout (or git is missing); ``dirty`` says whether
    tracked files differ from the commit or untracked files exist (``git status
    --porcelain``, ignored files such as results/ not counted).
    """
    import subprocess

    folder = folder or workflow.basedir

    def git(*args):
        return subprocess.run(
            ["git", "-C", str(folder), *args],
            capture_output=True,
            text=True,
            timeout=30,
        )

    try:
        head = git("rev-parse", "HEAD")
    except (OSError, subprocess.SubprocessError) as error:
        return {"commit": None, "dirty": None, "note": f"git is not usable ({error})"}
    if head.returncode != 0:
        inside = git("rev-parse", "--is-inside-work-tree")
        if inside.returncode != 0:
            return {"commit": None, "dirty": None, "note": "not a git checkout"}
        return {
            "commit": None,
            "dirty": None,
            "note": f"a git checkout without a commit ({head.stderr.strip()})",
        }
    status = git("status", "--porcelain")
    changes = [line for line in status.stdout.splitlines() if line.strip()]
    if status.returncode != 0:
        note = f"git status failed: {status.stderr.strip()}"
    elif changes:
        note = f"uncommitted changes: {len(changes)} file(s) differ from this commit or are untracked"
    else:
        note = "clean: the code is exactly this commit"
    return {
        "commit": head.stdout.strip(),
        "dirty": bool(changes),
        "note": note,
    }


def run_outputs(pattern, **extra):
    """Expand ``pattern`` over every (dataset, model) pair of the run."""
    return [pattern.format(dataset=d, model=m, **extra) for d, m in RUNS]


def model_config(wildcards):
    return config["models"][wildcards.model]


def model_tasks(wildcards):
    """MPI ranks of a model's training job (1: an ordinary job)."""
    return config["models"][wildcards.model]["tasks"]


def mpi_models_pattern(mpi):
    """A regular expression for the model wildcard: the models trained over MPI (or the others)."""
    names = sorted(
        name for name, model in config["models"].items() if (model["tasks"] > 1) == mpi
    )
    return "|".join(re.escape(name) for name in names) or "(?!)"


def model_threads(wildcards):
    threads = config["models"][wildcards.model]["threads"]
    return threads if threads is not None else config["threads"]


def model_uses_gpu(model):
    device = config["models"][model]["device"]
    if device == "cuda":
        return 1
    if device == "auto":
        return 1 if _cuda_usable_cached() else 0
    return 0


_CUDA_CACHE = {}


def _cuda_usable_cached():
    if "usable" not in _CUDA_CACHE:
        _CUDA_CACHE["usable"] = cuda_status()[0]
    return _CUDA_CACHE["usable"]


def source_files(wildcards):
    """The raw input files of a dataset entry (none for digits and synthetic)."""
    return entry_files(config["datasets"][wildcards.dataset])


_DTYPE_BYTES = {"float32": 4, "float64": 8}


def prepare_mem_mb(wildcards, input):
    """Memory of prepare: the raw data as floats, a few copies (split, standardize).

    Out of core, X is held one block at a time (64 MiB of float64 by default),
    with a few working copies; the labels and split indices are small next to X.
    """
    dataset = config["datasets"][wildcards.dataset]
    raw_mb = 0.0
    for path in input:
        size = os.path.getsize(path) / 2**20
        # gzip'd IDX images shrink about 2-5x; assume the worst common case; IDX
        # pixels are 1 byte each, so floats multiply them by the dtype's width.
        expansion = 5.0 if str(path).endswith(".gz") else 1.0
        per_value = (
            _DTYPE_BYTES[dataset["dtype"]]
            if dataset["source"] in ("idx", "fashion_mnist")
            else 1.0
        )
        raw_mb += size * expansion * per_value
    if dataset["source"] == "synthetic":
        raw_mb = dataset["n_samples"] * dataset["n_features"] * 8 / 2**20
    if dataset["out_of_core"]:
        return int(512 + 4 * 64 + 0.1 * raw_mb)
    return int(512 + 4 * raw_mb)


def data_mem_mb(wildcards, input):
    """Memory of a job that loads one dataset file: all splits, plus working copies."""
    return int(512 + 3 * input.size_mb)


def train_mem_mb(wildcards, input):
    """Memory of a training job: the streaming budget plus the interpreter for
    out-of-core models, else that of a job that loads the dataset file."""
    budget = config["models"][wildcards.model].get("max_memory_mb")
    if budget:
        return int(budget + 600)
    return data_mem_mb(wildcards, input)


def train_runtime(wildcards, input):
    """Minutes for a training job, with a wide margin: passes over the data grow with max_iter."""
    max_iter = config["models"][wildcards.model]["max_iter"]
    return int(10 + math.ceil(input.size_mb * max_iter / 2000))


def kernel_needs():
    """The kernel specialisations the run's jobs use, for the compile job: ``train``, one
    entry per distinct (dtype, layout, solver, elastic net, intercept) of RUNS, and
    ``evaluate``, each (dtype, layout) the trained models are evaluated in. The gradient
    check computes in float64 whatever the dtype: a float64 objective for each layout;
    the environment page calls a dense float64 kernel to name the threading layer.
    """
    train, evaluate = set(), {("float64", "dense")}
    for dataset, model in RUNS:
        entry, params = config["datasets"][dataset], config["models"][model]
        layout = "csr" if entry["source"] in SPARSE_SOURCES else "dense"
        train.add(
            (
                params["dtype"] or entry["dtype"],
                layout,
                params["solver"],
                params["l1_ratio"] > 0,
                bool(params["fit_intercept"]),
            )
        )
        train.add(("float64", layout, "lbfgs", False, bool(params["fit_intercept"])))
        evaluate.update({(entry["dtype"], layout), ("float64", layout)})
    keys = ("dtype", "layout", "solver", "elastic_net", "fit_intercept")
    return {
        "train": [dict(zip(keys, need)) for need in sorted(train)],
        "evaluate": [dict(zip(("dtype", "layout"), need)) for need in sorted(evaluate)],
    }


def train_params_json(model):
    """The model's hyperparameters for ``softmax-nb train --params``, shell-quoted JSON.

    Threads go through ``--threads`` (the job's threads) and tasks through the MPI launcher instead.
    """
    params = {
        key: value
        for key, value in config["models"][model].items()
        if key not in ("threads", "tasks")
    }
    return shlex.quote(json.dumps(params, sort_keys=True))


def config_hash(dataset, model):
    """A short hash of everything that determines a model: its dataset and model entries."""
    text = json.dumps(
        {"dataset": config["datasets"][dataset], "model": config["models"][model]},
        sort_keys=True,
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# The figures of every trained model (rule plot_model).
MODEL_FIGURES = (
    "history",
    "confusion",
    "mistakes",
    "per_class",
    "roc_pr",
    "reliability",
    "weights",
)


def final_outputs():
    """The targets of the default run: per-model results, tables, figures and report pages."""
    per_model = [
        "results/metrics/{dataset}/{model}.json",
        "results/gradcheck/{dataset}/{model}.json",
    ] + [
        f"results/plots/{{dataset}}/{{model}}/{figure}.{PLOT_EXT}"
        for figure in MODEL_FIGURES
    ]
    outputs = [path for pattern in per_model for path in run_outputs(pattern)]
    outputs += [
        f"results/plots/{dataset}/comparison.{PLOT_EXT}" for dataset in DATASETS
    ]
    outputs += [
        f"results/plots/{dataset}/sweep_C.{PLOT_EXT}"
        for dataset in DATASETS
        if c_sweep_groups(dataset)
    ]
    outputs += [f"results/report/data/{dataset}.html" for dataset in DATASETS]
    outputs += [
        "results/summary.csv",
        "results/report/summary.html",
        "results/gradcheck.csv",
        "results/report/gradcheck.html",
        "results/report/environment.html",
        "results/report/config.html",
        "results/report/methods.html",
    ]
    return outputs
