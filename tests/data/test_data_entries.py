"""Dataset entries and configuration files: one table of defaults, one set of checks.

softmax_nb.settings.config reads a configuration as the workflow does (schema,
defaults, key paths in every message); softmax_nb.data.preparation checks an entry
across keys (the workflow runs the same function at start-up).
"""

import copy
import inspect
from pathlib import Path

import numpy as np
import pytest
import yaml

from softmax_nb import data as ds
from softmax_nb.cli import main as cli_main
from softmax_nb.data import preparation
from softmax_nb.files import dataset_info
from softmax_nb.settings import SCHEMA_PATH, defaults
from softmax_nb.settings.config import ConfigError, fill_dataset_entry, load_config, validate_config

ROOT = Path(__file__).resolve().parents[2]


# ---------------------------------------------------------------------------
# one table of defaults
# ---------------------------------------------------------------------------


def test_entry_keys_cover_the_schema():
    keys = set(defaults("dataset"))
    source_keys = {key for keys in preparation.SOURCE_KEYS.values() for key in keys}
    assert keys == {"source"} | source_keys | set(preparation.PREPARE_KEYS) | set(preparation.OUT_OF_CORE_KEYS)
    assert set(preparation.SOURCE_KEYS) == set(ds.SOURCES)


@pytest.mark.parametrize("function", [ds.prepare, ds.prepare_chunked])
def test_python_defaults_are_the_schemas(function):
    table = defaults("dataset")
    parameters = inspect.signature(function).parameters
    for key in preparation.PREPARE_KEYS + ("block_rows",):
        if key in parameters:
            assert parameters[key].default == table[key], key
    assert parameters["dtype"].default == "float64"  # out of core too


def test_loader_defaults_are_the_schemas():
    table = defaults("dataset")
    for name, loader in ds.SOURCES.items():
        parameters = inspect.signature(loader).parameters
        for key, argument in preparation.SOURCE_KEYS[name].items():
            if argument in parameters and parameters[argument].default is not inspect.Parameter.empty:
                default = parameters[argument].default
                if (name, key) == ("fashion_mnist", "path"):
                    # path: null means the Debian package's folder.
                    assert table[key] is None and default == ds.FASHION_MNIST_DIR
                    continue
                assert (list(default) if isinstance(default, tuple) else default) == table[key], (name, key)
    assert inspect.signature(ds.make_softmax_data).parameters["n_samples"].default == table["n_samples"] == 2000


def test_cli_prepare_defaults_are_the_schemas(tmp_path):
    assert cli_main(["-q", "prepare", "--source", "digits", "-o", str(tmp_path / "d.h5")]) == 0
    info = dataset_info(tmp_path / "d.h5")
    # 1797 digits: 0.2 / 0.2 of the rows for validation / test, float64 (the schema's defaults).
    assert {k: v["n_samples"] for k, v in info["splits"].items()} == {"train": 1077, "val": 360, "test": 360}
    assert info["splits"]["train"]["dtype"] == "float64" and info["seed"] == 0


def _snakemake_filled(config):
    from snakemake.utils import validate

    config = copy.deepcopy(config)
    if isinstance(config.get("sweep"), dict):
        config["sweep"] = [config["sweep"]]
    validate(config, str(SCHEMA_PATH))
    return config


@pytest.mark.parametrize("config", [
    yaml.safe_load((ROOT / "config" / "config.yaml").read_text()),
    {},
    {"datasets": {"a": {"source": "csv", "path": "x.csv"}, "b": {}}, "models": {"m": {"C": 2.0}},
     "run": {"a": "all"}, "sweep": {"grid": {"C": [1, 2]}}},
])
def test_validate_config_fills_exactly_the_workflows_defaults(config):
    assert validate_config(config, where="c.yaml") == _snakemake_filled(config)


# ---------------------------------------------------------------------------
# errors name the file and the key
# ---------------------------------------------------------------------------


def test_load_config_errors_name_file_and_key(tmp_path):
    path = tmp_path / "config.yaml"
    with pytest.raises(ConfigError, match="config file .*nope.yaml' does not exist"):
        load_config(tmp_path / "nope.yaml")
    path.write_text("datasets: [unclosed\n")
    with pytest.raises(ConfigError, match="is not valid YAML"):
        load_config(path)
    path.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="must hold a mapping at the top level"):
        load_config(path)
    path.write_text("datasets:\n  mine:\n    source: csv\n    path: a.csv\n    val_fraction: 1.5\n")
    with pytest.raises(ConfigError, match=r"config.yaml: datasets.mine.val_fraction: 1.5 is greater than or equal"):
        load_config(path)
    path.write_text("datasets:\n  mine: {source: csv, path: a.csv, colour: red}\n")
    with pytest.raises(ConfigError, match=r"config.yaml: datasets.mine: unknown key\(s\) colour"):
        load_config(path)
    path.write_text("models:\n  m: {max_iter: many}\n")
    with pytest.raises(ConfigError, match="config.yaml: models.m.max_iter: 'many' is not of type 'integer'"):
        load_config(path)
    path.write_text("")
    assert load_config(path)["datasets"]["digits"]["val_fraction"] == 0.2


def test_fill_dataset_entry_does_not_modify_its_argument():
    entry = {"source": "csv", "path": "a.csv"}
    filled = fill_dataset_entry(entry, name="a")
    assert entry == {"source": "csv", "path": "a.csv"}
    assert filled["skip_columns"] == [] and filled["dtype"] == "float64"
    filled["skip_columns"].append("id")  # defaults are copies, never shared
    assert fill_dataset_entry({}, name="b")["skip_columns"] == []


CROSS_KEY = {
    "path list for csv": ({"source": "csv", "path": ["a.csv", "b.csv"]}, "datasets.x.path may be a list"),
    "labels count": ({"source": "idx", "path": ["a", "b"], "labels_path": "c"},
                     "datasets.x.path names 2 image file(s) but datasets.x.labels_path 1"),
    "labels of csv": ({"source": "csv", "path": "a.csv", "labels_path": "b"},
                      "datasets.x.labels_path applies to sources 'sparse_npz', 'npy', 'idx' only, not 'csv'"),
    "n_samples of csv": ({"source": "csv", "path": "a.csv", "n_samples": 50},
                         "datasets.x.n_samples applies to source 'synthetic' only"),
    "test_path alone": ({"source": "idx", "path": "a", "labels_path": "b", "test_path": "c", "test_fraction": 0},
                        "test_path and datasets.x.test_labels_path must be given together"),
    "test_path with test_fraction": ({"source": "idx", "path": "a", "labels_path": "b", "test_path": "c",
                                      "test_labels_path": "d"}, "datasets.x.test_fraction is 0.2, but with"),
    "empty test split": ({"source": "digits", "test_fraction": 0}, "datasets.x.test_fraction is 0"),
    "class_names duplicates": ({"source": "digits", "class_names": ["a", "a"]}, "datasets.x.class_names"),
    "contiguous compressed": ({"source": "digits", "chunk_rows": 0, "compression": "lzf"}, "datasets.x.chunk_rows"),
    "contiguous out of core": ({"source": "npz", "path": "a.npz", "out_of_core": True, "chunk_rows": 0},
                               "datasets.x.chunk_rows is 0"),
    "out of core test_path": ({"source": "idx", "path": "a", "labels_path": "b", "test_path": "c",
                               "test_labels_path": "d", "test_fraction": 0, "out_of_core": True},
                              "datasets.x.test_path: the out-of-core conversion"),
    "subset of idx": ({"source": "idx", "path": "a", "labels_path": "b", "subset": "train"},
                      "datasets.x.subset applies to source 'fashion_mnist' only"),
}


@pytest.mark.parametrize("case", sorted(CROSS_KEY))
def test_cross_key_checks_name_the_key(case):
    entry, message = CROSS_KEY[case]
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        preparation.dataset_entry("x", entry)


def test_good_entries_pass_and_list_their_files():
    entry = preparation.dataset_entry("m", {"source": "idx", "path": ["a.gz", "b.gz"], "labels_path": ["c", "d"],
                                            "test_path": "t", "test_labels_path": "u", "test_fraction": 0})
    assert preparation.entry_files(entry) == ["a.gz", "b.gz", "c", "d", "t", "u"]
    assert preparation.entry_files(preparation.dataset_entry("d", {})) == []
    fashion = preparation.dataset_entry("f", {"source": "fashion_mnist", "path": "/nowhere", "subset": "test"})
    assert preparation.entry_files(fashion) == ["/nowhere/t10k-images-idx3-ubyte.gz",
                                                "/nowhere/t10k-labels-idx1-ubyte.gz"]
    assert preparation.entry_source(preparation.dataset_entry("s", {"source": "synthetic", "seed": 4})) == {
        "name": "synthetic", "n_samples": 2000, "n_features": 20, "n_classes": 3, "class_sep": 1.0, "seed": 4}


def test_prepare_from_config_with_a_fixed_test_split_from_idx_files(tmp_path):
    from idx_files import write_idx

    rng = np.random.default_rng(0)
    for prefix, n in (("train", 40), ("t10k", 12)):
        write_idx(tmp_path / f"{prefix}-images.gz", rng.integers(0, 256, (n, 2, 3)).astype(np.uint8))
        write_idx(tmp_path / f"{prefix}-labels.gz", np.arange(n, dtype=np.uint8) % 2)
    entry = {"source": "idx", "path": str(tmp_path / "train-images.gz"), "labels_path": str(tmp_path / "train-labels.gz"),
             "test_path": str(tmp_path / "t10k-images.gz"), "test_labels_path": str(tmp_path / "t10k-labels.gz"),
             "test_fraction": 0, "val_fraction": 0.25}
    info = ds.prepare_from_config(entry, tmp_path / "d.h5", name="fixed")
    assert {k: v["n_samples"] for k, v in info["splits"].items()} == {"train": 30, "val": 10, "test": 12}
