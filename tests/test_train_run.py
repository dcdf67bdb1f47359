"""`train(...)` end to end on small artifacts: it learns, writes the model artifact, loads
back, is deterministic, and refuses every kind of bad input with a clear error."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import yaml
from train_fixtures import make_artifacts, tiny_clip_backbone

from fgsgl.cli import main
from fgsgl.errors import FgsglError, UsageError
from fgsgl.train import load_model, train
from fgsgl.train.artifact import read_history
from fgsgl.train.checkpoint import Checkpointer, rng_state, set_rng_state
from fgsgl.train.data import ClipDataset, ClipTransform
from fgsgl.train.trainer import NonFiniteLoss
from fgsgl.video.frames import FramesArtifact

TIMING = ("seconds", "samples_per_s")


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("train")
    frames, texts = make_artifacts(root / "a", per_class={"train": 6, "val": 2, "test": 1})
    backbone = tiny_clip_backbone(root / "clip32")
    base = {
        "model.backbone": backbone,
        "model.proj_hidden": 32,
        "data.workers": 0,
        "data.augment": False,  # augmentation is tested on SynthMG; here: learn fast
        "optim.batch_size": 4,
        "stage1.epochs": 6,
        "stage1.lr": 1e-2,
        "stage2.epochs": 2,
        "stage2.lr": 1e-3,
    }
    stage1 = root / "stage1"
    summary = train(str(frames), str(texts), str(stage1), stage=1, overrides=base)
    return {
        "root": root,
        "frames": str(frames),
        "texts": str(texts),
        "base": base,
        "stage1": stage1,
        "summary": summary,
    }


def _without_timing(history):
    return [{k: v for k, v in e.items() if k not in TIMING} for e in history]


def test_stage_1_learns_and_writes_the_model_artifact(env):
    out, summary = env["stage1"], env["summary"]
    assert summary["best_val_top1"] >= 0.75  # 4 classes: chance is 0.25
    history = read_history(out)
    assert [e["epoch"] for e in history] == [1, 2, 3, 4, 5, 6]
    assert history[-1]["loss"] < history[0]["loss"]
    for entry in history:
        assert {"loss", "loss_cls", "loss_cp", "val_top1", "val_loss", "lr", "seconds"} <= set(
            entry
        )
        assert "loss_fg" not in entry  # stage 1 trains no L_fg
    best = max(history, key=lambda e: e["val_top1"])
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["kind"] == "fgsgl.model" and meta["stage"] == 1
    assert meta["best_val_top1"] == best["val_top1"] == summary["best_val_top1"]
    assert meta["best_epoch"] == summary["best_epoch"]
    assert meta["num_classes"] == 4 and meta["text_dim"] == 16
    assert meta["class_names"][1] == "rubbing eyes"
    assert meta["dataset_fingerprint"] == "a" * 64
    assert meta["losses"] == {"cls": 1.0, "cp": 1.0}
    assert (out / "adapter" / "adapter_config.json").is_file()
    assert (out / "heads.safetensors").is_file()
    # what trained: LoRA and the heads stage 1 reads; the frozen backbone and proj_mid not
    trained = torch.load(out / "checkpoints" / "last.pt", weights_only=True)["stepper"]["model"]
    assert trained and all("lora_" in k or k.startswith("heads.") for k in trained)
    assert any(k.startswith("heads.proj_high") for k in trained)
    assert not any(k.startswith("heads.proj_mid") for k in trained)
    config = yaml.safe_load((out / "config.yaml").read_text())
    assert config["optim"]["weight_decay"] == 0.05  # defaults are written too
    assert config["stage1"] == {"epochs": 6, "lr": 1e-2}


def test_the_artifact_loads_back_as_the_best_epoch(env):
    model, cfg = load_model(env["stage1"])
    assert cfg.stage1.epochs == 6 and not model.training
    frames = FramesArtifact.open(env["frames"])
    val = np.flatnonzero(frames.index["split"] == "val")
    ds = ClipDataset(
        frames,
        val,
        transform=ClipTransform(model.image_size, model.image_mean, model.image_std),
        augment=False,
        seed=0,
    )
    pixels = torch.stack([ds[i][0] for i in range(len(ds))])
    labels = ds.labels
    with torch.no_grad():
        logits = model(pixels).logits
        again = load_model(env["stage1"])[0](pixels).logits
    assert torch.equal(logits, again)
    best = read_history(env["stage1"])[env["summary"]["best_epoch"] - 1]
    assert (logits.argmax(1) == labels).float().mean().item() == best["val_top1"]
    loss = torch.nn.functional.cross_entropy(logits, labels).item()
    assert loss == pytest.approx(best["val_loss"], abs=1e-5)


def test_stage_2_continues_from_init_with_the_fine_grained_loss(env):
    out = env["root"] / "stage2"
    init = str(env["stage1"])
    base = env["base"]
    summary = train(env["frames"], env["texts"], str(out), stage=2, init=init, overrides=base)
    history = read_history(out)
    assert len(history) == 2 and all("loss_fg" in e for e in history)
    # it starts where stage 1 ended, not from scratch
    assert history[0]["train_top1"] >= 0.5
    assert summary["best_val_top1"] >= 0.75
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["stage"] == 2 and meta["losses"] == {"cls": 1.0, "cp": 1.0, "fg": 1.0}
    assert meta["init"]["path"] == str(env["stage1"].resolve())


def test_selection_over_the_whole_run_keeps_stage_1_when_stage_2_does_not_beat_it(env):
    """selection=run: stage 2 must beat stage 1's best validation top-1 to replace it. With
    a learning rate that wrecks the model, stage 2's artifact is the stage-1 model itself."""
    init, base = str(env["stage1"]), env["base"]
    wreck = base | {"stage2.lr": 30.0, "stage2.epochs": 1, "optim.grad_clip": 0}
    stage_only = env["root"] / "selection-stage"
    train(env["frames"], env["texts"], str(stage_only), stage=2, init=init, overrides=wreck)
    run = env["root"] / "selection-run"
    train(
        env["frames"],
        env["texts"],
        str(run),
        stage=2,
        init=init,
        overrides=wreck | {"selection": "run"},
    )
    stage1 = json.loads((env["stage1"] / "metadata.json").read_text())
    ours = json.loads((run / "metadata.json").read_text())
    other = json.loads((stage_only / "metadata.json").read_text())
    assert other["best_val_top1"] < stage1["best_val_top1"]  # stage 2 alone got worse
    assert other["selected"] == {"stage": 2, "epoch": 1, "selection": "stage"}
    assert ours["best_val_top1"] == stage1["best_val_top1"] and ours["best_epoch"] == 0
    assert ours["selected"] == {"stage": 1, "epoch": stage1["best_epoch"], "selection": "run"}
    from safetensors.torch import load_file

    kept, original = (
        load_file(run / "heads.safetensors"),
        load_file(env["stage1"] / "heads.safetensors"),
    )
    assert all(torch.equal(kept[k], original[k]) for k in original)


def test_same_seed_same_history_and_weights_other_seed_differs(env):
    over = env["base"] | {"stage1.epochs": 2}
    runs = {}
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        out = env["root"] / f"seed-{name}"
        train(env["frames"], env["texts"], str(out), stage=1, overrides=over | {"seed": seed})
        runs[name] = (_without_timing(read_history(out)), load_model(out)[0].state_dict())
    assert runs["a"][0] == runs["b"][0]
    assert all(torch.equal(v, runs["b"][1][k]) for k, v in runs["a"][1].items())
    assert runs["a"][0] != runs["c"][0]
    # stage 1 leaves proj_mid (read only by L_fg) as built: same after 2 or 6 epochs
    six = load_model(env["stage1"])[0].state_dict()
    for name in ("heads.proj_mid.net.1.weight", "heads.proj_high.net.1.weight"):
        assert torch.equal(six[name], runs["a"][1][name]) is name.startswith("heads.proj_mid")


def test_gradient_accumulation_equals_the_larger_batch(env):
    """Stage 1's losses are means over clips: 2 x 2 accumulated = one batch of 4."""
    over = env["base"] | {"stage1.epochs": 1, "model.lora_dropout": 0.0}
    states = []
    for batch, accum in ((4, 1), (2, 2)):
        out = env["root"] / f"accum-{accum}"
        sets = {"optim.batch_size": batch, "optim.grad_accum": accum}
        train(env["frames"], env["texts"], str(out), stage=1, overrides=over | sets)
        states.append((read_history(out)[0], load_model(out)[0].state_dict()))
    (h1, w1), (h2, w2) = states
    assert h1["loss"] == pytest.approx(h2["loss"], rel=1e-5)
    assert h1["lr"] == h2["lr"]
    assert all(torch.allclose(v, w2[k], atol=1e-5) for k, v in w1.items())


def test_rerun_of_a_finished_run_returns_at_once_and_another_config_is_refused(env):
    again = train(env["frames"], env["texts"], str(env["stage1"]), stage=1, overrides=env["base"])
    assert again["already_finished"] and again["best_val_top1"] == env["summary"]["best_val_top1"]
    # data.workers cannot change the result: the same run
    same = env["base"] | {"data.workers": 2}
    assert train(env["frames"], env["texts"], str(env["stage1"]), stage=1, overrides=same)[
        "already_finished"
    ]
    other = env["base"] | {"stage1.lr": 1e-3}
    with pytest.raises(FgsglError) as err:
        train(env["frames"], env["texts"], str(env["stage1"]), stage=1, overrides=other)
    assert "holds another run" in str(err.value)
    assert err.value.problems == ["config.stage1.lr: 0.01 there, 0.001 now"]


# --- bad input ------------------------------------------------------------------------------


def test_frames_and_texts_of_different_datasets(env, tmp_path):
    _, other_texts = make_artifacts(tmp_path, fingerprint="b" * 64)
    with pytest.raises(FgsglError) as err:
        train(env["frames"], str(other_texts), str(tmp_path / "out"), stage=1)
    assert "dataset fingerprints differ: frames aaaaaaaaaaaa, texts bbbbbbbbbbbb" in str(err.value)
    assert not (tmp_path / "out").exists()


def test_texts_missing_a_clip(tmp_path):
    frames, texts = make_artifacts(tmp_path, drop_texts_of=("train-2-1", "val-0-0"))
    with pytest.raises(FgsglError) as err:
        train(str(frames), str(texts), str(tmp_path / "out"), stage=1)
    assert "2 clip(s) of the frames have no text: train-2-1, val-0-0" in str(err.value)


def test_no_validation_split(tmp_path):
    frames, texts = make_artifacts(tmp_path, per_class={"train": 2, "test": 1})
    with pytest.raises(FgsglError, match="no clip of split 'val'"):
        train(str(frames), str(texts), str(tmp_path / "out"), stage=1)


def test_stage_2_needs_init_unless_ml_co_is_off_and_stage_1_takes_none(env, tmp_path):
    with pytest.raises(UsageError, match="--stage 2 needs --init MODEL"):
        train(env["frames"], env["texts"], str(tmp_path / "o"), stage=2)
    with pytest.raises(UsageError, match="--init is only for --stage 2"):
        train(env["frames"], env["texts"], str(tmp_path / "o"), stage=1, init=str(env["stage1"]))
    no_ml_co = {"ablation.ml_co": False}
    with pytest.raises(UsageError, match="single stage starts from scratch"):
        train(
            env["frames"], env["texts"], "o", stage=2, init=str(env["stage1"]), overrides=no_ml_co
        )


def test_init_with_another_backbone_or_text_dimension(env, tmp_path):
    frames, texts8 = make_artifacts(tmp_path, dim=8)  # same dataset, another text encoder
    tiny = env["base"] | {"model.backbone": "tiny-clip", "model.proj_hidden": 64}
    with pytest.raises(FgsglError) as err:
        train(str(frames), str(texts8), str(tmp_path / "o"), stage=2, init=str(env["stage1"]),
              overrides=tiny)  # fmt: skip
    problems = "\n".join(err.value.problems)
    assert f"model.backbone: '{env['base']['model.backbone']}' in --init, 'tiny-clip' here" in (
        problems
    )
    assert "model.proj_hidden: 32 in --init, 64 here" in problems
    assert "text dimension: 16 in --init, 8 in the texts (random-test)" in problems


def test_unknown_config_key_lists_the_valid_ones(env, tmp_path):
    with pytest.raises(FgsglError) as err:
        train(env["frames"], env["texts"], str(tmp_path / "o"), stage=1, overrides={"lr": 1})
    assert err.value.problems[0] == "--set: unknown setting 'lr'"
    assert err.value.problems[-1].startswith("settings: dataset, dataset_fingerprint,")


def test_nan_loss_stops_with_the_step_and_keeps_nothing_as_best(env, tmp_path):
    out = tmp_path / "nan"
    # 1/tau overflows float32: the similarities become inf and the loss NaN at once
    over = env["base"] | {"loss.tau": 1e-45}
    where = r"loss is nan at step 1 \(stage 1, epoch 1, batch 1/6\)"
    with pytest.raises(NonFiniteLoss, match=where):
        train(env["frames"], env["texts"], str(out), stage=1, overrides=over)
    assert not (out / "metadata.json").exists()
    assert not list((out / "checkpoints").glob("*best*"))


def test_cli_prints_the_summary_and_reports_errors(env, capsys):
    args = ["train", env["frames"], env["texts"], str(env["stage1"]), "--stage", "1"]
    sets = [f"--set={k}={v}" for k, v in env["base"].items()]
    assert main(args + sets) == 0
    assert json.loads(capsys.readouterr().out)["already_finished"] is True
    assert main(["train", env["frames"], env["texts"], "x", "--stage", "2"]) == 2
    assert "--stage 2 needs --init MODEL" in capsys.readouterr().err
    assert main([*args, "--set", "optim.batch_size=zero"]) == 1
    assert "optim.batch_size: 'zero' is not an integer" in capsys.readouterr().err


def test_rng_states_round_trip_through_a_checkpoint_file(tmp_path):
    import random

    torch.manual_seed(5)
    np.random.seed(5)
    random.seed(5)
    torch.save(rng_state(), tmp_path / "rng.pt")
    first = (torch.rand(3), np.random.rand(3), random.random())
    set_rng_state(torch.load(tmp_path / "rng.pt", weights_only=True))
    again = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(first[0], again[0])
    assert np.array_equal(first[1], again[1]) and first[2] == again[2]


def test_a_corrupt_checkpoint_is_kept_aside_and_never_trusted(tmp_path, caplog):
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "last.pt").write_bytes(b"not a checkpoint")
    with caplog.at_level("WARNING", logger="fgsgl.train"):
        assert Checkpointer(tmp_path, {}).restore(stepper=None) is None
    assert "unreadable (" in caplog.text and "kept as last.pt.unusable" in caplog.text
    assert (tmp_path / "checkpoints" / "last.pt.unusable").read_bytes() == b"not a checkpoint"
    assert not (tmp_path / "checkpoints" / "last.pt").exists()
