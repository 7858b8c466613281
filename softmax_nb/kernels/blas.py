"""The BLAS libraries, held to one thread while the kernels call them.

Numba compiles ``np.dot`` inside a kernel to a call of SciPy's BLAS
(``scipy.linalg.cython_blas``; its OpenBLAS is not NumPy's). The kernels call it
from each of their own threads, on one block of rows at a time, so BLAS must run on
the calling thread alone: a threaded OpenBLAS call from two kernel threads at once
starts its own workers on the same cores (measured on 2 cores: 2 x 2000 gemms of
256 x 100 x 100 took 187 ms with two BLAS threads, 123 ms with one).

BLAS thread counts are process-wide, and threadpoolctl lets one thread at a time
change them (the others' limits are silently ignored). So only calls from the main
thread limit BLAS; a kernel called from another thread leaves the counts alone and
its gemms may start BLAS workers (slower on a busy machine, never other results:
OpenBLAS splits a threaded gemm's output, not its sums).
"""

import contextlib
import threading

_controller = None


def _blas_controller(rescan):
    """threadpoolctl's controller of the loaded BLAS libraries (found anew with ``rescan``).

    SciPy's BLAS is loaded first: numba loads it only when a kernel first compiles or
    runs a gemm, and a controller made before would not know it. Finding the
    libraries reads /proc/self/maps (~3 ms), so the kernels keep the first one.
    """
    global _controller
    if _controller is None or rescan:
        import scipy.linalg.cython_blas  # noqa: F401  (loads the library numba calls)
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController().select(user_api="blas")
    return _controller


@contextlib.contextmanager
def single_threaded(rescan=False):
    """Run the block with every loaded BLAS library limited to one thread, then restore
    the counts; from the main thread only (module docstring). ``rescan`` finds
    libraries loaded since the last call too."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    with _blas_controller(rescan).limit(limits=1):
        yield
