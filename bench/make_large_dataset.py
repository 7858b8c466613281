"""Generate a large synthetic dataset file block by block, never holding X whole.

Rows are drawn from a multinomial logistic model (the model softmax_nb fits):
x ~ N(0, I) in float32, y ~ softmax(W x + b) with a fixed random W, b.  Each block
of rows has its own seed (spawned from ``--seed``), so the file is reproducible
and the memory used is one block, whatever ``--rows``.

    python bench/make_large_dataset.py -o /tmp/large.h5 --rows 4000000 --features 784

The file is a regular softmax_nb dataset (docs/FORMATS.md), written atomically
with :class:`softmax_nb.io.DatasetWriter`; it is not standardized (the features
already have mean 0 and scale 1).
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from softmax_nb import files as sio  # noqa: E402

BLOCK_ROWS = 32768


def true_model(n_features, n_classes, class_sep, seed):
    """The generating parameters: logits of about ``class_sep`` standard deviations."""
    rng = np.random.default_rng([seed, 0])
    coef = rng.standard_normal((n_classes, n_features)) * (class_sep / np.sqrt(n_features))
    intercept = rng.standard_normal(n_classes) * 0.5
    return coef.astype(np.float32), intercept


def make_block(rows, coef, intercept, seed, block_index):
    """One block of (X float32, y int64) with its own reproducible stream."""
    rng = np.random.default_rng([seed, 1, block_index])
    X = rng.standard_normal((rows, coef.shape[1]), dtype=np.float32)
    logits = X @ coef.T + intercept
    # Gumbel-max: argmax(a + G) is a draw from softmax(a).
    y = np.argmax(logits + rng.gumbel(size=logits.shape), axis=1).astype(np.int64)
    return X, y


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", required=True, help="dataset file to write (.h5)")
    parser.add_argument("--rows", type=int, default=4_000_000, help="training rows (default 4,000,000)")
    parser.add_argument("--val-rows", type=int, default=20_000)
    parser.add_argument("--test-rows", type=int, default=20_000)
    parser.add_argument("--features", type=int, default=784)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--class-sep", type=float, default=3.0, help="spread of the true logits")
    parser.add_argument("--chunk-rows", type=int, default=None, help="rows per HDF5 chunk (default ~1 MiB)")
    parser.add_argument("--compression", choices=["lzf", "gzip"], default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.rows < 1 or args.features < 1 or args.classes < 2:
        parser.error("--rows and --features must be positive and --classes at least 2")
    coef, intercept = true_model(args.features, args.classes, args.class_sep, args.seed)
    split_rows = {"train": args.rows, "val": args.val_rows, "test": args.test_rows}
    total = sum(split_rows.values())
    gigabytes = total * args.features * 4 / 1e9
    print(f"writing {args.output}: {total} rows x {args.features} float32 ({gigabytes:.2f} GB of X)", flush=True)
    start = time.perf_counter()
    block_index = 0
    done = 0
    next_report = 0.0
    config = {"generator": "bench/make_large_dataset.py", **vars(args)}
    # One BLAS thread: the machine is shared, and the disk is the bottleneck anyway.
    with threadpool_limits(1), sio.DatasetWriter(
        args.output, np.arange(args.classes), args.features, split_rows, dtype="float32",
        attrs={"source": "synthetic", "seed": args.seed,
               "source_meta": {"class_sep": args.class_sep, "generator": "multinomial logistic"}},
        config=config, chunk_rows=args.chunk_rows, compression=args.compression,
    ) as writer:
        for split, rows in split_rows.items():
            for first in range(0, rows, BLOCK_ROWS):
                n = min(BLOCK_ROWS, rows - first)
                X, y = make_block(n, coef, intercept, args.seed, block_index)
                writer.append(split, X, y)
                block_index += 1
                done += n
                if done / total >= next_report:
                    elapsed = time.perf_counter() - start
                    rate = done * args.features * 4 / 1e6 / max(elapsed, 1e-9)
                    print(f"  {done:>10d}/{total} rows  {elapsed:7.1f} s  {rate:7.1f} MB/s", flush=True)
                    next_report += 0.05
    elapsed = time.perf_counter() - start
    size = Path(args.output).stat().st_size
    print(f"done: {size / 1e9:.2f} GB in {elapsed:.1f} s ({size / 1e6 / elapsed:.1f} MB/s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
