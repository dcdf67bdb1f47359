"""Content fingerprints: KFP's cache key does not hash artifact contents, so we do."""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

_CHUNK = 1 << 20
_SHA256 = re.compile(r"[0-9a-f]{64}")


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_json(obj: Any) -> str:
    """Hash of a JSON-able value, independent of key order and whitespace."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def short(digest: str, n: int = 12) -> str:
    return digest[:n]


def weight_file_sha256(path: str | Path) -> str:
    """SHA-256 of a file; in the Hugging Face cache the blob is already named by it."""
    real = Path(os.path.realpath(path))
    if real.parent.name == "blobs" and _SHA256.fullmatch(real.name):
        return real.name
    return sha256_file(real)


def weights_revision(files: list[Path]) -> tuple[str, dict[str, str]]:
    """(revision, {file name: sha256}): the revision hashes the names and contents together."""
    digests = {p.name: weight_file_sha256(p) for p in files}
    return sha256_json(digests), digests
