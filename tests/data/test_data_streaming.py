"""Streaming a dataset file: read-ahead blocks, the memory plan, damaged files, progress."""

import os
import sys

import h5py
import numpy as np
import pytest

from softmax_nb.data import streaming
from softmax_nb.model.estimator import fit_streaming
from softmax_nb import files as sio
from synthetic_files import make_dataset




def test_read_ahead_gives_the_same_blocks(small):
    with streaming.H5Stream(small, "train", block_rows=21) as stream:
        seen = [(b.start, b.stop, b.X.copy(), b.y.copy()) for b in stream.blocks(order=[3, 0, 5])]
        stream.prefetch = False
        again = [(b.start, b.stop, b.X.copy(), b.y.copy()) for b in stream.blocks(order=[3, 0, 5])]
    X, y, _ = sio.read_dataset(small, "train")
    for (start, stop, Xb, yb), (start2, _, Xb2, yb2) in zip(seen, again):
        assert start == start2
        assert np.array_equal(Xb, X[start:stop]) and np.array_equal(yb, y[start:stop])
        assert np.array_equal(Xb, Xb2) and np.array_equal(yb, yb2)
    assert [s for s, *_ in seen] == [63, 0, 105]


# -- memory plan ---------------------------------------------------------------


def test_memory_plan_depends_on_the_budget_not_the_rows():
    small = streaming.memory_plan(10_000, 784, 10, 64, itemsize=4, file_chunk_rows=334)
    huge = streaming.memory_plan(10**9, 784, 10, 64, itemsize=4, file_chunk_rows=334)
    assert small["block_rows"] == huge["block_rows"] and small["block_rows"] % 334 == 0
    assert huge["peak_bytes"] <= 64 * 2**20
    bigger = streaming.memory_plan(10**9, 784, 10, 512, itemsize=4, file_chunk_rows=334)
    assert bigger["block_rows"] > huge["block_rows"] and bigger["peak_bytes"] <= 512 * 2**20
    with pytest.raises(streaming.MemoryBudgetError, match="give at least"):
        streaming.memory_plan(10**6, 784, 10, 4, itemsize=4, file_chunk_rows=334)


# -- bad files -----------------------------------------------------------------


def test_truncated_file_gives_a_clear_error(tmp_path):
    path = make_dataset(tmp_path / "cut.h5", n_samples=3000, chunk_rows=50)
    size = path.stat().st_size
    with open(path, "r+b") as handle:
        handle.truncate(size // 2)
    with pytest.raises(sio.FileFormatError, match="truncated"):
        fit_streaming(path, {}, max_memory_mb=4)


def test_corrupted_chunk_names_file_and_rows(tmp_path):
    path = make_dataset(tmp_path / "bad.h5", n_samples=3000, chunk_rows=50)
    with h5py.File(path, "r") as handle:
        chunk = handle["train/X"].id.get_chunk_info(7)  # rows 350..399
    with open(path, "r+b") as handle:
        handle.seek(chunk.byte_offset + 16)
        value = handle.read(8)
        handle.seek(chunk.byte_offset + 16)
        handle.write(bytes(255 - b for b in value))
    with pytest.raises(sio.FileFormatError) as error:
        fit_streaming(path, {}, max_memory_mb=4, progress=False)
    message = str(error.value)
    assert str(path) in message and "/train rows" in message and "corrupted" in message
    start, stop = (int(v) for v in message.split("/train rows ")[1].split(" ")[0].split(".."))
    assert start <= 350 and stop >= 399


def test_progress_goes_to_the_log_off_a_terminal(monkeypatch, caplog):
    import logging

    monkeypatch.setattr(sys, "stderr", open(os.devnull, "w"))
    bar = streaming._progress_bar(100, "pass 1", True)
    bar.delay, bar.mininterval = 0, 0
    with caplog.at_level(logging.INFO, logger="softmax_nb.data.streaming"):
        bar.update(50)
        bar.refresh()
        bar.close()
    assert any("pass 1" in r.getMessage() and "50" in r.getMessage() for r in caplog.records)
