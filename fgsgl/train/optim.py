"""The paper's optimisation: AdamW, cosine schedule with linear warm-up, gradient clipping.

`PlainStepper` owns the optimiser and schedule of a plain (single-process) run and hides
gradient accumulation behind `backward(loss, boundary)` + `step()`; the DeepSpeed stepper
(fgsgl.train.deepspeed_engine) keeps the same interface, so the training loop is one loop.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch
from torch import nn

from fgsgl.runtime.device import autocast_context


def param_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Trainable parameters: weight decay on matrices only (not biases or norm gains)."""
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (decay if p.ndim >= 2 else no_decay).append(p)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


def build_optimizer(model: nn.Module, *, lr: float, weight_decay: float) -> torch.optim.AdamW:
    return torch.optim.AdamW(param_groups(model, weight_decay), lr=lr)


def warmup_steps(total_steps: int, warmup_ratio: float) -> int:
    return math.ceil(total_steps * warmup_ratio)


def build_scheduler(
    optimizer: torch.optim.Optimizer, *, total_steps: int, warmup_ratio: float
) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up over ceil(ratio * total) steps, then cosine decay to 0."""
    from transformers import get_cosine_schedule_with_warmup

    return get_cosine_schedule_with_warmup(
        optimizer, warmup_steps(total_steps, warmup_ratio), total_steps
    )


class PlainStepper:
    """Backward, clip, AdamW step and schedule step for one process (no DeepSpeed)."""

    kind = "plain"

    def __init__(
        self,
        model: nn.Module,
        *,
        lr: float,
        weight_decay: float,
        grad_clip: float,
        total_steps: int,
        warmup_ratio: float,
        device: torch.device,
        autocast_dtype: torch.dtype | None,
    ) -> None:
        self.model = model
        self.module = model  # what the loop calls for the forward pass
        self.optimizer = build_optimizer(model, lr=lr, weight_decay=weight_decay)
        self.scheduler = build_scheduler(
            self.optimizer, total_steps=total_steps, warmup_ratio=warmup_ratio
        )
        self.params = [p for g in self.optimizer.param_groups for p in g["params"]]
        self.grad_clip = grad_clip
        self.device = device
        self.autocast_dtype = autocast_dtype
        self.input_dtype = torch.float32

    def autocast(self):
        return autocast_context(self.device, self.autocast_dtype)

    def backward(self, loss: torch.Tensor, boundary: bool) -> None:
        """`loss` is already scaled for accumulation; `boundary` is for the DeepSpeed twin."""
        loss.backward()

    def step(self) -> None:
        if self.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.params, self.grad_clip)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)

    @property
    def lr(self) -> float:
        return self.scheduler.get_last_lr()[0]

    def save_state(self, directory: Path, tag: str) -> dict[str, Any]:
        """What a resume needs of the model, optimiser and schedule (it goes into last.pt;
        the DeepSpeed twin writes its own files under `directory` instead)."""
        return {
            "model": self.model.trainable_state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
        }

    def load_state(self, directory: Path, saved: dict[str, Any]) -> None:
        self.model.load_trainable_state_dict(saved["model"])
        self.optimizer.load_state_dict(saved["optimizer"])
        self.scheduler.load_state_dict(saved["scheduler"])
