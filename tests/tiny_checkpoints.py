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
