import os

# Compiled kernels are cached in the project, so only the first test run compiles.
os.environ.setdefault(
    "NUMBA_CACHE_DIR", os.path.join(os.path.dirname(os.path.dirname(__file__)), ".numba_cache")
)
