"""The estimator's hyperparameters: their defaults and their checks, in one place.

Defaults of the hyperparameters a configuration file can set come from the
configuration schema (:mod:`softmax_nb.settings`, the one table the workflow and
the CLI read too); the run-time ones (threads, verbosity, checkpoints) are set here.
``SoftmaxClassifier``'s signature, ``partial_fit``'s trainer and the CLI's option
defaults all read :data:`DEFAULTS`, and all of them call :func:`check`.
"""

import types

import numpy as np

from ..settings import choices, defaults

#: Keys of a workflow model entry that are not estimator parameters.
_CONFIG_ONLY = ("max_memory_mb", "threads")

DEFAULTS = {key: value for key, value in defaults("model").items() if key not in _CONFIG_ONLY}
DEFAULTS.update(warm_start=False, n_threads=None, verbose=0, checkpoint_path=None,
                checkpoint_every=10, checkpoint_seconds=300.0)

#: Hyperparameters that do not shape the optimisation path: a resume may change them.
RUN_ONLY = frozenset({"verbose", "n_threads", "max_iter", "device", "warm_start", "checkpoint_path",
                      "checkpoint_every", "checkpoint_seconds"})

SOLVERS = choices("model", "solver")
LR_SCHEDULES = choices("model", "lr_schedule")
DEVICES = choices("model", "device")


def _positive(name, value, allow_inf=False):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        raise TypeError(f"{name} must be a number, got {value!r}")
    if not value > 0 or (not allow_inf and not np.isfinite(value)):
        raise ValueError(f"{name} must be positive{'' if allow_inf else ' and finite'}, got {value!r}")


def check(params):
    """Raise TypeError / ValueError naming the first bad hyperparameter in ``params``."""
    _positive("C", params["C"], allow_inf=True)
    _positive("tol", params["tol"])
    if params["solver"] not in SOLVERS:
        raise ValueError(f"solver must be one of {SOLVERS}, got {params['solver']!r}")
    for name in ("max_iter", "batch_size", "n_iter_no_change", "checkpoint_every"):
        value = params[name]
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    _positive("checkpoint_seconds", params["checkpoint_seconds"], allow_inf=True)
    if params["learning_rate"] is not None:
        _positive("learning_rate", params["learning_rate"])
    if params["lr_schedule"] not in LR_SCHEDULES:
        raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}, got {params['lr_schedule']!r}")
    if not 0.0 <= params["label_smoothing"] < 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1), got {params['label_smoothing']!r}")
    if not 0.0 <= params["momentum"] < 1.0:
        raise ValueError(f"momentum must be in [0, 1), got {params['momentum']!r}")
    if not 0.0 < params["validation_fraction"] < 1.0:
        raise ValueError(f"validation_fraction must be in (0, 1), got {params['validation_fraction']!r}")
    if params["dtype"] not in (None, "float32", "float64", np.float32, np.float64):
        raise ValueError(f"dtype must be None, 'float32' or 'float64', got {params['dtype']!r}")
    if params["device"] not in DEVICES:
        raise ValueError(f"device must be one of {DEVICES}, got {params['device']!r}")


def complete(params=None):
    """``params`` with every default filled in and checked, as attributes (a namespace).

    Raises
    ------
    TypeError
        For a key that is no hyperparameter (as the estimator's constructor would).
    """
    params = dict(params or {})
    unknown = sorted(set(params) - set(DEFAULTS))
    if unknown:
        raise TypeError(f"unknown hyperparameter(s): {', '.join(unknown)}")
    full = {**DEFAULTS, **params}
    check(full)
    return types.SimpleNamespace(**full)
