"""Training checkpoints: everything needed to continue a fit bitwise identically.

A checkpoint is an HDF5 file (written atomically, so a kill during the write leaves
the previous checkpoint intact):

- root attributes: ``format = 'softmax_nb-checkpoint'``, ``format_version``,
  ``solver``, ``fingerprint`` (hash of the data and of the hyperparameters that shape
  the optimisation, :func:`softmax_nb.model.training.fingerprint`), ``seed`` (the minibatch / split seed actually used),
  ``elapsed`` (training seconds so far), ``sha256`` (a checksum of the attributes and
  every array: a flipped bit is refused, not resumed);
- ``/optimizer``: one dataset per entry of the optimiser's ``state_dict()``;
- ``/monitor``: the early-stopping / no-improvement monitor (best value, best
  parameters, rounds without improvement);
- ``/history``: one dataset per history column.
"""

import hashlib
import os

import h5py
import numpy as np

from .atomic import atomic_write
from .common import H5_LIBVER

CHECKPOINT_FORMAT = "softmax_nb-checkpoint"
# 2: the fingerprint hashes the rows through the backend (in memory or streamed);
#    the root attribute "sha256" checksums every attribute and array.
CHECKPOINT_FORMAT_VERSION = 2
_ATTRS = ("solver", "fingerprint", "seed", "elapsed")


def _checksum(attrs, groups):
    """SHA-256 of the attributes and of every array (name, dtype, shape, bytes), in name order."""
    digest = hashlib.sha256()
    for key in _ATTRS:
        digest.update(f"{key}={attrs[key]!r};".encode())
    for group_name in sorted(groups):
        for key in sorted(groups[group_name]):
            value = np.asarray(groups[group_name][key])
            digest.update(f"{group_name}/{key}:{value.dtype.str}:{value.shape};".encode())
            digest.update(np.ascontiguousarray(value).tobytes() if value.dtype.kind != "O" else repr(value).encode())
    return digest.hexdigest()


def save_checkpoint(path, *, solver, fingerprint, seed, elapsed, optimizer_state,
                    monitor_state, history):
    """Write a checkpoint atomically (see the module docstring for the layout)."""
    attrs = {"solver": str(solver), "fingerprint": str(fingerprint),
             "seed": -1 if seed is None else int(seed), "elapsed": float(elapsed)}
    groups = {
        "optimizer": {k: v for k, v in optimizer_state.items() if v is not None},
        "monitor": {k: v for k, v in monitor_state.items() if v is not None},
        "history": {k: np.asarray(v, dtype=np.float64) for k, v in history.items()},
    }
    expected = sum(np.asarray(v).nbytes for group in groups.values() for v in group.values())
    with atomic_write(path, expected_bytes=expected) as tmp:
        with h5py.File(tmp, "w", libver=H5_LIBVER) as handle:
            handle.attrs["format"] = CHECKPOINT_FORMAT
            handle.attrs["format_version"] = CHECKPOINT_FORMAT_VERSION
            for key, value in attrs.items():
                handle.attrs[key] = value
            for group_name, state in groups.items():
                group = handle.create_group(group_name)
                for key, value in state.items():
                    group.create_dataset(key, data=value)
            handle.attrs["sha256"] = _checksum(attrs, groups)


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
    try:
        with handle:
            if handle.attrs.get("format") != CHECKPOINT_FORMAT:
                raise ValueError(f"{os.fspath(path)!r} is not a softmax_nb checkpoint")
            version = int(handle.attrs.get("format_version", -1))
            if version != CHECKPOINT_FORMAT_VERSION:
                raise ValueError(f"checkpoint {os.fspath(path)!r} has format version {version}; "
                                 f"this library reads version {CHECKPOINT_FORMAT_VERSION}: it was written "
                                 "by another softmax_nb version; delete it to train from the start")
            if handle.attrs.get("solver") != solver:
                raise ValueError(f"checkpoint {os.fspath(path)!r} was written by solver "
                                 f"{handle.attrs.get('solver')!r}, not {solver!r}")
            if handle.attrs.get("fingerprint") != expected_fingerprint:
                raise ValueError(
                    f"checkpoint {os.fspath(path)!r} was written for other training data or "
                    "other hyperparameters; delete it to start afresh"
                )
            damaged = f"checkpoint {os.fspath(path)!r} is damaged"
            try:
                attrs = {key: handle.attrs[key] for key in _ATTRS}
                attrs = {"solver": str(attrs["solver"]), "fingerprint": str(attrs["fingerprint"]),
                         "seed": int(attrs["seed"]), "elapsed": float(attrs["elapsed"])}
                groups = {name: {k: v[()] for k, v in handle[name].items()}
                          for name in ("optimizer", "monitor", "history")}
                stored = str(handle.attrs["sha256"])
            except (KeyError, OSError, ValueError, TypeError) as exc:
                raise ValueError(f"{damaged} (missing or unreadable: {exc}); delete it to train from the start") from None
            if _checksum(attrs, groups) != stored:
                raise ValueError(f"{damaged}: its checksum does not match its contents; delete it to train "
                                 "from the start")
            optimizer_state, monitor_state = groups["optimizer"], groups["monitor"]
            history = {k: [float(x) for x in v] for k, v in groups["history"].items()}
            seed = attrs["seed"]
            return {
                "optimizer": optimizer_state,
                "monitor": monitor_state,
                "history": history,
                "seed": None if seed < 0 else seed,
                "elapsed": attrs["elapsed"],
            }
    except (RuntimeError, KeyError, OSError) as exc:
        # HDF5 found damage (a metadata checksum, an unreadable object)
        raise ValueError(f"checkpoint {os.fspath(path)!r} is damaged ({' '.join(str(exc).split())}); "
                         "delete it to train from the start") from None