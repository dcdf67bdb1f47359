"""Frame extraction: a dataset directory in, a frames artifact out (fgsgl.video.extract)."""

from kfp import dsl
from kfp.dsl import Dataset, Input, Output

from fgsgl.components.images import CPU_IMAGE


@dsl.component(base_image=CPU_IMAGE, install_kfp_package=False)
def extract_frames(
    dataset: str,
    dataset_fingerprint: str,
    frames: Output[Dataset],
    num_frames: int = 8,
    frame_size: int = 448,
    resize: str = "squash",
    max_failure_ratio: float = 0.05,
    keep_partial: bool = False,
    shard: str = "",
) -> None:
    """Decode `num_frames` uniformly sampled frames of every clip into a frames artifact.

    Args:
        dataset: the dataset directory (local path, gs:// or s3:// URI): manifest + classes.csv.
        dataset_fingerprint: content fingerprint of the dataset (manifest, classes, video
            sizes and mtimes). Not read here: it is what makes KFP's cache key change when
            the data does, since KFP does not hash the files behind a path.
        frames: the frames artifact (docs/artifacts.md "frames").
        num_frames: frames per clip (T).
        frame_size: square side in pixels (S).
        resize: "squash" or "center-crop".
        max_failure_ratio: fail the step when more clips than this fail to decode.
        keep_partial: keep the clips of a partial video (a copy cut off) that need frames
            the file lacks, sampled over what it holds, with a note in the index; default:
            they fail.
        shard: "i/n" to extract only every n-th clip starting at i (fan-out); "" for all.
    """
    from fgsgl.video.extract import extract

    summary = extract(
        dataset,
        frames.path,
        frames=num_frames,
        size=frame_size,
        resize=resize,
        shard=shard or None,
        max_failure_ratio=max_failure_ratio,
        keep_partial=keep_partial,
    )
    frames.metadata["summary"] = summary


@dsl.component(base_image=CPU_IMAGE, install_kfp_package=False)
def merge_frames(parts: Input[list[Dataset]], frames: Output[Dataset]) -> None:
    """Merge the frames artifacts of the extraction shards into one.

    Args:
        parts: the shard artifacts, in any order (from a ParallelFor fan-out).
        frames: one frames artifact holding every clip.
    """
    from fgsgl.video.extract import merge

    frames.metadata["summary"] = merge([p.path for p in parts], frames.path)
