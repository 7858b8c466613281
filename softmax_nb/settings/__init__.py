"""The one table of defaults and choices: ``config.schema.yaml`` beside this file.

The workflow validates its configuration against that schema; the estimator's
parameter defaults, the CLI's option defaults and the data preparation functions
read theirs from it here, so a default is written once.

- :data:`SCHEMA_PATH`: the schema file (package data);
- :func:`defaults` ``(section)``: ``{key: default}`` of ``"dataset"``, ``"model"``,
  ``"gradcheck"``, ``"evaluate"``, ``"plots"``;
- :func:`choices` ``(section, key)``: the allowed values of an enum key.
"""

import copy
import functools
from pathlib import Path

SCHEMA_PATH = Path(__file__).with_name("config.schema.yaml")


@functools.lru_cache(maxsize=1)
def _schema():
    import yaml

    with open(SCHEMA_PATH, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def schema():
    """The configuration schema as a dict (a copy: callers may edit it)."""
    return copy.deepcopy(_schema())


def _properties(section):
    tree = _schema()
    if section in tree["$defs"]:
        return tree["$defs"][section]["properties"]
    if section in tree["properties"] and "properties" in tree["properties"][section]:
        return tree["properties"][section]["properties"]
    raise KeyError(f"the configuration schema has no section {section!r}")


def defaults(section):
    """``{key: default}`` of one section of the schema (a fresh copy)."""
    return {key: copy.deepcopy(spec.get("default")) for key, spec in _properties(section).items()}


def default(section, key):
    """The default of one key."""
    return copy.deepcopy(_properties(section)[key].get("default"))


def choices(section, key):
    """The allowed values of an enum key, as a tuple (None included where allowed)."""
    return tuple(_properties(section)[key]["enum"])
