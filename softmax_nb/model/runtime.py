"""Where a fit runs: numba's thread count, the device, and the seed."""

import contextlib

import numba
import numpy as np

from ..kernels import blas
from .hyperparameters import DEVICES


@contextlib.contextmanager
def num_threads(n_threads):
    """Run the block with numba's thread count set to n_threads, then restore it."""
    if n_threads is None:
        yield
        return
    n_threads = int(n_threads)
    if not 1 <= n_threads <= numba.config.NUMBA_NUM_THREADS:
        raise ValueError(
            f"n_threads must be in [1, {numba.config.NUMBA_NUM_THREADS}], got {n_threads}"
        )
    previous = numba.get_num_threads()
    numba.set_num_threads(n_threads)
    try:
        yield
    finally:
        numba.set_num_threads(previous)


#: Parameter vectors above this size get BLAS limited to one thread during a fit
#: (OpenBLAS computes dot products of fewer entries on one thread anyway).
BLAS_THREADED_SIZE = 10_000


@contextlib.contextmanager
def one_blas_thread(n_params):
    """Run the block with the BLAS libraries (NumPy's, SciPy's) limited to one thread,
    for a fit of ``n_params`` parameters above :data:`BLAS_THREADED_SIZE` run by the
    main thread.

    Between two kernel calls an optimiser calls NumPy on parameter-sized vectors (the
    line search's dot products and steps, the curvature test, norms). Above ~10^4
    entries OpenBLAS runs a dot product on its own threads, which then spin ~0.1 s
    waiting for more work and take a core from the next kernel call (on 2 cores, up to
    half its speed). Those vector
    operations are memory-bound: one BLAS thread costs them nothing. BLAS thread counts
    are process-wide, so fits run by other threads (joblib's threading backend, your
    own) leave them alone (:func:`softmax_nb.kernels.blas.single_threaded`). The
    libraries are found anew for each fit (~3 ms), so one loaded meanwhile is limited too.
    """
    if n_params <= BLAS_THREADED_SIZE:
        yield
        return
    with blas.single_threaded("all"):
        yield


def resolve_device(device):
    """Map 'cpu' / 'cuda' / 'auto' to the device to use, failing early for 'cuda'.

    Returns
    -------
    name : str
        'cpu' or 'cuda'.
    description : str
        What was used, for the history and the model file (e.g. 'cuda:0 NVIDIA H100').
    """
    if device not in DEVICES:
        raise ValueError(f"device must be one of {DEVICES}, got {device!r}")
    if device == "cpu":
        return "cpu", "cpu"
    try:
        from ..kernels import cuda as gpu_kernels

        available = gpu_kernels.cuda_available()
    except ImportError as exc:
        available, gpu_kernels = False, None
        reason = f"numba-cuda is not installed ({exc}); install softmax_nb[cuda]"
    else:
        reason = "no usable CUDA GPU was found"
    if available:
        return "cuda", f"cuda:0 {gpu_kernels.device_name()}"
    if device == "cuda":
        raise RuntimeError(f"device='cuda' was requested but {reason}")
    return "cpu", "cpu"


def seed_of(random_state):
    """An int seed for numpy's Generator from a scikit-learn style random_state."""
    if random_state is None or isinstance(random_state, (int, np.integer)):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(np.iinfo(np.int32).max))
    return random_state
