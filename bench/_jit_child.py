"""Child process of the JIT section: import softmax_nb, time each kernel's first call.

Run by ``bench/run.py`` with ``NUMBA_CACHE_DIR`` pointing at an empty folder (cold:
every kernel compiles) or at the folder a previous child filled (warm: kernels load
from the cache). Prints one JSON object on stdout.

Usage: ``python bench/_jit_child.py KERNEL:DTYPE [KERNEL:DTYPE ...]``
"""

import json
import sys
import time

start = time.perf_counter()
import numpy as np  # noqa: E402

numpy_done = time.perf_counter()
sys.path.insert(0, sys.argv[1])  # the repository root, so a fresh clone needs no install
import softmax_nb  # noqa: E402

import_done = time.perf_counter()

rng = np.random.default_rng(0)
n_samples, n_features, n_classes = 257, 9, 4  # odd sizes reach every remainder loop
coef = rng.normal(size=(n_classes, n_features))
intercept = rng.normal(size=n_classes)
y = np.arange(n_samples) % n_classes
calls = {
    "loss_gradient": lambda X: softmax_nb.loss_gradient(X, y, coef, intercept, None, 0.1),
    "decision_function": lambda X: softmax_nb.decision_function(X, coef, intercept),
    "predict_proba": lambda X: softmax_nb.predict_proba(X, coef, intercept),
    "predict_log_proba": lambda X: softmax_nb.predict_log_proba(X, coef, intercept),
    "predict": lambda X: softmax_nb.predict(X, coef, intercept),
}
first_call = {}
for spec in sys.argv[2:]:
    kernel, dtype = spec.split(":")
    X = rng.normal(size=(n_samples, n_features)).astype(dtype)
    t0 = time.perf_counter()
    calls[kernel](X)
    first_call[spec] = time.perf_counter() - t0
end = time.perf_counter()
print(json.dumps({
    "import_numpy_s": numpy_done - start,
    "import_softmax_nb_s": import_done - numpy_done,
    "first_call_s": first_call,
    "first_calls_total_s": sum(first_call.values()),
    "import_and_first_calls_s": end - numpy_done,
}))
