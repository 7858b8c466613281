"""softmax_nb.files.atomic: atomic writes leave the old file or the new one, never half a file."""

import os
import stat

import h5py
import numpy as np
import pytest

from h5_samples import leftovers
from softmax_nb.files import atomic as sio


def test_atomic_write_replaces_target_and_leaves_no_temp(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with sio.atomic_write(target, "w") as handle:
        handle.write("new")
        # Until the block ends, the old content is still in place.
        assert target.read_text() == "old"
    assert target.read_text() == "new"
    assert leftovers(tmp_path) == []


def test_atomic_write_failure_keeps_old_file_and_removes_temp(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="boom"):
        with sio.atomic_write(target, "wb") as handle:
            handle.write(b"half of the new")
            raise RuntimeError("boom")
    assert target.read_bytes() == b"old"
    assert leftovers(tmp_path) == []


def test_atomic_write_failure_without_old_file_leaves_nothing(tmp_path):
    target = tmp_path / "model.h5"
    with pytest.raises(ValueError):
        with sio.atomic_write(target) as tmp:
            with h5py.File(tmp, "w") as handle:
                handle["x"] = 1
            raise ValueError("interrupted")
    assert os.listdir(tmp_path) == []


def test_atomic_write_path_mode_and_permissions(tmp_path):
    target = tmp_path / "data.h5"
    with sio.atomic_write(target) as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(".data.h5.tmp-")
        with h5py.File(tmp, "w") as handle:
            handle["x"] = np.arange(3)
    with h5py.File(target, "r") as handle:
        assert handle["x"][()].tolist() == [0, 1, 2]
    # Permissions follow the umask like any new file, not mkstemp's 0600.
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o666 & ~umask


def test_atomic_write_through_a_symbolic_link_replaces_the_file_it_points_to(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "out.txt").write_text("old")
    (tmp_path / "link.txt").symlink_to(tmp_path / "real" / "out.txt")
    (tmp_path / "dangling.txt").symlink_to(tmp_path / "real" / "new.txt")
    for name in ("link.txt", "dangling.txt"):
        with sio.atomic_write(tmp_path / name, "w") as handle:
            handle.write("new")
        assert (tmp_path / name).is_symlink() and (tmp_path / name).read_text() == "new"
    assert sorted(os.listdir(tmp_path / "real")) == ["new.txt", "out.txt"]
    assert leftovers(tmp_path) == [] and leftovers(tmp_path / "real") == []


def test_atomic_write_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        with sio.atomic_write(tmp_path / "nope" / "x.txt", "w"):
            pass


KILLED_WRITER = """
import sys, time
from softmax_nb.files.atomic import atomic_write
with atomic_write(sys.argv[1], "w") as handle:
    handle.write("half")
    handle.flush()
    print("writing", flush=True)
    time.sleep(60)
"""


def test_the_temporary_file_of_a_killed_writer_is_removed_by_the_next_write(tmp_path):
    import signal
    import subprocess
    import sys

    target = tmp_path / "out.txt"
    target.write_text("old")
    writer = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(target)], stdout=subprocess.PIPE, text=True)
    assert writer.stdout.readline().strip() == "writing"
    assert len(leftovers(tmp_path)) == 1  # a live writer's temporary file stays
    sio.remove_stale_temporaries(tmp_path, "out.txt")
    assert len(leftovers(tmp_path)) == 1
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait()
    assert target.read_text() == "old" and len(leftovers(tmp_path)) == 1  # SIGKILL runs no cleanup
    with sio.atomic_write(target, "w") as handle:
        handle.write("new")
    assert target.read_text() == "new" and leftovers(tmp_path) == []


CONCURRENT_WRITER = """
import sys
import numpy as np
from softmax_nb.files.atomic import atomic_write
value = int(sys.argv[2])
for _ in range(30):
    with atomic_write(sys.argv[1], "wb") as handle:
        handle.write(np.full(200000, value, dtype=np.int64).tobytes())
"""


def test_concurrent_writers_of_one_file_never_mix(tmp_path):
    import subprocess
    import sys

    target = tmp_path / "shared.bin"
    writers = [subprocess.Popen([sys.executable, "-c", CONCURRENT_WRITER, str(target), str(k)]) for k in range(4)]
    assert [w.wait() for w in writers] == [0, 0, 0, 0]
    values = np.frombuffer(target.read_bytes(), dtype=np.int64)
    assert values.size == 200000 and len(set(values.tolist())) == 1  # one whole file, never a mix
    assert leftovers(tmp_path) == []
