"""Tests of the sweep expansion (softmax_nb.sweep)."""

import pytest

from softmax_nb.sweep import SweepError, expand_sweep, format_value

MODEL_KEYS = {"solver", "C", "learning_rate", "batch_size", "epochs", "dtype", "device", "max_iter"}


def test_grid_expands_to_product_with_readable_names_in_fixed_order():
    sweep = {
        "settings": {"solver": "lbfgs", "max_iter": 50},
        "grid": {"C": [0.01, 0.1, 1.0, 10.0], "dtype": ["float32", "float64"]},
    }
    models = expand_sweep(sweep, {}, allowed_keys=MODEL_KEYS)
    assert list(models) == [
        "lbfgs_C0.01_float32",
        "lbfgs_C0.01_float64",
        "lbfgs_C0.1_float32",
        "lbfgs_C0.1_float64",
        "lbfgs_C1_float32",
        "lbfgs_C1_float64",
        "lbfgs_C10_float32",
        "lbfgs_C10_float64",
    ]
    assert models["lbfgs_C0.1_float64"] == {
        "solver": "lbfgs",
        "max_iter": 50,
        "C": 0.1,
        "dtype": "float64",
    }
    # Same input, same names and order: the job list must not change between runs.
    assert list(expand_sweep(sweep, {}, allowed_keys=MODEL_KEYS)) == list(models)


def test_hand_written_models_come_first_and_base_settings_are_inherited():
    base = {"default": {"solver": "sgd", "learning_rate": 0.1, "epochs": 5, "dtype": "float32"}}
    sweep = [
        {"base": "default", "grid": {"learning_rate": [0.01, 0.001], "batch_size": [32, 256]}},
        {"settings": {"solver": "lbfgs"}, "grid": {"C": [1.0]}},
    ]
    models = expand_sweep(sweep, base)
    assert list(models) == [
        "default",
        "sgd_lr0.01_bs32",
        "sgd_lr0.01_bs256",
        "sgd_lr0.001_bs32",
        "sgd_lr0.001_bs256",
        "lbfgs_C1",
    ]
    assert models["sgd_lr0.001_bs256"] == {
        "solver": "sgd",
        "learning_rate": 0.001,
        "epochs": 5,
        "dtype": "float32",
        "batch_size": 256,
    }
    # The caller's mapping is copied, never modified.
    assert base == {"default": {"solver": "sgd", "learning_rate": 0.1, "epochs": 5, "dtype": "float32"}}
    models["default"]["epochs"] = 99
    assert base["default"]["epochs"] == 5


def test_solver_axis_names_and_explicit_template_and_prefix():
    models = expand_sweep({"grid": {"solver": ["lbfgs", "adam"], "C": [1e-4, 1e6]}}, {})
    assert list(models) == ["lbfgs_C0.0001", "lbfgs_C1000000", "adam_C0.0001", "adam_C1000000"]
    models = expand_sweep(
        {"grid": {"C": [0.5, 2.0], "device": ["cpu", "cuda"]}, "name": "m-{device}-{C}"}, {}
    )
    assert list(models) == ["m-cpu-0.5", "m-cuda-0.5", "m-cpu-2", "m-cuda-2"]
    models = expand_sweep({"prefix": "run", "grid": {"epochs": [3]}}, {})
    assert list(models) == ["run_ep3"]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.01, "0.01"),
        (1e-05, "1e-05"),
        (1e20, "1e20"),
        (0.3333333333333333, "0.3333333333333333"),
        (3, "3"),
        (2.0, "2"),
        (True, "true"),
        ("x", "x"),
    ],
)
def test_format_value(value, text):
    assert format_value(value) == text


@pytest.mark.parametrize(
    ("sweep", "message"),
    [
        ({"grid": {"C": []}}, r"sweep\[0\]\.grid\.C: the list of values is empty"),
        ({"grid": {"C": 0.1}}, r"sweep\[0\]\.grid\.C: expected a list of values"),
        ({"grid": {"dtype": "float32"}}, r"grid\.dtype: expected a list"),
        ({"grid": {"C": [1.0, 1.0]}}, r"grid\.C: repeated values"),
        ({"grid": {"C": [[1.0]]}}, r"grid\.C: value \[1\.0\] is not a number"),
        ({"grid": {"C": [float("nan")]}}, r"not finite"),
        ({"grid": {"Cee": [1.0]}}, r"sweep\[0\]\.grid: unknown model setting\(s\) 'Cee'"),
        ({"settings": {"lr": 1}, "grid": {"C": [1.0]}}, r"sweep\[0\]\.settings: unknown model setting\(s\) 'lr'"),
        ({"grid": {}}, r"sweep\[0\]\.grid: expected a non-empty mapping"),
        ({"C": [1.0]}, r"sweep\[0\]: unknown key\(s\) 'C'"),
        ({"base": "nope", "grid": {"C": [1.0]}}, r"sweep\[0\]\.base: no model named 'nope'"),
        ({"settings": {"C": 1.0}, "grid": {"C": [2.0]}}, r"'C' is both a grid axis and a fixed setting"),
        ({"grid": {"C": [1.0]}, "name": "m_{lr}"}, r"sweep\[0\]\.name: template 'm_\{lr\}'"),
        ({"grid": {"solver": ["a b"]}}, r"generated model name 'a b' is not usable"),
        ("lbfgs", r"sweep: expected a mapping or a list"),
        ([{"grid": {"C": [1.0]}}, 3], r"sweep\[1\]: expected a mapping"),
    ],
)
def test_bad_sweeps_fail_with_a_message_naming_the_entry(sweep, message):
    with pytest.raises(SweepError, match=message):
        expand_sweep(sweep, {}, allowed_keys=MODEL_KEYS)


def test_name_collisions_are_reported():
    # Two grids that reach the same point.
    with pytest.raises(SweepError, match=r"'C0.1' is generated twice \(also from sweep\[0\]\)"):
        expand_sweep([{"grid": {"C": [0.1]}}, {"grid": {"C": [0.1]}}], {})
    # Close but distinct values keep distinct names (no rounding in names).
    assert list(expand_sweep({"grid": {"C": [0.1, 0.1000000001]}}, {})) == ["C0.1", "C0.1000000001"]
    with pytest.raises(SweepError, match=r"model name 'lbfgs_C1' is generated twice \(also from models\)"):
        expand_sweep({"settings": {"solver": "lbfgs"}, "grid": {"C": [1.0]}}, {"lbfgs_C1": {"solver": "lbfgs"}})
    # Distinct values with the same short form (1 and 1.0 format alike) collide inside one grid.
    with pytest.raises(SweepError, match=r"'C1' is generated twice"):
        expand_sweep({"grid": {"C": [1, 1.0]}}, {})


def test_boolean_axis_names():
    models = expand_sweep({"prefix": "sgd", "grid": {"nesterov": [True, False]}}, {})
    assert list(models) == ["sgd_nesterov", "sgd_no-nesterov"]


def test_no_sweep_returns_copies_of_the_models():
    base = {"a": {"C": 1.0}}
    assert expand_sweep(None, base) == base
    assert expand_sweep([], base) == base
    with pytest.raises(SweepError, match="models: expected a mapping"):
        expand_sweep(None, ["a"])


def test_large_grid_is_deterministic_and_unique():
    sweep = {
        "settings": {"solver": "sgd"},
        "grid": {
            "learning_rate": [0.3, 0.1, 0.03, 0.01, 0.003],
            "batch_size": [16, 32, 64, 128, 256],
            "C": [0.01, 0.1, 1.0, 10.0],
            "dtype": ["float32", "float64"],
        },
    }
    models = expand_sweep(sweep, {})
    assert len(models) == 5 * 5 * 4 * 2 == 200
    assert list(models)[:2] == ["sgd_lr0.3_bs16_C0.01_float32", "sgd_lr0.3_bs16_C0.01_float64"]
    assert list(models)[-1] == "sgd_lr0.003_bs256_C10_float64"
