"""CLIP-MG (Patapati, Srinivasan, Adiraju 2025, arXiv 2506.16385): the pose-guided baseline.

The paper's idea: a CLIP image encoder alone looks at the whole frame, while a micro-gesture
is a small movement of one body part. CLIP-MG brings the skeleton in twice: pose features
generate *semantic queries* that cross-attend CLIP's visual tokens (the pose says where to
look), and a *gate* fuses what the queries found with CLIP's global visual feature (how
much to trust the pose path, per feature). A classifier and CLIP-style text prototypes of
the classes read the fused feature.

Here, per clip of T frames with keypoints (B, T, J, 3):

    tokens, f_high = backbone.tokens(frames)      last-layer patch tokens, pooled output
    f_v   = pool_T(f_high)                         the global visual feature (B, D)
    p_t   = PoseEncoder(keypoints)                 one pose token per frame (fgsgl.model.pose)
    q_tm  = e_m + W p_t                            M semantic queries per frame
    f_q   = pool_T(mean_m(attend(q_tm, LN(tokens_t))))   frame t's queries see frame t
    g     = sigmoid(W_g [f_v; f_q] + b_g)          per-feature gate (B, D)
    fused = g * f_q + (1 - g) * f_v
    logits = classifier(fused);  z_high = proj_high(fused)   (L_cls; L_cp vs t_c)

Choices where the paper's text is silent, each the simplest sound version:
- Pose encoder: a set encoder over joints (position, confidence, motion, fixed sinusoidal
  joint code) and a temporal convolution, not the summary's 3D CNN over pose heatmaps:
  it reads the 2D keypoints the frames artifact stores, for any skeleton size.
- Queries: M = 4 learned query embeddings shifted by the frame's pose token (a linear map
  of it), i.e. the pose chooses the queries; each attends only to its own frame's patch
  tokens (the pose of frame t says where to look in frame t); one attention layer with a
  residual connection (the query keeps the pose that made it), heads of 64 channels when
  the width allows. Query outputs are averaged over the M queries, then pooled over time
  like f_high (model.temporal_pool).
- Width: everything works at the backbone's width D, so the gate compares like with like
  and no extra projection sits between the two paths.
- Gate: sigmoid of one linear layer of [f_v; f_q], per feature, bias starting at 0 (an even
  mix). Its limits are the two single-path models: g = 0 is CLIP alone (the keypoints
  cannot change the output), g = 1 is the pose-guided path alone; `forward(..., gate=0.0 or
  1.0)` forces them (ablation and tests).
- Text: the class texts T_c of the texts artifact are the prototypes; L_cp (CP-A) pulls
  z_high to its class prototype as CLIP's image-text objective does, beside L_cls on the
  classifier (no fine-grained texts: L_fg is FG-SGL's and is refused here, see `losses`).
  Prediction is the classifier; `fgsgl evaluate --with-prototypes` adds the prototype
  similarity as for FG-SGL.
- Training: one stage (no curriculum), the pipeline's ml_co=false path: L_cls + L_cp for
  stage1.epochs + stage2.epochs epochs at stage1.lr, so that it gets FG-SGL's budget.
- Backbone: any of the registry (tiny-clip, clip:<id>, internvl:<id>) with LoRA as for
  FG-SGL; the paper's is CLIP.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from fgsgl.model.backbones import Backbone
from fgsgl.model.base import FamilyModel, ModelOutput, temporal_pool
from fgsgl.model.config import ModelConfig
from fgsgl.model.families import register_family
from fgsgl.model.heads import Classifier, ProjectionMLP
from fgsgl.model.pose import PoseEncoder

QUERIES = 4  # semantic queries per frame
HEAD_WIDTH = 64  # channels per attention head (CLIP's)


class PoseGuidedQueries(nn.Module):
    """(B, T, D) pose tokens, (B, T, L, D) visual tokens -> (B, T, D): per frame, M queries
    made from the pose token attend to that frame's tokens; averaged over the queries."""

    def __init__(self, dim: int, queries: int = QUERIES) -> None:
        super().__init__()
        heads = dim // HEAD_WIDTH if dim % HEAD_WIDTH == 0 and dim >= HEAD_WIDTH else 1
        self.queries = nn.Parameter(torch.randn(queries, dim) * 0.02)
        self.from_pose = nn.Linear(dim, dim)
        self.token_norm = nn.LayerNorm(dim)
        self.attend = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.out_norm = nn.LayerNorm(dim)

    def forward(self, pose: Tensor, tokens: Tensor) -> Tensor:
        b, t, dim = pose.shape
        q = self.queries[None, None] + self.from_pose(pose)[:, :, None]  # (B, T, M, D)
        q = q.flatten(0, 1)  # (B*T, M, D)
        kv = self.token_norm(tokens.flatten(0, 1))  # (B*T, L, D)
        seen, _ = self.attend(q, kv, kv, need_weights=False)
        out = self.out_norm(q + seen)
        return out.mean(dim=1).reshape(b, t, dim)


class GatedFusion(nn.Module):
    """g = sigmoid(W [visual; pose] + b); g * pose + (1 - g) * visual, per feature."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.gate = nn.Linear(2 * dim, dim)
        nn.init.zeros_(self.gate.bias)

    def forward(
        self, visual: Tensor, pose: Tensor, gate: float | None = None
    ) -> tuple[Tensor, Tensor]:
        """(fused, g); `gate` forces g to that value (0 = visual only, 1 = pose only)."""
        if gate is None:
            g = torch.sigmoid(self.gate(torch.cat([visual, pose], dim=-1)))
        else:
            if not 0.0 <= gate <= 1.0:
                raise ValueError(f"gate must be in [0, 1], got {gate}")
            g = torch.full_like(visual, gate)
        return g * pose + (1 - g) * visual, g


@register_family("clip_mg", help="CLIP-MG: pose-guided queries, gated fusion; needs keypoints")
class CLIPMGModel(FamilyModel):
    """See the module docstring. forward(pixel_values, keypoints) -> ModelOutput."""

    losses = ("cls", "cp")
    needs_keypoints = True
    uses_projector = False  # the gate fuses tokens and f_high at the tower's width

    def __init__(
        self, cfg: ModelConfig, backbone: Backbone, *, num_classes: int, text_dim: int
    ) -> None:
        super().__init__(cfg, backbone, num_classes=num_classes, text_dim=text_dim)
        dim = backbone.hidden_size
        self.heads.update(
            {
                "pose_encoder": PoseEncoder(dim),
                "queries": PoseGuidedQueries(dim),
                "fusion": GatedFusion(dim),
                "proj_high": ProjectionMLP(dim, cfg.proj_hidden, text_dim),
                "classifier": Classifier(dim, num_classes),
            }
        )

    def forward(
        self, pixel_values: Tensor, keypoints: Tensor | None = None, *, gate: float | None = None
    ) -> ModelOutput:
        """pixel_values (B, T, 3, S, S) normalised; keypoints (B, T, J, 3) as the data loader
        gives them (x, y in [-1, 1], confidence); gate: force the fusion gate (0 or 1)."""
        images = self.images(pixel_values)
        b, t = pixel_values.shape[:2]
        if keypoints is None:
            raise ValueError("CLIP-MG needs keypoints (B, T, J, 3) beside the pixels")
        if keypoints.ndim != 4 or tuple(keypoints.shape[:2]) != (b, t):
            raise ValueError(
                f"keypoints must be (B, T, J, 3) = ({b}, {t}, J, 3); got {tuple(keypoints.shape)}"
            )
        pool = self.config.temporal_pool
        tokens, f_high = self.backbone.tokens(images)
        f_v = temporal_pool(f_high.reshape(b, t, -1), pool)
        pose = self.heads["pose_encoder"](keypoints.to(f_v.dtype))
        found = self.heads["queries"](pose, tokens.reshape(b, t, tokens.shape[1], -1))
        f_q = temporal_pool(found, pool)
        fused, _ = self.heads["fusion"](f_v, f_q, gate)
        return ModelOutput(
            logits=self.heads["classifier"](fused), z_high=self.heads["proj_high"](fused)
        )
