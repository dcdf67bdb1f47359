"""Artifact directories: a metadata.json that says what made them, and staged writes.

Every step's output is a directory holding `metadata.json` with at least `kind`
(e.g. "fgsgl.frames"), `format_version` and the fgsgl version. A step reads its inputs
through `read_metadata(path, kind)` so that it refuses an input it cannot use with a clear
message instead of failing deep inside.

One-shot steps write through `staged_dir`: everything goes to a sibling temp folder that is
renamed into place only when the step succeeded, so a failure leaves no partial output.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fgsgl import __version__
from fgsgl.diskspace import disk_full_error, free_bytes, is_disk_full
from fgsgl.errors import FgsglError

METADATA = "metadata.json"
FORMAT_VERSION = 1


def write_json(path: str | Path, obj: Any) -> None:
    """Write JSON atomically (temp file + rename), so readers never see half a file."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")
    except BaseException:  # a full disk: no half-written temp file left behind
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)


def write_file_durably(path: str | Path, data: bytes, *, then: str = "") -> None:
    """Replace `path` by `data` so that a kill, a power cut or a full disk leaves the old
    file or the new one, never a torn one: temp file, fsync, rename, fsync of the folder.
    Space is checked first: a disk without room for `data` is one DiskFullError (`then`:
    what the user does next) and the old file stays as it was."""
    path = Path(path)
    free = free_bytes(path.parent)
    if free is not None and free < len(data):
        raise disk_full_error(path, needed=len(data), then=then)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        tmp.unlink(missing_ok=True)
        if is_disk_full(e):
            raise disk_full_error(path, e, needed=len(data), then=then) from e
        raise
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)  # the rename itself survives a power cut
    finally:
        os.close(folder)


def write_metadata(directory: str | Path, kind: str, **fields: Any) -> dict[str, Any]:
    meta = {
        "kind": kind,
        "format_version": FORMAT_VERSION,
        "fgsgl_version": __version__,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        **fields,
    }
    write_json(Path(directory) / METADATA, meta)
    return meta


def read_metadata(directory: str | Path, kind: str | None = None) -> dict[str, Any]:
    """Read an artifact's metadata, refusing a missing file or an artifact of another kind."""
    path = Path(directory) / METADATA
    if not path.is_file():
        what = f"a {kind} artifact" if kind else "an fgsgl artifact"
        raise FgsglError(f"{directory}: not {what} (no {METADATA})")
    try:
        meta = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise FgsglError(f"{path}: not valid JSON ({e})") from e
    if kind is not None and meta.get("kind") != kind:
        raise FgsglError(f"{directory}: expected a {kind} artifact, found {meta.get('kind')!r}")
    if meta.get("format_version") != FORMAT_VERSION:
        raise FgsglError(
            f"{directory}: artifact format {meta.get('format_version')!r}, "
            f"this fgsgl reads {FORMAT_VERSION}"
        )
    return meta


@contextlib.contextmanager
def staged_dir(out: str | Path, *, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temp folder beside `out`; on success it replaces `out`, on error it is removed."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists() and not overwrite:
        raise FgsglError(f"{out} already exists")
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        os.replace(out, old)
        os.replace(tmp, out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, out)
