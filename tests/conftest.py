import os

# Compiled kernels are cached in the project, so only the first test run compiles.
os.environ.setdefault(
    "NUMBA_CACHE_DIR", os.path.join(os.path.dirname(os.path.dirname(__file__)), ".numba_cache")
)

import sys  # noqa: E402

# Tests live in folders that mirror the package (tests/kernels, tests/model, ...);
# the shared NumPy reference, tests/naive.py, is importable from all of them.
sys.path.insert(0, os.path.dirname(__file__))

import pytest  # noqa: E402


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """A 1200-row synthetic dataset file stored in chunks of 7 rows."""
    from synthetic_files import make_dataset

    return make_dataset(tmp_path_factory.mktemp("stream") / "small.h5")


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory):
    """The workflow run once on the tiny configuration, with its report (~1 minute).

    Session-scoped so that tests/test_workflow.py and tests/test_report_browser.py share
    one run when they are collected together.
    """
    from workflow_copies import finished_workflow

    return finished_workflow(tmp_path_factory)
