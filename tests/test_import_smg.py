"""SMG importer on a small tree in the public layout (dummy video files)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fgsgl.cli import main
from fgsgl.dataset import DatasetError, load_dataset
from fgsgl.dataset.importers import import_smg, write_import
from fgsgl.errors import UsageError


def tree(root: Path, samples: dict[int, str], streams=("color", "depth")) -> Path:
    for n, labels in samples.items():
        folder = root / f"Sample{n:04d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"Sample{n:04d}_finelabels.csv").write_text(labels)
        (folder / f"Sample{n:04d}_skeleton.csv").write_text("0,0,0\n")
        for stream in streams:
            (folder / f"Sample{n:04d}_{stream}.mp4").write_bytes(b"x")
    return root


SAMPLES = {1: "1,0,10\n17,11,20\n", 2: "5,3,8\n", 3: "2,0,4\n", 36: "9,100,150\n"}


def test_cross_subject_split_and_rgb_video(tmp_path: Path):
    src = tree(tmp_path / "src", SAMPLES)
    imported = import_smg(src, val_subjects=["2"])
    ds = write_import(imported, tmp_path / "out")
    m = ds.manifest
    assert list(m["clip_id"]) == [
        "Sample0001_0",
        "Sample0001_1",
        "Sample0002_0",
        "Sample0003_0",
        "Sample0036_0",
    ]
    assert list(m["label"]) == [0, 16, 4, 1, 8]
    assert list(m["subject"]) == ["1", "1", "2", "3", "36"]
    assert list(m["split"]) == ["train", "train", "val", "train", "test"]
    assert list(m["start_frame"]) == [0, 11, 3, 0, 100]
    assert m.loc[4, "video"] == str(src.resolve() / "Sample0036" / "Sample0036_color.mp4")
    assert ds.num_classes == 17
    assert ds.class_names[2] == "Folding arms"
    assert "test subjects not in the source: 37, 38, 39, 40" in imported.notes
    assert "val split carved from train: 1 clips of 1 subjects (2)" in imported.notes


def test_other_test_subjects_and_a_drawn_val_split(tmp_path: Path):
    src = tree(tmp_path / "src", SAMPLES)
    m = import_smg(src, test_subjects=["3"], val_fraction=0.34, seed=1).manifest
    by_subject = m.groupby("subject")["split"].first().to_dict()
    assert by_subject["3"] == "test"
    assert sorted(by_subject.values()) == ["test", "train", "train", "val"]
    assert m.equals(import_smg(src, test_subjects=["3"], val_fraction=0.34, seed=1).manifest)
    with pytest.raises(UsageError, match="not in train"):
        import_smg(src, val_subjects=["36"])


def test_bad_labels_and_ambiguous_videos(tmp_path: Path):
    src = tree(tmp_path / "src", {1: "0,0,10\n18,1,2\nfolding,1,2\n", 2: "3,0,1\n"})
    (src / "Sample0002" / "Sample0002_color.mp4").unlink()
    with pytest.raises(DatasetError) as e:
        import_smg(src)
    assert e.value.problems == [
        "Sample0001/Sample0001_finelabels.csv line 3: 'folding' is not a number; "
        "expected label,start,end as integers",
        "Sample0001/Sample0001_finelabels.csv line 1: label 0 is outside 1..17",
        "Sample0001/Sample0001_finelabels.csv line 2: label 18 is outside 1..17",
    ]
    src = tree(tmp_path / "src2", {1: "3,0,1\n"}, streams=("depth", "silhouette"))
    with pytest.raises(DatasetError) as e:
        import_smg(src)
    assert e.value.problems == [
        f"Sample0001/Sample0001_finelabels.csv: several videos for Sample0001 under "
        f"{src.resolve()}: Sample0001/Sample0001_depth.mp4, "
        "Sample0001/Sample0001_silhouette.mp4"
    ]


def test_cli_smg(tmp_path: Path, capsys: pytest.CaptureFixture):
    src = tree(tmp_path / "src", SAMPLES)
    out = tmp_path / "out"
    args = ["import", "smg", str(src), str(out), "--test-subjects", "36-40", "--val-subjects", "3"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "5 clips, 17 classes, 4 videos, 4 subjects" in printed
    assert load_dataset(out).manifest["split"].tolist() == [
        "train",
        "train",
        "train",
        "val",
        "test",
    ]
    assert main(["import", "smg", str(src), str(tmp_path / "o2"), "--test-subjects", "9-3"]) == 2
    assert "--test-subjects: range '9-3' runs backwards" in capsys.readouterr().err
    assert not (tmp_path / "o2").exists()
