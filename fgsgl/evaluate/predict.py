"""Running a trained model over one split of a frames artifact: the class scores per clip.

The clips go through the trainer's own data pipeline (fgsgl.train.data, without
augmentation), so evaluation sees exactly what validation saw during training. The score
is the classifier's logit; with prototypes, ALPHA x cosine(z_high, t_c) / tau is added,
i.e. the CP-A logits at the temperature the model was trained with.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from fgsgl.errors import FgsglError
from fgsgl.progress import bar


@dataclass
class Predictions:
    clip_ids: list[str]
    labels: np.ndarray  # (n,) int64
    scores: np.ndarray  # (n, C) float32


def prototype_scores(z_high: torch.Tensor, prototypes: torch.Tensor, tau: float) -> torch.Tensor:
    """cosine(z_high, t_c) / tau for every class: (B, D) x (C, D) -> (B, C)."""
    return F.normalize(z_high.float(), dim=1) @ F.normalize(prototypes.float(), dim=1).T / tau


@torch.no_grad()
def predict(
    model: Any,
    frames: Any,  # fgsgl.video.frames.FramesArtifact
    split: str,
    *,
    batch_size: int = 32,
    device: torch.device | None = None,
    workers: int = 0,
    autocast: torch.dtype | None = None,
    prototypes: np.ndarray | None = None,
    alpha: float = 0.0,
    tau: float = 0.07,
) -> Predictions:
    """Scores of every clip of `split`, in index order, with a progress bar over clips."""
    from fgsgl.runtime.device import autocast_context
    from fgsgl.train.data import (
        ClipDataset,
        ClipTransform,
        check_keypoints,
        make_loader,
        split_batch,
    )

    device = device or torch.device("cpu")
    rows = frames.clips(split)
    if rows.empty:
        raise FgsglError(f"split {split!r} has no clips in {frames.root}")
    pose = getattr(model, "needs_keypoints", False)
    if pose:
        check_keypoints(frames, rows.index.to_numpy(), f"model family {model.family!r}")
    transform = ClipTransform(model.image_size, model.image_mean, model.image_std)
    dataset = ClipDataset(
        frames, rows.index.to_numpy(), transform=transform, augment=False, seed=0, keypoints=pose
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
    protos = None if prototypes is None else torch.as_tensor(prototypes).to(device)
    scores = np.zeros((len(dataset), frames.num_classes), dtype=np.float32)
    with bar(total=len(dataset), desc=f"evaluate {split}", unit="clip") as progress:
        for batch in loader:
            inputs, _labels, idx = split_batch(batch)
            inputs = tuple(x.to(device, non_blocking=True) for x in inputs)
            with autocast_context(device, autocast):
                out = model(*inputs)
            batch = out.logits.float()
            if protos is not None and alpha:
                batch = batch + alpha * prototype_scores(out.z_high, protos, tau)
            scores[idx.numpy()] = batch.cpu().numpy()
            progress.update(len(idx))
    return Predictions(
        clip_ids=rows["clip_id"].astype(str).tolist(),
        labels=rows["label"].to_numpy(dtype=np.int64),
        scores=scores,
    )
