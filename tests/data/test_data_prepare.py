"""softmax_nb.data.preparation: prepare() and prepare_from_config()."""

import os

import numpy as np
import pytest

from idx_files import write_idx
from softmax_nb import data as ds
from softmax_nb import files as sio
from softmax_nb.settings.config import ConfigError


def test_prepare_digits_is_reproducible_and_standardized_on_train(tmp_path):
    info = ds.prepare("digits", tmp_path / "a.h5", seed=1, val_fraction=0.2, test_fraction=0.2)
    assert info["image_shape"] == (8, 8) and info["n_features"] == 64 and info["source"] == "digits"
    assert {k: v["n_samples"] for k, v in info["splits"].items()} == {"train": 1077, "val": 360, "test": 360}
    ds.prepare("digits", tmp_path / "b.h5", seed=1, val_fraction=0.2, test_fraction=0.2)
    for split in sio.SPLITS:
        Xa, ya, _ = sio.read_dataset(tmp_path / "a.h5", split)
        Xb, yb, _ = sio.read_dataset(tmp_path / "b.h5", split)
        assert Xa.tobytes() == Xb.tobytes() and ya.tobytes() == yb.tobytes()
    X_train, _, info = sio.read_dataset(tmp_path / "a.h5", "train")
    X_test, _, _ = sio.read_dataset(tmp_path / "a.h5", "test")
    np.testing.assert_allclose(X_train.mean(axis=0), 0, atol=1e-12)
    assert np.abs(X_test.mean(axis=0)).max() > 1e-3  # statistics come from train only
    # Constant pixels (always 0 in digits) are centred, not divided by zero.
    assert (info["preprocessing"]["scale"] == 1.0).sum() >= 1 and np.isfinite(X_test).all()
    # Raw data are recovered from the stored statistics.
    X_raw, y_raw, _ = ds.load_digits()
    recovered = X_train * info["preprocessing"]["scale"] + info["preprocessing"]["mean"]
    assert np.abs(recovered - np.round(recovered)).max() < 1e-9


def test_prepare_options(tmp_path):
    info = ds.prepare(
        {"name": "synthetic", "n_samples": 400, "n_features": 6, "n_classes": 4, "seed": 2},
        tmp_path / "s.h5",
        dtype="float32", standardize=False, chunk_rows=32, compression="lzf", max_samples=200, seed=5,
    )
    assert info["splits"]["train"]["dtype"] == "float32" and info["splits"]["train"]["chunks"] == (32, 6)
    assert sum(s["n_samples"] for s in info["splits"].values()) == 200
    assert not info["standardized"] and info["meta"]["source_meta"]["class_sep"] == 1.0
    assert info["seed"] == 5 and info["meta"]["source_meta"]["seed"] == 2
    assert info["meta"]["split"]["max_samples"] == 200
    # Small true weights are kept as provenance (large ones are left out).
    assert np.array(info["meta"]["source_meta"]["true_coef"]).shape == (4, 6)


def test_prepare_with_string_labels_and_test_source(tmp_path):
    rng = np.random.default_rng(0)
    lines = ["f1,f2,kind"] + [f"{a:.3f},{b:.3f},{'ab'[int(a > 0)]}" for a, b in rng.standard_normal((60, 2))]
    (tmp_path / "train.csv").write_text("\n".join(lines) + "\n")
    lines = ["f1,f2,kind"] + [f"{a:.3f},{b:.3f},{'ab'[int(a > 0)]}" for a, b in rng.standard_normal((10, 2))]
    (tmp_path / "test.csv").write_text("\n".join(lines) + "\n")
    info = ds.prepare(
        {"name": "csv", "path": str(tmp_path / "train.csv"), "label_column": "kind"},
        tmp_path / "d.h5",
        test_source={"name": "csv", "path": str(tmp_path / "test.csv"), "label_column": "kind"},
        val_fraction=0.25, test_fraction=0.0, class_names=["Alpha", "Beta"],
    )
    assert info["classes"].tolist() == ["a", "b"] and info["class_names"] == ["Alpha", "Beta"]
    assert info["feature_names"] == ["f1", "f2"]
    assert {k: v["n_samples"] for k, v in info["splits"].items()} == {"train": 45, "val": 15, "test": 10}
    with pytest.raises(ds.DataError, match="test_fraction must be 0"):
        ds.prepare({"name": "digits"}, tmp_path / "x.h5", test_source={"name": "digits"}, test_fraction=0.1)
    with pytest.raises(ds.DataError, match="class_names has 3 names"):
        ds.prepare("digits", tmp_path / "x.h5", class_names=["a", "b", "c"])
    assert not (tmp_path / "x.h5").exists()


def test_prepare_rejects_bad_data_and_writes_nothing(tmp_path):
    (tmp_path / "bad.csv").write_text("a,b,label\n1,2,0\n3,oops,1\n")
    with pytest.raises(ds.DataError, match="line 3, column 2"):
        ds.prepare({"name": "csv", "path": str(tmp_path / "bad.csv")}, tmp_path / "out.h5")
    np.savez(tmp_path / "nan.npz", X=np.array([[1.0, np.nan], [0, 1]] * 5), y=np.arange(10) % 2)
    with pytest.raises(ds.DataError, match="NaN/infinite"):
        ds.prepare({"name": "npz", "path": str(tmp_path / "nan.npz")}, tmp_path / "out.h5")
    with pytest.raises(ds.DataError, match="dtype"):
        ds.prepare("digits", tmp_path / "out.h5", dtype="float16")
    with pytest.raises(FileNotFoundError, match="output folder"):
        ds.prepare("digits", tmp_path / "missing" / "out.h5")
    assert sorted(os.listdir(tmp_path)) == ["bad.csv", "nan.npz"]


def test_prepare_from_config_entries(tmp_path):
    # The workflow's schema fills every key; keys of other sources are ignored.
    entry = {
        "source": "synthetic", "path": None, "labels_path": None, "scale": None, "label_column": -1,
        "header": "auto", "delimiter": ",", "skip_columns": [], "x_key": "X", "y_key": "y",
        "n_samples": 300, "n_features": 5, "n_classes": 3, "class_sep": 2.0, "class_names": None,
        "max_samples": None, "val_fraction": 0.2, "test_fraction": 0.2, "stratify": True, "seed": 4,
        "standardize": True, "dtype": "float32",
    }
    info = ds.prepare_from_config(entry, tmp_path / "s.h5", name="syn")
    assert info["meta"]["source_meta"]["seed"] == 4 and info["seed"] == 4 and info["config"]["dataset"] == "syn"
    assert info["splits"]["train"]["dtype"] == "float32"
    # idx with a fixed test split from separate files.
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 40), ("t10k", 12)):
        write_idx(tmp_path / f"{prefix}-images.gz", rng.integers(0, 256, (n, 2, 3)).astype(np.uint8))
        write_idx(tmp_path / f"{prefix}-labels.gz", np.arange(n, dtype=np.uint8) % 2)
    entry = {
        "source": "idx", "path": str(tmp_path / "train-images.gz"), "labels_path": str(tmp_path / "train-labels.gz"),
        "test_path": str(tmp_path / "t10k-images.gz"), "test_labels_path": str(tmp_path / "t10k-labels.gz"),
        "scale": 255, "val_fraction": 0.25, "test_fraction": 0.0, "class_names": ["even", "odd"],
    }
    info = ds.prepare_from_config(entry, tmp_path / "i.h5", name="tiny_idx")
    assert {k: v["n_samples"] for k, v in info["splits"].items()} == {"train": 30, "val": 10, "test": 12}
    assert info["image_shape"] == (2, 3) and info["class_names"] == ["even", "odd"]
    with pytest.raises(ConfigError, match=r"datasets.x: unknown key\(s\) colour"):
        ds.prepare_from_config({"source": "digits", "colour": 1}, tmp_path / "z.h5", name="x")
    with pytest.raises(ConfigError, match="datasets.x.source: 'mnist' is not one of"):
        ds.prepare_from_config({"source": "mnist"}, tmp_path / "z.h5", name="x")
    with pytest.raises(ConfigError, match="datasets.x.test_path applies to source 'idx' only, not 'csv'"):
        ds.prepare_from_config({"source": "csv", "path": "a.csv", "test_path": "b"}, tmp_path / "z.h5", name="x")
    assert not (tmp_path / "z.h5").exists()
