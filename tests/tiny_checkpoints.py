"""Tiny real Hugging Face checkpoints written to a temp folder (nothing is downloaded).

Used by tests/test_model*.py: each function saves a randomly initialised model with
save_pretrained, exactly the files a hub checkpoint has, and returns its folder.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

VISION = dict(
    hidden_size=32, intermediate_size=64, num_hidden_layers=4, num_attention_heads=2,
    image_size=32, patch_size=16,
)  # fmt: skip


def clip_full(folder: Path, *, preprocessor: dict | None = None) -> Path:
    """A whole CLIPModel (vision + text towers), as openai/clip-* checkpoints are."""
    from transformers import CLIPConfig, CLIPModel

    torch.manual_seed(1)
    text = dict(
        hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
        vocab_size=99, bos_token_id=0, eos_token_id=1, pad_token_id=1,
    )  # fmt: skip
    model = CLIPModel(CLIPConfig(vision_config=VISION, text_config=text, projection_dim=16))
    model.save_pretrained(folder)
    if preprocessor is not None:
        (folder / "preprocessor_config.json").write_text(json.dumps(preprocessor))
    return folder


def internvl_vision(folder: Path) -> Path:
    """A native transformers InternVLVisionModel on its own."""
    from transformers import InternVLVisionConfig, InternVLVisionModel

    torch.manual_seed(2)
    InternVLVisionModel(InternVLVisionConfig(**VISION)).save_pretrained(folder)
    return folder


def internvl_full(folder: Path) -> Path:
    """A native InternVLForConditionalGeneration (vision tower + projector + a language
    model), saved in small shards so that the language model has shards of its own."""
    from transformers import InternVLConfig, InternVLForConditionalGeneration

    torch.manual_seed(3)
    text = dict(
        model_type="qwen2", hidden_size=32, intermediate_size=64, num_hidden_layers=1,
        num_attention_heads=2, num_key_value_heads=1, vocab_size=2048,
    )  # fmt: skip
    model = InternVLForConditionalGeneration(
        InternVLConfig(vision_config=VISION, text_config=text, image_token_id=5)
    )
    model.save_pretrained(folder, max_shard_size="100KB")
    return folder


# An original OpenGVLab InternVL2.5 checkpoint (model_type internvl_chat), in miniature:
# InternViT under vision_model.* with its fused qkv and layer-scale names, the projector
# mlp1.*, and a language model under language_model.* in shards of its own. The modelling
# file it names raises when imported: fgsgl must read it without running its code.
ORIGINAL_VISION = dict(
    hidden_size=32, intermediate_size=64, num_hidden_layers=4, num_attention_heads=2,
    image_size=64, patch_size=16,
)  # fmt: skip
ORIGINAL_LLM_HIDDEN = 48
REMOTE_CODE_TRAP = 'raise RuntimeError("the checkpoint\'s own model code was imported")\n'


def original_vision_config(**changes) -> dict:
    """The vision_config of an original checkpoint, as InternVL2_5-8B's reads (sizes tiny)."""
    return {
        "architectures": ["InternVisionModel"], "model_type": "intern_vit_6b",
        "attention_dropout": 0.0, "drop_path_rate": 0.0, "dropout": 0.0, "hidden_act": "gelu",
        "initializer_factor": 1.0, "initializer_range": 0.02, "layer_norm_eps": 1e-06,
        "norm_type": "layer_norm", "num_channels": 3, "qk_normalization": False,
        "qkv_bias": True, "use_flash_attn": False, "torch_dtype": "float32",
        **ORIGINAL_VISION, **changes,
    }  # fmt: skip


def original_weights(
    vision: dict, *, seed: int = 4, llm_hidden: int = ORIGINAL_LLM_HIDDEN
) -> dict[str, torch.Tensor]:
    """Random weights with the original names and shapes (vision, projector, language)."""
    g = torch.Generator().manual_seed(seed)

    def rnd(*shape: int, scale: float = 0.1, base: float = 0.0) -> torch.Tensor:
        return base + scale * torch.randn(*shape, generator=g)

    d, inner = vision["hidden_size"], vision["intermediate_size"]
    p, grid = vision["patch_size"], vision["image_size"] // vision["patch_size"]
    w = {
        "vision_model.embeddings.class_embedding": rnd(1, 1, d),
        "vision_model.embeddings.patch_embedding.weight": rnd(d, 3, p, p, scale=0.05),
        "vision_model.embeddings.patch_embedding.bias": rnd(d),
        "vision_model.embeddings.position_embedding": rnd(1, grid * grid + 1, d),
    }
    for i in range(vision["num_hidden_layers"]):
        layer = f"vision_model.encoder.layers.{i}."
        w |= {
            layer + "attn.qkv.weight": rnd(3 * d, d, scale=0.2),
            layer + "attn.proj.weight": rnd(d, d, scale=0.2),
            layer + "attn.proj.bias": rnd(d),
            layer + "mlp.fc1.weight": rnd(inner, d, scale=0.2),
            layer + "mlp.fc1.bias": rnd(inner),
            layer + "mlp.fc2.weight": rnd(d, inner, scale=0.2),
            layer + "mlp.fc2.bias": rnd(d),
            layer + "norm1.weight": rnd(d, base=1.0),
            layer + "norm2.weight": rnd(d, base=1.0),
            layer + "ls1": rnd(d, scale=0.3, base=0.5),
            layer + "ls2": rnd(d, scale=0.3, base=0.5),
        }
        if vision.get("norm_type") == "layer_norm":  # RMSNorm has no bias
            w[layer + "norm1.bias"] = rnd(d)
            w[layer + "norm2.bias"] = rnd(d)
        if vision.get("qkv_bias"):
            w[layer + "attn.qkv.bias"] = rnd(3 * d)
        if vision.get("qk_normalization"):
            w[layer + "attn.q_norm.weight"] = rnd(d, base=1.0)
            w[layer + "attn.k_norm.weight"] = rnd(d, base=1.0)
    h = llm_hidden
    w |= {
        "mlp1.0.weight": rnd(4 * d, base=1.0), "mlp1.0.bias": rnd(4 * d),
        "mlp1.1.weight": rnd(h, 4 * d), "mlp1.1.bias": rnd(h),
        "mlp1.3.weight": rnd(h, h), "mlp1.3.bias": rnd(h),
        "language_model.model.tok_embeddings.weight": rnd(64, h),
        "language_model.model.layers.0.attention.wqkv.weight": rnd(3 * h, h),
        "language_model.model.norm.weight": rnd(h, base=1.0),
        "language_model.output.weight": rnd(64, h),
    }  # fmt: skip
    return w


def internvl_original(
    folder: Path,
    *,
    seed: int = 4,
    llm_config: dict | None = None,
    language: dict[str, torch.Tensor] | None = None,
    **vision_changes,
) -> dict[str, torch.Tensor]:
    """Write an original-layout checkpoint to `folder`; returns the weights it holds.
    `llm_config` and `language` (language_model.* tensors) replace the stand-in language
    model (which no test runs) with one that runs."""
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    vision = original_vision_config(**vision_changes)
    config = {
        "architectures": ["InternVLChatModel"], "model_type": "internvl_chat",
        "auto_map": {
            "AutoConfig": "configuration_internvl_chat.InternVLChatConfig",
            "AutoModel": "modeling_internvl_chat.InternVLChatModel",
        },
        "downsample_ratio": 0.5, "select_layer": -1, "ps_version": "v2",
        "template": "internvl2_5", "force_image_size": vision["image_size"],
        "vision_config": vision,
        "llm_config": llm_config or {
            "architectures": ["InternLM2ForCausalLM"], "model_type": "internlm2",
            "hidden_size": ORIGINAL_LLM_HIDDEN, "num_hidden_layers": 1, "vocab_size": 64,
            "auto_map": {"AutoModel": "modeling_internlm2.InternLM2ForCausalLM"},
        },
    }  # fmt: skip
    (folder / "config.json").write_text(json.dumps(config, indent=2))
    for name in (
        "modeling_internvl_chat.py",
        "configuration_internvl_chat.py",
        "modeling_intern_vit.py",
    ):
        (folder / name).write_text(REMOTE_CODE_TRAP)
    weights = original_weights(vision, seed=seed, llm_hidden=config["llm_config"]["hidden_size"])
    if language is not None:
        weights = {k: v for k, v in weights.items() if not k.startswith("language_model.")}
        weights |= language
    shards = {  # the language model apart from the vision tower, as in the real release
        "model-00001-of-00003.safetensors": lambda k: k.startswith("vision_model."),
        "model-00002-of-00003.safetensors": lambda k: k.startswith("mlp1."),
        "model-00003-of-00003.safetensors": lambda k: k.startswith("language_model."),
    }
    weight_map = {}
    for shard, belongs in shards.items():
        part = {k: v.contiguous() for k, v in weights.items() if belongs(k)}
        save_file(part, str(folder / shard), metadata={"format": "pt"})
        weight_map |= dict.fromkeys(part, shard)
    index = {"metadata": {"total_size": 0}, "weight_map": weight_map}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index, indent=2))
    return weights
