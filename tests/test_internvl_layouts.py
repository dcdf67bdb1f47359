"""InternVL2.5 without remote code: an original OpenGVLab checkpoint (internvl_chat names and
shapes) read into transformers' native InternVLVisionModel, checked number for number
against the original architecture (tests/internvl_reference.py) and against the same
weights in the native layouts; LoRA under gradient checkpointing; only vision shards read;
every layout problem refused in one message."""

from __future__ import annotations

import json
import shutil
import sys

import pytest
import torch
from internvl_reference import projector_forward, vision_forward
from tiny_checkpoints import ORIGINAL_LLM_HIDDEN, internvl_original, original_vision_config

from fgsgl.errors import FgsglError
from fgsgl.model import ModelConfig, build_model
from fgsgl.model.lora import parameter_counts

C, D, R = 3, 8, 4  # classes, text dim, LoRA rank
TOL = 1e-5  # float32: the reference and the native classes order their sums differently


@pytest.fixture(scope="module")
def original(tmp_path_factory):
    folder = tmp_path_factory.mktemp("original") / "InternVL2_5-tiny"
    weights = internvl_original(folder)
    return folder, weights


def build(folder, **overrides):
    cfg = ModelConfig(backbone=f"internvl:{folder}", lora_rank=R, proj_hidden=16, **overrides)
    torch.manual_seed(0)
    return build_model(cfg, num_classes=C, text_dim=D)


def pixels(n: int = 3) -> torch.Tensor:
    return torch.randn(n, 3, 64, 64, generator=torch.Generator().manual_seed(11))


def test_original_layout_gives_the_original_architectures_features(original):
    folder, weights = original
    vision = original_vision_config()
    images = pixels()
    with torch.no_grad():
        states = vision_forward(weights, vision, images)
        reference_tokens = projector_forward(weights, states[-1])
        for reading in ("heads", "projector"):
            model = build(folder, trainable_mlp=reading).eval()
            f_mid, f_high = model.backbone(images)
            assert (f_mid - states[2][:, 1:].mean(1)).abs().max() < TOL, reading
            expected = (
                reference_tokens.mean(1) if reading == "projector" else states[-1][:, 1:].mean(1)
            )
            assert f_high.shape == expected.shape
            assert (f_high - expected).abs().max() < TOL, reading
    assert model.backbone.provenance["layout"] == "internvl_chat"
    assert model.backbone.high_size == ORIGINAL_LLM_HIDDEN
    assert "modeling_internvl_chat" not in sys.modules  # its code never ran


def test_the_same_weights_in_the_native_layouts_give_the_same_features(original, tmp_path):
    """Saved by transformers' own classes (a native InternVLForConditionalGeneration and a
    native vision tower alone), the weights fgsgl mapped give the same features, and
    transformers' own projector path gives the tokens fgsgl's projector gives."""
    from transformers import InternVLConfig, InternVLForConditionalGeneration

    folder, _ = original
    mapped = build(folder, trainable_mlp="projector").eval()
    backbone = mapped.backbone
    vision_state = {
        k.replace(".base_layer", ""): v
        for k, v in backbone.hf_model().state_dict().items()
        if "lora_" not in k
    }
    text = dict(
        model_type="qwen2", hidden_size=ORIGINAL_LLM_HIDDEN, intermediate_size=64,
        num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1, vocab_size=64,
    )  # fmt: skip
    config = InternVLConfig(
        vision_config=backbone.hf_model().config.to_dict(), text_config=text, image_token_id=5
    )
    native = InternVLForConditionalGeneration(config).eval()
    native.model.vision_tower.load_state_dict(vision_state)
    native.model.multi_modal_projector.load_state_dict(
        backbone.projector.state_dict(), strict=False
    )
    native.save_pretrained(tmp_path / "native", max_shard_size="50KB")
    native.model.vision_tower.save_pretrained(tmp_path / "vision")

    images = pixels()
    with torch.no_grad():
        ours = backbone(images)
        full = build(tmp_path / "native", trainable_mlp="projector").eval().backbone
        assert full.provenance["layout"] == "internvl"
        for a, b in zip(ours, full(images), strict=True):
            assert (a - b).abs().max() < TOL
        tokens = native.model.get_image_features(
            pixel_values=images, vision_feature_layer=-1, vision_feature_select_strategy="default"
        ).pooler_output
        assert (
            backbone.projector(backbone.hf_model()(pixel_values=images).last_hidden_state[:, 1:])
            - tokens
        ).abs().max() < TOL
        tower = build(tmp_path / "vision").eval().backbone
        assert tower.projector is None  # auto: a vision tower alone has none
        plain = build(folder, trainable_mlp="heads").eval().backbone
        for a, b in zip(plain(images), tower(images), strict=True):
            assert (a - b).abs().max() < TOL


def test_lora_gradients_reach_the_adapters_with_gradient_checkpointing(original):
    folder, _ = original
    model = build(folder, gradient_checkpointing=True).train()
    assert model.backbone.hf_model().is_activation_checkpointing
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(trainable, lr=1e-2, weight_decay=0.05)
    clips = pixels(4).reshape(2, 2, 3, 64, 64)
    for _ in range(2):  # LoRA B starts at 0, so A gets a gradient from the second step on
        optimiser.zero_grad()
        out = model(clips)
        (
            out.logits.square().mean() + out.z_high.square().mean() + out.z_mid.square().mean()
        ).backward()
        optimiser.step()
    names = {n for n, p in model.named_parameters() if p.requires_grad}
    assert any("lora_A" in n for n in names) and any(
        n.startswith("backbone.projector.") for n in names
    )
    for n, p in model.named_parameters():
        if p.requires_grad:
            assert p.grad is not None and not torch.equal(p, before[n]), f"{n} did not train"
        else:
            assert p.grad is None and torch.equal(p, before[n]), f"frozen {n} changed"


def test_only_the_vision_shards_are_read(original, tmp_path):
    folder, _ = original
    copy = shutil.copytree(folder, tmp_path / "ckpt")
    (copy / "model-00003-of-00003.safetensors").unlink()  # the language model
    model = build(copy).eval()
    reference = build(folder).eval()
    with torch.no_grad():
        for a, b in zip(model.backbone(pixels()), reference.backbone(pixels()), strict=True):
            assert torch.equal(a, b)
    assert (
        model.backbone.provenance["weights_sha256"]
        == reference.backbone.provenance["weights_sha256"]
    )


@pytest.mark.parametrize(
    ("reading", "extra"),
    [
        ("heads", 0),
        ("vit_mlp", 4 * (64 * 32 + 64 + 32 * 64 + 32)),
        ("projector", None),
        ("all", None),
    ],
)
def test_each_reading_of_mlp_trainable_trains_what_it_says(original, reading, extra):
    folder, _ = original
    model = build(folder, trainable_mlp=reading)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    mlp = {n for n in trainable if ".mlp.fc" in n}
    projector = {n for n in trainable if n.startswith("backbone.projector.")}
    assert bool(mlp) == (reading in ("vit_mlp", "all"))
    assert bool(projector) == (reading in ("projector", "all"))
    if extra is not None:
        heads_only = parameter_counts(build(folder, trainable_mlp="heads"))[0]
        assert parameter_counts(model)[0] == heads_only + extra


def test_trained_base_weights_round_trip_through_the_model_artifact(original, tmp_path):
    from fgsgl.model import load_model, save_model

    folder, _ = original
    model = build(folder, trainable_mlp="all")
    with torch.no_grad():
        for p in model.parameters():
            if p.requires_grad:
                p.add_(0.01 * torch.randn_like(p))
    written = save_model(model, tmp_path / "model")
    assert "backbone_trained.safetensors" in written
    loaded = load_model(tmp_path / "model", model.config, num_classes=C, text_dim=D)
    clips = pixels(4).reshape(2, 2, 3, 64, 64)
    with torch.no_grad():
        a, b = model.eval()(clips), loaded(clips)
    for x, y in ((a.logits, b.logits), (a.z_high, b.z_high), (a.z_mid, b.z_mid)):
        assert torch.allclose(x, y, atol=1e-6)


def test_a_checkpoint_that_does_not_fit_is_refused_with_every_problem(original, tmp_path):
    from safetensors.torch import load_file, save_file

    folder, _ = original
    bad = shutil.copytree(folder, tmp_path / "bad")
    shard = bad / "model-00001-of-00003.safetensors"
    weights = load_file(shard)
    del weights["vision_model.encoder.layers.1.ls2"]
    weights["vision_model.encoder.layers.0.attn.extra.weight"] = torch.zeros(2)
    weights["vision_model.encoder.layers.2.mlp.fc1.weight"] = torch.zeros(7, 32)
    save_file(weights, str(shard))
    index = json.loads((bad / "model.safetensors.index.json").read_text())
    index["weight_map"] = {
        k: v for k, v in index["weight_map"].items() if not k.startswith("vision_model.")
    }
    index["weight_map"] |= dict.fromkeys(weights, shard.name)
    (bad / "model.safetensors.index.json").write_text(json.dumps(index))
    with pytest.raises(FgsglError) as e:
        build(bad)
    text = str(e.value)
    assert "weights do not match its config" in text
    assert "missing: encoder.layer.1.lambda_2" in text
    assert "unexpected: encoder.layer.0.attention.extra.weight" in text
    assert (
        "encoder.layer.2.mlp.fc1.weight: shape (7, 32) in the checkpoint, (64, 32) in the model"
        in text
    )


def test_configs_the_native_classes_cannot_express_are_refused(tmp_path):
    folder = tmp_path / "moe"
    internvl_original(folder, use_moe=True, qk_normalization=True, layer_norm_eps=1e-5)
    with pytest.raises(FgsglError) as e:
        build(folder)
    assert "use_moe is true" in str(e.value)
    assert "layer_norm_eps 1e-05 with qk_normalization" in str(e.value)
    (folder / "config.json").write_text(json.dumps({"model_type": "llava"}))
    with pytest.raises(FgsglError, match=r"model_type 'llava'; expected one of 'internvl_vision'"):
        build(folder)


def test_rms_norm_and_qk_norm_towers_match_the_reference(tmp_path):
    """InternViT-6B's variant: RMSNorm everywhere, q/k normalisation, no qkv bias."""
    folder = tmp_path / "6b-like"
    changes = dict(norm_type="rms_norm", qk_normalization=True, qkv_bias=False)
    weights = internvl_original(folder, **changes)
    vision = original_vision_config(**changes)
    model = build(folder, trainable_mlp="heads").eval()
    with torch.no_grad():
        f_mid, f_high = model.backbone(pixels())
        states = vision_forward(weights, vision, pixels())
    assert (f_mid - states[2][:, 1:].mean(1)).abs().max() < TOL
    assert (f_high - states[-1][:, 1:].mean(1)).abs().max() < TOL


def test_stochastic_depth_is_left_out_with_a_warning(tmp_path, caplog):
    folder = tmp_path / "drop-path"
    internvl_original(folder, drop_path_rate=0.1)
    with caplog.at_level("WARNING", logger="fgsgl.model"):
        build(folder, trainable_mlp="heads")
    assert "drop_path_rate 0.1 left out" in caplog.text
