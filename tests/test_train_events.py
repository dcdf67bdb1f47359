"""The training curves: TensorBoard event files written while a stage trains (every step's
loss terms and learning rate, every epoch's accuracies), read back by TensorBoard's own
loader and compared with what the trainer computed; and the Metrics of a finished stage."""

from __future__ import annotations

import json

import pytest
from train_fixtures import make_artifacts, read_scalars, tiny_clip_backbone

from fgsgl.cli import main
from fgsgl.train import train
from fgsgl.train.artifact import read_history, training_metrics
from fgsgl.train.checkpoint import Checkpointer
from fgsgl.train.optim import PlainStepper
from fgsgl.train.trainer import Trainer

STEPS_PER_EPOCH = 3  # 24 training clips, batches of 4, 2 batches per optimiser step


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A 2-epoch stage 1, recording every batch's loss terms, every step's learning rate
    and, just before each epoch's checkpoint, what a TensorBoard reader finds on disk."""
    root = tmp_path_factory.mktemp("events")
    frames, texts = make_artifacts(root / "a", per_class={"train": 6, "val": 2, "test": 0})
    overrides = {
        "model.backbone": tiny_clip_backbone(root / "clip32"),
        "model.proj_hidden": 32,
        "data.workers": 0,
        "data.augment": False,
        "optim.batch_size": 4,
        "optim.grad_accum": 2,
        "stage1.epochs": 2,
        "stage1.lr": 1e-2,
    }
    out = root / "stage1"
    batches: list[dict[str, float]] = []
    lrs: list[float] = []
    on_disk: list[tuple[int, dict]] = []
    forward, step, save = Trainer.forward_losses, PlainStepper.step, Checkpointer.save

    def recording_forward(self, *args):
        terms, logits = forward(self, *args)
        batches.append({k: v.item() for k, v in terms.items()})
        return terms, logits

    def recording_step(self):
        lrs.append(self.lr)
        step(self)

    def reading_save(self, state, stepper):
        on_disk.append((state.epoch, read_scalars(out / "tensorboard")))
        save(self, state, stepper)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Trainer, "forward_losses", recording_forward)
        mp.setattr(PlainStepper, "step", recording_step)
        mp.setattr(Checkpointer, "save", reading_save)
        summary = train(str(frames), str(texts), str(out), stage=1, overrides=overrides)
    return {
        "root": root,
        "frames": frames,
        "texts": texts,
        "overrides": overrides,
        "out": out,
        "summary": summary,
        "batches": batches,
        "lrs": lrs,
        "on_disk": on_disk,
    }


def test_every_step_logs_its_loss_terms_and_the_learning_rate_it_applied(run):
    scalars = read_scalars(run["out"] / "tensorboard")
    steps = list(range(1, 2 * STEPS_PER_EPOCH + 1))
    pairs = list(zip(run["batches"][::2], run["batches"][1::2], strict=True))
    assert len(pairs) == len(steps)
    for term in ("total", "cls", "cp"):
        logged = scalars[f"loss/{term}"]
        assert [s for s, _ in logged] == steps
        expected = [(a[term] + b[term]) / 2 for a, b in pairs]  # the step's two batches
        assert [v for _, v in logged] == pytest.approx(expected, rel=1e-6)
    assert "loss/fg" not in scalars  # stage 1 trains no L_fg
    assert [s for s, _ in scalars["optim/lr"]] == steps
    assert [v for _, v in scalars["optim/lr"]] == pytest.approx(run["lrs"], rel=1e-6)
    assert len(set(run["lrs"])) > 1  # the schedule moves: each step's own rate, not one
    # the per-step curve is the history's epoch means, step by step
    history = read_history(run["out"])
    totals = [v for _, v in scalars["loss/total"]]
    for epoch, entry in enumerate(history):
        chunk = totals[epoch * STEPS_PER_EPOCH : (epoch + 1) * STEPS_PER_EPOCH]
        assert sum(chunk) / len(chunk) == pytest.approx(entry["loss"], rel=1e-5)


def test_every_epoch_logs_train_and_val_accuracy_at_its_last_step(run):
    scalars = read_scalars(run["out"] / "tensorboard")
    history = read_history(run["out"])
    ends = [STEPS_PER_EPOCH * e["epoch"] for e in history]
    for tag, key in (
        ("top1/train", "train_top1"),
        ("top1/val", "val_top1"),
        ("loss/val", "val_loss"),
    ):
        assert [s for s, _ in scalars[tag]] == ends, tag
        assert [v for _, v in scalars[tag]] == pytest.approx([e[key] for e in history], rel=1e-6)


def test_the_events_are_on_disk_while_training_runs(run):
    """Read by TensorBoard's loader just before epoch 1's checkpoint, epoch 2 still to go."""
    epochs = [epoch for epoch, _ in run["on_disk"]]
    assert epochs == [1, 2]
    _, first = run["on_disk"][0]
    assert [s for s, _ in first["loss/total"]] == [1, 2, 3]
    assert [s for s, _ in first["top1/val"]] == [STEPS_PER_EPOCH]
    assert run["summary"]["tensorboard"] == str(run["out"] / "tensorboard")


def test_the_metrics_of_a_stage_are_its_history(run):
    history = read_history(run["out"])
    best = max(history, key=lambda e: e["val_top1"])  # the first of equals, as the trainer
    metrics = training_metrics(run["out"])
    assert set(metrics) == {
        "best_val_top1",
        "best_epoch",
        "epochs",
        "final_loss",
        "final_loss_cls",
        "final_loss_cp",
        "seconds",
        "samples_per_s",
    }
    assert metrics["best_val_top1"] == best["val_top1"] == run["summary"]["best_val_top1"]
    assert metrics["best_epoch"] == best["epoch"] == run["summary"]["best_epoch"]
    assert metrics["epochs"] == 2
    for key in ("loss", "loss_cls", "loss_cp"):
        assert metrics[f"final_{key}"] == history[-1][key]
    assert metrics["seconds"] == pytest.approx(sum(e["seconds"] for e in history))
    rates = [e["samples_per_s"] for e in history]
    assert metrics["samples_per_s"] == pytest.approx(sum(rates) / len(rates))


def test_the_cli_writes_stage_2_curves_where_it_is_told(run, capsys):
    tb = run["root"] / "curves-stage2"
    out = run["root"] / "stage2"
    sets = [f"--set={k}={v}" for k, v in run["overrides"].items()] + ["--set=stage2.epochs=1"]
    args = ["train", str(run["frames"]), str(run["texts"]), str(out), "--stage", "2"]
    args += ["--init", str(run["out"]), "--tensorboard", str(tb), *sets]
    assert main(args) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["tensorboard"] == str(tb)
    assert not (out / "tensorboard").exists()
    scalars = read_scalars(tb)
    assert [s for s, _ in scalars["loss/fg"]] == list(range(1, STEPS_PER_EPOCH + 1))
    assert training_metrics(out)["final_loss_fg"] == read_history(out)[-1]["loss_fg"]


def test_a_resumed_log_hides_the_steps_the_killed_attempt_logged_past_its_checkpoint(tmp_path):
    from fgsgl.train.events import TensorBoardLog

    killed = TensorBoardLog(tmp_path, resume_step=0)
    for step in (1, 2, 3, 4):  # checkpoint after step 2; steps 3 and 4 of the lost epoch
        killed.step(step, {"total": float(step)}, lr=0.1)
    killed.epoch(2, {"val_top1": 0.5})
    killed.close()
    resumed = TensorBoardLog(tmp_path, resume_step=2)
    for step in (3, 4):
        resumed.step(step, {"total": 10.0 * step}, lr=0.2)
    resumed.close()
    scalars = read_scalars(tmp_path)
    assert scalars["loss/total"] == [(1, 1.0), (2, 2.0), (3, 30.0), (4, 40.0)]
    assert [v for _, v in scalars["optim/lr"]] == pytest.approx([0.1, 0.1, 0.2, 0.2])
    assert scalars["top1/val"] == [(2, 0.5)]


def test_a_resumed_log_sorts_after_the_attempt_before_even_within_one_second(tmp_path):
    """TensorBoard reads event files in name order, and names start with their second: a
    resumed log made in the same second as the one before waits for the next."""
    from fgsgl.train.events import TensorBoardLog

    first = TensorBoardLog(tmp_path, resume_step=0)
    first.step(1, {"total": 2.0}, lr=0.1)
    first.step(2, {"total": 9.0}, lr=0.1)  # past the checkpoint: purged below
    first.close()
    second = TensorBoardLog(tmp_path, resume_step=1)  # at once: the same second, mostly
    second.step(2, {"total": 1.0}, lr=0.1)
    second.close()
    names = sorted(p.name for p in tmp_path.iterdir())
    assert len(names) == 2
    assert int(names[0].split(".")[3]) < int(names[1].split(".")[3])
    assert read_scalars(tmp_path)["loss/total"] == [(1, 2.0), (2, 1.0)]


def test_a_stage_started_over_hides_the_attempt_before(tmp_path):
    """An unusable last.pt (or a kill before the first checkpoint) starts the stage over
    from step 0: the curves of the attempt before are undone, not drawn twice."""
    from fgsgl.train.events import TensorBoardLog

    lost = TensorBoardLog(tmp_path, resume_step=0)
    for step in (1, 2, 3):
        lost.step(step, {"total": float(step)}, lr=0.1)
    lost.close()
    again = TensorBoardLog(tmp_path, resume_step=0)
    for step in (1, 2):
        again.step(step, {"total": 10.0 * step}, lr=0.1)
    again.close()
    assert read_scalars(tmp_path)["loss/total"] == [(1, 10.0), (2, 20.0)]
