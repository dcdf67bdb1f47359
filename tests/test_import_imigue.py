"""iMiGUE importer on small trees in the MiGA layout (dummy video files: nothing decodes)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fgsgl.cli import main
from fgsgl.dataset import DatasetError, load_dataset
from fgsgl.dataset.importers import import_imigue, write_import
from fgsgl.dataset.importers.class_names import IMIGUE_CLASSES, SMG_CLASSES

LABELS = {
    "imigue_skeleton_train/0001/0001_label.csv": "5,0,30\n99,31,40\n12,41,60\n",
    "imigue_skeleton_train/0002/0002_label.csv": "32,0,10\n",
    "imigue_skeleton_validate/0003/0003_label.csv": "1,5,9\n",
}
VIDEOS = (
    "imigue_rgb_phase1/train_data/0001/0001.mp4",
    "imigue_rgb_phase1/train_data/0002/0002.mp4",
    "imigue_rgb_phase1/validation_data/0003/0003.mp4",
)


def tree(root: Path, labels: dict[str, str] = LABELS, videos: tuple[str, ...] = VIDEOS) -> Path:
    for name, text in labels.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
        skeleton = (root / name).with_name(name.split("/")[-2] + "_light_hand.csv")
        skeleton.write_text("0,1,2\n")
    for name in videos:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"not decoded")
    return root


def problems_of(src: Path, **kwargs) -> list[str]:
    with pytest.raises(DatasetError) as e:
        import_imigue(src, **kwargs)
    return e.value.problems


def test_class_name_lists():
    assert len(IMIGUE_CLASSES) == len(set(IMIGUE_CLASSES)) == 32
    assert len(SMG_CLASSES) == len(set(SMG_CLASSES)) == 17


def test_import_miga_layout_dropping_non_gestures(tmp_path: Path):
    src = tree(tmp_path / "src")
    imported = import_imigue(src, non_gesture="drop")
    ds = write_import(imported, tmp_path / "out")
    m = ds.manifest
    assert list(m["clip_id"]) == ["0001_0", "0001_2", "0002_0", "0003_0"]
    assert list(m["label"]) == [4, 11, 31, 0]
    assert list(m["split"]) == ["train", "train", "train", "val"]
    assert list(m["start_frame"]) == [0, 41, 0, 5]
    assert list(m["end_frame"]) == [30, 60, 10, 9]
    assert list(m["subject"]) == ["", "", "", ""]
    assert m.loc[0, "video"] == str(src.resolve() / VIDEOS[0])
    assert ds.num_classes == 32
    assert ds.class_names[6] == "Rubbing eyes"
    assert "dropped 1 non-gesture (id 99) clips (--non-gesture drop)" in imported.notes
    record = json.loads((tmp_path / "out" / "import.json").read_text())
    assert record["importer"] == "imigue"
    assert record["options"]["non_gesture"] == "drop"
    assert load_dataset(tmp_path / "out").fingerprint() == ds.fingerprint()


def test_non_gesture_kept_as_an_extra_class(tmp_path: Path):
    imported = import_imigue(tree(tmp_path / "src"), non_gesture="keep")
    ds = write_import(imported, tmp_path / "out")
    assert ds.num_classes == 33
    assert ds.class_names[32] == "Non-gesture"
    row = ds.manifest.set_index("clip_id").loc["0001_1"]
    assert (row["label"], row["start_frame"], row["end_frame"]) == (32, 31, 40)


def test_non_gesture_is_an_error_by_default(tmp_path: Path):
    assert problems_of(tree(tmp_path / "src")) == [
        "imigue_skeleton_train/0001/0001_label.csv lines 2: gesture id 99 (non-gesture); "
        "pass --non-gesture drop to leave these clips out or --non-gesture keep to import "
        "them as an extra class"
    ]


def test_bad_label_rows_are_all_reported(tmp_path: Path):
    labels = {
        "imigue_skeleton_train/0001/0001_label.csv": (
            "gestureID,startFrame,endFrame\n0,1,2\n33,1,2\nrubbing,1,2\n5,9,3\n5,1\n5;1;2\n"
        ),
        "imigue_skeleton_train/0002/0002_label.csv": "98,0,10\n",
    }
    src = tree(tmp_path / "src", labels, VIDEOS[:2])
    f1 = "imigue_skeleton_train/0001/0001_label.csv"
    assert problems_of(src, non_gesture="drop") == [
        f"{f1} line 1: a header line; expected label,start,end as integers",
        f"{f1} line 4: 'rubbing' is not a number; expected label,start,end as integers",
        f"{f1} line 5: start frame 9 is after end frame 3",
        f"{f1} line 6: 2 fields, expected 3 (label,start,end)",
        f"{f1} line 7: '5;1;2' is not comma-separated label,start,end",
        f"{f1} line 2: gesture id 0 is outside 1..32 (and is not 99, the non-gesture id)",
        f"{f1} line 3: gesture id 33 is outside 1..32 (and is not 99, the non-gesture id)",
        "imigue_skeleton_train/0002/0002_label.csv line 1: gesture id 98 is outside 1..32 "
        "(and is not 99, the non-gesture id)",
    ]


def test_digits_of_other_scripts_are_not_numbers(tmp_path: Path):
    """Found by tests/test_fuzz_imports.py: int() reads '\u0663' (ARABIC-INDIC THREE) as 3."""
    name = "imigue_skeleton_train/0001/0001_label.csv"
    src = tree(tmp_path / "src", {name: "\u0663,0,10\n5,\uff10,9\n"}, VIDEOS[:1])
    assert problems_of(src) == [
        f"{name} line 1: '\u0663' is not a number; expected label,start,end as integers",
        f"{name} line 2: '\uff10' is not a number; expected label,start,end as integers",
    ]


def test_videos_in_another_folder(tmp_path: Path):
    src = tree(tmp_path / "labels", videos=())
    videos = tmp_path / "videos"
    for name in VIDEOS:
        (videos / name).parent.mkdir(parents=True, exist_ok=True)
        (videos / name).write_bytes(b"x")
    m = import_imigue(src, videos=videos, non_gesture="drop").manifest
    assert m.loc[3, "video"] == str(videos.resolve() / VIDEOS[2])
    assert problems_of(src, non_gesture="drop") == [
        f"{name}: no video named {name[-14:-10]}.* under {src.resolve()}" for name in LABELS
    ]


def test_ambiguous_videos_are_reported(tmp_path: Path):
    src = tree(tmp_path / "src", videos=(*VIDEOS, "copy/0002.avi"))
    assert problems_of(src, non_gesture="drop") == [
        "imigue_skeleton_train/0002/0002_label.csv: several videos for 0002 under "
        f"{src.resolve()}: copy/0002.avi, imigue_rgb_phase1/train_data/0002/0002.mp4"
    ]


def test_split_file_overrides_folder_names(tmp_path: Path):
    src = tree(tmp_path / "src")
    split_file = tmp_path / "splits.csv"
    split_file.write_text("video,split\n0001,train\n0002,test\n0003,validation\n")
    m = import_imigue(src, split_file=split_file, non_gesture="drop").manifest
    assert list(m["split"]) == ["train", "train", "test", "val"]
    split_file.write_text("video,split\n0001,train\n0002,holdout\n")
    with pytest.raises(DatasetError) as e:
        import_imigue(src, split_file=split_file, non_gesture="drop")
    assert e.value.problems == [
        f"{split_file} row 2 (line 3): split 'holdout' is not train, val or test"
    ]
    split_file.write_text("video,split\n0001,train\n")
    assert problems_of(src, split_file=split_file, non_gesture="drop") == [
        f"{split_file}: no split for video 0002 (imigue_skeleton_train/0002/0002_label.csv)",
        f"{split_file}: no split for video 0003 (imigue_skeleton_validate/0003/0003_label.csv)",
    ]


def test_split_must_be_nameable(tmp_path: Path):
    src = tree(tmp_path / "src", {"a/0001/0001_label.csv": "1,0,5\n"}, ("b/0001.mp4",))
    assert problems_of(src) == [
        "a/0001/0001_label.csv: cannot tell its split: no folder of it or its video is "
        "named train, validate or test; pass --split-file CSV (video,split)"
    ]
    src = tree(tmp_path / "src2", {"train/0001/0001_label.csv": "1,0,5\n"}, ("test/0001.mp4",))
    assert problems_of(src) == [
        "train/0001/0001_label.csv: its folders name several splits (test, train); "
        "pass --split-file CSV (video,split)"
    ]


def test_val_is_carved_from_train_videos_when_the_source_has_none(tmp_path: Path):
    labels = {f"train/{v}/{v}_label.csv": "3,0,9\n4,10,19\n" for v in ("0001", "0002", "0003")}
    labels["test/0004/0004_label.csv"] = "3,0,9\n"
    videos = ("rgb/0001.mp4", "rgb/0002.mp4", "rgb/0003.mp4", "rgb/0004.mp4")
    src = tree(tmp_path / "src", labels, videos)
    imported = import_imigue(src, val_subjects=["0002"])
    m = imported.manifest
    assert m.groupby("split")["clip_id"].apply(list).to_dict() == {
        "test": ["0004_0"],
        "train": ["0001_0", "0001_1", "0003_0", "0003_1"],
        "val": ["0002_0", "0002_1"],
    }
    assert imported.notes[-1] == "val split carved from train: 2 clips of 1 videos (0002)"
    drawn = import_imigue(src, val_fraction=0.34, seed=3).manifest
    assert drawn.equals(import_imigue(src, val_fraction=0.34, seed=3).manifest)
    val_videos = set(drawn.loc[drawn["split"] == "val", "clip_id"].str[:4])
    assert len(val_videos) == 1 and val_videos <= {"0001", "0002", "0003"}
    assert set(drawn.loc[drawn["split"] == "test", "clip_id"]) == {"0004_0"}
    from fgsgl.errors import UsageError

    with pytest.raises(UsageError) as e:
        import_imigue(src, val_subjects=["0004"])
    assert e.value.problems == [
        "--val-subjects: '0004' is not in train (val is never carved from test)"
    ]


def test_fg_annotations_are_joined(tmp_path: Path):
    imported = import_imigue(tree(tmp_path / "src"), non_gesture="drop")
    annotations = tmp_path / "fg.csv"
    annotations.write_text(
        "clip_id,initiator,receiver,direction,motion\n"
        "0001_0,right hand,eyes,upward,rubs back and forth\n"
        "0003_0,left hand,neck,sideways,scratches\n"
    )
    ds = write_import(imported, tmp_path / "out", fg_annotations=annotations)
    m = ds.manifest.set_index("clip_id")
    assert m.loc["0001_0", "motion"] == "rubs back and forth"
    assert m.loc["0003_0", "initiator"] == "left hand"
    assert m["receiver"].isna().sum() == 2
    assert imported.notes[-1] == "FG annotations (fg.csv): 2 of 4 clips"
    annotations.write_text(
        "clip_id,initiator,receiver,direction,motion\n"
        "0001_0,right hand,eyes,upward,rubs\n"
        "0001_1,right hand,eyes,upward,rubs\n"
        "0001_0,right hand,eyes,upward,rubs\n"
    )
    with pytest.raises(DatasetError) as e:
        write_import(imported, tmp_path / "out2", fg_annotations=annotations)
    assert e.value.problems == [
        "fg.csv row 2 (line 3): clip_id '0001_1' is not a clip of this import",
        "fg.csv rows 1, 3 (lines 2, 4): duplicate clip_id '0001_0'",
    ]
    assert not (tmp_path / "out2").exists()
    # found by tests/test_fuzz_imports.py: spaces around an id were stripped unseen
    annotations.write_text("clip_id,initiator,receiver,direction,motion\n0001_0 ,a,b,c,d\n")
    with pytest.raises(DatasetError) as e:
        write_import(imported, tmp_path / "out2", fg_annotations=annotations)
    assert e.value.problems == [
        "fg.csv row 1 (line 2): clip_id '0001_0 ' has spaces around it; ids are compared "
        "exactly (remove them)"
    ]


def test_cli_import_and_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture):
    src = tree(tmp_path / "src")
    out = tmp_path / "out"
    assert main(["import", "imigue", str(src), str(out)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(
        f"fgsgl import: error: {src.resolve()}: cannot import iMiGUE (1 problems)"
    )
    assert "0001_label.csv lines 2: gesture id 99" in err
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [src]  # no partial or staged folder left
    assert main(["import", "imigue", str(src), str(out), "--non-gesture", "drop"]) == 0
    printed = capsys.readouterr().out
    assert "4 clips, 32 classes, 3 videos, 0 subjects" in printed
    assert printed.rstrip().endswith(f"wrote {out}")
    assert main(["validate", str(out)]) == 0
    capsys.readouterr()
    assert main(["import", "imigue", str(src), str(out), "--non-gesture", "drop"]) == 1
    assert "already exists; pass --force to replace it" in capsys.readouterr().err
    assert main(["import", "imigue", str(src), str(out), "--non-gesture", "keep", "--force"]) == 0
    assert load_dataset(out).num_classes == 33
    with pytest.raises(SystemExit) as e:
        main(["import", "imigue", str(src), str(out), "--bogus"])
    assert e.value.code == 2
    assert main(["import", "imigue", str(tmp_path / "nope"), str(tmp_path / "o2")]) == 1
    assert f"SRC {tmp_path / 'nope'}: not found" in capsys.readouterr().err
