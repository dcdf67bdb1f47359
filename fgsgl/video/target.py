"""Where an artifact is written: a local directory in place, or gs:// through local staging.

Extraction writes files into `work` (a local directory) and calls `put(name)` once a file
is final. For a local OUT, `work` is OUT itself and `put` does nothing. For gs://, `work`
is a temporary staging directory and `put` uploads the file (the upload is verified with
CRC32C by the client); a big file can be dropped locally after its upload, so the disk
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
        self.out = out.rstrip("/") if storage.is_gcs(out) else out
        self.remote = storage.is_gcs(out)
        if self.remote:
            self.work = Path(tempfile.mkdtemp(prefix="fgsgl-staging-"))
        else:
            self.work = Path(out)
            self.work.mkdir(parents=True, exist_ok=True)

    def uri(self, name: str) -> str:
        return storage.join(self.out, name)

    def existing(self) -> dict[str, dict[str, Any]]:
        """Files already in OUT: relative name -> {size, crc32c (gs:// only)}."""
        return storage.list_files(self.out)

    def get(self, name: str) -> Path:
        """A file of OUT as a local path (downloaded into the staging area for gs://)."""
        local = self.work / name
        if self.remote:
            storage.download(self.uri(name), local)
        return local

    def put(self, name: str, *, drop_local: bool = False) -> dict[str, Any]:
        """Publish work/name to OUT; returns {size, crc32c} of the stored object."""
        if not self.remote:
            return {"size": (self.work / name).stat().st_size, "crc32c": None}
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
