"""Where an artifact is written: a local directory in place, or an object store through
local staging.

Extraction writes files into `work` (a local directory) and calls `put(name)` once a file
is final. For a local OUT, `work` is OUT itself and `put` does nothing. For an object
store, `work` is a temporary staging directory and `put` uploads the file (checked as
storage.upload says); a big file can be dropped locally after its upload, so the disk
holds only the work in flight. What already exists in OUT (a run to resume) is listed
with `existing()` and brought into `work` with `get(name)`.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from fgsgl import storage


class Target:
    def __init__(self, out: str) -> None:
        self.out = out.rstrip("/") if storage.is_remote(out) else out
        self.remote = storage.is_remote(out)
        if self.remote:
            self.work = Path(tempfile.mkdtemp(prefix="fgsgl-staging-"))
        else:
            self.work = Path(out)
            self.work.mkdir(parents=True, exist_ok=True)

    def uri(self, name: str) -> str:
        return storage.join(self.out, name)

    def existing(self) -> dict[str, dict[str, Any]]:
        """Files already in OUT: relative name -> {size, checksum, version}."""
        return storage.list_files(self.out)

    def get(self, name: str) -> Path:
        """A file of OUT as a local path (downloaded into the staging area when remote)."""
        local = self.work / name
        if self.remote:
            storage.download(self.uri(name), local)
        return local

    def put(self, name: str, *, drop_local: bool = False) -> dict[str, Any]:
        """Publish work/name to OUT; returns {size, checksum, version} of the stored file."""
        if not self.remote:
            return storage.info(self.work / name) or {}
        info = storage.upload(self.work / name, self.uri(name))
        if drop_local:
            (self.work / name).unlink(missing_ok=True)
        return info

    def delete(self, name: str) -> None:
        (self.work / name).unlink(missing_ok=True)
        if self.remote:
            storage.delete(self.uri(name))

    def close(self) -> None:
        if self.remote:
            shutil.rmtree(self.work, ignore_errors=True)

    def __enter__(self) -> Target:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
