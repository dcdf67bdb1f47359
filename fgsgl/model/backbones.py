"""Vision backbones by name, one builder each (a registry, like peft's methods).

    tiny-clip[:SPEC]       random-init CLIP vision tower from a small config (tests, demo,
                           CPU runs); trained fully, since LoRA on random weights means
                           nothing. SPEC changes its shape: comma-separated key=value of
                           image (px), patch (px), width, layers, heads, e.g.
                           `tiny-clip:image=64,patch=8`; left-out keys keep TINY_CLIP's.
    clip:<path-or-id>      a Hugging Face CLIP vision tower (CLIPVisionModel); LoRA
    internvl:<path-or-id>  the InternVL vision tower (InternViT); LoRA. Reads a native
                           `InternVLVisionModel` checkpoint, or only the vision weights of a
                           native `InternVLForConditionalGeneration` one (the language model is
                           never loaded), or, with trust_remote_code, an original
                           OpenGVLab remote-code checkpoint (e.g. OpenGVLab/InternVL2_5-8B).

Every builder returns a `Backbone`: one interface over the three towers. Its forward maps
images (N, 3, S, S) to (f_mid, f_high), both (N, hidden):
- f_mid: the mean over the patch tokens (CLS left out) of the output of transformer layer
  `mid_layer` (1-based; default the middle one). Patch tokens rather than the CLS token:
  at a middle layer the CLS token has not yet gathered the image (it is trained to summarise
  only at the last layer), while the patch mean keeps the local cues (which hand, which
  body part) that the fine-grained texts describe.
- f_high: the tower's own pooled output of the last layer: CLIP's post-layernorm CLS;
  InternViT's mean of patch tokens (its layernorm'd CLS if a native config says
  use_mean_pooling=false).
The middle layer is taken with a forward hook on that layer, not output_hidden_states, so
that inference does not hold every layer's activations at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from fgsgl.errors import FgsglError
from fgsgl.model.hf_files import (
    load_all,
    normalisation,
    read_config,
    read_prefixed_weights,
    square_size,
)

# Normalisation constants (the values transformers' image processors use).
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# The tiny random-init tower: small enough for CPU tests and the demo. A `tiny-clip:SPEC`
# name changes these by its short keys (the MLP stays 4 x width, as in CLIP).
TINY_CLIP = dict(
    hidden_size=128,
    intermediate_size=512,
    num_hidden_layers=4,
    num_attention_heads=4,
    image_size=112,
    patch_size=16,
)
TINY_SPEC_KEYS = {
    "image": "image_size",
    "patch": "patch_size",
    "width": "hidden_size",
    "layers": "num_hidden_layers",
    "heads": "num_attention_heads",
}


class Backbone(nn.Module):
    """A ViT vision tower behind one interface: images -> (f_mid, f_high).

    `model` is the Hugging Face module (a peft PeftModel around it once LoRA is applied).
    Subclasses say where the transformer layers are, how to call the tower, and how it pools
    its last layer.
    """

    kind: str = ""
    lora_targets: tuple[str, ...] = ()

    def __init__(
        self,
        model: nn.Module,
        *,
        name: str,
        hidden_size: int,
        num_layers: int,
        image_size: int,
        image_mean: tuple[float, float, float],
        image_std: tuple[float, float, float],
        trained_fully: bool,
    ) -> None:
        super().__init__()
        self.model = model
        self.name = name
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.image_size = image_size
        self.image_mean = tuple(float(v) for v in image_mean)
        self.image_std = tuple(float(v) for v in image_std)
        self.trained_fully = trained_fully
        self.has_lora = False  # set by fgsgl.model.lora.apply_lora
        self._hook: Any = None
        self._capturing = False
        self._captured: Tensor | None = None
        self.set_mid_layer(None)

    # --- what each tower differs in -----------------------------------------------------
    def hf_model(self) -> nn.Module:
        """The Hugging Face tower itself, under any peft wrapper."""
        return self.model.get_base_model() if self.has_lora else self.model

    def layers(self) -> nn.ModuleList:
        raise NotImplementedError

    def pool_high(self, outputs: Any) -> Tensor:
        raise NotImplementedError

    # --- shared behaviour ---------------------------------------------------------------
    def set_mid_layer(self, layer: int | None) -> None:
        """Take f_mid from the output of transformer layer `layer` (1-based; None = middle)."""
        if layer is None:
            layer = max(1, self.num_layers // 2)
        if not 1 <= layer <= self.num_layers:
            raise FgsglError(
                f"model.mid_layer: {layer} is out of range for backbone {self.name!r} "
                f"(layers 1..{self.num_layers}; null = the middle, {self.num_layers // 2})"
            )
        if self._hook is not None:
            self._hook.remove()
        self.mid_layer = layer
        self._hook = self.layers()[layer - 1].register_forward_hook(self._capture)

    def _capture(self, module: nn.Module, args: Any, output: Any) -> None:
        # Only during our own forward: gradient checkpointing re-runs layers in backward.
        if self._capturing:
            self._captured = output[0] if isinstance(output, tuple | list) else output

    def forward(self, pixel_values: Tensor) -> tuple[Tensor, Tensor]:
        self._capturing, self._captured = True, None
        try:
            outputs = self.model(pixel_values=pixel_values)
        finally:
            self._capturing = False
        mid, self._captured = self._captured, None
        if mid is None:
            raise RuntimeError(f"layer {self.mid_layer} of {self.name!r} did not run")
        return mid[:, 1:].mean(dim=1), self.pool_high(outputs)

    def tokens(self, pixel_values: Tensor) -> tuple[Tensor, Tensor]:
        """(patch tokens of the last layer (N, L, hidden), f_high (N, hidden)): for heads
        that attend to the tokens themselves (CLIP-MG). The tokens are the last layer's
        output before any final norm; the attending head normalises them itself."""
        outputs = self.model(pixel_values=pixel_values)
        return outputs.last_hidden_state[:, 1:], self.pool_high(outputs)

    def enable_gradient_checkpointing(self) -> None:
        """Recompute each layer's activations in backward: the paper's 8 frames at 448 px
        through B*T images otherwise hold every layer's activations."""
        self.hf_model().activation_checkpointing_enable({"use_reentrant": False})

    def extra_repr(self) -> str:
        return f"name={self.name!r}, mid_layer={self.mid_layer}, trained_fully={self.trained_fully}"


class ClipBackbone(Backbone):
    kind = "clip"
    lora_targets = ("q_proj", "k_proj", "v_proj", "out_proj")

    def layers(self) -> nn.ModuleList:
        return self.hf_model().encoder.layers

    def pool_high(self, outputs: Any) -> Tensor:
        return outputs.pooler_output  # post_layernorm(CLS)


class InternVLBackbone(Backbone):
    """transformers' native InternVLVisionModel."""

    kind = "internvl"
    lora_targets = ("q_proj", "k_proj", "v_proj", "projection_layer")

    def layers(self) -> nn.ModuleList:
        return self.hf_model().encoder.layer

    def pool_high(self, outputs: Any) -> Tensor:
        last = outputs.last_hidden_state
        if self.hf_model().config.use_mean_pooling:
            return last[:, 1:].mean(dim=1)
        return last[:, 0]  # already through the tower's final layernorm


class InternViTRemoteBackbone(Backbone):
    """OpenGVLab's original InternVisionModel (remote code; only with trust_remote_code)."""

    kind = "internvl"
    lora_targets = ("attn.qkv", "attn.proj")

    def layers(self) -> nn.ModuleList:
        return self.hf_model().encoder.layers

    def pool_high(self, outputs: Any) -> Tensor:
        # The original tower has no final norm; InternVL itself uses the patch tokens.
        return outputs.last_hidden_state[:, 1:].mean(dim=1)

    def enable_gradient_checkpointing(self) -> None:
        # The original encoder calls torch's reentrant checkpoint, which drops the LoRA
        # gradients of a frozen tower; the native classes do it right.
        raise FgsglError(
            f"backbone {self.name}: gradient checkpointing is not supported on the original "
            "remote-code InternViT; use a checkpoint in transformers' native InternVL format"
        )


# --- the registry -------------------------------------------------------------------------


@dataclass(frozen=True)
class BackboneKind:
    """One registry entry: how a `kind[:source]` name is built."""

    name: str
    needs_source: bool
    build: Callable[[str | None, Any], Backbone]
    help: str
    # for a kind whose source is optional and not a checkpoint (tiny-clip's SPEC): why a
    # source is invalid, or None; kinds without it take no source at all
    check_source: Callable[[str], str | None] | None = None


KINDS: dict[str, BackboneKind] = {}


def register_backbone(
    name: str,
    *,
    needs_source: bool,
    help: str,
    check_source: Callable[[str], str | None] | None = None,
):
    def add(build: Callable[[str | None, Any], Backbone]) -> Callable:
        KINDS[name] = BackboneKind(name, needs_source, build, help, check_source)
        return build

    return add


def parse_backbone(name: str) -> tuple[str, str | None]:
    """`clip:openai/clip-vit-base-patch16` -> ("clip", "openai/clip-vit-base-patch16")."""
    problem = backbone_problem(name)
    if problem:
        raise FgsglError(f"model.backbone: {problem}")
    kind, _, source = name.partition(":")
    return kind, (source or None)


def backbone_problem(name: object) -> str | None:
    """Why `name` is not a valid backbone name, or None."""
    valid = ", ".join(
        f"{k}:<path-or-id>" if v.needs_source else (f"{k}[:SPEC]" if v.check_source else k)
        for k, v in KINDS.items()
    )
    if not isinstance(name, str) or not name:
        return f"{name!r} is not a backbone name (valid: {valid})"
    kind, sep, source = name.partition(":")
    if kind not in KINDS:
        return f"unknown backbone {name!r} (valid: {valid})"
    if KINDS[kind].needs_source and not source:
        return f"backbone {kind!r} needs a checkpoint: {kind}:<path-or-id>"
    if not KINDS[kind].needs_source and sep:
        check = KINDS[kind].check_source
        if check is None:
            return f"backbone {kind!r} takes no checkpoint (got {name!r})"
        problem = check(source)
        return f"backbone {name!r}: {problem}" if problem else None
    return None


def build_backbone(cfg: Any) -> Backbone:
    """The backbone `cfg.backbone` names, with its middle layer set, gradient checkpointing
    if asked, and LoRA (backbone frozen) unless the backbone is trained fully."""
    from fgsgl.model.lora import apply_lora

    kind, source = parse_backbone(cfg.backbone)
    backbone = KINDS[kind].build(source, cfg)
    backbone.set_mid_layer(cfg.mid_layer)
    if cfg.gradient_checkpointing:
        backbone.enable_gradient_checkpointing()
    if not backbone.trained_fully:
        apply_lora(backbone, rank=cfg.lora_rank, alpha=cfg.lora_alpha, dropout=cfg.lora_dropout)
    return backbone


# --- builders -----------------------------------------------------------------------------


def tiny_clip_config(spec: str | None) -> dict[str, int]:
    """TINY_CLIP with the values of a `key=value,...` SPEC; FgsglError if SPEC is bad."""
    values = dict(TINY_CLIP)
    problems: list[str] = []
    seen: set[str] = set()
    for item in spec.split(",") if spec is not None else ():
        key, sep, raw = item.strip().partition("=")
        if not sep or key not in TINY_SPEC_KEYS:
            problems.append(
                f"{item.strip()!r} is not KEY=VALUE with KEY one of {', '.join(TINY_SPEC_KEYS)}"
            )
        elif key in seen:
            problems.append(f"{key} is given twice")
        elif not raw.isdigit() or int(raw) < 1:
            problems.append(f"{key}={raw!r} is not a positive integer")
        else:
            values[TINY_SPEC_KEYS[key]] = int(raw)
        seen.add(key)
    if problems:
        raise FgsglError("; ".join(problems))
    values["intermediate_size"] = 4 * values["hidden_size"]
    if values["image_size"] % values["patch_size"]:
        problems.append(
            f"image {values['image_size']} is not a multiple of patch {values['patch_size']}"
        )
    if values["hidden_size"] % values["num_attention_heads"]:
        problems.append(
            f"width {values['hidden_size']} is not a multiple of heads "
            f"{values['num_attention_heads']}"
        )
    if problems:
        raise FgsglError("; ".join(problems))
    return values


def _tiny_spec_problem(spec: str) -> str | None:
    try:
        tiny_clip_config(spec)
    except FgsglError as e:
        return str(e)
    return None


@register_backbone(
    "tiny-clip",
    needs_source=False,
    help="random-init tiny CLIP (tests, demo); tiny-clip:image=64,patch=8 changes its shape",
    check_source=_tiny_spec_problem,
)
def build_tiny_clip(source: str | None, cfg: Any) -> Backbone:
    from transformers import CLIPVisionConfig, CLIPVisionModel

    config = CLIPVisionConfig(**tiny_clip_config(source))
    model = CLIPVisionModel(config)
    return ClipBackbone(
        model,
        name="tiny-clip" + (f":{source}" if source else ""),
        hidden_size=config.hidden_size,
        num_layers=config.num_hidden_layers,
        image_size=config.image_size,
        image_mean=CLIP_MEAN,
        image_std=CLIP_STD,
        trained_fully=True,
    )


@register_backbone("clip", needs_source=True, help="a Hugging Face CLIP vision tower; LoRA")
def build_clip(source: str | None, cfg: Any) -> Backbone:
    from transformers import CLIPVisionModel

    assert source is not None
    try:
        model = CLIPVisionModel.from_pretrained(source, use_safetensors=True)
    except (OSError, ValueError) as e:
        raise FgsglError(f"backbone clip:{source}: cannot load a CLIP vision tower ({e})") from e
    config = model.config
    mean, std = normalisation(source, CLIP_MEAN, CLIP_STD)
    return ClipBackbone(
        model,
        name=f"clip:{source}",
        hidden_size=config.hidden_size,
        num_layers=config.num_hidden_layers,
        image_size=square_size(config.image_size, f"clip:{source}"),
        image_mean=mean,
        image_std=std,
        trained_fully=False,
    )


@register_backbone("internvl", needs_source=True, help="the InternVL vision tower; LoRA")
def build_internvl(source: str | None, cfg: Any) -> Backbone:
    from transformers import InternVLConfig, InternVLVisionModel

    assert source is not None
    name = f"internvl:{source}"
    model_type = read_config(source, name).get("model_type")
    mean, std = normalisation(source, IMAGENET_MEAN, IMAGENET_STD)
    if model_type == "internvl_vision":
        model = InternVLVisionModel.from_pretrained(source, use_safetensors=True)
    elif model_type == "internvl":
        vision_config = InternVLConfig.from_pretrained(source).vision_config
        with torch.device("meta"):
            model = InternVLVisionModel(vision_config)
        weights = read_prefixed_weights(source, ("model.vision_tower.", "vision_tower."), name)
        load_all(model, weights, name)
    elif model_type == "internvl_chat":
        return _build_internvit_remote(source, cfg, mean, std)
    else:
        raise FgsglError(
            f"backbone {name}: config.json has model_type {model_type!r}; expected "
            "'internvl_vision' or 'internvl' (transformers' native InternVL), or "
            "'internvl_chat' (OpenGVLab's remote code, with trust_remote_code)"
        )
    config = model.config
    return InternVLBackbone(
        model,
        name=name,
        hidden_size=config.hidden_size,
        num_layers=config.num_hidden_layers,
        image_size=square_size(config.image_size, name),
        image_mean=mean,
        image_std=std,
        trained_fully=False,
    )


def _build_internvit_remote(source: str, cfg: Any, mean: tuple, std: tuple) -> Backbone:
    name = f"internvl:{source}"
    if not cfg.trust_remote_code:
        raise FgsglError(
            f"backbone {name} is an original OpenGVLab checkpoint (model_type internvl_chat) "
            "whose model code comes with the checkpoint; running it needs "
            "model.trust_remote_code=true. Or use a checkpoint in transformers' native "
            "InternVL format (the '-hf' repositories)."
        )
    from transformers import AutoConfig
    from transformers.dynamic_module_utils import get_class_from_dynamic_module

    vision_config = AutoConfig.from_pretrained(source, trust_remote_code=True).vision_config
    model_class = get_class_from_dynamic_module("modeling_intern_vit.InternVisionModel", source)
    model = model_class(vision_config)
    load_all(model, read_prefixed_weights(source, ("vision_model.",), name), name)
    return InternViTRemoteBackbone(
        model,
        name=name,
        hidden_size=vision_config.hidden_size,
        num_layers=vision_config.num_hidden_layers,
        image_size=square_size(vision_config.image_size, name),
        image_mean=mean,
        image_std=std,
        trained_fully=False,
    )
