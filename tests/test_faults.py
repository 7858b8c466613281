"""Fault injection: a full disk, SIGKILL at random moments, concurrent writers.

- A full disk: every command that writes fails with one clear line (exit 1), leaves no
  temporary file and no half-written output, and its inputs untouched. A small tmpfs is
  mounted by the test (needs root; skipped otherwise, with the reason).
- SIGKILL of prepare, train, evaluate and predict, and of a whole Snakemake run (with its
  jobs) at random moments: every output is absent or whole, the inputs untouched, and the
  next run completes and leaves no temporary file.
- Concurrent writers of one output: one whole file, written by one of them, no temporary file.

Hostile file names and paths are in tests/test_hostile_names.py, hostile flag values in
tests/test_cli_flags.py, damaged files in tests/files/.
"""

import csv
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from softmax_nb import files as sio

CLI = [sys.executable, "-m", "softmax_nb.cli"]


def assert_whole(path):
    """``path`` reads completely, by the library for HDF5 files (every checksum verified)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".h5", ".ckpt"):
        if suffix == ".ckpt":
            import h5py

            from softmax_nb.files.checkpoint import load_checkpoint

            # Its format, version and SHA-256; the fit it belongs to is the file's own.
            with h5py.File(path, "r") as handle:
                solver, fingerprint = handle.attrs["solver"], handle.attrs["fingerprint"]
            load_checkpoint(path, solver=solver, expected_fingerprint=fingerprint)
        elif sio.file_info(path)["kind"] == "dataset":
            for split in sio.SPLITS:
                sio.read_dataset(path, split)
        else:
            from softmax_nb.model.persistence import load_model

            load_model(path)
    elif suffix == ".json":
        json.loads(path.read_text())
    elif suffix == ".csv":
        text = path.read_text()
        assert text.endswith("\n"), path
        rows = list(csv.reader(text.splitlines()))
        assert len({len(row) for row in rows}) == 1, path
    elif suffix == ".html":
        assert path.read_text().rstrip().endswith("</html>"), path
    elif suffix == ".png":
        data = path.read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and data.endswith(b"IEND\xaeB`\x82"), path
    else:
        raise AssertionError(f"no check for the output {path} yet: add one")


def temporaries(folder):
    """Temporary files of atomic writes anywhere under ``folder``."""
    return sorted(str(p.relative_to(folder)) for p in Path(folder).rglob("*") if ".tmp-" in p.name)


def _can_mount():
    return hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("mount") is not None


@pytest.fixture(scope="module")
def full_disk(tmp_path_factory):
    """A 256 KiB tmpfs, nearly filled, and a prepared dataset + model outside it."""
    if not _can_mount():
        pytest.skip("mounting a small tmpfs needs root (the CI machine runs as root)")
    base = tmp_path_factory.mktemp("faults")
    mount_point = base / f"tiny-{uuid.uuid4().hex[:6]}"
    mount_point.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount_point)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        data, model = base / "d.h5", base / "m.h5"
        subprocess.run(CLI + ["-q", "prepare", "--source", "digits", "-o", str(data)], check=True)
        subprocess.run(CLI + ["-q", "train", str(data), "-o", str(model), "--max-iter", "20"], check=True)
        # Leave ~40 KiB: room for small text files, not for HDF5 files or big CSVs.
        (mount_point / "filler").write_bytes(b"\0" * (216 * 1024))
        yield mount_point, data, model
    finally:
        subprocess.run(["umount", str(mount_point)], check=False)


def _run(args):
    return subprocess.run(CLI + [str(a) for a in args], capture_output=True, text=True, timeout=300)


def _clean(folder):
    return sorted(os.listdir(folder)) == ["filler"]


@pytest.mark.parametrize("case", ["prepare", "train", "train_no_checkpoint", "predict", "evaluate_big_bins"])
def test_a_full_disk_is_one_line_and_leaves_nothing(full_disk, case):
    mount_point, data, model = full_disk
    before = (data.read_bytes(), model.read_bytes())
    target = mount_point / "out"
    args = {
        "prepare": ["prepare", "--source", "digits", "-o", target],
        "train": ["train", data, "-o", target],
        "train_no_checkpoint": ["train", data, "-o", target, "--no-checkpoint"],
        "predict": ["predict", model, data, "--split", "train", "-o", target],
        "evaluate_big_bins": ["evaluate", model, data, "--bins", "5000", "-o", target],
    }[case]
    done = _run(args)
    assert done.returncode == 1, done.stderr
    lines = [line for line in done.stderr.splitlines() if "error" in line]
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert "space" in lines[0], lines[0]
    assert _clean(mount_point), os.listdir(mount_point)
    assert (data.read_bytes(), model.read_bytes()) == before


def test_small_outputs_still_fit(full_disk):
    mount_point, data, model = full_disk
    target = mount_point / "metrics.json"
    done = _run(["evaluate", model, data, "-o", target])
    assert done.returncode == 0, done.stderr
    target.unlink()
    assert _clean(mount_point)


KILL_COMMANDS = {
    "prepare": lambda d: ["prepare", "--source", "synthetic", "--arg", "n_samples=200000", "--arg", "n_features=40",
                          "-o", d / "out.h5"],
    # A checkpoint every epoch (~0.3 s), so that kills land in checkpoint writes and in the
    # model's; each run resumes from the last whole checkpoint (tests/model/test_resume.py
    # checks that it ends with the same model).
    "train": lambda d: ["train", d / "big.h5", "-o", d / "out_model.h5", "--solver", "sgd", "--batch-size", "2000",
                        "--max-iter", "5", "--tol", "1e-12", "--checkpoint-every", "1", "--no-eval", "--resume"],
    "evaluate": lambda d: ["evaluate", d / "m.h5", d / "big.h5", "--split", "train", "-o", d / "out.json"],
    "predict": lambda d: ["predict", d / "m.h5", d / "big.h5", "--split", "train", "-o", d / "out.csv"],
}


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    folder = tmp_path_factory.mktemp("kill")
    subprocess.run(CLI + ["-q", "prepare", "--source", "synthetic", "--arg", "n_samples=200000", "--arg",
                          "n_features=40", "-o", str(folder / "big.h5")], check=True)
    subprocess.run(CLI + ["-q", "train", str(folder / "big.h5"), "-o", str(folder / "m.h5"), "--max-iter", "3",
                          "--no-checkpoint"], check=True)
    return folder


@pytest.mark.parametrize("command", sorted(KILL_COMMANDS))
def test_sigkill_at_random_points_leaves_the_old_output_or_none(big, command):
    """SIGKILL at random moments: the output is absent or whole (never half-written), the
    inputs are untouched, and the next run removes the killed run's temporary file."""
    argv = [str(a) for a in KILL_COMMANDS[command](big)]
    output = big / argv[argv.index("-o") + 1].split("/")[-1]
    outputs = [output, Path(f"{output}.ckpt")]  # train's checkpoint: absent or whole too
    inputs = {name: (big / name).read_bytes() for name in ("big.h5", "m.h5")}
    rng = random.Random(command)
    for delay in sorted(rng.uniform(0.3, 3.0) for _ in range(2 if command == "train" else 4)):
        checkpoint = _inode(outputs[1])
        process = subprocess.Popen(CLI + argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if command == "train":
            # Random moments of the training itself (the start of a run writes nothing): a
            # little after the run's first checkpoint.
            deadline = time.monotonic() + 120
            while _inode(outputs[1]) in (checkpoint, None) and process.poll() is None and time.monotonic() < deadline:
                time.sleep(0.01)
            delay /= 3
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.wait()
        for path in outputs:
            if path.exists():  # finished before the kill, or an earlier run's whole file
                assert_whole(path)
    assert {name: (big / name).read_bytes() for name in inputs} == inputs
    done = subprocess.run(CLI + argv, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert_whole(output)
    assert not outputs[1].exists()  # a written model's checkpoint is removed
    assert temporaries(big) == []


def _inode(path):
    try:
        return os.stat(path).st_ino
    except FileNotFoundError:
        return None


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    """A digits dataset and a model of it."""
    folder = tmp_path_factory.mktemp("concurrent")
    subprocess.run(CLI + ["-q", "prepare", "--source", "digits", "-o", str(folder / "d.h5")], check=True)
    subprocess.run(CLI + ["-q", "train", str(folder / "d.h5"), "-o", str(folder / "m.h5"), "--max-iter", "20",
                          "--no-checkpoint"], check=True)
    return folder


# Three writers of one output, each writing other content (its own seed or split).
CONCURRENT = {
    "prepare": lambda d, k: ["prepare", "--source", "digits", "--seed", str(k), "-o"],
    "evaluate": lambda d, k: ["evaluate", d / "m.h5", d / "d.h5", "--split", list(sio.SPLITS)[k], "-o"],
    "predict": lambda d, k: ["predict", d / "m.h5", d / "d.h5", "--split", list(sio.SPLITS)[k], "-o"],
}


def _content(path):
    """What a reader gets from an output of CONCURRENT (provenance times left out)."""
    if path.suffix == ".h5":
        return [sio.read_dataset(path, split)[0].tobytes() for split in sio.SPLITS]
    return path.read_bytes()


@pytest.mark.parametrize("command", sorted(CONCURRENT))
def test_concurrent_writers_of_one_output_leave_one_whole_file(digits, tmp_path, command):
    """Started together on one output: all succeed, and the file is exactly what one of
    them writes alone (never a mix, never half), with no temporary file left."""
    suffix = {"prepare": ".h5", "evaluate": ".json", "predict": ".csv"}[command]
    shared = tmp_path / f"shared{suffix}"
    argvs = [[str(a) for a in CONCURRENT[command](digits, k)] for k in range(3)]
    writers = [subprocess.Popen(CLI + ["-q"] + argv + [str(shared)], stderr=subprocess.PIPE, text=True)
               for argv in argvs]
    for writer in writers:
        _, stderr = writer.communicate(timeout=300)
        assert writer.returncode == 0, stderr
    assert_whole(shared)
    from softmax_nb.cli import main

    alone = []
    for k, argv in enumerate(argvs):
        assert main(["-q"] + argv + [str(tmp_path / f"alone{k}{suffix}")]) == 0
        alone.append(_content(tmp_path / f"alone{k}{suffix}"))
    assert len({repr(a) for a in alone}) == 3  # the writers do write different files
    assert _content(shared) in alone
    assert temporaries(tmp_path) == []


# A one-model workflow: 15 jobs, about 15 s on two cores.
KILL_WORKFLOW_CONFIG = {
    "threads": 1,
    "datasets": {"blobs": {"source": "synthetic", "n_samples": 200, "n_features": 4, "n_classes": 2,
                           "val_fraction": 0.25, "test_fraction": 0.25}},
    "models": {"lbfgs": {"solver": "lbfgs", "max_iter": 20}},
    "run": {"blobs": ["lbfgs"]},
    "gradcheck": {"n_samples": 20},
}


@pytest.mark.slow
def test_sigkill_of_a_snakemake_run_then_a_rerun_completes_with_whole_outputs(tmp_path):
    """Snakemake and its running jobs are killed together (a lost node, a scheduler's
    kill) at random moments. After each kill every file under results/ is whole; the
    lock the killed run left is removed with --unlock (Snakemake's documented way), and
    the rerun (profiles/default sets --rerun-incomplete) redoes what was cut off."""
    from workflow_copies import SNAKEMAKE, copy_workflow, run_snakemake, snakemake_env

    workdir = copy_workflow(tmp_path, KILL_WORKFLOW_CONFIG)
    results = workdir / "results"
    rng = random.Random(20)
    for delay in sorted((rng.uniform(2.0, 8.0) for _ in range(2)), reverse=True):
        run = subprocess.Popen([*SNAKEMAKE, "--cores", "2"], cwd=workdir, env=snakemake_env(),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        time.sleep(delay)
        os.killpg(run.pid, signal.SIGKILL)  # Snakemake and every job it started
        run.wait()
        for path in results.rglob("*"):
            if path.is_file() and ".tmp-" not in path.name:
                assert_whole(path)
        run_snakemake(workdir, "--unlock", check=True)
    assert results.exists(), "no kill came late enough to leave an output"
    run_snakemake(workdir, "--cores", "2", check=True)
    outputs = [path for path in results.rglob("*") if path.is_file()]
    for path in outputs:
        assert_whole(path)
    assert temporaries(workdir / "results") == []
    again = run_snakemake(workdir, "--cores", "2", "--dry-run", check=True)
    assert "Nothing to be done" in again.stdout + again.stderr
    assert len(outputs) >= 15
