"""How a sentence embedding is pooled from a text model's token states, and which encoder
family takes which pooling. Names only (no torch): the CLI lists them without loading a
model; the computation is `fgsgl.text.encoders.pool`.

An encoder model (BERT, MiniLM) lets every token see the whole sentence, so any token state
describes all of it:
- `mean`: the mean over all real tokens, special ones ([CLS], [SEP]) included. This is what
  sentence-transformers does, and what all-MiniLM-L6-v2 was trained with; `minilm` takes
  nothing else, so that its embeddings keep matching sentence-transformers' exactly.
- `cls`: the first token's state, for encoders trained to summarise there.

A causal language model (InternVL's InternLM2, Qwen2, Llama) differs in two ways:
- token i sees only tokens 0..i. The BOS token the tokenizer prepends sees only itself: its
  state is the same for every text, and in large LMs it is typically a "massive activation"
  (an attention sink) far larger than the other states. A plain `mean` is then pulled
  toward one shared vector and every text looks alike. `mean_text` (the default for
  `internvl`) averages the text's own tokens only, leaving out what the tokenizer calls
  special (BOS, EOS, pad: its get_special_tokens_mask over the ids it produced, no
  hard-coded ids; an unk stays, it stands for a piece of the text). A text made of special
  tokens alone falls back to `mean`.
- only the last token has seen the whole sentence. `last` takes the last real token's state
  (with right padding, the position before the first pad; an appended EOS, where the
  tokenizer adds one, is that token). Last-token embedding models (E5-Mistral, GTE-Qwen) are
  trained for it; a chat LM's last state leans toward predicting the next word.
- `cls` would be the BOS state, the same for every text: `internvl` refuses it.
"""

from __future__ import annotations

from fgsgl.errors import FgsglError

POOLINGS = ("mean", "mean_text", "last", "cls")

# Which poolings each encoder family accepts; the first is its default. `hf` has no fixed
# default: the folder's sentence-transformers config decides, else `mean`.
FAMILY_POOLINGS: dict[str, tuple[str, ...]] = {
    "minilm": ("mean",),
    "hf": ("mean", "mean_text", "last", "cls"),
    "internvl": ("mean_text", "mean", "last"),
}
_WHY = {
    "minilm": "the pooling its weights were trained with, as sentence-transformers applies it; "
    "other poolings apply to hf:<path-or-id> encoders",
    "internvl": "a causal language model's first token is BOS, whose state is the same for "
    "every text",
}


def check_pooling(family: str, pooling: str | None) -> None:
    """Refuse an unknown pooling, or one that this encoder family does not take."""
    if pooling is None:
        return
    if pooling not in POOLINGS:
        raise FgsglError(f"pooling {pooling!r}: not one of {', '.join(POOLINGS)}")
    accepted = FAMILY_POOLINGS[family]
    if pooling not in accepted:
        raise FgsglError(
            f"encoder {family!r} takes --pooling {' | '.join(accepted)}, not {pooling} "
            f"({_WHY[family]})"
        )
