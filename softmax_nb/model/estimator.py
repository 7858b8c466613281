"""``SoftmaxClassifier``: the scikit-learn compatible estimator.

The objective it minimises, and its gradient, are written once, in the docstring of
``softmax_nb.kernels``. With ``solver='lbfgs'`` and the same ``C`` the optimum is
scikit-learn's multinomial ``LogisticRegression`` (lambda = 1 / (C sum_j s_j)).
"""

import contextlib
import os
import time
import warnings

import numba
import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from ..kernels import cpu as kernels
from ..files.checkpoint import (TerminationGuard, TrainingInterrupted, fingerprint,
                         load_checkpoint, save_checkpoint)
from .optim import LR_SCHEDULES, LBFGS, SGD, SOLVERS, Adam, GradientDescent

DEVICES = ("cpu", "cuda", "auto")
HISTORY_KEYS = ("iteration", "loss", "grad_norm", "train_accuracy", "val_loss", "val_accuracy",
                "time")
_DEFAULT_LEARNING_RATE = {"gd": 1.0, "sgd": 0.05, "adam": 1e-3, "lbfgs": None}


@contextlib.contextmanager
def _num_threads(n_threads):
    """Run the block with numba's thread count set to n_threads, then restore it."""
    if n_threads is None:
        yield
        return
    n_threads = int(n_threads)
    if not 1 <= n_threads <= numba.config.NUMBA_NUM_THREADS:
        raise ValueError(
            f"n_threads must be in [1, {numba.config.NUMBA_NUM_THREADS}], got {n_threads}"
        )
    previous = numba.get_num_threads()
    numba.set_num_threads(n_threads)
    try:
        yield
    finally:
        numba.set_num_threads(previous)


def resolve_device(device):
    """Map 'cpu' / 'cuda' / 'auto' to the device to use, failing early for 'cuda'.

    Returns
    -------
    name : str
        'cpu' or 'cuda'.
    description : str
        What was used, for the history and the model file (e.g. 'cuda:0 NVIDIA H100').
    """
    if device not in DEVICES:
        raise ValueError(f"device must be one of {DEVICES}, got {device!r}")
    if device == "cpu":
        return "cpu", "cpu"
    try:
        from ..kernels import cuda as gpu_kernels

        available = gpu_kernels.cuda_available()
    except ImportError as exc:
        available, gpu_kernels = False, None
        reason = f"numba-cuda is not installed ({exc}); install softmax_nb[cuda]"
    else:
        reason = "no usable CUDA GPU was found"
    if available:
        return "cuda", f"cuda:0 {gpu_kernels.device_name()}"
    if device == "cuda":
        raise RuntimeError(f"device='cuda' was requested but {reason}")
    return "cpu", "cpu"


class _Objective:
    """J(params) and its gradient for flat params = [coef.ravel(), intercept]."""

    def __init__(self, X, y, sample_weight, n_classes, fit_intercept, l2_reg_strength,
                 label_smoothing, device):
        self.X, self.y, self.sample_weight = X, y, sample_weight
        self.n_classes = n_classes
        self.n_features = X.shape[1]
        self.fit_intercept = fit_intercept
        self.l2_reg_strength = l2_reg_strength
        self.label_smoothing = label_smoothing
        self.device = device
        if device == "cuda":
            from ..kernels import cuda as gpu_kernels

            # X, y and weights cross to the GPU once for the whole fit.
            self.device_data = gpu_kernels.DeviceData(X, y, sample_weight)

    def unpack(self, params):
        n_coef = self.n_classes * self.n_features
        coef = params[:n_coef].reshape(self.n_classes, self.n_features)
        intercept = params[n_coef:] if self.fit_intercept else None
        return coef, intercept

    def pack(self, grad_coef, grad_intercept):
        if self.fit_intercept:
            return np.concatenate([grad_coef.ravel(), grad_intercept])
        return grad_coef.ravel()

    def __call__(self, params):
        coef, intercept = self.unpack(params)
        if self.device == "cuda":
            from ..kernels import cuda as gpu_kernels

            loss, grad_coef, grad_intercept = gpu_kernels.gpu_loss_gradient(
                self.device_data, coef, intercept, self.l2_reg_strength, self.label_smoothing
            )
        else:
            loss, grad_coef, grad_intercept = kernels.loss_gradient(
                self.X, self.y, coef, intercept, self.sample_weight,
                self.l2_reg_strength, self.label_smoothing,
            )
        return loss, self.pack(grad_coef, grad_intercept)

    def batch(self, params, indices):
        """Loss and gradient on the rows ``indices`` (a minibatch)."""
        coef, intercept = self.unpack(params)
        sample_weight = self.sample_weight[indices]
        if not sample_weight.sum() > 0:
            # A batch of zero-weight rows carries no information.
            return 0.0, np.zeros_like(params)
        loss, grad_coef, grad_intercept = kernels.loss_gradient(
            self.X[indices], self.y[indices], coef, intercept, sample_weight,
            self.l2_reg_strength, self.label_smoothing,
        )
        return loss, self.pack(grad_coef, grad_intercept)


class SoftmaxClassifier(ClassifierMixin, BaseEstimator):
    """Softmax (multinomial logistic regression) classifier on Numba kernels.

    Minimises the weighted mean negative log-likelihood plus ``lambda/2 ||coef||^2``
    with ``lambda = 1 / (C sum_j s_j)``; the formulas are in ``softmax_nb.kernels``.

    Parameters
    ----------
    C : float, default=1.0
        Inverse regularization strength, as in scikit-learn; ``numpy.inf`` for none.
    fit_intercept : bool, default=True
    solver : {'lbfgs', 'gd', 'sgd', 'adam'}, default='lbfgs'
        'lbfgs' and 'gd' (gradient descent with line search) are full-batch and
        deterministic; 'sgd' (momentum / Nesterov) and 'adam' run minibatch epochs.
    max_iter : int, default=100
        Iterations (full-batch solvers) or epochs (minibatch solvers).
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
    random_state : int, RandomState or None
        Seeds the minibatch order and the early-stopping split.
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
    checkpoint_seconds : float, default=300.0

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    coef_ : ndarray of shape (n_classes, n_features), float64
        One row per class, also for two classes (the softmax parametrisation;
        scikit-learn's LogisticRegression stores a single row for binary problems).
    intercept_ : ndarray of shape (n_classes,), float64
    n_features_in_ : int
    n_iter_ : int
    history_ : dict of lists
        Per iteration: 'iteration', 'loss' (the objective J), 'grad_norm' (Euclidean
        norm of its gradient), 'train_accuracy', 'val_loss', 'val_accuracy' (NaN
        without validation data), 'time' (seconds since fit started).
    device_used_ : str
    fit_time_ : float
    """

    def __init__(
        self,
        C=1.0,
        fit_intercept=True,
        solver="lbfgs",
        max_iter=100,
        tol=1e-4,
        class_weight=None,
        label_smoothing=0.0,
        warm_start=False,
        batch_size=256,
        learning_rate=None,
        lr_schedule="constant",
        momentum=0.9,
        nesterov=True,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=5,
        random_state=None,
        dtype=None,
        n_threads=None,
        device="cpu",
        verbose=0,
        checkpoint_path=None,
        checkpoint_every=10,
        checkpoint_seconds=300.0,
    ):
        self.C = C
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

    def _check_params(self):
        def positive(name, value, allow_inf=False):
            if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
                raise TypeError(f"{name} must be a number, got {value!r}")
            if not value > 0 or (not allow_inf and not np.isfinite(value)):
                raise ValueError(f"{name} must be positive{'' if allow_inf else ' and finite'}, got {value!r}")

        positive("C", self.C, allow_inf=True)
        positive("tol", self.tol)
        if self.solver not in SOLVERS:
            raise ValueError(f"solver must be one of {SOLVERS}, got {self.solver!r}")
        for name in ("max_iter", "batch_size", "n_iter_no_change"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.learning_rate is not None:
            positive("learning_rate", self.learning_rate)
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}, got {self.lr_schedule!r}")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1), got {self.label_smoothing!r}")
        if not 0.0 <= self.momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {self.momentum!r}")
        if not 0.0 < self.validation_fraction < 1.0:
            raise ValueError(
                f"validation_fraction must be in (0, 1), got {self.validation_fraction!r}"
            )
        if self.dtype not in (None, "float32", "float64", np.float32, np.float64):
            raise ValueError(f"dtype must be None, 'float32' or 'float64', got {self.dtype!r}")
        if self.device not in DEVICES:
            raise ValueError(f"device must be one of {DEVICES}, got {self.device!r}")

    def _accepted_dtype(self):
        if self.dtype is None:
            return [np.float64, np.float32]
        return np.dtype(self.dtype).type

    def _validate_X(self, X, reset):
        return validate_data(
            self, X, reset=reset, dtype=self._accepted_dtype(), order="C"
        )

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
            self, X, y, dtype=self._accepted_dtype(), order="C", y_numeric=False
        )
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
        if self.class_weight is not None:
            class_weight = compute_class_weight(self.class_weight, classes=classes, y=y)
            sample_weight = sample_weight * class_weight[y_encoded]
        if not sample_weight.sum() > 0:
            raise ValueError("sample_weight (times class_weight) sums to zero: nothing to fit")

        warm = self.warm_start and hasattr(self, "coef_")
        if warm and (not np.array_equal(self.classes_, classes)
                     or self.coef_.shape[1] != X.shape[1]):
            raise ValueError(
                "warm_start needs the same classes and number of features as the "
                "previous fit"
            )

        seed = _seed(self.random_state)
        checkpoint_id = resume_state = None
        if self.checkpoint_path is not None:
            checkpoint_id = fingerprint(X, y_encoded, sample_weight, classes,
                                        self._optimisation_params())
            if resume and os.path.exists(self.checkpoint_path):
                resume_state = load_checkpoint(self.checkpoint_path, solver=self.solver,
                                               expected_fingerprint=checkpoint_id)
                seed = resume_state["seed"]
            elif seed is None:
                # Drawn once and saved in the checkpoint, so a resume replays it.
                seed = int(np.random.SeedSequence().entropy % 2**32)
        elif resume:
            raise ValueError("resume=True needs checkpoint_path")
        self.classes_ = classes

        X_val = y_val = None
        if self.early_stopping:
            X, X_val, y_encoded, y_val, sample_weight, _ = _split_validation(
                X, y_encoded, sample_weight, self.validation_fraction, seed
            )
        elif eval_set is not None:
            X_val, y_val_raw = eval_set
            X_val = self._validate_X(X_val, reset=False)
            y_val = self._encode(np.asarray(y_val_raw))

        if self.solver in ("sgd", "adam") and X.size:
            largest = float(np.max(np.abs(X)))
            if largest > 1e6:
                warnings.warn(
                    f"features reach {largest:.3g}: {self.solver} takes fixed-size steps and "
                    "will overshoot on unscaled data; standardize the features (softmax-nb "
                    "prepare does by default) or use solver='lbfgs'",
                    UserWarning,
                )
        device, self.device_used_ = resolve_device(self.device)
        n_classes, n_features = len(classes), X.shape[1]
        l2_reg_strength = 0.0 if np.isinf(self.C) else 1.0 / (self.C * sample_weight.sum())
        objective = _Objective(X, y_encoded, sample_weight, n_classes, self.fit_intercept,
                               l2_reg_strength, float(self.label_smoothing), device)
        if warm:
            x0 = objective.pack(self.coef_, self.intercept_)
        else:
            x0 = np.zeros(n_classes * n_features + (n_classes if self.fit_intercept else 0))

        start = time.perf_counter()
        with _num_threads(self.n_threads), \
                TerminationGuard(enabled=self.checkpoint_path is not None) as guard:
            optimizer = self._make_optimizer(objective, x0, X.shape[0], seed)
            monitor = _Monitor(self.tol, self.n_iter_no_change)
            self.history_ = {key: [] for key in HISTORY_KEYS}
            elapsed_before = 0.0
            if resume_state is not None:
                optimizer.load_state_dict(resume_state["optimizer"])
                monitor.load_state_dict(resume_state["monitor"])
                self.history_ = _history_from_checkpoint(resume_state["history"])
                elapsed_before = resume_state["elapsed"]
            minibatch = self.solver in ("sgd", "adam")
            converged = monitor.stopped if minibatch else optimizer.converged
            stopped_early = self.early_stopping and monitor.stopped
            last_checkpoint = time.perf_counter()
            while not (converged or stopped_early) and optimizer.iteration < self.max_iter:
                optimizer.step()
                elapsed = elapsed_before + time.perf_counter() - start
                val_loss, val_accuracy = self._validation_scores(objective, optimizer.x,
                                                                 X_val, y_val)
                # Training accuracy costs a logits pass, so it is recorded only when
                # validation data are monitored as well.
                train_accuracy = np.nan
                if X_val is not None:
                    train_accuracy = self._validation_scores(objective, optimizer.x, X,
                                                             y_encoded)[1]
                self._record(optimizer, train_accuracy, val_loss, val_accuracy, elapsed)
                if not np.isfinite(optimizer.loss):
                    raise FloatingPointError(
                        f"the loss became {optimizer.loss} at iteration {optimizer.iteration}; "
                        "lower learning_rate or standardize the features"
                    )
                if self.early_stopping:
                    stopped_early = monitor.update(val_loss, optimizer.x)
                elif minibatch:
                    converged = monitor.update(optimizer.loss, optimizer.x)
                else:
                    converged = optimizer.converged
                if self.checkpoint_path is not None and (
                    guard.requested
                    or optimizer.iteration % self.checkpoint_every == 0
                    or time.perf_counter() - last_checkpoint >= self.checkpoint_seconds
                ):
                    save_checkpoint(
                        self.checkpoint_path, solver=self.solver, fingerprint=checkpoint_id,
                        seed=seed, elapsed=elapsed, optimizer_state=optimizer.state_dict(),
                        monitor_state=monitor.state_dict(), history=self.history_,
                    )
                    last_checkpoint = time.perf_counter()
                    if guard.requested:
                        raise TrainingInterrupted(
                            f"training stopped by SIGTERM after iteration {optimizer.iteration}; "
                            f"checkpoint written to {self.checkpoint_path}; fit again with "
                            "resume=True (softmax-nb train --resume) to continue"
                        )
            params = optimizer.x
            if stopped_early and monitor.best_x is not None:
                params = monitor.best_x
        self.fit_time_ = elapsed_before + time.perf_counter() - start
        self.n_iter_ = optimizer.iteration
        if converged and not minibatch and np.isinf(self.C) and not optimizer.gradient_small:
            warnings.warn(
                f"{self.solver} stopped after {optimizer.iteration} iterations because the loss "
                f"no longer decreases, while max|gradient| = {np.max(np.abs(optimizer.grad)):.3g} "
                f"> tol: without regularization (C=inf) the optimum of linearly separable data "
                "lies at infinity; use a finite C",
                ConvergenceWarning,
            )
        if not converged and not stopped_early and optimizer.iteration >= self.max_iter:
            warnings.warn(
                f"{self.solver} did not converge in max_iter={self.max_iter} iterations; "
                "increase max_iter or scale the data",
                ConvergenceWarning,
            )
        coef, intercept = objective.unpack(params)
        if np.isinf(self.C) and np.array_equal(
            kernels.predict(X, coef, intercept), y_encoded
        ):
            warnings.warn(
                "the training data are linearly separable and C=inf: the maximum-likelihood "
                "coefficients are infinite, and the fit stopped at finite ones "
                f"(max |coef| = {np.max(np.abs(coef)):.3g}); use a finite C for a unique solution",
                ConvergenceWarning,
            )
        self.coef_ = np.array(coef, dtype=np.float64)
        self.intercept_ = (np.array(intercept, dtype=np.float64) if self.fit_intercept
                           else np.zeros(n_classes))
        return self

    @available_if(lambda self: self.solver in ("sgd", "adam"))
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """One pass of minibatch updates (solver 'sgd' or 'adam') over (X, y).

        The optimiser's state (momentum or Adam moments, update counter, RNG) is kept
        between calls; ``classes`` (every label) is required on the first call. A call
        after ``fit`` continues from the fitted parameters. See
        :func:`softmax_nb.streaming.partial_fit`.

        Returns
        -------
        self
        """
        from ..data.streaming import partial_fit

        return partial_fit(self, X, y, classes=classes, sample_weight=sample_weight)

    def _optimisation_params(self):
        """Hyperparameters that shape the optimisation path (a resume must share them)."""
        ignored = {"verbose", "n_threads", "max_iter", "device", "warm_start",
                   "checkpoint_path", "checkpoint_every", "checkpoint_seconds"}
        return {k: v for k, v in self.get_params().items() if k not in ignored}

    def _make_optimizer(self, objective, x0, n_samples, seed):
        lr = self.learning_rate
        if lr is None:
            lr = _DEFAULT_LEARNING_RATE[self.solver]
        if self.solver == "lbfgs":
            return LBFGS(objective, x0, gtol=self.tol)
        if self.solver == "gd":
            return GradientDescent(objective, x0, learning_rate=lr, gtol=self.tol)
        common = dict(batch_size=self.batch_size, learning_rate=lr,
                      lr_schedule=self.lr_schedule, max_epochs=self.max_iter,
                      random_state=seed)
        if self.solver == "sgd":
            return SGD(objective, objective.batch, x0, n_samples, momentum=self.momentum,
                       nesterov=self.nesterov, **common)
        return Adam(objective, objective.batch, x0, n_samples, **common)

    def _validation_scores(self, objective, params, X_val, y_val):
        if X_val is None or len(X_val) == 0:
            return np.nan, np.nan
        coef, intercept = objective.unpack(params)
        log_proba = kernels.predict_log_proba(X_val, coef, intercept)
        rows = np.arange(len(y_val))
        valid = y_val >= 0  # classes unseen in training cannot be predicted
        val_loss = -float(np.mean(log_proba[rows[valid], y_val[valid]], dtype=np.float64)) \
            if valid.any() else np.nan
        accuracy = float(np.mean(np.argmax(log_proba, axis=1) == y_val))
        return val_loss, accuracy

    def _record(self, optimizer, train_accuracy, val_loss, val_accuracy, elapsed):
        h = self.history_
        h["iteration"].append(optimizer.iteration)
        h["loss"].append(float(optimizer.loss))
        h["grad_norm"].append(float(np.linalg.norm(optimizer.grad)))
        h["train_accuracy"].append(train_accuracy)
        h["val_loss"].append(val_loss)
        h["val_accuracy"].append(val_accuracy)
        h["time"].append(elapsed)
        if self.verbose:
            print(
                f"[{self.solver}] iter {optimizer.iteration:4d}  loss {optimizer.loss:.10g}  "
                f"|grad| {h['grad_norm'][-1]:.3e}  val_loss {val_loss:.6g}  "
                f"val_acc {val_accuracy:.4f}  {elapsed:.2f}s",
                flush=True,
            )

    def _encode(self, y):
        """Class labels -> indices into classes_; unknown labels become -1."""
        index = np.searchsorted(self.classes_, y)
        index = np.clip(index, 0, len(self.classes_) - 1)
        return np.where(self.classes_[index] == y, index, -1).astype(np.int64)

    # -- predict ------------------------------------------------------------

    def _predict_inputs(self, X):
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        return X

    def decision_function(self, X):
        """Logits a_k(x), shape (n_samples, n_classes), in X's dtype.

        For two classes, scikit-learn's convention: the log-odds ``a_1 - a_0`` of
        shape (n_samples,), positive where ``classes_[1]`` is predicted.
        """
        X = self._predict_inputs(X)
        with _num_threads(self.n_threads):
            logits = kernels.decision_function(X, self.coef_, self.intercept_)
        if len(self.classes_) == 2:
            return logits[:, 1] - logits[:, 0]
        return logits

    def predict_proba(self, X):
        """Class probabilities, shape (n_samples, n_classes), in X's dtype."""
        X = self._predict_inputs(X)
        with _num_threads(self.n_threads):
            return kernels.predict_proba(X, self.coef_, self.intercept_)

    def predict_log_proba(self, X):
        """Log class probabilities, shape (n_samples, n_classes), in X's dtype."""
        X = self._predict_inputs(X)
        with _num_threads(self.n_threads):
            return kernels.predict_log_proba(X, self.coef_, self.intercept_)

    def predict(self, X):
        """Most probable class label per row."""
        X = self._predict_inputs(X)
        with _num_threads(self.n_threads):
            return self.classes_[kernels.predict(X, self.coef_, self.intercept_)]

    def objective(self, X, y, sample_weight=None):
        """The objective J (data term + L2 penalty) at the fitted parameters."""
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        y_encoded = self._encode(np.asarray(y))
        if (y_encoded < 0).any():
            raise ValueError("y holds labels that are not in classes_")
        sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64,
                                             ensure_non_negative=True)
        if self.class_weight is not None:
            class_weight = compute_class_weight(self.class_weight, classes=self.classes_,
                                                y=np.asarray(y))
            sample_weight = sample_weight * class_weight[y_encoded]
        l2 = 0.0 if np.isinf(self.C) else 1.0 / (self.C * sample_weight.sum())
        with _num_threads(self.n_threads):
            loss, _, _ = kernels.loss_gradient(
                X, y_encoded, self.coef_, self.intercept_ if self.fit_intercept else None,
                sample_weight, l2, self.label_smoothing,
            )
        return loss

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags


class _Monitor:
    """Stop after n_iter_no_change values that do not beat the best by tol."""

    def __init__(self, tol, n_iter_no_change):
        self.tol = tol
        self.patience = n_iter_no_change
        self.best_value = np.inf
        self.best_x = None
        self.bad_rounds = 0
        self.stopped = False

    def update(self, value, x):
        if not np.isfinite(value):
            value = np.inf
        if value < self.best_value - self.tol:
            self.bad_rounds = 0
        else:
            self.bad_rounds += 1
        if value < self.best_value:
            self.best_value = value
            self.best_x = x.copy()
        self.stopped = self.bad_rounds >= self.patience
        return self.stopped

    def state_dict(self):
        return {"best_value": np.float64(self.best_value), "best_x": self.best_x,
                "bad_rounds": np.int64(self.bad_rounds), "stopped": np.bool_(self.stopped)}

    def load_state_dict(self, state):
        self.best_value = float(state["best_value"])
        self.best_x = None if state.get("best_x") is None else np.array(state["best_x"])
        self.bad_rounds = int(state["bad_rounds"])
        self.stopped = bool(state["stopped"])


def _history_from_checkpoint(columns):
    history = {key: list(columns.get(key, [])) for key in HISTORY_KEYS}
    history["iteration"] = [int(i) for i in history["iteration"]]
    return history


def _seed(random_state):
    """An int seed for numpy's Generator from sklearn-style random_state."""
    if random_state is None or isinstance(random_state, (int, np.integer)):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(np.iinfo(np.int32).max))
    return random_state


def _split_validation(X, y, sample_weight, fraction, seed):
    """Stratified hold-out split; falls back to a plain split when a class is too
    small to stratify."""
    try:
        parts = train_test_split(X, y, sample_weight, test_size=fraction,
                                 random_state=seed, stratify=y)
    except ValueError:
        parts = train_test_split(X, y, sample_weight, test_size=fraction, random_state=seed)
    X_train, X_val, y_train, y_val, sw_train, sw_val = parts
    return (np.ascontiguousarray(X_train), np.ascontiguousarray(X_val), y_train, y_val,
            sw_train, sw_val)
