"""The docstring text dataset (bench/text_dataset.py) on two small installed packages: it reads
back through the ``svmlight`` data source, agrees with its JSON sidecar, and is reproducible."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from softmax_nb.data.sources import load_svmlight

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))

import text_dataset  # noqa: E402

PACKAGES = ["h5py", "snakemake"]  # both are dependencies of softmax_nb
FILES = ("docstrings.svmlight", "vocabulary.txt", "docstrings.json")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    outs = [tmp_path_factory.mktemp(name) for name in ("first", "second")]
    for out in outs:
        assert text_dataset.main(["-o", str(out), "--packages", *PACKAGES, "--max-docs", "120"]) == 0
    return outs


def test_the_files_read_back_and_agree_with_the_sidecar(built):
    out = built[0]
    sidecar = json.loads((out / "docstrings.json").read_text())
    X, y, meta = load_svmlight(out / "docstrings.svmlight", out / "vocabulary.txt")
    assert X.shape == (sidecar["n_samples"], sidecar["n_features"])
    assert X.nnz == sidecar["nnz"] and 0 < sidecar["n_samples"] <= 120
    assert meta["feature_names"] == (out / "vocabulary.txt").read_text().splitlines()
    assert meta["feature_names"] == sorted(meta["feature_names"])
    assert sidecar["classes"] == PACKAGES and sidecar["missing_packages"] == []
    labels = [sidecar["classes"][int(label)] for label in y]
    assert set(labels) == set(PACKAGES)
    assert {name: labels.count(name) for name in PACKAGES} == sidecar["class_counts"]
    for name in PACKAGES:
        assert sidecar["packages"][name]["version"]
    # every column is used by at least min_df = 2 rows, so column 0 is there and the
    # file is read as zero-based; values are log(1 + a count)
    assert np.all(np.diff(X.tocsc().indptr) >= 2)
    counts = np.expm1(X.data)
    np.testing.assert_allclose(counts, np.round(counts), atol=1e-9)
    assert counts.min() >= 1
    assert np.all(np.diff(X.indptr) > 0)


def test_two_runs_give_identical_files(built):
    for name in FILES:
        assert (built[0] / name).read_bytes() == (built[1] / name).read_bytes(), name


def test_a_missing_package_is_skipped_and_recorded(tmp_path):
    missing = "no_such_package_softmax_nb_test"
    assert text_dataset.main(["-o", str(tmp_path), "--packages", "h5py", missing, "--max-docs", "20"]) == 0
    sidecar = json.loads((tmp_path / "docstrings.json").read_text())
    assert sidecar["classes"] == ["h5py"] and sidecar["missing_packages"] == [missing]


def test_docstrings_are_read_without_importing():
    import ast

    tree = ast.parse(
        '"""Module text."""\n'
        "def f():\n    '''F text.'''\n"
        "class C:\n    '''C text.'''\n    def m(self):\n        '''M text.'''\n"
        "if True:\n    def g():\n        '''G text.'''\n"
        "add_newdoc('pkg', 'h', '''H text.''')\n"
        "add_newdoc('pkg', 'C', ('m2', '''M2 text.'''))\n"
    )
    found = {name: text for _, name, text in text_dataset.docstrings(tree)}
    assert found == {"<module>": "Module text.", "f": "F text.", "C": "C text.", "C.m": "M text.",
                     "g": "G text.", "pkg.h": "H text.", "pkg.C.m2": "M2 text."}
