"""Epoch-end checkpoints inside OUT, so that rerunning the same command resumes.

    OUT/checkpoints/last.pt    the resume state: epoch, step, best so far, history, RNG
                               states, the model/optimiser/schedule (plain runs), and the
                               name of the best model it commits
    OUT/checkpoints/deepspeed/ DeepSpeed's own files (one tag per epoch), for --deepspeed
    OUT/checkpoints/best-epoch-NNNN/  the best-validation model so far (the model's own save)

last.pt is the commit of an epoch, written last, durably and atomically (temp file, fsync,
rename). Everything else is written before it under a name of its own (a new best under
its epoch's folder, staged; DeepSpeed under its epoch's tag), and what the commit no longer
names is removed only after it. So a kill at any moment leaves the previous epoch's state
intact: the rerun drops whatever that commit does not name (temp files, staging folders, a
newer best) and repeats the interrupted epoch with the same RNG states, hence the same
result. A full disk is one DiskFullError before anything is replaced.

A last.pt that cannot be read (cut short or damaged outside this trainer: its own writes
never leave one), or whose best model is missing, is never trusted: it is kept aside as
last.pt.unusable, a warning says so, and the stage starts over from epoch 1 (same seed,
same result). last.pt also records which run it belongs to (config and inputs), so a rerun
with another config is refused instead of mixed in.
"""

from __future__ import annotations

import io
import logging
import random
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fgsgl.artifacts import staged_dir, write_file_durably
from fgsgl.diskspace import disk_full_error, free_bytes, is_disk_full
from fgsgl.errors import FgsglError

log = logging.getLogger("fgsgl.train")

CHECKPOINT_DIR = "checkpoints"
LAST = "last.pt"
UNUSABLE = "last.pt.unusable"  # a last.pt that cannot be resumed from, kept aside
BEST_PREFIX = "best-epoch-"
LEGACY_BEST = "best"  # where a last.pt written before best-epoch-NNNN keeps its best
DEEPSPEED = "deepspeed"
FORMAT = 1
PAYLOAD_KEYS = ("format", "run", "state", "rng", "tag", "stepper")


def best_name(epoch: int) -> str:
    """The folder of the best model found at `epoch` (0: the model a stage started from)."""
    return f"{BEST_PREFIX}{epoch:04d}"


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
    DeepSpeed's collective save, which every rank joins. `best` is the best model's folder
    that the last commit names (None before the first one).
    """

    def __init__(self, out: str | Path, run: dict[str, Any], *, is_main: bool = True) -> None:
        self.dir = Path(out) / CHECKPOINT_DIR
        self.run = run
        self.is_main = is_main
        self.best: Path | None = None

    @property
    def last(self) -> Path:
        return self.dir / LAST

    def save(self, state: TrainState, stepper: Any) -> None:
        """Commit the epoch `state` ended (its best model already written by save_best)."""
        tag = f"epoch-{state.epoch:04d}"
        self.dir.mkdir(parents=True, exist_ok=True)
        best = best_name(state.best_epoch)
        payload = {
            "format": FORMAT,
            "run": self.run,
            "state": asdict(state),
            "rng": rng_state(),
            "tag": tag,
            "stepper": stepper.save_state(self.dir / DEEPSPEED, tag),
            "best": best,
        }
        if not self.is_main:
            return
        buffer = io.BytesIO()
        torch.save(payload, buffer)
        try:
            write_file_durably(self.last, buffer.getvalue(), then=_resume_hint(state.epoch - 1))
        except BaseException:
            self._drop_bests(keep=self.best)  # a best this epoch wrote is not committed
            raise
        self.best = self.dir / best
        self._drop_bests(keep=self.best)
        self._drop_old_deepspeed_tags(keep=tag)

    def save_best(self, model: Any, epoch: int) -> None:
        """The model's own save into best-epoch-NNNN, staged: a kill mid-write never leaves
        half a best model, and a full disk is refused before the write when it can be seen
        (the trainable weights do not fit) and named when it is met."""
        if not self.is_main:
            return
        target = self.dir / best_name(epoch)
        needed = sum(t.numel() * t.element_size() for t in model.trainable_state_dict().values())
        hint = _resume_hint(epoch - 1)
        free = free_bytes(self.dir)
        if free is not None and free < needed:
            raise disk_full_error(target, needed=needed, then=hint)
        with staged_dir(target) as tmp:
            try:
                model.save(tmp)
            except Exception as e:
                if _disk_full(e):
                    raise disk_full_error(target, needed=needed, then=hint) from e
                raise

    def restore(self, stepper: Any) -> TrainState | None:
        """Load the last checkpoint into `stepper` and the RNGs; None when there is none
        (or it was unreadable and is now kept aside). What the commit does not name (an
        earlier attempt's temp files, staging folders, newer best) is removed first."""
        payload, best = self._read_last(), None
        if payload is not None:
            self.check_same_run(payload["run"])
            best = self.dir / payload.get("best", LEGACY_BEST)
            if not best.is_dir():
                self._set_aside(f"the best model it names, {best.name}/, is missing")
                payload, best = None, None
        if self.is_main and self.dir.is_dir():
            self._drop_partial_writes()
            self._drop_bests(keep=best)
        if payload is None:
            return None
        if self.is_main:
            self._drop_old_deepspeed_tags(keep=payload["tag"])
        stepper.load_state(self.dir / DEEPSPEED, payload["stepper"])
        set_rng_state(payload["rng"])
        self.best = best
        return TrainState(**payload["state"])

    def check_same_run(self, saved: dict[str, Any]) -> None:
        differ = _differences(saved, self.run)
        if differ:
            raise FgsglError(
                f"{self.dir.parent} holds another run (its config or inputs differ); rerun with "
                "the same ones to resume, or use another OUT",
                differ,
            )

    def drop_bests(self) -> None:
        """Remove every best model under checkpoints/ (once the artifact holds a copy)."""
        if self.is_main and self.dir.is_dir():
            self._drop_bests(keep=None)

    def _read_last(self) -> dict[str, Any] | None:
        """last.pt's payload; None when there is none or it is unreadable (then kept aside)."""
        if not self.last.is_file():
            return None
        try:
            payload = torch.load(self.last, map_location="cpu", weights_only=True)
        except OSError as e:  # the file system's fault, not the file's: say so
            raise FgsglError(f"{self.last}: cannot be read ({e})") from e
        except Exception as e:  # cut short, damaged, or not a checkpoint at all
            reason = str(e).strip().splitlines()[0] if str(e).strip() else ""
            self._set_aside(f"unreadable ({type(e).__name__}: {reason[:200]})")
            return None
        missing = [k for k in PAYLOAD_KEYS if not isinstance(payload, dict) or k not in payload]
        if missing:
            self._set_aside(f"not a checkpoint of this trainer (no {', '.join(missing)})")
            return None
        if payload["format"] != FORMAT:
            raise FgsglError(
                f"{self.last}: checkpoint format {payload['format']!r}, this fgsgl reads "
                f"{FORMAT}: resume with the fgsgl that wrote it, or use another OUT"
            )
        return payload

    def _set_aside(self, reason: str) -> None:
        aside = self.dir / UNUSABLE
        if self.is_main:
            self.last.replace(aside)
        log.warning(
            "%s: %s; never trusted: kept as %s, and this stage starts over from epoch 1 "
            "(same seed: the same result as an uninterrupted run)",
            self.last,
            reason,
            aside.name,
        )

    def _drop_partial_writes(self) -> None:
        """Every dot entry of checkpoints/ is an earlier attempt's write in flight (a temp
        last.pt, a best's staging folder): nothing a commit names."""
        for entry in self.dir.iterdir():
            if entry.name.startswith("."):
                _remove(entry)

    def _drop_bests(self, keep: Path | None) -> None:
        for entry in self.dir.iterdir():
            is_best = entry.name.startswith(BEST_PREFIX) or entry.name == LEGACY_BEST
            if is_best and entry != keep:
                _remove(entry)

    def _drop_old_deepspeed_tags(self, keep: str) -> None:
        root = self.dir / DEEPSPEED
        if root.is_dir():
            for entry in root.iterdir():
                if entry.is_dir() and entry.name != keep:
                    shutil.rmtree(entry, ignore_errors=True)


def _resume_hint(done: int) -> str:
    """What to do after a full disk, `done` epochs being committed."""
    where = f"it resumes after epoch {done}" if done > 0 else "it starts this stage again"
    return f"Free space and rerun the same command: {where}."


def _disk_full(error: BaseException) -> bool:
    """ENOSPC, also as the libraries that write the model's files report it: safetensors
    (Rust) says `(os error 28)` in a SafetensorError, not an OSError."""
    return is_disk_full(error) or "(os error 28)" in str(error)


def _remove(entry: Path) -> None:
    if entry.is_dir() and not entry.is_symlink():
        shutil.rmtree(entry, ignore_errors=True)
    else:
        entry.unlink(missing_ok=True)


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
