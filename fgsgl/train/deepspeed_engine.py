"""`--deepspeed [CONFIG]`: the same training loop on a DeepSpeed engine (ZeRO-2, bf16).

The training config stays the one source of the batch size, accumulation, clipping, the
optimiser (AdamW with our parameter groups) and the schedule: they are handed to DeepSpeed,
and a DeepSpeed config file supplies everything else (ZeRO stage, offload, buckets,
precision). A file that sets one of ours to another value, or its own optimizer/scheduler,
is refused. Without a file: ZeRO stage 2, bf16 on CUDA (float32 on CPU).

DeepSpeed also initialises on CPU (gloo, world size 1), which is how its path is tested on
machines without a GPU. Its CPU communication op is JIT-compiled on first use (about 30-80 s);
TORCH_EXTENSIONS_DIR (default ~/.cache/torch_extensions) keeps that build for later runs.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import torch
import yaml
from torch import nn

from fgsgl.errors import FgsglError
from fgsgl.runtime.device import autocast_context
from fgsgl.train.config import TrainConfig
from fgsgl.train.distributed import Dist, single_process_env
from fgsgl.train.optim import build_optimizer, build_scheduler

log = logging.getLogger("fgsgl.train")

# Keys that come from the training config, and the config key each mirrors.
_OURS = {
    "train_micro_batch_size_per_gpu": "optim.batch_size",
    "gradient_accumulation_steps": "optim.grad_accum",
    "gradient_clipping": "optim.grad_clip",
}
_REFUSED = ("optimizer", "scheduler")


def extensions_dir() -> str:
    """Where DeepSpeed's JIT-built ops are cached (set if unset, so a warm cache is reused)."""
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "torch_extensions"
    return os.environ.setdefault("TORCH_EXTENSIONS_DIR", str(default))


def default_config() -> dict[str, Any]:
    return {
        "zero_optimization": {"stage": 2, "overlap_comm": True, "contiguous_gradients": True},
        "bf16": {"enabled": "auto"},
        "steps_per_print": 1_000_000_000,
        "wall_clock_breakdown": False,
    }


def read_config(path: str | None) -> dict[str, Any]:
    """A DeepSpeed config file (JSON or YAML), or the default when `path` is None or ""."""
    if not path:
        return default_config()
    file = Path(path)
    if not file.is_file():
        raise FgsglError(f"{path}: DeepSpeed config file not found")
    try:
        values = yaml.safe_load(file.read_text())  # JSON is YAML
    except yaml.YAMLError as e:
        raise FgsglError(f"{path}: not valid JSON or YAML ({e})") from e
    if not isinstance(values, dict):
        raise FgsglError(f"{path}: a DeepSpeed config is a mapping, found {type(values).__name__}")
    return values


def resolve_config(
    values: dict[str, Any], cfg: TrainConfig, *, world: int, cuda: bool, source: str
) -> dict[str, Any]:
    """Fill our batch/accumulation/clipping/precision into a DeepSpeed config, refusing
    contradictions (all listed at once)."""
    out = json.loads(json.dumps(values))  # a deep copy of plain data
    flat = cfg.flat()
    problems = [
        f"{key}: comes from the training config (AdamW with optim.*, stageN.lr, cosine "
        "schedule with optim.warmup_ratio), not from the DeepSpeed config"
        for key in _REFUSED
        if key in out
    ]
    for key, ours in _OURS.items():
        want = flat[ours]
        if out.get(key, "auto") not in ("auto", want):
            problems.append(f"{key}: {out[key]!r} here but {ours} is {want!r}; set {ours} instead")
        out[key] = want
    batch = cfg.optim.batch_size * cfg.optim.grad_accum * world
    if out.get("train_batch_size", "auto") not in ("auto", batch):
        problems.append(
            f"train_batch_size: {out['train_batch_size']!r} here but batch_size x grad_accum x "
            f"world size is {batch}"
        )
    out["train_batch_size"] = batch
    bf16 = dict(out.get("bf16") or {})
    want_bf16 = cfg.precision == "bf16" or (cfg.precision == "auto" and cuda)
    if bf16.get("enabled", "auto") == "auto":
        bf16["enabled"] = want_bf16
    elif bool(bf16["enabled"]) != want_bf16 and cfg.precision != "auto":
        problems.append(f"bf16.enabled: {bf16['enabled']!r} here but precision is {cfg.precision}")
    out["bf16"] = bf16
    if bf16["enabled"] and (out.get("fp16") or {}).get("enabled") is True:
        problems.append("bf16 and fp16 are both enabled")
    if problems:
        raise FgsglError(f"{source}: DeepSpeed config does not fit the training config", problems)
    return out


def init_distributed(cuda: bool) -> None:
    import deepspeed

    extensions_dir()
    single_process_env()
    logging.getLogger("DeepSpeed").setLevel(logging.WARNING)
    deepspeed.init_distributed(dist_backend="nccl" if cuda else "gloo")


class DeepSpeedStepper:
    """The PlainStepper interface over a DeepSpeed engine: same loop, same checkpoints."""

    kind = "deepspeed"

    def __init__(
        self,
        model: nn.Module,
        *,
        ds_config: dict[str, Any],
        lr: float,
        weight_decay: float,
        total_steps: int,
        warmup_ratio: float,
        device: torch.device,
        dist: Dist,
    ) -> None:
        import deepspeed

        model.to(device)
        optimizer = build_optimizer(model, lr=lr, weight_decay=weight_decay)
        scheduler = build_scheduler(optimizer, total_steps=total_steps, warmup_ratio=warmup_ratio)
        self.engine, _, _, self.scheduler = deepspeed.initialize(
            model=model, optimizer=optimizer, lr_scheduler=scheduler, config=ds_config
        )
        self.model = self.engine.module
        self.module = self.engine
        self.device = device
        self.dist = dist
        if ds_config["bf16"]["enabled"]:
            self.input_dtype = torch.bfloat16
        elif (ds_config.get("fp16") or {}).get("enabled") is True:
            self.input_dtype = torch.float16
        else:
            self.input_dtype = torch.float32
        zero = ds_config.get("zero_optimization", {}).get("stage", 0)
        precision = {torch.bfloat16: "bf16", torch.float16: "fp16"}.get(self.input_dtype, "fp32")
        log.info("DeepSpeed: ZeRO stage %s, %s, world size %d", zero, precision, dist.world)

    def autocast(self):
        return autocast_context(self.device, None)  # the engine holds the weights in bf16

    def backward(self, loss: torch.Tensor, boundary: bool) -> None:
        self.engine.set_gradient_accumulation_boundary(boundary)
        self.engine.backward(loss, scale_wrt_gas=False)  # `loss` is already scaled

    def step(self) -> None:
        self.engine.step()  # clips, steps AdamW and the schedule, zeroes the gradients

    @property
    def lr(self) -> float:
        return self.scheduler.get_last_lr()[0]

    def save_state(self, directory: Path, tag: str) -> dict[str, Any]:
        """Every rank writes its share (ZeRO partitions the optimiser state); frozen base
        weights are left out (they are rebuilt from the backbone's checkpoint)."""
        self.engine.save_checkpoint(
            str(directory), tag=tag, save_latest=False, exclude_frozen_parameters=True
        )
        return {"deepspeed_tag": tag}

    def load_state(self, directory: Path, saved: dict[str, Any]) -> None:
        tag = saved.get("deepspeed_tag")
        if tag is None:
            raise FgsglError(
                f"{directory.parent}: the checkpoint was written without --deepspeed; "
                "resume it the same way it started"
            )
        path, _ = self.engine.load_checkpoint(
            str(directory),
            tag=tag,
            load_module_strict=False,
            load_optimizer_states=True,
            load_lr_scheduler_states=True,
        )
        if path is None:
            raise FgsglError(f"{directory / tag}: DeepSpeed checkpoint missing or unreadable")
