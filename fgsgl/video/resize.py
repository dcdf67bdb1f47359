"""From a decoded frame to the stored S x S one: the crop box of the resize mode, then bicubic.

`squash` keeps the whole picture and scales it to S x S; `center-crop` keeps the middle
square (side = the shorter side) and scales that. `crop_box` is the one definition of
both, used for the pixels (`resize_frames`) and for keypoints (`to_output_pixels`).

Why resize after decoding and not inside decord's FFmpeg filter graph (VideoReader
width/height): decord gives no say over FFmpeg's scaler, whose bicubic scale-and-convert
costs ~1.2 ms per 640 x 480 frame here, against 0.2 ms for the native-size conversion plus
0.45 ms for torch's uint8 bicubic (antialiased when shrinking, equal to PIL's within 2
levels). bench/extract.py measures the difference on every run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

RESIZE_MODES = ("squash", "center-crop")


@dataclass(frozen=True)
class Box:
    """A rectangle of the decoded picture, in its pixels."""

    x: int
    y: int
    width: int
    height: int


def crop_box(width: int, height: int, mode: str) -> Box:
    """What of a `width` x `height` picture becomes the S x S frame."""
    if mode == "squash":
        return Box(0, 0, width, height)
    if mode == "center-crop":
        side = min(width, height)
        return Box((width - side) // 2, (height - side) // 2, side, side)
    raise ValueError(f"resize must be one of {RESIZE_MODES}, not {mode!r}")


def resize_frames(frames: np.ndarray | torch.Tensor, size: int) -> np.ndarray:
    """uint8 (N, H, W, 3) -> C-contiguous uint8 (N, size, size, 3), bicubic."""
    import torch
    import torch.nn.functional as F

    batch = torch.as_tensor(frames)
    if tuple(batch.shape[1:3]) == (size, size):
        return batch.contiguous().numpy()
    # N, C, H, W in channels-last memory: torch's vectorised uint8 path, and its output
    # permuted back is already C-contiguous N, H, W, C (no copy)
    nchw = batch.contiguous().permute(0, 3, 1, 2)
    out = F.interpolate(nchw, size=(size, size), mode="bicubic", antialias=True)
    return np.ascontiguousarray(out.permute(0, 2, 3, 1).numpy())


def to_output_pixels(points: np.ndarray, width: int, height: int, size: int, mode: str) -> None:
    """Map (x, y) from a `width` x `height` picture onto the stored S x S frame, in place.

    Pixel centres are at integers in both, as in the frames the points were drawn on.
    """
    box = crop_box(width, height, mode)
    points[..., 0] = (points[..., 0] + 0.5 - box.x) * (size / box.width) - 0.5
    points[..., 1] = (points[..., 1] + 0.5 - box.y) * (size / box.height) - 0.5
