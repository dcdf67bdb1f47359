"""The vision side of FG-SGL: backbones by name, LoRA, heads, model families, save/load.

from fgsgl.model import ModelConfig, build_model
model = build_model(ModelConfig(backbone="tiny-clip"), num_classes=17, text_dim=384)
out = model(pixel_values)   # (B, T, 3, S, S) -> ModelOutput(logits, z_high, z_mid)

Families: "fgsgl" (FGSGLModel) and "clip_mg" (CLIPMGModel, the pose-guided baseline,
`model(pixel_values, keypoints)`), both on the shared backbones and heads.
"""

from typing import Any

# Names resolve on first use (PEP 562): importing fgsgl.model.config, which the training
# config and the pipeline's planning read, must not import torch with the whole package.
_EXPORTS = {
    "KINDS": "backbones",
    "Backbone": "backbones",
    "build_backbone": "backbones",
    "parse_backbone": "backbones",
    "FamilyModel": "base",
    "ModelOutput": "base",
    "temporal_pool": "base",
    "CLIPMGModel": "clip_mg",
    "ModelConfig": "config",
    "FAMILIES": "families",
    "build_model": "families",
    "count_trainable_by_reading": "families",
    "family_class": "families",
    "register_family": "families",
    "FGSGLModel": "fgsgl_model",
    "Classifier": "heads",
    "ProjectionMLP": "heads",
    "load_model": "io",
    "save_model": "io",
    "parameter_counts": "lora",
    "parameter_summary": "lora",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'fgsgl.model' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"fgsgl.model.{_EXPORTS[name]}"), name)
