"""Checks of the SLURM test (run by tests/slurm/run_slurm_test.sh; not a pytest module).

Subcommands, each exiting non-zero with a message naming what is wrong:

``jobs LOG CLUSTER_DIR --min-models N``
    Every non-local job of the Snakemake run in LOG was submitted to SLURM, and SLURM ran it to
    completion: its job id is in Snakemake's log, SLURM's per-job log exists and names the rule,
    slurmd launched it (slurmd.log), the job-completion record says COMPLETED, and ``squeue``
    (MinJobAge keeps finished jobs listed) agrees. Each job got as many CPUs as it has threads,
    and training used that many numba threads. At least N distinct models were trained, each in
    its own SLURM job.
``compare SLURM_DIR LOCAL_DIR``
    Model parameters (HDF5 arrays) and metrics (JSON) of the SLURM run equal the local run's,
    apart from wall-clock timings.
``cache CACHE_DIR WARMUP_OUTPUT``
    The numba cache was written only by the warm-up job: it holds compiled kernels, and no file
    in it is newer than the warm-up's output, so no later job (train, evaluate, ...) compiled
    anything or wrote to the shared cache.
``failed LOG CLUSTER_DIR --rule RULE --attempts K``
    The run in LOG failed because RULE failed under SLURM: Snakemake reports the error, and
    SLURM records K attempts of it (the first try and the profile's retries) as FAILED.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np

# A rule block of Snakemake's log: "rule train:" (or "localrule all:") followed by indented
# fields, one of which is "jobid: N".
RULE_BLOCK = re.compile(r"^(local)?rule (\w+):\n((?:    .*\n)+)", re.MULTILINE)
SUBMITTED = re.compile(
    r"Job (\d+) has been submitted with SLURM jobid (\d+) \(log: (\S+?)\)\.", re.MULTILINE
)
FINISHED = re.compile(r"^Finished jobid: (\d+) \(Rule: (\w+)\)", re.MULTILINE)
JOBCOMP = re.compile(r"^JobId=(\d+) .*?JobState=(\w+)", re.MULTILINE)

# Values that differ between any two runs: wall-clock times and timestamps.
VOLATILE_KEYS = re.compile(r"(^|_)(time|seconds|created|timestamp)($|_)|^fit_time$|^extra$")


class CheckError(AssertionError):
    pass


def fail(message: str) -> None:
    raise CheckError(message)


def parse_run_log(text: str) -> dict[int, dict]:
    """Snakemake's jobs from its log: jobid -> {rule, local, wildcards, slurm_id, slurm_log}."""
    jobs: dict[int, dict] = {}
    for match in RULE_BLOCK.finditer(text):
        fields = match.group(3)
        jobid = re.search(r"^    jobid: (\d+)$", fields, re.MULTILINE)
        if not jobid:
            continue
        wildcards = re.search(r"^    wildcards: (.*)$", fields, re.MULTILINE)
        threads = re.search(r"^    threads: (\d+)$", fields, re.MULTILINE)
        jobs[int(jobid.group(1))] = {
            "rule": match.group(2),
            # Snakemake prints threads only when a job has more than one.
            "threads": int(threads.group(1)) if threads else 1,
            "local": bool(match.group(1)),
            "wildcards": dict(
                part.split("=", 1) for part in wildcards.group(1).split(", ")
            ) if wildcards else {},
        }
    for jobid, slurm_id, log in SUBMITTED.findall(text):
        job = jobs.setdefault(int(jobid), {"rule": None, "local": False, "wildcards": {}})
        job.setdefault("attempts", []).append((int(slurm_id), log))
    for jobid, rule in FINISHED.findall(text):
        if int(jobid) in jobs:
            jobs[int(jobid)]["finished"] = True
    return jobs


def jobcomp_states(cluster_dir: Path) -> dict[int, list[str]]:
    states: dict[int, list[str]] = {}
    path = cluster_dir / "log" / "jobcomp.log"
    if path.exists():
        for slurm_id, state in JOBCOMP.findall(path.read_text()):
            states.setdefault(int(slurm_id), []).append(state)
    return states


def squeue_states(cluster_dir: Path) -> dict[int, tuple[str, int]]:
    """Job id -> (state, CPUs), as squeue lists them (finished jobs too, for MinJobAge seconds)."""
    try:
        out = subprocess.run(
            ["squeue", "-h", "-t", "all", "-o", "%i %T %C"],
            check=True, capture_output=True, text=True,
            env={"SLURM_CONF": str(cluster_dir / "slurm.conf"), "PATH": "/usr/bin:/bin"},
        ).stdout
    except (OSError, subprocess.CalledProcessError) as error:
        fail(f"squeue failed ({getattr(error, 'stderr', '') or error}); is the cluster in {cluster_dir} running?")
    rows = (line.split() for line in out.splitlines() if line.strip())
    return {int(row[0]): (row[1], int(row[2])) for row in rows}


def check_jobs(log: Path, cluster_dir: Path, min_models: int, workdir: Path) -> str:
    jobs = parse_run_log(log.read_text())
    if not jobs:
        fail(f"{log}: no jobs found in Snakemake's log")
    remote = {jid: job for jid, job in jobs.items() if not job["local"]}
    if not remote:
        fail(f"{log}: every job ran locally; none went to SLURM")
    completed = jobcomp_states(cluster_dir)
    queue = squeue_states(cluster_dir)
    launched = set(map(int, re.findall(r"Launching batch job (\d+)", (cluster_dir / "log" / "slurmd.log").read_text())))
    problems = []
    for jid, job in sorted(remote.items()):
        what = f"job {jid} (rule {job['rule']}, {job['wildcards']})"
        if not job.get("attempts"):
            problems.append(f"{what}: never submitted to SLURM")
            continue
        if not job.get("finished"):
            problems.append(f"{what}: Snakemake never saw it finish")
        slurm_id, slurm_log = job["attempts"][-1]
        if len(job["attempts"]) > 1:
            problems.append(f"{what}: needed {len(job['attempts'])} attempts {job['attempts']}")
        if slurm_id not in launched:
            problems.append(f"{what}: SLURM job {slurm_id} not launched by slurmd")
        if completed.get(slurm_id) != ["COMPLETED"]:
            problems.append(f"{what}: SLURM job {slurm_id} completion record {completed.get(slurm_id)}")
        state, cpus = queue.get(slurm_id, (None, None))
        if state != "COMPLETED":
            problems.append(f"{what}: squeue says {state} for SLURM job {slurm_id}")
        if cpus != job["threads"]:
            problems.append(f"{what}: SLURM gave {cpus} CPUs for a job of {job['threads']} threads")
        if job["rule"] == "train_mpi":
            # tasks x threads CPUs: the ranks are MPI's, one numba thread each (the test config).
            train_log = workdir / "logs" / "train" / job["wildcards"]["dataset"] / f"{job['wildcards']['model']}.log"
            text = train_log.read_text() if train_log.exists() else ""
            if f"training over {job['threads']} MPI rank(s)" not in text or "1 thread(s)" not in text:
                problems.append(f"{what}: {train_log} does not show {job['threads']} MPI ranks of 1 thread")
        if job["rule"] == "train":
            # The job's threads must also be numba's thread count (softmax-nb logs it).
            train_log = workdir / "logs" / "train" / job["wildcards"]["dataset"] / f"{job['wildcards']['model']}.log"
            numba = re.search(r"(\d+) thread\(s\)", train_log.read_text()) if train_log.exists() else None
            if not numba or int(numba.group(1)) != job["threads"]:
                problems.append(f"{what}: {train_log} does not show numba using {job['threads']} thread(s)")
        log_path = Path(slurm_log)
        if not log_path.is_absolute():
            log_path = workdir / log_path
        if not log_path.exists():
            problems.append(f"{what}: SLURM log {log_path} missing")
        elif f"rule {job['rule']}:" not in log_path.read_text():
            problems.append(f"{what}: SLURM log {log_path} does not show rule {job['rule']} running")
    if problems:
        fail("SLURM jobs not as expected:\n  " + "\n  ".join(problems))
    train = [job for job in remote.values() if job["rule"] in ("train", "train_mpi")]
    models = {job["wildcards"].get("model") for job in train}
    slurm_ids = {job["attempts"][-1][0] for job in train}
    multi = sorted(job["wildcards"]["model"] for job in train if job["threads"] > 1)
    if len(models) < min_models or len(slurm_ids) != len(train):
        fail(f"expected >= {min_models} models trained in separate SLURM jobs, got {len(models)} "
             f"models in {len(slurm_ids)} jobs")
    rules = sorted({job["rule"] for job in remote.values()})
    local = sorted({job["rule"] for job in jobs.values() if job["local"]})
    return (f"{len(remote)} jobs ran under SLURM and completed (rules: {', '.join(rules)}; local: "
            f"{', '.join(local) or 'none'}); {len(models)} models trained in {len(slurm_ids)} "
            f"separate SLURM jobs; CPUs = threads = numba threads for every job "
            f"(multi-threaded: {', '.join(multi) or 'none'})")


def _compare_json(a, b, where: str, problems: list[str]) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            problems.append(f"{where}: keys differ: {sorted(set(a) ^ set(b))}")
        for key in set(a) & set(b):
            if not VOLATILE_KEYS.search(str(key)):
                _compare_json(a[key], b[key], f"{where}.{key}", problems)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            problems.append(f"{where}: lengths {len(a)} != {len(b)}")
        for i, (x, y) in enumerate(zip(a, b)):
            _compare_json(x, y, f"{where}[{i}]", problems)
    elif isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return
    elif a != b:
        problems.append(f"{where}: {a!r} != {b!r}")


def _h5_arrays(path: Path) -> dict[str, np.ndarray]:
    arrays = {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset) and not VOLATILE_KEYS.search(name.rsplit("/", 1)[-1]):
                arrays[name] = obj[()]
        f.visititems(visit)
    return arrays


def check_compare(slurm_dir: Path, local_dir: Path) -> str:
    problems: list[str] = []
    models = sorted((local_dir / "results" / "models").rglob("*.h5"))
    metrics = sorted((local_dir / "results" / "metrics").rglob("*.json"))
    if not models or not metrics:
        fail(f"{local_dir}: the local run wrote no models or metrics")
    n_arrays = 0
    for local in models:
        remote = slurm_dir / local.relative_to(local_dir)
        if not remote.exists():
            problems.append(f"{remote} missing from the SLURM run")
            continue
        a, b = _h5_arrays(remote), _h5_arrays(local)
        if set(a) != set(b):
            problems.append(f"{remote}: arrays differ: {sorted(set(a) ^ set(b))}")
        for name in set(a) & set(b):
            n_arrays += 1
            if a[name].shape != b[name].shape or not np.array_equal(a[name], b[name], equal_nan=a[name].dtype.kind == "f"):
                diff = (np.max(np.abs(a[name].astype(float) - b[name].astype(float)))
                        if a[name].shape == b[name].shape and a[name].dtype.kind in "fiu" else "shape/type")
                problems.append(f"{remote}:{name} differs from the local run (max abs diff {diff})")
    for local in metrics:
        remote = slurm_dir / local.relative_to(local_dir)
        if not remote.exists():
            problems.append(f"{remote} missing from the SLURM run")
            continue
        _compare_json(json.loads(remote.read_text()), json.loads(local.read_text()), str(remote), problems)
    if problems:
        fail("SLURM and local outputs differ:\n  " + "\n  ".join(problems[:40]))
    return (f"{len(models)} model files ({n_arrays} arrays) and {len(metrics)} metrics files equal "
            "the local run's")


def check_cache(cache_dir: Path, warmup_output: Path) -> str:
    files = [p for p in cache_dir.rglob("*") if p.is_file()]
    if not any(p.suffix == ".nbc" for p in files):
        fail(f"{cache_dir}: no compiled kernels (.nbc files) in the numba cache")
    if not warmup_output.exists():
        fail(f"{warmup_output}: the warm-up job's output is missing")
    stamp = warmup_output.stat().st_mtime
    later = sorted(str(p.relative_to(cache_dir)) for p in files if p.stat().st_mtime > stamp)
    if later:
        fail("jobs after the warm-up compiled kernels into the shared cache (the warm-up misses "
             "them): " + ", ".join(later[:10]))
    return (f"the numba cache ({len(files)} files) was written only by the warm-up job; later jobs "
            "loaded it")


def check_failed(log: Path, cluster_dir: Path, rule: str, attempts: int) -> str:
    text = log.read_text()
    jobs = parse_run_log(text)
    failing = [job for job in jobs.values() if job["rule"] == rule and job.get("attempts")]
    if not failing:
        fail(f"{log}: no {rule} job was submitted to SLURM")
    if f"Error in rule {rule}:" not in text:
        fail(f"{log}: Snakemake did not report an error in rule {rule}")
    if "SLURM status is: 'FAILED'" not in text:
        fail(f"{log}: Snakemake did not report SLURM's FAILED state")
    completed = jobcomp_states(cluster_dir)
    for job in failing:
        ids = [slurm_id for slurm_id, _ in job["attempts"]]
        if len(ids) != attempts:
            fail(f"{rule} was submitted {len(ids)} times ({ids}); expected {attempts} (1 + retries)")
        states = [completed.get(slurm_id) for slurm_id in ids]
        if any(state != ["FAILED"] for state in states):
            fail(f"{rule}: SLURM completion records {dict(zip(ids, states))}; expected FAILED")
    return f"rule {rule} failed under SLURM in {attempts} attempt(s) (SLURM state FAILED) and failed the run"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    jobs = sub.add_parser("jobs")
    jobs.add_argument("log", type=Path)
    jobs.add_argument("cluster_dir", type=Path)
    jobs.add_argument("--workdir", type=Path, required=True)
    jobs.add_argument("--min-models", type=int, default=12)
    compare = sub.add_parser("compare")
    compare.add_argument("slurm_dir", type=Path)
    compare.add_argument("local_dir", type=Path)
    cache = sub.add_parser("cache")
    cache.add_argument("cache_dir", type=Path)
    cache.add_argument("warmup_output", type=Path)
    failed = sub.add_parser("failed")
    failed.add_argument("log", type=Path)
    failed.add_argument("cluster_dir", type=Path)
    failed.add_argument("--rule", required=True)
    failed.add_argument("--attempts", type=int, required=True)
    args = parser.parse_args(argv)
    try:
        if args.command == "jobs":
            message = check_jobs(args.log, args.cluster_dir, args.min_models, args.workdir)
        elif args.command == "compare":
            message = check_compare(args.slurm_dir, args.local_dir)
        elif args.command == "cache":
            message = check_cache(args.cache_dir, args.warmup_output)
        else:
            message = check_failed(args.log, args.cluster_dir, args.rule, args.attempts)
    except CheckError as error:
        print(f"FAIL: {error}", file=sys.stderr)
        return 1
    print(f"ok: {message}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
