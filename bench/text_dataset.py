"""Build a real sparse text dataset offline: the docstrings of installed Python packages.

    python bench/text_dataset.py -o bench/out/text                  # every default package found
    python bench/text_dataset.py -o /tmp/text --max-docs 2000       # a small, class-balanced one
    python bench/text_dataset.py -o /tmp/text --packages h5py snakemake

Documents: every module, class and function docstring (``ast.get_docstring``, cleaned)
of the ``.py`` files of each package, and the text of NumPy-style ``add_newdoc(...)``
calls (how NumPy documents its compiled functions), found with ``importlib.util.find_spec`` and read
with ``ast`` only (nothing is imported). The label of a document is the top-level
package it comes from. Test folders (``tests``, ``test``, ``testing``, ``test_*.py``,
``conftest.py``) and vendored copies (``externals``, ``_vendor``, ``vendored``,
``array_api_compat``, ``array_api_extra``, ...) are left out. Files are read in sorted
order of their path and each file's docstrings in source order. A document needs at
least ``--min-tokens`` tokens (default 20); a text seen twice in one package is kept
once, and a text seen in two packages is dropped from both (its label is ambiguous).

Tokens: lowercase words ``[a-z][a-z0-9_]+`` (so ``array_like``, ``ndarray``, ``x0``),
with ``--bigrams`` also adjacent pairs (``"sparse matrix"``). The vocabulary is every
token in at least ``--min-df`` documents (default 2), sorted (column j is line j of
``vocabulary.txt``). Values are log(1 + count of the token in the document): no idf,
no row normalization (scale or normalize later if wanted). Documents left with no
vocabulary token are dropped. Rows are shuffled with ``--seed`` (default 0) so that
any prefix of the file has every class; labels are 0..k-1 in the order of
``"classes"`` in the JSON sidecar.

Writes into ``-o`` (default bench/out/text):

- ``docstrings.svmlight``: ``dump_svmlight_file(..., zero_based=True)``, float64 values;
- ``vocabulary.txt``: one feature name a line, in column order;
- ``docstrings.json``: sizes, per-class counts, package versions and paths, settings
  (with ``--list-documents`` also the source of every row: ``package/file:line:name``).

The two first are what the ``svmlight`` data source reads
(``softmax_nb.data.sources.load_svmlight(path, vocabulary_path)``). The output is a
deterministic function of the installed packages and the options: the same venv gives
byte-identical files (nothing in them depends on time or on the output folder).
"""

import argparse
import ast
import importlib.metadata
import importlib.util
import inspect
import json
import os
import re
import sys
import time
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import scipy.sparse as sp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEFAULT_PACKAGES = ("numpy", "scipy", "sklearn", "pandas", "matplotlib", "h5py", "numba", "snakemake", "sympy",
                    "docutils", "hypothesis", "sqlalchemy", "pygments", "fontTools", "pydantic", "PIL", "_pytest",
                    "jinja2", "click")
EXCLUDED_DIRS = frozenset({"tests", "test", "testing", "externals", "_vendor", "vendor", "vendored", "_vendored",
                           "array_api_compat", "array_api_extra", "__pycache__"})
TOKEN = re.compile(r"[a-z][a-z0-9_]+")
ADD_NEWDOC = frozenset({"add_newdoc", "add_newdoc_ufunc"})
FORMAT_VERSION = 1


def tokenize(text, bigrams=False):
    words = TOKEN.findall(text.lower())
    if bigrams:
        return words + [f"{a} {b}" for a, b in zip(words, words[1:])]
    return words


def package_location(name):
    """The folder of an installed top-level package, without importing it (None if absent)."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(sorted(spec.submodule_search_locations)[0])


def package_version(name):
    distributions = importlib.metadata.packages_distributions().get(name) or [name]
    for distribution in sorted(distributions):
        try:
            return distribution, importlib.metadata.version(distribution)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None, None


def source_files(location):
    """The package's ``.py`` files, tests and vendored folders left out, sorted by relative path."""
    found = []
    for folder, dirs, names in os.walk(location):
        dirs[:] = [d for d in dirs if d not in EXCLUDED_DIRS and not d.startswith(".")]
        for name in names:
            if name.endswith(".py") and not name.startswith("test_") and name != "conftest.py":
                path = Path(folder) / name
                found.append(path.relative_to(location).as_posix())
    return sorted(found)


def _string(node):
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def added_doc(call):
    """(name, text) of a NumPy-style ``add_newdoc(module, name, doc)`` call, else None.

    NumPy documents its compiled functions, ufuncs and methods this way (numpy/_core/_add_newdocs.py);
    ``doc`` may be a ``(method, doc)`` pair.
    """
    function = call.func
    name = function.id if isinstance(function, ast.Name) else getattr(function, "attr", None)
    if name not in ADD_NEWDOC or not call.args:
        return None
    parts = [_string(a) for a in call.args[:-1]]
    doc = call.args[-1]
    if isinstance(doc, ast.Tuple) and len(doc.elts) == 2:
        parts.append(_string(doc.elts[0]))
        doc = doc.elts[1]
    text = _string(doc)
    if text is None:
        return None
    return ".".join(p for p in parts if p) or name, inspect.cleandoc(text)


def docstrings(tree):
    """(line, qualified name, docstring) of the module and of every class and function, in source order."""
    found = []

    def visit(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = f"{prefix}{child.name}"
                text = ast.get_docstring(child, clean=True)
                if text:
                    found.append((child.lineno, name, text))
                visit(child, name + ".")
            else:
                if isinstance(child, ast.Call):
                    added = added_doc(child)
                    if added is not None:
                        found.append((child.lineno, *added))
                # functions defined under if/try/with blocks
                visit(child, prefix)

    text = ast.get_docstring(tree, clean=True)
    if text:
        found.append((1, "<module>", text))
    visit(tree, "")
    return found


def package_documents(name, location, min_tokens, bigrams, quota=None):
    """The documents of one package: a list of (source, tokens), and counters for the sidecar."""
    documents, seen = [], set()
    stats = {"files": 0, "unparsed_files": 0, "docstrings": 0, "short": 0, "duplicates": 0}
    for relative in source_files(location):
        if quota is not None and len(documents) >= quota:
            break
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # invalid escape sequences in old sources
                tree = ast.parse((location / relative).read_bytes(), filename=relative)
        except (SyntaxError, ValueError, OSError):
            stats["unparsed_files"] += 1
            continue
        stats["files"] += 1
        for line, qualname, text in docstrings(tree):
            stats["docstrings"] += 1
            words = tokenize(text)
            if len(words) < min_tokens:
                stats["short"] += 1
                continue
            key = " ".join(words)
            if key in seen:
                stats["duplicates"] += 1
                continue
            seen.add(key)
            documents.append((f"{name}/{relative}:{line}:{qualname}", key,
                              tokenize(text, bigrams) if bigrams else words))
            if quota is not None and len(documents) >= quota:
                break
    return documents, stats


def build(packages, max_docs=None, min_tokens=20, min_df=2, bigrams=False, seed=0, log=print):
    """Collect, filter and vectorize; returns (X csr float64, y int64, vocabulary list, sidecar dict)."""
    located, missing = [], []
    for name in packages:
        location = package_location(name)
        (located if location is not None else missing).append((name, location))
    if missing:
        log(f"not installed, skipped: {', '.join(name for name, _ in missing)}")
    if not located:
        raise SystemExit("none of the packages is installed")
    if max_docs is not None:
        base, extra = divmod(max_docs, len(located))
        quotas = [base + (i < extra) for i in range(len(located))]
    else:
        quotas = [None] * len(located)

    per_package, sidecar_packages = [], {}
    for (name, location), quota in zip(located, quotas):
        documents, stats = package_documents(name, location, min_tokens, bigrams, quota)
        distribution, version = package_version(name)
        sidecar_packages[name] = {"distribution": distribution, "version": version, "location": str(location),
                                  **stats}
        per_package.append((name, documents))
        log(f"{name} {version}: {stats['files']} files, {len(documents)} documents")

    # a text in two packages has no single label: drop every copy
    owners = Counter(key for _, documents in per_package for key in {k for _, k, _ in documents})
    classes, sources, token_lists, labels = [], [], [], []
    for label, (name, documents) in enumerate(per_package):
        classes.append(name)
        kept = [d for d in documents if owners[d[1]] == 1]
        sidecar_packages[name]["shared_with_other_packages"] = len(documents) - len(kept)
        for source, _, tokens in kept:
            sources.append(source)
            token_lists.append(tokens)
            labels.append(label)

    df = Counter(token for tokens in token_lists for token in set(tokens))
    vocabulary = sorted(token for token, count in df.items() if count >= min_df)
    column = {token: j for j, token in enumerate(vocabulary)}
    indptr, indices, data, kept_rows = [0], [], [], []
    for row, tokens in enumerate(token_lists):
        counts = Counter(column[t] for t in tokens if t in column)
        if not counts:
            continue
        cols = sorted(counts)
        indices.extend(cols)
        data.extend(np.log1p([counts[j] for j in cols]).tolist())
        indptr.append(len(indices))
        kept_rows.append(row)
    empty = len(token_lists) - len(kept_rows)
    X = sp.csr_matrix((np.asarray(data, dtype=np.float64), np.asarray(indices, dtype=np.int64),
                       np.asarray(indptr, dtype=np.int64)), shape=(len(kept_rows), len(vocabulary)))
    y = np.asarray(labels, dtype=np.int64)[kept_rows]
    sources = [sources[i] for i in kept_rows]
    order = np.random.default_rng(seed).permutation(X.shape[0])
    X, y = X[order], y[order]
    X.sort_indices()
    sources = [sources[i] for i in order]

    counts = np.bincount(y, minlength=len(classes))
    sidecar = {
        "format_version": FORMAT_VERSION,
        "description": "docstrings of installed Python packages; label = top-level package",
        "files": {"svmlight": "docstrings.svmlight", "vocabulary": "vocabulary.txt"},
        "n_samples": int(X.shape[0]), "n_features": int(X.shape[1]), "nnz": int(X.nnz),
        "n_classes": len(classes), "classes": classes,
        "class_counts": {name: int(c) for name, c in zip(classes, counts)},
        "mean_nnz_per_row": float(X.nnz / max(X.shape[0], 1)),
        "values": "log(1 + count)", "tokens": TOKEN.pattern + (" and adjacent pairs" if bigrams else ""),
        "settings": {"packages": list(packages), "max_docs": max_docs, "min_tokens": min_tokens, "min_df": min_df,
                     "bigrams": bigrams, "seed": seed, "excluded_dirs": sorted(EXCLUDED_DIRS)},
        "missing_packages": [name for name, _ in missing],
        "empty_rows_dropped": empty,
        "packages": sidecar_packages,
        "python": sys.version.split()[0],
        "versions": {"numpy": np.__version__, "scikit-learn": importlib.metadata.version("scikit-learn")},
    }
    return X, y, vocabulary, sidecar, sources


def write(out, X, y, vocabulary, sidecar, sources=None):
    from sklearn.datasets import dump_svmlight_file

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    # written to a temporary name first, so that a stopped run leaves no half file under the real name
    paths = {"svmlight": out / "docstrings.svmlight", "vocabulary": out / "vocabulary.txt",
             "json": out / "docstrings.json"}
    dump_svmlight_file(X, y, str(paths["svmlight"]) + ".tmp", zero_based=True)
    Path(str(paths["vocabulary"]) + ".tmp").write_text("".join(f"{t}\n" for t in vocabulary), encoding="utf-8")
    if sources is not None:
        sidecar = {**sidecar, "documents": sources}
    Path(str(paths["json"]) + ".tmp").write_text(json.dumps(sidecar, indent=1) + "\n", encoding="utf-8")
    for path in paths.values():
        os.replace(str(path) + ".tmp", path)
    return paths


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--out", type=Path, default=ROOT / "bench" / "out" / "text",
                        help="folder for docstrings.svmlight, vocabulary.txt, docstrings.json")
    parser.add_argument("--packages", nargs="+", default=list(DEFAULT_PACKAGES),
                        help=f"top-level packages, one class each (default: {' '.join(DEFAULT_PACKAGES)}; "
                             "those not installed are skipped)")
    parser.add_argument("--max-docs", type=int, default=None,
                        help="at most N documents, split evenly over the packages (the first of each, in file order)")
    parser.add_argument("--min-tokens", type=int, default=20, help="fewest tokens a docstring needs (default 20)")
    parser.add_argument("--min-df", type=int, default=2, help="fewest documents a vocabulary token needs (default 2)")
    parser.add_argument("--bigrams", action="store_true", help="also adjacent word pairs")
    parser.add_argument("--seed", type=int, default=0, help="row shuffle (default 0)")
    parser.add_argument("--list-documents", action="store_true",
                        help="write the source of every row into docstrings.json")
    args = parser.parse_args(argv)
    if args.max_docs is not None and args.max_docs < 1:
        parser.error("--max-docs must be at least 1")

    def log(message):
        print(f"[text {time.strftime('%H:%M:%S')}] {message}", flush=True)

    started = time.perf_counter()
    X, y, vocabulary, sidecar, sources = build(args.packages, args.max_docs, args.min_tokens, args.min_df,
                                               args.bigrams, args.seed, log)
    paths = write(args.out, X, y, vocabulary, sidecar, sources if args.list_documents else None)
    seconds = time.perf_counter() - started
    counts = ", ".join(f"{name} {count}" for name, count in sidecar["class_counts"].items())
    print(f"{X.shape[0]} rows, {X.shape[1]} features, {X.nnz} nonzeros, {sidecar['n_classes']} classes ({counts}), "
          f"{sidecar['mean_nnz_per_row']:.1f} nonzeros a row, {seconds:.1f} s -> {paths['svmlight'].parent}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
