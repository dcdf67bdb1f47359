"""The pipeline's parameters in library terms (no KFP here).

The KFP pipeline exposes every run setting as a flat, typed run parameter (so the KFP
compare view lines them up) and hands each component exactly the parameters its signature
names. The settings, their dotted keys and flat names are fgsgl.settings'; this module maps
parameter values back to training config keys and reads what people type (`--config`,
`--set`) into the parameters of a step or of the whole pipeline.

KFP cannot pass a null parameter to a local run, so the one nullable setting uses a sentinel:
`mid_layer = 0` means null (the middle layer; real layers count from 1).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from fgsgl.errors import FgsglError
from fgsgl.settings import BY_NAME, NULL_SENTINELS, TRAIN_KEYS, as_parameters, read


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


def resolve_settings(
    items: Sequence[str] | None,
    types: Mapping[str, Any],
    *,
    config: str | Path | None = None,
    values: Mapping[str, Any] | None = None,
    source: str = "--set",
) -> dict[str, Any]:
    """Parameter values (by flat name) from a `--config` file, then `values`, then `--set`
    items (fgsgl.settings.read), for the parameters named in `types`: the pipeline's, or
    one step's when rerunning it."""
    params = as_parameters(read(items, config=config, values=values, source=source))
    problems = [
        f"{BY_NAME[name].key} is not a parameter of this step (it has: "
        f"{', '.join(BY_NAME[n].key if n in BY_NAME else n for n in sorted(types))})"
        for name in params
        if name not in types
    ]
    if problems:
        raise FgsglError("bad pipeline parameters", problems)
    return params
