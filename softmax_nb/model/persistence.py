"""Model files <-> fitted estimators: :func:`load_model`, and :func:`save_model` re-exported.

The file format itself (docs/FORMATS.md) is :mod:`softmax_nb.files.model`, which
knows no estimator class; this module turns its contents into a
:class:`~softmax_nb.SoftmaxClassifier`.
"""

import numpy as np

from ..files.common import FileFormatError
from ..files.model import model_info, save_model
from .estimator import SoftmaxClassifier

__all__ = ["load_model", "save_model", "model_info"]


def load_model(path, *, return_info=False):
    """Load a fitted :class:`~softmax_nb.SoftmaxClassifier` from a model file.

    Parameters
    ----------
    path : str or os.PathLike
    return_info : bool, default False
        Also return the :func:`model_info` dictionary (preprocessing, provenance).

    Returns
    -------
    clf : SoftmaxClassifier
        Ready for ``predict``/``predict_proba``; hyperparameters as saved.
    info : dict
        Only when ``return_info`` is true.

    Raises
    ------
    FileNotFoundError, FileFormatError
    """
    info = model_info(path)
    valid = SoftmaxClassifier().get_params(deep=False)
    unknown = sorted(set(info["hyperparameters"]) - set(valid))
    if unknown:
        raise FileFormatError(
            f"model file {str(path)!r} has hyperparameters this softmax_nb does not know: {', '.join(unknown)}"
        )
    clf = SoftmaxClassifier(**info["hyperparameters"])
    clf.classes_ = info["classes"]
    clf.coef_ = info["coef"].copy()
    clf.intercept_ = info["intercept"].copy()
    clf.n_features_in_ = info["n_features_in"]
    clf.n_iter_ = np.array([info["n_iter"]], dtype=np.int32)
    clf.device_used_ = info["device_used"]
    clf.fit_time_ = info["fit_time"]
    clf.history_ = {key: list(values) for key, values in info["history"].items()}
    if info["feature_names"] is not None and info["feature_names_fitted"]:
        clf.feature_names_in_ = np.array(info["feature_names"], dtype=object)
    return (clf, info) if return_info else clf
