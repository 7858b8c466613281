"""softmax_nb.data.chunked: block readers of every file source, and prepare_chunked."""

import gzip

import h5py
import numpy as np
import pytest

from idx_files import write_idx
from softmax_nb import data as datasets
from softmax_nb import files as sio
from softmax_nb.cli import main as cli_main


def _raw_data(n=600, n_features=6, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, n_features)) * 3 + 1
    y = np.argmax(X[:, :3] + rng.standard_normal((n, 3)), axis=1)
    return X, y


def _sources(tmp_path, kind, X, y):
    """(in-memory source, block source) of the same rows."""
    if kind == "csv":
        source = {"name": "csv", "path": str(tmp_path / "d.csv"), "label_column": "label"}
        with open(source["path"], "w") as handle:
            handle.write(",".join([f"f{i}" for i in range(X.shape[1])] + ["label"]) + "\n")
            for row, label in zip(X, y):
                handle.write(",".join(repr(float(v)) for v in row) + f",{['cat', 'dog', 'eel'][label]}\n")
        return source, source
    if kind == "npy":
        for name, value in (("X1", X[:250]), ("X2", X[250:]), ("y1", y[:250]), ("y2", y[250:])):
            np.save(tmp_path / f"{name}.npy", value)
        # Lists of files are concatenated, in memory and block by block.
        source = {"name": "npy", "x_path": [str(tmp_path / "X1.npy"), str(tmp_path / "X2.npy")],
                  "y_path": [str(tmp_path / "y1.npy"), str(tmp_path / "y2.npy")]}
        return source, source
    if kind in ("npz", "npz_compressed"):
        save = np.savez_compressed if kind == "npz_compressed" else np.savez
        save(tmp_path / "d.npz", features=X.astype(np.float32), target=y)
        source = {"name": "npz", "path": str(tmp_path / "d.npz"), "x_key": "features", "y_key": "target"}
        return source, source
    if kind == "hdf5":
        with h5py.File(tmp_path / "d.h5", "w") as handle:
            handle.create_dataset("data/X", data=X, chunks=(64, X.shape[1]))
            handle.create_dataset("data/y", data=np.array(["abc"[v] for v in y], dtype=object),
                                  dtype=h5py.string_dtype())
        source = {"name": "hdf5", "path": str(tmp_path / "d.h5"), "x_key": "data/X", "y_key": "data/y"}
        return source, source
    X = np.round(np.clip(X * 20 + 128, 0, 255))
    X[:, 0] = 7  # a constant feature: scale 1
    if kind == "idx":
        write_idx(tmp_path / "img.idx", X.reshape(len(X), 2, 3))
        write_idx(tmp_path / "lab.idx", y)
        source = {"name": "idx", "images": str(tmp_path / "img.idx"), "labels": str(tmp_path / "lab.idx"),
                  "scale": 255}
        return source, source
    assert kind == "fashion_mnist"
    folder = tmp_path / "fashion"
    folder.mkdir()
    for prefix, rows in (("train", slice(0, 400)), ("t10k", slice(400, None))):
        write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", X[rows].reshape(-1, 2, 3))
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", y[rows])  # found with or without .gz
    source = {"name": "fashion_mnist", "directory": str(folder), "scale": 255}
    return source, source


@pytest.mark.parametrize("kind", ["csv", "npy", "npz", "npz_compressed", "hdf5", "idx", "fashion_mnist"])
def test_prepare_chunked_equals_prepare(tmp_path, kind):
    X, y = _raw_data()
    whole_source, source = _sources(tmp_path, kind, X, y)
    whole = datasets.prepare(whole_source, tmp_path / "whole.h5", seed=3)
    chunked = datasets.prepare_chunked(source, tmp_path / "chunked.h5", seed=3, block_rows=64, chunk_rows=50)
    assert np.array_equal(chunked["classes"], whole["classes"])
    assert chunked["feature_names"] == whole["feature_names"]
    assert chunked["image_shape"] == whole["image_shape"]
    assert chunked["class_names"] == whole["class_names"]
    np.testing.assert_allclose(chunked["preprocessing"]["mean"], whole["preprocessing"]["mean"], rtol=1e-12)
    np.testing.assert_allclose(chunked["preprocessing"]["scale"], whole["preprocessing"]["scale"], rtol=1e-12)
    for split in sio.SPLITS:
        X_whole, y_whole, _ = sio.read_dataset(tmp_path / "whole.h5", split)
        X_chunked, y_chunked, _ = sio.read_dataset(tmp_path / "chunked.h5", split)
        # One table of defaults: float64 in memory and out of core.
        assert X_whole.dtype == X_chunked.dtype == np.float64
        assert np.array_equal(y_whole, y_chunked)
        np.testing.assert_allclose(X_chunked, X_whole, rtol=1e-11, atol=1e-11)
        assert chunked["splits"][split]["chunks"] in (None, (50, X.shape[1]), (len(y_whole), X.shape[1]))


def test_block_rows_default_is_about_64_mib():
    X, y = _raw_data(300)
    assert datasets.BLOCK_BYTES == 64 * 2**20
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        np.save(Path(folder) / "X.npy", X)
        np.save(Path(folder) / "y.npy", y)
        info = datasets.prepare_chunked({"name": "npy", "x_path": f"{folder}/X.npy", "y_path": f"{folder}/y.npy"},
                                        Path(folder) / "d.h5")
    assert info["meta"]["split"]["block_rows"] == 64 * 2**20 // (8 * X.shape[1])


def test_prepare_chunked_reports_bad_cells(tmp_path):
    path = tmp_path / "bad.csv"
    X, y = _raw_data(200)
    lines = [",".join(map(str, row)) + f",{label}" for row, label in zip(X, y)]
    lines[150] = lines[150].replace(str(X[150, 2]), "oops", 1)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(datasets.DataError, match="line 151, column 3: 'oops' is not a number"):
        datasets.prepare_chunked({"name": "csv", "path": str(path)}, tmp_path / "out.h5", block_rows=32)
    assert not (tmp_path / "out.h5").exists()


def _csv_lines(n=60):
    X, y = _raw_data(n, n_features=3)
    rows = [f"{float(a)!r},{float(b)!r},{'cat' if c == 0 else 'dog'}" for (a, b, _), c in zip(X, y)]
    return ["f0,f1,label"] + rows


# The same text in every case, written with a byte-order mark or with one foreign byte
# (a latin-1 'é') late in the file, in a header cell, and right after a BOM.
ENCODED_CSVS = {
    "bom": lambda lines: b"\xef\xbb\xbf" + "\n".join(lines).encode() + b"\n",
    "latin1 late": lambda lines: "\n".join(lines[:40] + ["1.5,caf\xe9,cat"] + lines[40:]).encode("latin-1") + b"\n",
    "latin1 header": lambda lines: "\n".join(["f\xe9,f1,label"] + lines[1:]).encode("latin-1") + b"\n",
    "bom then latin1": lambda lines: b"\xef\xbb\xbf" + "\n".join(["f0,f\xe9,label"] + lines[1:]).encode("latin-1")
    + b"\n",
}


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("case", sorted(ENCODED_CSVS))
def test_block_reader_names_encodings_as_the_in_memory_reader(tmp_path, case, gz):
    """One helper names a foreign byte for both CSV readers: same file, line and character;
    a byte-order mark is not part of the first header cell, in memory and out of core."""
    data = ENCODED_CSVS[case](_csv_lines())
    path = tmp_path / ("f.csv.gz" if gz else "f.csv")
    path.write_bytes(gzip.compress(data) if gz else data)
    source = {"name": "csv", "path": str(path), "label_column": "label"}
    outcomes = []
    for convert, out in ((datasets.prepare, tmp_path / "whole.h5"),
                         (lambda s, o: datasets.prepare_chunked(s, o, block_rows=16), tmp_path / "blocks.h5")):
        try:
            info = convert(source, out)
        except datasets.DataError as exc:
            outcomes.append(str(exc))
            assert not out.exists()
        else:
            outcomes.append(info["feature_names"])
    assert outcomes[0] == outcomes[1]
    if case == "bom":
        assert outcomes[0] == ["f0", "f1"]
    else:
        line, character = {"latin1 late": (41, 8), "latin1 header": (1, 2), "bom then latin1": (1, 5)}[case]
        assert outcomes[0].startswith(f"CSV file {str(path)!r}: line {line}, character {character}: byte 0xe9 "
                                      "is not UTF-8"), outcomes[0]


@pytest.mark.parametrize("name", ["digits", "synthetic"])
def test_generated_sources_are_refused(tmp_path, name):
    with pytest.raises(datasets.DataError, match=f"chunked conversion reads sources .*not '{name}'.*generated in memory"):
        datasets.prepare_chunked({"name": name}, tmp_path / "out.h5")
    assert not (tmp_path / "out.h5").exists()


def test_block_readers_refuse_what_they_cannot_read(tmp_path):
    X, y = _raw_data(100)
    np.savez(tmp_path / "f.npz", X=np.asfortranarray(X), y=y)
    with pytest.raises(datasets.DataError, match="Fortran .* cannot be read in row blocks"):
        datasets.prepare_chunked({"name": "npz", "path": str(tmp_path / "f.npz")}, tmp_path / "out.h5")
    np.savez(tmp_path / "k.npz", X=X, y=y)
    with pytest.raises(datasets.DataError, match=r"has no array 'features'; it holds \['X', 'y'\]"):
        datasets.prepare_chunked({"name": "npz", "path": str(tmp_path / "k.npz"), "x_key": "features"},
                                 tmp_path / "out.h5")
    (tmp_path / "junk.npz").write_bytes(b"PK not a zip")
    with pytest.raises(datasets.DataError, match="cannot read NPZ file"):
        datasets.prepare_chunked({"name": "npz", "path": str(tmp_path / "junk.npz")}, tmp_path / "out.h5")
    with h5py.File(tmp_path / "d.h5", "w") as handle:
        handle["X"] = X[:, 0]
        handle["y"] = y
    with pytest.raises(datasets.DataError, match="dataset 'X' must be a 2-D array of numbers"):
        datasets.prepare_chunked({"name": "hdf5", "path": str(tmp_path / "d.h5")}, tmp_path / "out.h5")
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y[:90])
    with pytest.raises(datasets.DataError, match=r"y.npy' have shape \(90,\), X .* has 100 rows"):
        datasets.prepare_chunked({"name": "npy", "x_path": str(tmp_path / "X.npy"), "y_path": str(tmp_path / "y.npy")},
                                 tmp_path / "out.h5")
    with pytest.raises(datasets.DataError, match="does not take 'bogus'"):
        datasets.prepare_chunked({"name": "csv", "path": "x.csv", "bogus": 1}, tmp_path / "out.h5")
    images = np.zeros((5, 2, 2), np.uint8)
    data = bytes([0, 0, 8, 3]) + np.array([5, 2, 2], ">u4").tobytes() + images.tobytes()
    (tmp_path / "short.gz").write_bytes(gzip.compress(data[:-3]))
    write_idx(tmp_path / "lab", np.arange(5) % 2)
    with pytest.raises(datasets.DataError, match="ends after 4 of the 5 items"):
        datasets.prepare_chunked({"name": "idx", "images": str(tmp_path / "short.gz"), "labels": str(tmp_path / "lab")},
                                 tmp_path / "out.h5", test_fraction=0.4, val_fraction=0.2, stratify=False)
    assert not (tmp_path / "out.h5").exists()


def test_cli_prepare_out_of_core(tmp_path):
    X, y = _raw_data(300)
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    out = tmp_path / "d.h5"
    assert cli_main(["prepare", "--source", "npy", "--arg", f"x_path={tmp_path / 'X.npy'}",
                     "--arg", f"y_path={tmp_path / 'y.npy'}", "--out-of-core", "--block-rows", "40",
                     "--chunk-rows", "16", "-o", str(out)]) == 0
    info = sio.dataset_info(out)
    # The schema's dtype (float64) out of core too; --dtype float32 halves the file.
    assert info["splits"]["train"]["dtype"] == "float64" and info["splits"]["train"]["chunks"][0] == 16
    assert sum(s["n_samples"] for s in info["splits"].values()) == 300
    assert info["meta"]["split"]["block_rows"] == 40
    assert cli_main(["prepare", "--source", "npy", "--arg", f"x_path={tmp_path / 'X.npy'}",
                     "--arg", f"y_path={tmp_path / 'y.npy'}", "--out-of-core", "--dtype", "float32",
                     "-o", str(out)]) == 0
    assert sio.dataset_info(out)["splits"]["train"]["dtype"] == "float32"


# ---------------------------------------------------------------------------
# svmlight, block by block: the in-memory file, bitwise
# ---------------------------------------------------------------------------


def _svmlight_text(n=300, n_features=40, zero_based=False, seed=0):
    """svmlight lines with comments and blank lines; zero-based files use index 0 in their
    last line only, so that only the whole file tells how its indices count."""
    rng = np.random.default_rng(seed)
    lines = ["# a comment line", ""]
    for i in range(n):
        columns = np.sort(rng.choice(np.arange(1, n_features), size=rng.integers(0, 6), replace=False))
        if zero_based and i == n - 1:
            columns = np.concatenate([[0], columns])
        label = int(rng.integers(0, 3)) * 2 - 1
        cells = " ".join(f"{c}:{rng.standard_normal() * 3:.6g}" for c in columns)
        lines.append(f"{label} {cells}  # row {i}" if i % 50 == 7 else f"{label} {cells}")
        if i % 60 == 5:
            lines.append("   ")
    return "\n".join(lines) + "\n"


def _h5_arrays(path):
    out = {}
    with h5py.File(path, "r") as handle:
        handle.visititems(lambda name, node: out.__setitem__(name, (node.dtype.str, node[()]))
                          if isinstance(node, h5py.Dataset) else None)
    return out


def _write_svmlight(tmp_path, name, text):
    path = tmp_path / name
    if name.endswith(".gz"):
        path.write_bytes(gzip.compress(text.encode()))
    elif name.endswith(".bz2"):
        import bz2

        path.write_bytes(bz2.compress(text.encode()))
    else:
        path.write_text(text)
    return path


SVMLIGHT_CASES = {  # file name, zero-based, vocabulary, standardize, block_rows, dtype
    "one-based, blocks of 7": ("f.svm", False, False, True, 7, "float64"),
    "zero-based late, gz, blocks of 7": ("f.svm.gz", True, False, True, 7, "float32"),
    "vocabulary, bz2, blocks of 64, raw": ("f.svm.bz2", False, True, False, 64, "float64"),
    "zero-based, default blocks": ("f.svm", True, True, True, None, "float32"),
}


@pytest.mark.parametrize("case", sorted(SVMLIGHT_CASES))
def test_svmlight_out_of_core_writes_the_in_memory_file(tmp_path, case):
    name, zero_based, vocabulary, standardize, block_rows, dtype = SVMLIGHT_CASES[case]
    source = {"name": "svmlight", "path": str(_write_svmlight(tmp_path, name, _svmlight_text(zero_based=zero_based)))}
    if vocabulary:
        (tmp_path / "vocab.txt").write_text("".join(f"word{i}\n" for i in range(45)))
        source["vocabulary_path"] = str(tmp_path / "vocab.txt")
    options = {"seed": 4, "standardize": standardize, "dtype": dtype}
    whole = datasets.prepare(source, tmp_path / "whole.h5", **options)
    blocks = datasets.prepare_chunked(source, tmp_path / "blocks.h5", block_rows=block_rows, **options)
    memory, chunked = _h5_arrays(tmp_path / "whole.h5"), _h5_arrays(tmp_path / "blocks.h5")
    assert memory.keys() == chunked.keys() and "train/X/indptr" in memory
    assert ("preprocessing/scale" in memory) == standardize
    for key in memory:  # X's data, indices, indptr; y; classes; mean and scale; feature names
        assert memory[key][0] == chunked[key][0], key
        assert np.array_equal(memory[key][1], chunked[key][1]), key
    assert blocks["n_features"] == whole["n_features"] == (45 if vocabulary else 40 - (not zero_based))
    for key in ("splits", "source", "feature_names", "standardized", "layout", "format_version"):
        assert blocks[key] == whole[key], key
    assert blocks["meta"]["source_meta"] == {k: v for k, v in whole["meta"]["source_meta"].items() if k != "source"}
    if block_rows is None:  # blocks of ~64 MiB of nonzeros: the file in one block
        assert blocks["meta"]["split"]["block_rows"] > 300


def test_svmlight_standardization_is_the_same_bitwise_for_any_block_size(tmp_path):
    path = _write_svmlight(tmp_path, "f.svm", _svmlight_text(n=500, seed=3))
    scales = [datasets.prepare_chunked({"name": "svmlight", "path": str(path)}, tmp_path / f"{rows}.h5",
                                       block_rows=rows)["preprocessing"]["scale"] for rows in (1, 13, 499, 5000)]
    assert all(np.array_equal(scale, scales[0]) for scale in scales)
    assert not np.all(scales[0] == 1)


BAD_SVMLIGHT = {  # text, vocabulary size, in-memory and out-of-core message
    "malformed line": ("1 1:0.5\n" * 20 + "0 2:x\n" + "1 3:1\n" * 20, None, r"line 21: could not convert"),
    "unsorted indices": ("1 1:0.5\n" * 9 + "0 3:1 2:1\n" + "1 3:1\n" * 20, None, r"line 10: .*sorted"),
    "NaN": ("1 1:0.5\n" * 30 + "0 2:nan 4:1\n" + "0 3:1\n", None, r"line 31, index 2: nan is not finite"),
    "infinity": ("1 1:0.5\n0 2:1\n" * 10 + "0 5:-inf\n", None, r"line 21, index 5: -inf is not finite"),
    "beyond the vocabulary": ("1 1:0.5\n0 2:1\n" * 10 + "0 1:1 7:2\n", 5, r"more columns than the 5 names"),
    "empty file": ("# only a comment\n\n", None, "holds no data lines"),
}


@pytest.mark.parametrize("case", sorted(BAD_SVMLIGHT))
def test_bad_svmlight_files_are_named_in_memory_and_out_of_core(tmp_path, case):
    text, vocabulary, message = BAD_SVMLIGHT[case]
    path = _write_svmlight(tmp_path, "bad.svm", text)
    source = {"name": "svmlight", "path": str(path)}
    if vocabulary:
        (tmp_path / "vocab.txt").write_text("".join(f"w{i}\n" for i in range(vocabulary)))
        source["vocabulary_path"] = str(tmp_path / "vocab.txt")
    for convert in (datasets.prepare, lambda s, o: datasets.prepare_chunked(s, o, block_rows=4)):
        with pytest.raises(datasets.DataError, match=message) as error:
            convert(source, tmp_path / "out.h5")
        assert str(path) in str(error.value)
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["bad.svm"] + ["vocab.txt"] * bool(vocabulary))
    if case == "beyond the vocabulary":  # out of core, the line is named too
        with pytest.raises(datasets.DataError, match="line 21 has index 7"):
            datasets.prepare_chunked(source, tmp_path / "out.h5")


def test_cli_prepare_converts_svmlight_out_of_core(tmp_path, capsys):
    path = _write_svmlight(tmp_path, "f.svm", _svmlight_text())
    assert cli_main(["-q", "prepare", "--source", "svmlight", "--arg", f"path={path}", "--out-of-core",
                     "--block-rows", "7", "-o", str(tmp_path / "blocks.h5")]) == 0
    assert cli_main(["-q", "prepare", "--source", "svmlight", "--arg", f"path={path}",
                     "-o", str(tmp_path / "whole.h5")]) == 0
    memory, chunked = _h5_arrays(tmp_path / "whole.h5"), _h5_arrays(tmp_path / "blocks.h5")
    assert memory.keys() == chunked.keys() and all(np.array_equal(memory[k][1], chunked[k][1]) for k in memory)
    info = sio.dataset_info(tmp_path / "blocks.h5")
    assert info["layout"] == "csr" and info["meta"]["split"]["out_of_core"] and info["meta"]["split"]["block_rows"] == 7
    bad = _write_svmlight(tmp_path, "bad.svm", "1 1:2\n0 2:oops\n")
    with pytest.raises(SystemExit) as exit_info:
        cli_main(["prepare", "--source", "svmlight", "--arg", f"path={bad}", "--out-of-core",
                  "-o", str(tmp_path / "bad.h5")])
    err = capsys.readouterr().err
    assert exit_info.value.code == 1 and "line 2" in err and str(bad) in err and "Traceback" not in err
    assert not (tmp_path / "bad.h5").exists()
