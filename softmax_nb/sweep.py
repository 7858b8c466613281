"""Hyperparameter sweeps: expand a ``sweep:`` config section into named model entries.

A sweep is a grid (a Cartesian product) over model settings. Each point of the grid becomes an
ordinary model entry with a readable name, so the workflow treats a sweep of hundreds of models
exactly like hand-written entries: one wildcard value, one train job (one cluster job) per model.

Config shape (one grid, or a list of grids)::

    sweep:
      - base: lbfgs            # optional: a model entry whose settings every point starts from
        settings:              # optional: fixed settings for every point of this grid
          max_iter: 200
        grid:                  # the axes; every value list must be non-empty
          C: [0.01, 0.1, 1.0]
          dtype: [float32, float64]
        prefix: lbfgs          # optional: first part of each name (default: the solver, if known)
        name: "lbfgs_C{C}_{dtype}"   # optional: a name template over the grid keys

Points are produced in a fixed order: grids in the order given, then the product of the axes with
the last axis varying fastest (as :func:`itertools.product`), so the model list, and therefore the
job list, is the same on every run.

Default names join the prefix with one part per axis, in axis order: a string value stands alone
(``float32``), a number is written after a short form of its key (``C0.01``, ``lr0.001``, ``bs64``),
a boolean as ``key`` or ``no-key``. For example ``lbfgs_C0.01_float32``.
"""

from __future__ import annotations

import itertools
import math
import numbers
import re
from collections.abc import Iterable, Mapping

__all__ = ["SweepError", "expand_sweep", "format_value"]

# Short forms used in generated names; keys not listed appear as written in the config.
KEY_ABBREVIATIONS = {
    "learning_rate": "lr",
    "batch_size": "bs",
    "max_iter": "it",
    "epochs": "ep",
    "momentum": "mom",
    "label_smoothing": "ls",
    "l1_ratio": "l1r",
    "tol": "tol",
    "seed": "seed",
}

# Model names become Snakemake wildcard values and file names: keep them to a portable alphabet.
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")

# Keys of a grid entry itself (not model settings).
_GRID_ENTRY_KEYS = frozenset({"base", "settings", "grid", "prefix", "name"})


class SweepError(ValueError):
    """A ``sweep:`` section that cannot be expanded; the message names the offending entry."""


def format_value(value) -> str:
    """Format one setting value for use inside a model name.

    Parameters
    ----------
    value : str, int, float or bool
        The value of a grid axis.

    Returns
    -------
    str
        Shortest form that reads back as the same value: ``0.01``, ``1e-05``, ``100``,
        ``float32``. Exponents drop the ``+`` sign (``1e20``) so the result stays in the name
        alphabet.

    Raises
    ------
    SweepError
        If the value is not a finite number, a boolean or a string.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        value = float(value)
        if not math.isfinite(value):
            raise SweepError(f"sweep value {value!r} is not finite")
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        # repr is the shortest text that reads back as the same float, so distinct values
        # never share a name through rounding.
        return repr(value).replace("+", "")
    if isinstance(value, str):
        return value
    raise SweepError(
        f"sweep value {value!r} has type {type(value).__name__}; "
        "expected a number, a boolean or a string"
    )


def _name_part(key: str, value) -> str:
    if isinstance(value, bool):
        short = KEY_ABBREVIATIONS.get(key, key)
        return short if value else f"no-{short}"
    if isinstance(value, str):
        return value
    return f"{KEY_ABBREVIATIONS.get(key, key)}{format_value(value)}"


def _is_scalar(value) -> bool:
    return isinstance(value, (str, numbers.Real, bool))


def _check_setting_keys(keys: Iterable[str], allowed_keys, where: str) -> None:
    if allowed_keys is None:
        return
    unknown = sorted(set(keys) - set(allowed_keys))
    if unknown:
        raise SweepError(
            f"{where}: unknown model setting(s) {', '.join(map(repr, unknown))}; "
            f"allowed: {', '.join(sorted(allowed_keys))}"
        )


def _expand_one(index: int, entry, base_models: Mapping, allowed_keys) -> list[tuple[str, dict]]:
    where = f"sweep[{index}]"
    if not isinstance(entry, Mapping):
        raise SweepError(f"{where}: expected a mapping with a 'grid', got {type(entry).__name__}")
    extra = sorted(set(entry) - _GRID_ENTRY_KEYS)
    if extra:
        raise SweepError(
            f"{where}: unknown key(s) {', '.join(map(repr, extra))}; "
            f"allowed: {', '.join(sorted(_GRID_ENTRY_KEYS))} (model settings go under 'settings' "
            "or 'grid')"
        )

    base_settings: dict = {}
    base_name = entry.get("base")
    if base_name is not None:
        if base_name not in base_models:
            known = ", ".join(map(repr, base_models)) or "none"
            raise SweepError(f"{where}.base: no model named {base_name!r} (models: {known})")
        base_settings = dict(base_models[base_name])

    settings = entry.get("settings") or {}
    if not isinstance(settings, Mapping):
        raise SweepError(f"{where}.settings: expected a mapping, got {type(settings).__name__}")
    _check_setting_keys(settings, allowed_keys, f"{where}.settings")

    grid = entry.get("grid")
    if not isinstance(grid, Mapping) or not grid:
        raise SweepError(f"{where}.grid: expected a non-empty mapping of setting -> list of values")
    _check_setting_keys(grid, allowed_keys, f"{where}.grid")
    axes = []
    for key, values in grid.items():
        if not isinstance(key, str):
            raise SweepError(f"{where}.grid: key {key!r} is not a string")
        if key in settings:
            raise SweepError(f"{where}: {key!r} is both a grid axis and a fixed setting")
        if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
            raise SweepError(
                f"{where}.grid.{key}: expected a list of values, got {type(values).__name__} "
                f"{values!r} (write [{values!r}] for a single value)"
            )
        values = list(values)
        if not values:
            raise SweepError(f"{where}.grid.{key}: the list of values is empty")
        for value in values:
            if not _is_scalar(value):
                raise SweepError(
                    f"{where}.grid.{key}: value {value!r} is not a number, boolean or string"
                )
            format_value(value)  # rejects inf/NaN with a clear message
        if len(set(map(repr, values))) != len(values):
            raise SweepError(f"{where}.grid.{key}: repeated values in {values!r}")
        axes.append((key, values))

    template = entry.get("name")
    prefix = entry.get("prefix")
    if prefix is None and template is None:
        solver = settings.get("solver", base_settings.get("solver"))
        if isinstance(solver, str) and "solver" not in grid:
            prefix = solver
    if prefix is not None and not isinstance(prefix, str):
        raise SweepError(f"{where}.prefix: expected a string, got {prefix!r}")

    points = []
    for combination in itertools.product(*(values for _, values in axes)):
        point = dict(zip((key for key, _ in axes), combination))
        if template is not None:
            try:
                name = str(template).format(
                    **{key: format_value(value) for key, value in point.items()}
                )
            except (KeyError, IndexError, ValueError) as error:
                raise SweepError(
                    f"{where}.name: template {template!r} cannot be filled from the grid keys "
                    f"{list(point)}: {error!r}"
                ) from None
        else:
            parts = ([prefix] if prefix else []) + [_name_part(k, v) for k, v in point.items()]
            name = "_".join(parts)
        if not NAME_PATTERN.match(name):
            raise SweepError(
                f"{where}: generated model name {name!r} is not usable as a file name or "
                "wildcard (letters, digits, '_', '.', '-'; first a letter or digit); set "
                "'prefix' or 'name'"
            )
        model = {**base_settings, **settings, **point}
        points.append((name, model))
    return points


def expand_sweep(
    sweep_cfg, base_models: Mapping, *, allowed_keys: Iterable[str] | None = None
) -> dict[str, dict]:
    """Expand a ``sweep:`` config section into model entries, after the hand-written ones.

    Parameters
    ----------
    sweep_cfg : mapping, list of mappings or None
        The ``sweep:`` section: one grid entry or a list of them (see the module docstring).
        ``None`` or an empty list means no sweep.
    base_models : mapping
        The ``models:`` section, name -> settings. Grid entries may start from one of them
        (``base:``); generated names must not collide with them.
    allowed_keys : iterable of str, optional
        Model setting names the workflow accepts (for example the properties of the model
        entry in the config schema). When given, unknown keys in ``settings`` or ``grid``
        are rejected here, naming the grid entry, instead of failing later in a job.

    Returns
    -------
    dict of str to dict
        All models: copies of ``base_models`` in their order, then every grid point in
        deterministic order (grids as listed; last axis varying fastest).

    Raises
    ------
    SweepError
        For a malformed grid entry, an unknown setting, an empty or repeated axis, an
        unusable name, or two models with the same name. The message names the entry.

    Examples
    --------
    >>> models = expand_sweep(
    ...     {"settings": {"solver": "lbfgs"}, "grid": {"C": [0.01, 1.0], "dtype": ["float32"]}},
    ...     {},
    ... )
    >>> list(models)
    ['lbfgs_C0.01_float32', 'lbfgs_C1_float32']
    >>> models["lbfgs_C1_float32"]
    {'solver': 'lbfgs', 'C': 1.0, 'dtype': 'float32'}
    """
    if not isinstance(base_models, Mapping):
        raise SweepError(f"models: expected a mapping of name -> settings, got {base_models!r}")
    if allowed_keys is not None:
        allowed_keys = frozenset(allowed_keys)
    models = {name: dict(settings) for name, settings in base_models.items()}
    if sweep_cfg is None:
        return models
    entries = [sweep_cfg] if isinstance(sweep_cfg, Mapping) else sweep_cfg
    if isinstance(entries, (str, bytes)) or not isinstance(entries, Iterable):
        raise SweepError(f"sweep: expected a mapping or a list of mappings, got {sweep_cfg!r}")

    origin = {name: "models" for name in models}
    for index, entry in enumerate(entries):
        for name, settings in _expand_one(index, entry, base_models, allowed_keys):
            if name in origin:
                raise SweepError(
                    f"sweep[{index}]: model name {name!r} is generated twice (also from "
                    f"{origin[name]}); two grid points format to the same name -- set 'prefix' "
                    "or 'name' to tell them apart"
                )
            origin[name] = f"sweep[{index}]"
            models[name] = settings
    return models
