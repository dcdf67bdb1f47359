"""The FG-SGL model (docs/method.md).

Frames go through the backbone as B*T images; f_mid (a middle layer) and f_high (the last)
are pooled over the T frames, projected into the text space by one MLP each (z_mid for
L_fg, z_high for L_cp), and a classifier on f_high gives the logits (L_cls). What every
family shares (state, save/load, input checks) is fgsgl.model.base.FamilyModel.
"""

from __future__ import annotations

from torch import Tensor

from fgsgl.model.backbones import Backbone
from fgsgl.model.base import FamilyModel, ModelOutput, temporal_pool
from fgsgl.model.config import ModelConfig
from fgsgl.model.families import register_family
from fgsgl.model.heads import Classifier, ProjectionMLP

__all__ = ["FGSGLModel", "ModelOutput", "temporal_pool"]


@register_family("fgsgl", help="FG-SGL: f_mid / f_high, the FG-SA, CP-A and classifier heads")
class FGSGLModel(FamilyModel):
    losses = ("cls", "cp", "fg")

    def __init__(
        self, cfg: ModelConfig, backbone: Backbone, *, num_classes: int, text_dim: int
    ) -> None:
        super().__init__(cfg, backbone, num_classes=num_classes, text_dim=text_dim)
        high, mid = backbone.high_size, backbone.hidden_size
        self.heads.update(
            {
                "proj_high": ProjectionMLP(high, cfg.proj_hidden, text_dim),
                "proj_mid": ProjectionMLP(mid, cfg.proj_hidden, text_dim),
                "classifier": Classifier(high, num_classes),
            }
        )

    frames_alone = True  # the backbone sees each frame alone (see `frames_independent`)

    def forward(self, pixel_values: Tensor) -> ModelOutput:
        """pixel_values: (B, T, 3, S, S) float, already normalised with image_mean/std."""
        images = self.images(pixel_values)
        b, t = pixel_values.shape[:2]
        f_mid, f_high = self.backbone(images)
        return self.clip_output(f_mid.reshape(b, t, -1), f_high.reshape(b, t, -1))

    def clip_output(self, f_mid: Tensor, f_high: Tensor) -> ModelOutput:
        """The clip's output from its frames' backbone features, (B, T, D) each: pooled
        over T, then the heads. Apart from `forward` so that frames shared by overlapping
        windows (spotting) go through the backbone once."""
        f_mid = temporal_pool(f_mid, self.config.temporal_pool)
        f_high = temporal_pool(f_high, self.config.temporal_pool)
        return ModelOutput(
            logits=self.heads["classifier"](f_high),
            z_high=self.heads["proj_high"](f_high),
            z_mid=self.heads["proj_mid"](f_mid),
        )
