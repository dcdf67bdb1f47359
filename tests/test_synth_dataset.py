"""`fgsgl synth`: the written dataset, its determinism, the contact sheet, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fgsgl.cli import main
from fgsgl.dataset import load_dataset
from fgsgl.errors import FgsglError
from fgsgl.synth import generate as generate_module
from fgsgl.synth.body import JOINTS
from fgsgl.synth.config import SynthConfig
from fgsgl.synth.generate import INFO_FILE, generate

# 64 px: decord 3.4.0 mis-shapes some narrow widths (32, 48, 96; see fgsgl.video.decode).
TINY = SynthConfig(classes=4, clips_per_class=3, subjects=3, size=64, frames=8, keypoints=True)


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "tiny"
    generate(out, TINY, workers=1, progress=False)
    return out


def test_dataset_validates_with_attributes_and_keypoints(tiny):
    ds = load_dataset(tiny, need_fg_text=True)
    m = ds.manifest
    assert len(m) == 12 and ds.class_names[:2] == ["touching forehead", "rubbing eyes"]
    assert set(m["split"]) == {"train", "val", "test"}
    for split, group in m.groupby("split"):
        assert group["subject"].nunique() == 1, split  # split by subject
    assert m[["initiator", "receiver", "direction", "motion"]].notna().all().all()
    texts = ds.fg_texts()
    assert texts.str.len().min() > 20
    for row in m.itertuples():
        kp = np.load(ds.keypoints_uri(row.keypoints))
        assert kp.shape == (TINY.frames, len(JOINTS), 3) and kp.dtype == np.float32
        assert 0 <= int(row.contact_start) <= int(row.contact_end) < TINY.frames
    info = json.loads((tiny / INFO_FILE).read_text())
    assert info["keypoints"]["joints"] == list(JOINTS)
    assert info["config"]["size"] == 64


def test_videos_decode_with_decord_to_the_right_shape(tiny):
    import decord

    ds = load_dataset(tiny)
    for video in ds.manifest["video"]:
        reader = decord.VideoReader(ds.video_uri(video))
        assert len(reader) == TINY.frames
        batch = reader.get_batch(list(range(TINY.frames))).asnumpy()
        assert batch.shape == (TINY.frames, TINY.size, TINY.size, 3)
        assert batch.std() > 5  # a picture, not a blank


def test_decoded_video_matches_the_rendered_frames(tiny):
    from fgsgl.synth.classes import CLASSES
    from fgsgl.synth.clip import clip_rng, render_clip, subject_for
    from fgsgl.synth.video import read_mp4

    ds = load_dataset(tiny)
    row = ds.manifest.iloc[4]  # class 1, clip 1
    label, number = int(row["label"]), int(row["clip_id"].rsplit("_", 1)[1])
    subject = int(row["subject"][1:])
    clip = render_clip(
        CLASSES[label],
        subject_for(TINY.seed, subject, TINY.nuisance),
        clip_rng(TINY.seed, label, number),
        size=TINY.size,
        frames=TINY.frames,
    )
    decoded, _ = read_mp4(ds.video_uri(row["video"]))
    assert np.abs(decoded.astype(int) - clip.frames.astype(int)).mean() < 6
    assert row["motion"] == clip.attributes["motion"]


def test_same_seed_same_bytes_whatever_the_workers(tiny, tmp_path):
    again = tmp_path / "again"
    generate(again, TINY, workers=2, progress=False)
    first, second = tree_bytes(tiny), tree_bytes(again)
    assert first.keys() == second.keys()
    assert any(name.endswith(".mp4") for name in first)
    for name in first:
        assert first[name] == second[name], name


def test_another_seed_gives_another_dataset(tiny, tmp_path):
    other = tmp_path / "other"
    generate(other, SynthConfig(**{**TINY.__dict__, "seed": 1}), workers=1, progress=False)
    assert (other / "manifest.csv").read_bytes() != (tiny / "manifest.csv").read_bytes()


def test_contact_sheet_has_one_strip_per_class(tiny, tmp_path):
    from fgsgl.synth.contact_sheet import GAP, LABEL_WIDTH, make_contact_sheet

    png = make_contact_sheet(tiny, tmp_path / "sheet.png", frames=6)
    image = np.asarray(Image.open(png).convert("RGB"))
    tile = 64 * 2  # 64 px frames are scaled up 2x to reach MIN_TILE
    assert image.shape == (4 * (tile + GAP), LABEL_WIDTH + 6 * (tile + GAP), 3)
    label_column = image[:, :LABEL_WIDTH]
    assert (label_column < 100).any()  # the class names are written
    first_tile = image[:tile, LABEL_WIDTH : LABEL_WIDTH + tile]
    assert first_tile.std() > 10


def test_cli_writes_dataset_and_contact_sheet(tmp_path, capsys):
    out, png = tmp_path / "ds", tmp_path / "sheet.png"
    options = ["--classes", "2", "--size", "32", "--frames", "8", "--workers", "1"]
    sheet = ["--contact-sheet", str(png)]
    code = main(["synth", str(out), "--preset", "mini", *options, "--no-progress", *sheet])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["clips"] == 6 and summary["by_split"] == {"train": 2, "val": 2, "test": 2}
    assert summary["size"] == 32 and summary["keypoints"] is False
    assert png.is_file() and (out / "manifest.csv").is_file()
    assert "keypoints" not in load_dataset(out).manifest.dropna(axis=1, how="all").columns
    # Writing over it needs --overwrite, and then replaces it whole.
    assert main(["synth", str(out), "--preset", "mini", *options, "--no-progress"]) == 1
    capsys.readouterr()
    again = ["synth", str(out), "--preset", "mini", *options, "--no-progress", "--overwrite"]
    assert main([*again, "--classes", "3"]) == 0
    assert json.loads(capsys.readouterr().out)["clips"] == 9
    assert len(list((out / "videos").iterdir())) == 9


def test_cli_reports_every_bad_option_at_once(tmp_path, capsys):
    out = tmp_path / "bad"
    bad = ["--size", "63", "--frames", "2", "--classes", "40", "--subjects", "2"]
    code = main(["synth", str(out), *bad, "--nuisance", "-1", "--contact-sheet", "x.jpg"])
    assert code == 2
    err = capsys.readouterr().err
    for option in ("--size", "--frames", "--classes", "--subjects", "--nuisance", "--contact"):
        assert option in err
    assert not out.exists()


def test_cli_refuses_to_replace_what_it_did_not_write(tmp_path, capsys):
    out = tmp_path / "precious"
    out.mkdir()
    (out / "thesis.txt").write_text("do not delete")
    assert main(["synth", str(out), "--preset", "mini", "--no-progress"]) == 1
    assert "already exists" in capsys.readouterr().err
    assert main(["synth", str(out), "--preset", "mini", "--overwrite", "--no-progress"]) == 1
    assert "not a SynthMG dataset" in capsys.readouterr().err
    assert (out / "thesis.txt").read_text() == "do not delete"


def test_a_failure_mid_way_leaves_nothing_behind(tmp_path, monkeypatch):
    real = generate_module.render_task
    calls = []

    def fail_on_third(task):
        calls.append(task.clip_id)
        if len(calls) == 3:
            raise RuntimeError("disk full")
        return real(task)

    monkeypatch.setattr(generate_module, "render_task", fail_on_third)
    with pytest.raises(RuntimeError, match="disk full"):
        generate(tmp_path / "ds", TINY, workers=1, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_library_refuses_bad_settings(tmp_path):
    with pytest.raises(FgsglError) as e:
        generate(tmp_path / "x", SynthConfig(size=30, subtlety=9.0), progress=False)
    assert len(e.value.problems) == 2


def test_calibrate_reports_each_baseline_against_chance(tiny, capsys, tmp_path):
    from fgsgl.synth.calibrate import main as calibrate_main

    out = tmp_path / "cal.json"
    assert calibrate_main([str(tiny), "--frames", "4", "--grid", "8", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "chance top-1: 25.0%" in printed
    result = json.loads(out.read_text())
    assert result["clips"] == {"train": 4, "val": 4, "test": 4}
    assert set(result["results"]) == {"absdiff", "diffs", "frames", "keypoints"}
    for scores in result["results"].values():
        assert scores["train"] == 1.0  # 4 clips, many features: fitted exactly
        assert all(0.0 <= scores[s] <= 1.0 for s in ("val", "test"))


def test_calibrate_refuses_a_dataset_without_a_split(tiny, tmp_path, capsys):
    import shutil

    import pandas as pd

    from fgsgl.synth.calibrate import main as calibrate_main

    copy = tmp_path / "copy"
    shutil.copytree(tiny, copy)
    manifest = pd.read_csv(copy / "manifest.csv")
    manifest.loc[manifest["split"] == "val", "split"] = "train"
    manifest.to_csv(copy / "manifest.csv", index=False)
    assert calibrate_main([str(copy), "--frames", "4", "--grid", "8"]) == 1
    assert "no clips in split(s) val" in capsys.readouterr().err
