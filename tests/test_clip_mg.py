"""CLIP-MG (fgsgl.model.clip_mg): shapes and gradients through the pose path, the gate's two
limits, absent joints, save/load, the keypoints the loader yields, the errors for clips
without keypoints. That it learns: tests/test_train_synthmg.py (SynthMG with keypoints)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from train_fixtures import make_artifacts, tiny_clip_backbone

from fgsgl.errors import FgsglError
from fgsgl.model import (
    CLIPMGModel,
    ModelConfig,
    build_model,
    family_class,
    load_model,
    save_model,
)
from fgsgl.model.clip_mg import GatedFusion
from fgsgl.settings import load_config
from fgsgl.train.data import (
    ClipDataset,
    ClipTransform,
    check_keypoints,
    keypoint_inputs,
    split_batch,
)
from fgsgl.train.stages import plan_stage
from fgsgl.video.frames import FramesArtifact

C, D, T, J, S = 4, 16, 3, 5, 32


@pytest.fixture(scope="module")
def backbone(tmp_path_factory) -> str:
    return tiny_clip_backbone(tmp_path_factory.mktemp("clip32"))


def model_of(backbone: str, seed: int = 0) -> CLIPMGModel:
    torch.manual_seed(seed)
    cfg = ModelConfig(family="clip_mg", backbone=backbone, proj_hidden=16)
    return build_model(cfg, num_classes=C, text_dim=D)


def inputs(b: int = 2, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    pixels = torch.randn(b, T, 3, S, S, generator=g)
    keypoints = torch.rand(b, T, J, 3, generator=g) * 2 - 1
    keypoints[..., 2] = 1.0
    return pixels, keypoints


def test_forward_shapes_and_what_the_family_declares(backbone) -> None:
    model = model_of(backbone)
    out = model(*inputs())
    assert out.logits.shape == (2, C) and out.z_high.shape == (2, D) and out.z_mid is None
    assert family_class("clip_mg") is CLIPMGModel
    assert CLIPMGModel.needs_keypoints and CLIPMGModel.losses == ("cls", "cp")
    assert set(model.heads) == {"pose_encoder", "queries", "fusion", "proj_high", "classifier"}
    with pytest.raises(ValueError, match="needs keypoints"):
        model(inputs()[0])
    with pytest.raises(ValueError, match=r"\(B, T, J, 3\)"):
        model(inputs()[0], torch.zeros(2, T + 1, J, 3))


def test_gradients_flow_through_the_pose_path(backbone) -> None:
    model = model_of(backbone)
    out = model(*inputs())
    (out.logits.logsumexp(1).mean() + out.z_high.square().mean()).backward()
    for name in (
        "pose_encoder.point.weight",
        "pose_encoder.identity.weight",
        "pose_encoder.temporal.weight",
        "queries.queries",
        "queries.from_pose.weight",
        "queries.attend.in_proj_weight",
        "fusion.gate.weight",
    ):
        grad = model.heads.get_parameter(name).grad
        assert grad is not None and grad.abs().sum() > 0, name
    lora = [p.grad for n, p in model.backbone.named_parameters() if "lora_" in n]
    assert lora and all(g is not None for g in lora)  # and on into the backbone's LoRA


def test_gate_zero_is_clip_alone_and_gate_one_the_pose_path_alone(backbone) -> None:
    model = model_of(backbone).eval()
    pixels, kp = inputs()
    other = inputs(seed=1)[1]
    b = pixels.shape[0]
    with torch.no_grad():
        tokens, f_high = model.backbone.tokens(pixels.flatten(0, 1))
        f_v = f_high.reshape(b, T, -1).mean(1)
        pose = model.heads["pose_encoder"](kp)
        f_q = model.heads["queries"](pose, tokens.reshape(b, T, tokens.shape[1], -1)).mean(1)
        off = model(pixels, kp, gate=0.0).logits
        only = model(pixels, kp, gate=1.0).logits
        # pose off: exactly CLIP's global feature through the classifier; keypoints ignored
        assert torch.allclose(off, model.heads["classifier"](f_v), atol=1e-5)
        assert torch.equal(off, model(pixels, other, gate=0.0).logits)
        # pose only: exactly the pose-guided queries' output; the keypoints matter
        assert torch.allclose(only, model.heads["classifier"](f_q), atol=1e-5)
        assert not torch.allclose(only, model(pixels, other, gate=1.0).logits)
        learned = model(pixels, kp).logits
        assert not torch.allclose(learned, off) and not torch.allclose(learned, only)
    # with the gate shut, no gradient reaches the pose encoder
    model.zero_grad()
    model(pixels, kp, gate=0.0).logits.sum().backward()
    grads = [p.grad for p in model.heads["pose_encoder"].parameters()]
    assert all(g is None or g.abs().sum() == 0 for g in grads)
    with pytest.raises(ValueError, match=r"gate must be in \[0, 1\]"):
        model(pixels, kp, gate=1.5)


def test_the_learned_gate_mixes_feature_by_feature_between_the_two_paths() -> None:
    torch.manual_seed(0)
    fusion = GatedFusion(8)
    visual, pose = torch.randn(3, 8), torch.randn(3, 8)
    fused, g = fusion(visual, pose)
    assert ((g > 0) & (g < 1)).all()
    assert torch.allclose(fused, g * pose + (1 - g) * visual)
    low, high = torch.minimum(visual, pose), torch.maximum(visual, pose)
    assert ((fused >= low - 1e-6) & (fused <= high + 1e-6)).all()
    zero_bias = torch.sigmoid(fusion.gate(torch.zeros(1, 16)))
    assert torch.allclose(zero_bias, torch.full((1, 8), 0.5))  # starts as an even mix


def test_absent_joints_do_not_change_the_output(backbone) -> None:
    model = model_of(backbone).eval()
    pixels, kp = inputs()
    kp[:, :, 1, 2] = 0.0  # joint 1 absent in every frame
    moved = kp.clone()
    moved[:, :, 1, :2] = torch.tensor([0.9, -0.7])
    with torch.no_grad():
        assert torch.allclose(model(pixels, kp).logits, model(pixels, moved).logits, atol=1e-6)
        kp[:, :, 0, :2] += 0.3  # a present joint that moves does change it
        assert not torch.allclose(model(pixels, kp).logits, model(pixels, moved).logits)


def test_saves_and_loads_like_any_family(backbone, tmp_path) -> None:
    model = model_of(backbone).eval()
    save_model(model, tmp_path)
    cfg = ModelConfig(family="clip_mg", backbone=backbone, proj_hidden=16)
    loaded = load_model(tmp_path, cfg, num_classes=C, text_dim=D)
    assert isinstance(loaded, CLIPMGModel)
    with torch.no_grad():
        assert torch.equal(loaded(*inputs()).logits, model(*inputs()).logits)


def test_keypoint_inputs_map_the_crop_to_minus_one_one() -> None:
    points = np.array([[[-0.5, -0.5, 1.0], [31.5, 15.5, 0.8], [7.0, 7.0, 0.0]]], np.float32)
    whole = keypoint_inputs(points, 32)
    assert whole[0, 0].tolist() == [-1.0, -1.0, 1.0]
    assert whole[0, 1].tolist() == pytest.approx([1.0, 0.0, 0.8])
    assert whole[0, 2].tolist() == [0.0, 0.0, 0.0]  # absent: no coordinates
    crop = keypoint_inputs(points, 32, box=(8, 4, 16, 16))  # top 8, left 4, 16 x 16
    assert crop[0, 0].tolist() == pytest.approx([-1.5, -2.0, 1.0])  # outside the crop
    assert crop[0, 1].tolist() == pytest.approx([2.5, 0.0, 0.8])


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    root = tmp_path_factory.mktemp("kp")
    return make_artifacts(root, size=S, frames=T, keypoints=True, no_keypoints_for=("val-2-1",))


def test_the_loader_yields_keypoints_that_follow_the_augmented_pixels(artifacts) -> None:
    frames = FramesArtifact.open(artifacts[0])
    train = np.flatnonzero(frames.index["split"] == "train")
    transform = ClipTransform(S, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0))  # pixels / 255
    ds = ClipDataset(frames, train, transform=transform, augment=True, seed=0, keypoints=True)
    plain = ClipDataset(frames, train, transform=transform, augment=True, seed=0)
    assert len(plain[0]) == 3  # FG-SGL's items are unchanged
    for key in [(1, 0), (2, 5), (3, 11)]:
        pixels, _, _, kp = ds[key]
        assert torch.equal(pixels, plain[key][0]) and kp.shape == (T, 3, 3)
        for t in range(T):
            ys, xs = torch.nonzero(pixels[t, 0] > 0.5, as_tuple=True)  # the bright square
            centre = torch.stack([xs.float().mean(), ys.float().mean()])
            want = (centre + 0.5) * 2 / S - 1  # pixel-index -> [-1, 1]
            assert torch.allclose(kp[t, 0, :2], want, atol=0.12), (key, t)
        assert kp[:, 2, 2].eq(0).all() and kp[:, 2, :2].eq(0).all()  # the absent joint
    inputs_, labels, _ = split_batch(next(iter(torch.utils.data.DataLoader(ds, batch_size=2))))
    assert [x.shape for x in inputs_] == [(2, T, 3, S, S), (2, T, 3, 3)] and len(labels) == 2


def test_clips_without_keypoints_are_one_error_naming_them(artifacts, tmp_path) -> None:
    frames = FramesArtifact.open(artifacts[0])
    positions = np.arange(len(frames))
    with pytest.raises(FgsglError) as err:
        check_keypoints(frames, positions, "CLIP-MG")
    assert "1 clip(s)" in str(err.value) and "val-2-1" in str(err.value)
    bare, _ = make_artifacts(tmp_path, size=S, frames=T)
    with pytest.raises(FgsglError, match="no keypoints at all"):
        check_keypoints(FramesArtifact.open(bare), positions, "CLIP-MG")


def test_training_refuses_missing_keypoints_before_building_and_fgsgl_ignores_them(
    artifacts, tmp_path
) -> None:
    from fgsgl.train.run import check_family_inputs, open_inputs

    frames, texts = map(str, artifacts)
    with pytest.raises(FgsglError) as err:
        from fgsgl.train import train

        overrides = {"model.family": "clip_mg", "ablation.ml_co": False, "ablation.fg_sa": False}
        train(frames, texts, str(tmp_path / "out"), stage=2, overrides=overrides)
    assert "model.family 'clip_mg' needs per-frame keypoints" in str(err.value)
    assert "val-2-1" in str(err.value) and not (tmp_path / "out").exists()
    check_family_inputs(load_config(), open_inputs(frames, texts))  # FG-SGL: no error


def test_clip_mg_trains_one_stage_without_fine_grained_alignment() -> None:
    cfg = load_config(overrides={"model.family": "clip_mg", "ablation.ml_co": False})
    with pytest.raises(FgsglError, match=r"ablation\.fg_sa=false"):
        plan_stage(cfg, 2)
    cfg.ablation.fg_sa = False
    plan = plan_stage(cfg, 2)
    assert plan.weights == {"cls": 1.0, "cp": 1.0} and not plan.needs_init
    assert plan.epochs == cfg.stage1.epochs + cfg.stage2.epochs
