"""One model over MPI ranks (softmax_nb.model.distributed): the fixed summation tree, and
real ``mpiexec`` runs of ``softmax-nb train`` with 1-4 ranks (oversubscribed on two cores),
compared bitwise with each other and with the single-process fit; a killed rank fails the
job; a checkpoint resumes with another rank count."""

import os
import shutil
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

from softmax_nb import SoftmaxClassifier
from softmax_nb.files import read_dataset
from softmax_nb.kernels import cpu
from softmax_nb.model.distributed import fit_distributed, rank_chunks

CLI = [sys.executable, "-m", "softmax_nb.cli"]
MPIEXEC = shutil.which("mpiexec") or (os.path.join(os.path.dirname(sys.executable), "mpiexec"))


def _have_mpi():
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return False
    return os.path.exists(MPIEXEC)


needs_mpi = pytest.mark.skipif(not _have_mpi(), reason="needs mpi4py and mpiexec (pip install 'softmax_nb[mpi]')")


# -- the tree -------------------------------------------------------------------------


@pytest.mark.parametrize("n_chunks", [1, 2, 3, 5, 8, 13, 64])
def test_any_partition_of_the_chunks_sums_to_the_same_bits(n_chunks):
    rng = np.random.default_rng(n_chunks)
    parts = (rng.standard_normal(n_chunks) * 1e3, rng.standard_normal((n_chunks, 3, 5)),
             rng.standard_normal((n_chunks, 3)))
    want = cpu.tree_sum(parts)
    for size in range(1, 7):
        nodes = {}
        for rank in range(size):
            first, stop = rank_chunks(n_chunks, rank, size)
            for level, index in cpu.tree_nodes(first, stop, n_chunks):
                lo, hi = index << level, min((index + 1) << level, n_chunks)
                assert first <= lo < hi <= stop
                nodes[level, index] = cpu.tree_sum(tuple(part[lo:hi] for part in parts))
        got = cpu.tree_combine(nodes, n_chunks)
        assert got[0] == want[0]
        np.testing.assert_array_equal(got[1], want[1])
        np.testing.assert_array_equal(got[2], want[2])


@pytest.mark.parametrize("n_features,n_classes,cuts", [
    (7, 4, [0, 128, 640, 1000]),  # the loops: blocks of 64 rows
    (300, 250, [0, 512, 1536, 1700]),  # BLAS gemms in blocks of 512 rows
])
def test_a_chunk_read_in_pieces_sums_as_in_one(n_features, n_classes, cuts):
    rng = np.random.default_rng(1)
    n = cuts[-1]
    X = rng.standard_normal((n, n_features)).astype(np.float32)
    y = rng.integers(0, n_classes, n)
    coef, intercept = rng.standard_normal((n_classes, n_features)), rng.standard_normal(n_classes)
    weights = np.full(n, 1e-3)
    step = cpu.block_rows(n_classes, n_features, X.dtype)
    assert step == (64 if n_features == 7 else 512) and all(cut % step == 0 for cut in cuts[:-1])
    whole = cpu.loss_gradient_parts(X, y, coef, intercept, weights, 0.1, [0, n], None)
    parts = None
    for start, stop in zip(cuts[:-1], cuts[1:]):  # multiples of block_rows apart
        parts = cpu.loss_gradient_parts(X[start:stop], y[start:stop], coef, intercept, weights[start:stop],
                                        0.1, [0, stop - start], parts)
    for a, b in zip(whole, parts):
        np.testing.assert_array_equal(a, b)
    # Predictions too: pieces cut at block_rows multiples predict their rows' bits
    # (DistributedRows.scores predicts chunk by chunk for that).
    pieces = [cpu.predict_log_proba(X[start:stop], coef, intercept) for start, stop in zip(cuts[:-1], cuts[1:])]
    np.testing.assert_array_equal(np.concatenate(pieces), cpu.predict_log_proba(X, coef, intercept))


# -- one process, no MPI: the same bits as SoftmaxClassifier.fit -------------------------


@pytest.fixture(scope="module")
def datasets(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mpi")
    paths = {}
    for name, args in {"f32": ["--arg", "n_classes=5", "--dtype", "float32"],
                       "f64": ["--arg", "n_classes=5", "--chunk-rows", "500"],
                       "binary": ["--arg", "n_classes=2", "--dtype", "float32"]}.items():
        paths[name] = folder / f"{name}.h5"
        subprocess.run(CLI + ["-q", "prepare", "--source", "synthetic", "--arg", "n_samples=12000", *args,
                              "-o", str(paths[name])], check=True)
    return paths


PARAMS = {
    "lbfgs": dict(C=1.0, max_iter=40),
    "elastic_net": dict(C=0.5, l1_ratio=0.5, max_iter=25),
    "gd": dict(C=1.0, solver="gd", max_iter=15),
}


@pytest.mark.parametrize("name", ["f32", "f64", "binary"])
@pytest.mark.parametrize("solver", list(PARAMS))
def test_one_process_equals_the_in_memory_fit_bitwise(datasets, name, solver):
    X, y, info = read_dataset(datasets[name], "train")
    reference = SoftmaxClassifier(**PARAMS[solver]).fit(X, info["classes"][y])
    for budget in (None, 0.05):  # held, and read in pieces of block_rows multiples
        clf = fit_distributed(datasets[name], PARAMS[solver], max_memory_mb=budget, eval_split=None)
        np.testing.assert_array_equal(clf.coef_, reference.coef_)
        np.testing.assert_array_equal(clf.intercept_, reference.intercept_)
        assert clf.history_["loss"] == reference.history_["loss"]


def test_class_weights_agree_to_rounding(datasets):
    params = dict(C=1.0, class_weight="balanced", max_iter=40)
    X, y, info = read_dataset(datasets["f64"], "train")
    reference = SoftmaxClassifier(**params).fit(X, info["classes"][y])
    clf = fit_distributed(datasets["f64"], params, eval_split=None)
    np.testing.assert_allclose(clf.coef_, reference.coef_, rtol=1e-9, atol=1e-12)


def test_minibatch_solvers_and_cuda_are_refused(datasets):
    with pytest.raises(ValueError, match="does not run over MPI"):
        fit_distributed(datasets["f32"], dict(solver="sgd"))
    with pytest.raises(ValueError, match="device='cuda'"):
        fit_distributed(datasets["f32"], dict(device="cuda"))


def test_a_plain_run_does_not_import_mpi4py(datasets, tmp_path):
    code = ("import sys; from softmax_nb.cli import main; "
            f"main(['-q', 'train', {str(datasets['f32'])!r}, '-o', {str(tmp_path / 'm.h5')!r}, '--max-iter', '3', "
            "'--no-checkpoint']); assert 'mpi4py' not in sys.modules, 'mpi4py imported'")
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "PMI_SIZE": "1"})


# -- mpiexec ----------------------------------------------------------------------------


def _mpiexec(n, args, **kw):
    # Oversubscribed on two cores: one numba thread per rank.
    command = [MPIEXEC, "-n", str(n)] + CLI + ["train"] + [str(a) for a in args] + ["--threads", "1"]
    return subprocess.run(command, capture_output=True, text=True, timeout=kw.pop("timeout", 300), **kw)


def _model(path):
    with h5py.File(path, "r") as handle:
        return {name: handle[name][()] for name in ("coef", "intercept")}, \
            {name: handle["history"][name][()] for name in ("loss", "grad_norm", "val_loss")}


def _same(a, b):
    for key in a[0]:
        np.testing.assert_array_equal(a[0][key], b[0][key])
    np.testing.assert_array_equal(a[1]["loss"], b[1]["loss"])
    np.testing.assert_array_equal(a[1]["grad_norm"], b[1]["grad_norm"])


@needs_mpi
@pytest.mark.parametrize("mode", ["in_memory", "streamed"])
@pytest.mark.parametrize("name", ["f32", "binary"])
def test_any_rank_count_gives_the_single_process_model_bitwise(datasets, tmp_path, mode, name):
    data = datasets[name]
    extra = ["--max-iter", "30", "--no-checkpoint"] + (["--max-memory-mb", "0.1"] if mode == "streamed" else [])
    single = tmp_path / "single.h5"
    subprocess.run(CLI + ["-q", "train", str(data), "-o", str(single), "--max-iter", "30", "--no-checkpoint"],
                   check=True)
    reference = _model(single)
    for n in (1, 2, 3, 4):
        out = tmp_path / f"ranks{n}.h5"
        done = _mpiexec(n, [data, "-o", out, "--mpi", *extra])
        assert done.returncode == 0, done.stderr[-2000:]
        assert f"training over {n} MPI rank(s)" in done.stderr
        got = _model(out)
        _same(got, reference)
        # Validation scores: the same for any rank count, and to rounding the single process's.
        np.testing.assert_allclose(got[1]["val_loss"], reference[1]["val_loss"], rtol=1e-13)
        with h5py.File(out, "r") as handle:
            assert f'"ranks": {n}' in handle.attrs["extra"]


@needs_mpi
def test_ranks_that_see_different_files_all_fail_with_one_message(datasets, tmp_path):
    for folder, name in (("a", "f32"), ("b", "f64")):
        (tmp_path / folder).mkdir()
        shutil.copy(datasets[name], tmp_path / folder / "d.h5")
    command = [MPIEXEC, "-n", "1", "-wdir", str(tmp_path / "a")] + CLI + ["train", "d.h5", "-o", "m.h5", "--mpi"] \
        + [":", "-n", "1", "-wdir", str(tmp_path / "b")] + CLI + ["train", "d.h5", "-o", "m.h5", "--mpi"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "differs between MPI ranks: rank 1" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "a" / "m.h5").exists() and not (tmp_path / "b" / "m.h5").exists()


#: A fit long enough to be interrupted (40 iterations of ~0.1 s), and its one-process model.
LONG_FIT = ["--C", "1e6", "--max-iter", "40", "--tol", "1e-300"]


@pytest.fixture(scope="module")
def long_fit(tmp_path_factory):
    folder = tmp_path_factory.mktemp("long")
    data, reference = folder / "big.h5", folder / "reference.h5"
    subprocess.run(CLI + ["-q", "prepare", "--source", "synthetic", "--arg", "n_samples=60000", "--arg",
                          "n_features=100", "--arg", "n_classes=8", "--dtype", "float32", "-o", str(data)],
                   check=True)
    subprocess.run(CLI + ["-q", "train", str(data), "-o", str(reference), "--no-checkpoint", *LONG_FIT], check=True)
    return data, reference


@needs_mpi
def test_a_killed_rank_fails_the_job_and_a_resume_with_other_ranks_is_bitwise(long_fit, tmp_path):
    data, reference = long_fit
    args = [*LONG_FIT, "--checkpoint-every", "1"]

    out, checkpoint = tmp_path / "m.h5", tmp_path / "m.ckpt"
    job, ranks = _two_ranks_training(data, out, checkpoint, args)
    try:
        os.kill(ranks[-1], signal.SIGKILL)
        started = time.monotonic()
        code = job.wait(timeout=60)  # no hang: the launcher ends the surviving rank
        assert code != 0
        assert time.monotonic() - started < 60
    finally:
        if job.poll() is None:
            os.killpg(job.pid, signal.SIGKILL)
            job.wait()
    assert not out.exists()
    assert checkpoint.exists()

    done = _mpiexec(3, [data, "-o", out, "--checkpoint", checkpoint, "--resume", *args])
    assert done.returncode == 0, done.stderr[-2000:]
    assert "resuming from checkpoint" in done.stderr
    _same(_model(out), _model(reference))
    assert not checkpoint.exists()


def _two_ranks_training(data, out, checkpoint, args):
    """``mpiexec -n 2 softmax-nb train`` started, once its first checkpoint is written (the
    training loop runs, its SIGTERM handler in place): ``(job, the two ranks' PIDs)``."""
    command = [MPIEXEC, "-n", "2"] + CLI + ["train", str(data), "-o", str(out), "--checkpoint", str(checkpoint),
                                            "--threads", "1", *args]
    job = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                           start_new_session=True)
    deadline = time.monotonic() + 120
    while not checkpoint.exists() and time.monotonic() < deadline and job.poll() is None:
        time.sleep(0.05)
    ranks = _children_running(job.pid, "train")
    if not checkpoint.exists() or len(ranks) != 2:
        os.killpg(job.pid, signal.SIGKILL)
        job.wait()
        pytest.fail(f"no checkpoint, or not two ranks running ({ranks}): {job.stderr.read()[-2000:]}")
    return job, ranks


def _children_running(pid, word):
    """PIDs of the descendants of ``pid`` whose command line holds ``word`` (from /proc)."""
    found, queue = [], [pid]
    while queue:
        parent = queue.pop()
        try:
            children = open(f"/proc/{parent}/task/{parent}/children").read().split()
        except OSError:
            continue
        for child in map(int, children):
            queue.append(child)
            try:
                cmdline = open(f"/proc/{child}/cmdline", "rb").read().split(b"\0")
            except OSError:
                continue
            if word.encode() in cmdline and b"softmax_nb.cli" in cmdline:
                found.append(child)
    return sorted(found)


def test_batches_of_chunks_bound_memory_without_changing_the_bits(monkeypatch):
    from softmax_nb.kernels import tunables

    rng = np.random.default_rng(2)
    X = rng.standard_normal((20000, 30))
    y = rng.integers(0, 6, 20000)
    coef, intercept = rng.standard_normal((6, 30)), rng.standard_normal(6)
    whole = cpu.loss_gradient(X, y, coef, intercept, l2_reg_strength=0.1)
    assert cpu.chunk_batch(6, 30) >= 64
    for buffer_bytes in (8 * (6 * 30 + 7) * 5, 1):  # batches of 4 chunks, then of 1
        monkeypatch.setattr(tunables, "CHUNK_BUFFER_BYTES", buffer_bytes)
        got = cpu.loss_gradient(X, y, coef, intercept, l2_reg_strength=0.1)
        assert got[0] == whole[0]
        np.testing.assert_array_equal(got[1], whole[1])
        np.testing.assert_array_equal(got[2], whole[2])


def test_very_long_data_gets_more_chunks_for_more_ranks():
    assert len(cpu.chunk_bounds(60000, 10, 784)) - 1 == 64
    assert len(cpu.chunk_bounds(10**9, 1000, 1024)) - 1 == -(-10**9 // 2**20)  # 954: up to 954 ranks


@needs_mpi
def test_an_error_on_one_rank_ends_every_rank_with_its_message(datasets, tmp_path):
    # Rank 1 reads a copy whose last X chunk has a flipped byte (the file's checksum covers
    # the header, fletcher32 the rows): it fails alone, and must not leave rank 0 waiting.
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        shutil.copy(datasets["f64"], tmp_path / folder / "d.h5")
    with h5py.File(tmp_path / "b" / "d.h5", "r") as handle:
        X = handle["train/X"]
        offset = X.id.get_chunk_info(X.id.get_num_chunks() - 1).byte_offset
    with open(tmp_path / "b" / "d.h5", "r+b") as handle:
        handle.seek(offset + 100)
        byte = handle.read(1)
        handle.seek(offset + 100)
        handle.write(bytes([byte[0] ^ 0xFF]))
    command = [MPIEXEC, "-n", "1", "-wdir", str(tmp_path / "a")] + CLI + ["train", "d.h5", "-o", "m.h5", "--mpi"] \
        + [":", "-n", "1", "-wdir", str(tmp_path / "b")] + CLI + ["train", "d.h5", "-o", "m.h5", "--mpi"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr[-2000:]
    assert "softmax-nb: error (MPI rank 1 of 2): dataset file 'd.h5': cannot read /train rows" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "a" / "m.h5").exists()


@needs_mpi
def test_sigterm_checkpoints_on_every_rank_alike_and_resumes_bitwise(long_fit, tmp_path):
    data, reference = long_fit
    args = [*LONG_FIT, "--checkpoint-every", "2"]
    out, checkpoint = tmp_path / "m.h5", tmp_path / "m.ckpt"
    job, ranks = _two_ranks_training(data, out, checkpoint, args)
    try:
        os.kill(ranks[1], signal.SIGTERM)  # one rank's signal stops all ranks at the same iteration
        code = job.wait(timeout=120)
        stderr = job.stderr.read()
    finally:
        if job.poll() is None:
            os.killpg(job.pid, signal.SIGKILL)
            job.wait()
    assert code == 143, stderr[-2000:]
    assert "stopped by SIGTERM" in stderr
    assert checkpoint.exists() and not out.exists()
    done = subprocess.run(CLI + ["train", str(data), "-o", str(out), "--checkpoint", str(checkpoint), "--resume",
                                 "--mpi", *args], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    _same(_model(out), _model(reference))
