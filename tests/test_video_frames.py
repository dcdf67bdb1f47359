"""The frames artifact reader: index, memory-mapped clips, splits, pickling, refusals."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
from video_helpers import coded_dataset, frame_of, green_of

from fgsgl.dataset import load_dataset
from fgsgl.errors import FgsglError
from fgsgl.video.extract import extract
from fgsgl.video.frames import (
    INDEX_COLUMNS,
    FramesArtifact,
    ShardLayout,
    create_shard,
    write_slot,
)

T, S = 8, 40


@pytest.fixture(scope="module")
def artifact(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("frames")
    ds = coded_dataset(root / "ds", clips=6)
    out = root / "frames"
    extract(str(ds), str(out), frames=T, size=S, workers=1, clips_per_shard=4)
    return ds, out


def test_index_and_metadata(artifact: tuple[Path, Path]) -> None:
    ds, out = artifact
    art = FramesArtifact.open(out)
    assert len(art) == 6
    assert tuple(art.index.columns) == INDEX_COLUMNS
    assert list(art.index["clip_id"]) == [f"clip{i:02d}" for i in range(6)]
    assert list(art.index["label"]) == [0, 1, 2, 0, 1, 2]
    assert art.index["label"].dtype == np.int64
    assert list(art.index["shard"]) == [0, 0, 0, 0, 1, 1]
    assert list(art.index["offset"]) == [0, 1, 2, 3, 0, 1]
    assert art.index.loc[3, "subject"] == "s1"
    assert art.index.loc[0, "fg_text"] == ""  # the dataset has no fine-grained text
    assert (art.frames, art.size, art.num_classes) == (T, S, 3)
    assert art.class_names == ["class0", "class1", "class2"]
    assert art.dataset_fingerprint == load_dataset(ds).fingerprint()
    assert art.meta["counts"] == {
        "planned": 6,
        "extracted": 6,
        "failed": 0,
        "by_split": {"test": 2, "train": 2, "val": 2},
    }
    assert not art.has_keypoints
    assert art.failures().empty


def test_array_is_the_sampled_frames(artifact: tuple[Path, Path]) -> None:
    _, out = artifact
    art = FramesArtifact.open(out)
    for i in range(len(art)):
        clip = art.array(i)
        assert clip.shape == (T, S, S, 3) and clip.dtype == np.uint8
        assert not clip.flags.writeable
        assert isinstance(clip.base, np.memmap) or isinstance(clip, np.memmap)
        n = 40 + 3 * i  # coded_dataset: clip i has 40 + 3i frames
        indices = art.frame_indices(i)
        assert indices == [(2 * k + 1) * n // (2 * T) for k in range(T)]
        # the middle pixel's green level says which frame it came from
        greens = clip[:, S // 2, S // 2, 1].astype(int)
        assert [frame_of(g) for g in greens] == [f % 30 for f in indices]
        assert np.abs(greens - [green_of(f) for f in indices]).max() <= 4


def test_clips_of_a_split_keep_positions(artifact: tuple[Path, Path]) -> None:
    _, out = artifact
    art = FramesArtifact.open(out)
    val = art.clips("val")
    assert list(val.index) == [1, 4]
    assert list(val["clip_id"]) == ["clip01", "clip04"]
    np.testing.assert_array_equal(art.array(int(val.index[1])), art.array(4))
    assert art.clips("nope").empty


def test_pickles_without_mapped_data(artifact: tuple[Path, Path]) -> None:
    _, out = artifact
    art = FramesArtifact.open(out)
    before = art.array(5).copy()  # maps shard 1
    data = pickle.dumps(art)
    assert len(data) < 20_000  # the index, not the pixels
    again = pickle.loads(data)
    np.testing.assert_array_equal(again.array(5), before)


def test_keypoints_absent_is_a_clear_error(artifact: tuple[Path, Path]) -> None:
    _, out = artifact
    with pytest.raises(FgsglError, match="no keypoints"):
        FramesArtifact.open(out).keypoints(0)


def test_refuses_what_it_cannot_read(artifact: tuple[Path, Path], tmp_path: Path) -> None:
    _, out = artifact
    with pytest.raises(FgsglError, match=r"not a fgsgl\.frames artifact"):
        FramesArtifact.open(tmp_path)
    with pytest.raises(FgsglError, match="local file system"):
        FramesArtifact.open("gs://bucket/frames")
    other = tmp_path / "other"
    other.mkdir()
    meta = json.loads((out / "metadata.json").read_text())
    (other / "metadata.json").write_text(json.dumps({**meta, "kind": "fgsgl.texts"}))
    with pytest.raises(FgsglError, match=r"expected a fgsgl\.frames artifact"):
        FramesArtifact.open(other)
    part = tmp_path / "part"
    part.mkdir()
    (part / "metadata.json").write_text(json.dumps({**meta, "part": {"index": 1, "count": 2}}))
    (part / "index.csv").write_text((out / "index.csv").read_text())
    with pytest.raises(FgsglError, match="part 1/2 of a sharded extraction"):
        FramesArtifact.open(part)
    assert len(FramesArtifact.open(part, allow_part=True)) == 6


def test_shard_slots_are_written_in_place(tmp_path: Path) -> None:
    path = tmp_path / "s.npy"
    create_shard(path, slots=3, frames=2, size=4)
    layout = ShardLayout.read(path)
    clip = np.arange(2 * 4 * 4 * 3, dtype=np.uint8).reshape(2, 4, 4, 3)
    write_slot(path, layout, 1, clip)
    array = np.load(path)
    assert array.shape == (3, 2, 4, 4, 3)
    np.testing.assert_array_equal(array[1], clip)
    assert not array[0].any() and not array[2].any()
    with pytest.raises(ValueError, match="bytes"):
        write_slot(path, layout, 0, clip[:1])


def test_a_new_shard_has_its_disk_space_reserved(tmp_path: Path) -> None:
    path = tmp_path / "big.npy"
    create_shard(path, slots=4, frames=8, size=64)
    layout = ShardLayout.read(path)
    length = layout.data_offset + 4 * layout.clip_bytes
    assert path.stat().st_size == length
    assert path.stat().st_blocks * 512 >= length  # allocated, not a sparse file
    assert not np.load(path, mmap_mode="r").any()
