"""The estimator's hyperparameters: their defaults and their checks, in one place.

Defaults and value rules (type, range, choices) of the hyperparameters a
configuration file can set come from the configuration schema
(:mod:`softmax_nb.settings`, the one table the workflow and the CLI read too); the
run-time ones (threads, verbosity, checkpoints) are set here. ``SoftmaxClassifier``'s
signature, ``partial_fit``'s trainer and the CLI's option defaults all read
:data:`DEFAULTS`, and all of them call :func:`check`.
"""

import functools
import types

import numpy as np

from ..settings import choices, defaults

#: Keys of a workflow model entry that are not estimator parameters.
_CONFIG_ONLY = ("max_memory_mb", "threads", "tasks")

DEFAULTS = {key: value for key, value in defaults("model").items() if key not in _CONFIG_ONLY}
DEFAULTS.update(warm_start=False, n_threads=None, verbose=0, checkpoint_path=None,
                checkpoint_every=10, checkpoint_seconds=60.0)

#: Hyperparameters that do not shape the optimisation path: a resume may change them.
RUN_ONLY = frozenset({"verbose", "n_threads", "max_iter", "device", "warm_start", "checkpoint_path",
                      "checkpoint_every", "checkpoint_seconds"})

SOLVERS = choices("model", "solver")
#: Solvers that take minibatch steps (one step() is an epoch); the others are full-batch.
MINIBATCH_SOLVERS = ("sgd", "adam")
LR_SCHEDULES = choices("model", "lr_schedule")
DEVICES = choices("model", "device")


#: Value rules of the run-time hyperparameters, in the schema's terms.
_RUN_TIME_RULES = {
    "checkpoint_every": {"type": "integer", "minimum": 1},
    "checkpoint_seconds": {"type": "number", "exclusiveMinimum": 0},
}
#: Keys whose rules the estimator checks itself (it accepts more than a config file can say:
#: a RandomState, a dict of class weights keyed by any label type).
_CHECKED_ELSEWHERE = {"random_state", "class_weight"}
#: Positive keys that may be infinite (C = inf: no penalty; never checkpoint by time).
_MAY_BE_INFINITE = {"C", "checkpoint_seconds"}


@functools.lru_cache(maxsize=1)
def _rules():
    from ..settings import schema

    rules = dict(schema()["$defs"]["model"]["properties"])
    rules.update(_RUN_TIME_RULES)
    return {key: rule for key, rule in rules.items() if key in DEFAULTS and key not in _CHECKED_ELSEWHERE}


def _check_value(name, value, rule):
    """One value against its schema rule; the error names the parameter and the rule."""
    kinds = rule.get("type", [])
    kinds = kinds if isinstance(kinds, list) else [kinds]
    if value is None:
        if "null" in kinds or None in rule.get("enum", ()):
            return
        raise ValueError(f"{name} must not be None")
    if "enum" in rule:
        allowed = tuple(option for option in rule["enum"] if option is not None)
        if name == "dtype" and value in (np.float32, np.float64):
            return
        if value not in allowed:
            raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
        return
    if "boolean" in kinds:
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"{name} must be True or False, got {value!r}")
        return
    low = rule.get("minimum", rule.get("exclusiveMinimum"))
    high = rule.get("maximum", rule.get("exclusiveMaximum"))
    if "integer" in kinds:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or (low is not None and value < low):
            what = "a positive integer" if low == 1 else f"an integer >= {low}"
            raise ValueError(f"{name} must be {what}, got {value!r}")
        return
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        raise TypeError(f"{name} must be a number, got {value!r}")
    if high is None and rule.get("exclusiveMinimum") == 0:
        finite = name not in _MAY_BE_INFINITE
        if not value > 0 or (finite and not np.isfinite(value)):
            raise ValueError(f"{name} must be positive{' and finite' if finite else ''}, got {value!r}")
        return
    above = value > low if "exclusiveMinimum" in rule else value >= low
    below = value < high if "exclusiveMaximum" in rule else value <= high
    if not (above and below):
        left = "(" if "exclusiveMinimum" in rule else "["
        right = ")" if "exclusiveMaximum" in rule else "]"
        raise ValueError(f"{name} must be in {left}{low:g}, {high:g}{right}, got {value!r}")


def check_l1_solver(solver):
    """An L1 part needs a solver that handles it (OWL-QN or FISTA): refuse the others."""
    if solver in MINIBATCH_SOLVERS:
        raise ValueError(f"l1_ratio > 0 needs solver 'lbfgs' (OWL-QN) or 'gd' (FISTA); {solver} "
                         "takes no proximal steps")


def _check_combination(params):
    """Rules between keys: an L1 part needs a solver that handles it."""
    l1_ratio = params.get("l1_ratio", 0.0) or 0.0
    if isinstance(l1_ratio, (int, float)) and l1_ratio > 0:
        check_l1_solver(params.get("solver", DEFAULTS["solver"]))


def check(params):
    """Raise TypeError / ValueError naming the first bad hyperparameter in ``params``.

    The rules are the configuration schema's (type, range, choices): a value the
    workflow would refuse, the estimator refuses too, with the same bounds.
    """
    for name, rule in _rules().items():
        if name in params:
            _check_value(name, params[name], rule)
    _check_combination(params)
    seed = params.get("random_state")
    if not (seed is None or isinstance(seed, (np.random.RandomState, np.random.Generator))
            or (isinstance(seed, (int, np.integer)) and not isinstance(seed, bool) and seed >= 0)):
        raise ValueError(f"random_state must be None, an integer >= 0, a numpy RandomState or Generator, "
                         f"got {seed!r}")


def parameter_constraints():
    """The estimator's ``_parameter_constraints`` (scikit-learn's validation), built from the
    same schema rules as :func:`check`, plus the keys the schema does not describe."""
    import numbers
    import os

    from sklearn.utils._param_validation import Interval, StrOptions

    constraints = {}
    for name, rule in _rules().items():
        kinds = rule.get("type", [])
        kinds = kinds if isinstance(kinds, list) else [kinds]
        allowed = [None] if "null" in kinds or None in rule.get("enum", ()) else []
        if "enum" in rule:
            options = {option for option in rule["enum"] if option is not None}
            allowed.append(StrOptions(options))
            if name == "dtype":
                allowed.append(type)  # numpy.float32 / float64 themselves (check() narrows it)
        elif "boolean" in kinds:
            allowed.append("boolean")
        else:
            kind = numbers.Integral if "integer" in kinds else numbers.Real
            low = rule.get("minimum", rule.get("exclusiveMinimum"))
            high = rule.get("maximum", rule.get("exclusiveMaximum"))
            # An unbounded interval is closed at inf only for the keys that may be infinite.
            closed_high = "maximum" in rule or (high is None and name in _MAY_BE_INFINITE)
            closed = {(True, True): "both", (True, False): "left", (False, True): "right",
                      (False, False): "neither"}[("minimum" in rule, closed_high)]
            allowed.append(Interval(kind, low, high, closed=closed))
        constraints[name] = allowed
    constraints.update(
        class_weight=[dict, StrOptions({"balanced"}), None],
        random_state=["random_state"],
        warm_start=["boolean"],
        n_threads=[Interval(numbers.Integral, 1, None, closed="left"), None],
        verbose=["verbose"],
        checkpoint_path=[str, os.PathLike, None],
    )
    return constraints


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


def check_model_entry(name, entry):
    """Check a workflow ``models.<name>`` entry with the estimator's rules.

    Raises
    ------
    softmax_nb.settings.config.ConfigError
        Naming the key (``models.NAME.KEY: ...``).
    """
    from ..settings.config import ConfigError

    params = {key: value for key, value in entry.items() if key in DEFAULTS}
    for key, value in params.items():
        rule = _rules().get(key)
        if rule is None:
            continue
        try:
            _check_value(key, value, rule)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"models.{name}.{key}: {exc}") from None
    try:
        _check_combination(params)
    except ValueError as exc:
        raise ConfigError(f"models.{name}.l1_ratio: {exc}") from None
