"""mmaction-style list importer (MA-52 layout: annotations/*_list_videos.txt)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fgsgl.cli import main
from fgsgl.dataset import DatasetError, load_dataset
from fgsgl.dataset.importers import import_list, write_import
from fgsgl.dataset.importers.splits import carve_val, parse_ids
from fgsgl.errors import UsageError

LISTS = {
    "train": "videos/0001_01_0001.mp4 0\nvideos/0001_01_0002.mp4 1\nvideos/0002_01_0001.mp4 2\n"
    "videos/0003_01_0001.mp4 0\n",
    "val": "videos/0004_01_0001.mp4 1\n",
    "test": "# a comment\n\nvideos/0005_01_0001.mp4 2\n",
}


def tree(root: Path, lists: dict[str, str] = LISTS) -> Path:
    (root / "annotations").mkdir(parents=True)
    for split, text in lists.items():
        (root / "annotations" / f"{split}_list_videos.txt").write_text(text)
        for line in text.splitlines():
            if line and not line.startswith("#"):
                video = root / line.split()[0]
                video.parent.mkdir(parents=True, exist_ok=True)
                video.write_bytes(b"x")
    return root


def test_lists_found_by_name(tmp_path: Path):
    src = tree(tmp_path / "src")
    classes = tmp_path / "names.txt"
    classes.write_text("shaking body\nsitting straightly\nshrugging\n")
    from fgsgl.dataset.importers.base import read_class_names

    imported = import_list(src, class_names=read_class_names(classes), subject_pattern=r"^(\d+)_")
    ds = write_import(imported, tmp_path / "out")
    m = ds.manifest
    assert list(m["clip_id"]) == [
        "videos/0001_01_0001",
        "videos/0001_01_0002",
        "videos/0002_01_0001",
        "videos/0003_01_0001",
        "videos/0004_01_0001",
        "videos/0005_01_0001",
    ]
    assert list(m["split"]) == ["train"] * 4 + ["val", "test"]
    assert list(m["label"]) == [0, 1, 2, 0, 1, 2]
    assert list(m["subject"]) == ["0001", "0001", "0002", "0003", "0004", "0005"]
    assert m.loc[0, "video"] == str(src.resolve() / "videos" / "0001_01_0001.mp4")
    assert m["start_frame"].isna().all()
    assert ds.class_names == ["shaking body", "sitting straightly", "shrugging"]


def test_val_carved_by_subject_and_default_class_names(tmp_path: Path):
    lists = {"train": LISTS["train"], "test": LISTS["test"]}
    src = tree(tmp_path / "src", lists)
    imported = import_list(src, subject_pattern=r"^(\d+)_", val_subjects=["0001"])
    m = imported.manifest
    assert m.loc[m["split"] == "val", "clip_id"].tolist() == [
        "videos/0001_01_0001",
        "videos/0001_01_0002",
    ]
    assert imported.classes["name"].tolist() == ["class 0", "class 1", "class 2"]
    assert any(n.startswith("no --classes") for n in imported.notes)


def test_bad_lines_are_all_reported(tmp_path: Path):
    src = tree(tmp_path / "src")
    train = src / "annotations" / "train_list_videos.txt"
    train.write_text(
        "videos/0001_01_0001.mp4 zero\nvideos/missing.mp4 1\nvideos/0001_01_0002.mp4\n"
        "videos/0002_01_0001.mp4 7\nvideos/0002_01_0001.mp4 1\n"
    )
    with pytest.raises(DatasetError) as e:
        import_list(src, class_names=["a", "b", "c"])
    video = src.resolve() / "videos" / "missing.mp4"
    assert e.value.problems == [
        "train_list_videos.txt line 1: label 'zero' is not an integer class id",
        f"train_list_videos.txt line 2: video {video} not found",
        "train_list_videos.txt line 3: 1 fields, expected `path label`",
        "train_list_videos.txt line 5: videos/0002_01_0001.mp4 is listed again "
        "(train_list_videos.txt line 4)",
        "train_list_videos.txt line 4: label 7 is outside 0..2 (the class list has 3 names)",
    ]


def test_paths_out_of_the_prefix_and_paths_with_dots(tmp_path: Path):
    """Found by tests/test_fuzz_imports.py: `../x.mp4` was imported from outside the data
    prefix, and `a/../b.mp4` became a clip id of its own beside `b.mp4`."""
    src = tree(tmp_path / "src")
    (src / "videos" / "sub").mkdir()
    (tmp_path / "outside.mp4").write_bytes(b"x")
    train = src / "annotations" / "train_list_videos.txt"
    train.write_text(
        "../outside.mp4 0\nvideos/0001_01_0001.mp4 0\nvideos/sub/../0001_01_0001.mp4 1\n"
        "videos/sub/../0002_01_0001.mp4 \u0663\n"
    )
    with pytest.raises(DatasetError) as e:
        import_list(src, class_names=["a", "b", "c"])
    assert e.value.problems == [
        f"train_list_videos.txt line 1: ../outside.mp4 leads out of {src.resolve()} (a listed "
        "path stays inside the folder it is relative to)",
        "train_list_videos.txt line 3: videos/sub/../0001_01_0001.mp4 is listed again "
        "(train_list_videos.txt line 2)",
        "train_list_videos.txt line 4: label '\u0663' is not an integer class id",
    ]
    train.write_text("videos/sub/../0002_01_0001.mp4 2\n")
    imported = import_list(src, lists={"train": train}, class_names=["a", "b", "c"], val_fraction=0)
    assert list(imported.manifest["clip_id"]) == ["videos/0002_01_0001"]


def test_one_based_labels(tmp_path: Path):
    src = tree(tmp_path / "src", {"train": "v/a_1.mp4 1\nv/b_2.mp4 2\n", "test": "v/c.mp4 2\n"})
    imported = import_list(src, val_fraction=0)
    assert list(imported.manifest["label"]) == [1, 2, 2]
    assert "no clip has label 0: if the lists count classes from 1, pass --one-based" in (
        imported.notes
    )
    assert list(import_list(src, one_based=True, val_fraction=0).manifest["label"]) == [0, 1, 1]
    (src / "annotations" / "test_list_videos.txt").write_text("v/c.mp4 0\n")
    with pytest.raises(DatasetError) as e:
        import_list(src, one_based=True, val_fraction=0)
    assert e.value.problems == ["test_list_videos.txt line 1: label 0 is below 1"]


def test_carve_val_rules(tmp_path: Path):
    import pandas as pd

    m = pd.DataFrame(
        {
            "clip_id": list("abcdef"),
            "video": [f"/v/{c}.mp4" for c in "abcdef"],
            "split": ["train"] * 4 + ["test"] * 2,
            "subject": ["1", "1", "2", "3", "4", "4"],
        }
    )
    carved, note = carve_val(m, fraction=0.5, subjects=None, seed=0)
    val_subjects = set(carved.loc[carved["split"] == "val", "subject"])
    assert len(val_subjects) == 2 and val_subjects <= {"1", "2", "3"}
    assert note.startswith("val split carved from train: ")
    assert (carved["split"] == "test").sum() == 2
    assert carve_val(m, fraction=0.5, subjects=None, seed=0)[0].equals(carved)
    assert carve_val(m, fraction=0, subjects=None, seed=0)[0].equals(m)
    with pytest.raises(UsageError):
        carve_val(m, fraction=1.5, subjects=None, seed=0)
    with pytest.raises(UsageError, match="already has a val split"):
        carve_val(carved, fraction=None, subjects=["1"], seed=0)
    assert carve_val(carved, fraction=None, subjects=None, seed=0) == (carved, None)
    one = m[m["subject"].isin(["1", "4"])]
    with pytest.raises(DatasetError, match="train has 1 of them"):
        carve_val(one, fraction=None, subjects=None, seed=0)
    assert parse_ids("36-38, 40", "--x") == ["36", "37", "38", "40"]


def test_cli_list(tmp_path: Path, capsys: pytest.CaptureFixture):
    src = tree(tmp_path / "src")
    out = tmp_path / "out"
    train = src / "annotations" / "train_list_videos.txt"
    assert main(["import", "list", str(src), str(out), "--train", str(train)]) == 0
    assert set(load_dataset(out).manifest["split"]) == {"train", "val"}
    capsys.readouterr()
    assert main(["import", "list", str(tmp_path), str(tmp_path / "o2")]) == 1
    assert "no list files (*.txt named train/val/test)" in capsys.readouterr().err
    assert not (tmp_path / "o2").exists()
