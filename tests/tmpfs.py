"""A small real tmpfs for full-disk tests: mounted by the test, unmounted in teardown.

Use the `small_tmpfs` fixture (registered in conftest.py) or `mounted_tmpfs` directly:

    def test_x(small_tmpfs):
        small_tmpfs.path          # the mount point (a pathlib.Path)
        small_tmpfs.resize(8)     # grow (or shrink) it in MiB, keeping its contents
        small_tmpfs.free_bytes()  # what is left

Mounting needs root (or CAP_SYS_ADMIN); where it is refused the test is skipped with the reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass(frozen=True)
class Tmpfs:
    path: Path

    def resize(self, size_mib: float) -> None:
        """Remount with a new size: the files stay, so this is how a test 'frees space'."""
        _mount_cmd(["mount", "-o", f"remount,size={_size(size_mib)}", str(self.path)])

    def free_bytes(self) -> int:
        return shutil.disk_usage(self.path).free

    def fill(self, leave_bytes: int = 0, name: str = "filler.bin") -> Path:
        """Write a filler file until only `leave_bytes` remain free; delete it to free space."""
        filler = self.path / name
        size = max(0, self.free_bytes() - leave_bytes)
        with open(filler, "wb") as f:
            f.write(b"\0" * size)
        return filler


def _size(size_mib: float) -> str:
    return f"{int(size_mib * 1024)}k"


def _mount_cmd(cmd: list[str]) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise OSError(f"{' '.join(cmd)}: {done.stderr.strip() or done.returncode}")


@contextmanager
def mounted_tmpfs(path: Path, size_mib: float = 3) -> Iterator[Tmpfs]:
    """Mount a `size_mib` MiB tmpfs at `path` (created); skip the test where mounting is refused."""
    path.mkdir(parents=True, exist_ok=True)
    if shutil.which("mount") is None:
        pytest.skip("full-disk test needs a tmpfs: no `mount` command here")
    if hasattr(os, "geteuid") and os.geteuid() != 0:
        pytest.skip("full-disk test needs a tmpfs: mounting one needs root")
    try:
        _mount_cmd(["mount", "-t", "tmpfs", "-o", f"size={_size(size_mib)}", "tmpfs", str(path)])
    except OSError as e:
        pytest.skip(f"full-disk test needs a tmpfs: mount refused ({e})")
    try:
        yield Tmpfs(path)
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Tmpfs]:
    """A 3 MiB tmpfs under the test's tmp_path."""
    with mounted_tmpfs(tmp_path / "tmpfs", 3) as fs:
        yield fs
