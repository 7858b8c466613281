"""Training on data given piece by piece: ``partial_fit`` (SGD, Adam).

Each :meth:`IncrementalTrainer.partial_fit` call is one epoch of the one training
loop (:func:`softmax_nb.model.training.train`) over the rows it is given, as their
own :class:`~softmax_nb.model.objective.SoftmaxObjective`; the optimiser (its
momentum or moment estimates, update counter and RNG), the history and the clock
carry over between calls.
"""

import numpy as np
import scipy.sparse as sp
from sklearn.utils.validation import _check_sample_weight, check_array

from . import hyperparameters, training
from .backends import InMemoryRows
from ..data.checks import class_indices
from .hyperparameters import MINIBATCH_SOLVERS
from .objective import SoftmaxObjective, coef_rows, weights_of_rows
from .optim import optimizer_for
from .runtime import num_threads, seed_of


class IncrementalTrainer:
    """SGD / Adam over data that arrive in pieces, keeping the optimiser's state.

    The L2 term ``lambda = 1 / (C S)`` needs the total weight S of the training
    data: pass ``total_weight`` when it is known (the objective is then exactly the
    full-batch one); otherwise S is the weight seen so far, which over one pass ends
    at the full data's S.

    Parameters
    ----------
    classes : array-like
        All class labels that will ever appear.
    params : dict, optional
        :class:`~softmax_nb.SoftmaxClassifier` hyperparameters; ``solver`` must be
        'sgd' or 'adam'; ``class_weight`` may be None or a dict ('balanced' needs
        all the labels in advance: compute the weights and pass a dict).
    total_weight : float, optional
    coef, intercept : ndarray, optional
        Starting parameters (default zeros).
    """

    def __init__(self, classes, params=None, *, total_weight=None, coef=None, intercept=None):
        self.params = hyperparameters.complete(params)
        if self.params.solver not in MINIBATCH_SOLVERS:
            raise ValueError(f"partial_fit needs solver 'sgd' or 'adam', got {self.params.solver!r}")
        if self.params.class_weight == "balanced":
            raise ValueError("class_weight='balanced' needs every label in advance and is not supported by "
                             "partial_fit; pass a dict of weights (sklearn.utils.class_weight.compute_class_weight)")
        classes = np.asarray(classes)
        if classes.ndim != 1:
            raise ValueError(f"classes must be 1-D, got shape {classes.shape}")
        self.classes = np.unique(classes)
        if len(self.classes) < 2:
            raise ValueError(f"classes must hold at least 2 distinct labels, got {classes.tolist()!r}")
        if total_weight is not None and not total_weight > 0:
            raise ValueError(f"total_weight must be positive, got {total_weight!r}")
        self.total_weight = total_weight
        self.weight_seen = 0.0
        self.n_features = None
        self.optimizer = None
        self._init = (coef, intercept)
        self.fit_time = 0.0
        self.dtype = np.float64
        self.history = None
        self._layout = None

    def _encode(self, y):
        index = class_indices(self.classes, y)
        if (index < 0).any():
            labels = np.unique(np.asarray(y)[index < 0]).tolist()
            raise ValueError(f"y holds label(s) {labels[:10]} that are not in classes {self.classes.tolist()}")
        return index

    def partial_fit(self, X, y, sample_weight=None):
        """One pass of minibatch updates over ``(X, y)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Labels among ``classes``.
        sample_weight : array-like of shape (n_samples,), optional

        Returns
        -------
        self
        """
        clf = self.params
        dtype = [np.float64, np.float32] if clf.dtype is None else np.dtype(clf.dtype).type
        X = check_array(X, dtype=dtype, order="C", accept_sparse="csr")
        if sp.issparse(X):
            from ..kernels.sparse import check_csr

            X = check_csr(X)
        y = np.asarray(y)
        if y.ndim != 1 or len(y) != X.shape[0]:
            raise ValueError(f"y must have shape ({X.shape[0]},), got {y.shape}")
        if X.shape[0] == 0:
            raise ValueError("partial_fit got 0 rows")
        if self.n_features is not None and X.shape[1] != self.n_features:
            # scikit-learn's wording (its estimator checks match on it)
            raise ValueError(f"X has {X.shape[1]} features, but SoftmaxClassifier is expecting "
                             f"{self.n_features} features as input.")
        y_index = self._encode(y)
        weights = weights_of_rows(clf.class_weight, self.classes, y_index,
                                  _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True))
        if not weights.sum() > 0:
            raise ValueError("partial_fit got rows whose sample_weight (times class_weight) sums to zero: "
                             "they carry nothing to learn from")
        self.weight_seen += float(weights.sum())
        n_classes = len(self.classes)
        objective = SoftmaxObjective.from_hyperparameters(
            clf, InMemoryRows(X, y_index, weights), n_classes,
            penalty_weight=self.total_weight if self.total_weight is not None else self.weight_seen)
        with num_threads(clf.n_threads):
            if self.optimizer is None:
                coef, intercept = self._init
                n_rows = coef_rows(n_classes)
                coef = np.zeros((n_rows, X.shape[1])) if coef is None else np.asarray(coef, float)
                intercept = np.zeros(n_rows) if intercept is None else np.asarray(intercept, float)
                if coef.shape != (n_rows, X.shape[1]) or intercept.shape != (n_rows,):
                    raise ValueError(f"the starting coef has shape {coef.shape}; X and classes need "
                                     f"({n_rows}, {X.shape[1]})")
                self.n_features = X.shape[1]
                self.dtype = X.dtype
                self.optimizer = optimizer_for(clf, objective, objective.pack(coef, intercept),
                                               seed_of(clf.random_state))
                self.history = training.new_history()
            self.optimizer.objective = objective
            settings = training.Settings.from_hyperparameters(clf, max_iter=self.optimizer.iteration + 1,
                                                              stopping=False)
            try:
                result = training.train(self.optimizer, settings, history=self.history,
                                        elapsed_before=self.fit_time)
            finally:
                # The objective holds this call's rows: keep no reference to them.
                self.optimizer.objective = None
        self._layout = objective.layout  # not the objective: it holds this call's rows
        self.history, self.fit_time = result.history, result.fit_time
        return self

    @property
    def coef(self):
        """Current coefficients, (n_rows, n_features) in the dtype of X (one row for two classes)."""
        return self._layout.unpack(self.optimizer.x)[0].astype(self.dtype)

    @property
    def intercept(self):
        """Current intercepts, (n_rows,) in the dtype of X (zeros without intercept)."""
        intercept = self._layout.unpack(self.optimizer.x)[1]
        if intercept is None:
            return np.zeros(self._layout.n_rows, dtype=self.dtype)
        return intercept.astype(self.dtype)

    def export(self, clf):
        """Set the fitted attributes of a SoftmaxClassifier from the current state."""
        clf.classes_ = self.classes
        clf.n_features_in_ = self.n_features
        clf.coef_ = self.coef
        clf.intercept_ = self.intercept
        clf.n_iter_ = np.array([self.optimizer.iteration], dtype=np.int32)
        clf.history_ = {key: list(values) for key, values in self.history.items()}
        clf.device_used_ = "cpu"
        clf.fit_time_ = self.fit_time
        return clf


def partial_fit(clf, X, y, classes=None, sample_weight=None):
    """``SoftmaxClassifier.partial_fit``: one pass of SGD / Adam updates over (X, y).

    The optimiser's state lives on the classifier (``clf._partial_fit_trainer``) and
    carries over between calls.  ``classes`` is required on the first call.  A call
    after ``fit`` (or after ``coef_`` was changed) starts a new optimiser from the
    current ``coef_`` and ``intercept_``.

    Returns
    -------
    clf
    """
    trainer = getattr(clf, "_partial_fit_trainer", None)
    if trainer is not None and not (np.array_equal(getattr(clf, "coef_", None), trainer.coef)
                                    and np.array_equal(getattr(clf, "intercept_", None), trainer.intercept)):
        trainer = None  # fitted (or edited) since: continue from the current parameters
    if trainer is None:
        fitted = hasattr(clf, "coef_") and hasattr(clf, "classes_")
        if classes is None and not fitted:
            raise ValueError("classes must be given on the first call to partial_fit")
        if classes is None:
            classes = clf.classes_
        elif fitted and not np.array_equal(np.unique(classes), clf.classes_):
            raise ValueError(f"classes {np.unique(classes).tolist()} differ from the fitted classes_ "
                             f"{np.asarray(clf.classes_).tolist()}")
        params = {k: v for k, v in clf.get_params().items()
                  if k not in ("checkpoint_path", "checkpoint_every", "checkpoint_seconds")}
        trainer = IncrementalTrainer(
            classes, params,
            coef=clf.coef_ if fitted else None,
            intercept=clf.intercept_ if fitted else None,
        )
    elif classes is not None and not np.array_equal(np.unique(classes), trainer.classes):
        raise ValueError(f"classes {np.unique(classes).tolist()} differ from those of the first "
                         f"partial_fit call {trainer.classes.tolist()}")
    trainer.partial_fit(X, y, sample_weight)
    trainer.export(clf)
    clf._partial_fit_trainer = trainer
    return clf
