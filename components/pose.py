"""Keypoints for videos that have none: a dataset directory in, the same dataset with
MediaPipe keypoints out (fgsgl.pose), on the CPU image (whose pose runtime is /opt/pose).

Not a task of the training pipeline: it runs once per dataset, as a pipeline of its own,
and its output's URI is then the `dataset` of the training pipeline (its manifest names the
input's videos by absolute path, gs:// or s3:// URI and its own keypoints files)."""

from kfp import dsl
from kfp.dsl import Dataset, Output

from fgsgl.components.images import CPU_IMAGE


@dsl.component(base_image=CPU_IMAGE, install_kfp_package=False)
def estimate_pose(
    dataset: str,
    dataset_fingerprint: str,
    keypoints: Output[Dataset],
    model: str = "holistic",
    frames: str = "clips",
    max_side: int = 0,
    max_failure_ratio: float = 0.05,
) -> None:
    """2D keypoints (MediaPipe Holistic: body 33, hands 2 x 21) for every video of `dataset`.

    Args:
        dataset: the dataset directory (local path, gs:// or s3:// URI).
        dataset_fingerprint: content fingerprint of the dataset; only part of the cache key.
        keypoints: a dataset directory: the input's clips with a `keypoints` column
            (docs/artifacts.md "pose"); its URI is a dataset for the training pipeline.
        model: "holistic" (body and hands) or "pose" (body only, about twice as fast).
        frames: "clips" (the frames of the clips' ranges) or "all" (every frame).
        max_side: scale frames whose longer side exceeds this many pixels down first
            (0: never); the keypoints stay in the video's pixels.
        max_failure_ratio: fail the step when more than this share of the videos fail
            (after writing the others and failures.csv).
    """
    from fgsgl.pose import estimate_pose as estimate

    summary = estimate(
        dataset,
        keypoints.path,
        model=model,
        frames=frames,
        max_side=max_side,
        max_failure_ratio=max_failure_ratio,
        progress=False,
    )
    keypoints.metadata.update(
        {k: summary[k] for k in ("videos", "done", "failed", "estimated", "found_share")}
    )
