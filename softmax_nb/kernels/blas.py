"""The BLAS libraries, held to one thread while the kernels call them.

Numba compiles ``np.dot`` inside a kernel to a call of SciPy's BLAS
(``scipy.linalg.cython_blas``; in SciPy's wheels an OpenBLAS of its own, not NumPy's).
The kernels call it from each of their own threads, on one block of rows at a time,
so BLAS must run on the calling thread alone: a threaded OpenBLAS call from two
kernel threads at once starts its own workers on the same cores (measured on 2
cores: 2 x 2000 gemms of 256 x 100 x 100 took 187 ms with two BLAS threads, 123 ms
with one).

BLAS thread counts are process-wide, and threadpoolctl lets one thread at a time
change them (the others' limits are silently ignored). So only calls from the main
thread limit BLAS; a kernel called from another thread leaves the counts alone and
its gemms may start BLAS workers (slower on a busy machine, never other results:
OpenBLAS splits a threaded gemm's output, not its sums).
"""

import contextlib
import os
import threading

_kernels_blas = None


def _controller(which):
    """threadpoolctl's controller of the BLAS the kernels call (``"kernels"``, found once:
    finding libraries reads /proc/self/maps, ~3 ms) or of every loaded one (``"all"``,
    found anew, so that a library loaded meanwhile is included)."""
    global _kernels_blas
    if which == "kernels" and _kernels_blas is not None:
        return _kernels_blas
    # SciPy's BLAS first: numba loads it only when a kernel first compiles or runs a
    # gemm, and a controller made before would not know it.
    import scipy
    import scipy.linalg.cython_blas  # noqa: F401
    from threadpoolctl import ThreadpoolController

    every = ThreadpoolController().select(user_api="blas")
    if which == "all":
        return every
    scipy_dir = os.path.dirname(os.path.realpath(scipy.__file__))  # .../scipy, its wheel's .../scipy.libs
    scipys = [lib.filepath for lib in every.lib_controllers if os.path.realpath(lib.filepath).startswith(scipy_dir)]
    # No BLAS of SciPy's own (conda, a distribution): it shares the one loaded.
    _kernels_blas = every.select(filepath=scipys) if scipys else every
    return _kernels_blas


@contextlib.contextmanager
def single_threaded(which="kernels"):
    """Run the block with BLAS limited to one thread, then restore the counts; from the
    main thread only (module docstring). ``which``: ``"kernels"``, the library numba's
    gemms call (NumPy's is left alone); ``"all"``, every loaded BLAS."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    with _controller(which).limit(limits=1):
        yield
