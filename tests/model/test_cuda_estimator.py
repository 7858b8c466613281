"""The estimator's device parameter. With numba's CUDA simulator (or a GPU) a
device='cuda' fit must equal the CPU fit; without either, 'cuda' fails at once and
'auto' falls back to the CPU. Run on the simulator with

    NUMBA_ENABLE_CUDASIM=1 python -m pytest tests/model/test_cuda_estimator.py
"""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from softmax_nb import SoftmaxClassifier
from softmax_nb.model.estimator import resolve_device


def _cuda_usable():
    try:
        from softmax_nb.kernels import cuda as gpu_kernels
    except ImportError:
        return False
    return gpu_kernels.cuda_available()


HAVE_CUDA = _cuda_usable()


def small_problem():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(90, 6))
    y = rng.integers(0, 3, 90)
    return X, y


@pytest.mark.skipif(HAVE_CUDA, reason="a CUDA device (or the simulator) is present")
def test_cuda_without_gpu_fails_at_once_and_auto_falls_back():
    X, y = small_problem()
    with pytest.raises(RuntimeError, match="device='cuda'"):
        SoftmaxClassifier(device="cuda").fit(X, y)
    assert resolve_device("auto") == ("cpu", "cpu")
    clf = SoftmaxClassifier(device="auto").fit(X, y)
    assert clf.device_used_ == "cpu"


@pytest.mark.gpu
@pytest.mark.skipif(not HAVE_CUDA, reason="needs a CUDA GPU or NUMBA_ENABLE_CUDASIM=1")
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_cuda_fit_equals_cpu_fit(dtype):
    X, y = small_problem()
    X = X.astype(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gpu = SoftmaxClassifier(device="cuda", max_iter=8).fit(X, y)
        cpu = SoftmaxClassifier(device="cpu", max_iter=8).fit(X, y)
    assert gpu.device_used_.startswith("cuda")
    rtol = 1e-9 if dtype == np.float64 else 1e-4
    scale = np.abs(cpu.coef_).max()
    assert np.abs(gpu.coef_ - cpu.coef_).max() <= rtol * scale
    auto = SoftmaxClassifier(device="auto", max_iter=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        auto.fit(X, y)
    assert auto.device_used_.startswith("cuda")
