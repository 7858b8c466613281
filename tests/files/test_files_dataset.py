"""softmax_nb.files.dataset: dataset files, their round trip and the errors of bad files."""

import os

import h5py
import numpy as np
import pytest

from h5_samples import small_splits, write_small
from softmax_nb import files as sio


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "classes",
    [
        np.array([10, 20, 30]),
        np.array([-1.5, 0.0, 2.5]),
        np.array(["cat", "dog", "émeu"]),
        np.array(["a", "b", "c"], dtype=object),
        np.array([3, 5, 7], dtype=np.uint8),
    ],
)
def test_dataset_round_trip(tmp_path, dtype, classes):
    splits = small_splits(dtype)
    path = tmp_path / "d.h5"
    sio.write_dataset(
        path,
        splits,
        classes,
        {"source": "unit", "seed": 7, "note": "hello"},
        preprocessing={"mean": np.arange(3.0), "scale": np.array([1.0, 2.0, 3.0])},
        feature_names=["a", "b", "c"],
        image_shape=None,
        class_names=["x", "y", "z"],
        config={"k": [1, 2]},
        chunk_rows=4,
        compression="gzip",
        compression_level=4,
    )
    for name in sio.SPLITS:
        X, y, info = sio.read_dataset(path, name)
        assert X.dtype == dtype
        np.testing.assert_array_equal(X, splits[name][0])
        np.testing.assert_array_equal(y, splits[name][1])
        assert y.dtype == np.int64
    assert info["classes"].dtype == classes.dtype
    np.testing.assert_array_equal(info["classes"], classes)
    assert info["source"] == "unit" and info["seed"] == 7 and info["meta"] == {"note": "hello"}
    assert info["n_features"] == 3 and info["n_classes"] == 3
    assert info["feature_names"] == ["a", "b", "c"] and info["class_names"] == ["x", "y", "z"]
    assert info["config"] == {"k": [1, 2]}
    assert info["standardized"]
    np.testing.assert_array_equal(info["preprocessing"]["scale"], [1.0, 2.0, 3.0])
    split = info["splits"]["train"]
    assert split["chunks"] == (4, 3) and split["compression"] == "gzip" and split["n_samples"] == 30
    assert sum(split["class_counts"]) == 30
    assert info["library_versions"]["numpy"] == np.__version__


def test_dataset_chunking_default_and_contiguous_mmap(tmp_path):
    splits = small_splits(sizes=(5000, 10, 10), n_features=40)
    path = tmp_path / "auto.h5"
    write_small(path, splits=splits)
    info = sio.dataset_info(path)
    # ~1 MiB chunks: 1 MiB / (40 * 8 bytes) = 3276 rows.
    assert info["splits"]["train"]["chunks"] == (3276, 40)
    X, _, _ = sio.read_dataset(path, "train", mmap_ok=True)
    assert not isinstance(X, np.memmap)  # chunked data cannot be mapped

    path = tmp_path / "contiguous.h5"
    write_small(path, splits=splits, chunk_rows=0)
    assert sio.dataset_info(path)["splits"]["train"]["chunks"] is None
    X, y, _ = sio.read_dataset(path, "train", mmap_ok=True)
    assert isinstance(X, np.memmap)
    np.testing.assert_array_equal(X, splits["train"][0])
    X2, _, _ = sio.read_dataset(path, "train")
    assert not isinstance(X2, np.memmap)


def test_dataset_empty_split_and_image_shape(tmp_path):
    splits = small_splits(n_features=4, sizes=(12, 0, 5))
    path = tmp_path / "d.h5"
    write_small(path, splits=splits, image_shape=(2, 2), compression="lzf")
    X, y, info = sio.read_dataset(path, "val")
    assert X.shape == (0, 4) and y.shape == (0,)
    assert info["image_shape"] == (2, 2)
    assert info["preprocessing"] is None and not info["standardized"]


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda s, c: s.update(val=(s["val"][0][:, :2], s["val"][1])), "has 2 features"),
        (lambda s, c: s.update(test=(s["test"][0], s["test"][1] + 5)), "class indices"),
        (lambda s, c: s.update(train=(s["train"][0].astype(np.int64), s["train"][1])), "float32 or float64"),
        (lambda s, c: s.pop("val"), "missing"),
        (lambda s, c: s.update(train=(s["train"][0].astype(np.float32), s["train"][1])), "one X dtype"),
    ],
)
def test_write_dataset_rejects_inconsistent_input(tmp_path, change, message):
    splits = small_splits()
    change(splits, None)
    with pytest.raises(ValueError, match=message):
        sio.write_dataset(tmp_path / "d.h5", splits, [1, 2, 3], {"source": "x"})
    assert os.listdir(tmp_path) == []


def test_write_dataset_rejects_bad_options(tmp_path):
    with pytest.raises(ValueError, match="compression must be"):
        write_small(tmp_path / "d.h5", compression="zstd")
    with pytest.raises(ValueError, match="contiguous"):
        write_small(tmp_path / "d.h5", chunk_rows=0, compression="lzf")
    with pytest.raises(ValueError, match="image_shape"):
        write_small(tmp_path / "d.h5", image_shape=(2, 2))
    with pytest.raises(ValueError, match="numbers or all strings"):
        write_small(tmp_path / "d.h5", classes=np.array([1, "a", 2.0], dtype=object))


def test_truncated_file(tmp_path):
    path = tmp_path / "d.h5"
    write_small(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(sio.FileFormatError, match="truncated"):
        sio.read_dataset(path, "train")
    with pytest.raises(sio.FileFormatError, match="truncated"):
        sio.describe(path)


def test_corrupted_chunk_is_detected(tmp_path):
    splits = small_splits(sizes=(400, 10, 10), n_features=8)
    path = tmp_path / "d.h5"
    write_small(path, splits=splits, chunk_rows=50)
    with h5py.File(path, "r") as handle:
        offset = handle["train/X"].id.get_chunk_info(2).byte_offset
    with open(path, "r+b") as handle:
        handle.seek(offset + 17)
        byte = handle.read(1)
        handle.seek(offset + 17)
        handle.write(bytes([byte[0] ^ 0xFF]))
    sio.dataset_info(path)  # the header is intact
    with pytest.raises(sio.FileFormatError, match="corrupted"):
        sio.read_dataset(path, "train")


def test_not_hdf5(tmp_path):
    path = tmp_path / "d.h5"
    path.write_text("label,x\n1,2\n")
    with pytest.raises(sio.FileFormatError, match="not an HDF5 file"):
        sio.read_dataset(path, "train")


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda h: h.__delitem__("val"), "missing '/val'"),
        (lambda h: h.__delitem__("classes"), "missing '/classes'"),
        (lambda h: h.attrs.__delitem__("n_features"), "n_features"),
        (lambda h: h.attrs.__setitem__("n_classes", 4), "lists 3 classes"),
        (lambda h: (h.__delitem__("test/y"), h.create_dataset("test/y", data=np.zeros(2, np.int64))), "/test/y"),
        (lambda h: h.attrs.__setitem__("n_features", 5), "/train/X has shape"),
    ],
)
def test_inconsistent_dataset_file(tmp_path, damage, message):
    from softmax_nb.files.common import DIGEST_ATTR, content_digest
    from softmax_nb.files.dataset import _ROW_DATA

    path = tmp_path / "d.h5"
    write_small(path)
    with h5py.File(path, "r+") as handle:
        damage(handle)
    with pytest.raises(sio.FileFormatError, match="damaged: its checksum|" + message):
        sio.read_dataset(path, "train")
    # The same damage under a matching checksum: the structural checks name it.
    with h5py.File(path, "r+") as handle:
        handle.attrs[DIGEST_ATTR] = content_digest(handle, _ROW_DATA)
    with pytest.raises(sio.FileFormatError, match=message):
        sio.read_dataset(path, "train")


def test_a_flipped_bit_in_a_dataset_file_never_reads_silently(tmp_path):
    """Row data carry fletcher32, everything else the file's SHA-256: a flip is refused or
    harmless (HDF5's free space), never different numbers."""
    from h5_samples import random_bit_flips

    path = tmp_path / "d.h5"
    write_small(path)
    clean = path.read_bytes()
    reference = {split: sio.read_dataset(path, split) for split in ("train", "val", "test")}
    silent = []
    for position, data in random_bit_flips(clean, 150, seed=1):
        path.write_bytes(data)
        try:
            got = {split: sio.read_dataset(path, split) for split in ("train", "val", "test")}
        except sio.FileFormatError:
            continue
        for split, (X, y, info) in got.items():
            X_ref, y_ref, info_ref = reference[split]
            info, info_ref = dict(info), dict(info_ref)
            same = (np.array_equal(X, X_ref) and np.array_equal(y, y_ref)
                    and repr(sorted(info.items(), key=str)) == repr(sorted(info_ref.items(), key=str)))
            if not same:
                silent.append(position)
    assert not silent, f"flips at bytes {sorted(set(silent))} changed what is read without an error"


def test_labels_out_of_range_in_file(tmp_path):
    path = tmp_path / "d.h5"
    write_small(path, chunk_rows=0)
    with h5py.File(path, "r+") as handle:
        handle["train/y"][0] = 99
    with pytest.raises(sio.FileFormatError, match="outside 0..2"):
        sio.read_dataset(path, "train")
