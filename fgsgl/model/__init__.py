"""The vision side of FG-SGL: backbones by name, LoRA, heads, model families, save/load.

from fgsgl.model import ModelConfig, build_model
model = build_model(ModelConfig(backbone="tiny-clip"), num_classes=17, text_dim=384)
out = model(pixel_values)   # (B, T, 3, S, S) -> ModelOutput(logits, z_high, z_mid)

Families: "fgsgl" (FGSGLModel) and "clip_mg" (CLIPMGModel, the pose-guided baseline,
`model(pixel_values, keypoints)`), both on the shared backbones and heads.
"""

from fgsgl.model.backbones import KINDS, Backbone, build_backbone, parse_backbone
from fgsgl.model.base import FamilyModel, ModelOutput, temporal_pool
from fgsgl.model.clip_mg import CLIPMGModel
from fgsgl.model.config import ModelConfig
from fgsgl.model.families import (
    FAMILIES,
    build_model,
    count_trainable_by_reading,
    family_class,
    register_family,
)
from fgsgl.model.fgsgl_model import FGSGLModel
from fgsgl.model.heads import Classifier, ProjectionMLP
from fgsgl.model.io import load_model, save_model
from fgsgl.model.lora import parameter_counts, parameter_summary

__all__ = [
    "FAMILIES",
    "KINDS",
    "Backbone",
    "CLIPMGModel",
    "Classifier",
    "FGSGLModel",
    "FamilyModel",
    "ModelConfig",
    "ModelOutput",
    "ProjectionMLP",
    "build_backbone",
    "build_model",
    "count_trainable_by_reading",
    "family_class",
    "load_model",
    "parameter_counts",
    "parameter_summary",
    "parse_backbone",
    "register_family",
    "save_model",
    "temporal_pool",
]
