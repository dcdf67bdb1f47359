"""The extraction step end to end: SynthMG with bad files, ranges, keypoints, shard+merge."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image
from video_helpers import (
    assert_same_artifact,
    coded_frames,
    frame_of,
    make_dataset,
    synth_dataset,
    with_bad_files,
    write_video,
)

from fgsgl.dataset import load_dataset
from fgsgl.errors import FgsglError, UsageError
from fgsgl.video.extract import extract, merge
from fgsgl.video.frames import FramesArtifact

T, S = 8, 40


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synth_dataset(tmp_path_factory.mktemp("synth") / "synthmg")


def test_synthmg_with_bad_files(synth: Path, tmp_path: Path) -> None:
    ds, bad = with_bad_files(synth, tmp_path / "ds")
    out = tmp_path / "frames"
    summary = extract(str(ds), str(out), frames=T, size=S, workers=2, max_failure_ratio=0.5)
    assert summary["planned"] == 12 and summary["extracted"] == 8 and summary["failed"] == 4
    art = FramesArtifact.open(out)
    good = load_dataset(synth).manifest
    assert list(art.index["clip_id"]) == list(good["clip_id"])
    failures = art.failures().set_index("clip_id")
    assert sorted(failures.index) == sorted(bad)
    assert failures.loc["bad_missing", "error"] == "file not found"
    assert failures.loc["bad_empty", "error"] == "empty file (0 bytes)"
    assert failures.loc["bad_corrupt", "error"] == "Invalid data found when processing input"
    assert failures.loc["bad_truncated", "error"]  # the decoder's message, whatever it is
    assert failures.loc["bad_truncated", "video"] == "videos/truncated.mp4"
    # the index carries the FG text and attributes
    row = art.index.iloc[0]
    assert row["initiator"] == good.loc[0, "initiator"]
    assert row["fg_text"] == load_dataset(synth).fg_texts().iloc[0]
    assert art.meta["counts"]["failed"] == 4


def test_a_synthmg_frame_after_resize(synth: Path, tmp_path: Path) -> None:
    """The stored frame is the sampled video frame, scaled to S x S (bicubic, as FFmpeg)."""
    out = tmp_path / "frames"
    extract(str(synth), str(out), frames=T, size=S, workers=1)
    art = FramesArtifact.open(out)
    ds = load_dataset(synth)
    for i in (0, 5):
        video = ds.video_uri(ds.manifest.loc[i, "video"])
        with av.open(video) as container:
            native = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
        indices = art.frame_indices(i)
        assert indices == [(2 * k + 1) * 16 // (2 * T) for k in range(T)]  # 16-frame clips
        for k in (0, T - 1):
            ref = Image.fromarray(native[indices[k]]).resize((S, S), Image.Resampling.BICUBIC)
            diff = np.abs(art.array(i)[k].astype(float) - np.asarray(ref, dtype=float))
            assert diff.mean() < 3.0


def test_keypoints_follow_the_sampled_frames(synth: Path, tmp_path: Path) -> None:
    out = tmp_path / "frames"
    extract(str(synth), str(out), frames=T, size=S, workers=1)
    art = FramesArtifact.open(out)
    assert art.has_keypoints and art.meta["keypoints"]["joints"] == 18
    ds = load_dataset(synth)
    for i in range(len(art)):
        source = np.load(ds.keypoints_uri(ds.manifest.loc[i, "keypoints"]))
        got = art.keypoints(i)
        assert got.shape == (T, 18, 3) and got.dtype == np.float32
        picked = source[art.frame_indices(i)]
        # 64 x 64 video -> 40 x 40 frames: (x + 0.5) * 40/64 - 0.5
        np.testing.assert_allclose(got[..., :2], (picked[..., :2] + 0.5) * S / 64 - 0.5, atol=1e-4)
        np.testing.assert_array_equal(got[..., 2], picked[..., 2])


def test_clip_ranges_inside_a_long_video(tmp_path: Path) -> None:
    write_video(tmp_path / "ds" / "long.mp4", coded_frames(120))
    rows = [
        {"clip_id": "a", "start_frame": 0, "end_frame": 29},
        {"clip_id": "b", "start_frame": 60, "end_frame": 89},
        {"clip_id": "short", "start_frame": 100, "end_frame": 102},
        {"clip_id": "past_end", "start_frame": 110, "end_frame": 150},
        {"clip_id": "outside", "start_frame": 130, "end_frame": 140},
    ]
    rows = [{**r, "video": "long.mp4", "label": 0, "split": "train"} for r in rows]
    ds = make_dataset(tmp_path / "ds", rows)
    extract(str(ds), str(tmp_path / "out"), frames=T, size=S, workers=1, max_failure_ratio=1)
    art = FramesArtifact.open(tmp_path / "out")
    index = art.index.set_index("clip_id")
    assert art.frame_indices(0) == [1, 5, 9, 13, 16, 20, 24, 28]
    assert art.frame_indices(1) == [61, 65, 69, 73, 76, 80, 84, 88]
    assert art.frame_indices(2) == [100, 100, 100, 101, 101, 102, 102, 102]
    assert "3 frames < 8: indices repeat" in index.loc["short", "note"]
    assert art.frame_indices(3) == [110, 111, 113, 114, 115, 116, 118, 119]  # n = 10
    assert "end_frame 150 clamped to the video's last frame 119" in index.loc["past_end", "note"]
    assert index.loc["a", "note"] == ""
    for i in range(4):
        greens = art.array(i)[:, S // 2, S // 2, 1]
        assert [frame_of(g) for g in greens] == [f % 30 for f in art.frame_indices(i)]
    failure = art.failures().set_index("clip_id").loc["outside", "error"]
    assert failure == "start_frame 130 is past the video's last frame 119 (120 frames)"


def test_too_many_failures_is_an_error_after_writing_everything(
    synth: Path, tmp_path: Path
) -> None:
    ds, _ = with_bad_files(synth, tmp_path / "ds")
    out = tmp_path / "frames"
    with pytest.raises(FgsglError, match=r"4 of 12 clips failed \(33\.3%\)") as error:
        extract(str(ds), str(out), frames=T, size=S, workers=1)  # default ratio 0.05
    assert "The 8 good clips are written" in str(error.value)
    art = FramesArtifact.open(out)
    assert len(art) == 8 and len(art.failures()) == 4
    assert art.array(7).any()


def test_a_rerun_retries_failed_clips(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    for i in range(3):
        write_video(root / f"v{i}.mp4", coded_frames(30))
    (root / "v1.mp4").write_bytes(b"")  # broken for now
    rows = [
        {"clip_id": f"c{i}", "video": f"v{i}.mp4", "label": 0, "split": "train"} for i in range(3)
    ]
    make_dataset(root, rows)
    out = tmp_path / "out"
    extract(str(root), str(out), frames=T, size=S, workers=1, max_failure_ratio=1)
    assert list(FramesArtifact.open(out).index["clip_id"]) == ["c0", "c2"]
    write_video(root / "v1.mp4", coded_frames(30))  # fixed
    summary = extract(str(root), str(out), frames=T, size=S, workers=1)
    assert summary["skipped_shards"] == 1 and summary["failed"] == 0
    fresh = tmp_path / "fresh"
    extract(str(root), str(fresh), frames=T, size=S, workers=1)
    assert_same_artifact(out, fresh)


def test_a_damaged_shard_is_redone_and_other_settings_replace_the_artifact(
    tmp_path: Path,
) -> None:
    from video_helpers import coded_dataset

    ds = coded_dataset(tmp_path / "ds", clips=5)
    out, fresh = tmp_path / "out", tmp_path / "fresh"
    extract(str(ds), str(fresh), frames=T, size=S, workers=1, clips_per_shard=2)
    extract(str(ds), str(out), frames=T, size=S, workers=1, clips_per_shard=2)
    shard = out / "shards" / "00001.npy"
    data = bytearray(shard.read_bytes())
    data[-100] ^= 0xFF  # one flipped byte in the last slot
    shard.write_bytes(bytes(data))
    summary = extract(str(ds), str(out), frames=T, size=S, workers=1, clips_per_shard=2)
    assert summary["skipped_shards"] == 2  # shards 0 and 2 verified, 1 redone
    assert_same_artifact(out, fresh)
    # other settings: every shard is redone, nothing of the old plan is left behind
    summary = extract(str(ds), str(out), frames=4, size=S, workers=1, clips_per_shard=3)
    assert summary["skipped_shards"] == 0 and summary["shards"] == 2
    assert sorted(p.name for p in (out / "shards").iterdir()) == [
        "00000.json",
        "00000.npy",
        "00001.json",
        "00001.npy",
    ]
    assert FramesArtifact.open(out).array(4).shape == (4, S, S, 3)


def test_shard_and_merge_equal_a_single_run(synth: Path, tmp_path: Path) -> None:
    ds, _ = with_bad_files(synth, tmp_path / "ds")
    settings = {"frames": T, "size": S, "clips_per_shard": 2, "max_failure_ratio": 1.0}
    single = tmp_path / "single"
    extract(str(ds), str(single), workers=2, **settings)
    parts = []
    for i in range(3):
        part = tmp_path / f"part{i}"
        summary = extract(str(ds), str(part), workers=1, shard=f"{i}/3", **settings)
        assert summary["shards"] == 2  # 12 clips, 6 shards, 2 per part
        parts.append(str(part))
    with pytest.raises(FgsglError, match="part 1/3 of a sharded extraction"):
        FramesArtifact.open(parts[1])
    merged = tmp_path / "merged"
    summary = merge(list(reversed(parts)), str(merged))  # any order
    assert summary["extracted"] == 8 and summary["failed"] == 4
    assert_same_artifact(merged, single)


def test_merge_refuses_incomplete_or_mixed_parts(synth: Path, tmp_path: Path) -> None:
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    extract(str(synth), str(a), frames=T, size=S, workers=1, shard="0/2", clips_per_shard=2)
    extract(str(synth), str(b), frames=T, size=32, workers=1, shard="1/2", clips_per_shard=2)
    extract(str(synth), str(c), frames=T, size=S, workers=1, clips_per_shard=2)
    with pytest.raises(FgsglError) as error:
        merge([str(a), str(b), str(c), str(a)], str(tmp_path / "m"))
    text = str(error.value)
    assert "size 32 differs" in text
    assert "a complete artifact, not a part" in text
    assert "part 0 again" in text
    with pytest.raises(FgsglError, match="missing part"):
        merge([str(a)], str(tmp_path / "m"))
    assert not (tmp_path / "m").exists()


def test_bad_settings_are_usage_errors(synth: Path, tmp_path: Path) -> None:
    with pytest.raises(UsageError) as error:
        extract(str(synth), str(tmp_path / "o"), frames=0, size=2, resize="zoom", workers=0)
    assert len(error.value.problems) == 4
    with pytest.raises(UsageError, match="0-based"):
        extract(str(synth), str(tmp_path / "o"), shard="3/3")
    assert not (tmp_path / "o").exists()


def test_refuses_to_write_into_a_dataset_or_another_artifact(synth: Path, tmp_path: Path) -> None:
    with pytest.raises(FgsglError, match="holds a dataset"):
        extract(str(synth), str(synth), frames=T, size=S)
    model = tmp_path / "model"
    model.mkdir()
    (model / "metadata.json").write_text('{"kind": "fgsgl.model"}')
    with pytest.raises(FgsglError, match=r"holds a fgsgl\.model artifact, not frames"):
        extract(str(synth), str(model), frames=T, size=S)
    assert (model / "metadata.json").exists()


def test_keypoints_problems_fail_their_clip_only(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    rows = []
    for i, (frames, joints) in enumerate([(30, 5), (10, 5), (30, 4), (30, None)]):
        write_video(root / f"v{i}.mp4", coded_frames(30))
        row = {"clip_id": f"c{i}", "video": f"v{i}.mp4", "label": 0, "split": "train"}
        if joints is not None:
            points = np.full((frames, joints, 2), 32.0, np.float32)  # (x, y), no confidence
            np.save(root / f"k{i}.npy", points)
            row["keypoints"] = f"k{i}.npy"
        rows.append(row)
    make_dataset(root, rows)
    extract(str(root), str(tmp_path / "out"), frames=T, size=S, workers=1, max_failure_ratio=1)
    art = FramesArtifact.open(tmp_path / "out")
    assert list(art.index["clip_id"]) == ["c0", "c3"]
    errors = art.failures().set_index("clip_id")["error"]
    assert errors["c1"] == f"keypoints {root / 'k1.npy'}: 10 frames, the clip needs frame 28"
    assert errors["c2"] == f"keypoints {root / 'k2.npy'}: 4 joints, the dataset's have 5"
    # x: (32 + 0.5) * 40/64 - 0.5; y: (32 + 0.5) * 40/48 - 0.5; confidence 1 when absent
    np.testing.assert_allclose(art.keypoints(0)[0, 0], [19.8125, 26.583334, 1.0], rtol=1e-6)
    assert not art.keypoints(1).any()  # a clip without keypoints: zeros, confidence 0
