"""FG-Text for a dataset that has none: the attributes step (every mode, sources and
reasons per clip), texts of class texts only where nothing gives T_fg, training that runs
the variants without T_fg and refuses the others, and planning that refuses them first."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fgsgl.attributes.artifact import derive_attributes, load_attributes
from fgsgl.attributes.vocabulary import vocabulary
from fgsgl.errors import FgsglError
from fgsgl.text.templates import ATTRIBUTES


@pytest.fixture(scope="module")
def bare(tmp_path_factory) -> Path:
    """SynthMG (with keypoints) whose manifest lost its attributes, as an import without
    annotations; one clip's keypoints file is damaged, another's is gone."""
    from fgsgl.synth import SynthConfig
    from fgsgl.synth.generate import generate

    root = tmp_path_factory.mktemp("bare") / "ds"
    generate(
        root,
        SynthConfig(classes=4, clips_per_class=6, subjects=3, keypoints=True),
        workers=1,
        progress=False,
    )
    m = pd.read_csv(root / "manifest.csv")
    (root / m["keypoints"].iloc[0]).write_bytes(b"not a numpy file")
    m.loc[1, "keypoints"] = None
    m.drop(columns=list(ATTRIBUTES)).to_csv(root / "manifest.csv", index=False)
    return root


def test_auto_derives_every_clip_with_keypoints_and_says_why_not_for_the_others(bare, tmp_path):
    meta = derive_attributes(str(bare), tmp_path / "attrs", progress=False)
    _, table = load_attributes(tmp_path / "attrs")
    assert meta["mode"] == "auto" and len(table) == 24
    counts = meta["counts"]
    for a in ATTRIBUTES:
        derived = table[table[f"{a}_source"] == "derived"][a]
        assert set(derived) <= set(vocabulary()[a])
        assert counts["by_source"][a].get("derived", 0) >= 20
    first, second = table.iloc[0], table.iloc[1]
    assert first["initiator_source"] in ("unknown", "class")
    assert "unreadable" in first["initiator_reason"]
    assert "the clip has no keypoints" in second["motion_reason"]
    assert counts["with_fg_text"] >= 20
    reasons = counts["unknown_reasons"]["initiator"]
    assert sum(reasons.values()) == counts["by_source"]["initiator"].get("unknown", 0)


def test_annotated_and_class_modes(bare, tmp_path):
    meta = derive_attributes(str(bare), tmp_path / "a", mode="annotated", progress=False)
    assert meta["counts"]["with_fg_text"] == 0
    assert meta["counts"]["unknown_reasons"]["receiver"] == {
        "the manifest has no attributes for this clip": 24
    }
    with pytest.raises(FgsglError, match="fg_attributes 'guess'"):
        derive_attributes(str(bare), tmp_path / "b", mode="guess")


def test_class_mode_fills_every_clip_of_a_tabled_class(tmp_path):
    from fgsgl.attributes.class_tables import class_attributes
    from fgsgl.dataset import write_tables
    from fgsgl.dataset.importers.class_names import SMG_CLASSES

    rows = [
        {"clip_id": f"c{i}", "video": f"v{i}.mp4", "label": i % 3, "split": "train"}
        for i in range(6)
    ]
    classes = pd.DataFrame({"id": range(3), "name": SMG_CLASSES[:3], "description": ""})
    write_tables(tmp_path / "ds", pd.DataFrame(rows), classes)
    for i in range(6):
        (tmp_path / "ds" / f"v{i}.mp4").write_bytes(b"x")
    derive_attributes(str(tmp_path / "ds"), tmp_path / "attrs", mode="class", progress=False)
    _, table = load_attributes(tmp_path / "attrs")
    expected = class_attributes(list(SMG_CLASSES[:3]))
    for i, row in table.iterrows():
        assert {a: row[a] for a in ATTRIBUTES} == expected[i % 3]
        assert {row[f"{a}_source"] for a in ATTRIBUTES} == {"class"}


@pytest.fixture(scope="module")
def artifacts(bare, tmp_path_factory):
    from fgsgl.text.encode import encode_texts
    from fgsgl.video.extract import extract

    root = tmp_path_factory.mktemp("artifacts")
    extract(str(bare), str(root / "frames"), frames=4, size=32, workers=1, max_failure_ratio=0.2)
    encode_texts(str(bare), str(root / "class-only"))
    derive_attributes(str(bare), root / "attrs", progress=False)
    encode_texts(str(bare), str(root / "derived"), attributes=str(root / "attrs"))
    return root


def test_without_attributes_the_texts_are_the_class_texts_only(artifacts):
    from fgsgl.text.bank import load_texts

    bank = load_texts(artifacts / "class-only")
    assert not bank.fine_grained
    assert (bank.clips["fg_row"] == -1).all() and set(bank.texts["kind"]) == {"class"}
    meta = json.loads((artifacts / "class-only" / "metadata.json").read_text())
    assert "0 of 24 clips have a fine-grained text" in meta["fine_grained_missing"]
    assert (
        "--fg-annotations" in meta["fine_grained_missing"]
        and "fgsgl pose" in meta["fine_grained_missing"]
    )
    with pytest.raises(FgsglError, match="no fine-grained texts"):
        bank.rows(["c00_s00_000"], "fine")
    derived = load_texts(artifacts / "derived")
    assert derived.fine_grained and derived.meta["fg_sources"].get("derived", 0) >= 20
    assert set(derived.clips["fg_source"]) <= {"derived", "mixed", "class", "class text"}


TINY = {
    "model.backbone": "tiny-clip:image=32,patch=8,width=32,layers=2,heads=2",
    "model.proj_hidden": 16,
    "stage1.epochs": 1,
    "stage2.epochs": 1,
    "optim.batch_size": 4,
    "data.workers": 0,
}


def test_the_variants_without_t_fg_train_on_class_texts_and_the_others_are_refused(
    artifacts, tmp_path
):
    from fgsgl.train import train

    frames, texts = str(artifacts / "frames"), str(artifacts / "class-only")
    train(frames, texts, str(tmp_path / "s1"), stage=1, overrides=TINY)  # shared stage 1
    for name, setting in {
        "nofg": {"ablation.fg_sa": False},  # no_fg_sa
        "ct": {"ablation.text_granularity": "class"},  # class_text
    }.items():
        init = str(tmp_path / "s1")
        train(frames, texts, str(tmp_path / name), stage=2, init=init, overrides=TINY | setting)
    with pytest.raises(FgsglError, match=r"trains L_fg on fine-grained texts .* has none"):
        train(
            frames,
            texts,
            str(tmp_path / "full"),
            stage=2,
            init=str(tmp_path / "s1"),
            overrides=TINY,
        )
    assert not (tmp_path / "full").exists()
    meta = json.loads((tmp_path / "ct" / "metadata.json").read_text())
    assert meta["texts_fg"] == {"fine_grained": False, "sources": {"none": 24}}


def test_planning_refuses_the_t_fg_variants_of_a_dataset_without_a_source(bare, tmp_path):
    from dataset_helpers import planning_dataset

    from fgsgl.dataset import load_dataset
    from fgsgl.pipelines.plan import plan_runs, read_settings
    from fgsgl.pipelines.preflight import check_runs

    ds = load_dataset(planning_dataset(tmp_path / "plain", fg=False))  # keypoints, no layout
    runs = plan_runs("all", settings=read_settings())
    with pytest.raises(FgsglError) as e:
        check_runs(runs, ds)
    assert e.value.message.startswith("run(s) full, no_cp_a, no_ml_co train FG-SA on fine-grained")
    assert any("--fg-annotations" in p for p in e.value.problems)
    assert any("the annotation workflow" in p for p in e.value.problems)
    check_runs(plan_runs("no_fg_sa,class_text,clip_mg", settings=read_settings()), ds)
    # with keypoints in a known layout, auto derives: every FG-SGL variant may run (clip_mg
    # is left out: one clip of `bare` lost its keypoints)
    fgsgl_variants = "full,no_fg_sa,no_cp_a,no_ml_co,class_text"
    check_runs(plan_runs(fgsgl_variants, settings=read_settings()), load_dataset(bare))
    with pytest.raises(FgsglError, match="fg_attributes=annotated: 0 with attributes"):
        check_runs(
            plan_runs("full", settings=read_settings(values={"fg_attributes": "annotated"})),
            load_dataset(bare),
        )


def test_a_dataset_where_the_derivation_fails_mostly_gives_class_texts_only(bare, tmp_path):
    """Keypoints whose hands never move: derivation says so for every clip, and the texts
    artifact refuses to pretend (class texts only, with the counts)."""
    import shutil

    from fgsgl.text.encode import encode_texts

    copy = Path(shutil.copytree(bare, tmp_path / "still"))
    classes = pd.read_csv(copy / "classes.csv")  # classes no table knows: nothing fills in
    classes["name"] = [f"gesture {i}" for i in classes["id"]]
    classes.to_csv(copy / "classes.csv", index=False)
    for npy in (copy / "keypoints").glob("*.npy"):
        if npy.read_bytes().startswith(b"not a numpy"):
            continue  # the damaged one stays damaged
        k = np.load(npy)
        np.save(npy, np.repeat(k[:1], len(k), axis=0))
    meta = derive_attributes(str(copy), tmp_path / "attrs", mode="derived", progress=False)
    reasons = meta["counts"]["unknown_reasons"]["motion"]
    assert any(r.startswith("no hand moves") for r in reasons)
    summary = encode_texts(str(copy), str(tmp_path / "texts"), attributes=str(tmp_path / "attrs"))
    assert summary["fine_grained"] is False
