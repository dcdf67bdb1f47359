"""The real chain on a SynthMG mini dataset: `fgsgl synth` -> extract -> encode-text (the
packaged MiniLM) -> `fgsgl train --stage 1` -> `--stage 2 --init`, through the CLI."""

from __future__ import annotations

import json

import pytest
from train_fixtures import tiny_clip_backbone

from fgsgl.cli import main
from fgsgl.synth.generate import SynthConfig, generate
from fgsgl.text.encode import encode_texts
from fgsgl.train import load_model
from fgsgl.train.artifact import read_history
from fgsgl.video.extract import extract

# The tiny backbone at CI size: 32 px frames, 4 x 4 px patches, 2 layers of width 64, fed
# what moves in each clip (model.subtract_clip_mean, as configs/cpu-tiny.yaml). Measured
# here: best val top-1 0.7 over 8 classes; on raw frames the same run stays at 0.2-0.25.
TINY = "tiny-clip:image=32,patch=4,width=64,layers=2"


@pytest.mark.slow
def test_stage_1_then_stage_2_on_synthmg_learns_unseen_subjects(tmp_path, capsys):
    """Both stages through the CLI on SynthMG; the model must recognise the gestures of a
    subject that training never saw (validation and test are other people), well above
    chance, not only fit its training clips."""
    from fgsgl.evaluate.run import evaluate

    config = SynthConfig(
        classes=8, clips_per_class=10, subjects=4, size=32, frames=8, nuisance=0, subtlety=0
    )
    generate(tmp_path / "ds", config, workers=1, progress=False)
    frames = str(tmp_path / "frames")
    extract(str(tmp_path / "ds"), frames, frames=4, size=32, workers=1)
    encode_texts(str(tmp_path / "ds"), str(tmp_path / "texts"))
    sets = [
        f"--set=model.backbone={TINY}",
        "--set=model.subtract_clip_mean=true",
        "--set=model.proj_hidden=64",
        "--set=optim.batch_size=4",
        "--set=data.workers=0",
        "--set=stage1.epochs=30",
        "--set=stage1.lr=2e-3",
        "--set=stage2.epochs=3",
        "--set=stage2.lr=1e-3",
    ]
    inputs = ["train", frames, str(tmp_path / "texts")]
    s1, s2 = tmp_path / "stage1", tmp_path / "stage2"
    capsys.readouterr()  # what the steps before printed
    assert main([*inputs, str(s1), "--stage", "1", *sets]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert main([*inputs, str(s2), "--stage", "2", "--init", str(s1), *sets]) == 0

    one, two = read_history(s1), read_history(s2)
    assert len(one) == 30 and len(two) == 3
    assert one[-1]["loss"] < one[0]["loss"]  # it learns the training clips
    assert all("loss_fg" in e and "loss_fg" not in f for e, f in zip(two, one, strict=False))
    # stage 2 starts from stage 1: its classification loss starts below stage 1's start
    assert two[0]["loss_cls"] < one[0]["loss_cls"]
    meta = json.loads((s2 / "metadata.json").read_text())
    assert meta["texts_encoder"] == "minilm" and meta["text_dim"] == 384
    assert meta["class_names"][:2] == ["touching forehead", "rubbing eyes"]
    assert summary["best_val_top1"] == max(e["val_top1"] for e in one)
    model, cfg = load_model(s2)
    assert model.num_classes == 8 and cfg.stage2.epochs == 3
    assert cfg.model.backbone == TINY and cfg.model.subtract_clip_mean
    # it generalises to people it never saw: 8 classes, chance 0.125
    print("SynthMG mini, val top-1 by epoch:", [e["val_top1"] for e in one + two])
    assert summary["best_val_top1"] >= 3 * 0.125
    result = evaluate(frames, str(s2), str(tmp_path / "eval"), split="test", workers=0)
    print("SynthMG mini, test top-1:", result["top1"])
    assert result["top1"] >= 2 * 0.125


@pytest.mark.slow
def test_clip_mg_on_synthmg_with_keypoints_learns(tmp_path):
    """The CLIP-MG family on SynthMG with `--keypoints`: extraction stores the keypoints,
    one training stage (the clip_mg variant's switches) learns, and evaluation on the test
    subject (which training never saw) beats chance."""
    from fgsgl.evaluate.run import evaluate
    from fgsgl.train import train

    config = SynthConfig(
        classes=4,
        clips_per_class=12,
        subjects=4,
        size=32,
        frames=8,
        nuisance=0,
        subtlety=0,
        keypoints=True,
    )
    generate(tmp_path / "ds", config, workers=1, progress=False)
    frames, texts = str(tmp_path / "frames"), str(tmp_path / "texts")
    extract(str(tmp_path / "ds"), frames, frames=4, size=32, workers=1)
    encode_texts(str(tmp_path / "ds"), texts)
    overrides = {
        "model.family": "clip_mg",
        "model.backbone": tiny_clip_backbone(tmp_path / "clip32"),
        "model.proj_hidden": 64,
        "ablation.ml_co": False,
        "ablation.fg_sa": False,
        "stage1.epochs": 12,
        "stage2.epochs": 0,
        "stage1.lr": 5e-3,
        "optim.batch_size": 4,
        "data.workers": 0,
    }
    model = str(tmp_path / "clip_mg")
    summary = train(frames, texts, model, stage=2, overrides=overrides)
    history = read_history(model)
    assert "loss_cp" in history[0] and "loss_fg" not in history[0]
    assert history[-1]["loss"] < history[0]["loss"]
    assert summary["best_val_top1"] > 0.25  # 4 classes
    result = evaluate(frames, model, str(tmp_path / "eval"), split="test", workers=0)
    print("clip_mg on SynthMG:", summary["best_val_top1"], result["top1"])
    assert result["top1"] > 0.25
