"""Model folders for the text encoders: where they are, which weights they hold, and their hash.

A checkpoint is named by a local folder or a Hugging Face id. An id is resolved to a folder
through the Hugging Face cache (downloaded there when the machine is online and
HF_HUB_OFFLINE is unset), so everything after this module works on a local folder and the
weights it hashes are exactly the ones it loads. Only safetensors weights are read: pickled
weights (pytorch_model.bin) can run code when loaded.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from fgsgl.errors import FgsglError
from fgsgl.hashing import sha256_file, sha256_json

# What a text encoder needs from a hub repository: configs, tokenizer files, safetensors
# weights and (used only with --trust-remote-code) the model's own Python files.
HUB_PATTERNS = ["*.json", "*.safetensors", "*.txt", "*.model", "*.tiktoken", "*.py"]
PICKLED_WEIGHTS = ("*.bin", "*.pt", "*.pth", "*.ckpt", "*.h5", "*.msgpack")
_SHA256 = re.compile(r"[0-9a-f]{64}")


_HUB_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*(/[A-Za-z0-9_][A-Za-z0-9_.-]*)?")


def resolve_model_dir(
    spec: str, *, cache_dir: str | Path | None = None, local_files_only: bool | None = None
) -> Path:
    """A local folder for `spec` (a folder path, or a Hugging Face id via the hub cache)."""
    if not spec:
        raise FgsglError("empty model path or id")
    path = Path(spec).expanduser()
    if path.is_dir():
        return path.resolve()
    if path.exists():
        raise FgsglError(f"{spec}: not a folder (a text encoder is a Hugging Face model folder)")
    if not _HUB_ID.fullmatch(spec):
        raise FgsglError(f"{spec}: no such model folder")
    return _from_hub(spec, cache_dir=cache_dir, local_files_only=local_files_only)


def _from_hub(repo_id: str, *, cache_dir: str | Path | None, local_files_only: bool | None) -> Path:
    from huggingface_hub import constants, snapshot_download
    from huggingface_hub.errors import HFValidationError

    offline = constants.HF_HUB_OFFLINE if local_files_only is None else local_files_only
    try:
        folder = snapshot_download(
            repo_id,
            allow_patterns=HUB_PATTERNS,
            cache_dir=cache_dir,
            local_files_only=offline,
        )
    except HFValidationError as e:
        raise FgsglError(f"{repo_id}: no such model folder, and not a valid Hugging Face id") from e
    except Exception as e:  # hub errors come in many types; all mean "could not get it"
        where = (
            "not a local folder, and not in the Hugging Face cache (offline)"
            if offline
            else f"not a local folder, and the Hugging Face hub did not give it ({e})"
        )
        raise FgsglError(f"{repo_id}: {where}") from e
    return Path(folder)


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


def _file_sha256(path: Path) -> str:
    """SHA-256 of a file; in the hub cache the blob is already named by it (LFS files)."""
    real = Path(os.path.realpath(path))
    if real.parent.name == "blobs" and _SHA256.fullmatch(real.name):
        return real.name
    return sha256_file(real)


def weights_revision(files: list[Path]) -> tuple[str, dict[str, str]]:
    """(revision, {file name: sha256}): the revision hashes the names and contents together."""
    digests = {p.name: _file_sha256(p) for p in files}
    return sha256_json(digests), digests


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
