"""One table of hyperparameter defaults and rules, read by the estimator, partial_fit,
the CLI and the workflow's schema."""

import inspect

import numpy as np
import pytest

from softmax_nb import SoftmaxClassifier
from softmax_nb.cli import build_parser
from softmax_nb.model import hyperparameters
from softmax_nb.model.incremental import IncrementalTrainer
from softmax_nb.settings import defaults
from softmax_nb.settings.config import ConfigError, validate_config


def test_estimator_defaults_are_the_schemas():
    signature = {name: p.default for name, p in inspect.signature(SoftmaxClassifier).parameters.items()}
    assert signature == hyperparameters.DEFAULTS
    for key, value in defaults("model").items():
        if key not in ("threads", "max_memory_mb", "tasks"):
            assert signature[key] == value, key


def test_cli_train_has_an_option_for_every_model_key():
    parser = build_parser()
    train = next(action for action in parser._actions if action.dest == "command").choices["train"]
    dests = {action.dest for action in train._actions}
    # tasks: the launcher's (mpiexec -n TASKS softmax-nb train, or --mpi), not a train option
    assert set(defaults("model")) <= dests | {"max_memory_mb", "tasks"}
    checkpoint_every = next(a for a in train._actions if a.dest == "checkpoint_every")
    assert checkpoint_every.default == hyperparameters.DEFAULTS["checkpoint_every"]


@pytest.mark.parametrize("key, value", [
    ("C", 0.0), ("tol", -1.0), ("max_iter", -1), ("l1_ratio", 1.5), ("batch_size", 0), ("momentum", 1.0),
    ("label_smoothing", 1.0), ("validation_fraction", 1.0), ("n_iter_no_change", 0),
    ("learning_rate", 0.0), ("solver", "newton"), ("lr_schedule", "step"), ("device", "tpu"),
    ("dtype", "float16"),
])
def test_the_workflow_and_the_estimator_refuse_the_same_values(key, value):
    with pytest.raises(ConfigError, match=key):
        validate_config({"models": {"m": {key: value}}})
    with pytest.raises((ValueError, TypeError), match=key):
        SoftmaxClassifier(**{key: value})._check_params()
    with pytest.raises((ValueError, TypeError), match=key):
        IncrementalTrainer([0, 1], {"solver": "sgd", key: value} if key != "solver" else {key: value})


def test_l1_needs_a_full_batch_solver_in_every_layer():
    # The workflow's start-up check of a model entry (common.smk) and the estimator's.
    with pytest.raises(ConfigError, match="models.m.l1_ratio: l1_ratio > 0 needs solver 'lbfgs'"):
        hyperparameters.check_model_entry("m", {"solver": "sgd", "l1_ratio": 0.5})
    with pytest.raises(ValueError, match="l1_ratio > 0 needs solver"):
        SoftmaxClassifier(solver="adam", l1_ratio=1.0)._check_params()
    hyperparameters.check_model_entry("m", {"solver": "gd", "l1_ratio": 0.5})
    hyperparameters.check_model_entry("n", {"solver": "sgd", "l1_ratio": 0})


def test_values_the_schema_allows_are_accepted():
    hyperparameters.check({**hyperparameters.DEFAULTS, "C": np.inf, "dtype": np.float32,
                           "checkpoint_seconds": np.inf, "learning_rate": None})


def test_complete_fills_defaults_and_names_unknown_keys():
    params = hyperparameters.complete({"solver": "adam"})
    assert params.solver == "adam" and params.tol == hyperparameters.DEFAULTS["tol"]
    with pytest.raises(TypeError, match="unknown hyperparameter"):
        hyperparameters.complete({"penalty": "l1"})


@pytest.mark.parametrize("params, message", [
    ({"label_smoothing": "0.1"}, "label_smoothing must be a number"),
    ({"momentum": "x"}, "momentum must be a number"),
    ({"random_state": "x"}, "random_state must be None"),
    ({"fit_intercept": "no"}, "fit_intercept must be True or False"),
    ({"checkpoint_every": 0}, "checkpoint_every must be a positive integer"),
    ({"class_weight": {0: float("nan")}}, r"class_weight\[0\] must be a finite number"),
])
def test_python_api_names_the_bad_parameter(params, message):
    X, y = np.random.default_rng(0).standard_normal((30, 3)), np.arange(30) % 3
    with pytest.raises((ValueError, TypeError), match=message):
        SoftmaxClassifier(**params).fit(X, y)


def test_eval_set_of_mismatched_lengths_is_named():
    X, y = np.random.default_rng(0).standard_normal((30, 3)), np.arange(30) % 3
    with pytest.raises(ValueError, match="eval_set: X_val has 5 rows but y_val has shape"):
        SoftmaxClassifier().fit(X, y, eval_set=(X[:5], y[:4]))
