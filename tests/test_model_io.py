"""Saving and loading the model inside a model artifact: the files of docs/artifacts.md, the
same logits after a round trip, and clear errors for files that do not fit the config."""

from __future__ import annotations

import json

import pytest
import torch
from tiny_checkpoints import clip_full, internvl_full

from fgsgl.errors import FgsglError
from fgsgl.model import FGSGLModel, ModelConfig, build_model

C, D = 3, 8


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    root = tmp_path_factory.mktemp("checkpoints")
    return {"clip": clip_full(root / "clip"), "internvl": internvl_full(root / "internvl")}


def trained(cfg: ModelConfig, size: int) -> FGSGLModel:
    """A model after a few optimiser steps, so that LoRA B and the heads are not at init."""
    torch.manual_seed(0)
    model = build_model(cfg, num_classes=C, text_dim=D).train()
    optimiser = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    x = torch.randn(2, 2, 3, size, size, generator=torch.Generator().manual_seed(1))
    for _ in range(3):
        optimiser.zero_grad()
        out = model(x)
        (out.logits.sum() + out.z_high.square().sum() + out.z_mid.square().sum()).backward()
        optimiser.step()
    return model.eval()


def assert_round_trip(model: FGSGLModel, cfg: ModelConfig, directory, size: int) -> None:
    model.save(directory)
    loaded = FGSGLModel.load(directory, cfg, C, D)
    assert not loaded.training
    x = torch.randn(3, 2, 3, size, size, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        a, b = model(x), loaded(x)
    assert torch.equal(a.logits, b.logits)
    assert torch.equal(a.z_high, b.z_high) and torch.equal(a.z_mid, b.z_mid)


def test_tiny_clip_round_trip_saves_the_whole_backbone(tmp_path):
    cfg = ModelConfig(proj_hidden=16)
    assert_round_trip(trained(cfg, 112), cfg, tmp_path, 112)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "backbone.safetensors",
        "heads.safetensors",
    ]


def test_tiny_clip_of_another_shape_round_trips_and_refuses_the_default_shape(tmp_path):
    """The shape lives in the backbone name (tiny-clip:SPEC), which the saved config keeps:
    loading rebuilds that shape; the default tiny-clip does not fit its weights."""
    spec = "tiny-clip:image=32,patch=8,width=64,layers=2"
    cfg = ModelConfig(backbone=spec, subtract_clip_mean=True, proj_hidden=16)
    assert_round_trip(trained(cfg, 32), cfg, tmp_path, 32)
    with pytest.raises(FgsglError, match="does not fit the model built from the config"):
        FGSGLModel.load(tmp_path, ModelConfig(proj_hidden=16), C, D)


@pytest.mark.parametrize("kind", ["clip", "internvl"])
def test_lora_round_trip_saves_a_peft_adapter(tmp_path, checkpoints, kind):
    cfg = ModelConfig(backbone=f"{kind}:{checkpoints[kind]}", lora_rank=4, proj_hidden=16)
    assert_round_trip(trained(cfg, 32), cfg, tmp_path, 32)
    names = {p.name for p in tmp_path.iterdir()}
    assert {"adapter", "heads.safetensors"} <= names and "backbone.safetensors" not in names
    adapter = json.loads((tmp_path / "adapter" / "adapter_config.json").read_text())
    assert adapter["r"] == 4 and adapter["peft_type"] == "LORA"
    assert (tmp_path / "adapter" / "adapter_model.safetensors").is_file()


def test_trainable_state_dict_round_trip():
    cfg = ModelConfig(proj_hidden=16)
    model = trained(cfg, 112)
    state = {k: v.clone() for k, v in model.trainable_state_dict().items()}
    torch.manual_seed(9)
    fresh = build_model(cfg, num_classes=C, text_dim=D).eval()
    fresh.load_trainable_state_dict(state)
    x = torch.randn(1, 2, 3, 112, 112)
    with torch.no_grad():
        assert torch.equal(fresh(x).logits, model(x).logits)
    with pytest.raises(ValueError, match="missing"):
        fresh.load_trainable_state_dict({})


def test_loading_refuses_files_that_do_not_fit_the_config(tmp_path, checkpoints):
    cfg = ModelConfig(proj_hidden=16)
    build_model(cfg, num_classes=C, text_dim=D).save(tmp_path / "tiny")
    with pytest.raises(FgsglError, match="does not fit") as e:
        FGSGLModel.load(tmp_path / "tiny", cfg, C, D + 1)  # another text dimension
    assert "proj_high.net.3.weight: shape (8, 16) in the file, (9, 16) in the model" in str(e.value)
    with pytest.raises(FgsglError, match=r"adapter_config\.json: missing"):
        FGSGLModel.load(
            tmp_path / "tiny", ModelConfig(backbone=f"clip:{checkpoints['clip']}"), C, D
        )

    lora = ModelConfig(backbone=f"clip:{checkpoints['clip']}", lora_rank=4, proj_hidden=16)
    build_model(lora, num_classes=C, text_dim=D).save(tmp_path / "lora")
    other_rank = ModelConfig(backbone=lora.backbone, lora_rank=8, proj_hidden=16)
    with pytest.raises(FgsglError, match="adapter does not match") as e:
        FGSGLModel.load(tmp_path / "lora", other_rank, C, D)
    assert "r: 4 in the adapter, 8 in the config" in str(e.value)
    (tmp_path / "lora" / "heads.safetensors").unlink()
    with pytest.raises(FgsglError, match=r"heads\.safetensors: missing"):
        FGSGLModel.load(tmp_path / "lora", lora, C, D)
