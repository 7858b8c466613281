"""Checkpoint files: written atomically, checksummed, refused with one line when damaged."""

import h5py
import numpy as np
import pytest
from sklearn.datasets import load_digits

from softmax_nb import SoftmaxClassifier
from softmax_nb.files.checkpoint import load_checkpoint


@pytest.fixture()
def checkpoint(tmp_path):
    X, y = load_digits(return_X_y=True)
    path = tmp_path / "state.ckpt"
    clf = SoftmaxClassifier(solver="sgd", max_iter=2, checkpoint_path=str(path), checkpoint_every=1)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(X / 16, y)
    with h5py.File(path, "r") as handle:
        fingerprint = str(handle.attrs["fingerprint"])
    return path, fingerprint, (X / 16, y)


def test_an_intact_checkpoint_loads(checkpoint):
    path, fingerprint, _ = checkpoint
    state = load_checkpoint(path, solver="sgd", expected_fingerprint=fingerprint)
    assert state["optimizer"]["iteration"] == 2 and len(state["history"]["loss"]) == 2


def test_one_flipped_bit_in_the_parameters_is_refused(checkpoint):
    path, fingerprint, (X, y) = checkpoint
    with h5py.File(path, "r+") as handle:
        x = handle["optimizer/x"][()]
        x.view(np.uint64)[5] ^= np.uint64(1) << np.uint64(62)  # an exponent bit: 1e-2 -> 1e300
        handle["optimizer/x"][...] = x
    with pytest.raises(ValueError, match="checksum does not match"):
        load_checkpoint(path, solver="sgd", expected_fingerprint=fingerprint)
    # The estimator refuses to resume from it, with the same one line.
    clf = SoftmaxClassifier(solver="sgd", max_iter=3, checkpoint_path=str(path))
    with pytest.raises(ValueError, match="is damaged"):
        clf.fit(X, y, resume=True)


@pytest.mark.parametrize("remove", ["attrs:elapsed", "attrs:sha256", "optimizer", "history"])
def test_a_missing_part_is_named_not_a_traceback(checkpoint, remove):
    path, fingerprint, _ = checkpoint
    with h5py.File(path, "r+") as handle:
        kind, _, name = remove.partition(":")
        if kind == "attrs":
            del handle.attrs[name]
        else:
            del handle[kind]
    with pytest.raises(ValueError, match="is damaged"):
        load_checkpoint(path, solver="sgd", expected_fingerprint=fingerprint)


def test_random_byte_flips_are_refused_or_harmless(checkpoint):
    """Anywhere in the file: a ValueError naming the checkpoint, or a state equal to the
    intact one (a flip in HDF5's free space), never a traceback or other numbers."""
    from h5_samples import random_bit_flips

    path, fingerprint, _ = checkpoint
    clean = path.read_bytes()
    reference = load_checkpoint(path, solver="sgd", expected_fingerprint=fingerprint)
    for _, data in random_bit_flips(clean, 120, seed=4):
        path.write_bytes(data)
        try:
            state = load_checkpoint(path, solver="sgd", expected_fingerprint=fingerprint)
        except ValueError as exc:
            assert str(path) in str(exc)
            continue
        np.testing.assert_array_equal(state["optimizer"]["x"], reference["optimizer"]["x"])
        assert state["seed"] == reference["seed"]
        for key, values in reference["history"].items():
            np.testing.assert_array_equal(state["history"][key], values)  # NaN == NaN here
