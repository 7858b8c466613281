"""What limits the kernels: where one loss + gradient spends its time, and how long
NumPy's BLAS workers keep a core after a NumPy product.

Two measurements that back the "what limits it" lines of README's performance notes:

- :func:`run_breakdown`: one thread, the shapes of :data:`SHAPES` (or the caller's, on
  the kernels' BLAS path). The whole call (``kernels.loss_gradient``), then each of its
  parts alone, on the kernel's own blocks (``cpu.block_rows``), with the kernel's own
  compiled pieces or equivalent loops:

  - ``read X in order``: ``cpu._touch_rows`` over every row, what one in-order read of
    X costs (the kernel itself does this step for blocks of 16-512 KiB);
  - ``gemms, block in cache``: the block's two gemms (logits and gradient), each block
    computed on the first block of X, which stays in cache (the arithmetic's share);
  - ``gemms, block from memory``: the same two gemms on X's own blocks, without the
    in-order read first;
  - ``softmax + loss``: ``cpu._softmax_rows_loss`` on a block of logits, once per block;
  - ``float64 logits``: the logits converted to float64 with the intercept, per block
    (a loop equivalent to the kernel's);
  - ``float64 sums``: each block's gradient added to the chunk's float64 sums (likewise);
  - NumPy's whole loss + gradient, and its two gemms alone (``X @ W.T``, ``D.T @ X``).

  ``no overlap bound``: the FMA-peak fraction the call would reach if it were only
  one in-order read of X plus its gemms in cache, one after the other.
- :func:`blas_spin_window`: right after a NumPy product on OpenBLAS's default threads,
  which threads other than the caller stay runnable (state ``R`` in
  ``/proc/self/task``), for how long, and the CPU time they use: a call of our
  threads made in that window shares the cores with them.
"""

import os
import threading
import time

import numpy as np
from numba import njit

import _peers
import _timing

from softmax_nb import kernels
from softmax_nb.kernels import blas, cpu

# The headline shape (memory- and FMA-bound) and the linear probe (gemm-bound).
# The helpers below are compiled anew in each run (no cache=True): they call the
# kernels' functions, and numba's cache would not see an edit of those.
SHAPES = {"full": [(60000, 784, 10, "float32"), (20000, 1024, 1000, "float32")],
          "quick": [(2000, 784, 10, "float32"), (1100, 1024, 1000, "float32")]}


@njit
def _read_in_order(X, block_rows):
    for row0 in range(0, X.shape[0], block_rows):
        cpu._touch_rows(X, row0, min(X.shape[0], row0 + block_rows) - row0)


@njit
def _block_gemms(X, coef, block_rows, in_cache, logits_x, dloss, grad_block):
    """The two gemms of every block; ``in_cache``: always on the first block of X."""
    for row0 in range(0, X.shape[0], block_rows):
        n_rows = min(X.shape[0], row0 + block_rows) - row0
        start = 0 if in_cache else row0
        block = X[start:start + n_rows]
        np.dot(block, coef.T, logits_x[:n_rows])
        np.dot(dloss[:n_rows].T, block, grad_block)


@njit
def _softmax_blocks(n_samples, block_rows, logits, y, sample_weight, dloss, intercept_t, prob):
    loss = 0.0
    for row0 in range(0, n_samples, block_rows):
        n_rows = min(n_samples, row0 + block_rows) - row0
        loss += cpu._softmax_rows_loss(logits, y, sample_weight, row0, n_rows, 1.0, 0.0, dloss, intercept_t, prob)
    return loss


@njit
def _float64_logits(n_samples, block_rows, logits_x, intercept, logits):
    for row0 in range(0, n_samples, block_rows):
        for r in range(min(n_samples, row0 + block_rows) - row0):
            for k in range(logits.shape[1]):
                logits[r, k] = np.float64(logits_x[r, k]) + intercept[k]


@njit
def _float64_sums(n_samples, block_rows, grad_block, grad_sums):
    for _ in range(0, n_samples, block_rows):
        for k in range(grad_block.shape[0]):
            for j in range(grad_block.shape[1]):
                grad_sums[k, j] += grad_block[k, j]


def _parts(X, y, coef, intercept):
    """``{name: callable}``: the whole call, its parts, and NumPy's call and gemms."""
    n_samples, n_features = X.shape
    n_classes = coef.shape[0]
    assert cpu.uses_blas(n_classes, n_features), "the parts are those of the BLAS path"
    block_rows = cpu.block_rows(n_classes, n_features, X.dtype)
    coef_x = coef.astype(X.dtype)
    rng = np.random.default_rng(1)
    logits = rng.standard_normal((block_rows, n_classes))
    logits_x = logits.astype(X.dtype)
    dloss = (rng.standard_normal((block_rows, n_classes)) / n_samples).astype(X.dtype)
    dloss_all = (rng.standard_normal((n_samples, n_classes)) / n_samples).astype(X.dtype)
    grad_block = np.empty((n_classes, n_features), X.dtype)
    grad_sums = np.zeros((n_classes, n_features))
    sample_weight = np.full(n_samples, 1.0 / n_samples)
    intercept_x = intercept.astype(X.dtype)
    scratch = (np.empty((block_rows, n_classes), X.dtype), np.zeros(n_classes), np.empty(n_classes))
    l2 = 1.0 / n_samples

    def gemms(in_cache):
        def call():
            with blas.single_threaded():
                _block_gemms(X, coef_x, block_rows, in_cache, logits_x, dloss, grad_block)
        return call

    return block_rows, {
        "softmax_nb (whole call)": lambda: kernels.loss_gradient(X, y, coef, intercept, None, l2),
        "read X in order": lambda: _read_in_order(X, block_rows),
        "gemms, block in cache": gemms(True),
        "gemms, block from memory": gemms(False),
        "softmax + loss": lambda: _softmax_blocks(n_samples, block_rows, logits, y, sample_weight, *scratch),
        "float64 logits": lambda: _float64_logits(n_samples, block_rows, logits_x, intercept, logits),
        "float64 sums": lambda: _float64_sums(n_samples, block_rows, grad_block, grad_sums),
        "numpy (whole call)": lambda: _peers.numpy_loss_gradient(X, y, coef_x, intercept_x, l2),
        "numpy gemms": lambda: (X @ coef_x.T, dloss_all.T @ X),
    }


def run_breakdown(quick, repeats, log, peak_of, shapes=None):
    """Where one loss + gradient spends its time (module docstring), one thread.

    ``peak_of(n_threads)`` is the FMA peak (G FMA/s) measured in the same run;
    ``shapes``: (n_samples, n_features, n_classes, dtype) tuples instead of
    :data:`SHAPES`. A shape whose kernels take the register-blocked loops (binary,
    tiny models) has no gemms to time: it gets a row with a note only.
    """
    from _sections import synthetic_problem

    rows = []
    for shape in shapes or SHAPES["quick" if quick else "full"]:
        n_samples, n_features, n_classes, dtype = shape
        if not cpu.uses_blas(n_classes, n_features):
            rows.append({"shape": [n_samples, n_features, n_classes], "dtype": dtype,
                         "note": "the kernels take the register-blocked loops here, not gemms: no parts"})
            continue
        log(f"limits: {n_samples}x{n_features}x{n_classes} {dtype}, 1 thread")
        X, y, coef, intercept = synthetic_problem(n_samples, n_features, n_classes, dtype)
        block_rows, parts = _parts(X, y, coef, intercept)
        with _timing.threads(1):
            for call in parts.values():
                call()  # compile or load, warm
            timings = _timing.in_turn(parts, repeats)
        medians = {name: float(np.median(seconds) * 1e3) for name, seconds in timings.items()}
        fmas = 2 * n_samples * n_features * n_classes
        peak = peak_of(1)
        whole = medians["softmax_nb (whole call)"]
        in_cache = medians["gemms, block in cache"]
        rows.append({
            "shape": [n_samples, n_features, n_classes], "dtype": dtype, "threads": 1, "block_rows": block_rows,
            "fma_peak_g_per_s": peak, "median_ms": medians,
            "times_ms": {name: [s * 1e3 for s in seconds] for name, seconds in timings.items()},
            "share_of_whole": {name: ms / whole for name, ms in medians.items()},
            "fma_peak_fraction": {"whole call": fmas / (whole / 1e3) / 1e9 / peak,
                                  "gemms, block in cache": fmas / (in_cache / 1e3) / 1e9 / peak,
                                  "no overlap bound": fmas / ((in_cache + medians["read X in order"]) / 1e3)
                                  / 1e9 / peak},
        })
        del X
    return rows


def _task_states():
    """``{tid: (state, cpu ticks)}`` of this process's threads but the calling one."""
    me = str(threading.get_native_id())
    states = {}
    for tid in os.listdir("/proc/self/task"):
        if tid == me:
            continue
        try:
            with open(f"/proc/self/task/{tid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:  # the thread ended meanwhile
            continue
        states[tid] = (fields[0], int(fields[11]) + int(fields[12]))
    return states


def blas_spin_window(blas_size=1024, horizon=0.4, step=0.002):
    """After a ``blas_size``^2 float64 NumPy product: for how long threads other than the
    caller stay runnable, how many at once, and the CPU seconds they use from then on
    (all threads but the caller's; clock ticks: 10 ms resolution).

    Linux only (``/proc/self/task``); ``None`` elsewhere. The caller's own numba
    threads are idle here (no kernel runs), so what runs is NumPy's BLAS.
    """
    if not os.path.isdir("/proc/self/task"):
        return None
    a = np.random.default_rng(0).standard_normal((blas_size, blas_size))
    a @ a
    time.sleep(0.5)  # every worker asleep before the product
    ticks_per_s = os.sysconf("SC_CLK_TCK")
    a @ a
    started = time.perf_counter()
    before = _task_states()
    runnable_until, most_runnable = 0.0, 0
    while time.perf_counter() - started < horizon:
        running = [tid for tid, (state, _) in _task_states().items() if state == "R"]
        if running:
            runnable_until = time.perf_counter() - started
            most_runnable = max(most_runnable, len(running))
        time.sleep(step)
    after = _task_states()
    cpu_s = sum(after[tid][1] - before.get(tid, (None, 0))[1] for tid in after) / ticks_per_s
    return {"blas_size": blas_size, "horizon_s": horizon, "runnable_for_s": runnable_until,
            # still runnable at the end of the horizon: the spin lasted longer than measured
            "saturated": runnable_until >= horizon - 2 * step,
            "most_runnable_threads": most_runnable, "their_cpu_s": cpu_s}
