"""Weights fetch: a backbone's or a text encoder's checkpoint, once, into an artifact
(fgsgl.weights). Two components so that each task's cache key holds only its own model
name: changing the text encoder refetches nothing of the backbone's, and the reverse."""

from kfp import dsl
from kfp.dsl import Artifact, Output

from fgsgl.components.images import CPU_IMAGE


@dsl.component(base_image=CPU_IMAGE, install_kfp_package=False)
def fetch_backbone(backbone: str, weights: Output[Artifact], weights_mirror: str = "") -> None:
    """Copy the vision part of the backbone's checkpoint (config, the shards that hold the
    vision tower and its projector) into an artifact that training and evaluation read.

    Args:
        backbone: the backbone name, e.g. "internvl:OpenGVLab/InternVL2_5-8B@COMMIT"; a name
            without a checkpoint (tiny-clip) gives an artifact without files.
        weights: the weights artifact (docs/artifacts.md "weights").
        weights_mirror: a folder, gs:// or s3:// prefix holding ORG/NAME@REVISION/ snapshots, for
            clusters without hub access; "" = the Hugging Face hub.
    """
    from fgsgl.weights import fetch_weights

    meta = fetch_weights(backbone, weights.path, part="vision", mirror=weights_mirror or None)
    weights.metadata.update({k: meta[k] for k in ("name", "commit", "source") if meta[k]})


@dsl.component(base_image=CPU_IMAGE, install_kfp_package=False)
def fetch_text_encoder(
    text_encoder: str, weights: Output[Artifact], weights_mirror: str = ""
) -> None:
    """Copy the language part of the text encoder's checkpoint (configs, tokenizer, the
    language model's shards) into an artifact that text encoding reads.

    Args:
        text_encoder: the encoder name, e.g. "internvl:OpenGVLab/InternVL2_5-8B@COMMIT";
            minilm (packaged) gives an artifact without files.
        weights: the weights artifact (docs/artifacts.md "weights").
        weights_mirror: a folder, gs:// or s3:// prefix holding ORG/NAME@REVISION/ snapshots;
            "" = the Hugging Face hub.
    """
    from fgsgl.weights import fetch_weights

    meta = fetch_weights(text_encoder, weights.path, part="language", mirror=weights_mirror or None)
    weights.metadata.update({k: meta[k] for k in ("name", "commit", "source") if meta[k]})
