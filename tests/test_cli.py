"""The softmax-nb command line: a round trip on digits and the bad-input matrix."""

import csv
import gzip
import json
import os
import struct
import subprocess
import sys

import h5py
import numpy as np
import pytest

from softmax_nb import files as sio
from softmax_nb.model.persistence import load_model
from softmax_nb.cli import main


def run(argv, capsys):
    """Run main(argv); return (exit status, stdout, stderr)."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def no_outputs(folder, *names):
    """None of ``names`` exists and no temporary file of atomic_write is left."""
    present = set(os.listdir(folder))
    return not (present & set(names)) and not [n for n in present if ".tmp-" in n]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """prepare -> train on digits, shared by the tests that need a model."""
    folder = tmp_path_factory.mktemp("cli")
    assert main(["-q", "prepare", "-o", str(folder / "digits.h5"), "--seed", "0"]) == 0
    assert main(["-q", "train", str(folder / "digits.h5"), "-o", str(folder / "model.h5"),
                 "--history", str(folder / "history.csv"), "--threads", "1", "--max-iter", "300"]) == 0
    return folder


def test_round_trip_on_digits(trained, capsys, tmp_path):
    data, model = trained / "digits.h5", trained / "model.h5"
    with open(trained / "history.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["iteration", "loss", "grad_norm", "train_accuracy", "val_loss", "val_accuracy",
                            "time"]
    assert float(rows[-1]["loss"]) < float(rows[0]["loss"])
    assert float(rows[-1]["val_accuracy"]) > 0.9  # the val split is the eval_set

    code, out, err = run(["evaluate", model, data, "-o", tmp_path / "metrics.json"], capsys)
    assert code == 0, err
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["split"] == "test" and metrics["n_samples"] == 360  # 20 % of 1797 rows (the schema's test_fraction)
    assert metrics["accuracy"] > 0.93
    assert 0 < metrics["log_loss"] < 0.3 and 0 <= metrics["ece"] < 0.1
    assert len(metrics["confusion_matrix"]) == 10 and len(metrics["per_class"]) == 10

    code, out, _ = run(["evaluate", model, data, "--split", "val"], capsys)
    assert code == 0 and json.loads(out)["split"] == "val"

    code, out, _ = run(["info", model], capsys)
    assert code == 0 and "model file" in out and "standardization stored: yes" in out
    code, out, _ = run(["info", data, "--json"], capsys)
    info = json.loads(out)
    assert info["kind"] == "dataset" and info["image_shape"] == [8, 8]

    code, out, _ = run(["gradcheck", model, data, "--n-samples", "50", "-o", tmp_path / "grad.json"], capsys)
    assert code == 0
    grad = json.loads((tmp_path / "grad.json").read_text())
    assert grad["passed"] and grad["n_samples"] == 50
    assert {b["block"] for b in grad["blocks"]} == {"coef", "intercept"}
    assert max(b["max_rel_error"] for b in grad["blocks"]) < 1e-5
    code, out, _ = run(["gradcheck", model, data, "--n-samples", "20", "--strict"], capsys)
    assert code == 0 and "coef" in out and "max_rel_error" in out

    code, _, err = run(["predict", model, data, "-o", tmp_path / "pred.csv"], capsys)
    assert code == 0, err
    with open(tmp_path / "pred.csv") as handle:
        rows = list(csv.reader(handle))
    assert rows[0][:3] == ["row", "predicted", "p_0"] and len(rows) == 361
    X, y, _ = sio.read_dataset(data, "test")
    predicted = np.array([int(r[1]) for r in rows[1:]])
    assert np.mean(predicted == y) == pytest.approx(metrics["accuracy"])
    np.testing.assert_allclose([sum(map(float, r[2:])) for r in rows[1:]], 1.0, atol=1e-7)

    # Raw (unstandardized) features: the model's stored standardization is applied.
    from sklearn.datasets import load_digits

    raw = load_digits().data[:25]
    np.save(tmp_path / "raw.npy", raw)
    code, _, err = run(["predict", model, tmp_path / "raw.npy", "-o", tmp_path / "raw.csv", "--no-proba"], capsys)
    assert code == 0, err
    with open(tmp_path / "raw.csv") as handle:
        labels = [int(r[1]) for r in list(csv.reader(handle))[1:]]
    assert np.mean(np.array(labels) == load_digits().target[:25]) > 0.9
    assert no_outputs(tmp_path)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_train_options_and_config(tmp_path, capsys, trained):
    config = tmp_path / "config.yaml"
    config.write_text(
        "datasets:\n  syn:\n    source: synthetic\n    n_samples: 300\n    n_features: 4\n    n_classes: 3\n"
        "    val_fraction: 0.2\n    test_fraction: 0.2\n    seed: 1\n    dtype: float32\n"
        "models:\n  adam:\n    solver: adam\n    learning_rate: 0.05\n    max_iter: 5\n    batch_size: 32\n"
        "    random_state: null\n    threads: 1\n    class_weight: {0: 2.0}\n"
    )
    code, _, err = run(["prepare", "--config", config, "--dataset", "syn", "-o", tmp_path / "syn.h5"], capsys)
    assert code == 0, err
    assert sio.dataset_info(tmp_path / "syn.h5")["splits"]["train"]["dtype"] == "float32"
    code, _, err = run(["train", tmp_path / "syn.h5", "--config", config, "--model", "adam",
                        "-o", tmp_path / "m.h5", "--history", tmp_path / "h.json", "--config-hash", "cafe"], capsys)
    assert code == 0, err
    assert "numba kernels ready in" in err  # the compile/cache-load time is logged
    clf, info = load_model(tmp_path / "m.h5", return_info=True)
    # null draws a seed, as everywhere (the schema's default, 0, is the reproducible choice).
    assert clf.solver == "adam" and clf.random_state is None and clf.class_weight == {0: 2.0}
    assert info["config_hash"] == "cafe" and info["extra"]["compile_seconds"] >= 0
    history = json.loads((tmp_path / "h.json").read_text())
    assert history["iteration"] == [1, 2, 3, 4, 5]
    # Flags override the config; --params takes JSON.
    code, _, err = run(["train", tmp_path / "syn.h5", "-o", tmp_path / "m2.h5", "--params",
                        '{"C": 0.1, "max_iter": 50}', "--C", "0.5", "--no-intercept", "--no-eval"], capsys)
    assert code == 0, err
    clf = load_model(tmp_path / "m2.h5")
    assert clf.C == 0.5 and clf.max_iter == 50 and not clf.fit_intercept
    assert np.isnan(clf.history_["val_loss"]).all()
    # Elastic net from the command line: exact zeros, and the model file keeps l1_ratio.
    code, _, err = run(["train", tmp_path / "syn.h5", "-o", tmp_path / "m3.h5", "--C", "0.05",
                        "--l1-ratio", "0.8", "--max-iter", "300"], capsys)
    assert code == 0, err
    sparse = load_model(tmp_path / "m3.h5")
    assert sparse.l1_ratio == 0.8 and np.count_nonzero(sparse.coef_ == 0) > 0
    # The generator's own prepare options from the command line.
    code, _, err = run(["prepare", "--source", "synthetic", "--arg", "n_samples=200", "--arg", "n_classes=4",
                        "--chunk-rows", "16", "--compression", "gzip", "-o", tmp_path / "s2.h5"], capsys)
    assert code == 0, err
    info = sio.dataset_info(tmp_path / "s2.h5")
    assert info["n_classes"] == 4 and info["splits"]["train"]["chunks"] == (16, 20)


@pytest.mark.parametrize("sub", ["prepare", "train", "evaluate", "gradcheck", "info", "predict"])
def test_help_of_each_command(capsys, sub):
    code, out, _ = run([sub, "--help"], capsys)
    assert code == 0 and out.startswith(f"usage: softmax-nb {sub}")


def test_console_script_help_and_error_without_traceback(tmp_path):
    exe = os.path.join(os.path.dirname(sys.executable), "softmax-nb")
    command = [exe] if os.path.exists(exe) else [sys.executable, "-m", "softmax_nb.cli"]
    done = subprocess.run(command + ["--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "usage: softmax-nb" in done.stdout
    for sub in ("prepare", "train", "evaluate", "gradcheck", "info", "predict"):
        assert sub in done.stdout
    done = subprocess.run(command + ["info", str(tmp_path / "missing.h5")], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 1
    assert done.stderr.strip() == f"softmax-nb: error: file {str(tmp_path / 'missing.h5')!r} does not exist"
    assert "Traceback" not in done.stderr


# ---------------------------------------------------------------------------
# the bad-input matrix: message, exit status, and no output left behind
# ---------------------------------------------------------------------------


def _write_idx(path, array, magic=None, cut=0):
    header = magic if magic is not None else bytes([0, 0, 8, array.ndim])
    data = header + struct.pack(f">{array.ndim}I", *array.shape) + array.astype(np.uint8).tobytes()
    with gzip.open(path, "wb") as handle:
        handle.write(data[: len(data) - cut])


@pytest.mark.parametrize(
    "make, argv, message",
    [
        (None, ["--source", "csv", "--arg", "path={d}/missing.csv"], "CSV file '{d}/missing.csv' does not exist"),
        (lambda d: (d / "r.csv").write_text("1,2,0\n1,2\n"), ["--source", "csv", "--arg", "path={d}/r.csv"],
         "line 2 has 2 columns but line 1 has 3"),
        (lambda d: (d / "n.csv").write_text("a,b,y\n1,2,0\n1,two,1\n"), ["--source", "csv", "--arg", "path={d}/n.csv"],
         "line 3, column 2 ('b'): 'two' is not a number"),
        (lambda d: (d / "h.csv").write_text("a,b,y\n1,2,3,0\n"), ["--source", "csv", "--arg", "path={d}/h.csv"],
         "line 2 has 4 columns but the header has 3"),
        (lambda d: (d / "h.csv").write_text("a,b,y\n1,2,0\n"),
         ["--source", "csv", "--arg", "path={d}/h.csv", "--arg", "label_column=target"],
         "label column 'target' is not in the header"),
        (lambda d: (d / "c.csv").write_text("a,y\n" + "".join(f"{i},{i / 7}\n" for i in range(20))),
         ["--source", "csv", "--arg", "path={d}/c.csv"], "y looks continuous"),
        (lambda d: (_write_idx(d / "i.gz", np.zeros((4, 2, 2)), magic=b"\x01\x00\x08\x03"),
                    _write_idx(d / "l.gz", np.zeros(4))),
         ["--source", "idx", "--arg", "images={d}/i.gz", "--arg", "labels={d}/l.gz"], "bad magic number"),
        (lambda d: (_write_idx(d / "i.gz", np.zeros((4, 2, 2)), cut=5), _write_idx(d / "l.gz", np.zeros(4))),
         ["--source", "idx", "--arg", "images={d}/i.gz", "--arg", "labels={d}/l.gz"],
         "but the file holds 11 bytes"),
        (lambda d: (_write_idx(d / "i.gz", np.zeros((4, 2, 2))), _write_idx(d / "l.gz", np.zeros(3))),
         ["--source", "idx", "--arg", "images={d}/i.gz", "--arg", "labels={d}/l.gz"],
         "has 3 labels, shorter than the 4 images"),
        (lambda d: np.savez(d / "x.npz", X=np.ones((10, 2)), y=np.zeros(10)),
         ["--source", "npz", "--arg", "path={d}/x.npz"], "single class"),
        (lambda d: np.savez(d / "x.npz", X=np.ones((10, 2)), y=np.arange(10) % 2),
         ["--source", "npz", "--arg", "path={d}/x.npz", "--arg", "x_key=features"], "no array 'features'"),
        (None, ["--source", "digits", "--val-fraction", "0.6", "--test-fraction", "0.5"], "must be below 1"),
        (None, ["--source", "synthetic", "--arg", "bogus=1"], "source 'synthetic' does not take 'bogus'"),
    ],
)
def test_prepare_bad_input(tmp_path, capsys, make, argv, message):
    if make:
        make(tmp_path)
    argv = [a.format(d=tmp_path) for a in argv]
    code, _, err = run(["prepare", *argv, "-o", tmp_path / "out.h5"], capsys)
    assert code == 1
    assert err.startswith("softmax-nb: error: ") and message.format(d=tmp_path) in err
    assert "Traceback" not in err
    assert no_outputs(tmp_path, "out.h5")


def _truncated(path):
    sio.write_dataset(path, {s: (np.ones((4, 2)), np.array([0, 1, 0, 1])) for s in sio.SPLITS}, [0, 1],
                      {"source": "t"})
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])


def _not_ours(path):
    with h5py.File(path, "w") as handle:
        handle["train/X"] = np.ones((3, 2))


def _future_version(path):
    sio.write_dataset(path, {s: (np.ones((4, 2)), np.array([0, 1, 0, 1])) for s in sio.SPLITS}, [0, 1],
                      {"source": "t"})
    with h5py.File(path, "r+") as handle:
        handle.attrs["format_version"] = 7


@pytest.mark.parametrize(
    "make, message",
    [
        (None, "dataset file '{p}' does not exist"),
        (_truncated, "dataset file '{p}' is truncated: it holds"),
        (lambda p: p.write_text("hello"), "dataset file '{p}' is not an HDF5 file"),
        (_not_ours, "dataset file '{p}' is an HDF5 file but not a softmax_nb file"),
        (_future_version, "dataset file '{p}' has format version 7; this softmax_nb reads version 1"),
    ],
)
def test_train_bad_data_file(tmp_path, capsys, make, message):
    data = tmp_path / "data.h5"
    if make:
        make(data)
    code, _, err = run(["train", data, "-o", tmp_path / "model.h5", "--history", tmp_path / "h.csv"], capsys)
    assert code == 1 and err.startswith(f"softmax-nb: error: {message.format(p=data)}")
    assert err.count("\n") == 1  # one line, no traceback
    assert no_outputs(tmp_path, "model.h5", "h.csv")


def test_evaluate_and_predict_bad_model_or_data(tmp_path, capsys, trained):
    data, model = trained / "digits.h5", trained / "model.h5"
    # A model file that is a dataset file.
    code, _, err = run(["evaluate", data, data, "-o", tmp_path / "m.json"], capsys)
    assert code == 1 and "format 'softmax_nb-dataset', expected 'softmax_nb-model'" in err
    # A model for other features.
    sio.write_dataset(tmp_path / "other.h5", {s: (np.ones((4, 3)), np.array([0, 1, 0, 1])) for s in sio.SPLITS},
                      [0, 1], {"source": "t"})
    code, _, err = run(["evaluate", model, tmp_path / "other.h5", "-o", tmp_path / "m.json"], capsys)
    assert code == 1 and "expects 64 features but" in err
    # A model for other classes.
    sio.write_dataset(tmp_path / "cls.h5", {s: (np.ones((4, 64)), np.array([0, 1, 0, 1])) for s in sio.SPLITS},
                      ["x", "y"], {"source": "t"})
    code, _, err = run(["evaluate", model, tmp_path / "cls.h5", "-o", tmp_path / "m.json"], capsys)
    assert code == 1 and "no class in common" in err
    # Truncated model.
    (tmp_path / "cut.h5").write_bytes(model.read_bytes()[:2000])
    code, _, err = run(["predict", tmp_path / "cut.h5", data, "-o", tmp_path / "p.csv"], capsys)
    assert code == 1 and "model file" in err and "truncated" in err
    # Raw features with NaN, or the wrong width.
    np.save(tmp_path / "nan.npy", np.full((2, 64), np.nan))
    code, _, err = run(["predict", model, tmp_path / "nan.npy", "-o", tmp_path / "p.csv"], capsys)
    assert code == 1 and "NaN or infinite" in err
    np.save(tmp_path / "narrow.npy", np.ones((2, 5)))
    code, _, err = run(["predict", model, tmp_path / "narrow.npy", "-o", tmp_path / "p.csv"], capsys)
    assert code == 1 and "expects 64 features" in err
    assert no_outputs(tmp_path, "m.json", "p.csv")


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train"], "the following arguments are required"),
        (["frobnicate"], "invalid choice"),
        (["train", "{d}", "-o", "{t}/m.h5", "--solver", "newton"], "invalid choice"),
        (["train", "{d}", "-o", "{t}/m.h5", "--threads", "999"], "exceeds numba's limit"),
        (["train", "{d}", "-o", "{t}/m.h5", "--params", "{{bad"], "--params is not valid JSON"),
        (["train", "{d}", "-o", "{t}/m.h5", "--params", '{{"gamma": 1}}'], "unknown hyperparameter(s): gamma"),
        (["train", "{d}", "-o", "{t}/m.h5", "--model", "x"], "--model needs --config"),
        (["train", "{d}", "-o", "{t}/m.h5", "--history", "{t}/h.txt"], "--history must end in .csv or .json"),
        (["prepare", "-o", "{t}/x.h5", "--dataset", "d"], "--dataset needs --config"),
    ],
)
def test_usage_errors_exit_2(tmp_path, capsys, trained, argv, message):
    argv = [a.format(d=trained / "digits.h5", t=tmp_path) for a in argv]
    code, _, err = run(argv, capsys)
    assert code == 2 and "softmax-nb: error: " in err and message in err
    assert no_outputs(tmp_path, "m.h5", "x.h5", "h.txt")


def test_data_errors_in_hyperparameters_and_config(tmp_path, capsys, trained):
    data = trained / "digits.h5"
    code, _, err = run(["train", data, "-o", tmp_path / "m.h5", "--class-weight", '{"11": 2}'], capsys)
    assert code == 1 and "class_weight names class '11'" in err
    # A bad value on the command line is a usage error, found before any work.
    code, _, err = run(["train", data, "-o", tmp_path / "m.h5", "--C", "-1"], capsys)
    assert code == 2 and "C must be positive" in err and "softmax-nb: error:" in err
    config = tmp_path / "c.yaml"
    config.write_text("datasets:\n  a: {source: digits}\n")
    code, _, err = run(["prepare", "--config", config, "--dataset", "b", "-o", tmp_path / "x.h5"], capsys)
    assert code == 1 and "defines no datasets.b (defined: a)" in err
    code, _, err = run(["prepare", "--config", tmp_path / "none.yaml", "--dataset", "a", "-o", tmp_path / "x.h5"],
                       capsys)
    assert code == 1 and "config file" in err and "does not exist" in err
    code, _, err = run(["train", data, "-o", tmp_path / "no" / "m.h5"], capsys)
    assert code == 1 and "does not exist" in err
    assert no_outputs(tmp_path, "m.h5", "x.h5")


def test_cuda_without_gpu_is_a_clear_error(tmp_path, capsys, trained):
    from softmax_nb.model.estimator import resolve_device

    try:
        resolve_device("cuda")
    except (RuntimeError, ImportError):
        pass
    else:
        pytest.skip("a CUDA GPU is usable here")
    code, _, err = run(["train", trained / "digits.h5", "-o", tmp_path / "m.h5", "--device", "cuda"], capsys)
    assert code == 1 and err.startswith("softmax-nb: error: device='cuda' was requested but")
    assert "Traceback" not in err and no_outputs(tmp_path, "m.h5")


def test_quiet_after_the_command(tmp_path, capsys):
    code, _, err = run(["prepare", "-q", "-o", tmp_path / "d.h5", "--source", "synthetic",
                        "--arg", "n_samples=100"], capsys)
    assert code == 0 and err == ""
    code, _, err = run(["prepare", "-o", tmp_path / "d.h5", "--source", "synthetic", "--arg", "n_samples=100"],
                       capsys)
    assert code == 0 and "wrote" in err


# -- nothing lost: an output that is an input is refused before any work --------


def _digest(path):
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_an_output_that_is_an_input_is_refused_and_the_input_kept(trained, tmp_path, capsys):
    data, model = trained / "digits.h5", trained / "model.h5"
    link = tmp_path / "same_inode.h5"
    os.link(data, link)  # another name of the same file
    params = tmp_path / "params.json"
    params.write_text('{"max_iter": 2}')
    before = {path: _digest(path) for path in (data, model, params)}
    cases = [
        ["train", data, "-o", data],
        ["train", data, "-o", link],
        ["train", data, "-o", model, "--init-model", model],
        ["train", data, "-o", tmp_path / "m.h5", "--params", params, "--history", params],
        ["train", data, "-o", tmp_path / "m.h5", "--checkpoint", data],
        ["evaluate", model, data, "-o", data],
        ["evaluate", model, data, "-o", model],
        ["gradcheck", model, data, "-o", model],
        ["predict", model, data, "-o", model],
        ["predict", model, data, "-o", link],
    ]
    for argv in cases:
        code, _, err = run(argv, capsys)
        assert code == 2, (argv, err)
        assert "is also an input of this command" in err and "Traceback" not in err, err
    assert {path: _digest(path) for path in (data, model, params)} == before
    assert not (tmp_path / "m.h5").exists()


def test_bad_hyperparameter_values_are_usage_errors_before_any_work(trained, tmp_path, capsys):
    data = trained / "digits.h5"
    for argv, named in (
        (["--params", '{"C": "x"}'], "C must be a number"),
        (["--checkpoint-every", "0"], "argument --checkpoint-every: must be an integer > 0"),
        (["--params", '{"max_iter": 10.0}'], "max_iter must be an integer >= 0"),
        (["--momentum", "1.5"], "momentum must be in [0, 1)"),
        (["--solver", "adam", "--l1-ratio", "0.5"], "l1_ratio > 0 needs solver 'lbfgs'"),
    ):
        code, _, err = run(["train", data, "-o", tmp_path / "m.h5", *argv], capsys)
        assert code == 2 and named in err and "Traceback" not in err, (argv, err)
        assert "numba kernels ready" not in err  # refused before the data were read
    assert not (tmp_path / "m.h5").exists()


def test_a_config_key_given_twice_is_refused_with_its_line(tmp_path, capsys):
    config = tmp_path / "config.yaml"
    config.write_text("datasets:\n  d:\n    source: digits\nmodels:\n  m:\n    C: 1.0\n  m:\n    C: 2.0\n")
    code, _, err = run(["prepare", "--config", config, "--dataset", "d", "-o", tmp_path / "d.h5"], capsys)
    assert code == 1 and "'m' appears twice" in err and "line 7" in err, err


def test_a_csv_with_a_byte_order_mark_reads_like_one_without(tmp_path):
    from softmax_nb.data import load_csv

    text = "a,b,label\n" + "".join(f"{i},{i % 3},{i % 2}\n" for i in range(20))
    plain, marked = tmp_path / "plain.csv", tmp_path / "marked.csv"
    plain.write_text(text, encoding="utf-8")
    marked.write_text(text, encoding="utf-8-sig")
    X1, y1, meta1 = load_csv(plain, label_column="label")
    X2, y2, meta2 = load_csv(marked, label_column="label")
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    assert meta2.get("feature_names") == meta1.get("feature_names") == ["a", "b"]
    # Headerless: the first row stays a data row.
    headerless = tmp_path / "headerless.csv"
    headerless.write_text("".join(f"{i},{i % 2}\n" for i in range(10)), encoding="utf-8-sig")
    X3, _, _ = load_csv(headerless)
    assert X3.shape == (10, 1)


@pytest.mark.parametrize("argv, message", [
    (["evaluate", "{m}", "{d}", "--bins", "0"], "argument --bins: must be an integer >= 2"),
    (["evaluate", "{m}", "{d}", "--bins", "-3"], "argument --bins"),
    (["gradcheck", "{m}", "{d}", "--eps", "0"], "argument --eps: must be a finite number > 0"),
    (["gradcheck", "{m}", "{d}", "--eps", "nan"], "argument --eps"),
    (["gradcheck", "{m}", "{d}", "--n-samples", "0"], "argument --n-samples"),
    (["train", "{d}", "-o", "{t}/m.h5", "--max-memory-mb", "inf"], "argument --max-memory-mb"),
    (["train", "{d}", "-o", "{t}/m.h5", "--checkpoint-seconds", "-1"], "argument --checkpoint-seconds"),
])
def test_out_of_range_flags_are_usage_errors(trained, tmp_path, capsys, argv, message):
    argv = [a.format(m=trained / "model.h5", d=trained / "digits.h5", t=tmp_path) for a in argv]
    code, _, err = run(argv, capsys)
    assert code == 2 and message in err, err


def test_version_and_python_dash_m(capsys):
    import softmax_nb

    code, out, _ = run(["--version"], capsys)
    assert code == 0 and out.strip() == f"softmax-nb {softmax_nb.__version__}"
    done = subprocess.run([sys.executable, "-m", "softmax_nb", "--version"], capture_output=True, text=True)
    assert done.returncode == 0 and softmax_nb.__version__ in done.stdout


def test_predict_refuses_complex_features(trained, tmp_path, capsys):
    X = np.zeros((3, 64), dtype=np.complex128)
    np.save(tmp_path / "complex.npy", X)
    code, _, err = run(["predict", trained / "model.h5", tmp_path / "complex.npy", "-o", tmp_path / "p.csv"], capsys)
    assert code == 1 and "complex128" in err and not (tmp_path / "p.csv").exists()


def test_a_file_name_near_the_limit_can_be_written(tmp_path):
    from softmax_nb.files.atomic import atomic_write

    target = tmp_path / ("x" * 250 + ".csv")
    with atomic_write(target, "w") as handle:
        handle.write("ok\n")
    assert target.read_text() == "ok\n" and [p.name for p in tmp_path.iterdir()] == [target.name]


def test_one_skip_column_is_a_column_not_its_characters(tmp_path, capsys):
    csv_path = tmp_path / "with_id.csv"
    rows = "".join(f"row{i},{i % 5},{(i * 7) % 3},{i % 2}\n" for i in range(60))
    csv_path.write_text("id,a,b,label\n" + rows)
    code, _, err = run(["prepare", "--source", "csv", "--arg", f"path={csv_path}", "--arg", "label_column=label",
                        "--arg", "skip_columns=id", "-o", tmp_path / "d.h5"], capsys)
    assert code == 0, err
    assert sio.dataset_info(tmp_path / "d.h5")["n_features"] == 2


def test_a_running_fit_logs_its_progress(trained, tmp_path, capsys, monkeypatch):
    from softmax_nb.model import training

    monkeypatch.setattr(training, "PROGRESS_SECONDS", 0.0)
    monkeypatch.setattr(training, "PROGRESS_SECONDS_TERMINAL", 0.0)
    for extra in ([], ["--max-memory-mb", "64"]):
        code, _, err = run(["train", trained / "digits.h5", "-o", tmp_path / "m.h5", "--max-iter", "3",
                            "--solver", "gd", "--no-checkpoint", *extra], capsys)
        assert code == 0, err
        lines = [line for line in err.splitlines() if "iteration" in line and "of at most 3" in line]
        assert len(lines) == 3 and "val_loss" in lines[-1], err


def test_predict_checks_column_names_passes_an_id_column_and_writes_stdout(tmp_path, capsys):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 3))
    y = (X[:, 0] - X[:, 2] > 0).astype(int)
    with open(tmp_path / "train.csv", "w") as handle:
        handle.write("a,b,c,label\n" + "".join(",".join(map(str, r)) + f",{v}\n" for r, v in zip(X, y)))
    assert main(["-q", "prepare", "--source", "csv", "--arg", f"path={tmp_path / 'train.csv'}",
                 "-o", str(tmp_path / "d.h5")]) == 0
    assert main(["-q", "train", str(tmp_path / "d.h5"), "-o", str(tmp_path / "m.h5")]) == 0
    # The model file keeps the dataset's names (without making the estimator name-checked).
    clf, info = load_model(tmp_path / "m.h5", return_info=True)
    assert info["feature_names"] == ["a", "b", "c"] and not hasattr(clf, "feature_names_in_")

    def write(name, header, rows):
        (tmp_path / name).write_text(",".join(header) + "\n" + "".join(",".join(map(str, r)) + "\n" for r in rows))

    write("new.csv", ["id", "a", "b", "c"], [[f"x{i}", *X[i]] for i in range(4)])
    code, out, err = run(["predict", tmp_path / "m.h5", tmp_path / "new.csv", "--id-column", "id", "-o", "-"], capsys)
    assert code == 0, err
    rows = list(csv.reader(out.splitlines()))
    assert rows[0] == ["id", "predicted", "p_0", "p_1"] and [r[0] for r in rows[1:]] == ["x0", "x1", "x2", "x3"]
    assert [int(r[1]) for r in rows[1:]] == clf.predict(X[:4]).tolist()
    # The same columns in another order, or other columns: refused, naming the column.
    write("reversed.csv", ["c", "b", "a"], [r[::-1] for r in X[:4]])
    code, _, err = run(["predict", tmp_path / "m.h5", tmp_path / "reversed.csv", "-o", tmp_path / "p.csv"], capsys)
    assert code == 1 and "in another order: column 1 is 'c' where model" in err
    write("other.csv", ["a", "b", "d"], X[:4])
    code, _, err = run(["predict", tmp_path / "m.h5", tmp_path / "other.csv", "-o", tmp_path / "p.csv"], capsys)
    assert code == 1 and "columns the model does not know: 'd'" in err and "features missing: 'c'" in err
    assert not (tmp_path / "p.csv").exists()
    code, _, err = run(["predict", tmp_path / "m.h5", tmp_path / "d.h5", "--id-column", "id", "-o", "-"], capsys)
    assert code == 2 and "--id-column needs a CSV file" in err


def test_verbose_is_a_repeatable_flag(trained, tmp_path, capsys):
    code, out, err = run(["train", trained / "digits.h5", "-o", tmp_path / "m.h5", "-v", "--max-iter", "2"], capsys)
    assert code == 0, err
    assert out.count("[lbfgs] iter") == 2
    assert load_model(tmp_path / "m.h5").verbose == 1


def test_the_estimator_and_cli_need_no_workflow_stack(tmp_path):
    """Snakemake, jsonschema and pygments are the [workflow] extra: without them the CLI
    works, and only --config says what to install."""
    import tomllib

    from pathlib import Path

    project = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())["project"]
    core = " ".join(project["dependencies"])
    assert not any(name in core for name in ("snakemake", "jsonschema", "pygments"))
    assert any(d.startswith("snakemake") for d in project["optional-dependencies"]["workflow"])
    config = tmp_path / "c.yaml"
    config.write_text("datasets:\n  d:\n    source: digits\n")
    script = (
        "import sys\n"
        "for name in ('snakemake', 'jsonschema', 'pygments'): sys.modules[name] = None  # not installed\n"
        "from softmax_nb.cli import main\n"
        f"assert main(['-q', 'prepare', '--source', 'digits', '-o', {str(tmp_path / 'a.h5')!r}]) == 0\n"
        f"sys.exit(main(['prepare', '--config', {str(config)!r}, '--dataset', 'd', '-o', {str(tmp_path / 'b.h5')!r}]))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 1, done.stderr
    assert "needs jsonschema, part of the workflow extra" in done.stderr and "Traceback" not in done.stderr
    assert (tmp_path / "a.h5").exists() and not (tmp_path / "b.h5").exists()


def test_train_records_convergence_and_its_warnings_in_the_model_file(trained, tmp_path, capsys):
    code, _, err = run(["train", trained / "digits.h5", "-o", tmp_path / "short.h5", "--max-iter", "3"], capsys)
    assert code == 0 and "failed to converge after 3 iteration(s)" in err  # shown as it happens
    extra = sio.model_info(tmp_path / "short.h5")["extra"]
    assert extra["converged"] is False and extra["stopped_early"] is False
    assert any("ConvergenceWarning: lbfgs failed to converge" in w for w in extra["warnings"])
    done = sio.model_info(trained / "model.h5")["extra"]
    assert done["converged"] is True and done["warnings"] == []
