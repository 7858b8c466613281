"""Child process of the small-data section: one first fit in a fresh process.

Prints one JSON object: the seconds of the imports and of the first fit of
``softmax_nb`` (its kernels loaded from ``NUMBA_CACHE_DIR``, filled by an earlier
child) or of scikit-learn's LogisticRegression, on standardized wine (178 x 13); for
softmax_nb also ``numba_setup_s``, the part of that first fit that is numba's one-time
set-up of its registries.

Usage: ``python bench/_small_child.py REPO_ROOT softmax_nb|sklearn``
"""

import json
import sys
import time
import warnings

start = time.perf_counter()
import numpy as np  # noqa: E402
from sklearn.datasets import load_wine  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

X, y = load_wine(return_X_y=True)
X = StandardScaler().fit_transform(X)
sys.path.insert(0, sys.argv[1])  # the repository root, so a fresh clone needs no install
imports_done = time.perf_counter()
if sys.argv[2] == "softmax_nb":
    from softmax_nb import SoftmaxClassifier as Model
else:
    from sklearn.linear_model import LogisticRegression as Model
model_imported = time.perf_counter()
timings = {}
if sys.argv[2] == "softmax_nb":
    # The part of the first fit that is numba's own one-time set-up: the first kernel a
    # process loads (from the cache) fills numba's typing and target registries, most of
    # it importing numba's modules. Done here explicitly, the fit below skips it.
    from numba.core.registry import cpu_target

    cpu_target.typing_context.refresh()
    cpu_target.target_context.refresh()
    timings["numba_setup_s"] = time.perf_counter() - model_imported
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    Model().fit(X, y)
fitted = time.perf_counter()
print(json.dumps({"import_s": model_imported - imports_done, "first_fit_s": fitted - model_imported,
                  **timings, "numpy_sklearn_data_s": imports_done - start}))
