"""The model's configuration: plain data (big_vision style), checked in one place.

The training config's `model.*` keys map one to one onto these fields; `problems()` lists
every bad value at once so that a wrong config fails before any weights are read.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from fgsgl.errors import FgsglError
from fgsgl.schema import setting

TEMPORAL_POOLS = ("mean", "max")


@dataclass
class ModelConfig:
    """What to build. `backbone` names a registry entry (see fgsgl.model.backbones):
    `tiny-clip`, `clip:<path-or-id>` or `internvl:<path-or-id>`. `mid_layer` counts
    transformer layers from 1 (the output of layer k); None means the middle one.

    `subtract_clip_mean` feeds the backbone each frame minus the mean of the clip's T
    frames (after normalisation) instead of the frame itself, like the RGB-difference input
    of temporal segment networks: what stands still in a clip (person, chair, background)
    cancels and what moved remains. Off by default (the paper's input). A backbone trained
    from scratch on a few hundred clips (tiny-clip on SynthMG) otherwise fits each clip's
    appearance and stays at chance on unseen subjects; a pretrained one does not need it.

    `trainable_mlp` is the reading of the paper's "MLP layers fully trainable": heads,
    vit_mlp, projector, all, or auto (fgsgl.model.backbones says what each trains and why
    auto is the default)."""

    backbone: str = setting(
        "tiny-clip", help='"tiny-clip", "clip:<path-or-id>" or "internvl:<path-or-id>".'
    )
    mid_layer: int | None = setting(
        None,
        null=0,  # KFP passes no null: 0 stands for it (layers count from 1)
        help="the layer f_mid is pooled from (counting from 1); 0 = the middle one.",
    )
    temporal_pool: str = setting("mean", help='pooling over the T frames, "mean" or "max".')
    subtract_clip_mean: bool = setting(
        False,
        help="feed the backbone each frame minus its clip's mean frame "
        "(what moved; for backbones trained from scratch, e.g. tiny-clip on CPU).",
    )
    lora_rank: int = setting(
        8, help="LoRA rank on the attention projections (pretrained backbones)."
    )
    lora_alpha: int = setting(16, help="LoRA alpha.")
    lora_dropout: float = setting(0.05, help="LoRA dropout.")
    proj_hidden: int = setting(512, help="hidden width of the projection MLPs into the text space.")
    family: str = setting("fgsgl", help='the model family, "fgsgl" (or "clip_mg").')
    gradient_checkpointing: bool = setting(False, help="trade compute for memory in the backbone.")
    trainable_mlp: str = setting(
        "auto",
        help='which MLPs train fully beside LoRA: "heads", "vit_mlp", '
        '"projector" (InternVL\'s), "all" or "auto" (projector where there is one).',
    )

    def problems(self) -> list[str]:
        """Every invalid field, as readable lines (empty when the config is usable)."""
        from fgsgl.model.backbones import AUTO, TRAINABLE_MLP, backbone_problem
        from fgsgl.model.families import FAMILIES

        out = []
        problem = backbone_problem(self.backbone)
        if problem:
            out.append(f"model.backbone: {problem}")
        if self.mid_layer is not None and (
            not isinstance(self.mid_layer, int)
            or isinstance(self.mid_layer, bool)
            or self.mid_layer < 1
        ):
            out.append(f"model.mid_layer: {self.mid_layer!r} is not a layer number >= 1 (or null)")
        if self.temporal_pool not in TEMPORAL_POOLS:
            out.append(
                f"model.temporal_pool: {self.temporal_pool!r} is not one of {list(TEMPORAL_POOLS)}"
            )
        if not isinstance(self.subtract_clip_mean, bool):
            out.append(f"model.subtract_clip_mean: {self.subtract_clip_mean!r} is not a boolean")
        if not _positive_int(self.lora_rank):
            out.append(f"model.lora_rank: {self.lora_rank!r} is not a positive integer")
        if not isinstance(self.lora_alpha, int | float) or self.lora_alpha <= 0:
            out.append(f"model.lora_alpha: {self.lora_alpha!r} is not a positive number")
        if not isinstance(self.lora_dropout, int | float) or not 0 <= self.lora_dropout < 1:
            out.append(f"model.lora_dropout: {self.lora_dropout!r} is not in [0, 1)")
        if not _positive_int(self.proj_hidden):
            out.append(f"model.proj_hidden: {self.proj_hidden!r} is not a positive integer")
        readings = [*TRAINABLE_MLP, AUTO]
        if self.trainable_mlp not in readings:
            out.append(f"model.trainable_mlp: {self.trainable_mlp!r} is not one of {readings}")
        if self.family not in FAMILIES:
            out.append(f"model.family: {self.family!r} is not one of {FAMILIES.known()}")
        return out

    def check(self) -> None:
        problems = self.problems()
        if problems:
            raise FgsglError("invalid model config", problems)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ModelConfig:
        """Build from a mapping, refusing unknown keys (listing the valid ones)."""
        known = [f.name for f in fields(cls)]
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise FgsglError(
                "unknown model config keys",
                [f"model.{k} (valid: {', '.join(known)})" for k in unknown],
            )
        return cls(**values)


def _positive_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0
