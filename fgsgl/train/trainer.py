"""The training loop of one stage: epochs of (forward, losses, backward, step), validation
top-1 after each, the best epoch kept, a checkpoint at every epoch end; every step's losses
and every epoch's accuracies go to a TrainingLog as they happen (fgsgl.train.events).

The loop does not know whether it runs plain or under DeepSpeed: the stepper (see
fgsgl.train.optim) hides backward, clipping, the optimiser and the schedule.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils.data import DataLoader

from fgsgl.errors import FgsglError
from fgsgl.losses import classification_loss, fine_grained_loss, prototype_loss
from fgsgl.progress import bar
from fgsgl.train.checkpoint import Checkpointer, TrainState
from fgsgl.train.data import split_batch
from fgsgl.train.events import TrainingLog
from fgsgl.train.stages import StagePlan

log = logging.getLogger("fgsgl.train")


class NonFiniteLoss(FgsglError):
    """The loss became NaN or infinite: training stops, nothing of this epoch is kept."""


@dataclass
class LossTargets:
    """What the losses compare against, on the training device.

    class_emb (C, D): the class prototypes t_c. text_emb (rows, D): every text of the texts
    artifact. text_rows (N,): the row of each training clip's text (T_fg, or T_c with
    text_granularity=class), by position in the training dataset.
    """

    class_emb: torch.Tensor
    text_emb: torch.Tensor
    text_rows: torch.Tensor


def loss_terms(
    out: Any,
    labels: torch.Tensor,
    rows: torch.Tensor | None,
    *,
    weights: dict[str, float],
    tau: float,
    targets: LossTargets,
) -> dict[str, torch.Tensor]:
    """Each active loss of the stage and their weighted sum under "total"."""
    terms = {"cls": classification_loss(out.logits, labels)}
    if "cp" in weights:
        terms["cp"] = prototype_loss(out.z_high, targets.class_emb, labels, tau)
    if "fg" in weights:
        assert rows is not None
        terms["fg"] = fine_grained_loss(out.z_mid, targets.text_emb[rows], rows, tau)
    terms["total"] = sum(weights[name] * value for name, value in terms.items())
    return terms


class Trainer:
    def __init__(
        self,
        *,
        plan: StagePlan,
        tau: float,
        stepper: Any,
        model: torch.nn.Module,
        train_loader: DataLoader,
        val_loader: DataLoader,
        targets: LossTargets,
        device: torch.device,
        grad_accum: int,
        checkpointer: Checkpointer | None,
        dist: Any = None,  # fgsgl.train.distributed.Dist, None for one process
        log: TrainingLog | None = None,  # the curves, written by the main rank only
    ) -> None:
        self.plan, self.tau = plan, tau
        self.stepper, self.model = stepper, model
        self.train_loader, self.val_loader = train_loader, val_loader
        self.targets = targets
        self.device = device
        self.grad_accum = grad_accum
        self.checkpointer = checkpointer
        self.dist = dist
        self.is_main = dist is None or dist.is_main
        self.log = log if self.is_main else None

    # --- one stage ------------------------------------------------------------------------
    def fit(self, state: TrainState) -> TrainState:
        for epoch in range(state.epoch + 1, self.plan.epochs + 1):
            start = time.perf_counter()
            record: dict[str, Any] = {"epoch": epoch, **self.train_epoch(epoch, state)}
            record.update(self.validate())
            record["seconds"] = round(time.perf_counter() - start, 3)
            state.history.append(record)
            improved = record["val_top1"] > state.best_top1
            if improved:
                state.best_top1, state.best_epoch = record["val_top1"], epoch
            state.epoch = epoch
            if self.log is not None:  # before the commit: a kill before it purges these too
                self.log.epoch(state.step, record)
            if self.checkpointer is not None:
                if improved:
                    self.checkpointer.save_best(self.model, epoch)
                self.checkpointer.save(state, self.stepper)
            if self.is_main:
                log.info(epoch_line(record, self.plan.epochs, state))
        return state

    def train_epoch(self, epoch: int, state: TrainState) -> dict[str, Any]:
        loader = self.train_loader
        loader.sampler.set_epoch(epoch)
        self.model.train()
        n_batches = len(loader)
        sums: dict[str, torch.Tensor] = {}
        correct = torch.zeros((), device=self.device)
        seen = 0
        step_sums: dict[str, torch.Tensor] = {}  # this optimiser step's batches, for the log
        start = time.perf_counter()
        desc = f"stage {self.plan.stage} epoch {epoch}/{self.plan.epochs}"
        total = len(loader) * loader.batch_size if loader.drop_last else len(loader.sampler)
        with bar(total=total, desc=desc, unit="clip", disable=not self.is_main) as b:
            for i, batch in enumerate(loader):
                inputs, labels, idx = split_batch(batch)
                group_start = i - i % self.grad_accum
                group_size = min(self.grad_accum, n_batches - group_start)
                boundary = i - group_start == group_size - 1
                terms, logits = self.forward_losses(inputs, labels, idx)
                value = terms["total"].item()
                if not math.isfinite(value):
                    raise NonFiniteLoss(
                        f"loss is {value} at step {state.step + 1} (stage {self.plan.stage}, "
                        f"epoch {epoch}, batch {i + 1}/{n_batches}); training stopped and "
                        "nothing of this epoch was saved. Lower the learning rate "
                        "(stage1.lr / stage2.lr) or check the inputs."
                    )
                if self.log is not None:
                    for name, t in terms.items():
                        step_sums[name] = step_sums.get(name, 0) + t.detach()
                    lr = self.stepper.lr  # the rate this step applies; step() moves it on
                self.backward_step(terms["total"] * (1.0 / group_size), boundary)
                if boundary:
                    state.step += 1
                    if self.log is not None:
                        losses = {k: v.item() / group_size for k, v in step_sums.items()}
                        self.log.step(state.step, losses, lr)
                        step_sums = {}
                batch = len(labels)
                for name, t in terms.items():
                    sums[name] = sums.get(name, 0) + t.detach() * batch
                correct += (logits.argmax(dim=1) == labels.to(self.device)).sum()
                seen += batch
                b.update(batch)
                b.set_postfix(loss=f"{value:.4f}", refresh=False)
        seconds = time.perf_counter() - start
        metrics = {
            f"loss_{k}" if k != "total" else "loss": v.item() / seen for k, v in sums.items()
        }
        metrics["train_top1"] = correct.item() / seen
        metrics["lr"] = self.stepper.lr
        metrics["samples_per_s"] = round(seen / seconds, 2) if seconds > 0 else None
        return metrics

    def forward_losses(
        self, inputs: tuple[torch.Tensor, ...], labels: torch.Tensor, idx: torch.Tensor
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """The stage's losses on one batch, and the logits (detached). `inputs` are the
        model's (pixels, or pixels and keypoints: fgsgl.train.data.split_batch)."""
        inputs = self.to_device(inputs)
        labels = labels.to(self.device, non_blocking=True)
        rows = self.targets.text_rows[idx.to(self.device)] if self.plan.uses_texts else None
        with self.stepper.autocast():
            out = self.stepper.module(*inputs)
        terms = loss_terms(
            out, labels, rows, weights=self.plan.weights, tau=self.tau, targets=self.targets
        )
        return terms, out.logits.detach()

    def to_device(self, inputs: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
        dtype = self.stepper.input_dtype
        return tuple(x.to(self.device, dtype, non_blocking=True) for x in inputs)

    def backward_step(self, loss: torch.Tensor, boundary: bool) -> None:
        """Backward of the (accumulation-scaled) loss; the optimiser step at a boundary."""
        self.stepper.backward(loss, boundary)
        if boundary:
            self.stepper.step()

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """Top-1 and mean cross-entropy of the classifier on the validation split."""
        self.model.eval()
        correct = torch.zeros((), device=self.device, dtype=torch.float64)
        loss_sum = torch.zeros((), device=self.device, dtype=torch.float64)
        count = torch.zeros((), device=self.device, dtype=torch.float64)
        for batch in self.val_loader:
            inputs, labels, _ = split_batch(batch)
            inputs = self.to_device(inputs)
            labels = labels.to(self.device, non_blocking=True)
            with self.stepper.autocast():
                logits = self.stepper.module(*inputs).logits.float()
            correct += (logits.argmax(dim=1) == labels).sum()
            loss_sum += torch.nn.functional.cross_entropy(logits, labels, reduction="sum")
            count += len(labels)
        if self.dist is not None:
            correct, loss_sum, count = self.dist.sum(correct, loss_sum, count)
        n = max(count.item(), 1.0)
        return {"val_top1": correct.item() / n, "val_loss": loss_sum.item() / n}


def epoch_line(record: dict[str, Any], epochs: int, state: TrainState) -> str:
    losses = " ".join(
        f"{k.removeprefix('loss_')} {v:.4f}" for k, v in record.items() if k.startswith("loss_")
    )
    return (
        f"epoch {record['epoch']}/{epochs}: loss {record['loss']:.4f} ({losses}) "
        f"train top1 {record['train_top1']:.3f} | val top1 {record['val_top1']:.3f} "
        f"loss {record['val_loss']:.4f} | lr {record['lr']:.2e} | "
        f"{record['samples_per_s']} clips/s, {record['seconds']:.1f} s | "
        f"best {state.best_top1:.3f} (epoch {state.best_epoch})"
    )
