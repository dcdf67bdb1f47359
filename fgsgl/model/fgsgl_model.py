"""The FG-SGL model (shared/DESIGN.md, "The method in one screen").

Frames go through the backbone as B*T images; f_mid (a middle layer) and f_high (the last)
are pooled over the T frames, projected into the text space by one MLP each (z_mid for
L_fg, z_high for L_cp), and a classifier on f_high gives the logits (L_cls).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from fgsgl.model.backbones import Backbone, build_backbone
from fgsgl.model.config import ModelConfig
from fgsgl.model.families import register_family
from fgsgl.model.heads import Classifier, ProjectionMLP
from fgsgl.model.lora import parameter_summary

log = logging.getLogger("fgsgl.model")


@dataclass
class ModelOutput:
    """logits (B, C); z_high and z_mid (B, text_dim), projected but not normalised."""

    logits: Tensor
    z_high: Tensor
    z_mid: Tensor


def temporal_pool(features: Tensor, how: str) -> Tensor:
    """(B, T, D) -> (B, D)."""
    if how == "mean":
        return features.mean(dim=1)
    if how == "max":
        return features.amax(dim=1)
    raise ValueError(f"unknown temporal pool {how!r}")


@register_family("fgsgl")
class FGSGLModel(nn.Module):
    def __init__(
        self, cfg: ModelConfig, backbone: Backbone, *, num_classes: int, text_dim: int
    ) -> None:
        super().__init__()
        self.config = cfg
        self.num_classes = num_classes
        self.text_dim = text_dim
        self.backbone = backbone
        hidden = backbone.hidden_size
        self.heads = nn.ModuleDict(
            {
                "proj_high": ProjectionMLP(hidden, cfg.proj_hidden, text_dim),
                "proj_mid": ProjectionMLP(hidden, cfg.proj_hidden, text_dim),
                "classifier": Classifier(hidden, num_classes),
            }
        )

    @classmethod
    def from_config(cls, cfg: ModelConfig, *, num_classes: int, text_dim: int) -> FGSGLModel:
        model = cls(cfg, build_backbone(cfg), num_classes=num_classes, text_dim=text_dim)
        log.info("model %s on %s: %s", cfg.family, cfg.backbone, parameter_summary(model))
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

    def forward(self, pixel_values: Tensor) -> ModelOutput:
        """pixel_values: (B, T, 3, S, S) float, already normalised with image_mean/std."""
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
        dtype = next(self.backbone.parameters()).dtype
        images = pixel_values.reshape(b * t, 3, h, w).to(dtype)
        f_mid, f_high = self.backbone(images)
        f_mid = temporal_pool(f_mid.reshape(b, t, -1), self.config.temporal_pool)
        f_high = temporal_pool(f_high.reshape(b, t, -1), self.config.temporal_pool)
        return ModelOutput(
            logits=self.heads["classifier"](f_high),
            z_high=self.heads["proj_high"](f_high),
            z_mid=self.heads["proj_mid"](f_mid),
        )

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
    def load(
        cls, directory: str | Path, cfg: ModelConfig, num_classes: int, text_dim: int
    ) -> FGSGLModel:
        from fgsgl.model.io import load_model

        model = load_model(directory, cfg, num_classes=num_classes, text_dim=text_dim)
        if not isinstance(model, cls):
            raise TypeError(f"{directory} holds a {cfg.family!r} model, not {cls.__name__}")
        return model
