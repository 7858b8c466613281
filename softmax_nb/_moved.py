"""Import paths of softmax_nb 0.1 that moved in the layered layout.

``import softmax_nb.io`` and friends keep working: a finder on ``sys.meta_path``
answers the old name with a module that takes its attributes from the new homes
and warns once (DeprecationWarning) which module to import instead.
"""

import importlib
import importlib.abc
import importlib.machinery
import sys
import types
import warnings

#: old module -> the modules that now hold its public names, searched in order.
MOVED = {
    "softmax_nb.config": ("softmax_nb.kernels.tunables",),
    "softmax_nb.gpu_kernels": ("softmax_nb.kernels.cuda", "softmax_nb.kernels.tunables"),
    "softmax_nb.optim": ("softmax_nb.model.optim",),
    "softmax_nb.estimator": ("softmax_nb.model.estimator", "softmax_nb.model.runtime",
                             "softmax_nb.model.training"),
    "softmax_nb.gradcheck": ("softmax_nb.model.gradcheck",),
    "softmax_nb.checkpoint": ("softmax_nb.files.checkpoint", "softmax_nb.model.training"),
    "softmax_nb.io": ("softmax_nb.files.atomic", "softmax_nb.files.common", "softmax_nb.files.dataset",
                      "softmax_nb.files.model", "softmax_nb.files.inspect", "softmax_nb.model.persistence"),
    "softmax_nb.datasets": ("softmax_nb.data.checks", "softmax_nb.data.sources", "softmax_nb.data.split",
                            "softmax_nb.data.preparation", "softmax_nb.data.chunked"),
    "softmax_nb.streaming": ("softmax_nb.data.streaming", "softmax_nb.model.backends",
                             "softmax_nb.model.estimator", "softmax_nb.model.incremental"),
}


#: Names that did not move but were replaced: what to use instead.
REPLACED = {
    "StreamedObjective": "softmax_nb.model.objective.SoftmaxObjective(softmax_nb.model.backends.StreamedRows(stream), "
                         "n_classes, C=...)",
    "_class_weight_vector": "softmax_nb.model.objective.class_weight_vector",
    "_Objective": "softmax_nb.model.objective.SoftmaxObjective",
    "_Monitor": "softmax_nb.model.training.Monitor",
}


class _MovedModule(types.ModuleType):
    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        for target in self.__moved_to__:
            module = importlib.import_module(target)
            if hasattr(module, name):
                return getattr(module, name)
        if name in REPLACED:
            raise AttributeError(f"{self.__name__}.{name} was replaced: use {REPLACED[name]}")
        raise AttributeError(
            f"{self.__name__}.{name} no longer exists; softmax_nb's modules moved to "
            f"{', '.join(self.__moved_to__)} (see docs/ARCHITECTURE.md)")

    def __setattr__(self, name, value):
        # Setting a tunable through the old path (softmax_nb.config.BLOCK_ROWS = ...)
        # sets it where the code reads it.
        if not name.startswith("__"):
            for target in self.__moved_to__:
                module = importlib.import_module(target)
                if hasattr(module, name):
                    setattr(module, name, value)
                    return
        super().__setattr__(name, value)

    def __dir__(self):
        names = set()
        for target in self.__moved_to__:
            names.update(dir(importlib.import_module(target)))
        return sorted(names)


class _MovedFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, fullname, path=None, target=None):
        if fullname in MOVED:
            return importlib.machinery.ModuleSpec(fullname, self)
        return None

    def create_module(self, spec):
        module = _MovedModule(spec.name)
        module.__moved_to__ = MOVED[spec.name]
        return module

    def exec_module(self, module):
        warnings.warn(
            f"{module.__name__} moved: import from {' / '.join(module.__moved_to__)} instead",
            DeprecationWarning, stacklevel=3)


def install():
    """Put the finder on ``sys.meta_path`` (once)."""
    if not any(isinstance(finder, _MovedFinder) for finder in sys.meta_path):
        sys.meta_path.append(_MovedFinder())
