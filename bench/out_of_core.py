"""Out-of-core benchmark: streamed training on a dataset file larger than the budget.

    python bench/make_large_dataset.py -o /tmp/large.h5 --rows 4000000   # ~12.7 GB
    python bench/out_of_core.py /tmp/large.h5 --max-memory-mb 1024 --max-iter 10 \\
        --subset-rows 500000 -o bench/out/out_of_core.json [--delete]

Every measurement runs in its own subprocess so that its peak RSS
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``) is its own:

- ``baseline``: imports and compiles (a streamed fit on a tiny file of the same
  dtype and shape): the interpreter's baseline;
- ``pass``: one streamed loss+gradient pass with the file's pages evicted from the
  page cache first (``posix_fadvise(DONTNEED)`` on this file only: a cold read from
  disk), then the same pass again (whatever the page cache kept), then a pass that
  only reads;
- ``train``: ``fit_streaming`` with ``--max-memory-mb``;
- ``inmemory``: the first ``--subset-rows`` training rows loaded whole: the kernel's
  loss+gradient throughput, and an in-memory fit with the same hyperparameters.

The disk's sequential read rate is measured with ``dd iflag=direct`` (bypassing the
page cache) on the first 2 GiB of the file.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from softmax_nb.data import streaming
from softmax_nb.model.backends import StreamedRows
from softmax_nb.model.estimator import fit_streaming
from softmax_nb.model.objective import SoftmaxObjective  # noqa: E402

GiB = 2**30


def _rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _evict(path):
    """Drop this file's pages from the page cache (clean pages only; no root needed)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def _warm_up(tiny, max_memory_mb):
    """Compile (or load from cache) everything a streamed fit uses."""

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit_streaming(tiny, {"max_iter": 2}, max_memory_mb=max_memory_mb, progress=False)


def task_baseline(args):
    _warm_up(args.tiny, args.max_memory_mb)
    return {"max_rss_mib": _rss_mib()}


def task_pass(args):

    _warm_up(args.tiny, args.max_memory_mb)
    rss_warm = _rss_mib()
    out = {}
    with streaming.H5Stream(args.data, "train", max_memory_mb=args.max_memory_mb, progress=False) as stream:
        objective = SoftmaxObjective(StreamedRows(stream), stream.n_classes, C=1e6 / stream.total_weight)
        rng = np.random.default_rng(0)
        coef = rng.standard_normal((stream.n_classes, stream.n_features)) * 0.01
        intercept = np.zeros(stream.n_classes)
        nbytes = stream.n_rows * stream.n_features * stream.stored_dtype.itemsize
        out["plan"] = stream.plan
        out["x_bytes"] = nbytes
        for label, evict in (("cold", True), ("second", False)):
            if evict:
                _evict(args.data)
            start = time.perf_counter()
            loss, _, _ = objective.loss_gradient(coef, intercept)
            seconds = time.perf_counter() - start
            out[f"loss_gradient_pass_{label}"] = {"seconds": seconds, "GB_per_s": nbytes / seconds / 1e9,
                                                  "loss": loss}
        start = time.perf_counter()
        for _ in stream.blocks():
            pass
        seconds = time.perf_counter() - start
        out["read_only_pass"] = {"seconds": seconds, "GB_per_s": nbytes / seconds / 1e9}
        stream.prefetch = False
        start = time.perf_counter()
        objective.loss_gradient(coef, intercept)
        seconds = time.perf_counter() - start
        out["loss_gradient_pass_no_prefetch"] = {"seconds": seconds, "GB_per_s": nbytes / seconds / 1e9}
    out["max_rss_mib"] = _rss_mib()
    out["rss_after_warm_up_mib"] = rss_warm
    return out


def task_train(args):

    _warm_up(args.tiny, args.max_memory_mb)
    rss_warm = _rss_mib()
    params = {"solver": args.solver, "max_iter": args.max_iter, "C": args.C, "tol": 1e-8}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        clf = fit_streaming(args.data, params, max_memory_mb=args.max_memory_mb, progress=True)
    return {
        "params": params,
        "fit_time_s": clf.fit_time_,
        "n_iter": int(np.max(clf.n_iter_)),
        "final_loss": clf.history_["loss"][-1],
        "val_loss": clf.history_["val_loss"][-1],
        "val_accuracy": clf.history_["val_accuracy"][-1],
        "history_loss": clf.history_["loss"],
        "streaming": clf.streaming_,
        "warnings": [str(w.message) for w in caught],
        "max_rss_mib": _rss_mib(),
        "rss_after_warm_up_mib": rss_warm,
    }


def task_inmemory(args):
    import h5py

    from softmax_nb import SoftmaxClassifier
    from softmax_nb.kernels import cpu as kernels
    from softmax_nb import files as sio

    _warm_up(args.tiny, args.max_memory_mb)
    info = sio.dataset_info(args.data)
    with h5py.File(args.data, "r") as handle:
        X = handle["train/X"][: args.subset_rows]
        y = handle["train/y"][: args.subset_rows]
        X_val = handle["val/X"][()]
        y_val = handle["val/y"][()]
    rng = np.random.default_rng(0)
    coef = rng.standard_normal((info["n_classes"], info["n_features"])) * 0.01
    intercept = np.zeros(info["n_classes"])
    kernels.loss_gradient(X, y, coef, intercept)
    times = []
    for _ in range(3):
        start = time.perf_counter()
        kernels.loss_gradient(X, y, coef, intercept, None, 1e-6)
        times.append(time.perf_counter() - start)
    seconds = min(times)
    classes = info["classes"]
    params = {"solver": args.solver, "max_iter": args.max_iter, "C": args.C, "tol": 1e-8}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = SoftmaxClassifier(**params).fit(X, classes[y], eval_set=(X_val, classes[y_val]))
    del X
    # The subset model's objective on the whole training split, for a fair comparison.
    with streaming.H5Stream(args.data, "train", max_memory_mb=args.max_memory_mb) as stream:
        full_loss, _, _ = SoftmaxObjective(StreamedRows(stream), stream.n_classes, C=args.C).loss_gradient(
            clf.coef_, clf.intercept_)
    return {
        "subset_rows": int(len(y)),
        "kernel_loss_gradient": {"seconds": seconds, "GB_per_s": len(y) * info["n_features"] * 4 / seconds / 1e9},
        "fit_time_s": clf.fit_time_,
        "n_iter": int(np.max(clf.n_iter_)),
        "final_loss_on_subset": clf.history_["loss"][-1],
        "loss_on_full_train": full_loss,
        "val_accuracy": clf.history_["val_accuracy"][-1],
        "val_loss": clf.history_["val_loss"][-1],
        "max_rss_mib": _rss_mib(),
    }


TASKS = {"baseline": task_baseline, "pass": task_pass, "train": task_train, "inmemory": task_inmemory}


def _child(task, args):
    command = [sys.executable, __file__, args.data, "--task", task, "--tiny", args.tiny,
               "--max-memory-mb", str(args.max_memory_mb), "--max-iter", str(args.max_iter),
               "--subset-rows", str(args.subset_rows), "--solver", args.solver, "--C", str(args.C)]
    timer = ["/usr/bin/time", "-v"] if Path("/usr/bin/time").exists() else []
    print(f"[{time.strftime('%H:%M:%S')}] {task} ...", flush=True)
    result = subprocess.run(timer + command, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"task {task} failed:\n{result.stderr[-4000:]}")
    payload = json.loads(result.stdout.strip().splitlines()[-1])
    for line in result.stderr.splitlines():
        if "Maximum resident set size" in line:
            payload["time_v_max_rss_mib"] = int(line.split(":")[-1]) / 1024
    print(json.dumps({k: v for k, v in payload.items() if k != "history_loss"}, indent=1, default=str),
          flush=True)
    return payload


def _dd_rate(path, direct):
    flag = ["iflag=direct"] if direct else []
    result = subprocess.run(["dd", f"if={path}", "of=/dev/null", "bs=16M", "count=128", *flag],
                            capture_output=True, text=True)
    last = result.stderr.strip().splitlines()[-1]
    return last


def _make_tiny(path, n_features, n_classes):
    from softmax_nb import files as sio

    rng = np.random.default_rng(1)
    rows = {"train": 2000, "val": 500, "test": 500}
    with sio.DatasetWriter(path, np.arange(n_classes), n_features, rows, dtype="float32",
                           attrs={"source": "synthetic"}) as writer:
        for split, n in rows.items():
            writer.append(split, rng.standard_normal((n, n_features), dtype=np.float32),
                          rng.integers(0, n_classes, n))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", help="large dataset file (bench/make_large_dataset.py)")
    parser.add_argument("--max-memory-mb", type=float, default=1024)
    parser.add_argument("--max-iter", type=int, default=10)
    parser.add_argument("--solver", default="lbfgs")
    parser.add_argument("--C", type=float, default=1.0)
    parser.add_argument("--subset-rows", type=int, default=500_000)
    parser.add_argument("--tasks", default="baseline,pass,inmemory,train")
    parser.add_argument("-o", "--output", help="JSON file of all figures")
    parser.add_argument("--delete", action="store_true", help="delete the large file afterwards")
    parser.add_argument("--task", choices=sorted(TASKS), help=argparse.SUPPRESS)
    parser.add_argument("--tiny", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.task:
        print(json.dumps(TASKS[args.task](args), default=float))
        return 0

    from softmax_nb import files as sio

    info = sio.dataset_info(args.data)
    results = {"data": args.data, "file_bytes": Path(args.data).stat().st_size,
               "train_rows": info["splits"]["train"]["n_samples"], "n_features": info["n_features"],
               "max_memory_mb": args.max_memory_mb, "cpu_count": os.cpu_count()}
    try:
        with tempfile.TemporaryDirectory() as folder:
            args.tiny = str(Path(folder) / "tiny.h5")
            _make_tiny(args.tiny, info["n_features"], info["n_classes"])
            _evict(args.data)
            results["dd_direct_2GiB"] = _dd_rate(args.data, direct=True)
            print("dd iflag=direct:", results["dd_direct_2GiB"], flush=True)
            for task in args.tasks.split(","):
                results[task] = _child(task, args)
            results["dd_page_cache_2GiB"] = _dd_rate(args.data, direct=False)
            print("dd (page cache):", results["dd_page_cache_2GiB"], flush=True)
    finally:
        if args.output:
            from softmax_nb.files.atomic import atomic_write

            with atomic_write(args.output, "w") as handle:
                json.dump(results, handle, indent=1, default=float)
        if args.delete:
            os.unlink(args.data)
            print(f"deleted {args.data}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
