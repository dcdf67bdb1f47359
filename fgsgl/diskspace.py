"""A full disk as one clear error: which path filled up, how much was needed, what is kept.

A write that meets ENOSPC (or a quota, EDQUOT) raises OSError errno 28 deep inside numpy,
pandas or torch, with a message that names neither the artifact nor the space it needed.
Steps wrap their writes in `disk_full_as_error(path, needed=...)`, which turns that OSError
into DiskFullError (an FgsglError: the CLI prints it without a traceback):

    with disk_full_as_error(out, needed=estimate, then="rerun the same command to resume"):
        write_everything()
"""

from __future__ import annotations

import errno
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fgsgl.errors import DiskFullError

FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)


def is_disk_full(error: BaseException) -> bool:
    return isinstance(error, OSError) and error.errno in FULL_ERRNOS


def free_bytes(path: str | Path) -> int | None:
    """Free bytes on the file system holding `path` (its nearest existing parent)."""
    p = Path(path).absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    try:
        return shutil.disk_usage(p).free
    except OSError:
        return None


def human_bytes(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def disk_full_error(
    path: str | Path,
    error: OSError | None = None,
    *,
    needed: int | None = None,
    then: str = "",
) -> DiskFullError:
    """The one message: the path that filled, the file being written, needed and free."""
    target = Path(path)
    file = getattr(error, "filename", None)
    writing = f" while writing {file}" if file and Path(file) != target else ""
    parts = [f"{target}: no space left on device{writing}"]
    if needed is not None:
        parts.append(f"it needs about {human_bytes(needed)} more")
    free = free_bytes(target)
    if free is not None:
        parts.append(f"{human_bytes(free)} free there now")
    message = "; ".join(parts)
    return DiskFullError(f"{message}. {then}" if then else message, path=str(target))


@contextmanager
def disk_full_as_error(
    path: str | Path, *, needed: int | None = None, then: str = ""
) -> Iterator[None]:
    """Turn an ENOSPC / EDQUOT OSError raised inside into one DiskFullError naming `path`."""
    try:
        yield
    except OSError as e:
        if not is_disk_full(e):
            raise
        raise disk_full_error(path, e, needed=needed, then=then) from e
