"""The Snakemake workflow: lint, format, config validation, and an end-to-end run.

The end-to-end test copies the workflow into a temporary folder with a tiny
configuration (digits subsampled to 400 rows with two models, and a 5-feature
synthetic dataset with one model), runs it, builds the report, and checks
rerun behaviour. The config-validation tests run Snakemake in dry-run mode and
check that it stops before any job, naming the offending key.
"""

from __future__ import annotations

import base64
import csv
import html
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml
from workflow_copies import RUNS, SNAKEMAKE, TINY_CONFIG, copy_workflow, run_snakemake, snakemake_env, write_config

ROOT = Path(__file__).resolve().parents[1]

FIGURES = ("history", "confusion", "mistakes", "per_class", "roc_pr", "reliability", "weights")


def _snakemake(workdir, *args, check=True, timeout=900):
    return run_snakemake(workdir, *args, check=check, timeout=timeout)


def _planned_outputs(dry_run_output: str) -> list[str]:
    """Output files of the jobs a dry run lists."""
    outputs = []
    for line in dry_run_output.splitlines():
        match = re.match(r"\s+output: (.*)", line)
        if match:
            outputs.extend(part.strip() for part in match.group(1).split(","))
    return outputs


def _planned_rules(dry_run_output: str) -> list[str]:
    return re.findall(r"^(?:local)?rule (\w+):", dry_run_output, flags=re.M)


# ---------------------------------------------------------------------------
# static checks
# ---------------------------------------------------------------------------


def test_lint_is_clean():
    result = _snakemake(ROOT, "--lint", timeout=300)
    assert "Congratulations, your workflow is in a good condition!" in result.stdout + result.stderr


def test_snakefmt_check_passes():
    snakefmt = shutil.which("snakefmt", path=os.path.dirname(sys.executable)) or shutil.which("snakefmt")
    assert snakefmt, "snakefmt is not installed (pip install -e '.[test]')"
    result = subprocess.run([snakefmt, "--check", "Snakefile", "workflow"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def _walk_schema(node, path):
    """Yield (path, property schema) for every property of every object in the schema."""
    if isinstance(node, dict):
        for name, prop in node.get("properties", {}).items():
            yield f"{path}.{name}", prop
            yield from _walk_schema(prop, f"{path}.{name}")
        for key in ("additionalProperties", "items"):
            if isinstance(node.get(key), dict):
                yield from _walk_schema(node[key], f"{path}[{key}]")
        for name, sub in node.get("$defs", {}).items():
            yield from _walk_schema(sub, f"$defs.{name}")


def test_schema_documents_every_key_with_a_default():
    schema = yaml.safe_load((ROOT / "softmax_nb/settings/config.schema.yaml").read_text())
    properties = list(_walk_schema(schema, "config"))
    assert len(properties) > 40
    for path, prop in properties:
        assert prop.get("description"), f"{path} has no description"
        assert "default" in prop, f"{path} has no default"
    objects = [schema, schema["$defs"]["dataset"], schema["$defs"]["model"]]
    objects += [p for _, p in properties if p.get("type") == "object" and "properties" in p]
    for node in objects:
        assert node.get("additionalProperties") is False, "unknown keys must be rejected"


def test_schema_and_library_agree_on_the_keys_of_each_source():
    # The configuration page shows per dataset only the keys of its source, by the library's
    # SOURCE_KEYS; the schema's descriptions say the same ("csv only.", "npz and hdf5 only.").
    from softmax_nb.data.preparation import SOURCE_KEYS

    schema = yaml.safe_load((ROOT / "softmax_nb/settings/config.schema.yaml").read_text())
    properties = schema["$defs"]["dataset"]["properties"]
    sources = set(properties["source"]["enum"])
    assert set(SOURCE_KEYS) == sources
    checked = 0
    for key, prop in properties.items():
        match = re.match(r"\s*([a-z0-9_]+(?:(?:, | and )[a-z0-9_]+)*) only\b", prop["description"])
        if not match or not set(re.split(r", | and ", match.group(1))) <= sources:
            continue
        named = set(re.split(r", | and ", match.group(1)))
        users = {source for source, keys in SOURCE_KEYS.items() if key in keys}
        assert named == users, f"{key}: the schema says {sorted(named)}, SOURCE_KEYS {sorted(users)}"
        checked += 1
    assert checked >= 10


def test_config_readme_documents_every_key():
    schema = yaml.safe_load((ROOT / "softmax_nb/settings/config.schema.yaml").read_text())
    readme = (ROOT / "config/README.md").read_text()
    keys = set(schema["properties"]) | set(schema["$defs"]["dataset"]["properties"])
    keys |= set(schema["$defs"]["model"]["properties"])
    for section in ("evaluate", "gradcheck", "plots"):
        keys |= set(schema["properties"][section]["properties"])
    missing = sorted(key for key in keys if f"`{key}`" not in readme)
    assert not missing, f"config/README.md does not document {missing}"


def test_default_config_is_valid_and_plans_the_digits_run(tmp_path):
    shutil.copy(ROOT / "Snakefile", tmp_path / "Snakefile")
    shutil.copytree(ROOT / "workflow", tmp_path / "workflow")
    shutil.copytree(ROOT / "config", tmp_path / "config")
    result = _snakemake(tmp_path, "--dry-run", "--cores", "2", timeout=300)
    outputs = _planned_outputs(result.stdout + result.stderr)
    for model in ("lbfgs_C1", "lbfgs_C0.01", "sgd", "adam"):
        assert f"results/models/digits/{model}.h5" in outputs
    # Fashion-MNIST is ready but not enabled by default.
    assert not any("fashion_mnist" in path for path in outputs)


def test_a_users_configfile_replaces_the_run_list(tmp_path):
    """--configfile merges datasets and models into the default config, but its run list
    replaces the default one (else digits would still be trained)."""
    shutil.copy(ROOT / "Snakefile", tmp_path / "Snakefile")
    shutil.copytree(ROOT / "workflow", tmp_path / "workflow")
    shutil.copytree(ROOT / "config", tmp_path / "config")
    (tmp_path / "my.yaml").write_text(
        "datasets:\n  mine:\n    source: synthetic\n    n_samples: 200\n    n_features: 3\n"
        "models:\n  quick:\n    max_iter: 5\nrun:\n  mine: [quick, sgd]\n")
    result = _snakemake(tmp_path, "--dry-run", "--cores", "2", "--configfile", "my.yaml", timeout=300)
    trained = sorted(p for p in _planned_outputs(result.stdout + result.stderr)
                     if re.match(r"results/models/[^/]+/[^/]+\.h5$", p))
    assert trained == ["results/models/mine/quick.h5", "results/models/mine/sgd.h5"]


# ---------------------------------------------------------------------------
# bad configurations stop before any job runs
# ---------------------------------------------------------------------------


def _bad(mutate):
    config = json.loads(json.dumps(TINY_CONFIG))
    mutate(config)
    return config


BAD_CONFIGS = {
    "unknown top-level key": (lambda c: c.update(thread=2), "thread"),
    "unknown model key": (lambda c: c["models"]["lbfgs"].update(max_iters=5), "max_iters"),
    "unknown dataset key": (lambda c: c["datasets"]["digits"].update(seed_value=3), "seed_value"),
    "wrong type": (lambda c: c["models"]["lbfgs"].update(max_iter="many"), "max_iter"),
    "negative C": (lambda c: c["models"]["sgd"].update(C=-1.0), "'C'"),
    "zero learning rate": (lambda c: c["models"]["sgd"].update(learning_rate=0), "learning_rate"),
    "unknown solver": (lambda c: c["models"]["sgd"].update(solver="newton"), "solver"),
    "split fractions": (
        lambda c: c["datasets"]["digits"].update(val_fraction=0.5, test_fraction=0.5),
        "datasets.digits.val_fraction + datasets.digits.test_fraction",
    ),
    "run names unknown dataset": (lambda c: c["run"].update(mnist=["lbfgs"]), "run.mnist"),
    "run names unknown model": (lambda c: c["run"].update(digits=["lbfgs", "newton"]), "'newton'"),
    "csv without path": (
        lambda c: c["datasets"].update(mine={"source": "csv"}) or c["run"].update(mine="all"),
        "datasets.mine.path",
    ),
    "cuda without a GPU": (lambda c: c["models"]["lbfgs"].update(device="cuda"), "models.lbfgs.device"),
    # YAML's 10.0 passes the schema's "integer" and NaN its range: the estimator's rules catch them.
    "float max_iter": (lambda c: c["models"]["lbfgs"].update(max_iter=10.0), "models.lbfgs.max_iter"),
    "NaN C": (lambda c: c["models"]["sgd"].update(C=float("nan")), "models.sgd.C"),
    "l1 with sgd": (lambda c: c["models"]["sgd"].update(l1_ratio=0.5), "models.sgd.l1_ratio"),
    "source file gone": (
        lambda c: c["datasets"].update(mine={"source": "csv", "path": "gone.csv"}) or c["run"].update(mine="all"),
        "datasets.mine: the source file 'gone.csv' does not exist",
    ),
}


def test_a_vanished_source_file_stops_the_run_instead_of_reusing_the_old_dataset(tmp_path):
    config = json.loads(json.dumps(TINY_CONFIG))
    config["datasets"] = {"mine": {"source": "csv", "path": "data.csv", "val_fraction": 0.25,
                                   "test_fraction": 0.25}}
    config["run"] = {"mine": ["lbfgs"]}
    copy_workflow(tmp_path, config)
    rows = "".join(f"{i % 7},{(i * 3) % 5},{i % 2}\n" for i in range(40))
    (tmp_path / "data.csv").write_text("a,b,label\n" + rows)
    _snakemake(tmp_path, "--cores", "1", "results/data/mine.h5")
    (tmp_path / "data.csv").unlink()
    result = _snakemake(tmp_path, "--cores", "1", check=False, timeout=300)
    message = result.stdout + result.stderr
    assert result.returncode != 0
    assert "the source file 'data.csv' does not exist; results/data/mine.h5 was prepared from it" in message
    assert not (tmp_path / "results/models").exists()


def test_a_config_key_given_twice_fails_before_any_job(tmp_path):
    copy_workflow(tmp_path, TINY_CONFIG)
    config = tmp_path / "config" / "config.yaml"
    config.write_text(config.read_text() + "\nmodels:\n  other: {}\n")
    result = _snakemake(tmp_path, "--cores", "1", check=False, timeout=300)
    assert result.returncode != 0 and "'models' appears twice" in result.stdout + result.stderr
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_bad_config_fails_before_any_job_naming_the_key(tmp_path, case):
    if case == "cuda without a GPU":
        from softmax_nb.kernels.cuda import cuda_available

        if cuda_available():
            pytest.skip("a CUDA GPU is usable here, so device 'cuda' is valid")
    mutate, key = BAD_CONFIGS[case]
    copy_workflow(tmp_path, _bad(mutate))
    result = _snakemake(tmp_path, "--cores", "1", check=False, timeout=300)
    message = result.stdout + result.stderr
    assert result.returncode != 0, message
    assert key in message, f"the error does not name {key!r}:\n{message}"
    # Nothing ran: no job output, no job log.
    assert not (tmp_path / "results").exists()
    assert not (tmp_path / "logs").exists()


# ---------------------------------------------------------------------------
# sweeps
# ---------------------------------------------------------------------------

SWEEP = [
    {"settings": {"solver": "lbfgs", "max_iter": 20}, "grid": {"C": [0.1, 1.0, 10.0], "dtype": ["float32", "float64"]}},
    {"base": "sgd", "grid": {"learning_rate": [0.1, 0.01]}},
]


def test_sweep_expands_to_model_jobs_and_a_C_figure(tmp_path):
    config = json.loads(json.dumps(TINY_CONFIG))
    config["sweep"] = SWEEP
    config["run"] = {"blobs": "all"}
    copy_workflow(tmp_path, config)
    result = _snakemake(tmp_path, "--dry-run", "--cores", "2", timeout=300)
    outputs = _planned_outputs(result.stdout + result.stderr)
    expected = ["lbfgs", "sgd", "enet", "lbfgs_mpi"]
    expected += [f"lbfgs_C{c}_{d}" for c in ("0.1", "1", "10") for d in ("float32", "float64")]
    expected += ["sgd_lr0.1", "sgd_lr0.01"]
    trained = sorted(p.split("/")[-1][:-3] for p in outputs if re.match(r"results/models/blobs/[^/]+\.h5$", p))
    assert trained == sorted(expected)
    assert "results/plots/blobs/sweep_C.png" in outputs


def test_two_values_of_C_make_no_sweep_figure(tmp_path):
    config = json.loads(json.dumps(TINY_CONFIG))
    config["sweep"] = {"settings": {"solver": "lbfgs", "max_iter": 20}, "grid": {"C": [0.1, 1.0]}}
    config["run"] = {"blobs": "all"}
    copy_workflow(tmp_path, config)
    result = _snakemake(tmp_path, "--dry-run", "--cores", "2", timeout=300)
    outputs = _planned_outputs(result.stdout + result.stderr)
    assert "results/models/blobs/lbfgs_C0.1.h5" in outputs and "results/models/blobs/lbfgs_C1.h5" in outputs
    assert not any("sweep_C" in path for path in outputs)


def test_default_config_sweeps_C_over_five_values(tmp_path):
    shutil.copy(ROOT / "Snakefile", tmp_path / "Snakefile")
    shutil.copytree(ROOT / "workflow", tmp_path / "workflow")
    shutil.copytree(ROOT / "config", tmp_path / "config")
    result = _snakemake(tmp_path, "--dry-run", "--cores", "2", timeout=300)
    outputs = _planned_outputs(result.stdout + result.stderr)
    for c in ("0.001", "0.01", "0.1", "1", "10"):
        assert f"results/models/digits/lbfgs_C{c}.h5" in outputs
    assert "results/plots/digits/sweep_C.png" in outputs


def test_bad_sweep_fails_naming_the_grid_entry(tmp_path):
    config = json.loads(json.dumps(TINY_CONFIG))
    config["sweep"] = [SWEEP[0], {"settings": {"solver": "sgd"}, "grid": {"momentum_": [0.5, 0.9]}}]
    copy_workflow(tmp_path, config)
    result = _snakemake(tmp_path, "--dry-run", "--cores", "1", check=False, timeout=300)
    assert result.returncode != 0
    assert "sweep[1].grid" in result.stdout + result.stderr and "momentum_" in result.stdout + result.stderr


def test_sweep_values_are_range_checked(tmp_path):
    config = json.loads(json.dumps(TINY_CONFIG))
    config["sweep"] = {"settings": {"solver": "lbfgs"}, "grid": {"C": [1.0, -1.0]}}
    copy_workflow(tmp_path, config)
    result = _snakemake(tmp_path, "--dry-run", "--cores", "1", check=False, timeout=300)
    assert result.returncode != 0
    assert "lbfgs_C-1" in result.stdout + result.stderr and "'C'" in result.stdout + result.stderr


# ---------------------------------------------------------------------------
# end to end
# ---------------------------------------------------------------------------


# The fixture finished_run (tests/conftest.py) runs the workflow once per test session on
# TINY_CONFIG and builds its report; tests/test_report_browser.py shares it.


@pytest.mark.slow
def test_all_outputs_exist_and_are_valid(finished_run):
    workdir, _, _ = finished_run
    results = workdir / "results"
    from softmax_nb import files as io
    from softmax_nb.cli import main as cli_main
    from softmax_nb.model.persistence import load_model

    for dataset in ("digits", "blobs"):
        info = io.dataset_info(results / "data" / f"{dataset}.h5")
        assert info["splits"]["train"]["n_samples"] > 0
    assert io.dataset_info(results / "data/digits.h5")["image_shape"] in ([8, 8], (8, 8))

    for dataset, model in RUNS:
        clf = load_model(results / "models" / dataset / f"{model}.h5")
        assert clf.coef_.shape[0] == (10 if dataset == "digits" else 1)
        with open(results / "models" / dataset / f"{model}.history.csv", newline="") as handle:
            history = list(csv.DictReader(handle))
        assert len(history) == clf.n_iter_ and "val_loss" in history[0]
        metrics = json.loads((results / "metrics" / dataset / f"{model}.json").read_text())
        for split in ("val", "test"):
            assert 0.0 <= metrics[split]["accuracy"] <= 1.0
            assert metrics[split]["log_loss"] > 0
            assert len(metrics[split]["confusion_matrix"]) == len(metrics[split]["classes"])
        check = json.loads((results / "gradcheck" / dataset / f"{model}.json").read_text())
        assert check["passed"], check
        # The workflow's gradcheck is the CLI's: same rows, same lambda, same numbers.
        cli_table = workdir / f"cli_gradcheck_{dataset}_{model}.json"
        assert cli_main(["gradcheck", str(results / "models" / dataset / f"{model}.h5"),
                         str(results / "data" / f"{dataset}.h5"), "--n-samples", str(TINY_CONFIG["gradcheck"]["n_samples"]),
                         "--seed", "0", "-o", str(cli_table), "-q"]) == 0
        from_cli = json.loads(cli_table.read_text())
        assert from_cli["l2_reg_strength"] == check["l2_reg_strength"]
        assert from_cli["n_samples"] == check["n_samples"]
        assert {row["block"]: row["max_rel_error"] for row in from_cli["blocks"]} == \
            {block: check[f"{block}_max_rel_error"] for block in ("coef", "intercept")}
        for figure in FIGURES:
            png = (results / "plots" / dataset / model / f"{figure}.png").read_bytes()
            assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5000
    assert (results / "models/digits/lbfgs.h5").exists()
    with h5py.File(results / "models/digits/lbfgs.h5") as handle:
        assert handle.attrs  # a real model file, not an empty placeholder

    with open(results / "summary.csv", newline="") as handle:
        summary = list(csv.DictReader(handle))
    assert {(row["dataset"], row["model"]) for row in summary} == set(RUNS)
    for dataset in ("digits", "blobs"):
        rows = [row for row in summary if row["dataset"] == dataset]
        best = [row for row in rows if row["best"] == "True"]
        assert len(best) == 1
        assert float(best[0]["val_loss"]) == min(float(row["val_loss"]) for row in rows)
    digits_lbfgs = next(r for r in summary if r["dataset"] == "digits" and r["model"] == "lbfgs")
    assert float(digits_lbfgs["test_accuracy"]) > 0.85
    enet = next(r for r in summary if r["model"] == "enet")
    assert float(enet["l1_ratio"]) == 0.7 and 0 < float(enet["zero_weights"]) < 1
    assert float(next(r for r in summary if r["model"] == "lbfgs")["zero_weights"]) == 0

    with open(results / "gradcheck.csv", newline="") as handle:
        assert len(list(csv.DictReader(handle))) == len(RUNS)
    compile_report = json.loads((results / "kernels/compile.json").read_text())
    assert compile_report["seconds"] > 0
    train_log = (workdir / "logs/train/digits/lbfgs.log").read_text()
    assert "numba kernels ready in" in train_log
    environment = (results / "report/environment.html").read_text()
    for item in ("numba", "numpy", "snakemake", "python", "CPU", "threads"):
        assert item in environment
    methods = (results / "report/methods.html").read_text()
    assert "<math" in methods and "gradient" in methods.lower()


@pytest.mark.slow
def test_report_embeds_every_plot_and_page(finished_run):
    workdir, _, _ = finished_run
    html = (workdir / "results/report.html").read_text()
    match = re.search(r"var results = (\{.*?\});\n", html, flags=re.S)
    assert match, "no results table in the report"
    embedded = json.loads(match.group(1))
    figures = sorted(p.relative_to(workdir).as_posix() for p in (workdir / "results/plots").rglob("*.png"))
    assert len(figures) == len(RUNS) * len(FIGURES) + 2  # + one comparison per dataset
    pages = [f"results/report/{name}.html" for name in ("summary", "gradcheck", "environment", "config", "methods")]
    pages += ["results/report/data/digits.html", "results/report/data/blobs.html"]
    for path in figures + pages:
        assert path in embedded, f"{path} is not in the report"
        entry = embedded[path]
        assert entry["caption"].strip(), f"{path} has no caption"
        payload = entry["data_uri"].split("base64,", 1)[1]
        assert base64.b64decode(payload) == (workdir / path).read_bytes(), f"{path} is not embedded intact"


@pytest.mark.slow
def test_summary_is_readable_and_the_csv_complete(finished_run):
    workdir, _, _ = finished_run
    with open(workdir / "results/summary.csv", newline="") as handle:
        reader = csv.DictReader(handle)
        summary = list(reader)
        columns = reader.fieldnames
    for column in ("dataset", "model", "best", "val_loss", "test_accuracy", "l1_ratio", "zero_weights",
                   "learning_rate", "batch_size", "train_objective", "val_accuracy", "test_log_loss",
                   "device_used", "n_iter", "max_iter", "converged", "convergence_note", "dtype", "dtype_source"):
        assert column in columns, column
    by_model = {(row["dataset"], row["model"]): row for row in summary}
    # The dtype the fit used, not "data": the datasets' stored dtypes.
    assert by_model[("digits", "lbfgs")]["dtype"] == "float64"
    assert by_model[("blobs", "lbfgs")]["dtype"] == "float32"
    assert {row["dtype_source"] for row in summary} == {"as stored"}
    # sgd runs 4 epochs (max_iter) without meeting tol: not converged, and the note says why.
    sgd = by_model[("digits", "sgd")]
    assert sgd["n_iter"] == sgd["max_iter"] == "4" and sgd["converged"] == "False"
    # The fit's own warning, recorded by softmax-nb train in the model file.
    assert "failed to converge after 4 iteration(s) (max_iter=4)" in sgd["convergence_note"]
    for row in summary:
        if int(row["n_iter"]) < int(row["max_iter"]):
            assert row["converged"] == "True" and row["convergence_note"] == "", row

    page = (workdir / "results/report/summary.html").read_text()
    headers = re.findall(r"<th[^>]*>([^<]*)</th>", page)
    assert headers[:5] == ["model", "test accuracy", "macro-F1", "ECE", "val. loss"]
    assert "converged" in headers and "dtype" in headers and not any("_" in h for h in headers)
    # Rarely needed columns live in the CSV only.
    for rare in ("learning rate", "batch size", "train objective", "learning_rate", "train_objective"):
        assert rare not in headers
    page = page.replace("\u00a0", " ")  # short cells are kept from wrapping by non-breaking spaces
    assert "float32 (as stored)" in page and "float64 (as stored)" in page and ">data<" not in page
    # Numbers are rounded: no long decimal expansions.
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", page)
    assert not [c for c in cells if re.fullmatch(r"-?\d+\.\d{5,}", c)]
    assert "(best)" in page
    # The model that stopped at max_iter is marked, with the reason under the table.
    assert "no *" in page and "max_iter=4" in page


@pytest.mark.slow
def test_data_pages(finished_run):
    workdir, _, _ = finished_run
    info = {}
    from softmax_nb import files as io

    for dataset in ("digits", "blobs"):
        info[dataset] = io.dataset_info(workdir / "results/data" / f"{dataset}.h5")
        page = (workdir / "results/report/data" / f"{dataset}.html").read_text()
        assert "split sizes" in page and "class balance per split" in page
        for split, details in info[dataset]["splits"].items():
            assert f"{details['n_samples']} (" in page
            for count in details["class_counts"]:
                assert f">{count} (" in page
        # Images only for image data (digits declares 8x8).
        assert ("data:image/png;base64," in page) == (dataset == "digits")


@pytest.mark.slow
def test_config_page_shows_the_keys_of_each_source_and_no_anchors(finished_run):
    workdir, _, _ = finished_run
    page = (workdir / "results/report/config.html").read_text()
    text = html.unescape(re.search(r"<pre>(.*?)</pre>", page, flags=re.S).group(1))
    assert not re.search(r"[&*]id\d+", text), "YAML anchors or aliases in the configuration page"
    shown = yaml.safe_load(text)
    digits, blobs = shown["datasets"]["digits"], shown["datasets"]["blobs"]
    for key in ("n_samples", "n_features", "n_classes", "class_sep", "x_key", "delimiter", "path", "labels_path",
                "block_rows"):
        assert key not in digits, key
    assert blobs["n_samples"] == 300 and blobs["n_features"] == 5 and "x_key" not in blobs
    for key in ("val_fraction", "test_fraction", "seed", "standardize", "dtype", "class_names", "out_of_core"):
        assert key in digits and key in blobs
    # Everything else is there in full.
    assert shown["models"]["enet"]["l1_ratio"] == 0.7 and shown["run"]["blobs"] == ["lbfgs", "enet", "lbfgs_mpi"]


@pytest.mark.slow
def test_environment_page_says_when_the_code_is_no_git_checkout(finished_run):
    workdir, _, _ = finished_run
    page = (workdir / "results/report/environment.html").read_text()
    assert "git commit of the workflow" in page and "not a git checkout" in page


def test_environment_page_names_the_git_commit(tmp_path):
    if not shutil.which("git"):
        pytest.skip("git is not installed")
    copy_workflow(tmp_path, TINY_CONFIG)
    (tmp_path / ".gitignore").write_text("results/\nlogs/\n.snakemake/\n")

    def git(*args):
        return subprocess.run(["git", "-C", str(tmp_path), *args], capture_output=True, text=True, check=True)

    git("init", "-q")
    git("add", "-A")
    git("-c", "user.name=test", "-c", "user.email=test@example.org", "commit", "-q", "-m", "workflow")
    commit = git("rev-parse", "HEAD").stdout.strip()
    (tmp_path / "notes.txt").write_text("an untracked file\n")
    _snakemake(tmp_path, "--cores", "1", "results/report/environment.html", timeout=600)
    page = (tmp_path / "results/report/environment.html").read_text()
    assert f"{commit} (with uncommitted changes)" in page
    assert "uncommitted changes: 1 file(s)" in page


@pytest.mark.slow
def test_second_run_has_nothing_to_do(finished_run):
    workdir, _, _ = finished_run
    result = _snakemake(workdir, "--dry-run", "--cores", "2")
    assert "Nothing to be done" in result.stdout + result.stderr, result.stdout


@pytest.mark.slow
def test_changing_one_models_C_reruns_only_that_model(finished_run):
    workdir, _, _ = finished_run
    config = json.loads(json.dumps(TINY_CONFIG))
    config["models"]["sgd"]["C"] = 0.5
    write_config(workdir, config)
    try:
        result = _snakemake(workdir, "--dry-run", "--cores", "2")
    finally:
        write_config(workdir, TINY_CONFIG)
    outputs = _planned_outputs(result.stdout + result.stderr)
    rules = _planned_rules(result.stdout + result.stderr)
    assert "results/models/digits/sgd.h5" in outputs
    per_model = [path for path in outputs if re.match(r"results/(models|metrics|gradcheck|plots)/\w+/\w+", path)]
    for path in per_model:
        if path.startswith("results/plots/") and path.endswith("comparison.png"):
            assert path == "results/plots/digits/comparison.png"
            continue
        assert "/digits/sgd" in path, f"{path} would be rebuilt although its model did not change"
    # The data, the kernels and the other models stay as they are; the report's
    # configuration page shows the new value.
    for rule in ("prepare", "compile_kernels", "methods", "environment"):
        assert rule not in rules
    assert rules.count("train") == 1 and "config_page" in rules
    assert "results/summary/blobs.csv" not in outputs


@pytest.mark.slow
def test_train_jobs_use_their_threads(finished_run):
    workdir, _, _ = finished_run
    # threads: 1 in the tiny config; numba ran with exactly that many.
    for dataset, model in RUNS:
        log = (workdir / "logs" / "train" / dataset / f"{model}.log").read_text()
        assert "1 thread(s)" in log, log


@pytest.mark.slow
def test_an_mpi_model_is_its_one_process_twin_bitwise_and_the_report_says_so(finished_run):
    workdir, run, _ = finished_run
    models = workdir / "results" / "models" / "blobs"
    with h5py.File(models / "lbfgs.h5", "r") as one, h5py.File(models / "lbfgs_mpi.h5", "r") as two:
        np.testing.assert_array_equal(one["coef"][()], two["coef"][()])
        np.testing.assert_array_equal(one["intercept"][()], two["intercept"][()])
        assert json.loads(two.attrs["extra"])["mpi"]["ranks"] == 2
    assert "training over 2 MPI rank(s)" in (workdir / "logs" / "train" / "blobs" / "lbfgs_mpi.log").read_text()
    line = _train_resources(run.stdout + run.stderr)[("blobs", "lbfgs_mpi")]
    assert "mpi=mpiexec" in line and "tasks=2" in line and "cpus_per_task=1" in line, line
    with open(workdir / "results" / "summary.csv") as handle:
        ranks = {row["model"]: row["mpi_ranks"] for row in csv.DictReader(handle) if row["dataset"] == "blobs"}
    assert ranks == {"lbfgs": "1", "enet": "1", "lbfgs_mpi": "2"}


def test_mpi_tasks_with_a_minibatch_solver_fail_before_any_job(tmp_path):
    config = json.loads(json.dumps(TINY_CONFIG))
    config["models"]["sgd"]["tasks"] = 2
    copy_workflow(tmp_path, config)
    result = subprocess.run([*SNAKEMAKE, "--dry-run", "--cores", "1"], cwd=tmp_path, env=snakemake_env(),
                            capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert "models.sgd.tasks: 2 MPI tasks need a full-batch solver" in result.stdout + result.stderr


def _train_resources(dry_run_output):
    """{(dataset, model): resources line} of the train jobs in a dry run."""
    found = {}
    for block in re.split(r"\n(?=\[|rule |localrule )", dry_run_output):
        if re.match(r"(local)?rule train(_mpi)?:", block.strip()):
            wildcards = re.search(r"wildcards: dataset=([^,\s]+), model=(\S+)", block)
            resources = re.search(r"resources: (.*)", block)
            found[wildcards.groups()] = resources.group(1)
    return found


def test_cuda_models_declare_a_gpu_and_memory_follows_the_data(tmp_path):
    config = json.loads(json.dumps(TINY_CONFIG))
    config["models"]["lbfgs"]["device"] = "cuda"
    copy_workflow(tmp_path, config)
    env = snakemake_env()
    # numba's CUDA simulator makes the GPU check pass on a machine without one.
    env["NUMBA_ENABLE_CUDASIM"] = "1"
    result = subprocess.run(
        [*SNAKEMAKE, "--dry-run", "--cores", "2"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    resources = _train_resources(result.stdout + result.stderr)
    assert set(resources) == set(RUNS)
    for (dataset, model), line in resources.items():
        assert ("gpu=1" in line) == (model == "lbfgs"), line
        assert "mem_mb=" in line and "runtime=" in line, line


@pytest.mark.slow
def test_train_memory_is_estimated_from_the_data_size(finished_run):
    workdir, run, _ = finished_run
    resources = _train_resources(run.stdout + run.stderr)
    assert set(resources) == set(RUNS)
    for (dataset, model), line in resources.items():
        size_mb = (workdir / "results" / "data" / f"{dataset}.h5").stat().st_size / 2**20
        mem_mb = int(re.search(r"mem_mb=(\d+)", line).group(1))
        assert abs(mem_mb - (512 + 3 * size_mb)) <= 1, (line, size_mb)
        assert int(re.search(r"runtime=(\d+)", line).group(1)) >= 10


@pytest.mark.slow
def test_the_workflow_runs_end_to_end_on_a_svmlight_source(tmp_path, monkeypatch):
    from sklearn.datasets import dump_svmlight_file
    import scipy.sparse as sp

    # A cache of its own: the compile job must compile every kernel the later jobs use
    # (CSR, float64) and nothing the configuration does not need.
    cache = tmp_path / "numba_cache"
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(cache))

    rng = np.random.default_rng(0)
    X = sp.random(600, 400, density=0.02, format="csr", random_state=0) * 3
    y = np.argmax(X @ rng.standard_normal((3, 400)).T * 5 + rng.gumbel(size=(600, 3)), axis=1)
    dump_svmlight_file(X, y, str(tmp_path / "text.svm"))
    (tmp_path / "vocab.txt").write_text("\n".join(f"term{i}" for i in range(400)) + "\n")
    config = {"threads": 1,
              "datasets": {"text": {"source": "svmlight", "path": str(tmp_path / "text.svm"),
                                    "vocabulary_path": str(tmp_path / "vocab.txt")}},
              "models": {"lbfgs": {"solver": "lbfgs", "C": 0.5, "max_iter": 50},
                         "enet": {"solver": "lbfgs", "C": 0.5, "l1_ratio": 0.5, "max_iter": 50}},
              "run": {"text": ["lbfgs", "enet"]}, "gradcheck": {"n_samples": 50}}
    copy_workflow(tmp_path, config)
    result = _snakemake(tmp_path, "--cores", "2", timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    results = tmp_path / "results"
    info = json.loads(subprocess.run([sys.executable, "-c", (
        "import json, sys; from softmax_nb.files import dataset_info; i = dataset_info(sys.argv[1]); "
        "print(json.dumps({'layout': i['layout'], 'names': i['feature_names'][:2]}))"),
        str(results / "data" / "text.h5")], capture_output=True, text=True, check=True,
        env=snakemake_env()).stdout)
    assert info == {"layout": "csr", "names": ["term0", "term1"]}
    for model in ("lbfgs", "enet"):
        metrics = json.loads((results / "metrics" / "text" / f"{model}.json").read_text())
        assert metrics["test"]["accuracy"] > 0.4
        assert (results / "plots" / "text" / model / "weights.png").stat().st_size > 0
    compiled = json.loads((results / "kernels" / "compile.json").read_text())
    assert {(n["dtype"], n["layout"], n["solver"], n["elastic_net"]) for n in compiled["needs"]["train"]} == {
        ("float64", "csr", "lbfgs", False), ("float64", "csr", "lbfgs", True)}
    assert compiled["needs"]["evaluate"] == [{"dtype": "float64", "layout": "csr"},
                                             {"dtype": "float64", "layout": "dense"}]
    stamp = (results / "kernels" / "compile.json").stat().st_mtime
    later = [p.name for p in cache.rglob("*") if p.is_file() and p.stat().st_mtime > stamp]
    assert any(cache.rglob("*.nbc")) and not later, f"jobs after the compile job compiled {later[:5]}"
