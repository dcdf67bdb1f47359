"""LoRA on a pretrained backbone's attention projections (peft); the rest stays frozen.

The paper fine-tunes InternViT with LoRA rank 8 on attention. Which modules are "the
attention projections" differs per tower, so each Backbone class names its own
`lora_targets` (CLIP: q/k/v/out_proj; InternViT: q/k/v_proj + projection_layer, or the
original code's fused attn.qkv + attn.proj).
"""

from __future__ import annotations

import logging
import warnings

from torch import nn

log = logging.getLogger("fgsgl.model")


def lora_config(targets: tuple[str, ...], *, rank: int, alpha: float, dropout: float):
    from peft import LoraConfig

    return LoraConfig(
        r=rank,
        lora_alpha=alpha,
        lora_dropout=dropout,
        target_modules=list(targets),
        bias="none",
    )


def apply_lora(backbone, *, rank: int, alpha: float, dropout: float) -> None:
    """Wrap `backbone.model` in a peft model: LoRA adapters trainable, every base weight
    frozen (peft sets requires_grad=False on them)."""
    from peft import get_peft_model

    config = lora_config(backbone.lora_targets, rank=rank, alpha=alpha, dropout=dropout)
    with warnings.catch_warnings():  # peft 0.21 reads an attribute transformers 5 deprecates
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*deprecated")
        backbone.model = get_peft_model(backbone.model, config)
    backbone.has_lora = True


def parameter_counts(model: nn.Module) -> tuple[int, int]:
    """(trainable, total) parameter counts."""
    trainable = total = 0
    for p in model.parameters():
        total += p.numel()
        if p.requires_grad:
            trainable += p.numel()
    return trainable, total


def parameter_summary(model: nn.Module) -> str:
    """`trainable X / total Y (Z%)`, like peft's print_trainable_parameters."""
    trainable, total = parameter_counts(model)
    share = 100.0 * trainable / total if total else 0.0
    return f"trainable {trainable:,} / total {total:,} ({share:.4f}%)"
