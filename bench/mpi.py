"""MPI benchmark: one loss+gradient evaluation of J over ranks vs threads, side by side.

    python bench/mpi.py                       # 60000 x 784 x 10 float32, -o bench/out/mpi.json
    python bench/mpi.py --rows 20000 --repeats 5

Each configuration runs in its own process group after a pause (OpenBLAS and numba
threads of one run never slow the next):

- ``in_memory``: ``kernels.loss_gradient`` on the whole X, 2 threads (the single-process fit);
- ``1 rank x 2 threads``: the MPI backend (``RankRows``) without MPI, 2 threads;
- ``2 ranks x 1 thread``: ``mpiexec -n 2``, each rank its half of the rows, 1 thread.

For each: the median and minimum seconds per evaluation over ``--repeats`` calls
(after ``--warmup`` untimed ones), and for the ranks the exchange (``Allgatherv`` of the
tree nodes) seconds and bytes sent per evaluation, as rank 0 measured them (waits for the
slower rank included), then the exchange alone after a barrier, with the bytes each rank
receives. All
configurations must give the same bits (checked: the loss and the gradient's
SHA-256). The ratio asked for is time(1 rank x 2 threads) / time(2 ranks x 1 thread).
"""

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def make_file(path, rows, features, classes, seed=0):
    from softmax_nb.files import write_dataset

    rng = np.random.default_rng(seed)
    X = rng.standard_normal((rows, features), dtype=np.float32)
    y = rng.integers(0, classes, rows)
    empty = np.zeros((0, features), np.float32), np.zeros(0, np.int64)
    write_dataset(path, {"train": (X, y), "val": empty, "test": empty}, classes=np.arange(classes),
                  attrs={"source": "bench", "seed": seed})


def child(args):
    """One configuration: prints a JSON line on rank 0."""
    import numba

    from softmax_nb.kernels import cpu as kernels
    from softmax_nb.model.distributed import RankRows, SelfComm, world

    numba.set_num_threads(args.threads)
    rng = np.random.default_rng(1)
    classes = args.classes
    coef, intercept = rng.standard_normal((classes, args.features)) * 0.01, rng.standard_normal(classes) * 0.01
    if args.mode == "in_memory":
        from softmax_nb.files import read_dataset

        X, y, _ = read_dataset(args.file, "train")
        evaluate = lambda: kernels.loss_gradient(X, y, coef, intercept)  # noqa: E731
        comm, rows = SelfComm(), None
    else:
        comm = world() if args.mode == "mpi" else SelfComm()
        rows = RankRows(args.file, "train", comm, classes)
        evaluate = lambda: rows.loss_gradient(coef, intercept, 0.0)  # noqa: E731
    for _ in range(args.warmup):  # compilation or cache load, then the first calls' page faults
        loss, grad, _ = evaluate()
    if rows is not None:
        rows.exchange_seconds, rows.exchange_bytes, rows.n_evaluations = 0.0, 0, 0
    times = []
    for _ in range(args.repeats):
        if args.mode == "mpi":
            comm.Barrier()
        started = time.perf_counter()
        evaluate()
        times.append(time.perf_counter() - started)
    if args.mode == "mpi":
        times = list(np.max(np.array(comm.allgather(times)), axis=0))  # an evaluation ends when all ranks do
    exchange_only = []
    if args.mode == "mpi":
        # The exchange alone (after a barrier: no wait for a slower rank in it).
        mine = {node: (0.0, np.zeros((classes, args.features)), np.zeros(classes)) for node in rows.nodes}
        for _ in range(args.repeats):
            comm.Barrier()
            started = time.perf_counter()
            rows._exchange(mine, classes)
            exchange_only.append(time.perf_counter() - started)
        exchange_only = list(np.max(np.array(comm.allgather(exchange_only)), axis=0))
    if comm.rank == 0:
        result = {"median_s": float(np.median(times)), "min_s": float(np.min(times)), "times": times,
                  "loss": float(loss), "grad_sha256": hashlib.sha256(np.ascontiguousarray(grad).tobytes()).hexdigest()}
        if exchange_only:
            result["exchange_only_median_s"] = float(np.median(exchange_only))
            result["received_bytes_per_evaluation"] = 8 * sum(
                len(nodes) * (1 + classes * args.features + classes) for nodes in rows.all_nodes)
        if rows is not None:
            result["exchange_s_per_evaluation"] = rows.exchange_seconds / args.repeats
            result["exchange_bytes_per_evaluation"] = rows.exchange_bytes / args.repeats
            result["chunks"] = rows.n_chunks
        print(json.dumps(result), flush=True)


def run(mode, threads, ranks, args, file):
    command = [sys.executable, __file__, "--child", mode, "--file", str(file), "--threads", str(threads),
               "--repeats", str(args.repeats), "--warmup", str(args.warmup), "--features", str(args.features), "--classes", str(args.classes)]
    if ranks > 1:
        mpiexec = os.path.join(os.path.dirname(sys.executable), "mpiexec")
        command = [mpiexec if os.path.exists(mpiexec) else "mpiexec", "-n", str(ranks)] + command
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    time.sleep(args.pause)
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{mode} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=60000)
    parser.add_argument("--features", type=int, default=784)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=21)
    parser.add_argument("--pause", type=float, default=1.0)
    parser.add_argument("--warmup", type=int, default=5, help="untimed evaluations first")
    parser.add_argument("-o", "--out", type=Path, default=ROOT / "bench" / "out" / "mpi.json")
    parser.add_argument("--child", choices=("in_memory", "self", "mpi"))
    parser.add_argument("--file")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    if args.child:
        args.mode = args.child
        return child(args)
    with tempfile.TemporaryDirectory() as folder:
        file = Path(folder) / "bench.h5"
        make_file(file, args.rows, args.features, args.classes)
        results = {
            "shape": [args.rows, args.features, args.classes],
            "in_memory 1 process x 2 threads": run("in_memory", 2, 1, args, file),
            "1 rank x 2 threads": run("self", 2, 1, args, file),
            "2 ranks x 1 thread": run("mpi", 1, 2, args, file),
        }
    rows = [(name, value) for name, value in results.items() if name != "shape"]
    same = len({(value["loss"], value["grad_sha256"]) for _, value in rows}) == 1
    threads, ranks = results["1 rank x 2 threads"]["median_s"], results["2 ranks x 1 thread"]["median_s"]
    results["ratio_threads_over_ranks"] = threads / ranks
    results["same_bits"] = same
    print(f"loss+gradient, {args.rows} x {args.features} x {args.classes} float32, "
          f"median (min) of {args.repeats} evaluations")
    print(f"{'configuration':34s} {'ms':>8s} {'min ms':>8s} {'exchange ms':>12s} {'exchange bytes':>15s}")
    for name, value in rows:
        exchange = value.get("exchange_s_per_evaluation")
        print(f"{name:34s} {1e3 * value['median_s']:8.2f} {1e3 * value['min_s']:8.2f} "
              f"{'-' if exchange is None else f'{1e3 * exchange:.3f}':>12s} "
              f"{value.get('exchange_bytes_per_evaluation', '-'):>15}")
    two = results["2 ranks x 1 thread"]
    print(f"exchange alone (after a barrier): {1e3 * two['exchange_only_median_s']:.3f} ms for "
          f"{two['received_bytes_per_evaluation']} bytes received per rank "
          f"({two['received_bytes_per_evaluation'] / two['exchange_only_median_s'] / 1e9:.2f} GB/s)")
    print(f"2 ranks x 1 thread is {results['ratio_threads_over_ranks']:.3f}x as fast as 1 rank x 2 threads "
          f"(target >= 0.85); same bits in all three: {same}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
