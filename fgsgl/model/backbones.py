"""Vision backbones by name, one builder each (a registry, like peft's methods).

    tiny-clip[:SPEC]       random-init CLIP vision tower from a small config (tests, demo,
                           CPU runs); trained fully, since LoRA on random weights means
                           nothing. SPEC changes its shape: comma-separated key=value of
                           image (px), patch (px), width, layers, heads, e.g.
                           `tiny-clip:image=64,patch=8`; left-out keys keep TINY_CLIP's.
    clip:<path-or-id>      a Hugging Face CLIP vision tower (CLIPVisionModel); LoRA
    internvl:<path-or-id>  the InternVL vision tower (InternViT) in transformers' native
                           InternVLVisionModel; LoRA. Reads a native vision tower, the vision
                           side of a native InternVLForConditionalGeneration, or that of an
                           original OpenGVLab checkpoint (e.g. OpenGVLab/InternVL2_5-8B),
                           mapped onto the native classes (fgsgl.model.internvl): no code from
                           the checkpoint runs, and the language model is never loaded.

A hub id may be pinned, `internvl:ORG/NAME@REVISION` (fgsgl.hub); the files are read from a
local folder, the Hugging Face cache, or a fetched weights artifact (fgsgl.weights).

Every builder returns a `Backbone`: one interface over the towers. Its forward maps images
(N, 3, S, S) to (f_mid, f_high):
- f_mid: the mean over the patch tokens (CLS left out) of the output of transformer layer
  `mid_layer` (1-based; default the middle one). Patch tokens rather than the CLS token:
  at a middle layer the CLS token has not yet gathered the image (it is trained to summarise
  only at the last layer), while the patch mean keeps the local cues (which hand, which
  body part) that the fine-grained texts describe.
- f_high: the tower's own pooled output of the last layer: CLIP's post-layernorm CLS;
  InternViT's mean of patch tokens (its layernorm'd CLS if a native config says
  use_mean_pooling=false); with InternVL's projector in the model (`trainable_mlp`
  projector or all), the mean of the projector's tokens, i.e. of what InternVL hands its
  language model.
The middle layer is taken with a forward hook on that layer, not output_hidden_states, so
that inference does not hold every layer's activations at once.

"MLP layers fully trainable" (the paper: backbone frozen, LoRA rank 8 on the vision
encoder, MLP layers fully trainable) has several readings; `model.trainable_mlp` picks one:

    heads      the new heads only (projections into the text space, classifier)
    vit_mlp    also every ViT block's own MLP (fc1, fc2)
    projector  also InternVL's pretrained vision-to-language projector (mlp1), which then
               produces f_high; only for backbones that have one
    all        vit_mlp and projector
    auto       (default) projector where the backbone has one, else heads

Why auto = projector for InternVL: InternVL's own fine-tuning recipe (freeze_backbone with
use_backbone_lora, freeze_mlp False) calls the projector "the MLP" and trains it fully, and
the paper builds on InternVL2.5 with its backbone frozen, which the ViT-MLP reading would
contradict; a CLIP tower has no projector, so there it is the heads.
"""

from __future__ import annotations

import logging
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
    state_problems,
)
from fgsgl.registry import Registry

log = logging.getLogger("fgsgl.model")

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

# The readings of "MLP layers fully trainable" (module docstring), and what each trains
# beyond LoRA and the heads.
TRAINABLE_MLP = {
    "heads": (),
    "vit_mlp": ("vit_mlp",),
    "projector": ("projector",),
    "all": ("vit_mlp", "projector"),
}
AUTO = "auto"


@dataclass(frozen=True)
class BuildContext:
    """How to build, beyond the model config: where a fetched weights artifact is, and
    whether to read weights at all (False: the structure only, on the meta device, to
    count parameters)."""

    weights: str | None = None
    load_weights: bool = True
    uses_projector: bool = True  # the family's: may f_high come from InternVL's projector?


class Backbone(nn.Module):
    """A ViT vision tower behind one interface: images -> (f_mid, f_high).

    `model` is the Hugging Face module (a peft PeftModel around it once LoRA is applied);
    `projector`, where present, is InternVL's vision-to-language projector, which then
    produces f_high. Subclasses say where the transformer layers are, how the tower pools
    its last layer and which modules LoRA wraps.
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
        projector: nn.Module | None = None,
        provenance: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.model = model
        self.projector = projector
        self.name = name
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.image_size = image_size
        self.image_mean = tuple(float(v) for v in image_mean)
        self.image_std = tuple(float(v) for v in image_std)
        self.trained_fully = trained_fully
        self.provenance = provenance or {}
        self.has_lora = False  # set by fgsgl.model.lora.apply_lora
        self.trainable_mlp = "heads"  # set by set_trainable_mlp
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

    @property
    def high_size(self) -> int:
        """Width of f_high: the projector's output where it makes f_high."""
        return self.projector.out_features if self.projector is not None else self.hidden_size

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
        return mid[:, 1:].mean(dim=1), self._high(outputs)

    def _high(self, outputs: Any) -> Tensor:
        if self.projector is None:
            return self.pool_high(outputs)
        return self.projector(outputs.last_hidden_state[:, 1:]).mean(dim=1)

    def tokens(self, pixel_values: Tensor) -> tuple[Tensor, Tensor]:
        """(patch tokens of the last layer (N, L, hidden), f_high (N, hidden)): for heads
        that attend to the tokens themselves (CLIP-MG). The tokens are the last layer's
        output before any final norm; the attending head normalises them itself."""
        if self.projector is not None:
            raise FgsglError(f"backbone {self.name}: tokens() is for towers without a projector")
        outputs = self.model(pixel_values=pixel_values)
        return outputs.last_hidden_state[:, 1:], self.pool_high(outputs)

    def enable_gradient_checkpointing(self) -> None:
        """Recompute each layer's activations in backward: the paper's 8 frames at 448 px
        through B*T images otherwise hold every layer's activations. transformers' own
        (non-reentrant) checkpointing, which lets LoRA gradients through a frozen tower."""
        self.hf_model().activation_checkpointing_enable({"use_reentrant": False})

    def set_trainable_mlp(self, reading: str) -> None:
        """Make the parts `reading` names fully trainable (after LoRA froze the tower)."""
        parts = TRAINABLE_MLP[reading]
        if "vit_mlp" in parts:
            for layer in self.layers():
                layer.mlp.requires_grad_(True)
        if self.projector is not None:
            self.projector.requires_grad_("projector" in parts)
        self.trainable_mlp = reading

    def trained_base_state(self) -> dict[str, Tensor]:
        """The pretrained weights training changes beyond LoRA (ViT MLP blocks, projector):
        tower names as in the checkpoint's own model, the projector's under `projector.`."""
        out = {}
        for name, p in self.hf_model().named_parameters():
            if p.requires_grad and "lora_" not in name:
                out[name.replace(".base_layer", "")] = p.detach()
        if self.projector is not None:
            out.update(
                {
                    f"projector.{n}": p.detach()
                    for n, p in self.projector.named_parameters()
                    if p.requires_grad
                }
            )
        return out

    def load_trained_base_state(self, state: dict[str, Tensor], where: str) -> None:
        """Inverse of trained_base_state; FgsglError listing every name or shape that differs."""
        problems = state_problems(self.trained_base_state(), state, limit=20)
        if problems:
            raise FgsglError(f"{where}: does not fit backbone {self.name!r}", problems)
        tower = dict(self.hf_model().named_parameters())
        tower = {n.replace(".base_layer", ""): p for n, p in tower.items()}
        projector = dict(self.projector.named_parameters()) if self.projector is not None else {}
        with torch.no_grad():
            for key, value in state.items():
                target = (
                    projector[key.removeprefix("projector.")]
                    if key.startswith("projector.")
                    else tower[key]
                )
                target.copy_(value)

    def extra_repr(self) -> str:
        return (
            f"name={self.name!r}, mid_layer={self.mid_layer}, trained_fully={self.trained_fully}, "
            f"trainable_mlp={self.trainable_mlp!r}"
        )


class ClipBackbone(Backbone):
    kind = "clip"
    lora_targets = ("q_proj", "k_proj", "v_proj", "out_proj")

    def layers(self) -> nn.ModuleList:
        return self.hf_model().encoder.layers

    def pool_high(self, outputs: Any) -> Tensor:
        return outputs.pooler_output  # post_layernorm(CLS)


class InternVLBackbone(Backbone):
    """transformers' native InternVLVisionModel (from any of the layouts it is read from)."""

    kind = "internvl"
    lora_targets = ("q_proj", "k_proj", "v_proj", "projection_layer")

    def layers(self) -> nn.ModuleList:
        return self.hf_model().encoder.layer

    def pool_high(self, outputs: Any) -> Tensor:
        last = outputs.last_hidden_state
        if self.hf_model().config.use_mean_pooling:
            return last[:, 1:].mean(dim=1)
        return last[:, 0]  # already through the tower's final layernorm


# --- the registry -------------------------------------------------------------------------


@dataclass(frozen=True)
class BackboneKind:
    """One registry entry: how a `kind[:source]` name is built."""

    name: str
    needs_source: bool
    build: Callable[[str | None, Any, BuildContext], Backbone]
    help: str
    # for a kind whose source is optional and not a checkpoint (tiny-clip's SPEC): why a
    # source is invalid, or None; kinds without it take no source at all
    check_source: Callable[[str], str | None] | None = None


KINDS: Registry[BackboneKind] = Registry("backbone")


def register_backbone(
    name: str,
    *,
    needs_source: bool,
    help: str,
    check_source: Callable[[str], str | None] | None = None,
):
    def add(build: Callable[[str | None, Any, BuildContext], Backbone]) -> Callable:
        KINDS.add(name, BackboneKind(name, needs_source, build, help, check_source), help=help)
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
        f"{v.name}:<path-or-id>[@REVISION]"
        if v.needs_source
        else (f"{v.name}[:SPEC]" if v.check_source else v.name)
        for v in (e.value for e in KINDS.entries())
    )
    if not isinstance(name, str) or not name:
        return f"{name!r} is not a backbone name (valid: {valid})"
    kind, sep, source = name.partition(":")
    if kind not in KINDS:
        return f"unknown backbone {name!r} (valid: {valid})"
    if KINDS.get(kind).needs_source and not source:
        return f"backbone {kind!r} needs a checkpoint: {kind}:<path-or-id>"
    if not KINDS.get(kind).needs_source and sep:
        check = KINDS.get(kind).check_source
        if check is None:
            return f"backbone {kind!r} takes no checkpoint (got {name!r})"
        problem = check(source)
        return f"backbone {name!r}: {problem}" if problem else None
    return None


def build_backbone(cfg: Any, ctx: BuildContext | None = None) -> Backbone:
    """The backbone `cfg.backbone` names, with its middle layer set, gradient checkpointing
    if asked, LoRA (backbone frozen) unless the backbone is trained fully, and the parts
    of `cfg.trainable_mlp` made trainable."""
    from fgsgl.model.lora import apply_lora

    ctx = ctx or BuildContext()
    kind, source = parse_backbone(cfg.backbone)
    backbone = KINDS.get(kind).build(source, cfg, ctx)
    backbone.set_mid_layer(cfg.mid_layer)
    reading = resolve_trainable_mlp(cfg, has_projector=backbone.projector is not None)
    if cfg.gradient_checkpointing:
        backbone.enable_gradient_checkpointing()
    if backbone.trained_fully:
        backbone.trainable_mlp = "everything (trained from scratch)"
    else:
        apply_lora(backbone, rank=cfg.lora_rank, alpha=cfg.lora_alpha, dropout=cfg.lora_dropout)
        backbone.set_trainable_mlp(reading)
    return backbone


def resolve_trainable_mlp(cfg: Any, *, has_projector: bool) -> str:
    """`cfg.trainable_mlp` with auto resolved; refuses a projector reading without one."""
    reading = cfg.trainable_mlp
    if reading == AUTO:
        return "projector" if has_projector else "heads"
    if "projector" in TRAINABLE_MLP[reading] and not has_projector:
        raise FgsglError(
            f"model.trainable_mlp={reading}: backbone {cfg.backbone} has no usable "
            "vision-to-language projector (only InternVL checkpoints with their projector "
            "have one, and not for family clip_mg); use heads or vit_mlp"
        )
    return reading


def wants_projector(cfg: Any, ctx: BuildContext) -> bool:
    """Whether the builder should load the checkpoint's projector, if it has one."""
    if not ctx.uses_projector:
        return False
    return cfg.trainable_mlp == AUTO or "projector" in TRAINABLE_MLP.get(cfg.trainable_mlp, ())


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
def build_tiny_clip(source: str | None, cfg: Any, ctx: BuildContext) -> Backbone:
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


def _snapshot(source: str, ctx: BuildContext) -> Any:
    from fgsgl.weights import resolve_checkpoint

    return resolve_checkpoint(source, "vision", ctx.weights)


def _provenance(snapshot: Any, files: list[str], ctx: BuildContext) -> dict[str, Any]:
    """Where the backbone's weights came from, and a hash of the files read."""
    out = snapshot.provenance()
    if ctx.load_weights:
        from fgsgl.hashing import weights_revision

        out["weights_sha256"] = weights_revision([snapshot.folder / f for f in files])[0]
    return out


@register_backbone("clip", needs_source=True, help="a Hugging Face CLIP vision tower; LoRA")
def build_clip(source: str | None, cfg: Any, ctx: BuildContext) -> Backbone:
    from transformers import CLIPVisionConfig, CLIPVisionModel

    assert source is not None
    name = f"clip:{source}"
    snapshot = _snapshot(source, ctx)
    folder = snapshot.folder
    config_json = read_config(folder, name)
    if config_json.get("model_type") not in ("clip", "clip_vision_model"):
        raise FgsglError(
            f"backbone {name}: config.json has model_type {config_json.get('model_type')!r}; "
            "expected 'clip' or 'clip_vision_model'"
        )
    config = CLIPVisionConfig.from_pretrained(folder)
    files: list[str] = []
    if ctx.load_weights:  # a whole CLIPModel's vision side, or a CLIPVisionModel
        try:
            model = CLIPVisionModel.from_pretrained(folder, use_safetensors=True)
        except (OSError, ValueError) as e:
            raise FgsglError(f"backbone {name}: cannot load a CLIP vision tower ({e})") from e
        files = sorted(p.name for p in folder.glob("*.safetensors"))
    else:
        with torch.device("meta"):
            model = CLIPVisionModel(config)
    mean, std = normalisation(folder, CLIP_MEAN, CLIP_STD)
    return ClipBackbone(
        model,
        name=name,
        hidden_size=config.hidden_size,
        num_layers=config.num_hidden_layers,
        image_size=square_size(config.image_size, name),
        image_mean=mean,
        image_std=std,
        trained_fully=False,
        provenance=_provenance(snapshot, files, ctx),
    )


@register_backbone("internvl", needs_source=True, help="the InternVL vision tower; LoRA")
def build_internvl(source: str | None, cfg: Any, ctx: BuildContext) -> Backbone:
    from fgsgl.model import internvl

    assert source is not None
    name = f"internvl:{source}"
    snapshot = _snapshot(source, ctx)
    folder = snapshot.folder
    layout = internvl.read_layout(read_config(folder, name), name)
    for note in layout.notes:
        log.warning("backbone %s: %s", name, note)
    model = internvl.empty_vision_model(layout.vision_config)
    projector = None
    spec = layout.projector if wants_projector(cfg, ctx) else None
    if spec is not None:
        with torch.device("meta"):
            projector = internvl.InternVLProjector(layout.vision_config.hidden_size, spec)
    files: list[str] = []
    if ctx.load_weights:
        raw, files = read_prefixed_weights(folder, layout.vision_prefixes, name)
        load_all(model, layout.map_vision(raw), name)
        if projector is not None:
            found, more = read_prefixed_weights(folder, (spec.prefix,), name, required=False)
            load_all(projector, internvl.projector_weights(found, spec), f"{name} (projector)")
            files = sorted({*files, *more})
    config = layout.vision_config
    mean, std = normalisation(folder, IMAGENET_MEAN, IMAGENET_STD)
    return InternVLBackbone(
        model,
        name=name,
        hidden_size=config.hidden_size,
        num_layers=config.num_hidden_layers,
        image_size=square_size(config.image_size, name),
        image_mean=mean,
        image_std=std,
        trained_fully=False,
        projector=projector,
        provenance={**_provenance(snapshot, files, ctx), "layout": layout.kind},
    )
