"""Model folders for the text encoders: where they are, which weights they hold, and their hash.

A checkpoint is named by a local folder or a Hugging Face id, optionally pinned as
`ORG/NAME@REVISION`. An id is resolved to a folder through the Hugging Face cache
(downloaded there when the machine is online and HF_HUB_OFFLINE is unset; fgsgl.hub), so
everything after this module works on a local folder and the weights it hashes are exactly
the ones it loads. Only safetensors weights are read: pickled
weights (pytorch_model.bin) can run code when loaded.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fgsgl.errors import FgsglError
from fgsgl.hub import resolve

PICKLED_WEIGHTS = ("*.bin", "*.pt", "*.pth", "*.ckpt", "*.h5", "*.msgpack")


def resolve_model_dir(
    spec: str,
    *,
    part: str = "all",
    cache_dir: str | Path | None = None,
    local_files_only: bool | None = None,
) -> Path:
    """A local folder for `spec`: a folder path, or a hub id (optionally `@REVISION`) via
    the Hugging Face cache (fgsgl.hub.resolve, which also says where the files came from)."""
    return resolve(spec, part, cache_dir=cache_dir, local_files_only=local_files_only).folder


def read_config(folder: Path) -> dict[str, Any]:
    """config.json of a model folder, refusing a folder that is not a Hugging Face model."""
    path = folder / "config.json"
    if not path.is_file():
        raise FgsglError(f"{folder}: not a Hugging Face model folder (no config.json)")
    try:
        config = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise FgsglError(f"{path}: not valid JSON ({e})") from e
    if not isinstance(config, dict):
        raise FgsglError(f"{path}: expected a JSON object")
    return config


def weight_files(folder: Path) -> list[Path]:
    """The safetensors weight files of a model folder; a clear error when it has none."""
    found = sorted(folder.glob("*.safetensors"))
    if found:
        return found
    pickled = sorted(p.name for pattern in PICKLED_WEIGHTS for p in folder.glob(pattern))
    if pickled:
        raise FgsglError(
            f"{folder}: has weights only in pickle formats ({', '.join(pickled[:3])}); fgsgl "
            "reads safetensors weights only (save the model with safe_serialization=True)"
        )
    raise FgsglError(f"{folder}: no model weights (no *.safetensors file in the folder)")


def needs_remote_code(config: dict[str, Any]) -> bool:
    """Whether a config names classes that only its own Python files define."""
    from transformers import CONFIG_MAPPING

    return "auto_map" in config and config.get("model_type") not in CONFIG_MAPPING


def refuse_remote_code(folder: Path, what: str) -> FgsglError:
    return FgsglError(
        f"{folder}: {what} is defined by Python files inside the checkpoint (remote code); "
        "fgsgl runs such code only when asked: pass --trust-remote-code "
        "(trust_remote_code=True) if you trust this checkpoint"
    )
