"""Data: sources, splits, preparation into dataset files, streaming of row blocks."""

from .datasets import *  # noqa: F401,F403
from .datasets import DataError, SOURCES, prepare, prepare_chunked, prepare_from_config  # noqa: F401
