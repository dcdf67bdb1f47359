"""Saving and loading a model's weights inside a model artifact (docs/artifacts.md):

    adapter/               PEFT LoRA adapter (save_pretrained), for pretrained backbones
    backbone.safetensors   the whole backbone, only when it is trained fully (tiny-clip)
    backbone_trained.safetensors
                           the pretrained weights trained fully beside LoRA (the ViT MLP
                           blocks, InternVL's projector: model.trainable_mlp), if any
    heads.safetensors      projection MLPs and classifier (keys without the "heads." prefix)

Loading rebuilds the model from its config (the pretrained base weights are read again from
`cfg.backbone`) and then puts back exactly these files, refusing any that do not match.
Works for every family whose model has `.backbone` (a Backbone) and `.heads` (a module).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from torch import Tensor, nn

from fgsgl.errors import FgsglError
from fgsgl.model.hf_files import state_problems

ADAPTER_DIR = "adapter"
BACKBONE_FILE = "backbone.safetensors"
TRAINED_BASE_FILE = "backbone_trained.safetensors"
HEADS_FILE = "heads.safetensors"


def save_model(model: nn.Module, directory: str | Path) -> list[str]:
    """Write the trained weights of `model` into `directory`; returns the names written."""
    from safetensors.torch import save_file

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    backbone = model.backbone
    written = []
    if backbone.trained_fully:
        save_file(_cpu_state(backbone.hf_model()), directory / BACKBONE_FILE)
        written.append(BACKBONE_FILE)
    else:
        backbone.model.save_pretrained(directory / ADAPTER_DIR)
        written.append(ADAPTER_DIR)
        trained = backbone.trained_base_state()
        if trained:
            state = {k: v.contiguous().cpu() for k, v in trained.items()}
            save_file(state, directory / TRAINED_BASE_FILE)
            written.append(TRAINED_BASE_FILE)
    save_file(_cpu_state(model.heads), directory / HEADS_FILE)
    written.append(HEADS_FILE)
    return written


def _cpu_state(module: nn.Module) -> dict[str, Tensor]:
    return {k: v.detach().contiguous().cpu() for k, v in module.state_dict().items()}


def load_model(
    directory: str | Path, cfg: Any, *, num_classes: int, text_dim: int, ctx: Any = None
) -> nn.Module:
    """Rebuild the model `cfg` describes and load its trained weights from `directory`
    (`ctx`: a fgsgl.model.backbones.BuildContext, e.g. a fetched weights artifact)."""
    from fgsgl.model.families import build_model

    directory = Path(directory)
    model = build_model(cfg, num_classes=num_classes, text_dim=text_dim, ctx=ctx)
    if model.backbone.trained_fully:
        _load_backbone(model.backbone, directory / BACKBONE_FILE)
    else:
        _load_adapter(model.backbone, directory / ADAPTER_DIR, cfg)
        _load_trained_base(model.backbone, directory / TRAINED_BASE_FILE)
    _load_safetensors_into(model.heads, directory / HEADS_FILE, "heads")
    model.eval()
    return model


def _load_backbone(backbone: Any, path: Path) -> None:
    _load_safetensors_into(backbone.hf_model(), path, f"backbone {backbone.name!r}")


def _load_trained_base(backbone: Any, path: Path) -> None:
    from safetensors.torch import load_file

    expected = backbone.trained_base_state()
    if not expected and not path.is_file():
        return
    if not path.is_file():
        raise FgsglError(
            f"{path}: missing (the backbone weights trained beside LoRA, "
            f"trainable_mlp {backbone.trainable_mlp!r})"
        )
    backbone.load_trained_base_state(load_file(path), str(path))


def _load_safetensors_into(module: nn.Module, path: Path, what: str) -> None:
    from safetensors.torch import load_file

    if not path.is_file():
        raise FgsglError(f"{path}: missing (the {what} weights of the model artifact)")
    state = load_file(path)
    problems = state_problems(module.state_dict(), state, limit=20)
    if problems:
        raise FgsglError(f"{path}: does not fit the model built from the config", problems)
    module.load_state_dict(state, strict=True)


def _load_adapter(backbone: Any, adapter_dir: Path, cfg: Any) -> None:
    from peft import get_peft_model_state_dict, set_peft_model_state_dict
    from peft.utils import load_peft_weights

    config_path = adapter_dir / "adapter_config.json"
    if not config_path.is_file():
        raise FgsglError(f"{config_path}: missing (the LoRA adapter of the model artifact)")
    saved = json.loads(config_path.read_text())
    want = {"r": cfg.lora_rank, "lora_alpha": cfg.lora_alpha}
    problems = [
        f"{key}: {saved.get(key)!r} in the adapter, {value!r} in the config"
        for key, value in want.items()
        if saved.get(key) != value
    ]
    if sorted(saved.get("target_modules") or []) != sorted(backbone.lora_targets):
        problems.append(
            f"target_modules: {saved.get('target_modules')!r} in the adapter, "
            f"{list(backbone.lora_targets)!r} for backbone {backbone.name!r}"
        )
    if problems:
        raise FgsglError(f"{adapter_dir}: adapter does not match the config", problems)
    weights = load_peft_weights(str(adapter_dir), device="cpu")
    expected = get_peft_model_state_dict(backbone.model)
    missing, unexpected = sorted(set(expected) - set(weights)), sorted(set(weights) - set(expected))
    if missing or unexpected:
        raise FgsglError(
            f"{adapter_dir}: adapter weights do not fit backbone {backbone.name!r}",
            [f"missing: {k}" for k in missing[:20]] + [f"unexpected: {k}" for k in unexpected[:20]],
        )
    set_peft_model_state_dict(backbone.model, weights)
