"""What every model family shares: the backbone, the heads, the output, the state methods.

A family (fgsgl.model.families) subclasses `FamilyModel`, builds its trainable modules into
`self.heads` (so that fgsgl.model.io saves and loads them) and writes `forward`. The class
attributes tell the rest of the code what the family needs:

- `losses`: the losses its output supports (fgsgl.train.stages refuses a stage that asks
  for another, e.g. L_fg from a family without z_mid);
- `needs_keypoints`: whether `forward` takes per-frame keypoints after the pixels (the data
  loader then yields them, and training and evaluation check that every clip has them);
- `uses_projector`: whether f_high may come from InternVL's projector (a family that works
  on the tower's tokens and f_high at one width, CLIP-MG, says no).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import ClassVar

import torch
from torch import Tensor, nn

from fgsgl.model.backbones import Backbone, BuildContext, build_backbone
from fgsgl.model.config import ModelConfig
from fgsgl.model.lora import parameter_summary

log = logging.getLogger("fgsgl.model")


@dataclass
class ModelOutput:
    """logits (B, C); z_high (B, text_dim), projected but not normalised; z_mid likewise for
    the families that align a middle layer (FG-SGL's L_fg), else None."""

    logits: Tensor
    z_high: Tensor
    z_mid: Tensor | None = None


def temporal_pool(features: Tensor, how: str) -> Tensor:
    """(B, T, D) -> (B, D)."""
    if how == "mean":
        return features.mean(dim=1)
    if how == "max":
        return features.amax(dim=1)
    raise ValueError(f"unknown temporal pool {how!r}")


class FamilyModel(nn.Module):
    """A backbone plus the family's heads; see the module docstring."""

    family: ClassVar[str] = ""  # set by register_family
    losses: ClassVar[tuple[str, ...]] = ("cls", "cp", "fg")
    needs_keypoints: ClassVar[bool] = False
    uses_projector: ClassVar[bool] = True  # f_high may come from InternVL's projector
    # whether the family's backbone features of a frame depend on that frame alone, so a
    # clip's output can be made from its frames' features (`clip_output`)
    frames_alone: ClassVar[bool] = False

    def __init__(
        self, cfg: ModelConfig, backbone: Backbone, *, num_classes: int, text_dim: int
    ) -> None:
        super().__init__()
        self.config = cfg
        self.num_classes = num_classes
        self.text_dim = text_dim
        self.backbone = backbone
        self.heads = nn.ModuleDict()

    @classmethod
    def from_config(
        cls,
        cfg: ModelConfig,
        *,
        num_classes: int,
        text_dim: int,
        ctx: BuildContext | None = None,
    ) -> FamilyModel:
        ctx = replace(ctx or BuildContext(), uses_projector=cls.uses_projector)
        backbone = build_backbone(cfg, ctx)
        model = cls(cfg, backbone, num_classes=num_classes, text_dim=text_dim)
        if ctx.load_weights:
            log.info(
                "model %s on %s (trainable MLP: %s): %s",
                cfg.family,
                cfg.backbone,
                backbone.trainable_mlp,
                parameter_summary(model),
            )
        return model

    # --- what the trainer and the evaluator read ----------------------------------------
    @property
    def image_size(self) -> int:
        return self.backbone.image_size

    @property
    def image_mean(self) -> tuple[float, float, float]:
        return self.backbone.image_mean

    @property
    def image_std(self) -> tuple[float, float, float]:
        return self.backbone.image_std

    @property
    def frames_independent(self) -> bool:
        """Whether a frame's backbone features are the same in every clip that holds it:
        a family that pools per-frame features, without `subtract_clip_mean` (which
        feeds each frame minus its clip's mean)."""
        return self.frames_alone and not self.config.subtract_clip_mean

    def images(self, pixel_values: Tensor) -> Tensor:
        """(B, T, 3, S, S) clips -> (B*T, 3, S, S) images in the backbone's dtype (each
        minus its clip's mean frame with `subtract_clip_mean`); refuses any other shape or
        size with a message that says what to change."""
        if pixel_values.ndim != 5 or pixel_values.shape[2] != 3:
            raise ValueError(
                f"pixel_values must be (B, T, 3, H, W); got {tuple(pixel_values.shape)}"
            )
        b, t, _, h, w = pixel_values.shape
        if (h, w) != (self.image_size, self.image_size):
            raise ValueError(
                f"frames are {h}x{w} but backbone {self.config.backbone!r} takes "
                f"{self.image_size}x{self.image_size}: resize them before the model"
            )
        if self.config.subtract_clip_mean:
            if t < 2:
                raise ValueError("subtract_clip_mean needs clips of 2 or more frames; got 1")
            pixel_values = pixel_values - pixel_values.mean(dim=1, keepdim=True)
        dtype = next(self.backbone.parameters()).dtype
        return pixel_values.reshape(b * t, 3, h, w).to(dtype)

    # --- state ---------------------------------------------------------------------------
    def trainable_state_dict(self) -> dict[str, Tensor]:
        """Only what training changes (LoRA + heads, or everything for tiny-clip): what a
        resume checkpoint needs; the frozen base weights come from the checkpoint path."""
        return {n: p.detach() for n, p in self.named_parameters() if p.requires_grad}

    def load_trainable_state_dict(self, state: dict[str, Tensor]) -> None:
        """Inverse of trainable_state_dict; refuses a state with other keys or shapes."""
        params = {n: p for n, p in self.named_parameters() if p.requires_grad}
        missing, unexpected = sorted(set(params) - set(state)), sorted(set(state) - set(params))
        if missing or unexpected:
            raise ValueError(
                f"trainable state does not match the model: missing {missing[:5]}, "
                f"unexpected {unexpected[:5]}"
            )
        with torch.no_grad():
            for name, p in params.items():
                p.copy_(state[name])

    def save(self, directory: str | Path) -> None:
        from fgsgl.model.io import save_model

        save_model(self, directory)

    @classmethod
    def from_pretrained(
        cls, path: str | Path, *, weights: str | None = None, device: str | None = None
    ) -> FamilyModel:
        """A trained model artifact (`fgsgl train`'s OUT), rebuilt from its config.json and
        weights alone: the Hugging Face spelling of `fgsgl.load_model(path)`. On a family
        class (CLIPMGModel.from_pretrained) it refuses an artifact of another family."""
        from fgsgl.train.artifact import load_pretrained

        model = load_pretrained(path, weights=weights, device=device)
        if not isinstance(model, cls):
            raise TypeError(f"{path} holds a {model.family!r} model, not {cls.__name__}")
        return model

    @classmethod
    def load(
        cls, directory: str | Path, cfg: ModelConfig, num_classes: int, text_dim: int
    ) -> FamilyModel:
        from fgsgl.model.io import load_model

        model = load_model(directory, cfg, num_classes=num_classes, text_dim=text_dim)
        if not isinstance(model, cls):
            raise TypeError(f"{directory} holds a {cfg.family!r} model, not {cls.__name__}")
        return model
