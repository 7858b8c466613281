import os

# Compiled kernels are cached in the project, so only the first test run compiles.
os.environ.setdefault(
    "NUMBA_CACHE_DIR", os.path.join(os.path.dirname(os.path.dirname(__file__)), ".numba_cache")
)

import sys  # noqa: E402

# Tests live in folders that mirror the package (tests/kernels, tests/model, ...);
# the shared NumPy reference, tests/naive.py, is importable from all of them.
sys.path.insert(0, os.path.dirname(__file__))
