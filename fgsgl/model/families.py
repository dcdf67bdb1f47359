"""Model families by name: "fgsgl" (fgsgl.model.fgsgl_model) and "clip_mg", the CLIP-MG
baseline (fgsgl.model.clip_mg).

A family is a class with `from_config(cfg, *, num_classes, text_dim)`, usually a subclass
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

FAMILIES: dict[str, Any] = {}


def register_family(name: str) -> Callable[[type], type]:
    """Class decorator: make `cfg.family == name` build this class."""

    def add(cls: type) -> type:
        if name in FAMILIES and FAMILIES[name] is not cls:
            raise ValueError(f"model family {name!r} is already registered")
        FAMILIES[name] = cls
        cls.family = name
        return cls

    return add


def family_class(name: str) -> Any:
    from fgsgl.errors import FgsglError

    if name not in FAMILIES:
        raise FgsglError(f"unknown model family {name!r} (known: {', '.join(sorted(FAMILIES))})")
    return FAMILIES[name]


def build_model(cfg: Any, *, num_classes: int, text_dim: int) -> nn.Module:
    """Build the model `cfg` describes, with fresh heads (and fresh LoRA, if any)."""
    cfg.check()
    return family_class(cfg.family).from_config(cfg, num_classes=num_classes, text_dim=text_dim)
