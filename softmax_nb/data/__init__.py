"""Data: sources, checks, splits, preparation into dataset files, streaming of row blocks.

One concern per module:

- :mod:`.checks`: :class:`DataError`, :func:`check_X_y`, label encoding;
- :mod:`.sources`: the loaders and :data:`SOURCES`;
- :mod:`.split`: stratified splits, standardization, the ``max_samples`` sample;
- :mod:`.preparation`: :func:`prepare`, and :func:`prepare_from_config`, the one
  function from a configuration entry to a dataset file;
- :mod:`.chunked`: block readers and :func:`prepare_chunked` (out of core);
- :mod:`.streaming`: streaming a dataset file in row blocks for training.
"""

from .checks import *  # noqa: F401,F403
from .chunked import *  # noqa: F401,F403
from .preparation import *  # noqa: F401,F403
from .sources import *  # noqa: F401,F403
from .split import *  # noqa: F401,F403
from . import checks, chunked, preparation, sources, split  # noqa: F401

__all__ = checks.__all__ + sources.__all__ + split.__all__ + preparation.__all__ + chunked.__all__
