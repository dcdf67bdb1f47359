"""Skeleton files through the importers: public layouts written here, `fgsgl import
--skeletons`, then `fgsgl extract`, and the frames artifact's keypoints are the written
joints at the sampled frames (64 x 48 videos squashed to S x S)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from video_helpers import coded_frames, write_video

from fgsgl.cli import main
from fgsgl.dataset import DatasetError, load_dataset
from fgsgl.dataset.importers import import_imigue, import_smg, write_import
from fgsgl.dataset.importers.skeleton_formats import (
    IMIGUE_JOINTS,
    KINECT_JOINTS,
    SkeletonError,
    read_kinect_v2,
    read_openpose_light,
)
from fgsgl.video.extract import extract
from fgsgl.video.frames import FramesArtifact

T, S, W, H = 8, 40, 64, 48


def openpose_points(frames: int, joints: int, seed: int) -> np.ndarray:
    """(frames, joints, 3): distinct pixel positions inside 64 x 48, some joints not found."""
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, [W - 1, H - 1], size=(frames, joints, 2)).round(2)
    conf = rng.uniform(0.1, 1.0, size=(frames, joints, 1)).round(3)
    points = np.concatenate([xy, conf], axis=2)
    points[:, 3] = 0  # a joint OpenPose never found: 0, 0, 0
    return points.astype(np.float32)


def write_openpose_csv(path: Path, points: np.ndarray, header: bool) -> None:
    """MiGA's `<VVVV>_light[_hand].csv`: frame number, then x, y, confidence per joint."""
    lines = []
    if header:
        names = [f"{j}_{v}" for j in range(points.shape[1]) for v in ("x", "y", "c")]
        lines.append(",".join(["frame", *names]))
    for f, frame in enumerate(points):
        lines.append(",".join([str(f), *(f"{v:g}" for v in frame.reshape(-1))]))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


def write_label(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def imigue_tree(root: Path) -> dict[str, np.ndarray]:
    """Two videos in the MiGA layout: 0001 with a hand file (header line), 0002 with a
    body-only file (no header) 20 frames long while its clip runs to frame 25."""
    write_label(root / "imigue_skeleton_train/0001/0001_label.csv", "5,2,21\n99,22,23\n12,10,29\n")
    write_label(root / "imigue_skeleton_validate/0002/0002_label.csv", "1,6,25\n")
    points = {"0001": openpose_points(30, 35, 1), "0002": openpose_points(20, 25, 2)}
    write_openpose_csv(
        root / "imigue_skeleton_train/0001/0001_light_hand.csv", points["0001"], True
    )
    write_openpose_csv(root / "imigue_skeleton_validate/0002/0002_light.csv", points["0002"], False)
    write_video(root / "imigue_rgb_phase1/train_data/0001/0001.mp4", coded_frames(30))
    write_video(root / "imigue_rgb_phase1/validation_data/0002/0002.mp4", coded_frames(30))
    return points


def to_stored(points: np.ndarray) -> np.ndarray:
    """Video pixels (64 x 48) -> the stored S x S frame's pixels (squash)."""
    out = points.copy()
    out[..., 0] = (points[..., 0] + 0.5) * S / W - 0.5
    out[..., 1] = (points[..., 1] + 0.5) * S / H - 0.5
    return out


def test_imigue_skeletons_through_import_and_extract(tmp_path: Path) -> None:
    src = tmp_path / "src"
    written = imigue_tree(src)
    out = tmp_path / "ds"
    args = ["import", "imigue", str(src), str(out), "--skeletons", "--non-gesture", "drop"]
    assert main(args) == 0
    ds = load_dataset(out)
    m = ds.manifest.set_index("clip_id")
    assert list(m.index) == ["0001_0", "0001_2", "0002_0"]
    assert list(m["keypoints"]) == ["keypoints/0001.npy"] * 2 + ["keypoints/0002.npy"]
    assert ds.missing_files() == []
    # one file per video, the contract's (F, J, 3) float32 in video pixels
    k1 = np.load(out / "keypoints/0001.npy")
    assert k1.shape == (30, 35, 3) and k1.dtype == np.float32
    np.testing.assert_array_equal(k1, written["0001"])
    k2 = np.load(out / "keypoints/0002.npy")
    assert k2.shape == (26, 35, 3)  # padded to frame 25, hand points added as not found
    np.testing.assert_array_equal(k2[:20, :25], written["0002"])
    assert not k2[20:].any() and not k2[:, 25:].any()
    record = json.loads((out / "import.json").read_text())
    assert record["options"]["skeletons"] == str(src)
    assert record["keypoints"]["format"] == "imigue-openpose"
    assert record["keypoints"]["joints"] == list(IMIGUE_JOINTS)
    notes = " ".join(record["notes"])
    assert "keypoints: 2 of 2 videos" in notes
    assert "0002 (20 < 26)" in notes and "without all 35 joints" in notes

    frames = tmp_path / "frames"
    extract(str(out), str(frames), frames=T, size=S, workers=1)
    art = FramesArtifact.open(frames)
    assert art.has_keypoints and art.meta["keypoints"]["joints"] == 35
    for i, clip_id in enumerate(art.index["clip_id"]):
        vid = clip_id.split("_")[0]
        source = np.load(out / f"keypoints/{vid}.npy")
        picked = source[art.frame_indices(i)]
        got = art.keypoints(i)
        assert got.shape == (T, 35, 3)
        np.testing.assert_allclose(got[..., :2], to_stored(picked)[..., :2], atol=1e-4)
        np.testing.assert_array_equal(got[..., 2], picked[..., 2])
    # clip 0002_0 (frames 6..25): its last sampled frames lie past the skeleton's 20 rows
    last = art.frame_indices(2)
    assert last[-1] >= 20 and not art.keypoints(2)[-1, :, 2].any()  # confidence 0
    assert art.keypoints(2)[0, 0, 2] == written["0002"][last[0], 0, 2]


def kinect_rows(frames: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """SMG `SampleNNNN_skeleton.csv` values (frames, 25 * 11) and the colour-space (x, y)
    written at values 9-10; values 7-8 hold a narrower depth-space copy."""
    rng = np.random.default_rng(seed)
    colour = rng.uniform(4, [W - 5, H - 5], size=(frames, 25, 2)).round(2)
    values = np.zeros((frames, 25, 11))
    values[..., :3] = rng.normal(size=(frames, 25, 3)).round(3)  # camera space, metres
    values[..., 3:7] = [0, 0, 0, 1]  # orientation
    values[..., 7:9] = (colour * 0.27 + 3).round(2)  # depth space: a third of the spread
    values[..., 9:11] = colour
    values[2] = 0  # a frame with no tracked body
    return values.reshape(frames, -1), colour


def smg_tree(root: Path) -> dict[str, np.ndarray]:
    colour = {}
    for n, labels in ((1, "3,0,29\n17,5,12\n"), (36, "9,4,18\n")):
        sample = f"Sample{n:04d}"
        folder = root / sample
        write_label(folder / f"{sample}_finelabels.csv", labels)
        values, colour[sample] = kinect_rows(30, n)
        np.savetxt(folder / f"{sample}_skeleton.csv", values, fmt="%g", delimiter=",")
        write_video(folder / f"{sample}_color.mp4", coded_frames(30))
    return colour


def test_smg_skeletons_through_import_and_extract(tmp_path: Path) -> None:
    src = tmp_path / "src"
    colour = smg_tree(src)
    out = tmp_path / "ds"
    args = ["import", "smg", str(src), str(out), "--skeletons", str(src), "--val-fraction", "0"]
    assert main(args) == 0
    ds = load_dataset(out)
    assert list(ds.manifest["keypoints"]) == ["keypoints/Sample0001.npy"] * 2 + [
        "keypoints/Sample0036.npy"
    ]
    k = np.load(out / "keypoints/Sample0001.npy")
    assert k.shape == (30, 25, 3)
    expected = np.concatenate([colour["Sample0001"], np.ones((30, 25, 1))], axis=2)
    expected[2] = 0  # untracked frame: confidence 0
    np.testing.assert_allclose(k, expected, atol=1e-5)
    record = json.loads((out / "import.json").read_text())
    assert record["keypoints"]["joints"] == list(KINECT_JOINTS)
    assert "Sample0001: 2D from values 9-10" in " ".join(record["notes"])

    frames = tmp_path / "frames"
    extract(str(out), str(frames), frames=T, size=S, workers=1)
    art = FramesArtifact.open(frames)
    for i, clip_id in enumerate(art.index["clip_id"]):
        source = np.load(out / f"keypoints/{clip_id.rsplit('_', 1)[0]}.npy")
        picked = source[art.frame_indices(i)]
        np.testing.assert_allclose(art.keypoints(i), to_stored(picked), atol=1e-4)


def test_smg_pixel_columns_can_be_chosen(tmp_path: Path) -> None:
    values, _ = kinect_rows(5, 3)
    path = tmp_path / "s.csv"
    np.savetxt(path, values, fmt="%g", delimiter=",")
    points, note = read_kinect_v2(path, pixel_columns=7)
    np.testing.assert_allclose(points[0, :, :2], values.reshape(5, 25, 11)[0, :, 7:9], atol=1e-5)
    assert note == ""


def test_missing_and_corrupt_skeletons_are_problems_with_the_others(tmp_path: Path) -> None:
    src = tmp_path / "src"
    imigue_tree(src)
    (src / "imigue_skeleton_validate/0002/0002_light.csv").write_text("0,1,2\n1,4,5,6\n")
    write_label(src / "imigue_skeleton_train/0003/0003_label.csv", "7,0,5\n40,1,2\n")
    write_video(src / "imigue_rgb_phase1/train_data/0003/0003.mp4", coded_frames(8))
    with pytest.raises(DatasetError) as e:
        import_imigue(src, skeletons=src, non_gesture="drop")
    problems = e.value.problems
    assert len(problems) == 3
    assert "gesture id 40 is outside 1..32" in problems[0]
    assert problems[1] == (
        f"skeleton of video 0003: no 0003_light_hand.csv or 0003_light.csv under {src}"
        " (--missing-skeletons skip imports its clips without keypoints)"
    )
    assert problems[2].startswith(
        "skeleton of video 0002: imigue_skeleton_validate/0002/0002_light.csv: "
        "Expected 3 fields in line 2, saw 4"
    )


def test_skipped_skeletons_leave_clips_without_keypoints(tmp_path: Path) -> None:
    src = tmp_path / "src"
    written = imigue_tree(src)
    (src / "imigue_skeleton_validate/0002/0002_light.csv").unlink()
    imported = import_imigue(src, skeletons=src, non_gesture="drop", missing_skeletons="skip")
    ds = write_import(imported, tmp_path / "ds")
    m = ds.manifest.set_index("clip_id")
    assert m.loc["0001_0", "keypoints"] == "keypoints/0001.npy"
    assert m["keypoints"].isna().tolist() == [False, False, True]
    assert any("1 videos have no usable skeleton" in n and "0002 (no" in n for n in imported.notes)
    assert imported.keypoints["without"] == ["0002"]
    extract(str(tmp_path / "ds"), str(tmp_path / "frames"), frames=T, size=S, workers=1)
    art = FramesArtifact.open(tmp_path / "frames")
    assert len(art) == 3  # every clip extracted; 0002_0 has zero keypoints
    assert not art.keypoints(2).any()
    assert art.keypoints(0)[..., 2].tolist() == written["0001"][art.frame_indices(0), :, 2].tolist()


def test_openpose_reader_refuses_bad_files(tmp_path: Path) -> None:
    path = tmp_path / "0001_light_hand.csv"
    path.write_text("0," + ",".join(["1"] * 30) + "\n")
    with pytest.raises(SkeletonError, match="31 fields per line; expected a frame number"):
        read_openpose_light(path)
    path.write_text("")
    with pytest.raises(SkeletonError, match="no frames"):
        read_openpose_light(path)
    path.write_text("frame,x\n0," + ",".join(["1"] * 104) + ",abc\n")
    with pytest.raises(SkeletonError, match=r"^line 2, field 106: 'abc' is not a number$"):
        read_openpose_light(path)
    # an empty cell is a joint not found; a trailing comma adds no field
    row = [0.0] + [5.0, 6.0, 0.5] * 35
    cells = [f"{v:g}" for v in row]
    cells[4] = ""  # joint 1's x
    path.write_text(",".join(cells) + ",\n")
    points, _ = read_openpose_light(path)
    assert points.shape == (1, 35, 3)
    assert points[0, 1].tolist() == [0, 0, 0] and points[0, 0].tolist() == [5, 6, 0.5]


def test_odd_cells_are_refused_not_read(tmp_path: Path) -> None:
    """Found by tests/test_fuzz_imports.py: an infinite coordinate was kept, and a first
    frame with one bad cell was skipped as a header (every frame then one off)."""
    path = tmp_path / "0001_light_hand.csv"
    frame = ["0", *["5", "6", "0.5"] * 35]
    path.write_text(",".join([*frame[:4], "inf", *frame[5:]]) + "\n")
    with pytest.raises(SkeletonError, match=r"^line 1, field 5: inf is not a finite number$"):
        read_openpose_light(path)
    path.write_text(",".join([*frame[:7], "x", *frame[8:]]) + "\n" + ",".join(frame) + "\n")
    with pytest.raises(SkeletonError, match=r"^line 1, field 8: 'x' is not a number$"):
        read_openpose_light(path)
    path.write_text(",".join([*frame[:3], "\u0663", *frame[4:]]) + "\n")
    with pytest.raises(SkeletonError, match="field 4: '\u0663' is not a number"):
        read_openpose_light(path)


def test_smg_without_skeletons_option_is_unchanged(tmp_path: Path) -> None:
    src = tmp_path / "src"
    smg_tree(src)
    ds = write_import(import_smg(src, val_fraction=0), tmp_path / "ds")
    assert ds.manifest["keypoints"].isna().all()
    assert not (tmp_path / "ds" / "keypoints").exists()


def test_openpose_frame_number_gaps_are_noted(tmp_path: Path) -> None:
    path = tmp_path / "0001_light.csv"
    write_openpose_csv(path, openpose_points(3, 25, 4), header=False)
    assert read_openpose_light(path)[1] == ""
    text = path.read_text().splitlines()
    text[2] = "7" + text[2][1:]  # frame numbers 0, 1, 7
    path.write_text("\n".join(text) + "\n")
    points, note = read_openpose_light(path)
    assert len(points) == 3 and note == "frame numbers not consecutive (rows read as frames)"
