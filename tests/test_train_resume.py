"""Kill a training process after an epoch checkpoint, rerun the same command: the finished
result equals an uninterrupted run (history, weights and TensorBoard curves, same seed, CPU)."""

from __future__ import annotations

import os
import sys

import pytest
import torch
from train_fixtures import kill_after_first_epoch, make_artifacts, read_scalars, tiny_clip_backbone

from fgsgl.train import load_model, train
from fgsgl.train.artifact import read_history

TIMING = ("seconds", "samples_per_s")


def _history(out):
    return [{k: v for k, v in e.items() if k not in TIMING} for e in read_history(out)]


@pytest.mark.slow
def test_kill_and_rerun_equals_an_uninterrupted_run(tmp_path):
    frames, texts = make_artifacts(tmp_path, per_class={"train": 4, "val": 2, "test": 0})
    overrides = {
        "model.backbone": tiny_clip_backbone(tmp_path / "clip32"),
        "model.proj_hidden": 32,
        "optim.batch_size": 4,
        "optim.grad_accum": 2,  # 4 batches per epoch: steps at 2 and 4
        "stage1.epochs": 3,
        "stage1.lr": 5e-3,
        "data.augment": True,  # resumed augmentation must match too
        "model.lora_dropout": 0.1,  # and the dropout RNG
    }
    reference = tmp_path / "reference"
    alone = overrides | {"data.workers": 0}
    train(str(frames), str(texts), str(reference), stage=1, overrides=alone)

    out = tmp_path / "killed"
    sets = [f"--set={k}={v}" for k, v in overrides.items()]
    cmd = [sys.executable, "-m", "fgsgl", "train", str(frames), str(texts), str(out)]
    cmd += ["--stage", "1", "--set=data.workers=1", *sets]
    kill_after_first_epoch(cmd, out)

    summary = train(str(frames), str(texts), str(out), stage=1, overrides=overrides)
    assert summary["resumed_from_epoch"] >= 1 and not summary["already_finished"]
    assert _history(out) == _history(reference)
    resumed, ref = load_model(out)[0].state_dict(), load_model(reference)[0].state_dict()
    assert resumed.keys() == ref.keys()
    assert all(torch.equal(v, ref[k]) for k, v in resumed.items())
    assert os.listdir(out / "checkpoints") == ["last.pt"]
    # the curves: the killed attempt's file and the resumed one's, each step drawn once
    # (TensorBoard's purge marker hides what the kill left past the checkpoint)
    curves, ref_curves = read_scalars(out / "tensorboard"), read_scalars(reference / "tensorboard")
    assert len(list((out / "tensorboard").iterdir())) == 2
    assert curves.keys() == ref_curves.keys() >= {"loss/total", "optim/lr", "top1/val"}
    assert [s for s, _ in curves["loss/total"]] == [1, 2, 3, 4, 5, 6]
    for tag, points in ref_curves.items():
        assert curves[tag] == [(s, pytest.approx(v, rel=1e-6)) for s, v in points], tag
