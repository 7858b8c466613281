"""Run the Snakemake workflow in a temporary copy of it (Snakefile, workflow/, profiles/)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]

# The tiny configuration of the end-to-end run (tests/test_workflow.py): digits subsampled
# to 400 rows with two models, and a 5-feature binary synthetic dataset with two.
TINY_CONFIG = {
    "threads": 1,
    "datasets": {
        "digits": {"source": "digits", "max_samples": 400, "val_fraction": 0.2, "test_fraction": 0.2, "seed": 1},
        "blobs": {
            "source": "synthetic",
            "n_samples": 300,
            "n_features": 5,
            "n_classes": 2,
            "val_fraction": 0.25,
            "test_fraction": 0.25,
            "dtype": "float32",
        },
    },
    "models": {
        "lbfgs": {"solver": "lbfgs", "C": 1.0, "max_iter": 50},
        "sgd": {"solver": "sgd", "C": 1.0, "learning_rate": 0.05, "batch_size": 32, "max_iter": 4},
        "enet": {"solver": "lbfgs", "C": 0.1, "l1_ratio": 0.7, "max_iter": 100},
        # lbfgs over two MPI ranks (mpiexec): the same model, bitwise.
        "lbfgs_mpi": {"solver": "lbfgs", "C": 1.0, "max_iter": 50, "tasks": 2},
    },
    # blobs is binary: one row of log-odds, L2 and elastic net.
    "run": {"digits": ["lbfgs", "sgd"], "blobs": ["lbfgs", "enet", "lbfgs_mpi"]},
    "gradcheck": {"n_samples": 50},
}
RUNS = [("digits", "lbfgs"), ("digits", "sgd"), ("blobs", "lbfgs"), ("blobs", "enet"), ("blobs", "lbfgs_mpi")]


def snakemake_env():
    """The environment jobs run in: this checkout's package first, the project's numba cache."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.setdefault("NUMBA_CACHE_DIR", str(ROOT / ".numba_cache"))
    # A CUDA simulator switched on by another test session would make 'cuda' look usable.
    env.pop("NUMBA_ENABLE_CUDASIM", None)
    return env


def write_config(target: Path, config: dict) -> None:
    (target / "config" / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


def copy_workflow(target: Path, config: dict) -> Path:
    """The workflow in ``target`` with ``config`` as its config/config.yaml."""
    shutil.copy(ROOT / "Snakefile", target / "Snakefile")
    shutil.copytree(ROOT / "workflow", target / "workflow", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "profiles", target / "profiles")
    (target / "config").mkdir()
    write_config(target, config)
    return target


def run_snakemake(workdir, *args, check=False, timeout=900):
    result = subprocess.run([*SNAKEMAKE, *args], cwd=workdir, env=snakemake_env(), capture_output=True,
                            text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def finished_workflow(tmp_path_factory):
    """Run the workflow on TINY_CONFIG in a fresh copy and build its report.

    Returns ``(workdir, run result, report result)``; raises AssertionError when either fails.
    """
    workdir = copy_workflow(tmp_path_factory.mktemp("workflow"), TINY_CONFIG)
    # No --workflow-profile: profiles/default beside the Snakefile is found by Snakemake itself.
    run = run_snakemake(workdir, "--cores", "2", check=True)
    report = run_snakemake(workdir, "--workflow-profile", "none", "--report", "results/report.html", check=True)
    return workdir, run, report
