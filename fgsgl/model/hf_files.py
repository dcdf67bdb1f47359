"""Reading Hugging Face checkpoint files without loading a whole model.

InternVL checkpoints hold a 7B language model beside the vision tower; these helpers read
config.json, preprocessor_config.json and only the safetensors shards that hold the
tensors asked for, from a local folder (fgsgl.hub.resolve puts hub checkpoints there,
downloading only the shards of the part a step needs).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from torch import Tensor, nn

from fgsgl.errors import FgsglError
from fgsgl.hub import INDEX, SINGLE


def read_config(folder: Path, name: str) -> dict[str, Any]:
    path = folder / "config.json"
    if not path.is_file():
        raise FgsglError(f"backbone {name}: no config.json in {folder}")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise FgsglError(f"{path}: not valid JSON ({e})") from e


def normalisation(folder: Path, mean: tuple, std: tuple) -> tuple[tuple, tuple]:
    """The checkpoint's own image_mean/image_std (preprocessor_config.json), else defaults."""
    path = folder / "preprocessor_config.json"
    if not path.is_file():
        return mean, std
    config = json.loads(path.read_text())
    config = config.get("image_processor", config)
    return tuple(config.get("image_mean", mean)), tuple(config.get("image_std", std))


def square_size(size: Any, name: str) -> int:
    if isinstance(size, list | tuple):
        if len(set(size)) != 1:
            raise FgsglError(f"backbone {name}: non-square image size {tuple(size)}")
        size = size[0]
    return int(size)


def weight_map(folder: Path, name: str) -> dict[str, str]:
    """Tensor name -> shard file, from the shard index or the one file's header."""
    from safetensors import safe_open

    if (folder / INDEX).is_file():
        return json.loads((folder / INDEX).read_text())["weight_map"]
    if not (folder / SINGLE).is_file():
        raise FgsglError(f"{name}: no {SINGLE} or {INDEX} in {folder}")
    with safe_open(folder / SINGLE, "pt") as f:
        return dict.fromkeys(f.keys(), SINGLE)


def read_prefixed_weights(
    folder: Path, prefixes: tuple[str, ...], name: str, *, required: bool = True
) -> tuple[dict[str, Tensor], list[str]]:
    """(tensors, shard files read): the tensors under the first of `prefixes` found, prefix
    stripped, reading only the shards that hold them (the 7B language model of an InternVL
    checkpoint stays on disk). An empty prefix takes every tensor. With required=False,
    ({}, []) when none is found."""
    from safetensors import safe_open

    shard_of = weight_map(folder, name)
    for prefix in prefixes:
        keys = [k for k in shard_of if k.startswith(prefix)]
        if not keys:
            continue
        weights: dict[str, Tensor] = {}
        shards = sorted({shard_of[k] for k in keys})
        for shard in shards:
            path = folder / shard
            if not path.is_file():
                raise FgsglError(f"{name}: shard {shard} is missing from {folder}")
            with safe_open(path, "pt") as f:
                for key in f.keys():  # noqa: SIM118 (safe_open is not iterable)
                    if key.startswith(prefix):
                        weights[key[len(prefix) :]] = f.get_tensor(key)
        return weights, shards
    if not required:
        return {}, []
    raise FgsglError(f"{name}: no weights in {folder} under {', '.join(repr(p) for p in prefixes)}")


def state_problems(
    expected: dict[str, Tensor], found: dict[str, Tensor], where: str = "the file", limit: int = 40
) -> list[str]:
    """Every tensor of `expected` missing from `found`, every unexpected one and every one of
    another shape (`where` names where `found` came from), the first `limit` of them."""
    problems = [f"missing: {k}" for k in sorted(set(expected) - set(found))]
    problems += [f"unexpected: {k}" for k in sorted(set(found) - set(expected))]
    problems += [
        f"{k}: shape {tuple(found[k].shape)} in {where}, {tuple(v.shape)} in the model"
        for k, v in expected.items()
        if k in found and found[k].shape != v.shape
    ]
    more = [f"... and {len(problems) - limit} more"] if len(problems) > limit else []
    return problems[:limit] + more


def load_all(model: nn.Module, weights: dict[str, Tensor], name: str) -> None:
    """Load every weight, refusing a checkpoint that does not match the config exactly:
    one error listing every missing, unexpected and wrongly shaped tensor."""
    problems = state_problems(model.state_dict(), weights, "the checkpoint")
    if problems:
        raise FgsglError(f"backbone {name}: weights do not match its config", problems)
    on_meta = any(p.is_meta for p in model.parameters())
    model.load_state_dict(weights, strict=True, assign=on_meta)
