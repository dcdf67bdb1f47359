"""FG-Text encoding: a dataset directory in, a texts artifact out (fgsgl.text.encode)."""

from kfp import dsl
from kfp.dsl import Dataset, Output

from fgsgl.components.images import CPU_IMAGE


@dsl.component(base_image=CPU_IMAGE, install_kfp_package=False)
def encode_text(
    dataset: str,
    dataset_fingerprint: str,
    texts: Output[Dataset],
    text_encoder: str = "minilm",
    text_pooling: str = "",
    text_dtype: str = "",
    text_trust_remote_code: bool = False,
) -> None:
    """Embed every unique fine-grained text T_fg and class text T_c once, with a frozen encoder.

    Args:
        dataset: the dataset directory (local path or gs:// URI).
        dataset_fingerprint: content fingerprint of the dataset; only part of the cache key.
        texts: the texts artifact (docs/artifacts.md "texts").
        text_encoder: "minilm" (packaged, offline), a Hugging Face encoder, or InternVL's
            language model (see fgsgl.text.encoders).
        text_pooling: pooling of token states; "" = the encoder's own default.
        text_dtype: weights dtype; "" = automatic (bf16 on CUDA, fp32 on CPU).
        text_trust_remote_code: allow the encoder's own code from its checkpoint.
    """
    from fgsgl.text.encode import encode_texts

    texts.metadata["summary"] = encode_texts(
        dataset,
        texts.path,
        encoder=text_encoder,
        pooling=text_pooling or None,
        dtype=text_dtype or None,
        trust_remote_code=text_trust_remote_code,
    )
