"""Torn checkpoints and a full disk during training (issue 20, items 5 and 3).

A real training process is SIGKILLed at each point where it writes a checkpoint or the
model artifact (tests/kill_at.py: Python's audit and profile hooks, the code under test
unchanged); rerunning the same command then ends with the history and weights of an
uninterrupted run, bit for bit on CPU, and nothing an attempt left half-written survives.
A last.pt cut short by the test is never trusted; a disk too small for a checkpoint (a real
tmpfs) is one message naming the path and the bytes needed, and the rerun with space
resumes.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from tmpfs import mounted_tmpfs
from train_fixtures import make_artifacts

from fgsgl.cli import main
from fgsgl.errors import FgsglError
from fgsgl.train import load_model, train
from fgsgl.train.artifact import read_history
from fgsgl.train.checkpoint import Checkpointer

TIMING = ("seconds", "samples_per_s")
OVERRIDES = {
    "model.backbone": "tiny-clip:image=32,patch=8,width=32,layers=2",
    "model.subtract_clip_mean": True,
    "model.proj_hidden": 32,
    "optim.batch_size": 2,
    "data.workers": 0,
    "stage1.epochs": 3,
    "stage1.lr": 3e-3,
}
SETS = [f"--set={k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in OVERRIDES.items()]
BEST2 = "best-epoch-0002"  # epoch 2 improves on epoch 1 (checked on the reference)

# name -> (steps of tests/kill_at.py, epochs the rerun resumes after)
KILL_POINTS = {
    "best staging folder half-written": (
        [f"audit:tempfile.mkdtemp:{BEST2}.partial", "return:serialize_file:"],
        1,
    ),
    "best staged, before its rename": ([f"audit:os.rename:.{BEST2}.partial"], 1),
    "best in place, last.pt temp file empty": (
        [f"audit:os.rename:.{BEST2}.partial", "call:write:.last.pt.tmp"],
        1,
    ),
    "last.pt temp file written, before its rename": (
        [f"audit:os.rename:.{BEST2}.partial", "audit:os.rename:.last.pt.tmp"],
        1,
    ),
    "last.pt committed, the old best not yet removed": (
        ["audit:shutil.rmtree:best-epoch-0001"],
        2,
    ),
    "artifact half-copied into OUT": (
        ["audit:shutil.copyfile:best-epoch-", "audit:shutil.copyfile:best-epoch-"],
        3,
    ),
    "artifact written, metadata.json not renamed": (["audit:os.rename:.metadata.json.tmp"], 3),
    "finished, the best copy not yet removed": (
        ["audit:os.rename:.metadata.json.tmp", "audit:shutil.rmtree:best-epoch-"],
        3,
    ),
}


@pytest.fixture(scope="module")
def ref(tmp_path_factory):
    """The inputs and an uninterrupted run, in this process."""
    root = tmp_path_factory.mktemp("torn")
    frames, texts = make_artifacts(root, per_class={"train": 4, "val": 2, "test": 0})
    reference = root / "reference"
    train(str(frames), str(texts), str(reference), stage=1, overrides=OVERRIDES)
    top1 = [e["val_top1"] for e in read_history(reference)]
    assert top1[1] > top1[0], f"the premise: epoch 2 writes a new best ({top1})"
    return {"root": root, "frames": frames, "texts": texts, "reference": reference}


@pytest.fixture(scope="module")
def killed(ref):
    """Every kill point's run, each SIGKILLed by tests/kill_at.py: name -> (OUT, status)."""
    runs_dir = ref["root"] / "killed"
    runs_dir.mkdir()
    outs = {name: runs_dir / f"run{i}" for i, name in enumerate(KILL_POINTS)}
    argv = ["train", str(ref["frames"]), str(ref["texts"]), "{out}", "--stage", "1", *SETS]
    runs = {name: {"out": str(outs[name]), "steps": KILL_POINTS[name][0]} for name in outs}
    plan = runs_dir / "plan.json"
    plan.write_text(json.dumps({"argv": argv, "runs": runs}))
    driver = Path(__file__).with_name("kill_at.py")
    done = subprocess.run(
        [sys.executable, str(driver), str(plan)], capture_output=True, text=True, timeout=540
    )
    assert done.returncode == 0, done.stderr[-3000:]
    status = json.loads(done.stdout.strip().splitlines()[-1])
    return {name: (outs[name], status[name]) for name in outs}


def _history(out: Path) -> list[dict]:
    return [{k: v for k, v in e.items() if k not in TIMING} for e in read_history(out)]


def _epoch_of(last: Path) -> int:
    return torch.load(last, map_location="cpu", weights_only=True)["state"]["epoch"]


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def assert_same_as_reference(out: Path, reference: Path) -> None:
    """History and every weight bit for bit; only last.pt left in checkpoints/, and no
    temp file or staging folder anywhere in OUT."""
    assert _history(out) == _history(reference)
    got, want = load_model(out)[0].state_dict(), load_model(reference)[0].state_dict()
    assert got.keys() == want.keys()
    assert [k for k, v in got.items() if not torch.equal(v, want[k])] == []
    assert _files(out / "checkpoints") == ["last.pt"]
    assert [p for p in out.rglob(".*")] == []


def check_kill_point(name: str, out: Path) -> None:
    """What the kill left is what that point writes: the test hit the point it names."""
    ckpt = out / "checkpoints"
    staging = sorted(ckpt.glob(f".{BEST2}.partial-*"))
    temp = sorted(ckpt.glob(".last.pt.tmp-*"))
    if name == "best staging folder half-written":
        assert [len(_files(s)) for s in staging] == [1] and _epoch_of(ckpt / "last.pt") == 1
    elif name == "best staged, before its rename":
        assert [_files(s) for s in staging] == [["backbone.safetensors", "heads.safetensors"]]
        assert not (ckpt / BEST2).exists()
    elif name == "best in place, last.pt temp file empty":
        assert (ckpt / BEST2).is_dir() and [t.stat().st_size for t in temp] == [0]
    elif name == "last.pt temp file written, before its rename":
        assert len(temp) == 1 and _epoch_of(temp[0]) == 2 and _epoch_of(ckpt / "last.pt") == 1
    elif name == "last.pt committed, the old best not yet removed":
        assert _epoch_of(ckpt / "last.pt") == 2 and (ckpt / "best-epoch-0001").is_dir()
    elif name == "artifact half-copied into OUT":
        copied = {"backbone.safetensors", "heads.safetensors"} & set(_files(out))
        assert len(copied) == 1 and not (out / "metadata.json").exists()
    elif name == "artifact written, metadata.json not renamed":
        assert (out / "history.json").is_file() and not (out / "metadata.json").exists()
        assert len(list(out.glob(".metadata.json.tmp-*"))) == 1
    else:
        assert (out / "metadata.json").is_file() and any(ckpt.glob("best-epoch-*"))


@pytest.mark.slow
@pytest.mark.parametrize("name", list(KILL_POINTS))
def test_a_kill_at_each_write_point_resumes_to_an_uninterrupted_run(ref, killed, name):
    out, status = killed[name]
    log = Path(f"{out}.log").read_text()
    assert status == -9 and "kill_at: SIGKILL at" in log, log[-3000:]
    check_kill_point(name, out)
    summary = train(str(ref["frames"]), str(ref["texts"]), str(out), stage=1, overrides=OVERRIDES)
    assert summary["resumed_from_epoch"] == KILL_POINTS[name][1]
    assert summary["already_finished"] is (name == "finished, the best copy not yet removed")
    assert_same_as_reference(out, ref["reference"])


def test_a_truncated_last_pt_is_kept_aside_and_the_stage_starts_over(ref, tmp_path, caplog):
    """Cut short outside the trainer (its own writes never tear it): detected, never
    trusted, kept as last.pt.unusable with a warning; the rerun trains from epoch 1."""
    out = tmp_path / "out"
    (out / "checkpoints").mkdir(parents=True)
    whole = (ref["reference"] / "checkpoints" / "last.pt").read_bytes()
    cut = whole[: len(whole) // 2]
    (out / "checkpoints" / "last.pt").write_bytes(cut)
    with caplog.at_level("WARNING", logger="fgsgl.train"):
        summary = train(
            str(ref["frames"]), str(ref["texts"]), str(out), stage=1, overrides=OVERRIDES
        )
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    last = out / "checkpoints" / "last.pt"
    assert len(warned) == 1 and warned[0].startswith(f"{last}: unreadable (RuntimeError: ")
    assert "kept as last.pt.unusable, and this stage starts over from epoch 1" in warned[0]
    assert summary["resumed_from_epoch"] == 0
    assert (out / "checkpoints" / "last.pt.unusable").read_bytes() == cut
    (out / "checkpoints" / "last.pt.unusable").unlink()
    assert_same_as_reference(out, ref["reference"])


def test_restore_never_trusts_a_cut_last_pt_nor_touches_another_runs(ref, tmp_path, caplog):
    whole = (ref["reference"] / "checkpoints" / "last.pt").read_bytes()
    for cut in (0, 1, len(whole) - 1):
        ckpt = tmp_path / f"cut{cut}" / "checkpoints"
        ckpt.mkdir(parents=True)
        (ckpt / "last.pt").write_bytes(whole[:cut])
        (ckpt / BEST2).mkdir()  # named by no readable commit: dropped
        with caplog.at_level("WARNING", logger="fgsgl.train"):
            assert Checkpointer(ckpt.parent, {}).restore(stepper=None) is None
        assert _files(ckpt) == ["last.pt.unusable"], cut
        assert "kept as last.pt.unusable" in caplog.records[-1].getMessage()
    other = tmp_path / "other" / "checkpoints"
    other.mkdir(parents=True)
    (other / "last.pt").write_bytes(whole)
    (other / ".last.pt.tmp-1").write_bytes(b"an attempt's temp file")
    with pytest.raises(FgsglError, match="holds another run"):
        Checkpointer(other.parent, {"stage": 1}).restore(stepper=None)
    assert _files(other) == [".last.pt.tmp-1", "last.pt"]  # refused before any cleanup


@pytest.mark.parametrize("full_at", ["best-epoch-0002", "last.pt"])
def test_a_full_disk_at_a_checkpoint_is_one_message_and_the_rerun_resumes(
    ref, tmp_path, capsys, full_at
):
    """A tmpfs with room for epoch 1's checkpoint, not epoch 2's: its best model
    (full_at=best-epoch-0002) or its last.pt."""
    reference = ref["reference"]
    weights = ("backbone.safetensors", "heads.safetensors")
    best = sum((reference / f).stat().st_size for f in weights)
    last = (reference / "checkpoints" / "last.pt").stat().st_size
    # epoch 1 keeps B + L; epoch 2 writes B (its best), then L (the temp last.pt) beside them
    leave = best + last + (best // 2 if full_at.startswith("best") else best + (last - best) // 2)
    with mounted_tmpfs(tmp_path / "fs", 3) as fs:
        filler = fs.fill(leave_bytes=leave)
        out = fs.path / "out"
        args = ["train", str(ref["frames"]), str(ref["texts"]), str(out), "--stage", "1"]
        assert main([*args, *SETS]) == 1
        err = capsys.readouterr().err
        target = re.escape(str(out / "checkpoints" / full_at))
        message = (
            rf"fgsgl train: error: {target}: no space left on device; it needs about [\d.]+ KiB "
            r"more; [\d.]+ KiB free there now\. Free space and rerun the same command: it "
            r"resumes after epoch 1\.$"
        )
        assert re.search(message, err, re.M), err[-2000:]
        assert "Traceback" not in err
        assert _files(out / "checkpoints") == ["best-epoch-0001", "last.pt"]
        assert _epoch_of(out / "checkpoints" / "last.pt") == 1
        assert not (out / "metadata.json").exists() and [p for p in out.rglob(".*")] == []

        filler.unlink()
        summary = train(
            str(ref["frames"]), str(ref["texts"]), str(out), stage=1, overrides=OVERRIDES
        )
        assert summary["resumed_from_epoch"] == 1
        assert_same_as_reference(out, reference)
