"""--deepspeed: the config it resolves, and a real DeepSpeed engine on the CPU (gloo, world
size 1) that trains like the plain loop, checkpoints, and resumes after a kill."""

from __future__ import annotations

import sys

import pytest
from train_fixtures import kill_after_first_epoch, make_artifacts, tiny_clip_backbone

from fgsgl.errors import FgsglError
from fgsgl.settings import load_config
from fgsgl.train import load_model, train
from fgsgl.train.artifact import read_history
from fgsgl.train.deepspeed_engine import default_config, read_config, resolve_config


def test_default_config_is_zero_2_with_our_batch_clip_and_bf16_on_cuda():
    cfg = load_config(overrides={"optim.batch_size": "8", "optim.grad_accum": "4"})
    on_gpu = resolve_config(default_config(), cfg, world=2, cuda=True, source="default")
    assert on_gpu["zero_optimization"]["stage"] == 2
    assert on_gpu["bf16"]["enabled"] is True
    assert on_gpu["train_micro_batch_size_per_gpu"] == 8
    assert on_gpu["gradient_accumulation_steps"] == 4
    assert on_gpu["train_batch_size"] == 64
    assert on_gpu["gradient_clipping"] == 1.0
    on_cpu = resolve_config(default_config(), cfg, world=1, cuda=False, source="default")
    assert on_cpu["bf16"]["enabled"] is False


def test_a_deepspeed_file_that_contradicts_the_training_config_is_refused(tmp_path):
    path = tmp_path / "ds.json"
    path.write_text(
        '{"train_micro_batch_size_per_gpu": 16, "gradient_clipping": "auto", '
        '"optimizer": {"type": "Adam"}, "bf16": {"enabled": true}, '
        '"zero_optimization": {"stage": 3}}'
    )
    cfg = load_config(overrides={"precision": "fp32"})
    with pytest.raises(FgsglError) as err:
        resolve_config(read_config(str(path)), cfg, world=1, cuda=True, source=str(path))
    problems = "\n".join(err.value.problems)
    assert "optimizer: comes from the training config" in problems
    assert "train_micro_batch_size_per_gpu: 16 here but optim.batch_size is 8" in problems
    assert "bf16.enabled: True here but precision is fp32" in problems
    assert "gradient_clipping" not in problems  # "auto" takes ours
    ok = load_config()
    path.write_text("zero_optimization:\n  stage: 3\n")  # YAML works too
    resolved = resolve_config(read_config(str(path)), ok, world=1, cuda=True, source="x")
    assert resolved["zero_optimization"] == {"stage": 3}


@pytest.mark.slow
def test_deepspeed_on_cpu_trains_like_the_plain_loop_and_resumes_after_a_kill(tmp_path):
    """The first DeepSpeed start on a machine JIT-compiles its CPU comm op (~30-80 s;
    cached in TORCH_EXTENSIONS_DIR afterwards)."""
    frames, texts = make_artifacts(tmp_path, per_class={"train": 2, "val": 1, "test": 0})
    overrides = {
        "model.backbone": tiny_clip_backbone(tmp_path / "clip32"),
        "model.proj_hidden": 32,
        "optim.batch_size": 4,
        "stage1.epochs": 3,
        "stage1.lr": 5e-3,
        "data.workers": 0,
    }
    plain = tmp_path / "plain"
    train(str(frames), str(texts), str(plain), stage=1, overrides=overrides)

    out = tmp_path / "deepspeed"
    sets = [f"--set={k}={v}" for k, v in overrides.items()]
    cmd = [sys.executable, "-m", "fgsgl", "train", str(frames), str(texts), str(out)]
    kill_after_first_epoch([*cmd, "--stage", "1", "--deepspeed", *sets], out)
    assert (out / "checkpoints" / "deepspeed" / "epoch-0001").is_dir()

    summary = train(str(frames), str(texts), str(out), stage=1, overrides=overrides, deepspeed="")
    assert summary["resumed_from_epoch"] >= 1
    ours, theirs = read_history(out), read_history(plain)
    assert len(ours) == len(theirs) == 3
    for a, b in zip(ours, theirs, strict=True):
        for key in ("loss", "loss_cls", "loss_cp", "val_loss", "lr"):
            assert a[key] == pytest.approx(b[key], rel=1e-4, abs=1e-6), key
    got, want = load_model(out)[0].state_dict(), load_model(plain)[0].state_dict()
    diffs = {k: (v - want[k]).abs().max().item() for k, v in got.items()}
    assert max(diffs.values()) < 1e-5, sorted(diffs.items(), key=lambda kv: -kv[1])[:5]
