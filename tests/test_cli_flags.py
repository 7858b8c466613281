"""Every numeric flag of every subcommand, given hostile values: a usage error (exit 2)
or a data error (exit 1) with one line naming the flag or the value, never a traceback,
and no output file."""

import argparse
import os

import pytest

from softmax_nb.cli import build_parser, main

HOSTILE = ["-1", "0", "nan", "inf", "-inf", "1e400", "x", ""]
#: The hostile values that are in fact meaningful (1e400 reads as inf): every other one
#: must be refused.
ACCEPTED = {
    ("gradcheck", "--seed", "0"), ("prepare", "--seed", "0"), ("train", "--random-state", "0"),
    ("prepare", "--chunk-rows", "0"),  # contiguous X, for memory mapping
    ("prepare", "--val-fraction", "0"), ("train", "--l1-ratio", "0"), ("train", "--label-smoothing", "0"),
    ("train", "--momentum", "0"), ("train", "--max-iter", "0"),
    ("train", "--C", "inf"), ("train", "--C", "1e400"),  # no penalty
    ("train", "--checkpoint-seconds", "inf"), ("train", "--checkpoint-seconds", "1e400"),  # never by time
}


def _numeric_flags():
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, sub in commands.choices.items():
        for action in sub._actions:
            if action.option_strings and action.type not in (None, str) and action.nargs in (None, "?"):
                yield name, max(action.option_strings, key=len)


FLAGS = sorted(set(_numeric_flags()))


def test_the_flags_were_found():
    assert ("train", "--max-iter") in FLAGS and ("evaluate", "--bins") in FLAGS and len(FLAGS) > 20


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("flags")
    assert main(["-q", "prepare", "--source", "synthetic", "--arg", "n_samples=120", "--arg", "n_features=3",
                 "-o", str(folder / "d.h5")]) == 0
    assert main(["-q", "train", str(folder / "d.h5"), "-o", str(folder / "m.h5"), "--max-iter", "3"]) == 0
    return folder


def _argv(command, flag, value, folder):
    out = str(folder / "out")
    base = {
        "prepare": ["prepare", "--source", "synthetic", "--arg", "n_samples=60", "-o", out],
        "train": ["train", str(folder / "d.h5"), "-o", out, "--max-iter", "2"],
        "evaluate": ["evaluate", str(folder / "m.h5"), str(folder / "d.h5"), "-o", out],
        "gradcheck": ["gradcheck", str(folder / "m.h5"), str(folder / "d.h5"), "-o", out],
        "predict": ["predict", str(folder / "m.h5"), str(folder / "d.h5"), "-o", out],
        "info": ["info", str(folder / "m.h5")],
    }[command]
    return base + [f"{flag}={value}"]


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("command, flag", FLAGS)
def test_hostile_values_are_one_line_errors_or_accepted(files, capsys, command, flag):
    for value in HOSTILE:
        for name in ("out", "out.ckpt"):  # what an accepted value wrote
            if os.path.exists(files / name):
                os.unlink(files / name)
        try:
            code = main(_argv(command, flag, value, files))
        except SystemExit as exc:
            code = exc.code
        _, err = capsys.readouterr()
        assert "Traceback" not in err, (flag, value, err)
        if code == 0:
            assert (command, flag, value) in ACCEPTED, f"{command} {flag}={value!r} was accepted"
            continue
        assert code in (1, 2), (flag, value, code, err)
        assert len([line for line in err.splitlines() if line.startswith("softmax-nb: error:")]) == 1, (flag, value, err)
        assert not os.path.exists(files / "out"), (flag, value)
        for name in os.listdir(files):
            assert ".tmp-" not in name
