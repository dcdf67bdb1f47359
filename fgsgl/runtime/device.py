"""The device and the mixed precision a step computes in: one place for training,
evaluation and text encoding."""

from __future__ import annotations

import contextlib
from typing import Any

import torch

from fgsgl.errors import FgsglError


def resolve_device(device: str | None) -> torch.device:
    """`device` as a torch device (None: CUDA where there is a GPU, else the CPU)."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        d = torch.device(device)
    except (RuntimeError, ValueError) as e:
        raise FgsglError(f"device {device!r}: not a torch device (cpu, cuda, cuda:1, ...)") from e
    if d.type == "cuda" and not torch.cuda.is_available():
        raise FgsglError(f"device {device!r}: no CUDA GPU is available on this machine")
    return d


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """auto: bf16 autocast on CUDA, float32 on CPU; bf16/fp32 as asked."""
    if precision == "bf16" or (precision == "auto" and device.type == "cuda"):
        return torch.bfloat16
    return None


def autocast_context(device: torch.device, dtype: torch.dtype | None) -> Any:
    """Mixed precision for the forward pass (None: full float32)."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)
