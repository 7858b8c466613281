"""File formats: atomic writes, dataset, model and checkpoint files (docs/FORMATS.md)."""

from .io import *  # noqa: F401,F403
from .io import (FileFormatError, atomic_write, dataset_info, load_model, model_info,  # noqa: F401
                 read_dataset, save_model, write_dataset)
