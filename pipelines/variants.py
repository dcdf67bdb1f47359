"""The named variants of pipelines/variants.yaml: parameter sets of the one pipeline."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml

from fgsgl.errors import FgsglError, UsageError

ALL = "all"


@dataclass(frozen=True)
class Variant:
    name: str
    description: str
    parameters: dict[str, Any]


@functools.cache
def load_variants() -> dict[str, Variant]:
    """Every variant in file order; checked against the pipeline's parameters."""
    from fgsgl.pipelines.pipeline import parameter_types

    text = resources.files("fgsgl.pipelines").joinpath("variants.yaml").read_text()
    raw = yaml.safe_load(text) or {}
    types = parameter_types()
    variants, problems = {}, []
    for name, spec in raw.items():
        params = dict((spec or {}).get("parameters") or {})
        for key, value in params.items():
            if key not in types:
                problems.append(f"variant {name}: unknown parameter {key!r}")
            elif not isinstance(value, types[key]):
                problems.append(f"variant {name}: {key}={value!r} is not a {types[key].__name__}")
        params["variant"] = name
        variants[name] = Variant(name, str((spec or {}).get("description", "")), params)
    if problems:
        raise FgsglError("pipelines/variants.yaml is invalid", problems)
    return variants


def select(name: str | None) -> list[Variant]:
    """`--variant NAME|all` (None = full) -> the variants, in file order."""
    variants = load_variants()
    if name in (None, ""):
        name = "full"
    if name == ALL:
        return list(variants.values())
    picked = []
    for part in name.split(","):
        if part not in variants:
            raise UsageError(f"unknown variant {part!r}; known: {', '.join(variants)} (or {ALL})")
        picked.append(variants[part])
    return picked
