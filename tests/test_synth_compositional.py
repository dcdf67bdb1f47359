"""SynthMG's compositional preset: the class grid, the per-split plan, the low-shot classes,
the shortcut, the written dataset and its attributes; and the classic presets' bytes."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fgsgl.cli import main
from fgsgl.dataset import load_dataset
from fgsgl.errors import FgsglError
from fgsgl.synth.body import JOINTS, RECEIVERS
from fgsgl.synth.classes import (
    CLASSES,
    COMPOSITIONAL_CLASSES,
    COMPOSITIONAL_MOTIONS,
    COMPOSITIONAL_RECEIVERS,
    low_shot_problems,
)
from fgsgl.synth.clip import clip_rng, render_clip, subject_for
from fgsgl.synth.compositional import low_shot_classes, split_subjects
from fgsgl.synth.config import PRESETS, Compositional, SynthConfig, compositional_config
from fgsgl.synth.generate import INFO_FILE, generate, info, plan
from fgsgl.synth.motion import MOTIONS
from fgsgl.synth.shortcut import CUES

PRESET = PRESETS["compositional"]
# Scaled down for rendering: every class in every split, 8-frame clips (~80 clips).
SMALL = Compositional(train=3, low_shot_train=1, val=1, test=2, subjects=(3, 2, 2))


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("comp") / "small"
    generate(out, compositional_config(SMALL, frames=8, keypoints=True), workers=1, progress=False)
    return out


def counts(tasks) -> Counter:
    return Counter((t.label, t.split) for t in tasks)


def test_the_preset_plans_its_split_sizes_by_subject():
    tasks = plan(PRESET, "out")
    by_split = Counter(t.split for t in tasks)
    assert by_split == {"train": 13 * 35 + 3 * 5, "val": 16 * 40, "test": 16 * 128}
    assert by_split["test"] >= 2000 and by_split["val"] >= 600
    n = counts(tasks)
    for label in range(16):
        assert n[label, "train"] == (5 if label in (5, 10, 15) else 35)
        assert (n[label, "val"], n[label, "test"]) == (40, 128)
    subjects = split_subjects(PRESET)
    assert [len(subjects[s]) for s in ("train", "val", "test")] == [20, 10, 20]
    everyone = [i for people in subjects.values() for i in people]
    assert sorted(everyone) == list(range(50))  # disjoint, and all of them used
    for split, people in subjects.items():
        assert {t.subject for t in tasks if t.split == split} == set(people)
    assert len({t.clip_id for t in tasks}) == len(tasks)
    assert len({(t.label, t.number) for t in tasks}) == len(tasks)  # one stream per clip


def test_a_split_size_leaves_the_other_splits_clips_alone():
    bigger = compositional_config(Compositional(test=200))
    before = {t.clip_id: t for t in plan(PRESET, "x") if t.split != "test"}
    after = {t.clip_id: t for t in plan(bigger, "x") if t.split != "test"}
    assert before.keys() == after.keys()
    assert all(before[k].number == after[k].number for k in before)


def test_classes_are_a_receiver_by_motion_grid():
    pairs = [(c.receiver, c.motions) for c in COMPOSITIONAL_CLASSES]
    assert len(set(pairs)) == len(pairs) == 16
    assert all(len(m) == 1 for _, m in pairs)
    receivers = Counter(r for r, _ in pairs)
    motions = Counter(m[0] for _, m in pairs)
    assert set(receivers) == set(COMPOSITIONAL_RECEIVERS) and min(receivers.values()) >= 2
    assert set(motions) == set(COMPOSITIONAL_MOTIONS) and min(motions.values()) >= 2
    assert all(r in RECEIVERS for r in receivers) and all(m in MOTIONS for m in motions)
    names = [c.name for c in COMPOSITIONAL_CLASSES]
    assert len(set(names)) == 16 and names[10] == "scratching neck"
    for c in COMPOSITIONAL_CLASSES:
        assert c.description.startswith("A person ") and c.description.endswith(".")
        assert c.hands == ("right hand", "left hand")
    # Neighbours differ in one attribute: the row shares the receiver, the column the motion.
    a, b, c = COMPOSITIONAL_CLASSES[9], COMPOSITIONAL_CLASSES[10], COMPOSITIONAL_CLASSES[6]
    assert a.receiver == b.receiver and a.motions != b.motions
    assert b.motions == c.motions and b.receiver != c.receiver
    # The classic table is untouched.
    assert len(CLASSES) == 16 and CLASSES[0].name == "touching forehead"


def test_low_shot_classes_have_few_clips_and_attributes_covered_elsewhere():
    comp = PRESET.compositional
    assert comp.low_shot == (5, 10, 15)
    normal = [c for i, c in enumerate(COMPOSITIONAL_CLASSES) if i not in comp.low_shot]
    for i in comp.low_shot:
        c = COMPOSITIONAL_CLASSES[i]
        assert sum(n.receiver == c.receiver for n in normal) >= 2
        assert sum(n.motions == c.motions for n in normal) >= 2
    assert low_shot_problems(comp.low_shot, 16) == []
    # A whole row low-shot leaves its receiver in no normal class: refused, and named.
    problems = low_shot_problems((0, 1, 2, 3), 16)
    assert len(problems) == 4 and "touching forehead" in problems[0]
    assert low_shot_problems((16,), 16) == ["compositional low_shot ids must be 0..15, not [16]"]


def test_the_shortcut_agrees_90_percent_in_train_and_val_and_is_independent_in_test():
    tasks = plan(PRESET, "x")
    agree = {s: [t.shortcut == t.label for t in tasks if t.split == s] for s in ("train", "val")}
    # Per class and split, (1 - 0.9) x n rounded half down disagree: 3 of 35, 4 of 40, 0 of 5.
    assert sum(agree["train"]) == 13 * 32 + 3 * 5  # 431 / 470 = 91.7 %
    assert np.mean(agree["val"]) == pytest.approx(0.9)
    others = [t.shortcut for t in tasks if t.split != "test" and t.shortcut != t.label]
    assert set(others) == set(range(16))  # the other cues are all used
    # Test: every class shows every cue equally often, so the cue says nothing.
    table = pd.crosstab(
        pd.Series([t.label for t in tasks if t.split == "test"]),
        pd.Series([t.shortcut for t in tasks if t.split == "test"]),
    )
    assert table.shape == (16, 16) and (table.to_numpy() == 128 // 16).all()
    assert len(CUES) == 16
    assert plan(compositional_config(Compositional(shortcut=None)), "x")[0].shortcut is None


def test_settings_that_do_not_fit_are_refused_by_name():
    assert PRESET.problems() == []
    bad = SynthConfig(
        classes=12,
        subjects=7,
        compositional=Compositional(train=0, subjects=(2, 2), shortcut=1.5, gain=-1.0),
    )
    text = "\n".join(bad.problems())
    for expected in (
        "--classes does not apply",
        "--subjects does not apply",
        "compositional train must be at least 1",
        "compositional subjects must be three counts",
        "compositional shortcut must be between 0 and 1",
        "compositional gain must be between 0 and 5",
    ):
        assert expected in text


def test_the_written_dataset_validates_and_records_the_layout(small):
    ds = load_dataset(small, need_fg_text=True)
    m = ds.manifest
    assert len(m) == 13 * (3 + 1 + 2) + 3 * (1 + 1 + 2)
    assert ds.class_names == [c.name for c in COMPOSITIONAL_CLASSES]
    agrees = m["shortcut"].astype(int) == m["label"]
    assert (m["shortcut_agrees"].astype(int) == agrees.astype(int)).all()
    assert ds.classes["low_shot"].tolist() == ["1" if i in (5, 10, 15) else "0" for i in range(16)]
    assert low_shot_classes(small) == [5, 10, 15]
    record = json.loads((small / INFO_FILE).read_text())
    assert record["layout"] == "compositional" and "clips_per_class" not in record["config"]
    assert record["config"]["compositional"]["low_shot"] == [5, 10, 15]
    assert record["classes"][10]["clips"] == {"train": 1, "val": 1, "test": 2}
    assert record["shortcut"]["cues"][0] == "top-left corner, drifting up"
    assert main(["validate", str(small), "--need-fg-text"]) == 0


def test_manifest_attributes_are_what_the_keypoints_show(small):
    ds = load_dataset(small)
    j = {name: i for i, name in enumerate(JOINTS)}
    lateral = 0
    for row in ds.manifest.itertuples():
        kp = np.load(ds.keypoints_uri(row.keypoints))
        moved = {
            side: np.abs(kp[:, j[f"{side}_hand"], :2] - kp[0, j[f"{side}_hand"], :2]).max()
            for side in ("right", "left")
        }
        assert row.initiator == f"{max(moved, key=moved.get)} hand", row.clip_id
        assert max(moved.values()) > 5 * min(moved.values())  # the other one rests
        words = row.receiver.split()
        if words[0] in ("left", "right"):  # cheek or the other upper arm: which side
            lateral += 1
            mid = (int(row.contact_start) + int(row.contact_end)) // 2
            hand_x = kp[mid, j[f"{row.initiator.split()[0]}_hand"], 0]
            midline = kp[mid, j["nose"] if words[1] == "cheek" else j["neck"], 0]
            # The subject's left is the image's right.
            assert (hand_x > midline) == (words[0] == "left"), row.clip_id
    assert lateral >= 20


def test_the_words_for_speed_and_amplitude_are_what_is_drawn():
    """Same class, seeds that differ only in the drawn words: "large" moves the hand
    further than "small", and "quickly" reaches the receiver sooner than "slowly"."""
    comp = PRESET.compositional
    gc = COMPOSITIONAL_CLASSES[3]  # stroking forehead
    subject = subject_for(0, 0, nuisance=0.0)
    style = {"across": comp.across, "gain": comp.gain, "tempo": comp.tempo}
    sweep: dict[str, list[float]] = {"small": [], "large": []}
    reach: dict[str, list[int]] = {"slowly": [], "quickly": []}
    for n in range(16):
        clip = render_clip(
            gc, subject, clip_rng(5, 3, n), size=64, frames=16, nuisance=0.0, **style
        )
        a, b = clip.contact
        sweep[clip.attributes["amplitude"]].append(float(np.ptp(clip.hand_points[a : b + 1, 0, 0])))
        reach[clip.attributes["speed"]].append(a)
        assert clip.attributes["motion"].startswith("strokes it " + clip.attributes["speed"])
    assert min(map(len, sweep.values())) >= 3 and min(map(len, reach.values())) >= 3
    assert np.mean(sweep["large"]) > 1.4 * np.mean(sweep["small"])
    assert np.mean(reach["quickly"]) < np.mean(reach["slowly"])


def test_fine_grained_texts_vary_inside_every_class(small):
    ds = load_dataset(small, need_fg_text=True)
    texts = pd.Series(ds.fg_texts().to_numpy(), index=ds.manifest.index)
    per_class = texts.groupby(ds.manifest["label"]).nunique()
    assert per_class.min() >= 2  # even touching: hand and speed vary
    owners = ds.manifest.groupby(texts)["label"].nunique()
    assert owners.max() == 1  # a text still names its receiver and motion


def test_calibrate_reports_the_shortcut_and_low_shot_subsets(small, tmp_path):
    from fgsgl.synth.calibrate import calibrate, format_report

    result = calibrate(small, frames=4, grid=8, progress=False)
    m = load_dataset(small).manifest
    test = m["split"] == "test"
    agrees = int((test & (m["shortcut_agrees"] == "1")).sum())
    assert result["groups"] == {
        "test_agrees": agrees,
        "test_disagrees": int(test.sum()) - agrees,
        "test_low_shot": 3 * 2,
    }
    for scores in result["results"].values():
        assert {"test_agrees", "test_disagrees", "test_low_shot"} <= set(scores)
    assert "test_low_shot" in format_report(result)


def test_low_shot_classes_reads_the_column_and_refuses_a_bad_value(small, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(small, copy)
    classes = pd.read_csv(copy / "classes.csv", dtype=str)
    classes.loc[2, "low_shot"] = "yes"
    classes.to_csv(copy / "classes.csv", index=False)
    with pytest.raises(FgsglError, match=r"classes.csv row 3 \(id 2\): low_shot must be 0 or 1"):
        low_shot_classes(copy)
    classes.drop(columns="low_shot").to_csv(copy / "classes.csv", index=False)
    assert low_shot_classes(copy) == []


def test_the_cli_names_options_that_do_not_apply(tmp_path, capsys):
    out = tmp_path / "never"
    options = ["--preset", "compositional", "--clips-per-class", "3", "--long", "2"]
    assert main(["synth", str(out), *options]) == 2
    err = capsys.readouterr().err
    assert "--clips-per-class does not apply to --preset compositional" in err
    assert "--long does not apply to --preset compositional" in err
    assert not out.exists()


# The classic presets' bytes from before the compositional layout existed (commit
# cfd35ad). Videos are left out: their bytes also depend on PyAV / x264 builds (the
# determinism test covers them); these depend only on numpy's streams and the geometry.
GOLDEN_PLAN = {
    "default": "958b20a07c4f73893a019d7184a6f55d2071373f8dc7693c16aae6533fa07988",
    "mini": "b5368330316090a8e8a8816be78704c1936e7128dd9352b341d52412f3e36381",
}
GOLDEN_INFO = {
    "default": "fe12c52f05c80dc38b7ca0ace38d85fc6ce959a83cc347837a15982d1013b50d",
    "mini": "9282a4ca5d555ec3844198fd2d86e52cbc716ed8aef888de4a69df92833d103e",
}
GOLDEN_MINI_KEYPOINTS = {
    "manifest.csv": "9ff454c0a97aeb16a3271aa92032c540df3adaaee1ec9393335434460a568bce",
    "classes.csv": "1303ba98ad518c7adbbc4725aea36e10d71afdd3559c113171905dfe1266d702",
    "synthmg.json": "6a754a571b99495cff499db9ff87480a7adc530d6710461f8c2ae54d52d00a05",
    "keypoints": "1dd0ea67085b1ba6d8c8b9e9ce897d7b935116acc295b0d9b657665fd915e381",
}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("name", ["default", "mini"])
def test_the_classic_presets_plan_and_record_are_unchanged(name, tmp_path):
    from fgsgl.artifacts import write_json

    tasks = plan(PRESETS[name], "x")
    rows = "\n".join(f"{t.clip_id},{t.label},{t.number},{t.subject},{t.split}" for t in tasks)
    assert sha256(rows.encode()) == GOLDEN_PLAN[name]
    assert all(t.shortcut is None for t in tasks)
    write_json(tmp_path / INFO_FILE, info(PRESETS[name]))
    assert sha256((tmp_path / INFO_FILE).read_bytes()) == GOLDEN_INFO[name]


def test_the_mini_preset_writes_the_same_bytes_as_before(tmp_path):
    out = tmp_path / "mini"
    config = SynthConfig(**{**PRESETS["mini"].__dict__, "keypoints": True})
    generate(out, config, workers=1, progress=False)
    keypoints = hashlib.sha256()
    for p in sorted((out / "keypoints").glob("*.npy")):
        keypoints.update(p.name.encode())
        keypoints.update(p.read_bytes())
    got = {name: sha256((out / name).read_bytes()) for name in GOLDEN_MINI_KEYPOINTS if "." in name}
    got["keypoints"] = keypoints.hexdigest()
    assert got == GOLDEN_MINI_KEYPOINTS
