"""Model families by name: "fgsgl" (fgsgl.model.fgsgl_model) and "clip_mg", the CLIP-MG
baseline (fgsgl.model.clip_mg).

A family is a class with `from_config(cfg, *, num_classes, text_dim, ctx=None)` (ctx: a
fgsgl.model.backbones.BuildContext, handed to build_backbone), usually a subclass
of fgsgl.model.base.FamilyModel (which says what losses it supports and whether it reads
keypoints); it reuses the shared backbones (fgsgl.model.backbones) and heads
(fgsgl.model.heads) and owns its forward and output. `build_model` dispatches on
`cfg.family`; saving and loading (fgsgl.model.io) work for any family whose model has
`.backbone` and `.heads`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from fgsgl.registry import Registry

# the built-in families register themselves when their modules are imported: on the first
# lookup, so that reading a config (fgsgl.model.config) does not import torch
FAMILIES: Registry[type] = Registry(
    "model family", builtins=("fgsgl.model.fgsgl_model", "fgsgl.model.clip_mg")
)


def register_family(name: str, *, help: str = "") -> Callable[[type], type]:
    """Class decorator: make `cfg.family == name` build this class."""

    def add(cls: type) -> type:
        FAMILIES.add(name, cls, help=help or (cls.__doc__ or "").strip().split("\n")[0])
        cls.family = name  # type: ignore[attr-defined]
        return cls

    return add


def family_class(name: str) -> Any:
    return FAMILIES.get(name)


def build_model(cfg: Any, *, num_classes: int, text_dim: int, ctx: Any = None) -> nn.Module:
    """Build the model `cfg` describes, with fresh heads (and fresh LoRA, if any); `ctx` is
    a fgsgl.model.backbones.BuildContext (a fetched weights artifact, structure only)."""
    cfg.check()
    family = family_class(cfg.family)
    return family.from_config(cfg, num_classes=num_classes, text_dim=text_dim, ctx=ctx)


def count_trainable_by_reading(
    cfg: Any, *, num_classes: int, text_dim: int, weights: str | None = None
) -> dict[str, int]:
    """Trainable parameters under each reading of `cfg.trainable_mlp` that the backbone
    allows (fgsgl.model.backbones.TRAINABLE_MLP), from the structure alone: each model is
    built on the meta device without reading weights. {} for a backbone trained fully."""
    import dataclasses

    import torch

    from fgsgl.errors import FgsglError
    from fgsgl.model.backbones import TRAINABLE_MLP, BuildContext
    from fgsgl.model.lora import parameter_counts

    ctx = BuildContext(weights=weights, load_weights=False)
    counts: dict[str, int] = {}
    for reading in TRAINABLE_MLP:
        variant = dataclasses.replace(cfg, trainable_mlp=reading)
        try:
            with torch.device("meta"):
                model = build_model(variant, num_classes=num_classes, text_dim=text_dim, ctx=ctx)
        except FgsglError:
            continue  # a reading this backbone does not have (no projector)
        if model.backbone.trained_fully:
            return {}
        counts[reading] = parameter_counts(model)[0]
    return counts
