"""`fgsgl synth --long`: continuous recordings whose manifest clips are the gesture segments."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fgsgl.cli import main
from fgsgl.dataset import load_dataset
from fgsgl.errors import UsageError
from fgsgl.synth.body import JOINTS
from fgsgl.synth.config import LongConfig, SynthConfig
from fgsgl.synth.generate import INFO_FILE
from fgsgl.synth.long import SEGMENT_COLUMNS, SEGMENTS_CSV, generate_long, plan_long

CONFIG = SynthConfig(classes=4, subjects=3, size=32, frames=8, keypoints=True, seed=3)
LONG = LongConfig(videos=3, gestures=(2, 3), idle=(3, 8))
# The joints a gesture moves; everything else (head, neck, shoulders) only sways.
ARM = [JOINTS.index(f"{s}_{p}") for s in ("left", "right") for p in ("elbow", "wrist", "hand")]
ARM += [JOINTS.index(f"{s}_fingertips") for s in ("left", "right")]
BODY = [j for j in range(len(JOINTS)) if j not in ARM and "shoulder" not in JOINTS[j]]
NECK = JOINTS.index("neck")


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="module")
def long_ds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("long") / "long"
    generate_long(out, CONFIG, LONG, workers=1, progress=False)
    return out


@pytest.fixture(scope="module")
def still_ds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """No nuisance: no sway, shake or fidget, so rest is exactly still and comparable."""
    out = tmp_path_factory.mktemp("long") / "still"
    generate_long(out, dataclasses.replace(CONFIG, nuisance=0.0), LONG, workers=1, progress=False)
    return out


def videos(root: Path):
    """(keypoints (F, J, 3), that video's manifest rows, in-segment mask) per video."""
    m = load_dataset(root).manifest
    for _, rows in m.groupby("video", sort=True):
        kp = np.load(root / rows["keypoints"].iloc[0])
        inside = np.zeros(len(kp), bool)
        for r in rows.itertuples():
            inside[r.start_frame : r.end_frame + 1] = True
        yield kp, rows, inside


def test_videos_decode_to_the_sum_of_their_segments(long_ds: Path) -> None:
    import decord

    plans = plan_long(CONFIG, LONG)
    m = load_dataset(long_ds).manifest
    assert sorted(m["video"].unique()) == [f"videos/{p.video_id}.mp4" for p in plans]
    for p in plans:
        reader = decord.VideoReader(str(long_ds / "videos" / f"{p.video_id}.mp4"))
        idle = p.frames - sum(s.frames for s in p.segments)
        assert len(reader) == p.frames
        assert LONG.idle[0] * (len(p.segments) + 1) <= idle <= LONG.idle[1] * (len(p.segments) + 1)
        assert reader.get_avg_fps() == pytest.approx(CONFIG.fps)
        assert np.load(long_ds / "keypoints" / f"{p.video_id}.npy").shape == (
            p.frames,
            len(JOINTS),
            3,
        )


def test_the_manifest_is_the_plan_and_segments_csv_is_the_manifest(long_ds: Path) -> None:
    plans = plan_long(CONFIG, LONG)
    ds = load_dataset(long_ds, need_fg_text=True)
    m = ds.manifest
    expected = [
        (f"{p.video_id}_g{k:02d}", f"videos/{p.video_id}.mp4", s.label, p.split, s.start, s.end)
        for p in plans
        for k, s in enumerate(p.segments)
    ]
    got = m[["clip_id", "video", "label", "split", "start_frame", "end_frame"]]
    assert [tuple(r) for r in got.itertuples(index=False)] == expected
    for p in plans:
        starts = [s.start for s in p.segments]
        ends = [s.end for s in p.segments]
        assert starts[0] >= LONG.idle[0] and p.frames - 1 - ends[-1] >= LONG.idle[0]
        assert all(b - a > LONG.idle[0] for a, b in zip(ends, starts[1:], strict=False))
        assert all(s.frames >= CONFIG.frames for s in p.segments)  # at least a clip
        assert all(s.instance.rest == p.rest for s in p.segments)  # one rest pose
    assert (m.groupby("video")["subject"].nunique() == 1).all()
    assert (m.groupby("split")["subject"].nunique() == 1).all()  # split by subject
    assert set(m["split"]) == {"train", "val", "test"}
    assert m[["initiator", "receiver", "direction", "motion"]].notna().all().all()
    first, last = m["contact_start"].astype(int), m["contact_end"].astype(int)
    assert ((m["start_frame"] <= first) & (first <= last) & (last <= m["end_frame"])).all()
    seg = pd.read_csv(long_ds / SEGMENTS_CSV)
    assert tuple(seg.columns) == SEGMENT_COLUMNS
    same = ["video", "clip_id", "split", "start_frame", "end_frame", "label"]
    assert seg[same].astype(str).equals(m[same].astype(str))
    assert list(seg["class"]) == [ds.class_names[v] for v in m["label"]]
    assert set(seg["fps"]) == {CONFIG.fps}
    lengths = {f"videos/{p.video_id}.mp4": p.frames for p in plans}
    assert list(seg["video_frames"]) == [lengths[v] for v in seg["video"]]
    info = json.loads((long_ds / INFO_FILE).read_text())
    assert info["layout"] == "long" and info["long"]["idle_frames"] == [3, 8]
    assert "clips_per_class" not in info["config"]


def test_idle_stretches_rest_and_gestures_move(long_ds: Path) -> None:
    """Hands relative to the neck (which removes sway and camera shake): within a pixel
    or so of the video's rest pose whenever no gesture is on, far from it in each one."""
    for kp, rows, inside in videos(long_ds):
        arms = kp[:, ARM, :2] - kp[:, [NECK], :2]
        rest = np.median(arms[~inside], axis=0)
        away = np.linalg.norm(arms - rest, axis=-1).max(axis=1)
        assert away[~inside].max() < 0.05 * CONFIG.size  # fidget only
        for r in rows.itertuples():
            assert away[r.start_frame : r.end_frame + 1].max() > 0.25 * CONFIG.size, r.clip_id


def test_without_nuisance_rest_is_exact_and_nothing_jumps(still_ds: Path) -> None:
    """With the idle motion off, every idle frame and every gesture's last frame is the
    rest pose exactly, the body never moves (a jump cut would move it), and stepping into
    a gesture is within the per-frame motion the gestures themselves make."""
    for kp, rows, inside in videos(still_ds):
        xy = kp[..., :2]
        rest = xy[np.flatnonzero(~inside)[0]]
        np.testing.assert_allclose(xy[~inside], np.broadcast_to(rest, xy[~inside].shape), atol=1e-4)
        np.testing.assert_allclose(xy[:, BODY], np.broadcast_to(rest[BODY], xy[:, BODY].shape))
        step = np.linalg.norm(np.diff(xy, axis=0), axis=-1).max(axis=1)  # frame i -> i + 1
        bound = max(step[r.start_frame : r.end_frame].max() for r in rows.itertuples())
        for r in rows.itertuples():
            np.testing.assert_allclose(xy[r.end_frame], rest, atol=1e-4)  # back home
            assert step[r.start_frame - 1] <= 0.5 * bound, r.clip_id  # leaving rest smoothly


def test_boundaries_are_continuous_with_nuisance(long_ds: Path) -> None:
    """Across every boundary the whole skeleton moves no more than in idle stretches plus
    the first bit of a reach: far below a gesture's own per-frame motion."""
    for kp, rows, _ in videos(long_ds):
        step = np.linalg.norm(np.diff(kp[..., :2], axis=0), axis=-1).max(axis=1)
        gesture = max(step[r.start_frame : r.end_frame].max() for r in rows.itertuples())
        for r in rows.itertuples():
            for b in (r.start_frame - 1, r.end_frame):
                assert step[b] < 0.25 * gesture and step[b] < 0.1 * CONFIG.size, (r.clip_id, b)


def test_same_seed_same_bytes_other_seed_other_plan(long_ds: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    generate_long(again, CONFIG, LONG, workers=1, progress=False)
    assert tree_bytes(again) == tree_bytes(long_ds)
    other = plan_long(dataclasses.replace(CONFIG, seed=4), LONG)
    assert [s.start for p in other for s in p.segments] != [
        s.start for p in plan_long(CONFIG, LONG) for s in p.segments
    ]


def test_adding_videos_keeps_the_earlier_ones() -> None:
    few = plan_long(CONFIG, LONG)
    more = plan_long(CONFIG, dataclasses.replace(LONG, videos=5))
    assert more[: len(few)] == few


def test_classes_are_dealt_evenly() -> None:
    config = dataclasses.replace(CONFIG, classes=5)
    plans = plan_long(config, LongConfig(videos=4, gestures=(5, 5), idle=(2, 2)))
    labels = [s.label for p in plans for s in p.segments]
    assert np.bincount(labels).tolist() == [4] * 5


def test_validate_and_extract(long_ds: Path, tmp_path: Path, capsys) -> None:
    from fgsgl.synth.video import read_mp4
    from fgsgl.video.extract import extract
    from fgsgl.video.frames import FramesArtifact

    assert main(["validate", str(long_ds), "--need-fg-text", "--check-files"]) == 0
    assert "valid" in capsys.readouterr().out
    m = load_dataset(long_ds).manifest
    summary = extract(str(long_ds), str(tmp_path / "frames"), frames=4, size=32, workers=1)
    assert summary["extracted"] == len(m) and summary["failed"] == 0
    art = FramesArtifact.open(tmp_path / "frames")
    assert list(art.index["clip_id"]) == list(m["clip_id"])
    decoded = {v: read_mp4(long_ds / v)[0] for v in m["video"].unique()}
    for i, r in enumerate(m.itertuples()):
        idx = art.frame_indices(i)
        assert r.start_frame <= min(idx) and max(idx) <= r.end_frame
        kp = np.load(long_ds / r.keypoints)
        np.testing.assert_allclose(art.keypoints(i)[..., :2], kp[idx, :, :2], atol=1e-3)
        diff = np.abs(art.array(i).astype(int) - decoded[r.video][idx].astype(int)).mean()
        assert diff < 6, r.clip_id


def test_cli_long(tmp_path: Path, capsys, caplog) -> None:
    out = tmp_path / "cli"
    tiny = ["--classes", "3", "--subjects", "3", "--size", "32", "--frames", "8"]
    args = ["synth", str(out), *tiny, "--long", "2", "--gestures-per-video", "2"]
    assert main([*args, "--idle-frames", "2:4", "--workers", "1", "--no-progress"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["videos"] == 2 and summary["segments"] == 4
    assert summary["keypoints"] is False
    m = load_dataset(out).manifest
    assert len(m) == 4 and m["start_frame"].notna().all() and m["keypoints"].isna().all()
    assert (out / SEGMENTS_CSV).is_file()
    assert "no videos in split(s)" in caplog.text  # 2 videos, 3 subjects: one split empty


def test_help_explains_long(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["synth", "--help"])
    text = capsys.readouterr().out
    for words in ("--long N", "--gestures-per-video", "--idle-frames", "segments.csv"):
        assert words in text


def test_impossible_settings_are_named_at_once(tmp_path: Path, capsys) -> None:
    out = tmp_path / "bad"
    bad = ["--long", "0", "--gestures-per-video", "5:2", "--idle-frames", "0:3"]
    assert main(["synth", str(out), *bad, "--clips-per-class", "3"]) == 2
    err = capsys.readouterr().err
    for option in ("--long", "--gestures-per-video 5:2", "--idle-frames 0:3", "--clips-per"):
        assert option in err
    assert main(["synth", str(out), "--idle-frames", "3"]) == 2
    assert "--idle-frames needs --long N" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["synth", str(out), "--long", "2", "--gestures-per-video", "many"])
    assert "expected MIN:MAX or N" in capsys.readouterr().err
    with pytest.raises(UsageError, match="invalid synth --long settings"):
        generate_long(out, CONFIG, LongConfig(videos=1, gestures=(0, 2)), progress=False)
    assert not out.exists()
