"""The training config: plain dataclasses, a YAML file and `--set key=value` overrides.

Every value has a default, so `TrainConfig()` is the paper's setting at the tiny backbone.
A YAML file (nested sections or dotted keys) and dotted overrides are applied on top, each
value coerced to its field's type; every unknown key and bad value is reported at once,
before anything heavy starts. The resolved config (every value, defaults included) is what
the model artifact stores, and `fingerprint()` is its content hash for KFP cache keys.
"""

from __future__ import annotations

import difflib
import logging
import types
import typing
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

import yaml

from fgsgl.config_files import coerce, read_yaml
from fgsgl.errors import FgsglError
from fgsgl.hashing import sha256_json
from fgsgl.model.config import ModelConfig

log = logging.getLogger("fgsgl.train")

GRANULARITIES = ("fine", "class")
PRECISIONS = ("auto", "bf16", "fp32")
# Model selection: the best validation top-1 of this stage, or of the whole ML-CO run (stage
# 2 then keeps the stage-1 model if no stage-2 epoch beats it: the paper keeps the best
# checkpoint of its one training run).
SELECTIONS = ("stage", "run")


@dataclass
class LossConfig:
    tau: float = 0.07
    lambda_cp: float = 1.0
    lambda_fg: float = 1.0


@dataclass
class AblationConfig:
    """The switches of the design's variant table (see fgsgl.train.stages)."""

    fg_sa: bool = True
    cp_a: bool = True
    ml_co: bool = True
    text_granularity: str = "fine"


@dataclass
class StageConfig:
    epochs: int = 15
    lr: float = 1e-4


@dataclass
class OptimConfig:
    weight_decay: float = 0.05
    warmup_ratio: float = 0.03
    grad_clip: float = 1.0  # 0 turns clipping off
    batch_size: int = 8  # per device
    grad_accum: int = 1


@dataclass
class DataConfig:
    workers: int = 2
    augment: bool = True


@dataclass
class TrainConfig:
    seed: int = 0
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    ablation: AblationConfig = field(default_factory=AblationConfig)
    stage1: StageConfig = field(default_factory=StageConfig)
    stage2: StageConfig = field(default_factory=StageConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    data: DataConfig = field(default_factory=DataConfig)
    precision: str = "auto"  # auto = bf16 autocast on CUDA, fp32 on CPU
    selection: str = "stage"  # SELECTIONS

    def to_dict(self) -> dict[str, Any]:
        """Nested sections, in declaration order (the order config.yaml shows)."""
        return asdict(self)

    def flat(self) -> dict[str, Any]:
        """Dotted key -> value, e.g. {"optim.lr": ...}."""
        return {key: _get(self, key) for key in valid_keys()}

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def fingerprint(self, keys: list[str] | None = None) -> str:
        """SHA-256 of the resolved values (of `keys` only, when given)."""
        flat = self.flat()
        return sha256_json({k: flat[k] for k in (keys if keys is not None else flat)})

    def problems(self) -> list[str]:
        """Every invalid value, as readable lines (empty when the config is usable)."""
        out = list(self.model.problems())

        def need(ok: bool, key: str, what: str) -> None:
            if not ok:
                out.append(f"{key}: {_get(self, key)!r} {what}")

        need(self.loss.tau > 0, "loss.tau", "is not > 0")
        need(self.loss.lambda_cp >= 0, "loss.lambda_cp", "is not >= 0")
        need(self.loss.lambda_fg >= 0, "loss.lambda_fg", "is not >= 0")
        need(
            self.ablation.text_granularity in GRANULARITIES,
            "ablation.text_granularity",
            f"is not one of {list(GRANULARITIES)}",
        )
        for stage in ("stage1", "stage2"):
            need(getattr(self, stage).epochs >= 0, f"{stage}.epochs", "is not >= 0")
            need(getattr(self, stage).lr > 0, f"{stage}.lr", "is not > 0")
        need(self.optim.weight_decay >= 0, "optim.weight_decay", "is not >= 0")
        need(0 <= self.optim.warmup_ratio < 1, "optim.warmup_ratio", "is not in [0, 1)")
        need(self.optim.grad_clip >= 0, "optim.grad_clip", "is not >= 0 (0 = no clipping)")
        need(self.optim.batch_size >= 1, "optim.batch_size", "is not >= 1")
        need(self.optim.grad_accum >= 1, "optim.grad_accum", "is not >= 1")
        need(self.data.workers >= 0, "data.workers", "is not >= 0")
        need(self.precision in PRECISIONS, "precision", f"is not one of {list(PRECISIONS)}")
        need(self.selection in SELECTIONS, "selection", f"is not one of {list(SELECTIONS)}")
        return out


def valid_keys() -> list[str]:
    """Every dotted key the config accepts, in declaration order."""
    keys = []
    for f in fields(TrainConfig):
        section = _field_type(TrainConfig, f.name)
        if is_dataclass(section):
            keys += [f"{f.name}.{g.name}" for g in fields(section)]
        else:
            keys.append(f.name)
    return keys


def load_config(
    path: str | Path | None = None, overrides: dict[str, Any] | None = None
) -> TrainConfig:
    """Defaults, then the YAML file at `path`, then `overrides` (dotted keys).

    The file may also name run parameters (fgsgl.pipeline_params): a training parameter
    (`stage1_lr`) counts as its key, and the parameters of other steps (`frame_size`) are
    left out, so one file configures `fgsgl run-local` and `fgsgl train` alike.
    Raises one FgsglError listing every unknown key and every bad value of both sources.
    """
    from fgsgl.pipeline_params import training_config_values

    cfg = TrainConfig()
    problems: list[str] = []
    if path is not None:
        values, skipped = training_config_values(read_yaml(path))
        if skipped:
            log.info("%s: %s set other steps than training; left out", path, ", ".join(skipped))
        problems += apply(cfg, values, source=str(path))
    if overrides:
        problems += apply(cfg, overrides, source="--set")
    _check(cfg, problems, "invalid training config")
    return cfg


def config_from_dict(values: dict[str, Any], *, source: str = "config") -> TrainConfig:
    """The config a saved config.yaml describes (keys it lacks take today's defaults)."""
    cfg = TrainConfig()
    _check(cfg, apply(cfg, values, source=source), f"{source}: invalid training config")
    return cfg


def parse_overrides(items: list[str]) -> dict[str, str]:
    """`["optim.batch_size=4", ...]` -> {"optim.batch_size": "4"}; values are coerced later."""
    out: dict[str, str] = {}
    bad = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            bad.append(f"--set {item!r}: expected KEY=VALUE, e.g. stage1.epochs=3")
            continue
        out[key.strip()] = value.strip()
    if bad:
        raise FgsglError("bad --set option", bad)
    return out


def apply(cfg: TrainConfig, values: dict[str, Any], *, source: str) -> list[str]:
    """Set each (nested or dotted) key of `values` on `cfg`; return the problems found."""
    problems = []
    keys = valid_keys()
    for key, raw in _flatten(values).items():
        if key not in keys:
            close = difflib.get_close_matches(key, keys, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            problems.append(f"{source}: unknown config key {key!r}{hint}")
            continue
        owner, name = _owner(cfg, key)
        try:
            setattr(owner, name, coerce(raw, _field_type(type(owner), name)))
        except ValueError as e:
            problems.append(f"{source}: {key}: {e}")
    return problems


def _flatten(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested sections and dotted keys, both to dotted keys ("optim": {"lr": 1} -> optim.lr)."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and "." not in str(key) and not prefix:
            out.update(_flatten(value, f"{dotted}."))
        else:
            out[dotted] = value
    return out


def key_type(key: str) -> type:
    """The value type of a dotted key (`model.mid_layer` -> int: its optional's base)."""
    owner, name = _owner(TrainConfig(), key)
    typ = _field_type(type(owner), name)
    options = typing.get_args(typ) if isinstance(typ, types.UnionType) else (typ,)
    return next(t for t in options if t is not type(None))


def _owner(cfg: TrainConfig, key: str) -> tuple[Any, str]:
    section, _, name = key.rpartition(".")
    return (getattr(cfg, section) if section else cfg), name


def _get(cfg: TrainConfig, key: str) -> Any:
    owner, name = _owner(cfg, key)
    return getattr(owner, name)


def _field_type(cls: type, name: str) -> Any:
    return typing.get_type_hints(cls)[name]


def _check(cfg: TrainConfig, problems: list[str], message: str) -> None:
    """Raise one error with the problems found while applying plus every bad value."""
    problems = problems + cfg.problems()
    if any("unknown config key" in p for p in problems):
        problems.append("valid keys: " + ", ".join(valid_keys()))
    if problems:
        raise FgsglError(message, problems)
