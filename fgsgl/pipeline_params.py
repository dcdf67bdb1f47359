"""The pipeline's parameters in library terms (no KFP here).

The KFP pipeline exposes every training setting as a flat, typed run parameter (so the KFP
compare view lines them up) and hands each component exactly the parameters its signature
names. The settings and the table between flat names and the training config's dotted keys
are declared in fgsgl.settings; this module maps values across it and reads `--set
key=value` and `--config FILE` into parameter values.

KFP cannot pass a null parameter to a local run, so the one nullable setting uses a sentinel:
`mid_layer = 0` means null (the middle layer; real layers count from 1).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fgsgl.config_files import coerce, read_yaml
from fgsgl.errors import FgsglError
from fgsgl.settings import KEY_TO_PARAM, NULL_SENTINELS, OTHER_PARAMETERS, TRAIN_KEYS


def training_overrides(params: Mapping[str, Any]) -> dict[str, Any]:
    """Dotted training-config overrides for the training parameters among `params`.

    Other names (artifacts, resources) are ignored, so a component can pass its own
    parameters as they are.
    """
    out: dict[str, Any] = {}
    for name, value in params.items():
        key = TRAIN_KEYS.get(name)
        if key is None:
            continue
        if name in NULL_SENTINELS and value == NULL_SENTINELS[name]:
            value = None
        out[key] = value
    return out


def training_config_values(values: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """A config file's mapping as training config values: pipeline parameter names become
    their training keys (`stage1_lr` -> `stage1.lr`, null sentinels -> null), training keys
    stay, and the parameters of other steps (`frame_size`) are left out and returned by
    name. Anything else is kept, for the training config to report as unknown."""
    flat = _flatten(values)
    skipped = [key for key in flat if key in OTHER_PARAMETERS]
    out = {k: v for k, v in flat.items() if k not in OTHER_PARAMETERS and k not in TRAIN_KEYS}
    out.update(training_overrides(flat))  # parameter names -> keys, null sentinels -> null
    return out, skipped


def parameter_name(key: str, known: Mapping[str, Any]) -> str | None:
    """The pipeline parameter a `--set` key names: a parameter name or a training key."""
    if key in known:
        return key
    name = KEY_TO_PARAM.get(key)
    return name if name in known else None


def resolve_settings(
    items: list[str] | None,
    types: Mapping[str, Any],
    *,
    config: str | Path | None = None,
    values: Mapping[str, Any] | None = None,
    source: str = "--set",
) -> dict[str, Any]:
    """Parameter values from a `--config` YAML file, then `values`, then `--set KEY=VALUE`.

    Keys are pipeline parameter names (`stage2_epochs`, `num_frames`) or training config
    keys (`stage2.epochs`); a YAML file may nest sections (`stage2: {epochs: 3}`). Values
    are coerced to the parameter's type. Every unknown key and bad value is reported at once.
    """
    raw: list[tuple[str, str, Any]] = []  # (where, key, value)
    problems: list[str] = []
    if config is not None:
        for key, value in _flatten(read_yaml(config)).items():
            raw.append((str(config), key, value))
    for key, value in _flatten(values or {}).items():
        raw.append(("settings", key, value))
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            problems.append(f"{source} {item!r}: expected KEY=VALUE, e.g. stage2.epochs=3")
            continue
        raw.append((source, key.strip(), value.strip()))

    out: dict[str, Any] = {}
    for where, key, value in raw:
        name = parameter_name(key, types)
        if name is None:
            problems.append(f"{where}: unknown parameter {key!r}{_hint(key, types)}")
            continue
        try:
            out[name] = coerce_parameter(value, types[name])
        except ValueError as e:
            problems.append(f"{where}: {key}: {e}")
    if problems:
        if any("unknown parameter" in p for p in problems):
            problems.append("parameters: " + ", ".join(sorted(types)))
        raise FgsglError("bad pipeline parameters", problems)
    return out


def coerce_parameter(raw: Any, typ: Any) -> Any:
    """`raw` (YAML value or command-line string) as a value of the parameter type `typ`."""
    import yaml

    if typ in (dict, list):
        if isinstance(raw, str):
            try:
                raw = yaml.safe_load(raw)
            except yaml.YAMLError as e:
                raise ValueError(f"not valid YAML/JSON ({e})") from e
        if not isinstance(raw, typ):
            raise ValueError(f"{raw!r} is not a {typ.__name__}")
        return raw
    return coerce(raw, typ)


def _flatten(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested sections to dotted keys; dict-valued parameters (node selectors) stay whole."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        dotted = f"{prefix}{key}"
        section = any(k.startswith(f"{dotted}.") for k in KEY_TO_PARAM)
        if isinstance(value, dict) and section and not prefix:
            out.update(_flatten(value, f"{dotted}."))
        else:
            out[dotted] = value
    return out


def _hint(key: str, types: Mapping[str, Any]) -> str:
    choices = list(types) + [k for k, n in KEY_TO_PARAM.items() if n in types]
    close = difflib.get_close_matches(key, choices, n=1)
    return f" (did you mean {close[0]}?)" if close else ""
