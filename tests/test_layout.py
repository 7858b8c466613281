"""The package's layout: every module imports alone, and no import cycle exists.

Imports are read from the source (``ast``), at module level and inside functions
alike: a cycle hidden in a function-level import is still a cycle. Importing
``a.b.c`` also imports the packages ``a`` and ``a.b`` (their ``__init__``), so
those edges count too.
"""

import ast
import concurrent.futures
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "softmax_nb"
# The layers, bottom up: a module may import from its own layer and the ones below.
LAYERS = ["settings", "kernels", "files", "data", "model", "metrics", "plots", "sweep", "cli"]


def _module_name(path):
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


MODULES = {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _resolve(module, level, name, is_package):
    if level == 0:
        return name
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([name] if name else []))


def _with_parents(name):
    parts = name.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts) + 1)}


def _imports(module):
    """softmax_nb modules that importing ``module`` imports directly (anywhere in its code)."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_package = path.name == "__init__.py"
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, node.level, node.module or "", is_package)
            # "from pkg import name" imports pkg.name when that is a module.
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for target in targets:
            if target in MODULES:
                found |= {name for name in _with_parents(target) if name in MODULES}
    # A module's own packages are initialised before it runs (``from . import x``
    # inside a package is not a cycle with the package's __init__).
    return {name for name in found if not (module == name or module.startswith(name + "."))}


GRAPH = {module: _imports(module) for module in MODULES}


def _cycles(graph):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, result = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                result.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return result


def test_no_import_cycle():
    assert _cycles(GRAPH) == []


def test_the_cycle_finder_finds_cycles():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def _layer(module):
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else None


def test_layers_import_only_downward():
    upward = []
    for module, targets in GRAPH.items():
        layer = _layer(module)
        if layer is None:
            continue
        for target in targets:
            other = _layer(target)
            if other is not None and LAYERS.index(other) > LAYERS.index(layer):
                upward.append(f"{module} -> {target}")
    assert upward == []


def _import_alone(module):
    return module, subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True,
                                  text=True, cwd=ROOT, timeout=300)


@pytest.mark.slow
def test_every_module_imports_alone():
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(_import_alone, [m for m in MODULES if m != "softmax_nb.__main__"]))
    failed = {module: run.stderr.strip().splitlines()[-1] for module, run in results if run.returncode}
    assert failed == {}


def test_old_import_paths_still_work():
    run = subprocess.run([sys.executable, "-W", "error::DeprecationWarning", "-c",
                          "import softmax_nb.io"], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode != 0 and "softmax_nb.files" in run.stderr
    code = ("import warnings; warnings.simplefilter('ignore')\n"
            "from softmax_nb.io import read_dataset, atomic_write\n"
            "from softmax_nb.streaming import H5Stream, fit_streaming, partial_fit\n"
            "from softmax_nb.estimator import SoftmaxClassifier, resolve_device\n"
            "from softmax_nb import kernels, gpu_kernels, config, optim, checkpoint, datasets\n"
            "assert kernels.loss_gradient and config.BLOCK_ROWS and checkpoint.TrainingInterrupted\n"
            "assert datasets.prepare and optim.LBFGS and gpu_kernels.DeviceData\n"
            "assert gpu_kernels.LANES_PER_ROW and kernels.predict\n"
            "from softmax_nb.estimator import HISTORY_KEYS\n"
            "import softmax_nb.config, softmax_nb.kernels.tunables as tunables\n"
            "softmax_nb.config.BLOCK_ROWS = 32\n"
            "assert tunables.BLOCK_ROWS == 32  # a tunable set through the old path takes effect\n"
            "try:\n"
            "    softmax_nb.streaming.StreamedObjective\n"
            "except AttributeError as error:\n"
            "    assert 'SoftmaxObjective' in str(error)\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stderr
