"""`fgsgl pretrain-backbone`: a tiny CLIP tower pretrained on a SynthMG corpus with no class
and no subject of the compositional study's, exported as a Hugging Face checkpoint that
transformers and fgsgl's `clip:PATH` backbone (with LoRA) load; cached by its settings."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest
import torch

from fgsgl.errors import FgsglError
from fgsgl.synth.classes import CLASSES, COMPOSITIONAL_RECEIVERS
from fgsgl.synth.config import PRESETS, SynthConfig, classic_subset_config
from fgsgl.train.pretrain import (
    CORPUS_SEED_OFFSET,
    PRETRAIN_FILE,
    corpus_classes,
    corpus_config,
    pretrain_backbone,
)

# the study's config (frame residuals, its normalisation) at test size
TINY = """\
extends: cpu-compositional
extract: {num_frames: 4, frame_size: 32}
model: {backbone: "tiny-clip:image=32,patch=8,width=32,layers=2", proj_hidden: 32}
optim: {batch_size: 4}
data: {workers: 0}
"""
SMALL = dict(epochs=1, clips_per_class=3, subjects=3, workers=1, progress=False)
TOWER = "model.safetensors"


@pytest.fixture(scope="module")
def tiny_config(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("config") / "tiny.yaml"
    path.write_text(TINY)
    return path


@pytest.fixture(scope="module")
def made(tmp_path_factory, tiny_config) -> dict:
    out = tmp_path_factory.mktemp("pretrained") / "tower"
    return pretrain_backbone(out, config=str(tiny_config), keep_work=True, **SMALL)


def test_the_checkpoint_loads_in_transformers_and_as_a_clip_backbone_with_lora(made):
    from safetensors.torch import load_file
    from transformers import CLIPVisionModel

    from fgsgl.model import ModelConfig, build_model
    from fgsgl.model.backbones import CLIP_MEAN, CLIP_STD

    out = Path(made["out"])
    assert made["cached"] is False
    assert {"config.json", TOWER, "preprocessor_config.json", "README.md", PRETRAIN_FILE} <= {
        p.name for p in out.iterdir()
    }
    tower = CLIPVisionModel.from_pretrained(out)
    assert (tower.config.hidden_size, tower.config.image_size, tower.config.patch_size) == (
        32,
        32,
        8,
    )
    assert tower.config.num_hidden_layers == 2

    # the exported weights are the trained tower's (the best-val epoch of the stage-1 run)
    exported = load_file(out / TOWER)
    trained = load_file(Path(made["work"]) / "stage1" / "backbone.safetensors")
    assert exported.keys() == trained.keys()
    key = "encoder.layers.0.self_attn.q_proj.weight"  # transformers 5: no vision_model. prefix
    assert torch.equal(exported[key], trained[key])
    assert all(torch.equal(exported[k], trained[k]) for k in trained)

    cfg = ModelConfig(backbone=f"clip:{out}", subtract_clip_mean=True, proj_hidden=32)
    model = build_model(cfg, num_classes=16, text_dim=384)
    backbone = model.backbone
    assert backbone.has_lora and not backbone.trained_fully
    assert backbone.image_size == 32
    assert (backbone.image_mean, backbone.image_std) == (CLIP_MEAN, CLIP_STD)
    trainable = [n for n, p in backbone.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)
    # LoRA's base weights are the exported ones
    base = backbone.layers()[0].self_attn.q_proj.base_layer.weight
    assert torch.equal(base.detach(), exported[key])
    out_ = model(torch.zeros(2, 4, 3, 32, 32))
    assert out_.logits.shape == (2, 16)


def test_the_record_says_what_was_made(made):
    record = json.loads((Path(made["out"]) / PRETRAIN_FILE).read_text())
    settings = record["settings"]
    assert settings["extract"] == {
        "extract.num_frames": 4,
        "extract.frame_size": 32,
        "extract.resize": "squash",
    }
    assert settings["train"]["stage1.epochs"] == 1 and settings["train"]["seed"] == 0
    assert settings["train"]["model.subtract_clip_mean"] is True  # from cpu-compositional
    assert settings["corpus"]["seed"] == CORPUS_SEED_OFFSET
    assert record["input"]["subtract_clip_mean"] is True
    assert record["classes"] == list(corpus_classes())
    assert 0.0 <= record["val_top1"] <= 1.0 and record["chance"] == pytest.approx(1 / 12)
    assert record["seconds"] > 0 and set(record["phases_seconds"]) == {
        "synth",
        "extract",
        "texts",
        "train",
    }
    card = (Path(made["out"]) / "README.md").read_text()
    assert f"val top-1 on the corpus: {record['val_top1']:.4f}" in card
    assert "subtract_clip_mean: true" in card
    processor = json.loads((Path(made["out"]) / "preprocessor_config.json").read_text())
    assert processor["size"] == {"height": 32, "width": 32}
    assert processor["image_processor_type"] == "CLIPImageProcessor"


def test_the_corpus_has_no_receiver_of_the_compositional_classes(made):
    names = corpus_classes()
    assert len(names) == 12
    by_name = {c.name: c for c in CLASSES}
    assert not {by_name[n].receiver for n in names} & set(COMPOSITIONAL_RECEIVERS)
    dropped = {c.name for c in CLASSES} - set(names)
    assert dropped == {"touching forehead", "touching neck", "scratching neck", "scratching arm"}
    info = json.loads((Path(made["work"]) / "corpus" / "synthmg.json").read_text())
    assert [c["name"] for c in info["classes"]] == list(names)
    assert not {c["receiver"] for c in info["classes"]} & set(COMPOSITIONAL_RECEIVERS)
    assert info["config"]["class_names"] == list(names)


@pytest.mark.parametrize("seed", [0, 7])
def test_no_corpus_subject_shares_an_appearance_parameter_with_a_study_subject(seed):
    from fgsgl.synth.body import Subject
    from fgsgl.synth.clip import subject_for

    study = PRESETS["compositional"]
    assert study.seed == 0  # the study's dataset (pipelines/study_compositional.py)
    corpus = corpus_config(seed=seed, clips_per_class=48, subjects=20)
    assert corpus.seed == CORPUS_SEED_OFFSET + seed != study.seed
    continuous = [f.name for f in dataclasses.fields(Subject) if f.type in ("float", float)]
    assert {"head_rx", "neck_len", "shoulder_half", "scale", "dx"} <= set(continuous)

    def values(config: SynthConfig) -> dict[str, set[float]]:
        people = [subject_for(config.seed, i, config.nuisance) for i in range(config.subjects)]
        return {name: {getattr(p, name) for p in people} for name in continuous}

    ours, theirs = values(corpus), values(study)
    assert len(theirs["head_rx"]) == study.subjects == 50
    for name in continuous:
        assert not ours[name] & theirs[name], name


def test_the_same_settings_are_a_cache_hit_and_other_settings_rebuild(
    made, tiny_config, tmp_path, capsys
):
    from fgsgl.cli import main

    out = tmp_path / "tower"  # a copy: the other tests read the fixture's work folder
    shutil.copytree(made["out"], out)
    stamp = (out / TOWER).stat().st_mtime_ns
    argv = ["pretrain-backbone", str(out), "--config", str(tiny_config), "--epochs", "1"]
    argv += ["--clips-per-class", "3", "--subjects", "3", "--workers", "1"]
    assert main(argv) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["cached"] is True and printed["val_top1"] == made["val_top1"]
    assert (out / TOWER).stat().st_mtime_ns == stamp
    before = json.loads((out / PRETRAIN_FILE).read_text())["settings_sha256"]

    again = pretrain_backbone(out, config=str(tiny_config), items=["stage1.lr=2e-3"], **SMALL)
    assert again["cached"] is False
    record = json.loads((out / PRETRAIN_FILE).read_text())
    assert record["settings_sha256"] != before
    assert record["settings"]["train"]["stage1.lr"] == 2e-3
    assert (out / TOWER).stat().st_mtime_ns != stamp
    assert not out.with_name(f"{out.name}.work").exists()  # the work is removed


def test_it_refuses_a_folder_it_did_not_make_and_a_backbone_it_cannot_train(tmp_path, tiny_config):
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(FgsglError, match="not a pretrain-backbone checkpoint"):
        pretrain_backbone(other, config=str(tiny_config), **SMALL)
    assert (other / "notes.txt").read_text() == "mine"
    with pytest.raises(FgsglError, match="trains a tiny-clip tower from scratch"):
        pretrain_backbone(
            tmp_path / "x", config=str(tiny_config), items=["model.backbone=clip:/nowhere"], **SMALL
        )
    assert not (tmp_path / "x").exists()


def test_a_class_subset_names_its_classes_and_refuses_what_it_cannot_be():
    from fgsgl.synth.config import LongConfig, compositional_config
    from fgsgl.synth.generate import classes_for, plan
    from fgsgl.synth.long import plan_long

    names = ("touching ear", "rubbing eyes", "folding arms")
    config = classic_subset_config(names, clips_per_class=3, subjects=3, size=64, frames=16)
    assert config.problems() == []
    assert [c.name for c in classes_for(config)] == list(names)
    assert {t.label for t in plan(config, "x")} == {0, 1, 2}
    videos = plan_long(config, LongConfig(videos=2, gestures=(3, 3)))
    drawn = {s.instance.receiver for v in videos for s in v.segments}
    assert drawn <= {"ear", "eye", "upper arms"}
    bad = dataclasses.replace(config, class_names=("touching ear", "no such class", "touching ear"))
    problems = " | ".join(bad.problems())
    assert "'no such class' is not a SynthMG class" in problems
    assert "class_names repeat" in problems
    assert "classes is 4 but" in " ".join(dataclasses.replace(config, classes=4).problems())
    grid = dataclasses.replace(compositional_config(), class_names=names)
    assert any("does not apply to --preset compositional" in p for p in grid.problems())
