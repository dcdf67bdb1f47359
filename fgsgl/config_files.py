"""Config files and typed values: what `--config NAME|FILE` and `--set KEY=VALUE` read.

The files and the type coercion only; which keys a file may hold is fgsgl.settings'.
"""

from __future__ import annotations

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


def read_yaml(path: str | Path) -> dict[str, Any]:
    """The mapping in one config file, given by path or by shipped name, as written
    (fgsgl.settings.read_file resolves `extends:` and the sections)."""
    path = config_path(path)
    try:
        values = yaml.safe_load(path.read_text())
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
        else:
            try:
                raw = yaml.safe_load(text)
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
            return float(raw)
        if isinstance(raw, str):  # YAML 1.1 reads "1e-4" as a string
            try:
                return float(raw)
            except ValueError:
                pass
        raise ValueError(f"{raw!r} is not a number")
    if base is str:
        if isinstance(raw, str):
            return raw
        raise ValueError(f"{raw!r} is not a string")
    raise ValueError(f"unsupported field type {typ!r}")  # a new field type needs a branch
