"""Training checkpoints: everything needed to continue a fit bitwise identically.

A checkpoint is an HDF5 file (written atomically, so a kill during the write leaves
the previous checkpoint intact):

- root attributes: ``format = 'softmax_nb-checkpoint'``, ``format_version``,
  ``solver``, ``fingerprint`` (hash of the data and of the hyperparameters that shape
  the optimisation, :func:`softmax_nb.model.training.fingerprint`), ``seed`` (the minibatch / split seed actually used),
  ``elapsed`` (training seconds so far);
- ``/optimizer``: one dataset per entry of the optimiser's ``state_dict()``;
- ``/monitor``: the early-stopping / no-improvement monitor (best value, best
  parameters, rounds without improvement);
- ``/history``: one dataset per history column.
"""

import os

import h5py
import numpy as np

from .atomic import atomic_write

CHECKPOINT_FORMAT = "softmax_nb-checkpoint"
# 2: the fingerprint hashes the rows through the backend (in memory or streamed).
CHECKPOINT_FORMAT_VERSION = 2


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
                             f"this library reads version {CHECKPOINT_FORMAT_VERSION}: it was written "
                             "by another softmax_nb version; delete it to train from the start")
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
