"""Trainable heads on top of the pooled backbone features.

Each head starts with a LayerNorm: CLIP's pooled output is normalised, but middle-layer
residual streams and InternViT's mean-pooled tokens are not (they carry a few very large
channels), and InternVL's own vision-to-text projector starts the same way.
"""

from __future__ import annotations

from torch import Tensor, nn


class ProjectionMLP(nn.Module):
    """LayerNorm -> Linear -> GELU -> Linear: vision features into the text space."""

    def __init__(self, in_dim: int, hidden: int, out_dim: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.LayerNorm(in_dim),
            nn.Linear(in_dim, hidden),
            nn.GELU(),
            nn.Linear(hidden, out_dim),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class Classifier(nn.Module):
    """LayerNorm -> Linear: class logits from f_high."""

    def __init__(self, in_dim: int, num_classes: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.LayerNorm(in_dim), nn.Linear(in_dim, num_classes))

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)
