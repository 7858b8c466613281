"""The SLURM profile: it parses, names existing files, and routes CPU and GPU jobs as documented.

These run without a cluster; tests/slurm/run_slurm_test.sh runs the profile against a real one.
"""

from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

plugin = pytest.importorskip("snakemake_executor_plugin_slurm")
from snakemake_executor_plugin_slurm.partitions import get_best_partition, read_partition_file  # noqa: E402
from snakemake_executor_plugin_slurm.utils import set_gres_string  # noqa: E402

PROFILE = Path(__file__).resolve().parents[2] / "profiles" / "slurm"


class Resources(dict):
    """Snakemake's job resources: a mapping that also answers attribute access."""

    __getattr__ = dict.get


def fake_job(threads=1, **resources):
    resources.setdefault("mem_mb", 1000)
    resources.setdefault("runtime", 30)
    return SimpleNamespace(name="train", threads=threads, resources=Resources(resources))


class Logger:
    def __getattr__(self, name):
        return lambda *args, **kwargs: None


@pytest.fixture(scope="module")
def profile():
    return yaml.safe_load((PROFILE / "config.yaml").read_text())


def test_profile_selects_the_slurm_executor_with_retries_and_latency_wait(profile):
    assert profile["executor"] == "slurm"
    assert profile["jobs"] >= 1 and profile["retries"] >= 1 and profile["latency-wait"] >= 30
    assert {"mem_mb", "runtime"} <= set(profile["default-resources"])
    # Snakemake reads a relative path in a profile from the profile's folder.
    assert (PROFILE / profile["slurm-partition-config"]).is_file()
    # Per-rule overrides name rules that exist in the workflow.
    rules = "".join(p.read_text() for p in (PROFILE.parents[1] / "workflow" / "rules").glob("*.smk"))
    for rule in profile["set-resources"]:
        assert f"rule {rule}:" in rules or f" as {rule} with:" in rules, f"set-resources names unknown rule {rule!r}"


def test_cpu_jobs_go_to_the_cpu_partition_and_gpu_jobs_to_the_gpu_partition(profile):
    partitions = read_partition_file(PROFILE / profile["slurm-partition-config"])
    assert {p.name for p in partitions} == {"cpu", "gpu"}
    assert get_best_partition(partitions, fake_job(threads=4, gpu=0), Logger()) == "cpu"
    assert get_best_partition(partitions, fake_job(threads=4, gpu=1), Logger()) == "gpu"
    # A job over every partition's limits gets none (the plugin then falls back to the default).
    assert get_best_partition(partitions, fake_job(mem_mb=10**7), Logger()) is None


def test_gpu_models_request_a_gpu_and_cpu_models_none():
    assert set_gres_string(fake_job(gpu=1)).strip() == "--gpus=1"
    assert set_gres_string(fake_job(gpu=0)).strip() == ""
