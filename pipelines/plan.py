"""Which runs a command makes: one per variant (and per seed), with every run parameter.

run-local and submit plan the same way, so a local run and a cluster run of one variant
get the same arguments: the pipeline's defaults, then the variant's parameters, then the
user's settings (`--config`, `--set`), then the seed and the dataset.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fgsgl.errors import UsageError
from fgsgl.runtime.parameters import resolve_settings


@dataclass(frozen=True)
class PlannedRun:
    name: str  # the run's name: the variant, or variant-seedN with --seeds
    variant: str
    seed: int | None
    arguments: dict[str, Any]  # every run parameter

    def changed(self, defaults: Mapping[str, Any]) -> dict[str, Any]:
        """The arguments that differ from `defaults` (what a person wants to see)."""
        return {k: v for k, v in self.arguments.items() if defaults.get(k, object()) != v}


def read_settings(
    items: list[str] | None = None,
    *,
    config: str | Path | None = None,
    values: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """`--config FILE`, a mapping and `--set KEY=VALUE` items -> run parameter values."""
    from fgsgl.pipelines.pipeline import parameter_types

    return resolve_settings(items, parameter_types(), config=config, values=values)


def parse_seeds(text: str | None) -> list[int] | None:
    """`--seeds 0,1,2` -> [0, 1, 2]."""
    if text is None:
        return None
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError as e:
        raise UsageError(f"--seeds {text!r}: expected integers separated by commas") from e
    if not seeds or len(set(seeds)) != len(seeds):
        raise UsageError(f"--seeds {text!r}: expected distinct integers, e.g. 0,1,2")
    return seeds


def plan_runs(
    variants: str | Sequence[str] | None,
    *,
    settings: Mapping[str, Any] | None = None,
    seeds: Sequence[int] | None = None,
    dataset: str | None = None,
    fingerprint: str | None = None,
) -> list[PlannedRun]:
    """The runs for `--variant NAME|all` (or a list of names) and `--seeds`."""
    from fgsgl.pipelines.pipeline import parameter_defaults
    from fgsgl.pipelines.variants import select

    names = variants if isinstance(variants, str) or variants is None else ",".join(variants)
    defaults = parameter_defaults()
    runs = []
    for variant in select(names):
        for seed in seeds if seeds else [None]:
            args = {**defaults, **variant.parameters, **(settings or {})}
            if seed is not None:
                args["seed"] = seed
            if dataset is not None:
                args["dataset"] = dataset
            if fingerprint is not None:
                args["dataset_fingerprint"] = fingerprint
            name = variant.name if seed is None else f"{variant.name}-seed{seed}"
            runs.append(PlannedRun(name, variant.name, args.get("seed"), args))
    return runs
