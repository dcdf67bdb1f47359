"""Epoch-end checkpoints inside OUT, so that rerunning the same command resumes.

    OUT/checkpoints/last.pt    the resume state: epoch, step, best so far, history, RNG
                               states, and the model/optimiser/schedule (plain runs)
    OUT/checkpoints/deepspeed/ DeepSpeed's own files (one tag per epoch), for --deepspeed
    OUT/checkpoints/best/      the best-validation model so far (the model's own save)

last.pt is written last and atomically: it is the commit of an epoch. A kill at any moment
leaves the previous epoch's state intact, and the rerun repeats the interrupted epoch with
the same RNG states, hence the same result. last.pt also records which run it belongs to
(config and inputs), so a rerun with another config is refused instead of mixed in.
"""

from __future__ import annotations

import os
import random
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fgsgl.artifacts import staged_dir
from fgsgl.errors import FgsglError

CHECKPOINT_DIR = "checkpoints"
LAST = "last.pt"
BEST = "best"
DEEPSPEED = "deepspeed"
FORMAT = 1


@dataclass
class TrainState:
    """Where a run stands after `epoch` finished epochs (0 before the first)."""

    epoch: int = 0
    step: int = 0  # optimiser steps taken
    best_top1: float = -1.0
    best_epoch: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)


def rng_state() -> dict[str, Any]:
    """Every RNG a run draws from (python, numpy, torch CPU and CUDA), as plain data."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": [kind, keys.tolist(), pos, has_gauss, gauss],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, gauss_value = state["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, gauss_value))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class Checkpointer:
    """Saves and restores a run's epoch-end state under OUT/checkpoints.

    `run` identifies the run (stage, resolved config, inputs); a checkpoint of another run
    is refused with the keys that differ. Only the main rank writes files, except
    DeepSpeed's collective save, which every rank joins.
    """

    def __init__(self, out: str | Path, run: dict[str, Any], *, is_main: bool = True) -> None:
        self.dir = Path(out) / CHECKPOINT_DIR
        self.run = run
        self.is_main = is_main

    @property
    def last(self) -> Path:
        return self.dir / LAST

    @property
    def best(self) -> Path:
        return self.dir / BEST

    def save(self, state: TrainState, stepper: Any) -> None:
        tag = f"epoch-{state.epoch:04d}"
        self.dir.mkdir(parents=True, exist_ok=True)
        payload = {
            "format": FORMAT,
            "run": self.run,
            "state": asdict(state),
            "rng": rng_state(),
            "tag": tag,
            "stepper": stepper.save_state(self.dir / DEEPSPEED, tag),
        }
        if not self.is_main:
            return
        tmp = self.last.with_name(f".{LAST}.tmp-{os.getpid()}")
        torch.save(payload, tmp)
        os.replace(tmp, self.last)
        self._drop_old_deepspeed_tags(keep=tag)

    def save_best(self, model: Any) -> None:
        """The model's own save, staged: a kill mid-write never leaves half a best model."""
        if self.is_main:
            with staged_dir(self.best) as tmp:
                model.save(tmp)

    def restore(self, stepper: Any) -> TrainState | None:
        """Load the last checkpoint into `stepper` and the RNGs; None when there is none."""
        if not self.last.is_file():
            return None
        try:
            payload = torch.load(self.last, map_location="cpu", weights_only=True)
        except Exception as e:  # a corrupt file is not fixable by resuming: say so
            raise FgsglError(
                f"{self.last}: unreadable checkpoint ({type(e).__name__}: not a file this "
                "trainer wrote, or cut short); delete it to start over"
            ) from e
        self.check_same_run(payload.get("run", {}))
        stepper.load_state(self.dir / DEEPSPEED, payload["stepper"])
        set_rng_state(payload["rng"])
        return TrainState(**payload["state"])

    def check_same_run(self, saved: dict[str, Any]) -> None:
        differ = _differences(saved, self.run)
        if differ:
            raise FgsglError(
                f"{self.dir.parent} holds another run (its config or inputs differ); rerun with "
                "the same ones to resume, or use another OUT",
                differ,
            )

    def _drop_old_deepspeed_tags(self, keep: str) -> None:
        root = self.dir / DEEPSPEED
        if root.is_dir():
            for entry in root.iterdir():
                if entry.is_dir() and entry.name != keep:
                    shutil.rmtree(entry, ignore_errors=True)


def _differences(saved: Any, now: Any, prefix: str = "") -> list[str]:
    """Readable differences between two nested dicts (`key: saved -> now`)."""
    if isinstance(saved, dict) and isinstance(now, dict):
        out = []
        for key in sorted(set(saved) | set(now), key=str):
            out += _differences(saved.get(key), now.get(key), f"{prefix}{key}.")
        return out
    if saved != now:
        return [f"{prefix.rstrip('.')}: {saved!r} there, {now!r} now"]
    return []
