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


@pytest.mark.slow
def test_stage_1_then_stage_2_on_synthmg(tmp_path, capsys):
    config = SynthConfig(classes=4, clips_per_class=8, subjects=4, size=32, frames=8, nuisance=0)
    generate(tmp_path / "ds", config, workers=1, progress=False)
    extract(str(tmp_path / "ds"), str(tmp_path / "frames"), frames=4, size=32, workers=1)
    encode_texts(str(tmp_path / "ds"), str(tmp_path / "texts"))
    sets = [
        f"--set=model.backbone={tiny_clip_backbone(tmp_path / 'clip32')}",
        "--set=model.proj_hidden=64",
        "--set=optim.batch_size=4",
        "--set=data.workers=0",
        "--set=stage1.epochs=4",
        "--set=stage1.lr=5e-3",
        "--set=stage2.epochs=2",
        "--set=stage2.lr=1e-3",
    ]
    inputs = ["train", str(tmp_path / "frames"), str(tmp_path / "texts")]
    s1, s2 = tmp_path / "stage1", tmp_path / "stage2"
    capsys.readouterr()  # what the steps before printed
    assert main([*inputs, str(s1), "--stage", "1", *sets]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert main([*inputs, str(s2), "--stage", "2", "--init", str(s1), *sets]) == 0

    one, two = read_history(s1), read_history(s2)
    assert len(one) == 4 and len(two) == 2
    assert one[-1]["loss"] < one[0]["loss"]  # it learns the training clips
    assert all("loss_fg" in e and "loss_fg" not in f for e, f in zip(two, one, strict=False))
    # stage 2 starts from stage 1: its classification loss starts below stage 1's start
    assert two[0]["loss_cls"] < one[0]["loss_cls"]
    meta = json.loads((s2 / "metadata.json").read_text())
    assert meta["texts_encoder"] == "minilm" and meta["text_dim"] == 384
    assert meta["class_names"][:2] == ["touching forehead", "rubbing eyes"]
    assert summary["best_val_top1"] == max(e["val_top1"] for e in one)
    model, cfg = load_model(s2)
    assert model.num_classes == 4 and cfg.stage2.epochs == 2
