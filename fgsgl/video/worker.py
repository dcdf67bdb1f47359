"""The work of one extraction process: decode the clips of one video into their slots.

A task is one local video file and the clips of it still to do. The video is opened once
(its packet index read once) for all of them; each clip's T frames are decoded, written
straight into the clip's slot of its shard file, and checksummed. What goes back to the
main process is small: checksums, indices, notes, errors, keypoints. A bad video or clip
becomes an error result; it never stops the other clips.
"""

from __future__ import annotations

import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fgsgl.video.decode import VideoError, VideoFile
from fgsgl.video.frames import ShardLayout, clip_checksum, write_slot
from fgsgl.video.partial import clip_note, inside
from fgsgl.video.plan import ClipJob
from fgsgl.video.resize import to_output_pixels
from fgsgl.video.sampling import NoFramesError, sample_indices


@dataclass(frozen=True)
class VideoTask:
    path: str  # local file (a remote video was downloaded first)
    jobs: tuple[ClipJob, ...]
    frames: int
    size: int
    resize: str
    shard_files: dict[int, str]  # shard -> the partial file its slots are written into
    layouts: dict[int, ShardLayout] = field(default_factory=dict)  # set when the files exist
    keypoints_files: dict[str, str] = field(default_factory=dict)  # clip_id -> local file
    joints: int | None = None  # J every keypoints file must have (None: not known yet)
    keep_partial: bool = False  # clips of a partial video needing frames it lacks: kept


@dataclass
class ClipResult:
    clip_id: str
    shard: int
    slot: int
    crc32: str | None = None
    frame_indices: list[int] | None = None
    note: str = ""
    error: str | None = None
    keypoints: np.ndarray | None = None  # float32 (T, J, 3)
    kept_partial: bool = False  # kept by keep_partial only (fgsgl.video.partial)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None


def init_process() -> None:
    """Pool initializer: Ctrl-C is the main process's to handle (it stops the pool), and
    the resize runs on this process's one thread (parallelism is across processes; and
    OpenMP, which torch would start, must not be used in a forked child of a process that
    started it)."""
    import torch

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    torch.set_num_threads(1)


def run_task(task: VideoTask) -> list[ClipResult]:
    """Extract every clip of the task; one result per clip, in the task's order."""
    started = time.perf_counter()
    try:
        video = VideoFile(task.path, size=task.size, resize=task.resize)
    except VideoError as e:
        return [ClipResult(j.clip_id, j.shard, j.slot, error=str(e)) for j in task.jobs]
    results = []
    for job in task.jobs:
        result = _run_clip(video, job, task)
        result.seconds = time.perf_counter() - started
        started = time.perf_counter()
        results.append(result)
    return results


def read_clip(
    video: VideoFile,
    start: int | None,
    end: int | None,
    frames: int,
    *,
    keep_partial: bool = False,
) -> tuple[np.ndarray, list[int], str]:
    """One clip's T frames exactly as the frames artifact stores them, its frame indices and
    its note: the one definition of a clip's pixels, shared by extraction and prediction
    (fgsgl.predict), so a model sees new videos as it saw its training clips. A clip of a
    partial video that needs frames the file lacks raises PartialClipError (a
    NoFramesError) unless `keep_partial`."""
    short = video.shortfall
    partial = "" if short is None else clip_note(short, start, end, keep=keep_partial)
    indices, note = sample_indices(start, end, video.frame_count, frames)
    note = "; ".join(n for n in (partial, note) if n)
    return video.read(indices), indices, note


def _run_clip(video: VideoFile, job: ClipJob, task: VideoTask) -> ClipResult:
    result = ClipResult(job.clip_id, job.shard, job.slot)
    try:
        clip, indices, note = read_clip(
            video, job.start, job.end, task.frames, keep_partial=task.keep_partial
        )
        keypoints = None
        if job.keypoints_uri is not None:
            local = task.keypoints_files[job.clip_id]
            keypoints = clip_keypoints(local, job.keypoints_uri, indices, video, task.joints)
    except (VideoError, NoFramesError, KeypointsError) as e:
        result.error = str(e)
        return result
    write_slot(Path(task.shard_files[job.shard]), task.layouts[job.shard], job.slot, clip)
    result.crc32 = clip_checksum(clip)
    result.frame_indices = indices
    result.note = note
    result.kept_partial = video.shortfall is not None and not inside(
        video.shortfall, job.start, job.end
    )
    result.keypoints = keypoints
    return result


class KeypointsError(Exception):
    """A clip's keypoints file is missing, unreadable or does not cover its frames."""


def clip_keypoints(
    path: str, name: str, indices: list[int], video: VideoFile, joints: int | None
) -> np.ndarray:
    """The keypoints at the sampled frames, in the stored S x S frame's pixel coordinates.

    The file is an .npy array (F, J, 2|3) in the video's pixel coordinates (pixel centres
    at integers), one row per video frame; a missing confidence is 1. `name` is how the
    manifest calls the file (`path` may be a downloaded copy). It is memory-mapped: an
    imported dataset has one file per video, shared by all its clips, of which a clip reads
    only its T rows.
    """
    try:
        points = np.load(path, allow_pickle=False, mmap_mode="r")
    except (OSError, ValueError) as e:
        raise KeypointsError(f"keypoints {name}: unreadable ({e})") from e
    if points.ndim != 3 or points.shape[2] not in (2, 3):
        raise KeypointsError(f"keypoints {name}: shape {points.shape}, expected (F, J, 2|3)")
    if max(indices) >= len(points):
        raise KeypointsError(
            f"keypoints {name}: {len(points)} frames, the clip needs frame {max(indices)}"
        )
    if joints is not None and points.shape[1] != joints:
        raise KeypointsError(
            f"keypoints {name}: {points.shape[1]} joints, the dataset's have {joints}"
        )
    picked = points[indices].astype(np.float32)
    if picked.shape[2] == 2:
        picked = np.concatenate([picked, np.ones_like(picked[..., :1])], axis=2)
    assert video.native_size is not None  # the clip was read first
    to_output_pixels(picked, *video.native_size, video.size, video.resize)
    return picked
