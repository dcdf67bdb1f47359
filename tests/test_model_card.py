"""The model artifact as a whole for a LoRA backbone: config.json lists the adapter, the
model card replaces peft's blank template, and the artifact loads with one call."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from train_fixtures import CLASS_NAMES, make_artifacts, tiny_clip_backbone

import fgsgl
from fgsgl.model import FGSGLModel
from fgsgl.train import train
from fgsgl.train.data import ClipTransform
from fgsgl.video.frames import FramesArtifact

PEFT_TEMPLATE = ("Model Card for Model ID", "[More Information Needed]")


@pytest.fixture(scope="module")
def lora_model(tmp_path_factory):
    root = tmp_path_factory.mktemp("card")
    frames, texts = make_artifacts(root, per_class={"train": 2, "val": 1, "test": 1})
    overrides = {
        "model.backbone": tiny_clip_backbone(root / "clip32"),
        "model.proj_hidden": 32,
        "stage1.epochs": 1,
        "optim.batch_size": 4,
        "data.workers": 0,
    }
    train(str(frames), str(texts), str(root / "model"), stage=1, overrides=overrides)
    return root


def test_peft_template_is_replaced_by_the_model_card(lora_model) -> None:
    model = lora_model / "model"
    adapter_card = (model / "adapter" / "README.md").read_text()
    card = (model / "README.md").read_text()
    for text in PEFT_TEMPLATE:
        assert text not in adapter_card and text not in card
    assert "../README.md" in adapter_card and "fgsgl.load_model" in adapter_card
    assert "fingerprint `aaaaaaaaaaaaaaaa`" in card  # the fixture's dataset
    assert "variant `full`" in card and "stage 1 of the ML-CO curriculum" in card
    assert "frozen; LoRA rank 8 (alpha 16) on attention; MLP trainable: `heads`" in card
    assert "Best validation top-1: **" in card and "| epoch | loss | val top-1 |" in card
    assert "Source of each clip's T_fg" in card and "`random-test` (frozen, dim 16)" in card
    assert ", ".join(f"{i} {n}" for i, n in enumerate(CLASS_NAMES)) in card
    assert "## Intended use and limits" in card


def test_config_json_lists_the_adapter_and_rebuilds_the_model(lora_model) -> None:
    model_dir = lora_model / "model"
    config = json.loads((model_dir / "config.json").read_text())
    assert sorted(config["files"]) == [
        "adapter/adapter_config.json",
        "adapter/adapter_model.safetensors",
        "heads.safetensors",
    ]
    assert config["backbone"]["name"].startswith("clip:")
    assert config["model"]["lora_rank"] == 8 and config["text_dim"] == 16
    assert config["preprocessing"]["frames"] == 4 and config["preprocessing"]["size"] == 32
    model = FGSGLModel.from_pretrained(model_dir)
    again = fgsgl.load_model(model_dir, device="cpu")
    art = FramesArtifact.open(lora_model / "frames")
    transform = ClipTransform(model.image_size, model.image_mean, model.image_std)
    pixels = torch.stack([transform(art.array(i)) for i in range(4)])
    with torch.no_grad():
        a, b = model(pixels).logits.numpy(), again(pixels).logits.numpy()
    np.testing.assert_array_equal(a, b)
    # the LoRA weights came back: a fresh adapter (B = 0) would not match the trained one
    lora_b = [p for n, p in model.named_parameters() if "lora_B" in n]
    assert lora_b and any(p.abs().sum() > 0 for p in lora_b)
