"""Fault injection: a full disk. Every command that writes fails with one clear line
(exit 1), leaves no temporary file and no half-written output, and its inputs untouched.

A small tmpfs is mounted by the test (needs root; skipped otherwise, with the reason)."""

import os
import shutil
import subprocess
import sys
import uuid

import pytest

CLI = [sys.executable, "-m", "softmax_nb.cli"]


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
    import random
    import signal
    import time

    from softmax_nb import files as sio

    argv = [str(a) for a in KILL_COMMANDS[command](big)]
    output = big / argv[argv.index("-o") + 1].split("/")[-1]
    inputs = {name: (big / name).read_bytes() for name in ("big.h5", "m.h5")}
    rng = random.Random(command)
    for delay in sorted(rng.uniform(0.3, 3.0) for _ in range(4)):
        process = subprocess.Popen(CLI + argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.wait()
        if output.exists():  # finished before the kill, or an earlier run's whole file
            if output.suffix == ".h5":
                sio.dataset_info(output)
            elif output.suffix == ".json":
                __import__("json").loads(output.read_text())
            else:
                assert output.read_text().endswith("\n")
    assert {name: (big / name).read_bytes() for name in inputs} == inputs
    done = subprocess.run(CLI + argv, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert not [name for name in os.listdir(big) if ".tmp-" in name]
