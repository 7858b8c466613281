"""``SoftmaxClassifier``, the scikit-learn compatible estimator, and ``fit_streaming``.

Both build a :class:`~softmax_nb.model.objective.SoftmaxObjective` over a backend
(rows in memory, or row blocks streamed from a dataset file) and train it with the
one loop, :func:`softmax_nb.model.training.train`. With ``solver='lbfgs'`` and the
same ``C`` the optimum is scikit-learn's multinomial ``LogisticRegression``.
"""

import logging
import os

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import train_test_split
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from .. import kernels
from . import hyperparameters, incremental, training
from .backends import InMemoryRows, StreamedRows
from ..data.checks import class_indices
from .hyperparameters import MINIBATCH_SOLVERS
from .objective import SoftmaxObjective, class_weight_vector, weights_of_rows
from .optim import optimizer_for
from .runtime import num_threads, one_blas_thread, resolve_device, seed_of

log = logging.getLogger(__name__)

_DEFAULTS = hyperparameters.DEFAULTS


class SoftmaxClassifier(ClassifierMixin, BaseEstimator):
    """Softmax (multinomial logistic regression) classifier on Numba kernels.

    Minimises the weighted mean negative log-likelihood plus
    ``alpha [l1_ratio ||coef||_1 + (1 - l1_ratio)/2 ||coef||^2]`` with
    ``alpha = 1 / (C sum_j s_j)`` (:mod:`softmax_nb.model.objective`): scikit-learn's
    ``LogisticRegression`` objective for the same C and l1_ratio, so the same model.
    Two classes are scikit-learn's binary model (one row of log-odds). Parameter
    defaults are the configuration schema's (:mod:`softmax_nb.settings`).

    Parameters
    ----------
    C : float, default=1.0
        Inverse regularization strength, as in scikit-learn; ``numpy.inf`` for none.
    l1_ratio : float in [0, 1], default=0.0
        Elastic-net mixing, as in scikit-learn: 0 is L2, 1 is L1. With l1_ratio > 0
        'lbfgs' runs OWL-QN and 'gd' FISTA (both give exact zeros in ``coef_``);
        'sgd' and 'adam' refuse it.
    fit_intercept : bool, default=True
    solver : {'lbfgs', 'gd', 'sgd', 'adam'}, default='lbfgs'
        'lbfgs' and 'gd' (gradient descent with line search) are full-batch and
        deterministic; 'sgd' (momentum / Nesterov) and 'adam' run minibatch epochs.
    max_iter : int, default=100
        Iterations (full-batch solvers) or epochs (minibatch solvers); 0 returns the
        starting point (zeros, or the previous fit with ``warm_start``) with a
        ConvergenceWarning, as scikit-learn does.
    tol : float, default=1e-4
        Full-batch: stop when max|gradient| <= tol. Minibatch: stop when the training
        loss (or the validation loss with early stopping) has not improved by tol
        for ``n_iter_no_change`` epochs.
    class_weight : dict, 'balanced' or None
    label_smoothing : float in [0, 1), default=0.0
    warm_start : bool, default=False
        Start from the previous fit's coef_ and intercept_.
    batch_size : int, default=256
    learning_rate : float or None
        Step size; None takes the solver's default (gd 1.0 initial step, sgd 0.05,
        adam 1e-3). Unused by lbfgs.
    lr_schedule : {'constant', 'invscaling', 'cosine'}, default='constant'
    momentum : float, default=0.9
    nesterov : bool, default=True
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training rows (stratified), stop when
        their loss has not improved by tol for ``n_iter_no_change`` iterations and
        keep the best parameters.
    validation_fraction : float, default=0.1
    n_iter_no_change : int, default=5
    random_state : int, RandomState or None, default=0
        Seeds the minibatch order and the early-stopping split (the default 0 makes
        every fit reproducible; None draws a seed).
    dtype : {None, 'float32', 'float64'}
        Computation dtype of X; None keeps float32 and float64 input as it is.
    n_threads : int or None
        Numba threads for fit and predict; None leaves numba's setting.
    device : {'cpu', 'cuda', 'auto'}, default='cpu'
    verbose : int, default=0
    checkpoint_path : str or None
        Where to write training checkpoints (HDF5, atomically): every
        ``checkpoint_every`` iterations, every ``checkpoint_seconds`` seconds, and on
        SIGTERM, after which fit raises ``TrainingInterrupted``. ``fit(...,
        resume=True)`` continues from it, bitwise identically to an uninterrupted fit.
    checkpoint_every : int, default=10
    checkpoint_seconds : float, default=60.0

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    coef_ : ndarray of shape (1, n_features) for two classes, else (n_classes, n_features)
        In X's dtype. For two classes the one row holds the log-odds of ``classes_[1]``
        (scikit-learn's convention); ``sparsify()`` makes it a SciPy CSR matrix.
    intercept_ : ndarray of shape (1,) or (n_classes,)
    n_features_in_ : int
    n_iter_ : ndarray of shape (1,), int32
    history_ : dict of lists
        Per iteration: 'iteration', 'loss' (the objective J), 'grad_norm' (Euclidean
        norm of its gradient), 'train_accuracy', 'val_loss', 'val_accuracy' (NaN
        without validation data), 'time' (seconds since fit started).
    converged_ : bool
        Whether the stopping rule held (False: stopped at max_iter).
    stopped_early_ : bool
        Whether early stopping ended the fit.
    device_used_ : str
    fit_time_ : float
    """

    def __init__(
        self,
        C=_DEFAULTS["C"],
        l1_ratio=_DEFAULTS["l1_ratio"],
        fit_intercept=_DEFAULTS["fit_intercept"],
        solver=_DEFAULTS["solver"],
        max_iter=_DEFAULTS["max_iter"],
        tol=_DEFAULTS["tol"],
        class_weight=_DEFAULTS["class_weight"],
        label_smoothing=_DEFAULTS["label_smoothing"],
        warm_start=_DEFAULTS["warm_start"],
        batch_size=_DEFAULTS["batch_size"],
        learning_rate=_DEFAULTS["learning_rate"],
        lr_schedule=_DEFAULTS["lr_schedule"],
        momentum=_DEFAULTS["momentum"],
        nesterov=_DEFAULTS["nesterov"],
        early_stopping=_DEFAULTS["early_stopping"],
        validation_fraction=_DEFAULTS["validation_fraction"],
        n_iter_no_change=_DEFAULTS["n_iter_no_change"],
        random_state=_DEFAULTS["random_state"],
        dtype=_DEFAULTS["dtype"],
        n_threads=_DEFAULTS["n_threads"],
        device=_DEFAULTS["device"],
        verbose=_DEFAULTS["verbose"],
        checkpoint_path=_DEFAULTS["checkpoint_path"],
        checkpoint_every=_DEFAULTS["checkpoint_every"],
        checkpoint_seconds=_DEFAULTS["checkpoint_seconds"],
    ):
        self.C = C
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.solver = solver
        self.max_iter = max_iter
        self.tol = tol
        self.class_weight = class_weight
        self.label_smoothing = label_smoothing
        self.warm_start = warm_start
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.lr_schedule = lr_schedule
        self.momentum = momentum
        self.nesterov = nesterov
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.random_state = random_state
        self.dtype = dtype
        self.n_threads = n_threads
        self.device = device
        self.verbose = verbose
        self.checkpoint_path = checkpoint_path
        self.checkpoint_every = checkpoint_every
        self.checkpoint_seconds = checkpoint_seconds

    # -- checks -------------------------------------------------------------

    # scikit-learn's parameter validation, from the schema's rules (hyperparameters.py).
    _parameter_constraints = hyperparameters.parameter_constraints()

    def _check_params(self):
        # The schema's rules first (the messages the CLI and the config share), then
        # scikit-learn's validation of the same constraints for what remains (types).
        hyperparameters.check(self.get_params(deep=False))
        self._validate_params()

    def _accepted_dtype(self):
        if self.dtype is None:
            return [np.float64, np.float32]
        return np.dtype(self.dtype).type

    def _validate_X(self, X, reset):
        return _canonical(validate_data(
            self, X, reset=reset, dtype=self._accepted_dtype(), order="C", accept_sparse="csr"
        ))

    def _optimisation_params(self):
        """Hyperparameters that shape the optimisation path (a resume must share them)."""
        return {k: v for k, v in self.get_params().items() if k not in hyperparameters.RUN_ONLY}

    @property
    def _minibatch(self):
        return self.solver in MINIBATCH_SOLVERS

    # -- fit ----------------------------------------------------------------

    def fit(self, X, y, sample_weight=None, *, eval_set=None, resume=False):
        """Fit the model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Labels of any type (integers, strings...).
        sample_weight : array-like of shape (n_samples,), optional
            Non-negative weights, multiplied by the class weights.
        eval_set : tuple (X_val, y_val), optional
            Validation data whose loss and accuracy are recorded in ``history_``
            each iteration (not used for stopping unless ``early_stopping``).
        resume : bool, default=False
            Continue from ``checkpoint_path`` when that file exists (it must have
            been written for the same data and hyperparameters; ``max_iter`` may
            differ); start afresh when it does not.

        Returns
        -------
        self
        """
        self._check_params()
        X, y = validate_data(
            self, X, y, dtype=self._accepted_dtype(), order="C", y_numeric=False, accept_sparse="csr"
        )
        X = _canonical(X)
        check_classification_targets(y)
        classes, y_encoded = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise ValueError(
                "This solver needs samples of at least 2 classes in the data, but the "
                f"data contains only one class: {classes[0]!r}"
            )
        sample_weight = _check_sample_weight(
            sample_weight, X, dtype=np.float64, ensure_non_negative=True
        )
        sample_weight = weights_of_rows(self.class_weight, classes, y_encoded, sample_weight)
        if not sample_weight.sum() > 0:
            raise ValueError("sample_weight (times class_weight) sums to zero: nothing to fit")
        self._check_warm_start(classes, X.shape[1])
        X_columns = X.shape[1]
        # The identity of the whole training data, before any hold-out split: the
        # split's seed may itself come from the checkpoint.
        identity = InMemoryRows(X, y_encoded, sample_weight).digest() if self.checkpoint_path else None
        checkpointing, resume_state, seed = self._checkpointing(identity, classes, resume)

        validation = None
        if self.early_stopping:
            X, X_val, y_encoded, y_val, sample_weight, _ = _split_validation(
                X, y_encoded, sample_weight, self.validation_fraction, seed
            )
            validation = (X_val, y_val)
        elif eval_set is not None:
            if not isinstance(eval_set, (tuple, list)) or len(eval_set) != 2:
                raise ValueError("eval_set must be a pair (X_val, y_val)")
            X_val, y_val_raw = eval_set
            X_val = self._validate_X(X_val, reset=False)
            if np.shape(y_val_raw) != (X_val.shape[0],):
                raise ValueError(f"eval_set: X_val has {X_val.shape[0]} rows but y_val has shape "
                                 f"{np.shape(y_val_raw)}")
            validation = (X_val, class_indices(classes, y_val_raw))
        # Sparse X runs on the CPU: 'auto' takes it there, 'cuda' is refused by the backend.
        device, device_used = resolve_device("cpu" if sp.issparse(X) and self.device == "auto" else self.device)
        columns = None if self.warm_start and hasattr(self, "coef_") else _used_columns(X)
        if columns is not None:
            X = X[:, columns]
            validation = validation and (validation[0][:, columns], validation[1])
        rows = InMemoryRows(X, y_encoded, sample_weight, device=device)
        objective = self._objective(rows, len(classes))
        with num_threads(self.n_threads):
            self._train(objective, classes, validation=validation and InMemoryRows(*validation), seed=seed,
                        checkpointing=checkpointing, resume_state=resume_state,
                        columns=None if columns is None else (columns, X_columns))
        self.device_used_ = device_used
        return self

    def _objective(self, rows, n_classes):
        return SoftmaxObjective.from_hyperparameters(self, rows, n_classes)

    def _check_warm_start(self, classes, n_features):
        if self.warm_start and hasattr(self, "coef_") and (
                not np.array_equal(self.classes_, classes) or self.coef_.shape[1] != n_features):
            raise ValueError(
                "warm_start needs the same classes and number of features as the previous fit"
            )

    def _checkpointing(self, data_digest, classes, resume):
        """``(Checkpointing or None, loaded state or None, seed)`` for this fit."""
        seed = seed_of(self.random_state)
        if self.checkpoint_path is None:
            if resume:
                raise ValueError("resume=True needs checkpoint_path")
            return None, None, seed
        checkpointing = training.Checkpointing(
            path=self.checkpoint_path,
            fingerprint=training.fingerprint(data_digest, classes, self._optimisation_params()),
            every=self.checkpoint_every, seconds=self.checkpoint_seconds)
        resume_state = None
        if resume and os.path.exists(self.checkpoint_path):
            resume_state = checkpointing.load(self.solver)
            seed = resume_state["seed"]
        elif seed is None:
            # Drawn once and saved in the checkpoint, so a resume replays it.
            seed = int(np.random.SeedSequence().entropy % 2**32)
        return checkpointing, resume_state, seed

    def _train(self, objective, classes, *, validation, seed, checkpointing, resume_state, start_from=False,
               columns=None):
        """Train ``objective`` with the one loop and set the fitted attributes.

        Starts from the current ``coef_`` / ``intercept_`` with ``warm_start`` (or
        ``start_from``), else from zeros. ``columns``: ``(used, n_features)`` when the
        objective's rows hold only the ``used`` columns of X (:func:`_used_columns`);
        ``coef_`` gets zeros in the others.
        """
        if self._minibatch:
            training.scale_warning(self.solver, objective.rows.max_abs())
        warm = (self.warm_start or start_from) and hasattr(self, "coef_")
        x0 = objective.pack(self._dense_coef(), self.intercept_) if warm else objective.zeros()
        settings = training.Settings.from_hyperparameters(self)
        if validation is not None:
            validation_scores = lambda params: validation.scores(*objective.unpack(params))  # noqa: E731
        else:
            validation_scores = None
        with one_blas_thread(x0.size):  # no spinning BLAS threads between kernel calls
            optimizer = optimizer_for(self, objective, x0, seed)
            result = training.train(optimizer, settings, validation=validation_scores,
                                    training_scores=objective.scores, seed=seed,
                                    checkpointing=checkpointing, resume_state=resume_state)
        coef, intercept = objective.unpack(result.params)
        # scikit-learn's convention: the parameters in the dtype of X.
        dtype = objective.rows.dtype
        if columns is None:
            coef = np.array(coef, dtype=dtype)
        else:
            used, n_features = columns
            fitted, coef = coef, np.zeros((coef.shape[0], n_features), dtype=dtype)
            coef[:, used] = fitted
        training.convergence_warnings(
            result, optimizer, settings, penalized=objective.penalized, coef=coef,
            separable=lambda: objective.scores(result.params)[1] == 1.0)
        self.classes_ = classes
        self.history_ = result.history
        self.n_iter_ = np.array([result.n_iter], dtype=np.int32)
        self.converged_ = bool(result.converged)
        self.stopped_early_ = bool(result.stopped_early)
        self.fit_time_ = result.fit_time
        self.coef_ = coef
        self.intercept_ = (np.array(intercept, dtype=dtype) if self.fit_intercept
                           else np.zeros(objective.layout.n_rows, dtype=dtype))
        return result

    def _dense_coef(self):
        """coef_ as an ndarray (also after ``sparsify()``)."""
        return self.coef_.toarray() if sp.issparse(self.coef_) else self.coef_

    def sparsify(self):
        """Store ``coef_`` as a SciPy CSR matrix (scikit-learn's ``sparsify``); predictions
        are unchanged. Worth it when most weights are zero (L1, ``l1_ratio`` near 1).

        Returns
        -------
        self
        """
        check_is_fitted(self)
        self.coef_ = sp.csr_matrix(self.coef_)
        return self

    def densify(self):
        """Store ``coef_`` as an ndarray again (the inverse of ``sparsify``).

        Returns
        -------
        self
        """
        check_is_fitted(self)
        if sp.issparse(self.coef_):
            self.coef_ = self.coef_.toarray()
        return self

    @available_if(lambda self: self.solver in MINIBATCH_SOLVERS)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """One pass of minibatch updates (solver 'sgd' or 'adam') over (X, y).

        The optimiser's state (momentum or Adam moments, update counter, RNG) is kept
        between calls; ``classes`` (every label) is required on the first call. A call
        after ``fit`` continues from the fitted parameters. See
        :func:`softmax_nb.model.incremental.partial_fit`.

        Returns
        -------
        self
        """
        return incremental.partial_fit(self, X, y, classes=classes, sample_weight=sample_weight)

    # -- predict ------------------------------------------------------------

    def _predict_inputs(self, X):
        if self._is_plain_input(X):
            return X
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        return X

    def _is_plain_input(self, X):
        """Whether X is what scikit-learn's checks would pass unchanged and silently: a
        fitted model (fitted without feature names) and a non-empty, finite, C-contiguous
        2-D ndarray of an accepted dtype (native byte order) and the fitted width.

        Those checks cost ~70 us, most of a prediction on up to 100 rows (digits: ~100
        us in all); anything else takes them, and gets their errors and warnings.
        """
        fitted = self.__dict__
        accepted = self._accepted_dtype()
        accepted = accepted if isinstance(accepted, list) else [accepted]
        if not (type(X) is np.ndarray and X.ndim == 2 and X.shape[0] > 0 and X.flags.c_contiguous
                and "coef_" in fitted and "feature_names_in_" not in fitted
                and X.shape[1] == fitted.get("n_features_in_")
                and any(X.dtype == np.dtype(t) for t in accepted)):
            return False
        with np.errstate(over="ignore", invalid="ignore"):  # an overflowing sum takes the checks
            return bool(np.isfinite(X.sum()))  # inf or NaN anywhere makes the sum so

    def decision_function(self, X):
        """Logits a_k(x), shape (n_samples, n_classes), in X's dtype.

        For two classes, scikit-learn's convention: the log-odds ``z = w . x + b`` of
        shape (n_samples,), positive where ``classes_[1]`` is predicted.
        """
        X = self._predict_inputs(X)
        with num_threads(self.n_threads):
            logits = kernels.decision_function(X, self._dense_coef(), self.intercept_)
        return logits[:, 0] if logits.shape[1] == 1 else logits

    def predict_proba(self, X):
        """Class probabilities, shape (n_samples, n_classes), in X's dtype (two classes:
        ``[sigmoid(-z), sigmoid(z)]``)."""
        X = self._predict_inputs(X)
        with num_threads(self.n_threads):
            return kernels.predict_proba(X, self._dense_coef(), self.intercept_)

    def predict_log_proba(self, X):
        """Log class probabilities, shape (n_samples, n_classes), in X's dtype."""
        X = self._predict_inputs(X)
        with num_threads(self.n_threads):
            return kernels.predict_log_proba(X, self._dense_coef(), self.intercept_)

    def predict(self, X):
        """Most probable class label per row."""
        X = self._predict_inputs(X)
        with num_threads(self.n_threads):
            return self.classes_[kernels.predict(X, self._dense_coef(), self.intercept_)]

    def objective(self, X, y, sample_weight=None):
        """The objective J (data term + penalty, L1 included) at the fitted parameters, on (X, y)."""
        check_is_fitted(self)
        objective = self.objective_for(X, y, sample_weight)
        with num_threads(self.n_threads):
            return objective.value(objective.pack(self._dense_coef(), self.intercept_))

    def objective_for(self, X, y, sample_weight=None, *, dtype=None):
        """The :class:`SoftmaxObjective` of this model's hyperparameters on (X, y).

        Its lambda, class and sample weights are those a fit on (X, y) would use;
        :func:`softmax_nb.model.gradcheck.gradcheck_model` checks its gradient.
        ``dtype`` overrides the model's computation dtype (the check runs in float64).
        """
        check_is_fitted(self)
        if dtype is None:
            X = self._validate_X(X, reset=False)
        else:
            X = _canonical(validate_data(self, X, reset=False, dtype=np.dtype(dtype).type, order="C",
                                         accept_sparse="csr"))
        y_encoded = class_indices(self.classes_, y)
        if (y_encoded < 0).any():
            raise ValueError("y holds labels that are not in classes_")
        sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64,
                                             ensure_non_negative=True)
        rows = InMemoryRows(X, y_encoded, weights_of_rows(self.class_weight, self.classes_, y_encoded,
                                                          sample_weight))
        return self._objective(rows, len(self.classes_))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.input_tags.sparse = True
        return tags


def _used_columns(X):
    """The columns of a sparse X that hold a nonzero, when at most half of them do; else None.

    A fit from zeros can leave the others out, exactly: their data gradient is zero
    and so is every penalty's at zero, so their coef stays 0 at every iterate of
    every solver. The optimiser's memory (L-BFGS keeps 2 x 10 parameter vectors)
    then follows the columns the data use (text with a large vocabulary, one-hot
    features of a subset), not the declared feature count.
    """
    if not sp.issparse(X):
        return None
    seen = np.zeros(X.shape[1], dtype=bool)
    seen[X.indices[X.data != 0]] = True
    return _worth_dropping(seen)


def _worth_dropping(seen):
    used = np.flatnonzero(seen)
    return used if 0 < len(used) <= len(seen) // 2 else None


def _canonical(X):
    """A sparse X in canonical CSR (sorted indices, no duplicates: summed), checked once
    (:func:`softmax_nb.kernels.sparse.check_csr`); dense X unchanged."""
    if not sp.issparse(X):
        return X
    from ..kernels.sparse import check_csr

    return check_csr(X)


def _split_validation(X, y, sample_weight, fraction, seed):
    """Stratified hold-out split; falls back to a plain split when a class is too
    small to stratify."""
    try:
        parts = train_test_split(X, y, sample_weight, test_size=fraction,
                                 random_state=seed, stratify=y)
    except ValueError:
        parts = train_test_split(X, y, sample_weight, test_size=fraction, random_state=seed)
    X_train, X_val, y_train, y_val, sw_train, sw_val = parts
    if sp.issparse(X_train):
        return _canonical(X_train.tocsr()), _canonical(X_val.tocsr()), y_train, y_val, sw_train, sw_val
    return (np.ascontiguousarray(X_train), np.ascontiguousarray(X_val), y_train, y_val,
            sw_train, sw_val)


def file_fit_start(clf, info, path, split, eval_split, init, where):
    """The checks every fit from a dataset file shares (streamed, over MPI ranks): rows in
    ``split``, a validation split for early stopping, a compatible ``init`` (whose
    parameters ``clf`` takes). Returns ``(info, whether eval_split is monitored)``."""
    if info["splits"][split]["n_samples"] == 0:
        raise ValueError(f"dataset file {str(path)!r}: the {split!r} split has no rows")
    use_eval = eval_split is not None and info["splits"][eval_split]["n_samples"] > 0
    if clf.early_stopping and not use_eval:
        raise ValueError(f"early_stopping {where} monitors the validation split, "
                         f"which is {'not given' if eval_split is None else 'empty'}")
    if init is not None:
        if not np.array_equal(np.asarray(init.classes_), info["classes"]) or init.coef_.shape[1] != info["n_features"]:
            raise ValueError("init must be a classifier fitted on the same classes and features as the file")
        clf.classes_, clf.coef_, clf.intercept_ = init.classes_, init.coef_, init.intercept_
    return info, use_eval


def fit_streaming(path, params=None, *, max_memory_mb, split="train", eval_split="val",
                  progress=True, init=None, resume=False):
    """Train a SoftmaxClassifier on a dataset file without loading it into memory.

    The same objective and training loop as ``SoftmaxClassifier.fit``, over the
    file's row blocks (:class:`~softmax_nb.model.backends.StreamedRows`).

    Parameters
    ----------
    path : str or os.PathLike
        A dataset file (``softmax-nb prepare``); X should be stored in row chunks
        (the default) or contiguously.
    params : dict, optional
        :class:`SoftmaxClassifier` hyperparameters. 'lbfgs' and 'gd' evaluate the
        exact full objective, one streamed pass per evaluation; 'sgd' and 'adam'
        run epochs over shuffled blocks. ``early_stopping`` monitors the
        ``eval_split`` (not a hold-out of the training rows). ``device`` must be
        'cpu' or 'auto' (runs on the CPU). ``checkpoint_path`` works as in ``fit``.
    max_memory_mb : float
        Memory budget in MiB above the interpreter's baseline
        (:func:`softmax_nb.data.streaming.memory_plan`); the training and
        validation passes take turns with the same read buffers.
    split : str, default="train"
    eval_split : str or None, default="val"
        Split whose loss and accuracy are recorded each iteration (None or an
        empty split: NaN).
    progress : bool, default=True
        Progress bar per pass (a log line every 30 s when stderr is not a terminal).
    init : SoftmaxClassifier, optional
        A fitted classifier with the same classes and features to start from.
    resume : bool, default=False
        Continue from ``params['checkpoint_path']`` when it exists (bitwise
        identical to an uninterrupted fit with the same memory budget).

    Returns
    -------
    SoftmaxClassifier
        Fitted, plus ``streaming_`` (the memory plan, passes and bytes read).
    """
    from ..data.streaming import BufferPool, H5Stream
    from ..files.dataset import dataset_info

    clf = SoftmaxClassifier(**(params or {}))
    clf._check_params()
    if clf.device == "cuda":
        raise ValueError("streaming training runs on the CPU; device='cuda' needs the data in memory "
                         "(drop max_memory_mb, or use device='cpu')")
    info, use_eval = file_fit_start(clf, dataset_info(path), path, split, eval_split, init, "in streaming training")
    classes = info["classes"]
    dtype = None if clf.dtype is None else np.dtype(clf.dtype)
    pool = BufferPool()  # training and validation passes take turns with the same buffers
    batch_rows = clf.batch_size if clf._minibatch else 0
    with num_threads(clf.n_threads), \
            H5Stream(path, split, max_memory_mb=max_memory_mb, dtype=dtype, batch_rows=batch_rows,
                     progress=progress, pool=pool) as stream:
        if np.count_nonzero(stream.class_counts) < 2:
            raise ValueError(f"dataset file {str(path)!r}: the {split!r} split holds a single class")
        class_weight = class_weight_vector(clf.class_weight, classes, class_counts=stream.class_counts)
        eval_stream = None
        if use_eval:
            eval_stream = H5Stream(path, eval_split, max_memory_mb=max_memory_mb, dtype=dtype,
                                   output_columns=len(classes), progress=progress, pool=pool)
        try:
            columns = None
            if stream.sparse and init is None:
                columns = _worth_dropping(stream.columns_in_use())
                stream.keep_columns(columns)
                if eval_stream is not None:
                    eval_stream.keep_columns(columns)
            rows = StreamedRows(stream, class_weight)
            objective = clf._objective(rows, len(classes))
            planned_peak = max(stream.plan["peak_bytes"], eval_stream.plan["peak_bytes"] if eval_stream else 0)
            log.info("streaming %s/%s: %d rows in %d block(s) of %d rows; planned peak %.1f MiB "
                     "(budget %s MiB)", path, split, stream.n_rows, stream.n_blocks, stream.block_rows,
                     planned_peak / 2**20, max_memory_mb)
            identity = rows.digest() if clf.checkpoint_path else None
            checkpointing, resume_state, seed = clf._checkpointing(identity, classes, resume)
            clf._train(objective, classes, validation=StreamedRows(eval_stream) if eval_stream else None,
                       seed=seed, checkpointing=checkpointing, resume_state=resume_state,
                       start_from=init is not None,
                       columns=None if columns is None else (columns, info["n_features"]))
            clf.streaming_ = {
                "max_memory_mb": max_memory_mb,
                "block_rows": stream.block_rows,
                "n_blocks": stream.n_blocks,
                "planned_peak_bytes": planned_peak,
                "passes": stream.n_passes,
                "bytes_read": stream.bytes_read + (eval_stream.bytes_read if eval_stream else 0),
            }
        finally:
            if eval_stream is not None:
                eval_stream.close()
    clf.n_features_in_ = info["n_features"]
    clf.device_used_ = "cpu"
    return clf
