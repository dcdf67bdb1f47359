"""The FG-SGL model on the tiny random-init CLIP backbone: shapes, the middle layer, temporal
pooling, gradients, gradient checkpointing, the config checks and the family registry."""

from __future__ import annotations

import logging

import pytest
import torch
from torch import nn

from fgsgl.errors import FgsglError
from fgsgl.model import (
    FAMILIES,
    FGSGLModel,
    ModelConfig,
    ModelOutput,
    ProjectionMLP,
    build_backbone,
    build_model,
    load_model,
    register_family,
    save_model,
)

C, D = 5, 24  # classes, text dim


def tiny(seed: int = 0, **overrides) -> FGSGLModel:
    torch.manual_seed(seed)
    return build_model(ModelConfig(proj_hidden=32, **overrides), num_classes=C, text_dim=D)


def frames(b: int, t: int, size: int = 112, seed: int = 0) -> torch.Tensor:
    return torch.randn(b, t, 3, size, size, generator=torch.Generator().manual_seed(seed))


def test_forward_shapes_and_normalisation_attributes():
    model = tiny()
    out = model(frames(2, 3))
    assert isinstance(out, ModelOutput)
    assert out.logits.shape == (2, C)
    assert out.z_high.shape == (2, D) and out.z_mid.shape == (2, D)
    assert model.image_size == 112
    assert model.image_mean == pytest.approx((0.48145466, 0.4578275, 0.40821073))
    assert model.image_std == pytest.approx((0.26862954, 0.26130258, 0.27577711))
    assert model.backbone.num_layers == 4 and model.backbone.mid_layer == 2  # the middle


@pytest.mark.parametrize("mid_layer", [1, 3, None])
def test_f_mid_is_the_patch_mean_of_the_chosen_layer(mid_layer):
    model = tiny(mid_layer=mid_layer).eval()
    images = frames(1, 3).reshape(3, 3, 112, 112)
    with torch.no_grad():
        f_mid, f_high = model.backbone(images)
        ref = model.backbone.hf_model()(pixel_values=images, output_hidden_states=True)
    k = mid_layer or 2
    assert torch.allclose(f_mid, ref.hidden_states[k][:, 1:].mean(dim=1), atol=1e-6)
    assert torch.allclose(f_high, ref.pooler_output, atol=1e-6)  # post-layernorm CLS
    other = 3 if k != 3 else 1
    assert not torch.allclose(f_mid, ref.hidden_states[other][:, 1:].mean(dim=1), atol=1e-3)


def test_frames_of_each_clip_are_pooled_over_time_and_kept_apart():
    model = tiny().eval()
    x = frames(2, 3)
    with torch.no_grad():
        out = model(x)
        for i in range(2):  # clip by clip, frame by frame
            f_mid, f_high = model.backbone(x[i])
            want_high = f_high.mean(dim=0, keepdim=True)
            want_mid = f_mid.mean(dim=0, keepdim=True)
            assert torch.allclose(out.logits[i], model.heads["classifier"](want_high)[0], atol=1e-5)
            assert torch.allclose(out.z_high[i], model.heads["proj_high"](want_high)[0], atol=1e-5)
            assert torch.allclose(out.z_mid[i], model.heads["proj_mid"](want_mid)[0], atol=1e-5)
        # mean over time: the order of the frames does not matter
        assert torch.allclose(model(x[:, [2, 0, 1]]).logits, out.logits, atol=1e-5)


def test_max_temporal_pool():
    model = tiny(temporal_pool="max").eval()
    x = frames(1, 3)
    with torch.no_grad():
        _, f_high = model.backbone(x[0])
        want = model.heads["classifier"](f_high.amax(dim=0, keepdim=True))
        assert torch.allclose(model(x).logits, want, atol=1e-5)


def test_tiny_clip_trains_every_parameter():
    model = tiny()
    assert all(p.requires_grad for p in model.parameters())
    out = model(frames(2, 2))
    (out.logits.sum() + out.z_high.sum() + out.z_mid.sum()).backward()
    no_grad = [n for n, p in model.named_parameters() if p.grad is None]
    assert no_grad == []
    assert set(model.trainable_state_dict()) == {n for n, _ in model.named_parameters()}


def test_gradient_checkpointing_gives_the_same_outputs_and_gradients():
    plain, ckpt = tiny(seed=5), tiny(seed=5, gradient_checkpointing=True)
    assert ckpt.backbone.hf_model().is_activation_checkpointing
    x = frames(2, 2)
    grads = []
    for model in (plain, ckpt):
        model.train()
        out = model(x)
        (out.logits.square().sum() + out.z_high.sum() + out.z_mid.square().sum()).backward()
        grads.append({n: p.grad for n, p in model.named_parameters()})
    assert grads[0].keys() == grads[1].keys()
    for name in grads[0]:
        assert torch.allclose(grads[0][name], grads[1][name], atol=1e-5), name


def test_parameter_summary_is_logged(caplog):
    with caplog.at_level(logging.INFO, logger="fgsgl.model"):
        model = tiny()
    total = sum(p.numel() for p in model.parameters())
    assert f"trainable {total:,} / total {total:,} (100.0000%)" in caplog.text


def test_bad_input_shape_and_size_are_refused():
    model = tiny()
    with pytest.raises(ValueError, match=r"\(B, T, 3, H, W\)"):
        model(torch.zeros(2, 3, 112, 112))
    with pytest.raises(ValueError, match="64x64 but backbone 'tiny-clip' takes 112x112"):
        model(torch.zeros(1, 2, 3, 64, 64))


def test_config_lists_every_problem_at_once():
    cfg = ModelConfig(
        backbone="resnet", temporal_pool="median", lora_rank=0, lora_dropout=1.5,
        family="nope", mid_layer=0,
    )  # fmt: skip
    with pytest.raises(FgsglError) as e:
        build_model(cfg, num_classes=C, text_dim=D)
    text = str(e.value)
    for field in ("backbone", "temporal_pool", "lora_rank", "lora_dropout", "family", "mid_layer"):
        assert f"model.{field}" in text
    assert (
        "tiny-clip[:SPEC], clip:<path-or-id>[@REVISION], internvl:<path-or-id>[@REVISION]" in text
    )
    assert ModelConfig().problems() == []


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("clip", "needs a checkpoint"),
        ("tiny-clip:x", "'x' is not KEY=VALUE with KEY one of image, patch, width, layers"),
        ("tiny-clip:image=60,patch=8", "image 60 is not a multiple of patch 8"),
        ("tiny-clip:width=96,heads=5", "width 96 is not a multiple of heads 5"),
        ("tiny-clip:layers=0", "layers='0' is not a positive integer"),
        ("tiny-clip:image=64,image=32", "image is given twice"),
        ("", "not a back"),
    ],
)
def test_backbone_names_are_checked(name, message):
    assert message in " ".join(ModelConfig(backbone=name).problems())


def test_tiny_clip_spec_sets_the_tower_shape():
    model = tiny(backbone="tiny-clip:image=32,patch=8,width=64,layers=2,heads=2")
    config = model.backbone.hf_model().config
    assert (config.image_size, config.patch_size, config.hidden_size) == (32, 8, 64)
    assert (config.num_hidden_layers, config.num_attention_heads) == (2, 2)
    assert config.intermediate_size == 256 and model.image_size == 32
    assert model.backbone.name == "tiny-clip:image=32,patch=8,width=64,layers=2,heads=2"
    assert model.backbone.mid_layer == 1
    assert model(frames(1, 2, size=32)).logits.shape == (1, C)
    plain = tiny().backbone.hf_model().config  # left-out keys keep the tiny defaults
    assert (plain.image_size, plain.patch_size, plain.hidden_size) == (112, 16, 128)


def test_subtract_clip_mean_feeds_only_what_moves():
    model, plain = tiny(subtract_clip_mean=True), tiny()
    model.eval(), plain.eval()
    x = frames(2, 3)
    still = frames(2, 1, seed=1)  # the same image added to every frame of a clip
    with torch.no_grad():
        assert torch.allclose(model(x).logits, model(x + still).logits, atol=1e-5)
        assert not torch.allclose(plain(x).logits, plain(x + still).logits, atol=1e-3)
    with pytest.raises(ValueError, match="2 or more frames"):
        model(frames(1, 1))
    assert "model.subtract_clip_mean" in " ".join(ModelConfig(subtract_clip_mean="yes").problems())


def test_mid_layer_out_of_range_names_the_valid_range():
    with pytest.raises(FgsglError, match=r"layers 1\.\.4"):
        tiny(mid_layer=5)


def test_from_dict_refuses_unknown_keys_and_lists_valid_ones():
    assert ModelConfig.from_dict({"backbone": "tiny-clip", "mid_layer": 3}).mid_layer == 3
    with pytest.raises(FgsglError) as e:
        ModelConfig.from_dict({"backbon": "x"})
    assert "model.backbon" in str(e.value) and "backbone" in str(e.value)


class LinearProbe(nn.Module):
    """A second family, built from the shared backbone and heads: what issue 9 plugs in."""

    def __init__(self, cfg, *, num_classes, text_dim, ctx=None):
        super().__init__()
        self.config = cfg
        self.backbone = build_backbone(cfg, ctx)
        self.heads = nn.ModuleDict(
            {"proj": ProjectionMLP(self.backbone.hidden_size, cfg.proj_hidden, num_classes)}
        )

    @classmethod
    def from_config(cls, cfg, *, num_classes, text_dim, ctx=None):
        return cls(cfg, num_classes=num_classes, text_dim=text_dim, ctx=ctx)

    def forward(self, pixel_values):
        b, t = pixel_values.shape[:2]
        _, f_high = self.backbone(pixel_values.flatten(0, 1))
        return self.heads["proj"](f_high.reshape(b, t, -1).mean(1))


def test_a_second_family_registers_builds_saves_and_loads(tmp_path):
    register_family("probe_for_test")(LinearProbe)
    try:
        cfg = ModelConfig(family="probe_for_test", proj_hidden=16)
        model = build_model(cfg, num_classes=C, text_dim=D).eval()
        assert isinstance(model, LinearProbe)
        save_model(model, tmp_path)
        loaded = load_model(tmp_path, cfg, num_classes=C, text_dim=D)
        x = frames(1, 2)
        with torch.no_grad():
            assert torch.equal(loaded(x), model(x))
    finally:
        FAMILIES.remove("probe_for_test")
    with pytest.raises(ValueError, match="already registered"):
        register_family("fgsgl")(LinearProbe)
