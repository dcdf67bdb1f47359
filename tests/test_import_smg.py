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


# Clips per sample of a tree in SMG's official layout: train 1-30, val 31-35 (the MiGA
# release's validate samples hold 104, 14, 326, 89 and 104 clips), test 36-40; the train and
# test sums are FG-SGL's (2,452 and 610), spread evenly as their per-sample counts are unknown.
OFFICIAL = {n: 81 + (n <= 22) for n in range(1, 31)}
OFFICIAL |= dict(zip(range(31, 36), (104, 14, 326, 89, 104), strict=True))
OFFICIAL |= {n: 122 for n in range(36, 41)}


def labels(clips: int) -> str:
    return "".join(f"{k % 17 + 1},{10 * k},{10 * k + 5}\n" for k in range(clips))


def comparison(printed: str) -> list[str]:
    """The table `fgsgl import smg` prints after the notes, up to the `wrote` line."""
    lines = printed.splitlines()
    start = lines.index("clips per split, against the FG-SGL paper (Wei et al., arXiv 2603.16269):")
    return lines[start : lines.index("", start)]


def test_default_split_is_the_papers(tmp_path: Path, capsys: pytest.CaptureFixture):
    assert sum(OFFICIAL.values()) == 3699
    src = tree(tmp_path / "src", {n: labels(c) for n, c in OFFICIAL.items()})
    assert main(["import", "smg", str(src), str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out
    m = load_dataset(tmp_path / "out").manifest
    by_subject = {subject: set(split) for subject, split in m.groupby("subject")["split"]}
    assert by_subject == {
        str(n): {"train" if n <= 30 else "val" if n <= 35 else "test"} for n in range(1, 41)
    }
    assert m["split"].value_counts().to_dict() == {"train": 2452, "val": 637, "test": 610}
    assert "  - val split carved from train: 637 clips of 5 subjects (31, 32, 33, 34, 35)" in (
        printed.splitlines()
    )
    assert comparison(printed) == [
        "clips per split, against the FG-SGL paper (Wei et al., arXiv 2603.16269):",
        "  split  this import  paper  difference",
        "  train        2,452  2,452           0",
        "  val            637    637           0",
        "  test           610    610           0",
        "  total        3,699  3,699           0",
        "  the same split as the paper's",
    ]


def test_table_shows_the_imports_own_counts(tmp_path: Path, capsys: pytest.CaptureFixture):
    samples = {**SAMPLES, 31: "4,0,9\n6,10,19\n", 33: "7,0,5\n"}
    src = tree(tmp_path / "src", samples)
    assert main(["import", "smg", str(src), str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out
    counts = load_dataset(tmp_path / "out").manifest["split"].value_counts().to_dict()
    assert counts == {"train": 4, "val": 3, "test": 1}
    assert "  - default val subjects not in train: 32, 34, 35" in printed.splitlines()
    assert comparison(printed) == [
        "clips per split, against the FG-SGL paper (Wei et al., arXiv 2603.16269):",
        "  split  this import  paper  difference",
        "  train            4  2,452      -2,448",
        "  val              3    637        -634",
        "  test             1    610        -609",
        "  total            8  3,699      -3,691",
        "  not the paper's split (docs/datasets.md says how to reproduce it)",
    ]
    # No default val subject in the source: val is drawn, and the notes say the split moved.
    imported = import_smg(tree(tmp_path / "src2", SAMPLES))
    assert (
        "none of the default val subjects (31-35) is in train: val is drawn instead, "
        "so the split is not the paper's"
    ) in imported.notes
    assert set(imported.manifest["split"]) == {"train", "val", "test"}


def test_split_file_by_sample_or_clip(tmp_path: Path, capsys: pytest.CaptureFixture):
    src = tree(tmp_path / "src", SAMPLES)
    by_sample = tmp_path / "samples.csv"
    by_sample.write_text(
        "video,split\nSample0001,train\nSample0002,Validate\nSample0003,test\nSample0036,train\n"
    )
    imported = import_smg(src, split_file=by_sample)
    assert list(imported.manifest["split"]) == ["train", "train", "val", "test", "train"]
    assert f"splits from {by_sample} (by video)" in imported.notes
    assert imported.options["split_file"] == str(by_sample)
    assert imported.options["test_subjects"] is None
    by_clip = tmp_path / "clips.csv"
    by_clip.write_text(
        "clip_id,split\nSample0001_0,train\nSample0001_1,train\nSample0002_0,train\n"
        "Sample0003_0,test\nSample0036_0,train\n"
    )
    m = import_smg(src, split_file=by_clip, val_subjects=["036"]).manifest
    assert list(m["split"]) == ["train", "train", "train", "test", "val"]
    out = tmp_path / "out"
    assert main(["import", "smg", str(src), str(out), "--split-file", str(by_sample)]) == 0
    assert load_dataset(out).manifest["split"].tolist() == list(imported.manifest["split"])
    assert "  val              1    637        -636" in capsys.readouterr().out.splitlines()
    with pytest.raises(UsageError, match="--split-file and --test-subjects both set"):
        import_smg(src, split_file=by_sample, test_subjects=["36"])


def test_split_file_problems_are_listed_at_once(tmp_path: Path):
    src = tree(tmp_path / "src", SAMPLES)
    by_sample = tmp_path / "samples.csv"
    by_sample.write_text(
        "video,split\nSample0001,train\nSample0099,test\nSample0002,holdout\n"
        "Sample0001,test\nSample0036,test\n"
    )
    with pytest.raises(DatasetError) as e:
        import_smg(src, split_file=by_sample)
    assert e.value.problems == [
        f"{by_sample}: no split for Sample0002 (Sample0002/Sample0002_finelabels.csv)",
        f"{by_sample}: no split for Sample0003 (Sample0003/Sample0003_finelabels.csv)",
        f"{by_sample} row 3 (line 4): split 'holdout' is not train, val or test",
        f"{by_sample} row 4 (line 5): video 'Sample0001' is given two splits",
        f"{by_sample} row 2 (line 3): video 'Sample0099' is not a sample of {src.resolve()}",
    ]
    src = tree(tmp_path / "src2", {1: "1,0,1\n2,2,3\n3,4,5\n4,6,7\n", 2: "5,0,1\n"})
    by_clip = tmp_path / "clips.csv"
    by_clip.write_text(
        "clip_id,split\nSample0001_0,train\nSample0001_3,test\nSample0002_7,val\n"
        "Sample0001_0,train\n"
    )
    with pytest.raises(DatasetError) as e:
        import_smg(src, split_file=by_clip)
    assert e.value.problems == [
        f"{by_clip}: no split for 2 of the 4 clips of Sample0001: Sample0001_1-2 "
        "(Sample0001/Sample0001_finelabels.csv)",
        f"{by_clip}: no split for any clip of Sample0002 (Sample0002/Sample0002_finelabels.csv)",
        f"{by_clip} row 3 (line 4): clip_id 'Sample0002_7' is not a clip of {src.resolve()}",
        f"{by_clip} rows 1, 2, 4 (lines 2, 3, 5): subject 1 is in 2 splits (train, test); "
        "a cross-subject split keeps each subject in one",
    ]
