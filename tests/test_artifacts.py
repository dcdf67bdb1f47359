"""Artifact metadata and staged writes: the guarantees every step relies on."""

from __future__ import annotations

import json

import pytest

from fgsgl import __version__
from fgsgl.artifacts import read_metadata, staged_dir, write_json, write_metadata
from fgsgl.errors import FgsglError


def test_metadata_round_trip(tmp_path):
    write_metadata(tmp_path, "fgsgl.frames", frames=8, size=112)
    meta = read_metadata(tmp_path, "fgsgl.frames")
    assert meta["frames"] == 8 and meta["size"] == 112
    assert meta["fgsgl_version"] == __version__
    assert meta["format_version"] == 1


def test_metadata_of_another_kind_is_refused(tmp_path):
    write_metadata(tmp_path, "fgsgl.texts")
    with pytest.raises(
        FgsglError, match=r"expected a fgsgl\.frames artifact, found 'fgsgl\.texts'"
    ):
        read_metadata(tmp_path, "fgsgl.frames")


def test_missing_metadata_names_the_directory(tmp_path):
    with pytest.raises(FgsglError, match=f"{tmp_path}: not a fgsgl.model artifact"):
        read_metadata(tmp_path, "fgsgl.model")


def test_other_format_version_is_refused(tmp_path):
    (tmp_path / "metadata.json").write_text(
        json.dumps({"kind": "fgsgl.model", "format_version": 99})
    )
    with pytest.raises(FgsglError, match="artifact format 99"):
        read_metadata(tmp_path, "fgsgl.model")


def test_staged_dir_publishes_only_on_success(tmp_path):
    out = tmp_path / "out"
    with staged_dir(out) as tmp:
        (tmp / "a.txt").write_text("a")
        assert not out.exists()
    assert (out / "a.txt").read_text() == "a"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_staged_dir_failure_leaves_nothing_and_keeps_the_old_output(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "old.txt").write_text("old")
    with pytest.raises(RuntimeError), staged_dir(out) as tmp:
        (tmp / "new.txt").write_text("new")
        raise RuntimeError("step failed")
    assert sorted(p.name for p in out.iterdir()) == ["old.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_staged_dir_replaces_previous_output(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "old.txt").write_text("old")
    with staged_dir(out) as tmp:
        (tmp / "new.txt").write_text("new")
    assert sorted(p.name for p in out.iterdir()) == ["new.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_write_json_is_sorted_and_complete(tmp_path):
    write_json(tmp_path / "m.json", {"b": 1, "a": [1, 2]})
    assert json.loads((tmp_path / "m.json").read_text()) == {"a": [1, 2], "b": 1}
    assert list(tmp_path.iterdir()) == [tmp_path / "m.json"]
