"""Atomic writes: every file of softmax_nb appears whole or not at all.

:func:`atomic_write` writes to a temporary file in the target's folder, flushes it
to disk (``fsync``), then renames it over the target, so an interrupted job leaves
either the old file or the new one, never half a file.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import shutil
import socket
from pathlib import Path

__all__ = ["atomic_write", "fsync_file", "fsync_folder", "check_free_space"]

#: Room left free beyond a file's expected size (metadata, allocation granularity).
FREE_SPACE_MARGIN = 1 << 20


def check_free_space(folder, target, expected_bytes):
    """Raise OSError(ENOSPC) naming the target when its file system lacks the room for
    ``expected_bytes`` plus a margin.

    HDF5 does not survive a full disk (writes fail in its buffers, then the process
    crashes), so writers of HDF5 files check before they start.
    """
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return
    need = int(expected_bytes) + FREE_SPACE_MARGIN
    if free < need:
        raise OSError(errno.ENOSPC, f"not enough free space to write {str(target)!r}: about "
                                    f"{need / 2**20:.1f} MiB needed, {free / 2**20:.1f} MiB free in "
                                    f"{str(folder)!r}")


@contextlib.contextmanager
def atomic_write(path, mode=None, *, encoding="utf-8", newline=None, expected_bytes=None):
    """Write a file atomically: a temporary file in the same folder, then a rename.

    Parameters
    ----------
    path : str or os.PathLike
        Final location of the file.  Its folder must exist.  A symbolic link is
        written through: the file it points to is replaced, the link kept.
    mode : {None, "w", "wb"}, optional
        ``None`` yields the temporary *path* (for writers that open files
        themselves, such as h5py); ``"w"`` or ``"wb"`` yields an open file object.
    encoding, newline : str, optional
        Passed to :func:`open` in text mode.
    expected_bytes : int, optional
        About how large the file will be: when given, the file system must have that
        much room (plus :data:`FREE_SPACE_MARGIN`) before anything is written
        (:func:`check_free_space`).

    Yields
    ------
    pathlib.Path or file object
        Where to write.

    Notes
    -----
    On normal exit the temporary file is flushed with ``fsync`` and renamed over
    ``path`` with :func:`os.replace` (atomic on POSIX within one file system), then
    the folder is synced so the rename itself survives a crash.  If the body raises,
    the temporary file is removed and an existing ``path`` is left untouched.
    """
    if mode not in (None, "w", "wb"):
        raise ValueError(f"atomic_write mode must be None, 'w' or 'wb', got {mode!r}")
    target = Path(path)
    if target.is_symlink():
        # Write through a symbolic link, as a shell's '>' does: the file it points to is
        # replaced (its folder holds the temporary file), and the link stays a link.
        target = Path(os.path.realpath(target))
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise FileNotFoundError(f"cannot write {str(target)!r}: folder {str(folder)!r} does not exist")
    if expected_bytes is not None:
        check_free_space(folder, target, expected_bytes)
    # A hidden, unique name in the same folder: the rename stays on one file system,
    # and concurrent writers of the same target never share a temporary file. The host
    # and PID in it let a later write remove what a killed writer left (SIGKILL runs no
    # cleanup). The suffix is at most ~40 characters: shorten the name part so that the
    # temporary name fits the file system's limit wherever the target's own name does.
    suffix = f".tmp-{_HOST}-{os.getpid()}-{secrets.token_hex(4)}"
    try:
        name_max = os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError):
        name_max = 255
    stem = target.name.encode()[: max(1, name_max - len(suffix) - 1)].decode(errors="ignore")
    tmp = folder / f".{stem}{suffix}"
    remove_stale_temporaries(folder, stem)
    # O_EXCL: never clobber someone else's file; 0o666 lets the umask decide the
    # permissions, as for a plainly created file (mkstemp would force 0o600).
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except PermissionError as exc:
        # Name the file the caller asked for, not the temporary one it never heard of.
        raise PermissionError(exc.errno, f"{exc.strerror} to create a file in folder {str(folder)!r}",
                              str(target)) from None
    try:
        if mode is None:
            os.close(fd)
            fd = None
            yield tmp
        else:
            kwargs = {"encoding": encoding, "newline": newline} if mode == "w" else {}
            with os.fdopen(fd, mode, **kwargs) as handle:
                fd = None
                yield handle
        fsync_file(tmp)
        os.replace(tmp, target)
    except BaseException:
        if fd is not None:
            os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_folder(folder)


#: This machine in temporary names (letters, digits and dashes; at most 16 characters).
_HOST = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname() or "host")[:16] or "host"


def remove_stale_temporaries(folder, stem):
    """Delete the temporary files of ``stem`` that writers on this machine left when they
    were killed: their PID is no longer running. Others' (other hosts sharing the folder,
    or live writers) are left alone."""
    pattern = re.compile(rf"^\.{re.escape(stem)}\.tmp-{re.escape(_HOST)}-(\d+)-[0-9a-f]{{8}}$")
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        match = pattern.match(name)
        if not match or _running(int(match[1])):
            continue
        with contextlib.suppress(OSError):
            os.unlink(os.path.join(folder, name))


def _running(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


def fsync_file(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_folder(folder):
    # Not every platform/file system lets a folder be opened or synced; the data
    # itself is already on disk, so this is best effort.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)

