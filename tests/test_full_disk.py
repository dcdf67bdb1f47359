"""A full disk, for real: extraction and text encoding on a small tmpfs the test mounts.

Each meets ENOSPC with one DiskFullError naming the path and the space still needed, leaves
nothing half-written that a rerun would trust, and after the tmpfs is grown (its files
kept) a rerun resumes and ends in the uninterrupted run's artifact.
"""

from __future__ import annotations

import logging
import math
import shutil
from pathlib import Path

import pytest
from text_helpers import synthmg_like_dataset, tiny_bert
from tmpfs import Tmpfs, mounted_tmpfs
from video_helpers import assert_same_artifact, coded_dataset

from fgsgl.errors import DiskFullError
from fgsgl.locks import OutputLock, lock_path
from fgsgl.text.encode import encode_texts
from fgsgl.video.extract import extract

PAGE = 4096  # tmpfs allocates whole pages
EXTRACT = {"frames": 4, "size": 48, "clips_per_shard": 2, "workers": 2}
SHARD_BYTES = 128 + 2 * 4 * 48 * 48 * 3  # header + 2 clips of T x S x S x 3


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six clips, one video each: three shards of two clips."""
    return coded_dataset(tmp_path_factory.mktemp("full-disk") / "ds", clips=6, frames=20)


@pytest.fixture(scope="module")
def uninterrupted(videos: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("whole") / "frames"
    extract(str(videos), str(out), **EXTRACT)
    return out


def test_extraction_stops_cleanly_on_a_full_disk_and_resumes_after_space_is_freed(
    videos: Path, uninterrupted: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Room for two of the three shards: the third one's reservation fails; the tasks still
    running finish (shard 1 is published), then one error; the rerun decodes shard 2 only."""
    shard_pages = math.ceil(SHARD_BYTES / PAGE)
    size_mib = (2 * shard_pages + 8) * PAGE / 2**20  # 2 shards, the lock, sidecars, 5 spare
    with mounted_tmpfs(tmp_path / "fs", size_mib) as fs:
        out = fs.path / "frames"
        warnings = caplog.at_level(logging.WARNING, logger="fgsgl")
        with warnings, pytest.raises(DiskFullError) as raised:
            extract(str(videos), str(out), **EXTRACT)
        message = str(raised.value)
        assert message.startswith(f"{out}: no space left on device while writing ")
        assert str(out / "shards" / ".00002.npy.partial") in message
        assert "needs about 54.1 KiB more" in message  # the one shard still to write
        assert "2 of 3 shards are finished and kept" in message
        assert raised.value.path == str(out)
        assert any("stops when the disk is full" in r.getMessage() for r in caplog.records)
        # nothing half-written: no partial file, no metadata, only the finished shards
        assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == [
            "shards",
            "shards/00000.json",
            "shards/00000.npy",
            "shards/00001.json",
            "shards/00001.npy",
        ]
        assert not lock_path(out).exists()
        fs.resize(3)
        summary = extract(str(videos), str(out), **EXTRACT)
        assert summary["skipped_shards"] == 2  # their clips are not decoded again
        assert_same_artifact(out, uninterrupted)


@pytest.fixture(scope="module")
def texts_inputs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, Path]:
    root = tmp_path_factory.mktemp("full-disk-texts")
    dataset = synthmg_like_dataset(root / "ds", clips=6)
    encoder = f"hf:{tiny_bert(root / 'bert')}"
    reference = root / "texts"
    encode_texts(str(dataset), str(reference), encoder=encoder)
    return dataset, encoder, reference


def same_files(a: Path, b: Path, skip: tuple[str, ...] = ()) -> bool:
    names = sorted(p.name for p in a.iterdir())
    if names != sorted(p.name for p in b.iterdir()):
        return False
    return all((a / n).read_bytes() == (b / n).read_bytes() for n in names if n not in skip)


def test_text_encoding_on_a_full_disk_keeps_the_artifact_there_and_a_rerun_writes_it(
    texts_inputs: tuple[Path, str, Path], tmp_path: Path
) -> None:
    dataset, encoder, reference = texts_inputs
    with mounted_tmpfs(tmp_path / "fs", 1) as fs:
        out = fs.path / "texts"
        shutil.copytree(reference, out)  # an earlier artifact at OUT
        before = {p.name: p.read_bytes() for p in out.iterdir()}
        filler = fs.fill(leave_bytes=PAGE)  # room for the lock file only
        with pytest.raises(DiskFullError) as raised:
            encode_texts(str(dataset), str(out), encoder=encoder)
        message = str(raised.value)
        assert message.startswith(f"{out}: no space left on device")
        assert "needs about" in message and "free there now" in message
        assert "an artifact already there is kept" in message
        assert {p.name: p.read_bytes() for p in out.iterdir()} == before
        assert sorted(p.name for p in fs.path.iterdir()) == ["filler.bin", "texts"]  # no stage
        filler.unlink()
        shutil.rmtree(out)
        encode_texts(str(dataset), str(out), encoder=encoder)
        assert same_files(out, reference, skip=("metadata.json",))


def test_a_lock_on_a_full_disk_is_one_clear_error(small_tmpfs: Tmpfs) -> None:
    out = small_tmpfs.path / "out"
    small_tmpfs.fill(leave_bytes=0)
    with pytest.raises(DiskFullError, match=rf"{lock_path(out)}: no space left on device"):
        OutputLock(out).acquire()
    assert not lock_path(out).exists()
