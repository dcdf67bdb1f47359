"""`fgsgl validate`: the summary or the list of problems, and the exit code."""

from __future__ import annotations

from pathlib import Path

import pytest

from fgsgl.cli import main

CLASSES = "id,name\n0,rubbing eyes\n1,touching neck\n"


def write(root: Path, manifest: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "manifest.csv").write_text(manifest)
    (root / "classes.csv").write_text(CLASSES)
    return root


def test_validate_prints_the_summary(tmp_path: Path, capsys: pytest.CaptureFixture):
    root = write(tmp_path, "clip_id,video,label,split\na,a.mp4,0,train\nb,b.mp4,1,test\n")
    assert main(["validate", str(root)]) == 0
    out = capsys.readouterr().out
    assert "2 clips, 2 classes, 2 videos, 0 subjects" in out
    assert "  - no val clips: training selects the best epoch on val" in out
    assert out.rstrip().endswith(f"{root}: valid")


def test_validate_lists_problems_and_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture):
    root = write(tmp_path, "clip_id,video,label,split\na,a.mp4,two,train\na,b.mp4,5,dev\n")
    assert main(["validate", str(root)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        f"fgsgl validate: error: {root}: not a valid dataset (4 problems)",
        "  - manifest.csv row 2 (line 3): split 'dev' is not one of train, val, test "
        "(did you mean 'val'?)",
        "  - manifest.csv rows 1, 2 (lines 2, 3): duplicate clip_id 'a'",
        "  - manifest.csv row 1 (line 2): label 'two' is not an integer class id",
        "  - manifest.csv row 2 (line 3): label 5 is outside 0..1 (classes.csv has 2 classes)",
    ]


def test_validate_need_fg_text_and_check_files(tmp_path: Path, capsys: pytest.CaptureFixture):
    root = write(tmp_path, "clip_id,video,label,split\na,a.mp4,0,train\n")
    assert main(["validate", str(root), "--need-fg-text"]) == 1
    assert "fine-grained text is needed" in capsys.readouterr().err
    assert main(["validate", str(root), "--check-files"]) == 1
    assert f"video file {root.resolve()}/a.mp4 does not exist" in capsys.readouterr().err
    (root / "a.mp4").write_bytes(b"")
    assert main(["validate", str(root), "--check-files"]) == 0


def test_check_files_refuses_a_symlink_out_of_the_dataset(tmp_path: Path, capsys):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "a.mp4").write_bytes(b"")
    root = write(tmp_path / "ds", "clip_id,video,label,split\na,v/a.mp4,0,train\n")
    (root / "v").symlink_to(outside)
    assert main(["validate", str(root)]) == 0  # the tables alone are fine
    capsys.readouterr()
    assert main(["validate", str(root), "--check-files"]) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"fgsgl validate: error: {root}: 1 problem with the files it names",
        f"  - manifest.csv row 1 (line 2): video 'v/a.mp4' leads out of the dataset directory "
        f"through a symlink (to {outside.resolve()}/a.mp4); relative paths must stay inside "
        "it (give the file's absolute path instead)",
    ]


def test_validate_missing_directory_and_bad_option(tmp_path: Path, capsys):
    assert main(["validate", str(tmp_path / "nope")]) == 1
    assert capsys.readouterr().err.strip() == (
        f"fgsgl validate: error: {tmp_path / 'nope'}: not found"
    )
    with pytest.raises(SystemExit) as e:
        main(["validate", str(tmp_path), "--no-such-option"])
    assert e.value.code == 2
    assert "unrecognized arguments: --no-such-option" in capsys.readouterr().err
