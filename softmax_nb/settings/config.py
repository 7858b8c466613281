"""Reading a configuration the way the workflow reads it: schema, defaults, key paths.

The workflow (``workflow/rules/common.smk``) validates ``config/config.yaml``
against :data:`~softmax_nb.settings.SCHEMA_PATH` and fills every key left out
with the schema's default.  :func:`load_config` and :func:`validate_config` do
the same for the command line (``softmax-nb prepare --config``) and for Python, and
:func:`fill_dataset_entry` does it for one ``datasets.<name>`` entry, so that one
entry means one dataset whichever path prepares it.

Errors are :class:`ConfigError` (a ``ValueError``) naming the file and the key
path, for example ``config.yaml: datasets.mine.val_fraction: 1.5 is greater than or
equal to the maximum of 1``.
"""

from __future__ import annotations

import copy
from pathlib import Path

from . import default as _default, schema as _schema

__all__ = ["ConfigError", "check_unique_keys", "load_config", "validate_config", "fill_dataset_entry", "dataset_default", "key_path"]


class ConfigError(ValueError):
    """A configuration value that cannot be used; the message names the key."""


def dataset_default(key):
    """The schema's default of a dataset key, as a Python default argument.

    Lists become tuples (an immutable default); the data functions and the CLI use
    it so that their defaults are the workflow's.
    """
    value = _default("dataset", key)
    return tuple(value) if isinstance(value, list) else value


def key_path(parts):
    """``("datasets", "mine", "path", 0)`` -> ``"datasets.mine.path[0]"``."""
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _default_filling_validator(schema):
    """A Draft 2020-12 validator that, like Snakemake's ``validate``, fills defaults.

    Every ``properties`` keyword first sets the missing properties to (a copy of)
    their ``default``, then validates them: the same filling Snakemake applies to
    the workflow's configuration, so both read the same values.
    """
    try:
        from jsonschema import Draft202012Validator, validators
    except ImportError:  # the [workflow] extra is not installed
        raise ConfigError("reading a configuration file needs jsonschema, part of the workflow extra: "
                          "pip install 'softmax_nb[workflow]' (or bash scripts/setup.sh workflow)") from None

    validate_properties = Draft202012Validator.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, subschema):
        if isinstance(instance, dict):
            for name, spec in properties.items():
                if "default" in spec and name not in instance:
                    instance[name] = copy.deepcopy(spec["default"])
        yield from validate_properties(validator, properties, instance, subschema)

    cls = validators.extend(Draft202012Validator, {"properties": set_defaults})
    return cls(schema)


def _message(error):
    """One line for a jsonschema error: the key path, then what is wrong."""
    path = list(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = set(error.schema.get("properties", {}))
        unknown = sorted(str(k) for k in error.instance if k not in allowed)
        where = key_path(path) or "the top level"
        return f"{where}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(allowed))})"
    where = key_path(path) or "the top level"
    return f"{where}: {error.message}"


def _validate(instance, schema, where):
    validator = _default_filling_validator(schema)
    from jsonschema.exceptions import best_match

    errors = list(validator.iter_errors(instance))
    if errors:
        error = best_match(errors)
        more = f" (and {len(errors) - 1} more error(s))" if len(errors) > 1 else ""
        prefix = f"{where}: " if where else ""
        raise ConfigError(f"{prefix}{_message(error)}{more}")
    return instance


def validate_config(config, *, where="config"):
    """A whole configuration, checked against the schema, with every default filled.

    Parameters
    ----------
    config : dict
        As read from ``config/config.yaml``; not modified.
    where : str
        Names the configuration in error messages (the file name).

    Returns
    -------
    dict
        A new dict: ``config`` with every key the schema knows set (defaults where
        left out), as the workflow sees it.  A single ``sweep`` grid is wrapped in a
        list, as the workflow does.

    Raises
    ------
    ConfigError
        ``"<where>: <key path>: <what is wrong>"``.
    """
    if not isinstance(config, dict):
        raise ConfigError(f"{where} must hold a mapping at the top level, not {type(config).__name__}")
    config = copy.deepcopy(config)
    if isinstance(config.get("sweep"), dict):
        config["sweep"] = [config["sweep"]]
    return _validate(config, _schema(), where)


def _unique_key_loader():
    """A safe YAML loader that refuses a key given twice in one mapping (YAML would keep the
    last one silently: two models of one name would become one)."""
    import yaml

    class UniqueKeyLoader(yaml.SafeLoader):
        def construct_mapping(self, node, deep=False):
            seen = {}
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=deep)
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"key {key!r} appears twice in one mapping (first on line "
                        f"{seen[key] + 1}); the second would silently replace the first", key_node.start_mark)
                seen[key] = key_node.start_mark.line
            return super().construct_mapping(node, deep=deep)

    return UniqueKeyLoader


def check_unique_keys(path):
    """Refuse a YAML file that gives one key twice in a mapping (ConfigError naming the line)."""
    import yaml

    try:
        with open(path, encoding="utf-8-sig") as handle:
            yaml.load(handle, Loader=_unique_key_loader())
    except yaml.constructor.ConstructorError as exc:
        raise ConfigError(f"config file {str(path)!r}: {exc.problem} (line {exc.problem_mark.line + 1})") from None
    except (yaml.YAMLError, OSError, UnicodeDecodeError):
        pass  # Snakemake itself reports an unreadable file


def load_config(path):
    """Read a YAML configuration file and :func:`validate_config` it.

    Raises
    ------
    ConfigError
        The file does not exist, is not YAML, or does not match the schema; the
        message names the file (and the key).
    """
    import yaml

    path = Path(path)
    if not path.exists():
        raise ConfigError(f"config file {str(path)!r} does not exist")
    if path.is_dir():
        raise ConfigError(f"config file {str(path)!r} is a folder")
    try:
        with open(path, encoding="utf-8-sig") as handle:
            config = yaml.load(handle, Loader=_unique_key_loader())
    except yaml.constructor.ConstructorError as exc:
        raise ConfigError(f"config file {str(path)!r}: {exc.problem} (line {exc.problem_mark.line + 1})") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {str(path)!r} is not valid YAML: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config file {str(path)!r} is not UTF-8 text: {exc}") from exc
    if config is None:
        config = {}
    return validate_config(config, where=str(path))


def fill_dataset_entry(entry, *, name="dataset", where=None):
    """One ``datasets.<name>`` entry checked against the schema, with defaults filled.

    Parameters
    ----------
    entry : dict or None
        The entry (``None`` or ``{}`` is all defaults); not modified.
    name : str
        The entry's name: errors say ``datasets.<name>.<key>``.
    where : str, optional
        Prefix of error messages (a file name).

    Returns
    -------
    dict
        A new dict with every dataset key of the schema.
    """
    if entry is None:
        entry = {}
    prefix = f"{where}: " if where else ""
    if not isinstance(entry, dict):
        raise ConfigError(f"{prefix}datasets.{name} must be a mapping, got {type(entry).__name__}")
    tree = _schema()
    schema = {
        "$schema": tree.get("$schema"),
        "type": "object",
        "properties": {"datasets": {"type": "object", "properties": {name: {"$ref": "#/$defs/dataset"}}}},
        "$defs": tree["$defs"],
    }
    filled = _validate({"datasets": {name: copy.deepcopy(entry)}}, schema, where)
    return filled["datasets"][name]
