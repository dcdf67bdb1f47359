"""Tiny real text models for the text tests, built from configs and saved to a folder.

Nothing is downloaded: the BERT encoder borrows the vocabulary that the packaged MiniLM
ships, the language models get a word-level tokenizer made here with `tokenizers`.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import torch

from fgsgl.dataset import write_tables

SENTENCE_WORDS = (
    "a person moves reaches the with and to right left hand hands both eye eyes neck nose "
    "mouth palms forehead upward inward outward forward straight across body rubs touches "
    "it briefly quickly slowly in small wide circles scratches covers"
)


def minilm_tokenizer_files(folder: Path) -> None:
    from fgsgl.text.encoders import minilm_folder

    for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(minilm_folder() / name, folder / name)


def tiny_bert(folder: Path, *, seed: int = 0) -> Path:
    """A 2-layer, 32-wide BERT with MiniLM's tokenizer, saved as safetensors."""
    from transformers import BertConfig, BertModel

    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=30522,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=48,
        max_position_embeddings=128,
    )
    BertModel(config).eval().save_pretrained(folder)
    minilm_tokenizer_files(folder)
    return folder


def word_tokenizer(folder: Path) -> int:
    """A lower-casing word-level tokenizer that prepends <s> and has no pad token (as many
    causal language models do). Returns its vocabulary size."""
    from tokenizers import Tokenizer, normalizers, pre_tokenizers, processors
    from tokenizers.models import WordLevel
    from transformers import PreTrainedTokenizerFast

    words = ["[UNK]", "<s>", "</s>", *dict.fromkeys(SENTENCE_WORDS.split())]
    vocab = {w: i for i, w in enumerate(words)}
    tok = Tokenizer(WordLevel(vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A $B", special_tokens=[("<s>", 1)]
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="[UNK]"
    )
    fast.save_pretrained(folder)
    return len(vocab)


def tiny_internvl(folder: Path, *, seed: int = 0):
    """A tiny transformers-native InternVL (Qwen2 text side, a 1-layer vision tower)."""
    from transformers import InternVLConfig, InternVLForConditionalGeneration

    folder.mkdir(parents=True, exist_ok=True)
    vocab = word_tokenizer(folder)
    config = InternVLConfig(
        vision_config=dict(
            hidden_size=16,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=32,
            image_size=28,
            patch_size=14,
        ),
        text_config=dict(
            model_type="qwen2",
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            num_key_value_heads=1,
            intermediate_size=48,
            vocab_size=vocab + 1,
        ),
        image_token_id=vocab,
    )
    torch.manual_seed(seed)
    model = InternVLForConditionalGeneration(config).eval()
    model.save_pretrained(folder)
    return model


def as_internvl_chat(native: Path, folder: Path) -> None:
    """The same weights under an original InternVL chat config (llm_config, no text_config)."""
    folder.mkdir(parents=True, exist_ok=True)
    config = json.loads((native / "config.json").read_text())
    text = config["text_config"]
    chat = {
        "model_type": "internvl_chat",
        "architectures": ["InternVLChatModel"],
        "auto_map": {"AutoModel": "modeling_internvl_chat.InternVLChatModel"},
        "llm_config": {**text, "architectures": ["Qwen2ForCausalLM"]},
        "vision_config": config["vision_config"],
    }
    (folder / "config.json").write_text(json.dumps(chat))
    for f in native.iterdir():
        if f.name != "config.json":
            shutil.copy(f, folder / f.name)


REMOTE_CONFIG = """
from transformers import PretrainedConfig


class FakeLMConfig(PretrainedConfig):
    model_type = "fakelm"

    def __init__(self, vocab_size=64, hidden_size=16, **kwargs):
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        super().__init__(**kwargs)
"""

REMOTE_MODEL = """
import torch
from transformers import PreTrainedModel
from transformers.modeling_outputs import BaseModelOutput

from .configuration_fakelm import FakeLMConfig


class FakeLMModel(PreTrainedModel):
    config_class = FakeLMConfig

    def __init__(self, config):
        super().__init__(config)
        self.tok_embeddings = torch.nn.Embedding(config.vocab_size, config.hidden_size)
        self.proj = torch.nn.Linear(config.hidden_size, config.hidden_size)
        self.post_init()

    def get_input_embeddings(self):
        return self.tok_embeddings

    def forward(self, input_ids, attention_mask=None, **kwargs):
        hidden = torch.tanh(self.proj(self.tok_embeddings(input_ids)))
        return BaseModelOutput(last_hidden_state=hidden)


class FakeLMForCausalLM(PreTrainedModel):
    config_class = FakeLMConfig

    def __init__(self, config):
        super().__init__(config)
        self.model = FakeLMModel(config)
        self.output = torch.nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.post_init()

    def get_input_embeddings(self):
        return self.model.tok_embeddings
"""


REMOTE_TOKENIZER = """
import json
import os

from transformers import PreTrainedTokenizer


class FakeLMTokenizer(PreTrainedTokenizer):
    \"\"\"A slow word-level tokenizer that prepends <s>, with InternLM2's special-tokens mask:
    copied from an old Llama tokenizer, it counts an EOS it never adds.\"\"\"

    vocab_files_names = {"vocab_file": "vocab.json"}
    model_input_names = ["input_ids", "attention_mask"]

    def __init__(self, vocab_file, **kwargs):
        with open(vocab_file) as f:
            self.vocab = json.load(f)
        self.words = {i: w for w, i in self.vocab.items()}
        kwargs = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "[UNK]", **kwargs}
        super().__init__(**kwargs)

    @property
    def vocab_size(self):
        return len(self.vocab)

    def get_vocab(self):
        return dict(self.vocab)

    def _tokenize(self, text, **kwargs):
        return text.lower().replace(".", " ").replace(",", " ").split()

    def _convert_token_to_id(self, token):
        return self.vocab.get(token, self.vocab["[UNK]"])

    def _convert_id_to_token(self, index):
        return self.words[index]

    def build_inputs_with_special_tokens(self, token_ids_0, token_ids_1=None):
        return [self.bos_token_id] + token_ids_0 + (token_ids_1 or [])

    def get_special_tokens_mask(self, ids_0, ids_1=None, already_has_special_tokens=False):
        if already_has_special_tokens:
            return super().get_special_tokens_mask(ids_0, ids_1, True)
        return [1] + [0] * len(ids_0) + [1]

    def save_vocabulary(self, save_directory, filename_prefix=None):
        path = os.path.join(save_directory, "vocab.json")
        with open(path, "w") as f:
            json.dump(self.vocab, f)
        return (path,)
"""


def remote_code_tokenizer(folder: Path) -> None:
    """Replace the folder's tokenizer by FakeLMTokenizer, a Python file in the folder (as
    InternVL2.5-8B's InternLM2Tokenizer is): slow, and with InternLM2's misaligned mask."""
    tok = json.loads((folder / "tokenizer.json").read_text())
    vocab = tok["model"]["vocab"]
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        (folder / name).unlink(missing_ok=True)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "tokenization_fakelm.py").write_text(REMOTE_TOKENIZER)
    config = {
        "tokenizer_class": "FakeLMTokenizer",
        "auto_map": {"AutoTokenizer": ["tokenization_fakelm.FakeLMTokenizer", None]},
    }
    (folder / "tokenizer_config.json").write_text(json.dumps(config))


def remote_code_internvl(folder: Path, *, seed: int = 0) -> dict[str, torch.Tensor]:
    """An InternVL-chat-style checkpoint whose language model is defined by Python files in
    the folder (as InternVL2.5-8B's InternLM2 is). Returns the weights it saved."""
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    vocab = word_tokenizer(folder)
    (folder / "configuration_fakelm.py").write_text(REMOTE_CONFIG)
    (folder / "modeling_fakelm.py").write_text(REMOTE_MODEL)
    llm = {
        "model_type": "fakelm",
        "architectures": ["FakeLMForCausalLM"],
        "vocab_size": vocab,
        "hidden_size": 16,
        "auto_map": {
            "AutoConfig": "configuration_fakelm.FakeLMConfig",
            "AutoModel": "modeling_fakelm.FakeLMForCausalLM",
        },
    }
    config = {
        "model_type": "internvl_chat",
        "architectures": ["InternVLChatModel"],
        "llm_config": llm,
    }
    (folder / "config.json").write_text(json.dumps(config))
    g = torch.Generator().manual_seed(seed)
    weights = {
        "language_model.model.tok_embeddings.weight": torch.randn(vocab, 16, generator=g),
        "language_model.model.proj.weight": torch.randn(16, 16, generator=g) / 4,
        "language_model.model.proj.bias": torch.randn(16, generator=g),
        "language_model.output.weight": torch.randn(vocab, 16, generator=g),
        "vision_model.patch.weight": torch.randn(8, 3, generator=g),
        "mlp1.0.weight": torch.randn(16, 8, generator=g),
    }
    save_file(weights, str(folder / "model.safetensors"))
    return weights


# ------------------------------------------------------------------ datasets

CLASSES = pd.DataFrame(
    {
        "id": [0, 1, 2],
        "name": ["rubbing eyes", "touching neck", "covering mouth"],
        "description": ["A person rubs their eyes with one or both hands.", "", ""],
    }
)
RECEIVERS = ("left eye", "neck", "mouth")
MOTIONS = ("rubs quickly in small circles", "touches it briefly", "covers it briefly")


def synthmg_like_dataset(folder: Path, clips: int = 24) -> Path:
    """A dataset whose clips share attributes as SynthMG clips do (few unique texts)."""
    rows = []
    for i in range(clips):
        label = i % 3
        rows.append(
            {
                "clip_id": f"{i:04d}",  # leading zeros: ids must stay strings
                "video": f"videos/{i:04d}.mp4",
                "label": label,
                "split": ("train", "val", "test")[i % 3],
                "subject": f"s{i % 4}",
                "initiator": ("right hand", "left hand")[(i // 3) % 2],
                "receiver": RECEIVERS[label],
                "direction": "upward and inward",
                "motion": MOTIONS[label],
            }
        )
    write_tables(folder, pd.DataFrame(rows), CLASSES)
    return folder
