"""Pretrained backbones by name, from tiny real checkpoints saved to temp folders: CLIP and
InternVL (native vision tower, and the vision tower inside a whole sharded InternVL), LoRA
on their attention projections, and gradients that reach exactly LoRA + heads."""

from __future__ import annotations

import json
import logging

import pytest
import torch
from tiny_checkpoints import VISION, clip_full, internvl_full, internvl_vision

from fgsgl.errors import FgsglError
from fgsgl.model import ModelConfig, build_model
from fgsgl.model.backbones import CLIP_MEAN, IMAGENET_MEAN
from fgsgl.model.lora import parameter_counts

C, D, R = 3, 8, 4  # classes, text dim, LoRA rank
MEAN = [0.5, 0.25, 0.125]


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    root = tmp_path_factory.mktemp("checkpoints")
    return {
        "clip": clip_full(root / "clip", preprocessor={"image_mean": MEAN, "image_std": MEAN}),
        "internvl_vision": internvl_vision(root / "internvl_vision"),
        "internvl_full": internvl_full(root / "internvl_full"),
    }


def build(backbone: str, **overrides):
    cfg = ModelConfig(backbone=backbone, lora_rank=R, proj_hidden=16, **overrides)
    torch.manual_seed(0)
    return build_model(cfg, num_classes=C, text_dim=D)


def pixels(b: int = 2, t: int = 2) -> torch.Tensor:
    return torch.randn(b, t, 3, 32, 32, generator=torch.Generator().manual_seed(7))


@pytest.mark.parametrize("name", ["clip", "internvl_vision", "internvl_full"])
def test_pretrained_weights_are_loaded_unchanged(checkpoints, name):
    from safetensors import safe_open

    kind = "clip" if name == "clip" else "internvl"
    model = build(f"{kind}:{checkpoints[name]}")
    hf = model.backbone.hf_model()
    weights = {}
    for shard in sorted(checkpoints[name].glob("*.safetensors")):
        with safe_open(shard, "pt") as f:
            for key in f.keys():  # noqa: SIM118
                weights[key] = f.get_tensor(key)
    prefix = {"clip": "vision_model.", "internvl_vision": "", "internvl_full": "vision_tower."}
    # every base weight of the tower equals the file's (LoRA wraps them as base_layer)
    for key, value in hf.state_dict().items():
        if "lora_" in key:
            continue
        file_key = prefix[name] + key.replace(".base_layer", "")
        assert torch.equal(value, weights[file_key]), key
    assert model.image_size == 32


def test_clip_features_are_its_pooler_and_the_mid_layer(checkpoints):
    model = build(f"clip:{checkpoints['clip']}", mid_layer=1).eval()
    images = pixels().flatten(0, 1)
    with torch.no_grad():
        f_mid, f_high = model.backbone(images)
        ref = model.backbone.hf_model()(pixel_values=images, output_hidden_states=True)
    assert torch.allclose(f_mid, ref.hidden_states[1][:, 1:].mean(1), atol=1e-6)
    assert torch.allclose(f_high, ref.pooler_output, atol=1e-6)


@pytest.mark.parametrize("name", ["internvl_vision", "internvl_full"])
def test_internvl_features_are_patch_means(checkpoints, name):
    """Without InternVL's projector in the model (trainable_mlp heads), f_high is the
    tower's own mean of patch tokens (tests/test_internvl_layouts.py: with it)."""
    model = build(f"internvl:{checkpoints[name]}", trainable_mlp="heads").eval()
    images = pixels().flatten(0, 1)
    with torch.no_grad():
        f_mid, f_high = model.backbone(images)
        ref = model.backbone.hf_model()(pixel_values=images, output_hidden_states=True)
    assert model.backbone.mid_layer == 2
    assert torch.allclose(f_mid, ref.hidden_states[2][:, 1:].mean(1), atol=1e-6)
    assert torch.allclose(f_high, ref.last_hidden_state[:, 1:].mean(1), atol=1e-6)


def test_normalisation_comes_from_the_checkpoint_or_the_family_default(checkpoints):
    assert build(f"clip:{checkpoints['clip']}").image_mean == tuple(MEAN)
    assert build(f"internvl:{checkpoints['internvl_vision']}").image_mean == IMAGENET_MEAN
    assert build("tiny-clip").image_mean == CLIP_MEAN


@pytest.mark.parametrize(
    ("name", "targets"),
    [
        ("clip", {"q_proj", "k_proj", "v_proj", "out_proj"}),
        ("internvl_full", {"q_proj", "k_proj", "v_proj", "projection_layer"}),
    ],
)
def test_lora_on_attention_projections_only_and_the_count_is_logged(
    checkpoints, name, targets, caplog
):
    kind = "clip" if name == "clip" else "internvl"
    with caplog.at_level(logging.INFO, logger="fgsgl.model"):
        model = build(f"{kind}:{checkpoints[name]}", trainable_mlp="heads")
    lora = [n for n, p in model.named_parameters() if p.requires_grad and "lora_" in n]
    wrapped = {n.split(".lora_")[0].rsplit(".", 1)[1] for n in lora}
    assert wrapped == targets
    h, layers = VISION["hidden_size"], VISION["num_hidden_layers"]
    lora_params = layers * len(targets) * R * (h + h)  # A (R x h) + B (h x R), all square
    head_params = sum(p.numel() for p in model.heads.parameters())
    trainable, total = parameter_counts(model)
    assert trainable == lora_params + head_params
    assert f"trainable {trainable:,} / total {total:,}" in caplog.text
    assert all(("lora_" in n) != n.startswith("heads.") for n, p in model.named_parameters()
               if p.requires_grad)  # fmt: skip


@pytest.mark.parametrize("name", ["clip", "internvl_full"])
@pytest.mark.parametrize("checkpointing", [False, True])
def test_optimiser_steps_change_lora_and_heads_and_leave_the_backbone_bit_identical(
    checkpoints, name, checkpointing
):
    kind = "clip" if name == "clip" else "internvl"
    model = build(f"{kind}:{checkpoints[name]}", gradient_checkpointing=checkpointing).train()
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(trainable, lr=1e-2, weight_decay=0.05)
    for _ in range(2):  # LoRA B starts at 0, so A gets a gradient from the second step on
        optimiser.zero_grad()
        out = model(pixels())
        (
            out.logits.square().mean() + out.z_high.square().mean() + out.z_mid.square().mean()
        ).backward()
        optimiser.step()
    for n, p in model.named_parameters():
        if p.requires_grad:
            assert p.grad is not None and not torch.equal(p, before[n]), f"{n} did not train"
        else:
            assert p.grad is None, f"{n} is frozen but got a gradient"
            assert torch.equal(p, before[n]), f"frozen {n} changed"


def test_unusable_checkpoints_are_refused_clearly(tmp_path, checkpoints):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(FgsglError, match="model_type 'bert'"):
        build(f"internvl:{tmp_path}")
    with pytest.raises(FgsglError, match="no such model folder"):
        build(f"internvl:{tmp_path / 'missing'}")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FgsglError, match=r"no config\.json"):
        build(f"internvl:{tmp_path / 'empty'}")
    with pytest.raises(FgsglError, match="no such model folder"):
        build(f"clip:{tmp_path / 'missing'}")
    with pytest.raises(FgsglError, match="model_type 'bert'; expected 'clip'"):
        build(f"clip:{tmp_path}")
    # a CLIP checkpoint is not an InternVL one
    with pytest.raises(FgsglError, match="model_type 'clip'"):
        build(f"internvl:{checkpoints['clip']}")


def test_internvl_reads_only_the_shards_that_hold_the_vision_tower(checkpoints, tmp_path):
    import shutil

    folder = shutil.copytree(checkpoints["internvl_full"], tmp_path / "ckpt")
    weight_map = json.loads((folder / "model.safetensors.index.json").read_text())["weight_map"]
    vision_shards = {s for k, s in weight_map.items() if k.startswith("vision_tower.")}
    language_only = set(weight_map.values()) - vision_shards
    assert language_only  # the checkpoint is laid out so that this test means something
    for shard in language_only:
        (folder / shard).unlink()
    model = build(f"internvl:{folder}")
    reference = build(f"internvl:{checkpoints['internvl_full']}")
    assert (
        model.backbone.hf_model().state_dict().keys()
        == reference.backbone.hf_model().state_dict().keys()
    )
    for (name, a), b in zip(
        model.backbone.hf_model().state_dict().items(),
        reference.backbone.hf_model().state_dict().values(),
        strict=True,
    ):
        if "lora_" not in name:
            assert torch.equal(a, b), name
