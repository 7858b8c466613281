"""The one training loop: any optimiser over any backend's objective.

:func:`train` steps an optimiser (:mod:`softmax_nb.model.optim`) until its stopping
rule holds or ``max_iter`` is reached, and around every step

- records the history (:data:`HISTORY_KEYS`; train accuracy only when validation
  rows are monitored, since it costs a pass over the data);
- applies the stopping rules: full-batch solvers stop on their own rule
  (max|grad| <= tol, or no decrease), minibatch solvers when the training loss has
  not improved by tol for ``n_iter_no_change`` epochs, and with early stopping
  when the validation loss has not (keeping the best parameters);
- fails on a non-finite loss with advice;
- writes checkpoints (every ``checkpoint_every`` iterations, every
  ``checkpoint_seconds`` seconds, and on SIGTERM, after which it raises
  :class:`TrainingInterrupted`), from which a new call resumes bitwise identically.

:func:`convergence_warnings` then says what a user must know about the result.
``SoftmaxClassifier.fit``, ``fit_streaming`` and ``partial_fit`` all train here.
"""

import hashlib
import json
import logging
import signal
import sys
import threading
import time
import warnings
from dataclasses import dataclass

import numpy as np

from ..files import checkpoint as checkpoint_file
from .hyperparameters import MINIBATCH_SOLVERS

log = logging.getLogger(__name__)

#: Seconds between progress lines of a running fit (to the log: the CLI and job logs
#: show them; Python users see them with logging at INFO). On a terminal, more often.
PROGRESS_SECONDS = 30.0
PROGRESS_SECONDS_TERMINAL = 5.0

HISTORY_KEYS = ("iteration", "loss", "grad_norm", "train_accuracy", "val_loss", "val_accuracy",
                "time")


class TrainingInterrupted(RuntimeError):
    """Raised after a termination signal, once the checkpoint has been written."""


class TerminationGuard:
    """While active, SIGTERM (what a cluster scheduler sends at its time limit) sets
    ``requested`` instead of killing the process, so the training loop can write a
    checkpoint at the end of the current iteration and stop cleanly. Outside the main
    thread signals cannot be caught, and the guard does nothing."""

    def __init__(self, enabled=True):
        self.enabled = enabled and threading.current_thread() is threading.main_thread()
        self.requested = False
        self._previous = None

    def _handler(self, signum, frame):
        self.requested = True

    def __enter__(self):
        if self.enabled:
            self._previous = signal.signal(signal.SIGTERM, self._handler)
        return self

    def __exit__(self, *exc):
        if self.enabled:
            signal.signal(signal.SIGTERM, self._previous)
        return False


class Monitor:
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


def fingerprint(data_digest, classes, params):
    """The identity a resumed fit must share: its rows, its classes, its hyperparameters."""
    digest = hashlib.sha256(data_digest.encode())
    digest.update(repr([str(c) for c in classes]).encode())
    digest.update(json.dumps(params, sort_keys=True, default=str).encode())
    return digest.hexdigest()


@dataclass
class Checkpointing:
    """Where and how often the loop writes its state, and the identity it checks on resume."""

    path: str
    fingerprint: str
    every: int = 10
    seconds: float = 300.0
    #: Whether this process writes the file (over MPI: rank 0 only).
    writer: bool = True
    #: Over MPI: ``agree((write, stop)) -> (write, stop)`` makes every rank take the
    #: same decision (any rank's clock or SIGTERM counts for all).
    agree: object = None

    def load(self, solver):
        """The saved state for this fit (raises ValueError for a foreign or damaged file)."""
        return checkpoint_file.load_checkpoint(self.path, solver=solver,
                                               expected_fingerprint=self.fingerprint)


@dataclass
class Settings:
    """The hyperparameters the loop itself reads."""

    solver: str
    max_iter: int
    tol: float
    n_iter_no_change: int = 5
    early_stopping: bool = False
    minibatch: bool = False
    verbose: int = 0

    @classmethod
    def from_hyperparameters(cls, params, *, max_iter=None, stopping=True):
        """The loop's settings for an estimator's hyperparameters ``params``.

        ``stopping=False`` (``partial_fit``): no early stopping.
        """
        return cls(solver=params.solver, max_iter=params.max_iter if max_iter is None else max_iter,
                   tol=params.tol, n_iter_no_change=params.n_iter_no_change,
                   early_stopping=bool(params.early_stopping and stopping),
                   minibatch=params.solver in MINIBATCH_SOLVERS, verbose=params.verbose)


@dataclass
class Result:
    params: np.ndarray
    n_iter: int
    converged: bool
    stopped_early: bool
    history: dict
    fit_time: float


def new_history():
    return {key: [] for key in HISTORY_KEYS}


def train(optimizer, settings, *, validation=None, training_scores=None, seed=None,
          checkpointing=None, resume_state=None, history=None, monitor=None, elapsed_before=0.0):
    """Step ``optimizer`` until a stopping rule holds or ``settings.max_iter`` is reached.

    Parameters
    ----------
    optimizer : an optimiser of :mod:`softmax_nb.model.optim`
    settings : Settings
    validation : callable, optional
        ``validation(params) -> (val_loss, val_accuracy)`` on monitored rows.
    training_scores : callable, optional
        ``training_scores(params) -> (loss, accuracy)`` on the training rows; used
        for the history's train_accuracy when ``validation`` is given.
    seed : int or None
        Recorded in checkpoints, so that a resume replays the same shuffles.
    checkpointing : Checkpointing, optional
    resume_state : dict, optional
        A loaded checkpoint to continue from.
    history, monitor, elapsed_before
        Continue an earlier call's history, monitor and clock (``partial_fit``).

    Returns
    -------
    Result
    """
    monitor = monitor or Monitor(settings.tol, settings.n_iter_no_change)
    history = history if history is not None else new_history()
    if resume_state is not None:
        optimizer.load_state_dict(resume_state["optimizer"])
        monitor.load_state_dict(resume_state["monitor"])
        history = _history_from_checkpoint(resume_state["history"])
        elapsed_before = resume_state["elapsed"]
    converged = monitor.stopped if settings.minibatch else optimizer.converged
    stopped_early = settings.early_stopping and monitor.stopped
    start = last_checkpoint = last_progress = time.perf_counter()
    terminal = hasattr(sys.stderr, "isatty") and sys.stderr.isatty()
    progress_every = PROGRESS_SECONDS_TERMINAL if terminal else PROGRESS_SECONDS
    with TerminationGuard(enabled=checkpointing is not None) as guard:
        while not (converged or stopped_early) and optimizer.iteration < settings.max_iter:
            optimizer.step()
            elapsed = elapsed_before + time.perf_counter() - start
            val_loss = val_accuracy = train_accuracy = np.nan
            if validation is not None:
                val_loss, val_accuracy = validation(optimizer.x)
                if training_scores is not None:
                    train_accuracy = training_scores(optimizer.x)[1]
            _record(history, optimizer, train_accuracy, val_loss, val_accuracy, elapsed, settings)
            if time.perf_counter() - last_progress >= progress_every:
                last_progress = time.perf_counter()
                log.info("%s iteration %d of at most %d: loss %.8g, |grad| %.3g%s, %.1f s",
                         settings.solver, optimizer.iteration, settings.max_iter, optimizer.loss,
                         history["grad_norm"][-1],
                         "" if np.isnan(val_loss) else f", val_loss {val_loss:.6g}, val_accuracy {val_accuracy:.4f}",
                         elapsed)
            if not np.isfinite(optimizer.loss):
                raise FloatingPointError(
                    f"the loss became {optimizer.loss} at iteration {optimizer.iteration}; "
                    "lower learning_rate or standardize the features")
            if settings.early_stopping:
                stopped_early = monitor.update(val_loss, optimizer.x)
            elif settings.minibatch:
                converged = monitor.update(optimizer.loss, optimizer.x)
            else:
                converged = optimizer.converged
            if checkpointing is None:
                continue
            write = (guard.requested or optimizer.iteration % checkpointing.every == 0
                     or time.perf_counter() - last_checkpoint >= checkpointing.seconds)
            stop = guard.requested
            if checkpointing.agree is not None:
                write, stop = checkpointing.agree((write, stop))
            if write:
                if checkpointing.writer:
                    checkpoint_file.save_checkpoint(
                        checkpointing.path, solver=settings.solver, fingerprint=checkpointing.fingerprint,
                        seed=seed, elapsed=elapsed, optimizer_state=optimizer.state_dict(),
                        monitor_state=monitor.state_dict(), history=history)
                last_checkpoint = time.perf_counter()
                if stop:
                    raise TrainingInterrupted(
                        f"training stopped by SIGTERM after iteration {optimizer.iteration}; "
                        f"checkpoint written to {checkpointing.path}; fit again with "
                        "resume=True (softmax-nb train --resume) to continue")
    params = optimizer.x
    if stopped_early and monitor.best_x is not None:
        params = monitor.best_x
    return Result(params=params, n_iter=optimizer.iteration, converged=bool(converged),
                  stopped_early=bool(stopped_early), history=history,
                  fit_time=elapsed_before + time.perf_counter() - start)


def convergence_warnings(result, optimizer, settings, *, penalized, coef, separable=None):
    """ConvergenceWarnings about a finished fit.

    ``separable()`` (called only without a penalty, C = inf) tells whether the final parameters
    classify every training row correctly: then the maximum-likelihood
    coefficients are infinite and the fit stopped at finite ones.
    """
    from sklearn.exceptions import ConvergenceWarning  # scikit-learn loads in ~1 s: only here

    # A stop because the loss no longer decreases in float64 (max|grad| still above tol) is
    # no warning of its own, as in scikit-learn: it is as close as float64 gets, unless the
    # data are separable without a penalty (the last warning).
    if not result.converged and not result.stopped_early and result.n_iter >= settings.max_iter:
        # scikit-learn's wording ("... failed to converge after N iteration(s)")
        warnings.warn(
            f"{settings.solver} failed to converge after {result.n_iter} iteration(s) "
            f"(max_iter={settings.max_iter}); increase max_iter or scale the data", ConvergenceWarning)
    if not penalized and separable is not None and separable():
        warnings.warn(
            "the training data are linearly separable and C=inf: the maximum-likelihood "
            "coefficients are infinite, and the fit stopped at finite ones "
            f"(max |coef| = {np.max(np.abs(coef)):.3g}); use a finite C for a unique solution",
            ConvergenceWarning)


def scale_warning(solver, largest):
    """Warn when features are too large for a fixed-step (minibatch) solver."""
    if largest > 1e6:
        warnings.warn(
            f"features reach {largest:.3g}: {solver} takes fixed-size steps and "
            "will overshoot on unscaled data; standardize the features (softmax-nb "
            "prepare does by default) or use solver='lbfgs'", UserWarning)


def _record(history, optimizer, train_accuracy, val_loss, val_accuracy, elapsed, settings):
    history["iteration"].append(optimizer.iteration)
    history["loss"].append(float(optimizer.loss))
    history["grad_norm"].append(float(np.linalg.norm(optimizer.grad)))
    history["train_accuracy"].append(train_accuracy)
    history["val_loss"].append(val_loss)
    history["val_accuracy"].append(val_accuracy)
    history["time"].append(elapsed)
    if settings.verbose:
        print(f"[{settings.solver}] iter {optimizer.iteration:4d}  loss {optimizer.loss:.10g}  "
              f"|grad| {history['grad_norm'][-1]:.3e}  val_loss {val_loss:.6g}  "
              f"val_acc {val_accuracy:.4f}  {elapsed:.2f}s", flush=True)


def _history_from_checkpoint(columns):
    history = {key: list(columns.get(key, [])) for key in HISTORY_KEYS}
    history["iteration"] = [int(i) for i in history["iteration"]]
    return history
