"""``python -m softmax_nb``: the ``softmax-nb`` command line."""

import sys

from .cli import main

sys.exit(main())
