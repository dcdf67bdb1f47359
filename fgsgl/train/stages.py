"""The stage / ablation switch table: which losses a run trains, for how long, from what.

| switch           | stage 1 (ML-CO on)       | stage 2 (ML-CO on, needs --init)       |
|------------------|--------------------------|----------------------------------------|
| (full)           | cls + cp                 | cls + cp + fg                          |
| cp_a = false     | cls                      | cls + fg                               |
| fg_sa = false    | cls + cp                 | cls + cp (stage 1 trained longer)      |
| text_granularity | -                        | fg on the class texts T_c, not T_fg    |
| ml_co = false    | refused: one stage only  | cls + cp + fg from scratch, no init,   |
|                  |                          | stage1.epochs + stage2.epochs, stage1.lr |

A model family trains only the losses its output has (`FamilyModel.losses`): CLIP-MG
(family clip_mg) has no z_mid, so it runs with fg_sa = false; it is one stage, the
ml_co = false row (the clip_mg variant of pipelines/variants.yaml).

Stage 1 with ML-CO reads none of fg_sa, text_granularity, lambda_fg or stage2.*, so the
variants full, no_fg_sa and class_text share it: `stage_keys` names the config keys a stage
depends on, and `TrainConfig.fingerprint(stage_keys(cfg, stage))` is its cache key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fgsgl.errors import FgsglError, UsageError
from fgsgl.train.config import TrainConfig, valid_keys

LOSS_NAMES = ("cls", "cp", "fg")
# The head that only one loss reads: without that loss it gets no gradient, so it is frozen
# (else weight decay alone would move it, and differently under DeepSpeed's flat buffers).
HEAD_OF_LOSS = {"cp": "proj_high", "fg": "proj_mid"}

# Keys that cannot change a run's result: the worker count does not (augmentation is
# seeded per clip and epoch, not per worker).
_NEVER_RELEVANT = ("data.workers",)


@dataclass(frozen=True)
class StagePlan:
    stage: int  # the --stage asked for
    weights: dict[str, float]  # loss name -> weight, active losses only (cls always)
    epochs: int
    lr: float
    needs_init: bool
    text_granularity: str  # which text L_fg pulls towards: fine (T_fg) or class (T_c)

    @property
    def uses_texts(self) -> bool:
        """Whether L_fg runs, i.e. whether the per-clip text rows are needed."""
        return "fg" in self.weights

    def describe(self) -> str:
        losses = " + ".join(
            name if w == 1.0 or name == "cls" else f"{w:g}*{name}"
            for name, w in self.weights.items()
        )
        text = f", fg on {self.text_granularity} texts" if self.uses_texts else ""
        init = ", from --init" if self.needs_init else ""
        return (
            f"stage {self.stage}: L = {losses}{text}; {self.epochs} epochs at lr {self.lr:g}{init}"
        )


def plan_stage(cfg: TrainConfig, stage: int) -> StagePlan:
    """The plan for `--stage stage` under `cfg`'s ablation switches (the table above)."""
    if stage not in (1, 2):
        raise UsageError(f"--stage must be 1 or 2, not {stage!r}")
    ab = cfg.ablation
    if not ab.ml_co and stage == 1:
        raise UsageError(
            "ablation.ml_co is false: training is one stage with all losses from the start; "
            "run it as --stage 2 without --init"
        )
    weights = {"cls": 1.0}
    if ab.cp_a:
        weights["cp"] = cfg.loss.lambda_cp
    if stage == 2 and ab.fg_sa:
        weights["fg"] = cfg.loss.lambda_fg
    if ab.ml_co:
        section = cfg.stage1 if stage == 1 else cfg.stage2
        epochs, lr = section.epochs, section.lr
    else:
        epochs, lr = cfg.stage1.epochs + cfg.stage2.epochs, cfg.stage1.lr
    check_family_losses(cfg, weights)
    if epochs < 1:
        which = f"stage{stage}.epochs" if ab.ml_co else "stage1.epochs + stage2.epochs"
        raise FgsglError(f"{which} is 0: nothing to train")
    return StagePlan(
        stage=stage,
        weights=weights,
        epochs=epochs,
        lr=lr,
        needs_init=ab.ml_co and stage == 2,
        text_granularity=ab.text_granularity,
    )


def check_family_losses(cfg: TrainConfig, weights: dict[str, float]) -> None:
    """Refuse a loss the model family has no output for (CLIP-MG has no z_mid for L_fg)."""
    from fgsgl.model import family_class

    family = family_class(cfg.model.family)
    unsupported = [name for name in weights if name not in family.losses]
    if unsupported:
        switch = {"fg": "ablation.fg_sa=false", "cp": "ablation.cp_a=false"}
        raise FgsglError(
            f"model.family {cfg.model.family!r} trains only {' + '.join(family.losses)}; "
            f"this stage asks for {', '.join(unsupported)}: set "
            + " and ".join(switch.get(n, n) for n in unsupported)
        )


def stage_keys(cfg: TrainConfig, stage: int) -> list[str]:
    """The config keys whose values can change the result of `--stage stage`."""
    plan = plan_stage(cfg, stage)
    unused = set(_NEVER_RELEVANT)
    if "cp" not in plan.weights:
        unused.add("loss.lambda_cp")
    if not plan.uses_texts:
        unused |= {"loss.lambda_fg", "ablation.text_granularity"}
    if cfg.ablation.ml_co and stage == 1:
        unused |= {"ablation.fg_sa", "stage2.epochs", "stage2.lr"}
    if not plan.needs_init:  # selection across stages only means something for stage 2
        unused.add("selection")
    return [k for k in valid_keys() if k not in unused]


def freeze_unused_heads(model: Any, plan: StagePlan) -> list[str]:
    """Freeze the heads no active loss reads (stage 1: proj_mid); returns their names."""
    frozen = []
    for loss, head in HEAD_OF_LOSS.items():
        if loss not in plan.weights and head in model.heads:
            model.heads[head].requires_grad_(False)
            frozen.append(head)
    return frozen
