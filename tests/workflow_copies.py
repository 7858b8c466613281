"""Run the Snakemake workflow in a temporary copy of it (Snakefile, workflow/, profiles/)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]


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
