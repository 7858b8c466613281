"""Training checkpoints: everything needed to continue a fit bitwise identically.

A checkpoint is an HDF5 file (written atomically, so a kill during the write leaves
the previous checkpoint intact):

- root attributes: ``format = 'softmax_nb-checkpoint'``, ``format_version``,
  ``solver``, ``fingerprint`` (hash of the data and of the hyperparameters that shape
  the optimisation), ``seed`` (the minibatch / split seed actually used),
  ``elapsed`` (training seconds so far);
- ``/optimizer``: one dataset per entry of the optimiser's ``state_dict()``;
- ``/monitor``: the early-stopping / no-improvement monitor (best value, best
  parameters, rounds without improvement);
- ``/history``: one dataset per history column.
"""

import hashlib
import json
import os
import signal
import threading

import h5py
import numpy as np

from .io import atomic_write

CHECKPOINT_FORMAT = "softmax_nb-checkpoint"
CHECKPOINT_FORMAT_VERSION = 1


class TrainingInterrupted(RuntimeError):
    """Raised after a termination signal, once the checkpoint has been written."""


def fingerprint(X, y, sample_weight, classes, params):
    """A hash of the training data and the hyperparameters a resume must share.

    The whole of y and sample_weight enter it, and of X its shape, dtype and up to
    1024 evenly spaced rows (hashing every row of a large X would cost a full pass).
    """
    digest = hashlib.sha256()
    digest.update(repr((X.shape, str(X.dtype))).encode())
    rows = np.unique(np.linspace(0, X.shape[0] - 1, num=min(X.shape[0], 1024)).astype(np.int64))
    digest.update(np.ascontiguousarray(X[rows]).tobytes())
    digest.update(np.ascontiguousarray(y).tobytes())
    digest.update(np.ascontiguousarray(sample_weight).tobytes())
    digest.update(repr([str(c) for c in classes]).encode())
    digest.update(json.dumps(params, sort_keys=True, default=str).encode())
    return digest.hexdigest()


def save_checkpoint(path, *, solver, fingerprint, seed, elapsed, optimizer_state,
                    monitor_state, history):
    """Write a checkpoint atomically (see the module docstring for the layout)."""
    with atomic_write(path) as tmp:
        with h5py.File(tmp, "w") as handle:
            handle.attrs["format"] = CHECKPOINT_FORMAT
            handle.attrs["format_version"] = CHECKPOINT_FORMAT_VERSION
            handle.attrs["solver"] = solver
            handle.attrs["fingerprint"] = fingerprint
            handle.attrs["seed"] = -1 if seed is None else int(seed)
            handle.attrs["elapsed"] = float(elapsed)
            for group_name, state in (("optimizer", optimizer_state),
                                      ("monitor", monitor_state)):
                group = handle.create_group(group_name)
                for key, value in state.items():
                    if value is None:
                        continue
                    group.create_dataset(key, data=value)
            group = handle.create_group("history")
            for key, values in history.items():
                group.create_dataset(key, data=np.asarray(values, dtype=np.float64))


def load_checkpoint(path, *, solver, expected_fingerprint):
    """Read a checkpoint written by ``save_checkpoint`` and check it fits this fit.

    Raises
    ------
    ValueError
        When the file is not a softmax_nb checkpoint, is damaged, or was written for
        other data, another solver or other hyperparameters.
    """
    try:
        handle = h5py.File(path, "r")
    except OSError as exc:
        raise ValueError(f"checkpoint {os.fspath(path)!r} cannot be read as HDF5 "
                         f"(truncated or corrupted?): {exc}") from None
    with handle:
        if handle.attrs.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"{os.fspath(path)!r} is not a softmax_nb checkpoint")
        version = int(handle.attrs.get("format_version", -1))
        if version != CHECKPOINT_FORMAT_VERSION:
            raise ValueError(f"checkpoint {os.fspath(path)!r} has format version {version}; "
                             f"this library reads version {CHECKPOINT_FORMAT_VERSION}")
        if handle.attrs["solver"] != solver:
            raise ValueError(f"checkpoint {os.fspath(path)!r} was written by solver "
                             f"{handle.attrs['solver']!r}, not {solver!r}")
        if handle.attrs["fingerprint"] != expected_fingerprint:
            raise ValueError(
                f"checkpoint {os.fspath(path)!r} was written for other training data or "
                "other hyperparameters; delete it to start afresh"
            )
        try:
            optimizer_state = {k: v[()] for k, v in handle["optimizer"].items()}
            monitor_state = {k: v[()] for k, v in handle["monitor"].items()}
            history = {k: [float(x) for x in v[()]] for k, v in handle["history"].items()}
        except (KeyError, OSError) as exc:
            raise ValueError(f"checkpoint {os.fspath(path)!r} is damaged: {exc}") from None
        seed = int(handle.attrs["seed"])
        return {
            "optimizer": optimizer_state,
            "monitor": monitor_state,
            "history": history,
            "seed": None if seed < 0 else seed,
            "elapsed": float(handle.attrs["elapsed"]),
        }


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
