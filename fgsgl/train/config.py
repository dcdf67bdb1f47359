"""The training config: plain dataclasses whose fields are the training settings.

Each field is declared with fgsgl.schema's `setting(...)` (help text, flat parameter name,
the stages whose component receives it), so this is the one declaration of a training
setting. Every value has a default, so `TrainConfig()` is the paper's setting at the tiny
backbone; fgsgl.settings.load_config sets a config file and `--set` values over it. The
resolved config (every value, defaults included) is what the model artifact stores, and
`fingerprint()` is its content hash for KFP cache keys.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

import yaml

from fgsgl.config_files import coerce
from fgsgl.errors import FgsglError
from fgsgl.hashing import sha256_json
from fgsgl.model.config import ModelConfig
from fgsgl.schema import Setting, section, setting, walk

GRANULARITIES = ("fine", "class")
PRECISIONS = ("auto", "bf16", "fp32")
# Model selection: the best validation top-1 of this stage, or of the whole ML-CO run (stage
# 2 then keeps the stage-1 model if no stage-2 epoch beats it: the paper keeps the best
# checkpoint of its one training run).
SELECTIONS = ("stage", "run")
# optim.pk_sampler: P classes x K clips, "PxK" or "P:K" (YAML keeps 4:2 a string: the config
# reader loads decimal numbers only)
PK_FORM = re.compile(r"\s*(\d+)\s*[xX:]\s*(\d+)\s*")


def parse_pk(text: str) -> tuple[int, int] | None:
    """optim.pk_sampler as (P, K); None when it is off (""). ValueError when it is not two
    positive integers."""
    if not text.strip():
        return None
    match = PK_FORM.fullmatch(text)
    if match is None or min(int(match[1]), int(match[2])) < 1:
        raise ValueError(
            f'{text!r} is not "PxK" (two positive integers, e.g. "4x2": 4 classes x 2 clips '
            'of each per batch) or "" (random batches)'
        )
    return int(match[1]), int(match[2])


@dataclass
class LossConfig:
    tau: float = setting(0.07, help="temperature of the InfoNCE losses.")
    lambda_cp: float = setting(1.0, help="weight of L_cp (class-prototype alignment).")
    lambda_fg: float = setting(
        1.0, stages=(2,), help="weight of L_fg (fine-grained semantic alignment)."
    )


@dataclass
class AblationConfig:
    """The switches of the design's variant table (see fgsgl.train.stages)."""

    fg_sa: bool = setting(
        True, stages=(2,), help="train L_fg at all (off in the no_fg_sa variant)."
    )
    cp_a: bool = setting(True, help="train L_cp at all (off in the no_cp_a variant).")
    # stage 1 runs only with ML-CO, so its component does not receive the switch
    ml_co: bool = setting(
        True,
        stages=(2,),
        help="two stages (this one continues `init`); off: one stage from scratch.",
    )
    text_granularity: str = setting(
        "fine",
        stages=(2,),
        help='what L_fg aligns to: "fine" (T_fg) or "class" (T_c).',
    )


@dataclass
class StageConfig:
    epochs: int = setting(15, help="epochs of the stage.")
    lr: float = setting(1e-4, help="peak learning rate of the stage.")


@dataclass
class OptimConfig:
    weight_decay: float = setting(0.05, help="AdamW weight decay.")
    warmup_ratio: float = setting(
        0.03, help="share of the steps spent warming up (cosine schedule after)."
    )
    grad_clip: float = setting(1.0, help="gradient-norm clipping; 0 = none.")
    batch_size: int = setting(8, help="clips per device and step.")
    grad_accum: int = setting(1, help="steps accumulated per optimiser step.")
    pk_sampler: str = setting(
        "",
        help='training batches of P classes x K clips each, "PxK" (or "P:K"), P x K = '
        "optim.batch_size: L_fg then contrasts clips of one class with different "
        "fine-grained texts, which random batches rarely hold (fgsgl.train.pk_sampler); "
        '"" = random batches.',
    )

    def pk(self) -> tuple[int, int] | None:
        """(P, K) of pk_sampler, None when off (the value is checked by problems())."""
        return parse_pk(self.pk_sampler)


@dataclass
class DataConfig:
    workers: int = setting(
        2,
        help="data loader worker processes.",
        not_parameter="cannot change a result (augmentation is seeded per clip), so it "
        "stays out of the cache key; the trainer's default is used",
    )
    augment: bool = setting(True, help="light augmentation of the training clips.")


@dataclass
class TrainConfig:
    seed: int = setting(
        0, help="seed of every random source (data order, augmentation, initialisation)."
    )
    model: ModelConfig = section(ModelConfig)
    loss: LossConfig = section(LossConfig)
    ablation: AblationConfig = section(AblationConfig)
    stage1: StageConfig = section(
        StageConfig,
        name_prefix="stage1_",
        help={"epochs": "epochs of stage 1.", "lr": "peak learning rate of stage 1."},
        stage2_help={
            "epochs": "epochs of stage 1 (added to stage2_epochs without ML-CO).",
            "lr": "peak learning rate of stage 1 (the one stage's, without ML-CO).",
        },
    )
    stage2: StageConfig = section(
        StageConfig,
        name_prefix="stage2_",
        stages=(2,),
        help={"epochs": "epochs of stage 2.", "lr": "peak learning rate of stage 2."},
    )
    optim: OptimConfig = section(OptimConfig)
    data: DataConfig = section(DataConfig)
    precision: str = setting(
        "auto", help='"auto" (bf16 autocast on CUDA, fp32 on CPU), "bf16" or "fp32".'
    )
    selection: str = setting(
        "stage",
        stages=(2,),
        help='model selection by the best validation top-1 of this "stage", or of the '
        'whole "run" (the stage-1 model is kept when no stage-2 epoch beats it).',
    )

    def _pk_problems(self) -> list[str]:
        try:
            pk = self.optim.pk()
        except ValueError as e:
            return [f"optim.pk_sampler: {e}"]
        if pk is None or pk[0] * pk[1] == self.optim.batch_size:
            return []
        return [
            f"optim.pk_sampler: {self.optim.pk_sampler!r} makes batches of {pk[0] * pk[1]} "
            f"clips but optim.batch_size is {self.optim.batch_size}: P x K must equal "
            "optim.batch_size (the clips per device and step)"
        ]

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
        out += self._pk_problems()
        need(self.data.workers >= 0, "data.workers", "is not >= 0")
        need(0 <= self.seed < 2**32, "seed", "is not in 0..4294967295 (numpy's seed range)")
        need(self.precision in PRECISIONS, "precision", f"is not one of {list(PRECISIONS)}")
        need(self.selection in SELECTIONS, "selection", f"is not one of {list(SELECTIONS)}")
        return out


def training_settings() -> list[Setting]:
    """The training settings (fgsgl.schema), in declaration order."""
    return walk(TrainConfig, "training")


def valid_keys() -> list[str]:
    """Every dotted key the config accepts, in declaration order."""
    return [s.key for s in training_settings()]


def config_problems(cfg: TrainConfig, values: dict[str, Any]) -> list[str]:
    """Set each value (by dotted key, already of its setting's type: fgsgl.settings.read)
    on `cfg`; return every invalid value of the result."""
    for key, value in values.items():
        owner, name = _owner(cfg, key)
        setattr(owner, name, value)
    return cfg.problems()


def config_from_dict(values: dict[str, Any], *, source: str = "config") -> TrainConfig:
    """The config a saved config.yaml describes (keys it lacks take today's defaults)."""
    cfg = TrainConfig()
    problems = []
    known = {s.key: s for s in training_settings()}
    for section_name, value in values.items():
        inner = value.items() if isinstance(value, dict) else [(None, value)]
        for name, v in inner:
            key = section_name if name is None else f"{section_name}.{name}"
            if key not in known:
                problems.append(f"{source}: unknown config key {key!r}")
                continue
            try:
                setattr(*_owner(cfg, key), coerce(v, known[key].type))
            except ValueError as e:
                problems.append(f"{source}: {key}: {e}")
    problems += cfg.problems()
    if problems:
        raise FgsglError(f"{source}: invalid training config", problems)
    return cfg


def _owner(cfg: TrainConfig, key: str) -> tuple[Any, str]:
    section_name, _, name = key.rpartition(".")
    return (getattr(cfg, section_name) if section_name else cfg), name


def _get(cfg: TrainConfig, key: str) -> Any:
    owner, name = _owner(cfg, key)
    return getattr(owner, name)
