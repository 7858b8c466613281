"""File formats (docs/FORMATS.md), one concern per module:

- :mod:`.atomic`: atomic writes (:func:`atomic_write`);
- :mod:`.common`: :class:`FileFormatError`, HDF5 opening and format checks, provenance;
- :mod:`.dataset`: dataset files (:func:`write_dataset`, :class:`DatasetWriter`,
  :func:`read_dataset`, :func:`dataset_info`);
- :mod:`.model`: model files (:func:`save_model`, :func:`model_info`; the model layer's
  :func:`softmax_nb.model.persistence.load_model` reads them into an estimator);
- :mod:`.inspect`: :func:`file_info` and :func:`describe` of a file of either kind;
- :mod:`.checkpoint`: training checkpoints.
"""

from .atomic import *  # noqa: F401,F403
from .common import *  # noqa: F401,F403
from .dataset import *  # noqa: F401,F403
from .inspect import *  # noqa: F401,F403
from .model import *  # noqa: F401,F403
from . import atomic, common, dataset, inspect, model  # noqa: F401

__all__ = (atomic.__all__ + common.__all__ + [n for n in dataset.__all__ if n not in common.__all__]
           + inspect.__all__ + model.__all__)
