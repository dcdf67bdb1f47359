"""Reading Hugging Face checkpoint files without loading a whole model.

InternVL checkpoints hold a 7B language model beside the vision tower; these helpers read
config.json, preprocessor_config.json and only the safetensors shards that hold the
tensors asked for, from a local folder or the Hugging Face cache/hub.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from torch import Tensor, nn

from fgsgl.errors import FgsglError


def _optional_file(source: str, filename: str) -> Path | None:
    """A checkpoint file from a local folder or the Hugging Face cache/hub, or None."""
    local = Path(source)
    if local.is_dir():
        path = local / filename
        return path if path.is_file() else None
    from transformers.utils import cached_file

    try:
        found = cached_file(
            source,
            filename,
            _raise_exceptions_for_missing_entries=False,
            _raise_exceptions_for_connection_errors=False,
        )
    except OSError as e:
        raise FgsglError(
            f"{source!r} is neither a local folder nor a Hugging Face repository that can be "
            f"read ({e})"
        ) from e
    return Path(found) if found else None


def read_config(source: str, name: str) -> dict[str, Any]:
    path = _optional_file(source, "config.json")
    if path is None:
        raise FgsglError(f"backbone {name}: no config.json in {source!r}")
    return json.loads(path.read_text())


def normalisation(source: str, mean: tuple, std: tuple) -> tuple[tuple, tuple]:
    """The checkpoint's own image_mean/image_std (preprocessor_config.json), else defaults."""
    path = _optional_file(source, "preprocessor_config.json")
    if path is None:
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


def read_prefixed_weights(source: str, prefixes: tuple[str, ...], name: str) -> dict[str, Tensor]:
    """The tensors under the first prefix found, prefix stripped, reading only the shards
    that hold them (the 7B language model of an InternVL checkpoint stays on disk)."""
    from safetensors import safe_open

    index_path = _optional_file(source, "model.safetensors.index.json")
    if index_path is not None:
        weight_map: dict[str, str] = json.loads(index_path.read_text())["weight_map"]
    else:
        single = _optional_file(source, "model.safetensors")
        if single is None:
            raise FgsglError(f"backbone {name}: no model.safetensors(.index.json) in {source!r}")
        with safe_open(single, "pt") as f:
            weight_map = dict.fromkeys(f.keys(), "model.safetensors")
    for prefix in prefixes:
        shards = sorted({shard for key, shard in weight_map.items() if key.startswith(prefix)})
        if not shards:
            continue
        weights: dict[str, Tensor] = {}
        for shard in shards:
            path = _optional_file(source, shard)
            if path is None:
                raise FgsglError(f"backbone {name}: shard {shard} is missing from {source!r}")
            with safe_open(path, "pt") as f:
                for key in f.keys():  # noqa: SIM118 (safe_open is not iterable)
                    if key.startswith(prefix):
                        weights[key[len(prefix) :]] = f.get_tensor(key)
        return weights
    raise FgsglError(
        f"backbone {name}: no vision weights in {source!r} (looked for keys starting with "
        f"{', '.join(prefixes)})"
    )


def load_all(model: nn.Module, weights: dict[str, Tensor], name: str) -> None:
    """Load every weight, refusing a checkpoint that does not match the config exactly."""
    expected = set(model.state_dict())
    missing, unexpected = sorted(expected - set(weights)), sorted(set(weights) - expected)
    if missing or unexpected:
        problems = [f"missing: {k}" for k in missing[:20]] + [
            f"unexpected: {k}" for k in unexpected[:20]
        ]
        raise FgsglError(f"backbone {name}: weights do not match its config", problems)
    on_meta = any(p.is_meta for p in model.parameters())
    model.load_state_dict(weights, strict=True, assign=on_meta)
