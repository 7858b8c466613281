"""Timing helpers of the benchmark: thread control, runs in turn, the read probe."""

import contextlib
import gc
import time

import numba
import numpy as np
from numba import njit, prange

try:
    import torch
except ImportError:  # torch is an optional peer
    torch = None


def max_threads():
    """Threads numba may use in this process (NUMBA_NUM_THREADS, default: the cores)."""
    return int(numba.config.NUMBA_NUM_THREADS)


@contextlib.contextmanager
def threads(n_threads):
    """Give every implementation the same thread count for the block.

    numba (softmax_nb and the read probe), BLAS and OpenMP (numpy, scikit-learn;
    through threadpoolctl) and torch's intra-op pool are all set to ``n_threads``, so a
    "2 threads" row means 2 threads for every peer, not just for ours.
    """
    from threadpoolctl import threadpool_limits

    previous_numba = numba.get_num_threads()
    previous_torch = torch.get_num_threads() if torch is not None else None
    numba.set_num_threads(n_threads)
    if torch is not None:
        torch.set_num_threads(n_threads)
    try:
        with threadpool_limits(limits=n_threads):
            yield
    finally:
        numba.set_num_threads(previous_numba)
        if torch is not None:
            torch.set_num_threads(previous_torch)


# Pause before each implementation's run; see in_turn(). OpenBLAS's workers spin
# ~0.1-0.2 s after a NumPy call (README, "Calling softmax_nb right after NumPy"): after
# 0.25 s they are asleep. The quick smoke run (tests/test_bench.py) uses
# QUICK_PAUSE_SECONDS.
PAUSE_SECONDS = 0.25
QUICK_PAUSE_SECONDS = 0.02


def in_turn(functions, repeats):
    """Wall time of each function, ``repeats`` calls each, one function after another.

    Each function gets its own run: a pause (so that OpenBLAS's spinning workers,
    left by the previous one, are asleep and take no core from it), one untimed call
    (which wakes its thread pool, as the calls before it would in a caller's loop),
    then ``repeats`` timed calls back to back. Interleaving the implementations call by
    call instead charged one for the other's spinning threads, or for waking an idle
    core after a pause (milliseconds on this virtual machine). The mixed section
    measures the interleaved case on its own.

    Parameters
    ----------
    functions : dict of str -> callable
        Called without arguments; already warmed up (compiled, checked).
    repeats : int

    Returns
    -------
    dict of str -> list of float
        Seconds per call, in call order.
    """
    times = {}
    # One full collection before, none during: with torch and scikit-learn loaded a
    # full collection takes a good fraction of a second, and letting it run inside
    # a call would charge one implementation for the garbage of all of them.
    gc.collect()
    gc.disable()
    try:
        for name, function in functions.items():
            time.sleep(PAUSE_SECONDS)
            function()
            times[name] = []
            for _ in range(repeats):
                start = time.perf_counter()
                function()
                times[name].append(time.perf_counter() - start)
    finally:
        gc.enable()
    return times


def wall(call):
    """Seconds one call of ``call()`` takes."""
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def summary(seconds):
    """Median and min (milliseconds) of a list of timings, and the raw list."""
    seconds = np.asarray(seconds, dtype=np.float64)
    return {
        "median_ms": float(np.median(seconds) * 1e3),
        "min_ms": float(np.min(seconds) * 1e3),
        "times_ms": [float(s * 1e3) for s in seconds],
    }


# Elements per task of the parallel read: large enough that scheduling costs
# nothing, small enough that two threads share the work evenly on every shape.
_READ_BLOCK = 1 << 16


@njit(parallel=True, fastmath=True, cache=True)
def _read_sum(flat, block):
    """Sum of all elements: a pure read of the array, in parallel blocks.

    The per-block sum is np.sum of a slice: written as an explicit index loop
    inside the prange body, LLVM left it scalar here (about 1.5 GB/s instead of
    10). The result is only returned so that the reads cannot be optimised away.
    """
    n_blocks = (flat.size + block - 1) // block
    partials = np.zeros(n_blocks)
    for b in prange(n_blocks):
        partials[b] = np.sum(flat[b * block:min((b + 1) * block, flat.size)])
    return partials.sum()


def read_probes(X):
    """The one-read floor candidates for X: callables that read every byte once.

    ``read X (numba)`` is a parallel sum with numba's current thread count;
    ``read X (numpy)`` is ``X.sum()`` (single-threaded SIMD pairwise sum). The
    faster of the two, measured beside the kernels, is the floor they are compared
    with: no implementation that reads X can be faster than one read of X.
    """
    flat = X.reshape(-1)
    _read_sum(flat, _READ_BLOCK)  # compile (or load from cache) before timing
    return {
        "read X (numba)": lambda: _read_sum(flat, _READ_BLOCK),
        "read X (numpy)": lambda: X.sum(),
    }
