"""Hostile file names and paths, for prepare, train, evaluate, predict and info.

Names with spaces, non-ASCII letters, quotes, a newline, a leading '-', and names as
long as the file system allows, work like any other; paths through symbolic links work.
What cannot work (an output folder that does not exist, an output that is a folder, a
name longer than the file system allows, a file that may not be read, a folder that may
not be written) is one line, ``softmax-nb: error: ...`` naming the path, exit 1 (or 2 for
a misspelt command line), no traceback, no output and no temporary file left.
"""

import contextlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from softmax_nb import files as sio
from softmax_nb.cli import main

#: The longest name most file systems take is 255 bytes; train's checkpoint adds
#: ".ckpt" to the model's name, so a model name of 250 bytes is the longest that works.
LONG = 250
NAMES = {
    "space": "with space",
    "unicode": "ünï cødé ß 数据",
    "quotes": "q'uo\"te",
    "newline": "new\nline",
    "leading dash": "-lead",
    "shell characters": "$(x) *; |&",
    "yaml characters": "a: b #c - [d]",
    "long ascii": "L",
    "long unicode": "é",
}


def _name(case, suffix):
    """The file name of ``case`` ending in ``suffix``; the long ones exactly LONG bytes."""
    name = NAMES[case]
    if case.startswith("long"):
        name = name * ((LONG - len(suffix.encode())) // len(name.encode()))
    return name + suffix


def _cli(argv):
    """``softmax-nb ARGV`` in this process: ``(exit status, stderr)``."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            code = main(["-q"] + [str(a) for a in argv])
        except SystemExit as exc:
            code = exc.code
    return code, err.getvalue()


def _one_error_line(code, err, expected_code=1):
    assert "Traceback" not in err, err
    assert code == expected_code, (code, err)
    lines = [line for line in err.splitlines() if line.startswith("softmax-nb: error: ")]
    assert len(lines) == 1, err
    return lines[0]


def _leftovers(folder):
    return sorted(str(p.relative_to(folder)) for p in Path(folder).rglob("*") if ".tmp-" in p.name)


def _write_csv(path, n=90, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 3))
    y = (X[:, 0] + 0.5 * rng.standard_normal(n) > 0).astype(int)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("a,b,c,label\n")
        for row, label in zip(X, y):
            handle.write(",".join(f"{v:.6f}" for v in row) + f",{label}\n")


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A CSV source, a dataset prepared from it and a model of that dataset."""
    folder = tmp_path_factory.mktemp("names")
    _write_csv(folder / "d.csv")
    assert _cli(["prepare", "--source", "csv", "--arg", f"path={folder / 'd.csv'}", "-o", folder / "d.h5"])[0] == 0
    assert _cli(["train", folder / "d.h5", "-o", folder / "m.h5", "--max-iter", "5", "--no-checkpoint"])[0] == 0
    return folder


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("case", sorted(NAMES))
def test_hostile_names_work_in_every_command(tmp_path, monkeypatch, case):
    """Relative names in the working folder, as a user types them. Options are given as
    --option=NAME and the positional arguments after '--', which is how any command line
    takes a name that starts with '-'."""
    monkeypatch.chdir(tmp_path)
    source, data, model = _name(case, ".csv"), _name(case, ".h5"), _name(case, ".m.h5")
    metrics, predictions = _name(case, ".json"), _name(case, ".p.csv")
    _write_csv(tmp_path / source)
    steps = [
        ["prepare", "--source=csv", f"--arg=path={source}", f"--output={data}"],
        ["train", f"--output={model}", "--max-iter=5", "--", data],
        ["evaluate", f"--output={metrics}", "--", model, data],
        ["predict", f"--output={predictions}", "--", model, data],
        ["info", "--json", "--", model],
    ]
    for argv in steps:
        code, err = _cli(argv)
        assert code == 0, (argv, err)
    assert sorted(os.listdir(tmp_path)) == sorted([source, data, model, metrics, predictions])
    assert sio.dataset_info(data)["meta"]["source_meta"]["path"] == source
    assert json.loads((tmp_path / metrics).read_text())["data"] == data
    assert (tmp_path / predictions).read_text().startswith("row,predicted,")


@pytest.mark.parametrize("argv", [
    ["prepare", "--source", "digits", "-o", "-x.h5"],
    ["info", "-x.h5"],
    ["evaluate", "m.h5", "-x.h5"],
])
def test_a_name_with_a_leading_dash_is_read_as_an_option_without_the_double_dash(tmp_path, monkeypatch, argv):
    """Without '--' (or './-x.h5'), '-x.h5' is an unknown option: a usage error, nothing written."""
    monkeypatch.chdir(tmp_path)
    code, err = _cli(argv)
    _one_error_line(code, err, expected_code=2)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("command", ["prepare", "train", "evaluate", "predict"])
def test_a_name_longer_than_the_file_system_allows_is_one_line(base, tmp_path, command):
    out = tmp_path / ("x" * 256)
    argv = {
        "prepare": ["prepare", "--source", "csv", "--arg", f"path={base / 'd.csv'}", "-o", out],
        "train": ["train", base / "d.h5", "-o", out],
        "evaluate": ["evaluate", base / "m.h5", base / "d.h5", "-o", out],
        "predict": ["predict", base / "m.h5", base / "d.h5", "-o", out],
    }[command]
    line = _one_error_line(*_cli(argv))
    assert "256 bytes long" in line and "255" in line, line
    assert os.listdir(tmp_path) == []


def test_a_model_name_that_leaves_no_room_for_its_checkpoint_is_refused_before_training(base, tmp_path):
    out = tmp_path / ("x" * 251)  # fits, but OUT.ckpt does not
    line = _one_error_line(*_cli(["train", base / "d.h5", "-o", out]))
    assert "--checkpoint" in line and "256 bytes long" in line, line
    assert os.listdir(tmp_path) == []
    assert _cli(["train", base / "d.h5", "-o", out, "--no-checkpoint", "--max-iter", "3"])[0] == 0
    assert os.listdir(tmp_path) == [out.name]


def _outputs(base, target):
    return {
        "prepare": ["prepare", "--source", "csv", "--arg", f"path={base / 'd.csv'}", "-o", target],
        "train": ["train", base / "d.h5", "-o", target, "--max-iter", "3"],
        "evaluate": ["evaluate", base / "m.h5", base / "d.h5", "-o", target],
        "predict": ["predict", base / "m.h5", base / "d.h5", "-o", target],
    }


@pytest.mark.parametrize("command", ["prepare", "train", "evaluate", "predict"])
def test_an_output_folder_that_does_not_exist_is_one_line(base, tmp_path, command):
    line = _one_error_line(*_cli(_outputs(base, tmp_path / "missing" / "out")[command]))
    assert f"folder {str(tmp_path / 'missing')!r} does not exist" in line, line
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("command", ["prepare", "train", "evaluate", "predict"])
def test_an_output_that_is_a_folder_is_one_line(base, tmp_path, command):
    (tmp_path / "out").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "out")  # a link to a folder is a folder too
    for target in ("out", "link"):
        line = _one_error_line(*_cli(_outputs(base, tmp_path / target)[command]))
        assert f"{str(tmp_path / target)!r} is a folder" in line, line
    assert sorted(os.listdir(tmp_path)) == ["link", "out"] and os.listdir(tmp_path / "out") == []


@pytest.mark.filterwarnings("ignore")
def test_paths_through_symbolic_links(base, tmp_path):
    """Inputs and outputs through a linked folder or a linked file work; an output that is
    a link is written through (the file it points to is replaced, the link stays)."""
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "folder").symlink_to(real)
    (tmp_path / "data.h5").symlink_to(base / "d.h5")
    (tmp_path / "model.h5").symlink_to(base / "m.h5")
    linked = tmp_path / "folder"
    steps = [
        ["prepare", "--source", "csv", "--arg", f"path={base / 'd.csv'}", "-o", linked / "d.h5"],
        ["train", tmp_path / "data.h5", "-o", linked / "m.h5", "--max-iter", "3"],
        ["evaluate", tmp_path / "model.h5", linked / "d.h5", "-o", linked / "e.json"],
        ["predict", linked / "m.h5", tmp_path / "data.h5", "-o", linked / "p.csv"],
        ["info", tmp_path / "model.h5"],
    ]
    for argv in steps:
        code, err = _cli(argv)
        assert code == 0, (argv, err)
    assert sorted(os.listdir(real)) == ["d.h5", "e.json", "m.h5", "p.csv"]
    # An output that is a link to a file, or a link to a file not there yet.
    (real / "old.json").write_text("{}\n")
    (tmp_path / "to-old.json").symlink_to(real / "old.json")
    (tmp_path / "to-new.json").symlink_to(real / "new.json")
    for link in ("to-old.json", "to-new.json"):
        assert _cli(["evaluate", base / "m.h5", base / "d.h5", "-o", tmp_path / link])[0] == 0
        assert (tmp_path / link).is_symlink()
        assert json.loads((tmp_path / link).read_text())["split"] == "test"
    assert _leftovers(tmp_path) == []
    # A link to an input is that input: refused before any work (exit 2).
    before = (base / "d.h5").read_bytes()
    _one_error_line(*_cli(["train", base / "d.h5", "-o", tmp_path / "data.h5"]), expected_code=2)
    assert (base / "d.h5").read_bytes() == before


# ---------------------------------------------------------------------------
# files that may not be read, folders that may not be written
# ---------------------------------------------------------------------------

# Runs each command line of argv (JSON) in one interpreter: [[exit status, stderr], ...].
_RUN_ALL = """
import contextlib, io, json, sys
from softmax_nb.cli import main
results = []
for argv in json.loads(sys.argv[1]):
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main(argv)
        except SystemExit as exc:
            code = exc.code
    results.append([code, err.getvalue()])
print(json.dumps(results))
"""


def _without_permission_override():
    """A function for Popen's preexec_fn that makes even root meet file permissions.

    Tests run as root in CI, and root reads a file of mode 000. Dropping the two
    capabilities that override permissions (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH) from
    the child's bounding set before it starts Python takes them away from the child
    for good, as a plain user never had them."""
    if os.geteuid() != 0:
        return None
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)

    def drop():
        for capability in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
            if libc.prctl(24, capability, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
                raise OSError(ctypes.get_errno(), "cannot drop a capability")

    return drop


def _run_without_permission_override(argvs, cwd, script=_RUN_ALL):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(__file__).resolve().parents[1]),
                                                       os.environ.get("PYTHONPATH", "")]))
    try:
        done = subprocess.run([sys.executable, "-c", script, json.dumps([[str(a) for a in argv] for argv in argvs])],
                              cwd=cwd, env=env, capture_output=True, text=True, timeout=300,
                              preexec_fn=_without_permission_override())
    except subprocess.SubprocessError as exc:  # preexec_fn failed: no capabilities to drop here
        pytest.skip(f"cannot run a process without root's permission override: {exc}")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture()
def locked(base, tmp_path):
    """Copies of the inputs with mode 000, and a folder of mode 555."""
    folder = tmp_path / "locked"
    folder.mkdir()
    for name in ("d.csv", "d.h5", "m.h5"):
        (folder / name).write_bytes((base / name).read_bytes())
        os.chmod(folder / name, 0)
    (tmp_path / "read-only").mkdir()
    os.chmod(tmp_path / "read-only", 0o555)
    probe = _run_without_permission_override([["info", folder / "d.h5"]], tmp_path)
    if probe[0][0] == 0:
        pytest.skip("files of mode 000 are readable here (permissions not enforced)")
    yield folder
    for name in ("d.csv", "d.h5", "m.h5"):
        os.chmod(folder / name, 0o644)
    os.chmod(tmp_path / "read-only", 0o755)


def test_unreadable_inputs_and_unwritable_folders_are_one_line(base, tmp_path, locked):
    out = tmp_path / "out"
    read_only = tmp_path / "read-only"
    cases = [
        (["prepare", "--source", "csv", "--arg", f"path={locked / 'd.csv'}", "-o", out], locked / "d.csv"),
        (["prepare", "--source", "csv", "--arg", f"path={locked / 'd.csv'}", "--out-of-core", "-o", out],
         locked / "d.csv"),
        (["prepare", "--source", "hdf5", "--arg", f"path={locked / 'd.h5'}", "--arg", "x_key=train/X",
          "--arg", "y_key=train/y", "-o", out], locked / "d.h5"),
        (["train", locked / "d.h5", "-o", out], locked / "d.h5"),
        (["evaluate", locked / "m.h5", base / "d.h5", "-o", out], locked / "m.h5"),
        (["evaluate", base / "m.h5", locked / "d.h5", "-o", out], locked / "d.h5"),
        (["predict", base / "m.h5", locked / "d.h5", "-o", out], locked / "d.h5"),
        (["info", locked / "m.h5"], locked / "m.h5"),
    ]
    cases += [(argv, read_only) for argv in _outputs(base, read_only / "out").values()]
    # Standard output needs no writable folder, even as the working folder.
    to_stdout = [["evaluate", base / "m.h5", base / "d.h5", "-o", "-"],
                 ["predict", base / "m.h5", base / "d.h5", "-o", "-"]]
    results = _run_without_permission_override([argv for argv, _ in cases] + to_stdout, read_only)
    for (argv, path), (code, err) in zip(cases, results):
        line = _one_error_line(code, err)
        assert str(path) in line and ("permission" in line.lower() or "not writable" in line), (argv, line)
    assert [code for code, _ in results[len(cases):]] == [0, 0], results[len(cases):]
    assert not out.exists() and os.listdir(read_only) == [] and _leftovers(tmp_path) == []


_ATOMIC_WRITE = """
import json, sys
from softmax_nb.files.atomic import atomic_write
results = []
for (path,) in json.loads(sys.argv[1]):
    try:
        with atomic_write(path, "w") as handle:
            handle.write("x")
        results.append([0, ""])
    except PermissionError as exc:
        results.append([1, str(exc)])
print(json.dumps(results))
"""


def test_atomic_write_into_a_folder_that_may_not_be_written_names_the_file(tmp_path, locked):
    """What workflow scripts and Python callers meet (the command line refuses it earlier)."""
    target = tmp_path / "read-only" / "page.html"
    [(code, message)] = _run_without_permission_override([[target]], tmp_path, script=_ATOMIC_WRITE)
    assert code == 1 and str(target) in message and "tmp-" not in message, message
    assert os.listdir(tmp_path / "read-only") == []
