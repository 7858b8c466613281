"""Sparse data end to end: the CSR layout of dataset files (format version 3), prepare from
a svmlight file (with a vocabulary), scaling without centring, and the CLI round trip
prepare -> info -> train -> evaluate -> predict -> gradcheck on it."""

import json
import subprocess
import sys

import h5py
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import dump_svmlight_file

from softmax_nb.data import prepare
from softmax_nb.data.checks import DataError
from softmax_nb.files import FileFormatError, dataset_info, read_dataset, read_rows, write_dataset

CLI = [sys.executable, "-m", "softmax_nb.cli"]


def sparse_splits(dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    X = sp.random(1000, 300, density=0.05, format="csr", random_state=seed, dtype=np.float64).astype(dtype)
    y = rng.integers(0, 3, 1000)
    return {"train": (X[:600], y[:600]), "val": (X[600:800], y[600:800]), "test": (X[800:], y[800:])}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_sparse_dataset_file_round_trips(tmp_path, dtype):
    splits = sparse_splits(dtype)
    path = write_dataset(tmp_path / "d.h5", splits, classes=np.arange(3), attrs={"source": "test", "seed": 0})
    info = dataset_info(path)
    assert info["layout"] == "csr" and info["format_version"] == 3
    assert info["splits"]["train"]["nnz"] == splits["train"][0].nnz
    for name, (X, y) in splits.items():
        got, labels, _ = read_dataset(path, name)
        assert sp.issparse(got) and got.dtype == dtype
        assert (got != X).nnz == 0
        np.testing.assert_array_equal(labels, y)
    rows, labels = read_rows(path, "train", 100, 250)
    assert (rows != splits["train"][0][100:250]).nnz == 0
    with h5py.File(path, "r") as handle:
        assert handle["train/X"].attrs["layout"] == "csr"
        assert handle["train/X/data"].fletcher32 and handle["train/X/indices"].dtype == np.int32


def test_mixed_sparse_and_dense_splits_are_refused(tmp_path):
    splits = sparse_splits()
    splits["test"] = (splits["test"][0].toarray(), splits["test"][1])
    with pytest.raises(ValueError, match="sparse in every split or in none"):
        write_dataset(tmp_path / "d.h5", splits, classes=np.arange(3))
    assert not (tmp_path / "d.h5").exists()


def test_a_damaged_csr_part_is_refused(tmp_path):
    path = write_dataset(tmp_path / "d.h5", sparse_splits(), classes=np.arange(3))
    with h5py.File(path, "r") as handle:
        node = handle["train/X/data"]
        offset = node.id.get_chunk_info(0).byte_offset
    with open(path, "r+b") as handle:
        handle.seek(offset + 40)
        byte = handle.read(1)
        handle.seek(offset + 40)
        handle.write(bytes([byte[0] ^ 0x55]))
    with pytest.raises((FileFormatError, OSError)):
        read_dataset(path, "train")


@pytest.fixture(scope="module")
def svmlight_file(tmp_path_factory):
    folder = tmp_path_factory.mktemp("svm")
    rng = np.random.default_rng(0)
    X = sp.random(3000, 2000, density=0.01, format="csr", random_state=0) * 3
    w = rng.standard_normal((4, 2000)) * 5
    y = np.argmax(X @ w.T + rng.gumbel(size=(3000, 4)), axis=1)
    dump_svmlight_file(X, y, str(folder / "text.svm"))
    (folder / "vocab.txt").write_text("\n".join(f"word{i}" for i in range(2000)) + "\n")
    return folder, X, y


def test_prepare_reads_svmlight_keeps_it_sparse_and_scales_without_centring(svmlight_file):
    folder, X, y = svmlight_file
    info = prepare({"name": "svmlight", "path": str(folder / "text.svm"),
                    "vocabulary_path": str(folder / "vocab.txt")}, folder / "text.h5")
    assert info["layout"] == "csr" and info["feature_names"][:2] == ["word0", "word1"]
    assert np.all(info["preprocessing"]["mean"] == 0)
    X_train, _, _ = read_dataset(folder / "text.h5", "train")
    assert sp.issparse(X_train)
    total = sum(info["splits"][name]["nnz"] for name in ("train", "val", "test"))
    assert total == X.nnz  # scaling keeps every zero a zero


def test_prepare_names_a_bad_svmlight_file(tmp_path):
    bad = tmp_path / "bad.svm"
    bad.write_text("1 3:0.5 2:x\n")
    with pytest.raises(DataError, match="cannot read svmlight file .*bad.svm"):
        prepare({"name": "svmlight", "path": str(bad)}, tmp_path / "out.h5")
    good = tmp_path / "good.svm"
    good.write_text("1 1:0.5 9:1\n0 2:1\n1 3:2\n0 1:1\n")
    (tmp_path / "short.txt").write_text("a\nb\n")
    with pytest.raises(DataError, match="more columns than the 2 names"):
        prepare({"name": "svmlight", "path": str(good), "vocabulary_path": str(tmp_path / "short.txt")},
                tmp_path / "out.h5")
    assert not (tmp_path / "out.h5").exists()


def test_the_cli_round_trip_on_a_svmlight_source(svmlight_file, tmp_path):
    folder, _, _ = svmlight_file
    data, model = tmp_path / "d.h5", tmp_path / "m.h5"

    def run(*args, code=0):
        done = subprocess.run(CLI + [str(a) for a in args], capture_output=True, text=True, timeout=300)
        assert done.returncode == code, done.stderr[-2000:]
        assert "Traceback" not in done.stderr
        return done

    run("-q", "prepare", "--source", "svmlight", "--arg", f"path={folder / 'text.svm'}",
        "--arg", f"vocabulary_path={folder / 'vocab.txt'}", "--dtype", "float32", "-o", data)
    shown = run("info", data).stdout
    assert "layout: sparse" in shown and "nnz:" in shown and "density:" in shown
    run("-q", "train", data, "-o", model, "--max-iter", "100", "--C", "0.5")
    metrics = json.loads(run("evaluate", model, data, "-o", "-").stdout)
    assert metrics["accuracy"] > 0.5
    predictions = run("predict", model, data, "-o", "-").stdout.splitlines()
    assert predictions[0].startswith("row,predicted,p_0") and len(predictions) == 1 + metrics["n_samples"]
    assert "True" in run("gradcheck", model, data).stdout
    run("-q", "train", data, "-o", tmp_path / "s.h5", "--max-iter", "100", "--C", "0.5", "--max-memory-mb", "50")
    with h5py.File(model, "r") as a, h5py.File(tmp_path / "s.h5", "r") as b:
        # A streamed fit of sparse rows is the in-memory fit, bit for bit.
        np.testing.assert_array_equal(a["coef"][()], b["coef"][()])


def text_like_splits(n_rows=12000, n_features=2000, seed=5):
    """Zipf-like column frequencies and rows of different lengths, as text data."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(0, 40, n_rows)
    rows = np.repeat(np.arange(n_rows), lengths)
    p = 1.0 / np.arange(1, n_features + 1) ** 1.1
    cols = rng.choice(n_features, size=rows.size, p=p / p.sum())
    X = sp.csr_matrix((np.ones(rows.size), (rows, cols)), shape=(n_rows, n_features))
    X.sum_duplicates()
    X.data = np.log1p(X.data)
    y = np.asarray(X @ rng.standard_normal((n_features, 4)) + rng.gumbel(size=(n_rows, 4))).argmax(axis=1)
    cut = int(n_rows * 0.8)
    return {"train": (X[:cut], y[:cut]), "val": (X[cut:], y[cut:]), "test": (X[cut:cut + 10], y[cut:cut + 10])}


@pytest.mark.filterwarnings("ignore:.*failed to converge")
@pytest.mark.parametrize("solver,budget", [("lbfgs", 12.5), ("lbfgs", 13), ("gd", 12.5)])
def test_a_streamed_sparse_fit_equals_the_in_memory_fit_bitwise(tmp_path, solver, budget):
    from softmax_nb import SoftmaxClassifier
    from softmax_nb.model.estimator import fit_streaming

    splits = text_like_splits()
    path = write_dataset(tmp_path / "d.h5", splits, classes=np.arange(4), attrs={"source": "test", "seed": 0})
    params = {"solver": solver, "C": 2.0, "max_iter": 25, "tol": 1e-12}
    streamed = fit_streaming(path, params, max_memory_mb=budget, eval_split=None, progress=False)
    assert streamed.streaming_["n_blocks"] > 1 and streamed.streaming_["planned_peak_bytes"] <= budget * 2**20
    X, y, _ = read_dataset(path, "train")
    in_memory = SoftmaxClassifier(**params).fit(X, y)
    np.testing.assert_array_equal(streamed.coef_, in_memory.coef_)
    np.testing.assert_array_equal(streamed.intercept_, in_memory.intercept_)
    assert streamed.n_iter_ == in_memory.n_iter_


@pytest.mark.filterwarnings("ignore:.*failed to converge")
def test_a_streamed_sparse_split_and_its_minibatches(tmp_path):
    from softmax_nb.data.streaming import H5Stream, MemoryBudgetError
    from softmax_nb.model.estimator import fit_streaming

    splits = text_like_splits(4000, 500)
    path = write_dataset(tmp_path / "d.h5", splits, classes=np.arange(4), attrs={"source": "test", "seed": 0})
    with H5Stream(path, "train", block_rows=700, dtype="float32") as stream:
        blocks = list(stream.blocks())
        assert len(blocks) == stream.n_blocks > 1 and blocks[0].start == 0 and blocks[-1].stop == 3200
        whole = sp.vstack([block.X for block in blocks])
        assert whole.dtype == np.float32 and (whole != splits["train"][0].astype(np.float32)).nnz == 0
    with pytest.raises(MemoryBudgetError, match="too small"):
        H5Stream(path, "train", max_memory_mb=2)
    clf = fit_streaming(path, {"solver": "sgd", "max_iter": 3, "batch_size": 64, "random_state": 0},
                        max_memory_mb=12, progress=False)
    X, y, _ = read_dataset(path, "test")
    assert clf.predict(X).shape == y.shape and np.isfinite(clf.coef_).all()


@pytest.mark.filterwarnings("ignore:.*failed to converge")
def test_a_streamed_fit_leaves_out_empty_columns_as_the_in_memory_fit_does(tmp_path):
    from softmax_nb import SoftmaxClassifier
    from softmax_nb.model.estimator import fit_streaming

    splits = text_like_splits(6000, 800, seed=7)
    wide = {name: (sp.hstack([X, sp.csr_matrix((X.shape[0], 5000))], format="csr"), y)
            for name, (X, y) in splits.items()}
    path = write_dataset(tmp_path / "d.h5", wide, classes=np.arange(4), attrs={"source": "test", "seed": 0})
    params = {"solver": "lbfgs", "max_iter": 15}
    streamed = fit_streaming(path, params, max_memory_mb=17, progress=False)
    X, y, _ = read_dataset(path, "train")
    in_memory = SoftmaxClassifier(**params).fit(X, y)
    assert streamed.streaming_["n_blocks"] > 1 and streamed.coef_.shape == (4, 5800)
    assert not streamed.coef_[:, 800:].any()
    np.testing.assert_array_equal(streamed.coef_, in_memory.coef_)
    assert np.isfinite(streamed.history_["val_loss"]).all()


# ---------------------------------------------------------------------------
# the sparse_npz source: a scipy.sparse.save_npz archive and a labels file
# ---------------------------------------------------------------------------


def _sparse_npz(folder, fmt="csr", labels="npy"):
    """An archive of 400 rows in format ``fmt`` and its labels (``.npy`` ints or a text file of words)."""
    X = sp.random(400, 60, density=0.1, format="csr", random_state=2) * 4
    y = np.random.default_rng(2).integers(0, 3, 400)
    sp.save_npz(folder / f"X_{fmt}.npz", X.asformat(fmt), compressed=fmt != "coo")
    if labels == "npy":
        np.save(folder / "y.npy", y)
        return folder / f"X_{fmt}.npz", folder / "y.npy", X, y
    words = np.array(["ant", "bee", "cow"])[y]
    (folder / "y.txt").write_text("".join(f"{w}\n" for w in words))
    return folder / f"X_{fmt}.npz", folder / "y.txt", X, words


@pytest.mark.parametrize("fmt,labels", [("csr", "npy"), ("csc", "text"), ("coo", "npy")])
def test_prepare_reads_a_sparse_npz_archive_and_its_labels(tmp_path, fmt, labels):
    from softmax_nb.data.checks import encode_labels
    from softmax_nb.data.split import stratified_split

    path, labels_path, X, y = _sparse_npz(tmp_path, fmt, labels)
    info = prepare({"name": "sparse_npz", "path": str(path), "labels_path": str(labels_path)},
                   tmp_path / "d.h5", standardize=False, seed=5)
    assert info["layout"] == "csr" and info["n_features"] == 60
    classes, y_index = encode_labels(y)
    assert list(info["classes"]) == list(classes)
    for name, rows in zip(("train", "val", "test"), stratified_split(y_index, 0.2, 0.2, 5)):
        X_split, y_split, _ = read_dataset(tmp_path / "d.h5", name)
        expected = X[rows].astype(np.float64)
        assert np.array_equal(X_split.indptr, expected.indptr) and np.array_equal(X_split.indices, expected.indices)
        assert np.array_equal(X_split.data, expected.data) and np.array_equal(y_split, y_index[rows])


def test_the_cli_prepares_a_sparse_npz_entry_of_a_config(tmp_path):
    import yaml

    path, labels_path, _, _ = _sparse_npz(tmp_path, "csr", "text")
    (tmp_path / "vocab.txt").write_text("".join(f"t{i}\n" for i in range(64)))  # wider than X: 64 features
    entry = {"source": "sparse_npz", "path": str(path), "labels_path": str(labels_path),
             "vocabulary_path": str(tmp_path / "vocab.txt"), "dtype": "float32"}
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"datasets": {"words": entry}}))
    done = subprocess.run(CLI + ["-q", "prepare", "--config", str(config), "--dataset", "words",
                                 "-o", str(tmp_path / "words.h5")], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    info = dataset_info(tmp_path / "words.h5")
    assert info["source"] == "sparse_npz" and info["n_features"] == 64 and info["feature_names"][-1] == "t63"
    assert list(info["classes"]) == ["ant", "bee", "cow"] and info["splits"]["train"]["dtype"] == "float32"
    assert np.all(info["preprocessing"]["mean"] == 0)
    refused = subprocess.run(CLI + ["prepare", "--config", str(config), "--dataset", "words", "--out-of-core",
                                    "-o", str(tmp_path / "ooc.h5")], capture_output=True, text=True, timeout=300)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "datasets.words.out_of_core: source 'sparse_npz' is read whole" in refused.stderr
    assert not (tmp_path / "ooc.h5").exists()


def test_bad_sparse_npz_sources_are_named(tmp_path):
    path, labels_path, X, y = _sparse_npz(tmp_path)

    def refused(match, error=DataError, **source):
        source = {"name": "sparse_npz", "path": str(path), "labels_path": str(labels_path), **source}
        with pytest.raises(error, match=match):
            prepare(source, tmp_path / "out.h5")
        assert not (tmp_path / "out.h5").exists()

    refused("sparse NPZ file .*missing.npz' does not exist", FileNotFoundError, path=str(tmp_path / "missing.npz"))
    np.savez(tmp_path / "dense.npz", X=X.toarray(), y=y)
    refused("dense.npz' is not a SciPy sparse archive .*the 'npz' source", path=str(tmp_path / "dense.npz"))
    (tmp_path / "text.npz").write_text("1 2 3\n")
    refused("text.npz' is not a SciPy sparse archive", path=str(tmp_path / "text.npz"))
    np.savez(tmp_path / "pickled.npz", format=np.array("csr"), shape=np.array([2, 2]), indptr=np.array([0, 1, 1]),
             indices=np.array([0]), data=np.array([{"a": 1}], dtype=object))
    refused("pickled.npz' holds pickled objects, which are refused", path=str(tmp_path / "pickled.npz"))
    np.save(tmp_path / "short.npy", y[:-1])
    refused("short.npy' has 399 labels but .* has 400 rows", labels_path=str(tmp_path / "short.npy"))
    np.save(tmp_path / "objects.npy", np.array(["a", 1] * 200, dtype=object), allow_pickle=True)
    refused("objects.npy' holds Python objects .*refused", labels_path=str(tmp_path / "objects.npy"))
    (tmp_path / "gap.txt").write_text("a\nb\n\nc\n")
    refused(r"gap.txt': line 3 is empty", labels_path=str(tmp_path / "gap.txt"))
    (tmp_path / "latin.txt").write_bytes("caf\xe9\n".encode("latin-1") * 400)
    refused(r"labels file .*latin.txt': line 1, character 4: byte 0xe9 is not UTF-8",
            labels_path=str(tmp_path / "latin.txt"))
    (tmp_path / "few.txt").write_text("a\nb\n")
    refused("more than the 2 names", vocabulary_path=str(tmp_path / "few.txt"))
