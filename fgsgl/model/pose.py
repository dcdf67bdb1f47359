"""The pose encoder of CLIP-MG: per-frame 2D keypoints -> one pose token per frame.

Input: (B, T, J, 3) keypoints as the data loader gives them (fgsgl.train.data): x and y in
[-1, 1] over the frame the model sees (after the same crop as the pixels), and the
keypoint's confidence; a joint with confidence 0 is absent (its x, y are 0).

Each joint becomes a vector from its position, its confidence and its motion since the
previous frame (a micro-gesture is a small movement: the displacement says more than the
position), plus a fixed sinusoidal code of its index as its identity (which joint it is).
A fixed code rather than a learned table of J rows keeps the encoder independent of the
skeleton's size (18 SynthMG joints, 25 Kinect joints, 137 OpenPose points): the model can
be built before any data is read. The joints of a frame are averaged over the present ones
(a set encoder: per-joint MLP, mean, MLP), and a temporal convolution over neighbouring
frames with a residual connection gives the frame's token.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

POINT_FEATURES = 5  # x, y, confidence, dx, dy
CODE_DIM = 16


def joint_codes(joints: int, dim: int, *, device=None, dtype=None) -> Tensor:
    """(joints, dim) sinusoidal codes of the joint indices (as transformer positions)."""
    index = torch.arange(joints, device=device, dtype=torch.float32)[:, None]
    freq = torch.exp(
        torch.arange(0, dim, 2, device=device, dtype=torch.float32) * (-math.log(1e4) / dim)
    )
    angles = index * freq
    return torch.cat([angles.sin(), angles.cos()], dim=1).to(dtype or torch.float32)


class PoseEncoder(nn.Module):
    """(B, T, J, 3) keypoints -> (B, T, dim) pose tokens; see the module docstring."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.point = nn.Linear(POINT_FEATURES, dim)
        self.identity = nn.Linear(CODE_DIM, dim, bias=False)
        self.joint_mlp = nn.Sequential(nn.GELU(), nn.Linear(dim, dim))
        self.frame_mlp = nn.Sequential(
            nn.LayerNorm(dim), nn.Linear(dim, dim), nn.GELU(), nn.Linear(dim, dim)
        )
        self.temporal = nn.Conv1d(dim, dim, kernel_size=3, padding=1)
        self.norm = nn.LayerNorm(dim)

    def forward(self, keypoints: Tensor) -> Tensor:
        if keypoints.ndim != 4 or keypoints.shape[-1] != 3:
            raise ValueError(f"keypoints must be (B, T, J, 3); got {tuple(keypoints.shape)}")
        present = (keypoints[..., 2:3] > 0).to(keypoints.dtype)  # (B, T, J, 1)
        xy = keypoints[..., :2] * present
        both = present[:, 1:] * present[:, :-1]
        motion = F.pad((xy[:, 1:] - xy[:, :-1]) * both, (0, 0, 0, 0, 1, 0))  # 0 at frame 1
        points = torch.cat([xy, keypoints[..., 2:3], motion], dim=-1)
        codes = joint_codes(keypoints.shape[2], CODE_DIM, device=keypoints.device)
        joints = self.joint_mlp(self.point(points) + self.identity(codes.to(points.dtype)))
        frame = (joints * present).sum(dim=2) / present.sum(dim=2).clamp(min=1.0)
        frame = self.frame_mlp(frame)  # (B, T, dim)
        frame = frame + self.temporal(frame.transpose(1, 2)).transpose(1, 2)
        return self.norm(frame)
