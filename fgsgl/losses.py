"""The three FG-SGL losses (docs/method.md: L_cls, CP-A, FG-SA).

- L_cls: cross-entropy of the classifier on f_high.
- L_cp (CP-A): InfoNCE of z_high against every class prototype t_c; positive = own class.
- L_fg (FG-SA): InfoNCE of z_mid against the fine-grained texts t_fg of the batch; positive
  = the clip's own text.

Similarities are cosine similarities divided by the temperature tau, computed in float32
(bf16 logits divided by 0.07 lose too much).

Duplicate texts in L_fg: several clips of a batch often share one fine-grained text (and
always do at class granularity). Each clip's candidates are the batch's *unique* texts: the
other clips' copies of its own text are masked out of its denominator (not negatives), and
a text that several other clips share counts once among its negatives. So a clip's loss
does not depend on how many copies of a text the batch happens to hold. The alternative,
multi-positive InfoNCE (-log sum_pos / sum_all), would make the loss of a clip whose text
is common (a frequent class) easier, and counting copies as negatives would push a clip
away from its own text.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def classification_loss(logits: Tensor, labels: Tensor) -> Tensor:
    """L_cls: mean cross-entropy of logits (B, C) against integer labels (B,)."""
    return F.cross_entropy(logits.float(), labels)


def cosine_logits(queries: Tensor, keys: Tensor, tau: float) -> Tensor:
    """(B, D) x (K, D) -> (B, K) cosine similarities / tau, in float32."""
    if not tau > 0:
        raise ValueError(f"temperature tau must be > 0, got {tau}")
    q = F.normalize(queries.float(), dim=-1)
    k = F.normalize(keys.float(), dim=-1)
    return q @ k.T / tau


def prototype_loss(z_high: Tensor, class_emb: Tensor, labels: Tensor, tau: float) -> Tensor:
    """L_cp: InfoNCE of z_high (B, D) against all class prototypes class_emb (C, D); the
    positive of clip i is its class labels[i]."""
    return F.cross_entropy(cosine_logits(z_high, class_emb, tau), labels)


def fine_grained_loss(z_mid: Tensor, text_emb: Tensor, text_ids: Tensor, tau: float) -> Tensor:
    """L_fg: InfoNCE of z_mid (B, D) against the batch's texts text_emb (B, D), row i the
    text of clip i. text_ids (B,) names each clip's unique text (e.g. its row in the texts
    artifact). Clip i's candidates are the batch's unique texts, its own at column i: other
    columns holding its own text are masked out, and of the columns holding another text only
    the first is kept (see the module docstring)."""
    if not (z_mid.shape[0] == text_emb.shape[0] == text_ids.shape[0]):
        raise ValueError(
            f"batch sizes differ: z_mid {tuple(z_mid.shape)}, text_emb {tuple(text_emb.shape)}, "
            f"text_ids {tuple(text_ids.shape)}"
        )
    logits = cosine_logits(z_mid, text_emb, tau)
    n = len(text_ids)
    same = text_ids[:, None] == text_ids[None, :]
    own = torch.eye(n, dtype=torch.bool, device=same.device)
    earlier = torch.ones(n, n, dtype=torch.bool, device=same.device).tril(-1)
    first = ~(same & earlier).any(dim=1)  # column j is the first copy of its text
    keep = own | (~same & first[None, :])
    logits = logits.masked_fill(~keep, float("-inf"))
    return F.cross_entropy(logits, torch.arange(n, device=logits.device))
