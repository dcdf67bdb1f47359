"""FG-Text attributes: a dataset directory in, an attributes artifact out
(fgsgl.attributes.artifact), cached and fingerprinted like every other step's."""

from kfp import dsl
from kfp.dsl import Artifact, Output

from fgsgl.components.images import CPU_IMAGE


@dsl.component(base_image=CPU_IMAGE, install_kfp_package=False)
def derive_attributes(
    dataset: str,
    dataset_fingerprint: str,
    attributes: Output[Artifact],
    fg_attributes: str = "auto",
) -> None:
    """Each clip's initiator, receiver, direction and motion, with their sources.

    Args:
        dataset: the dataset directory (local path, gs:// or s3:// URI).
        dataset_fingerprint: content fingerprint of the dataset; only part of the cache key.
        attributes: the attributes artifact (docs/artifacts.md "attributes").
        fg_attributes: "auto" (the manifest's where a clip has them, else derived from its
            keypoints, unknowns from the class table), "annotated", "derived" or "class".
    """
    from fgsgl.attributes.artifact import derive_attributes as derive

    meta = derive(dataset, attributes.path, mode=fg_attributes, progress=False)
    attributes.metadata.update(
        {"mode": meta["mode"], "with_fg_text": meta["counts"]["with_fg_text"]}
    )
