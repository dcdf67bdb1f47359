"""Training curves as TensorBoard event files, written while a stage trains.

    loss/total, loss/cls, loss/cp, loss/fg   every optimiser step: the step's loss terms (the
                                             mean over the batches it accumulated; the main
                                             rank's batches under DeepSpeed)
    optim/lr                                 every step: the learning rate that step applied
    top1/train, top1/val, loss/val           every epoch, at the step the epoch ended
                                             (loss/val: the classifier's cross-entropy)

One x-axis for every tag, the optimiser step, so that TensorBoard's purge marker can undo an
interrupted epoch: a resumed run starts its event file with a purge at the step after its
checkpoint, and the steps the killed attempt logged past it are not drawn twice. The file
is flushed after every step and epoch, so `tensorboard --logdir DIR` follows a run live.
Where DIR goes: `fgsgl train` writes OUT/tensorboard; a pipeline task writes its
`tensorboard` artifact (fgsgl.runtime.tasks mirrors it to the store while it trains).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

TENSORBOARD_DIR = "tensorboard"  # under OUT, where `fgsgl train` writes its curves
EPOCH_TAGS = {"train_top1": "top1/train", "val_top1": "top1/val", "val_loss": "loss/val"}


class TrainingLog(Protocol):
    """What the trainer reports as it goes (fgsgl.train.trainer.Trainer's `log`)."""

    def step(self, step: int, losses: Mapping[str, float], lr: float) -> None: ...

    def epoch(self, step: int, record: Mapping[str, Any]) -> None: ...


def step_scalars(losses: Mapping[str, float], lr: float) -> dict[str, float]:
    """TensorBoard tag -> value of one optimiser step (`losses` by term: total, cls, ...)."""
    return {**{f"loss/{name}": float(v) for name, v in losses.items()}, "optim/lr": float(lr)}


def epoch_scalars(record: Mapping[str, Any]) -> dict[str, float]:
    """TensorBoard tag -> value of one epoch's history record."""
    return {tag: float(record[key]) for key, tag in EPOCH_TAGS.items() if key in record}


def after_earlier_files(logdir: Path) -> None:
    """Wait, if need be, until a new event file sorts after those in `logdir`.

    TensorBoard reads a directory's event files in name order, and the name starts with
    the second it was made (events.out.tfevents.SECOND.HOST.PID.N): an attempt resumed
    within the second of the one before would be read first, its purge marker undone.
    So a new file is made only once the clock has passed every earlier file's second
    (at most a second's wait, and only then)."""
    import time

    seconds = [int(p.name.split(".")[3]) for p in logdir.glob("events.out.tfevents.*")
               if p.name.split(".")[3].isdigit()]  # fmt: skip
    latest = max(seconds, default=0)
    while int(time.time()) <= latest:
        time.sleep(0.02)


class TensorBoardLog:
    """A TrainingLog into event files under `logdir` (made here); `resume_step`: the
    optimiser steps the restored checkpoint had taken (0 for a fresh run)."""

    def __init__(self, logdir: str | Path, *, resume_step: int = 0) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.logdir = Path(logdir)
        self.logdir.mkdir(parents=True, exist_ok=True)
        earlier = any(self.logdir.glob("events.out.tfevents.*"))
        after_earlier_files(self.logdir)
        # a resumed run undoes what followed its checkpoint; a stage started over (an
        # unusable last.pt, a kill before the first commit) undoes the attempt before it
        purge = resume_step + 1 if resume_step > 0 else (0 if earlier else None)
        self._writer = SummaryWriter(str(self.logdir), purge_step=purge)

    def step(self, step: int, losses: Mapping[str, float], lr: float) -> None:
        self._write(step, step_scalars(losses, lr))

    def epoch(self, step: int, record: Mapping[str, Any]) -> None:
        self._write(step, epoch_scalars(record))

    def close(self) -> None:
        self._writer.close()

    def _write(self, step: int, scalars: dict[str, float]) -> None:
        for tag, value in scalars.items():
            self._writer.add_scalar(tag, value, step)
        self._writer.flush()  # on disk now: a viewer (or the store's mirror) sees it
