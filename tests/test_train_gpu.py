"""On a CUDA GPU: bf16 autocast (plain) and DeepSpeed ZeRO-2 in bf16 train, and the model
they write loads back on the CPU. Skipped where there is no GPU (tests/conftest.py)."""

from __future__ import annotations

import math

import pytest
from train_fixtures import make_artifacts, tiny_clip_backbone

from fgsgl.train import load_model, train
from fgsgl.train.artifact import read_history


@pytest.mark.gpu
@pytest.mark.parametrize("deepspeed", [None, ""], ids=["autocast", "deepspeed"])
def test_stage_1_trains_in_bf16_on_cuda(tmp_path, deepspeed):
    frames, texts = make_artifacts(tmp_path, per_class={"train": 6, "val": 2, "test": 0})
    overrides = {
        "model.backbone": tiny_clip_backbone(tmp_path / "clip32"),
        "model.proj_hidden": 32,
        "optim.batch_size": 4,
        "stage1.epochs": 3,
        "stage1.lr": 1e-2,
        "data.augment": False,
        "precision": "auto",  # bf16 on CUDA
    }
    out = tmp_path / "out"
    train(str(frames), str(texts), str(out), stage=1, overrides=overrides, deepspeed=deepspeed)
    history = read_history(out)
    assert len(history) == 3 and all(math.isfinite(e["loss"]) for e in history)
    assert history[-1]["loss"] < history[0]["loss"]
    model, _ = load_model(out)
    assert next(model.parameters()).device.type == "cpu"
