"""IDX files for the tests of softmax_nb.data (imported by name: pytest puts this folder on sys.path)."""

import gzip
import struct
from pathlib import Path

import numpy as np


def write_idx(path, array, type_code=0x08, magic=None, cut=0):
    """An IDX file of ``array`` (big-endian), optionally with a bad magic or cut short."""
    dtypes = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    header = magic if magic is not None else bytes([0, 0, type_code, array.ndim])
    header += struct.pack(f">{array.ndim}I", *array.shape)
    data = header + np.asarray(array).astype(dtypes[type_code]).tobytes()
    if cut:
        data = data[:-cut]
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wb") as handle:
        handle.write(data)
    return Path(path)
