"""Loss + gradient on the GPU: time per evaluation and achieved X-read bandwidth.

Each size is ``n_samples x n_features x n_classes``. X is generated on the host,
copied to the device once (``DeviceData``), then ``gpu_loss_gradient`` is timed as
the optimisers call it: parameters to the device, both kernels, the gradient back.
The figure of merit is ``X.nbytes / median time`` against the GPU's peak memory
bandwidth, since an evaluation must read X once and does little else.

    python bench/gpu_bench.py                      # 60000x784x10 and 1000000x784x10, float32
    python bench/gpu_bench.py --sizes 64x7x3 --repeats 2   # tiny, e.g. on the simulator
"""

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from softmax_nb.kernels import cpu as kernels, cuda as gpu_kernels  # noqa: E402

# Peak memory bandwidth in GB/s (10^9 bytes/s) by device-name fragment, most
# specific first; --peak-gbps overrides.
PEAK_GBPS = [
    ("H200", 4800.0),
    ("H100 PCIe", 2000.0),
    ("H100 NVL", 3900.0),
    ("H100", 3350.0),
    ("A100-SXM4-80GB", 2039.0),
    ("A100", 1555.0),
    ("L40S", 864.0),
    ("V100", 900.0),
]


def parse_size(text):
    try:
        n_samples, n_features, n_classes = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"size must look like 60000x784x10 (samples x features x classes), got {text!r}"
        ) from None
    if min(n_samples, n_features, n_classes) < 1:
        raise argparse.ArgumentTypeError(f"every part of a size must be >= 1, got {text!r}")
    return n_samples, n_features, n_classes


def peak_for(name):
    for fragment, gbps in PEAK_GBPS:
        if fragment in name:
            return gbps
    return None


def write_json_atomic(path, payload):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(payload, handle, indent=2)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def bench_size(size, dtype, repeats, warmup, check, rng):
    n_samples, n_features, n_classes = size
    t0 = time.perf_counter()
    X = rng.random((n_samples, n_features), dtype=dtype)
    y = rng.integers(0, n_classes, n_samples)
    coef = 0.01 * rng.standard_normal((n_classes, n_features))
    intercept = 0.01 * rng.standard_normal(n_classes)
    t1 = time.perf_counter()
    data = gpu_kernels.DeviceData(X, y)
    t2 = time.perf_counter()
    first = gpu_kernels.gpu_loss_gradient(data, coef, intercept, 1e-4)  # compiles
    t3 = time.perf_counter()
    for _ in range(warmup):
        gpu_kernels.gpu_loss_gradient(data, coef, intercept, 1e-4)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        # copy_to_host inside synchronizes, so the wall time covers the whole evaluation
        result = gpu_kernels.gpu_loss_gradient(data, coef, intercept, 1e-4)
        times.append(time.perf_counter() - start)
    median = float(np.median(times))
    record = {
        "n_samples": n_samples,
        "n_features": n_features,
        "n_classes": n_classes,
        "dtype": np.dtype(dtype).name,
        "x_bytes": int(X.nbytes),
        "generate_s": t1 - t0,
        "to_device_s": t2 - t1,
        "first_call_s": t3 - t2,
        "repeats": repeats,
        "median_s": median,
        "min_s": float(np.min(times)),
        "max_s": float(np.max(times)),
        "x_read_gbps": X.nbytes / median / 1e9,
        "deterministic": bool(
            result[0] == first[0]
            and np.array_equal(result[1], first[1])
            and np.array_equal(result[2], first[2])
        ),
    }
    if check:
        kernels.loss_gradient(X[:2], y[:2], coef, intercept, None, 1e-4)  # compile first
        start = time.perf_counter()
        cpu = kernels.loss_gradient(X, y, coef, intercept, None, 1e-4)
        record["cpu_s"] = time.perf_counter() - start
        scale = np.max(np.abs(cpu[1]))
        record["max_rel_diff_vs_cpu"] = float(
            max(
                abs(first[0] - cpu[0]) / abs(cpu[0]),
                np.max(np.abs(first[1] - cpu[1])) / scale,
                np.max(np.abs(first[2] - cpu[2])) / np.max(np.abs(cpu[2])),
            )
        )
    del data
    return record


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        type=lambda text: [parse_size(part) for part in text.split(",")],
        default=[(60_000, 784, 10), (1_000_000, 784, 10)],
        help="comma-separated samples x features x classes (default: %(default)s)",
    )
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    parser.add_argument("--repeats", type=int, default=20, help="timed calls per size")
    parser.add_argument("--warmup", type=int, default=3, help="untimed calls after compiling")
    parser.add_argument("--peak-gbps", type=float, default=None,
                        help="peak memory bandwidth in GB/s (default: from the device name)")
    parser.add_argument("--check-sizes-up-to", type=int, default=100_000,
                        help="compare with the CPU kernels for sizes with at most this many rows")
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.warmup < 0:
        parser.error("--repeats must be >= 1 and --warmup >= 0")
    if not gpu_kernels.cuda_available():
        parser.exit(2, "gpu_bench: no usable CUDA device (numba.cuda.is_available() is False)\n")

    name = gpu_kernels.device_name()
    peak = args.peak_gbps if args.peak_gbps is not None else peak_for(name)
    print(f"device: {name}; peak memory bandwidth: "
          + (f"{peak:.0f} GB/s" if peak else "unknown (give --peak-gbps)"), flush=True)
    rng = np.random.default_rng(0)
    records = []
    for size in args.sizes:
        record = bench_size(
            size, np.dtype(args.dtype).type, args.repeats, args.warmup,
            size[0] <= args.check_sizes_up_to, rng,
        )
        record["peak_gbps"] = peak
        record["fraction_of_peak"] = record["x_read_gbps"] / peak if peak else None
        records.append(record)
        line = (
            f"{size[0]}x{size[1]}x{size[2]} {args.dtype}: median {record['median_s'] * 1e3:.3f} ms "
            f"(min {record['min_s'] * 1e3:.3f}, max {record['max_s'] * 1e3:.3f}, {args.repeats} calls), "
            f"X read {record['x_read_gbps']:.1f} GB/s"
        )
        if peak:
            line += f" = {record['fraction_of_peak']:.1%} of {peak:.0f} GB/s"
        line += f"; deterministic: {record['deterministic']}"
        if "cpu_s" in record:
            line += (f"; CPU kernels {record['cpu_s'] * 1e3:.1f} ms, max rel diff "
                     f"{record['max_rel_diff_vs_cpu']:.1e}")
        print(line, flush=True)
    if args.out is not None:
        write_json_atomic(args.out, {"device": name, "results": records})
        print(f"wrote {args.out}")
    return 0 if all(r["deterministic"] for r in records) else 1


if __name__ == "__main__":
    sys.exit(main())
