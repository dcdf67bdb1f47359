"""The original InternViT and InternVL projector, written out from OpenGVLab's modelling code
(modeling_intern_vit.py: InternVisionEmbeddings, InternAttention._naive_attn,
InternVisionEncoderLayer; modeling_internvl_chat.py: extract_feature, pixel_shuffle v2) as
plain functions of the original-layout tensors. The reference that fgsgl's mapping onto the
native classes is checked against: it shares no code with fgsgl.model.internvl."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def _norm(x: Tensor, w: dict[str, Tensor], name: str, norm_type: str, eps: float) -> Tensor:
    if norm_type == "layer_norm":
        return F.layer_norm(x, x.shape[-1:], w[name + ".weight"], w[name + ".bias"], eps)
    variance = x.float().pow(2).mean(-1, keepdim=True)  # InternRMSNorm
    return w[name + ".weight"] * (x * torch.rsqrt(variance + eps))


def vision_forward(w: dict[str, Tensor], vision: dict, pixels: Tensor) -> list[Tensor]:
    """Hidden states after the embeddings and after each layer (the original's order)."""
    heads = vision["num_attention_heads"]
    eps, norm_type = vision["layer_norm_eps"], vision["norm_type"]
    v = "vision_model."
    x = F.conv2d(
        pixels,
        w[v + "embeddings.patch_embedding.weight"],
        w[v + "embeddings.patch_embedding.bias"],
        stride=vision["patch_size"],
    )
    x = x.flatten(2).transpose(1, 2)
    cls = w[v + "embeddings.class_embedding"].expand(x.shape[0], 1, -1)
    x = torch.cat([cls, x], dim=1) + w[v + "embeddings.position_embedding"]
    states = [x]
    for i in range(vision["num_hidden_layers"]):
        p = f"{v}encoder.layers.{i}."
        h = _norm(x, w, p + "norm1", norm_type, eps)
        b, n, c = h.shape
        qkv = F.linear(h, w[p + "attn.qkv.weight"], w.get(p + "attn.qkv.bias"))
        q, k, val = qkv.reshape(b, n, 3, heads, c // heads).permute(2, 0, 3, 1, 4).unbind(0)
        if vision.get("qk_normalization"):
            q = _norm(q.transpose(1, 2).flatten(-2), w, p + "attn.q_norm", "rms_norm", eps)
            k = _norm(k.transpose(1, 2).flatten(-2), w, p + "attn.k_norm", "rms_norm", eps)
            q = q.view(b, n, heads, c // heads).transpose(1, 2)
            k = k.view(b, n, heads, c // heads).transpose(1, 2)
        attn = ((q * (c // heads) ** -0.5) @ k.transpose(-2, -1)).softmax(dim=-1)
        out = (attn @ val).transpose(1, 2).reshape(b, n, c)
        out = F.linear(out, w[p + "attn.proj.weight"], w[p + "attn.proj.bias"])
        x = x + out * w[p + "ls1"]
        h = _norm(x, w, p + "norm2", norm_type, eps)
        h = F.linear(h, w[p + "mlp.fc1.weight"], w[p + "mlp.fc1.bias"])
        h = F.linear(F.gelu(h), w[p + "mlp.fc2.weight"], w[p + "mlp.fc2.bias"])
        x = x + h * w[p + "ls2"]
        states.append(x)
    return states


def pixel_shuffle(x: Tensor, scale: float = 0.5) -> Tensor:
    n, wd, ht, c = x.size()
    x = x.view(n, wd, int(ht * scale), int(c / scale))
    x = x.permute(0, 2, 1, 3).contiguous()
    x = x.view(n, int(ht * scale), int(wd * scale), int(c / (scale * scale)))
    return x.permute(0, 2, 1, 3).contiguous()


def projector_forward(w: dict[str, Tensor], last: Tensor, scale: float = 0.5) -> Tensor:
    """extract_feature after the tower: CLS dropped, pixel shuffle, mlp1. (N, L', text)."""
    tokens = last[:, 1:, :]
    side = int(tokens.shape[1] ** 0.5)
    x = pixel_shuffle(tokens.reshape(tokens.shape[0], side, side, -1), scale)
    x = x.reshape(x.shape[0], -1, x.shape[-1])
    x = F.layer_norm(x, x.shape[-1:], w["mlp1.0.weight"], w["mlp1.0.bias"], 1e-5)
    x = F.gelu(F.linear(x, w["mlp1.1.weight"], w["mlp1.1.bias"]))
    return F.linear(x, w["mlp1.3.weight"], w["mlp1.3.bias"])
