"""InternVL checkpoints in either layout, read into transformers' native vision classes.

OpenGVLab publishes InternVL2.5 as `internvl_chat` checkpoints whose model code ships with
the weights (remote code): InternViT under `vision_model.*`, the vision-to-language
projector `mlp1.*`, the language model under `language_model.*`. transformers has native
classes for the same architecture (`InternVLVisionModel`, the `-hf` repositories). This
module maps an original checkpoint's vision config and weights onto the native classes, so
that gradient checkpointing and LoRA behave as for native checkpoints and no code from the
checkpoint runs (the mapping is the one of transformers' own conversion script,
`convert_internvl_weights_to_hf.py`, restricted to the vision side):

| original (`vision_model.` stripped)      | native `InternVLVisionModel`                 |
|------------------------------------------|----------------------------------------------|
| embeddings.class_embedding               | embeddings.cls_token                         |
| embeddings.patch_embedding.{weight,bias} | embeddings.patch_embeddings.projection.*     |
| embeddings.position_embedding            | embeddings.position_embeddings               |
| encoder.layers.N.attn.qkv.{weight,bias}  | encoder.layer.N.attention.{q,k,v}_proj.*     |
|                                          | (rows split in thirds: q, k, v)              |
| encoder.layers.N.attn.proj.*             | encoder.layer.N.attention.projection_layer.* |
| encoder.layers.N.attn.{q,k}_norm.weight  | encoder.layer.N.attention.{q,k}_norm.weight  |
| encoder.layers.N.mlp.fc{1,2}.*           | encoder.layer.N.mlp.fc{1,2}.*                |
| encoder.layers.N.norm1.* / norm2.*       | encoder.layer.N.layernorm_before.* / _after.* |
| encoder.layers.N.ls1 / ls2               | encoder.layer.N.lambda_1 / lambda_2          |
| mlp1.0.* / mlp1.1.* / mlp1.3.*           | layer_norm.* / linear_1.* / linear_2.* of the |
| (the vision-to-language projector)       | projector (InternVLMultiModalProjector)      |

Config fields: qkv_bias -> attention_bias, qk_normalization -> use_qk_norm, dropout ->
projection_dropout, initializer_factor -> layer_scale_init_value; use_mean_pooling is set
(the original tower has no final norm, and the native one then has none either).
What the native classes cannot express is refused (a mixture-of-experts tower, q/k norms
with another epsilon, the v1 pixel shuffle); stochastic depth (drop_path_rate) has no
native counterpart and is left out with a warning.

Three layouts are recognised by config.json's model_type: `internvl_vision` (a native
vision tower alone), `internvl` (a native InternVLForConditionalGeneration; vision under
`vision_tower.`, projector under `multi_modal_projector.`) and `internvl_chat` (original).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from fgsgl.errors import FgsglError

log = logging.getLogger("fgsgl.model")

NATIVE_VISION, NATIVE, ORIGINAL = "internvl_vision", "internvl", "internvl_chat"
LAYOUTS = (NATIVE_VISION, NATIVE, ORIGINAL)

# original vision-config field -> native InternVLVisionConfig field
CONFIG_FIELDS = {
    "hidden_size": "hidden_size",
    "intermediate_size": "intermediate_size",
    "num_hidden_layers": "num_hidden_layers",
    "num_attention_heads": "num_attention_heads",
    "num_channels": "num_channels",
    "image_size": "image_size",
    "patch_size": "patch_size",
    "hidden_act": "hidden_act",
    "layer_norm_eps": "layer_norm_eps",
    "norm_type": "norm_type",
    "qkv_bias": "attention_bias",
    "qk_normalization": "use_qk_norm",
    "attention_dropout": "attention_dropout",
    "dropout": "projection_dropout",
    "initializer_range": "initializer_range",
    "initializer_factor": "layer_scale_init_value",
}
# The original InternVisionConfig's defaults (InternViT-6B's), for fields a config leaves out.
ORIGINAL_DEFAULTS = {
    "num_channels": 3,
    "hidden_act": "gelu",
    "layer_norm_eps": 1e-6,
    "norm_type": "rms_norm",
    "qkv_bias": False,
    "qk_normalization": True,
    "attention_dropout": 0.0,
    "dropout": 0.0,
    "initializer_range": 0.02,
    "initializer_factor": 0.1,
}
SHAPE_FIELDS = (
    "hidden_size",
    "intermediate_size",
    "num_hidden_layers",
    "num_attention_heads",
    "image_size",
    "patch_size",
)
NATIVE_QK_NORM_EPS = 1e-6  # InternVLVisionRMSNorm's, not configurable

# Renames of the original vision weights, applied in order (qkv is split afterwards).
_RENAMES = (
    (r"^embeddings\.class_embedding$", "embeddings.cls_token"),
    (r"^embeddings\.patch_embedding\.", "embeddings.patch_embeddings.projection."),
    (r"^embeddings\.position_embedding$", "embeddings.position_embeddings"),
    (r"^encoder\.layers\.", "encoder.layer."),
    (r"\.attn\.proj\.", ".attention.projection_layer."),
    (r"\.attn\.", ".attention."),
    (r"\.norm1\.", ".layernorm_before."),
    (r"\.norm2\.", ".layernorm_after."),
    (r"\.ls(\d)$", r".lambda_\1"),
)
PROJECTOR_RENAMES = {"0": "layer_norm", "1": "linear_1", "3": "linear_2"}


@dataclass(frozen=True)
class ProjectorSpec:
    """InternVL's vision-to-language projector: where its weights are and its shape."""

    prefix: str  # of its weights in the checkpoint
    text_hidden: int  # the language model's width: what the projector maps into
    downsample_ratio: float
    act: str
    rename: Callable[[str], str]  # checkpoint name (prefix stripped) -> native name


@dataclass(frozen=True)
class Layout:
    """How to read the vision side of one InternVL checkpoint into the native classes."""

    kind: str  # one of LAYOUTS
    vision_config: Any  # transformers InternVLVisionConfig
    vision_prefixes: tuple[str, ...]  # of the vision weights, the first one found is used
    map_vision: Callable[[dict[str, Tensor]], dict[str, Tensor]]
    projector: ProjectorSpec | None
    notes: list[str] = field(default_factory=list)


def read_layout(config: dict[str, Any], name: str) -> Layout:
    """The layout of a checkpoint from its config.json; FgsglError for anything else."""
    from transformers import InternVLConfig, InternVLVisionConfig

    model_type = config.get("model_type")
    if model_type == NATIVE_VISION:
        vision = InternVLVisionConfig.from_dict(config)
        return Layout(NATIVE_VISION, vision, ("",), dict, None)
    if model_type == NATIVE:
        full = InternVLConfig.from_dict(config)
        projector = _native_projector(full)
        return Layout(
            NATIVE, full.vision_config, ("model.vision_tower.", "vision_tower."), dict, projector
        )
    if model_type == ORIGINAL:
        return _original_layout(config, name)
    raise FgsglError(
        f"backbone {name}: config.json has model_type {model_type!r}; expected one of "
        f"{', '.join(repr(k) for k in LAYOUTS)} (transformers' native InternVL, or an original "
        "OpenGVLab InternVL checkpoint)"
    )


def _native_projector(full: Any) -> ProjectorSpec | None:
    if full.vision_feature_layer != -1 or full.vision_feature_select_strategy != "default":
        return None  # the projector is fed from another layer; fgsgl reads the last one
    return ProjectorSpec(
        prefix="multi_modal_projector.",
        text_hidden=int(full.text_config.hidden_size),
        downsample_ratio=float(full.downsample_ratio),
        act=str(full.projector_hidden_act),
        rename=lambda key: key,
    )


def _original_layout(config: dict[str, Any], name: str) -> Layout:
    from transformers import InternVLVisionConfig

    raw = config.get("vision_config")
    if not isinstance(raw, dict):
        raise FgsglError(
            f"backbone {name}: config.json of an internvl_chat checkpoint has no vision_config"
        )
    values, notes = native_vision_values(raw, name)
    vision = InternVLVisionConfig(**values)
    projector = _original_projector(config, name, notes)
    return Layout(
        ORIGINAL,
        vision,
        ("vision_model.",),
        lambda weights: map_original_vision(weights, int(values["hidden_size"])),
        projector,
        notes,
    )


def native_vision_values(raw: dict[str, Any], name: str) -> tuple[dict[str, Any], list[str]]:
    """InternVLVisionConfig keyword arguments for an original vision_config, and notes on
    what was left out; FgsglError listing every field the native classes cannot express."""
    problems = [f"vision_config.{k} is missing" for k in SHAPE_FIELDS if k not in raw]
    merged = {**ORIGINAL_DEFAULTS, **raw}
    if merged.get("use_moe"):
        problems.append(
            "vision_config.use_moe is true: a mixture-of-experts InternViT has no native class"
        )
    if merged.get("norm_type") not in ("layer_norm", "rms_norm"):
        problems.append(
            f"vision_config.norm_type {merged.get('norm_type')!r} is not layer_norm or rms_norm"
        )
    eps = merged.get("layer_norm_eps")
    if merged.get("qk_normalization") and eps != NATIVE_QK_NORM_EPS:
        problems.append(
            f"vision_config.layer_norm_eps {eps!r} with qk_normalization: the native q/k norms "
            f"use {NATIVE_QK_NORM_EPS} (the features would differ)"
        )
    if problems:
        raise FgsglError(
            f"backbone {name}: its InternViT cannot be read into the native class", problems
        )
    values = {native: merged[orig] for orig, native in CONFIG_FIELDS.items()}
    values.update(
        use_mean_pooling=True, use_absolute_position_embeddings=True, use_mask_token=False
    )
    values["hidden_dropout_prob"] = 0.0  # the original has no dropout at those places
    notes = []
    if float(merged.get("drop_path_rate") or 0.0) > 0:
        notes.append(
            f"vision_config.drop_path_rate {merged['drop_path_rate']} left out: the native "
            "InternVLVisionModel has no stochastic depth"
        )
    return values, notes


def _original_projector(
    config: dict[str, Any], name: str, notes: list[str]
) -> ProjectorSpec | None:
    llm = config.get("llm_config") or {}
    hidden = llm.get("hidden_size")
    reasons = []
    if not isinstance(hidden, int):
        reasons.append("llm_config.hidden_size is missing")
    if config.get("select_layer", -1) != -1:
        reasons.append(f"select_layer is {config.get('select_layer')} (fgsgl reads the last layer)")
    if config.get("ps_version", "v2") != "v2":
        reasons.append(
            f"ps_version is {config.get('ps_version')!r} (the native pixel shuffle is v2)"
        )
    if reasons:
        notes.append("its projector mlp1 is not usable: " + "; ".join(reasons))
        return None

    def rename(key: str) -> str:
        index, _, rest = key.partition(".")
        if index not in PROJECTOR_RENAMES:
            return key  # reported as unexpected by the loader
        return f"{PROJECTOR_RENAMES[index]}.{rest}"

    return ProjectorSpec(
        prefix="mlp1.",
        text_hidden=int(hidden),
        downsample_ratio=float(config.get("downsample_ratio", 0.5)),
        act="gelu",  # mlp1 is LayerNorm, Linear, nn.GELU(), Linear
        rename=rename,
    )


def map_original_vision(weights: dict[str, Tensor], hidden_size: int) -> dict[str, Tensor]:
    """Original InternViT weights (prefix stripped) under native names; the fused qkv is
    split into q, k and v by rows (the original reshapes its output as (3, heads, dim))."""
    out: dict[str, Tensor] = {}
    for key, value in weights.items():
        new = key
        for pattern, replacement in _RENAMES:
            new = re.sub(pattern, replacement, new)
        if ".attention.qkv." in new:
            if value.shape[0] != 3 * hidden_size:
                out[new] = value  # the wrong shape: the loader names it
                continue
            for i, part in enumerate(("q_proj", "k_proj", "v_proj")):
                rows = value[i * hidden_size : (i + 1) * hidden_size]
                out[new.replace(".qkv.", f".{part}.")] = rows.contiguous()
        else:
            out[new] = value
    return out


class InternVLProjector(nn.Module):
    """InternVL's vision-to-language projector on the last layer's patch tokens: pixel
    shuffle of the token grid (2 x 2 neighbours into one token at ratio 0.5), then
    LayerNorm, Linear, activation, Linear into the language model's width."""

    def __init__(self, vision_hidden: int, spec: ProjectorSpec) -> None:
        super().__init__()
        from transformers.activations import ACT2FN

        factor = round(1 / spec.downsample_ratio)
        if abs(factor * spec.downsample_ratio - 1) > 1e-9:
            raise FgsglError(f"projector downsample ratio {spec.downsample_ratio} is not 1/k")
        self.factor = factor
        width = vision_hidden * factor * factor
        self.layer_norm = nn.LayerNorm(width)
        self.linear_1 = nn.Linear(width, spec.text_hidden)
        self.act = ACT2FN[spec.act]
        self.linear_2 = nn.Linear(spec.text_hidden, spec.text_hidden)
        self.out_features = spec.text_hidden

    def forward(self, patch_tokens: Tensor) -> Tensor:
        """(N, L, D) patch tokens of a square grid -> (N, L / k^2, text width)."""
        n, length, dim = patch_tokens.shape
        side, k = round(length**0.5), self.factor
        if side * side != length or side % k:
            raise ValueError(f"{length} patch tokens are not a square grid divisible by {k}")
        # InternVL's pixel_shuffle (version 2), written for a (N, side, side, D) grid
        x = patch_tokens.reshape(n, side, side // k, dim * k)
        x = x.permute(0, 2, 1, 3).reshape(n, side // k, side // k, dim * k * k)
        x = x.permute(0, 2, 1, 3).reshape(n, -1, dim * k * k)
        return self.linear_2(self.act(self.linear_1(self.layer_norm(x))))


def projector_weights(weights: dict[str, Tensor], spec: ProjectorSpec) -> dict[str, Tensor]:
    return {spec.rename(k): v for k, v in weights.items()}


def empty_vision_model(vision_config: Any) -> nn.Module:
    """A native InternVLVisionModel without weights (meta tensors), to be loaded."""
    from transformers import InternVLVisionModel

    with torch.device("meta"):
        return InternVLVisionModel(vision_config)
