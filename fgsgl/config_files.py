"""Config files and typed values: what `--config NAME|FILE` and `--set KEY=VALUE` read.

The files and the type coercion only; which keys a file may hold is fgsgl.settings'.
"""

from __future__ import annotations

import math
import re
import types
import typing
from pathlib import Path
from typing import Any

import yaml

from fgsgl.errors import FgsglError


def named_configs() -> dict[str, Path]:
    """The config files shipped with fgsgl (configs/ in the checkout), by name."""
    from importlib.resources import files

    folder = Path(str(files("fgsgl.configs")))
    return {p.stem: p for p in sorted(folder.glob("*.yaml"))}


def config_path(name_or_path: str | Path) -> Path:
    """A YAML file path, or the shipped config of that name (`cpu-tiny`, `paper-smg`, ...)."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    named = named_configs()
    if str(name_or_path) in named:
        return named[str(name_or_path)]
    raise FgsglError(
        f"{path}: config file not found (and no shipped config of that name; "
        f"shipped: {', '.join(named) or 'none'})"
    )


EXTENDS = "extends"  # a config file's key naming the file (or shipped name) it builds on


# Numbers as people write them, in decimal. YAML 1.1 (PyYAML) also reads 010 as octal 8,
# 1:30 as 90 (base 60), 0x10, 0b11 and 1_000, and Python's int()/float() read other
# scripts' digits: a value like that would change without a word, so it is refused instead.
DECIMAL_INT = re.compile(r"[-+]?[0-9]+")
DECIMAL_FLOAT = re.compile(r"[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+|[0-9]+(?=[eE]))(?:[eE][-+]?[0-9]+)?")
_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"


class _DecimalLoader(yaml.SafeLoader):
    """PyYAML's safe loader with decimal numbers only (anything else stays a string, which
    the setting's type then refuses); .inf and .nan stay floats (refused as not finite)."""


_DecimalLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in (_INT_TAG, _FLOAT_TAG)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_DecimalLoader.add_implicit_resolver(
    _INT_TAG, re.compile(rf"^(?:{DECIMAL_INT.pattern})$"), list("-+0123456789")
)
_DecimalLoader.add_implicit_resolver(
    _FLOAT_TAG,
    re.compile(rf"^(?:{DECIMAL_FLOAT.pattern}|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"),
    list("-+0123456789."),
)


def _decimal_int(loader: yaml.SafeLoader, node: yaml.Node) -> int:
    value = loader.construct_scalar(node)
    if not DECIMAL_INT.fullmatch(str(value)):
        raise yaml.constructor.ConstructorError(
            None, None, f"{value!r} is not a decimal integer", node.start_mark
        )
    return int(value)


_DecimalLoader.add_constructor(_INT_TAG, _decimal_int)


def load_yaml_text(text: str) -> Any:
    """YAML text as `read_yaml` reads it (decimal numbers only); yaml.YAMLError if invalid."""
    try:
        return yaml.load(text, Loader=_DecimalLoader)  # a SafeLoader: no arbitrary objects
    except (ValueError, TypeError, RecursionError) as e:  # a bad !!float, a date 2024-13-45
        raise yaml.YAMLError(str(e)) from e


def read_yaml(path: str | Path) -> dict[str, Any]:
    """The mapping in one config file, given by path or by shipped name, as written
    (fgsgl.settings.read_file resolves `extends:` and the sections)."""
    path = config_path(path)
    try:
        values = load_yaml_text(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as e:
        raise FgsglError(f"{path}: not UTF-8 text (byte {e.start}: {e.reason})") from e
    except OSError as e:
        raise FgsglError(f"{path}: cannot read it ({e.strerror or e})") from e
    except yaml.YAMLError as e:
        raise FgsglError(f"{path}: not valid YAML ({e})") from e
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise FgsglError(
            f"{path}: expected a mapping of config keys, found {type(values).__name__}"
        )
    return values


def coerce(raw: Any, typ: Any) -> Any:
    """`raw` (a YAML value, or a string from the command line) as a value of type `typ`."""
    options = typing.get_args(typ) if isinstance(typ, types.UnionType) else (typ,)
    optional = type(None) in options
    base = next(t for t in options if t is not type(None))
    if isinstance(raw, str) and base is not str:
        text = raw.strip()
        if text.lower() in ("null", "none", "~", ""):
            raw = None
        elif base in (int, float):
            raw = _decimal(text)
        else:
            try:
                raw = load_yaml_text(text)
            except yaml.YAMLError:
                raw = text
    if raw is None:
        if optional:
            return None
        raise ValueError(f"needs a {base.__name__}, got null")
    if base is bool:
        if isinstance(raw, bool):
            return raw
        raise ValueError(f"{raw!r} is not a boolean (true or false)")
    if base is int:
        if isinstance(raw, int) and not isinstance(raw, bool):
            return raw
        raise ValueError(f"{raw!r} is not an integer")
    if base is float:
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            try:
                number = float(raw)
            except OverflowError:  # an int beyond any float
                number = math.inf
            if not math.isfinite(number):
                raise ValueError(f"{raw!r} is not a finite number")
            return number
        if isinstance(raw, str) and raw.lower().lstrip("+-.") in ("inf", "infinity", "nan"):
            raise ValueError(f"{raw!r} is not a finite number")
        raise ValueError(f"{raw!r} is not a number")
    if base is str:
        if isinstance(raw, str):
            return raw
        raise ValueError(f"{raw!r} is not a string")
    raise ValueError(f"unsupported field type {typ!r}")  # a new field type needs a branch


def _decimal(text: str) -> int | float | str:
    """A command-line number in decimal; anything else as the text, for the type's error."""
    if DECIMAL_INT.fullmatch(text):
        return int(text)
    if DECIMAL_FLOAT.fullmatch(text):
        return float(text)
    return text
