"""FG-Text encoding: a dataset directory in, a texts artifact out (fgsgl.text.encode)."""

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Output

from fgsgl.components.images import CPU_IMAGE


@dsl.component(base_image=CPU_IMAGE, install_kfp_package=False)
def encode_text(
    dataset: str,
    dataset_fingerprint: str,
    text_weights: Input[Artifact],
    attributes: Input[Artifact],
    texts: Output[Dataset],
    text_encoder: str = "minilm",
    text_pooling: str = "",
    text_dtype: str = "",
    text_trust_remote_code: bool = False,
    text_paraphrases: bool = False,
) -> None:
    """Embed every unique fine-grained text T_fg and class text T_c once, with a frozen encoder.

    Args:
        dataset: the dataset directory (local path, gs:// or s3:// URI).
        dataset_fingerprint: content fingerprint of the dataset; only part of the cache key.
        text_weights: the encoder's fetched checkpoint (fetch-text-encoder).
        attributes: each clip's attributes and their sources (derive-attributes).
        texts: the texts artifact (docs/artifacts.md "texts").
        text_encoder: "minilm" (packaged, offline), a Hugging Face encoder, or InternVL's
            language model (see fgsgl.text.encoders).
        text_pooling: how token states become one vector: "mean", "mean_text" (without
            BOS/EOS/pad), "last" or "cls"; "" = the encoder's default (minilm: mean, its
            only one; internvl: mean_text; hf: its sentence-transformers setting, else
            mean). Recorded in the artifact's metadata with the texts' geometry.
        text_dtype: weights dtype; "" = automatic (bf16 on CUDA, fp32 on CPU).
        text_trust_remote_code: allow the encoder's own code from its checkpoint.
        text_paraphrases: one of four sentence templates per attribute set (default one).
    """
    from fgsgl.text.encode import encode_texts
    from fgsgl.weights import has_files

    texts.metadata["summary"] = encode_texts(
        dataset,
        texts.path,
        encoder=text_encoder,
        pooling=text_pooling or None,
        dtype=text_dtype or None,
        trust_remote_code=text_trust_remote_code,
        weights=text_weights.path if has_files(text_weights.path) else None,
        attributes=attributes.path,
        paraphrase=text_paraphrases,
    )
