"""One config entry, one dataset: the workflow, the CLI and Python prepare it bitwise alike.

For one entry of every source type (csv, npz, svmlight, sparse_npz, npy, hdf5, idx,
digits, synthetic, fashion_mnist), in memory and out of core (for the sources read in
blocks), the
dataset is prepared three ways:

(a) by the workflow's prepare rule (one ``snakemake`` run building every entry),
(b) by ``softmax-nb prepare --config FILE --dataset NAME``,
(c) by ``softmax_nb.data.prepare_from_config(entry)`` on the entry as written,

and the three files must hold bitwise identical arrays: X and y of every split,
the standardization's mean and scale, the classes and their names.  Entries that
cannot work (out_of_core for a generated source, keys of another source...) are
refused by all three paths with a message naming the key.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml

from softmax_nb.cli import main as cli_main
from softmax_nb.data import CHUNKED_SOURCES, SOURCES, prepare_from_config
from softmax_nb.settings import choices
from softmax_nb.settings.config import ConfigError
from workflow_copies import copy_workflow, run_snakemake

ROOT = Path(__file__).resolve().parents[2]
SPLITS = ("train", "val", "test")


def _write_idx(path, array):
    array = np.asarray(array, dtype=np.uint8)
    data = bytes([0, 0, 0x08, array.ndim]) + np.array(array.shape, dtype=">u4").tobytes() + array.tobytes()
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wb") as handle:
        handle.write(data)


def _raw_files(folder: Path) -> dict:
    """Small input files of every file source, under ``folder``."""
    rng = np.random.default_rng(7)
    n = 150
    X = rng.standard_normal((n, 4)) * [1.0, 3.0, 0.5, 10.0] + [0.0, 1.0, -2.0, 5.0]
    y = (X[:, 0] + 0.3 * X[:, 1] > 0.5).astype(np.int64) + (X[:, 2] > -2).astype(np.int64)
    files = {}
    csv = folder / "table.csv"
    with open(csv, "w") as handle:
        handle.write("id,f1,f2,kind,f3,f4\n")
        for i, (row, label) in enumerate(zip(X, y)):
            a, b, c, d = (repr(float(v)) for v in row)
            handle.write(f"{i},{a},{b},{'abc'[label]},{c},{d}\n")
    files["csv"] = csv
    np.savez_compressed(folder / "arrays.npz", features=X.astype(np.float32), labels=y)
    files["npz"] = folder / "arrays.npz"
    np.save(folder / "X.npy", X)
    np.save(folder / "y.npy", y)
    with h5py.File(folder / "store.h5", "w") as handle:
        handle["group/X"] = X
        handle.create_dataset("group/y", data=np.array(["abc"[v] for v in y], dtype=object),
                              dtype=h5py.string_dtype())
    files["hdf5"] = folder / "store.h5"
    images = rng.integers(0, 256, (n, 3, 4))
    _write_idx(folder / "images.gz", images)
    _write_idx(folder / "labels.gz", (images[:, 0, 0] > 127).astype(int) + (images[:, 1, 1] > 127))
    fashion = folder / "fashion"
    fashion.mkdir()
    for prefix, rows in (("train", 100), ("t10k", 60)):
        labels = np.arange(rows) % 10
        pictures = rng.integers(0, 256, (rows, 4, 4))
        pictures[:, 0, 0] = labels * 25  # learnable, and every class has rows
        _write_idx(fashion / f"{prefix}-images-idx3-ubyte.gz", pictures)
        _write_idx(fashion / f"{prefix}-labels-idx1-ubyte.gz", labels)
    files["fashion_mnist"] = fashion
    from sklearn.datasets import dump_svmlight_file

    sparse_X = np.where(np.abs(X) > 1.0, X, 0.0)  # about half the values are zeros
    dump_svmlight_file(sparse_X, y, str(folder / "text.svm"))
    (folder / "vocab.txt").write_text("alpha\nbeta\ngamma\ndelta\n")
    files["svmlight"] = folder / "text.svm"
    import scipy.sparse as sp

    sp.save_npz(folder / "sparse.npz", sp.csc_matrix(sparse_X))
    (folder / "labels.txt").write_text("".join(f"{'abc'[v]}\n" for v in y))
    files["sparse_npz"] = folder / "sparse.npz"
    return files


def _entries(folder: Path, files: dict) -> dict:
    """One entry per source in memory, one out of core per block source, as a user writes them."""
    entries = {
        "csv": {"source": "csv", "path": str(files["csv"]), "label_column": "kind", "skip_columns": ["id"]},
        "npz": {"source": "npz", "path": str(files["npz"]), "x_key": "features", "y_key": "labels",
                "dtype": "float32"},
        "npy": {"source": "npy", "path": str(folder / "X.npy"), "labels_path": str(folder / "y.npy"),
                "val_fraction": 0.25, "seed": 3},
        "hdf5": {"source": "hdf5", "path": str(files["hdf5"]), "x_key": "group/X", "y_key": "group/y",
                 "standardize": False},
        "idx": {"source": "idx", "path": str(folder / "images.gz"), "labels_path": str(folder / "labels.gz"),
                "scale": 255, "class_names": ["dark", "mid", "bright"]},
        "digits": {"source": "digits", "max_samples": 600, "seed": 1},
        "synthetic": {"source": "synthetic", "n_samples": 300, "n_features": 5, "n_classes": 4, "seed": 2,
                      "dtype": "float32"},
        "fashion_mnist": {"source": "fashion_mnist", "path": str(files["fashion_mnist"]), "scale": 255},
        "svmlight": {"source": "svmlight", "path": str(files["svmlight"]),
                     "vocabulary_path": str(folder / "vocab.txt"), "dtype": "float32"},
        "sparse_npz": {"source": "sparse_npz", "path": str(files["sparse_npz"]),
                       "labels_path": str(folder / "labels.txt"), "vocabulary_path": str(folder / "vocab.txt")},
    }
    for name in CHUNKED_SOURCES:
        entries[f"{name}_ooc"] = {**entries[name], "out_of_core": True, "block_rows": 16}
    entries["npz_ooc"]["compression"] = "gzip"
    entries["npy_ooc"]["chunk_rows"] = 10
    return entries


def _config(entries: dict) -> dict:
    # The workflow needs a run; the prepare targets are asked for by name.
    return {"threads": 1, "datasets": entries, "models": {"lbfgs": {"max_iter": 5}}, "run": {"digits": ["lbfgs"]}}


def _arrays(path: Path) -> dict:
    """Every array of a dataset file that defines the data, as bytes with their dtype and shape."""
    out = {}
    with h5py.File(path, "r") as handle:
        names = [f"{split}/{part}" for split in SPLITS for part in ("X", "y", "X/data", "X/indices", "X/indptr")]
        names += ["classes", "preprocessing/mean", "preprocessing/scale", "class_names", "feature_names"]
        for name in names:
            if name in handle and isinstance(handle[name], h5py.Dataset):
                value = handle[name][()]
                out[name] = (str(value.dtype), value.shape, value.tobytes() if value.dtype != object
                             else [v.decode() if isinstance(v, bytes) else v for v in value.tolist()])
        out["attrs"] = {key: handle.attrs[key].tolist() if hasattr(handle.attrs[key], "tolist")
                        else handle.attrs[key] for key in ("n_features", "n_classes", "standardized")}
        if "image_shape" in handle.attrs:
            out["attrs"]["image_shape"] = handle.attrs["image_shape"].tolist()
    return out


@pytest.fixture(scope="module")
def three_ways(tmp_path_factory):
    folder = tmp_path_factory.mktemp("one_path")
    raw = folder / "raw"
    raw.mkdir()
    entries = _entries(raw, _raw_files(raw))
    config = _config(entries)
    (folder / "wf").mkdir()
    workdir = copy_workflow(folder / "wf", config)
    targets = [f"results/data/{name}.h5" for name in entries]
    run = run_snakemake(workdir, "--cores", "1", *targets)
    assert run.returncode == 0, run.stdout + run.stderr
    config_file = workdir / "config" / "config.yaml"
    cli_folder, python_folder = folder / "cli", folder / "python"
    cli_folder.mkdir()
    python_folder.mkdir()
    written = yaml.safe_load(config_file.read_text())
    for name in entries:
        code = cli_main(["-q", "prepare", "--config", str(config_file), "--dataset", name,
                         "-o", str(cli_folder / f"{name}.h5")])
        assert code == 0, name
        # Python: the entry exactly as written in the file (defaults left out).
        prepare_from_config(written["datasets"][name], python_folder / f"{name}.h5", name=name)
    return entries, {"workflow": workdir / "results" / "data", "cli": cli_folder, "python": python_folder}


def test_every_source_of_the_schema_is_covered():
    covered = {entry["source"] for entry in _entries(Path("."), {k: Path(k) for k in SOURCES}).values()}
    assert covered == set(choices("dataset", "source")) == set(SOURCES)
    assert set(CHUNKED_SOURCES) == set(SOURCES) - {"digits", "synthetic", "sparse_npz"}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(_entries(Path("."), {k: Path(k) for k in SOURCES})))
def test_workflow_cli_and_python_give_bitwise_identical_datasets(three_ways, name):
    entries, folders = three_ways
    files = {way: _arrays(folder / f"{name}.h5") for way, folder in folders.items()}
    reference = files["python"]
    rows = "train/X/data" if "train/X/data" in reference else "train/X"  # sparse sources: CSR parts
    assert {rows, "test/y", "classes"} <= set(reference)
    assert reference[rows][1][0] > 0 and reference["test/y"][1][0] > 0
    for way in ("workflow", "cli"):
        assert files[way].keys() == reference.keys(), way
        for key in reference:
            assert files[way][key] == reference[key], f"{name}: {key} differs between {way} and python"
    entry = entries[name]
    expected_dtype = entry.get("dtype", "float64")  # the schema's default, in memory and out of core
    assert reference[rows][0] == expected_dtype
    assert ("preprocessing/mean" in reference) == entry.get("standardize", True)
    with h5py.File(folders["python"] / f"{name}.h5", "r") as handle:
        split = __import__("json").loads(handle.attrs["meta"])["split"]
    assert split.get("out_of_core", False) == entry.get("out_of_core", False)


@pytest.mark.slow
def test_out_of_core_splits_equal_the_in_memory_ones(three_ways):
    _, folders = three_ways
    for name in CHUNKED_SOURCES:
        memory, blocks = _arrays(folders["python"] / f"{name}.h5"), _arrays(folders["python"] / f"{name}_ooc.h5")
        for split in SPLITS:
            assert memory[f"{split}/y"] == blocks[f"{split}/y"], name
        assert memory["classes"] == blocks["classes"] and memory.get("class_names") == blocks.get("class_names")
        if "train/X/data" in memory:  # sparse: the same file, bitwise (scale-only statistics summed in row order)
            assert memory == blocks, name
            continue
        with h5py.File(folders["python"] / f"{name}.h5", "r") as a, \
                h5py.File(folders["python"] / f"{name}_ooc.h5", "r") as b:
            for split in SPLITS:
                np.testing.assert_allclose(b[f"{split}/X"][()], a[f"{split}/X"][()], rtol=1e-6, atol=1e-6)


# ---------------------------------------------------------------------------
# entries that cannot work: every path refuses them, naming the key
# ---------------------------------------------------------------------------

BAD_ENTRIES = {
    "out_of_core digits": ({"source": "digits", "out_of_core": True}, "datasets.bad.out_of_core"),
    "out_of_core synthetic": ({"source": "synthetic", "out_of_core": True}, "datasets.bad.out_of_core"),
    "out_of_core sparse_npz": ({"source": "sparse_npz", "path": "X.npz", "labels_path": "y.npy", "out_of_core": True},
                               "datasets.bad.out_of_core"),
    "sparse_npz without labels": ({"source": "sparse_npz", "path": "X.npz"}, "datasets.bad.labels_path"),
    "svmlight without path": ({"source": "svmlight"}, "datasets.bad.path"),
    "key of another source": ({"source": "digits", "x_key": "features"}, "datasets.bad.x_key"),
    "npy without labels": ({"source": "npy", "path": "X.npy"}, "datasets.bad.labels_path"),
    "hdf5 without path": ({"source": "hdf5"}, "datasets.bad.path"),
    "split fractions": ({"source": "digits", "val_fraction": 0.5, "test_fraction": 0.5},
                        "datasets.bad.val_fraction + datasets.bad.test_fraction"),
    "block_rows in memory": ({"source": "digits", "block_rows": 10}, "datasets.bad.block_rows"),
    "out_of_core max_samples": ({"source": "npy", "path": "X.npy", "labels_path": "y.npy", "out_of_core": True,
                                 "max_samples": 50}, "datasets.bad.max_samples"),
    "unknown key": ({"source": "digits", "colour": "red"}, "colour"),
    "wrong type": ({"source": "digits", "seed": "zero"}, "datasets.bad.seed"),
}


@pytest.mark.parametrize("case", sorted(BAD_ENTRIES))
def test_bad_entries_are_refused_by_the_cli_and_python_naming_the_key(tmp_path, capsys, case):
    entry, key = BAD_ENTRIES[case]
    with pytest.raises(ConfigError, match=key.replace("+", r"\+")):
        prepare_from_config(entry, tmp_path / "out.h5", name="bad")
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"datasets": {"bad": entry}}))
    with pytest.raises(SystemExit) as exit_info:
        cli_main(["prepare", "--config", str(config), "--dataset", "bad", "-o", str(tmp_path / "out.h5")])
    code, err = exit_info.value.code, capsys.readouterr().err
    assert code == 1 and key in err and str(config) in err and "Traceback" not in err
    assert not (tmp_path / "out.h5").exists()


@pytest.mark.slow
def test_bad_entries_stop_the_workflow_before_any_job(tmp_path):
    for case in ("out_of_core digits", "key of another source"):
        entry, key = BAD_ENTRIES[case]
        workdir = tmp_path / case.replace(" ", "_")
        workdir.mkdir()
        config = _config({"digits": {"source": "digits"}, "bad": entry})
        copy_workflow(workdir, config)
        result = run_snakemake(workdir, "--cores", "1", "results/data/digits.h5", timeout=300)
        assert result.returncode != 0
        assert key in result.stdout + result.stderr
        assert not (workdir / "results").exists()
