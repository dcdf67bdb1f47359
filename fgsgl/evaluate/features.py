"""A trained model's frozen clip features, as its heads see them (for the linear probes).

Per clip of a frames artifact, through the data pipeline evaluation uses (fgsgl.train.data,
no augmentation, the model's own transform):

    f_mid   the backbone's middle-layer feature of each frame, pooled over the T frames
            (model.temporal_pool): what FG-SGL's proj_mid reads for L_fg
    f_high  the last layer's pooled feature, pooled over T: what FG-SGL's classifier and
            proj_high read
    fused   CLIP-MG only: the gated fusion of f_high with the pose-guided queries, what its
            classifier reads (its analogue of FG-SGL's f_high; CLIP-MG has no head on f_mid,
            so its f_mid is the untouched middle layer: a baseline for FG-SGL's)

Taken exactly as forward computes them (model.images, so `subtract_clip_mean` applies;
the backbone in its dtype under the model's autocast), then float32 on the CPU.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from fgsgl.model.base import temporal_pool
from fgsgl.progress import bar

BACKBONE_LAYERS = ("f_mid", "f_high")
# the classifier's input, where it is not f_high: captured by a hook on the classifier
CLASSIFIER_INPUT = {"clip_mg": "fused"}


def layer_names(model: Any) -> tuple[str, ...]:
    """The layers `clip_features` returns for this model's family."""
    extra = CLASSIFIER_INPUT.get(getattr(model, "family", ""))
    return (*BACKBONE_LAYERS, extra) if extra else BACKBONE_LAYERS


@torch.inference_mode()
def clip_features(
    model: Any,
    frames: Any,  # fgsgl.video.frames.FramesArtifact
    positions: np.ndarray,
    *,
    batch_size: int = 32,
    device: torch.device | None = None,
    workers: int = 0,
    autocast: torch.dtype | None = None,
    progress: bool = True,
) -> dict[str, np.ndarray]:
    """{layer: (n, D) float32} for the clips at `positions` (frames index rows), in order."""
    from fgsgl.runtime.device import autocast_context
    from fgsgl.train.data import ClipDataset, ClipTransform, make_loader, split_batch

    device = device or torch.device("cpu")
    pose = bool(getattr(model, "needs_keypoints", False))
    transform = ClipTransform(model.image_size, model.image_mean, model.image_std)
    dataset = ClipDataset(
        frames, positions, transform=transform, augment=False, seed=0, keypoints=pose
    )
    loader = make_loader(
        dataset,
        batch_size=batch_size,
        train=False,
        seed=0,
        workers=workers,
        pin_memory=device.type == "cuda",
    )
    model.to(device).eval()
    layers = layer_names(model)
    out: dict[str, np.ndarray] = {}
    captured: list[torch.Tensor] = []
    hook = None
    if len(layers) > len(BACKBONE_LAYERS):
        hook = model.heads["classifier"].register_forward_pre_hook(
            lambda _module, args: captured.append(args[0])
        )
    pool = model.config.temporal_pool
    try:
        with bar(
            total=len(dataset),
            desc="probe features",
            unit="clip",
            disable=None if progress else True,
        ) as shown:
            for batch in loader:
                inputs, _labels, idx = split_batch(batch)
                inputs = tuple(x.to(device, non_blocking=True) for x in inputs)
                pixels = inputs[0]
                b, t = pixels.shape[:2]
                with autocast_context(device, autocast):
                    f_mid, f_high = model.backbone(model.images(pixels))
                    pooled = {
                        "f_mid": temporal_pool(f_mid.reshape(b, t, -1), pool),
                        "f_high": temporal_pool(f_high.reshape(b, t, -1), pool),
                    }
                    if hook is not None:
                        captured.clear()
                        model(*inputs)
                        pooled[layers[-1]] = captured[-1]
                rows = idx.numpy()
                for name in layers:
                    value = pooled[name].float().cpu().numpy()
                    if name not in out:
                        out[name] = np.zeros((len(dataset), value.shape[1]), np.float32)
                    out[name][rows] = value
                shown.update(len(rows))
    finally:
        if hook is not None:
            hook.remove()
    return out
