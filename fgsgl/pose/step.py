"""The pose step: a dataset directory in, the same dataset with estimated keypoints out.

    estimate_pose(dataset, out, model="holistic", frames="clips", ...) -> summary dict

Each video of the dataset is decoded once, in order, by fgsgl's decoder (decord, as
`fgsgl extract` reads it; rotation applied), and its frames go to the estimator
(fgsgl.pose.estimator, in the pose runtime: fgsgl.pose.runtime). Which frames:
- frames="clips" (the default): the frames of the video's clips (their start_frame ..
  end_frame; a clip without them is the whole video). Ranges less than MERGE_GAP frames
  apart are run through as one track; at each other range the tracker starts afresh. A
  long recording whose clips cover a small part of it costs only that part.
- frames="all": every frame, one track.
Either way a video's file has one row per video frame (rows not estimated: confidence 0).

OUT is a dataset directory: manifest.csv (the input's rows; `video` the input's videos as
absolute paths, gs:// or s3:// URIs, `keypoints` the file relative to OUT, empty for a video that
failed), classes.csv, keypoints.json (joints, source, coordinates, per-video counts) and
failures.csv (clip_id, video, error: every clip of a video that could not be read or
estimated; the other videos go on). Keypoints: keypoints/<video>-<key>.npy, float32
(F, 75, 3) (joints: fgsgl.pose.estimator.JOINTS; x, y in the video's pixels, pixel centres
at integers; confidence 0 = not found).

Resumable: a video's file is written whole (temp file + rename) and named by a key over
the video (path, size, mtime), its frame ranges and the estimator's settings and version,
so a rerun skips every video already done with the same settings and redoes only what
changed; files no longer planned are removed. The tables and keypoints.json are removed
first and written last: OUT reads as a dataset only when a run finished.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from fgsgl import storage
from fgsgl.artifacts import write_json
from fgsgl.dataset import load_dataset
from fgsgl.dataset.contract import CLASSES_CSV, MANIFEST_CSV, MANIFEST_PARQUET
from fgsgl.dataset.dataset import Dataset
from fgsgl.dataset.importers.skeletons import COORDINATES
from fgsgl.dataset.tables import write_csv
from fgsgl.dataset.write import write_tables
from fgsgl.errors import FgsglError, UsageError, check_failure_ratio
from fgsgl.pose.estimator import HAND_POINTS, JOINTS, MODELS, POSE_JOINTS
from fgsgl.progress import bar

log = logging.getLogger("fgsgl")

LAYOUT = "mediapipe-holistic"  # fgsgl.attributes.skeleton's name for these joints
KEYPOINTS_DIR = "keypoints"
RECORD = "keypoints.json"
FAILURES_CSV = "failures.csv"
FRAME_MODES = ("clips", "all")
MERGE_GAP = 25  # clip ranges closer than this many frames are one track
BATCH_BYTES = 48 << 20  # frames sent to the estimator at a time: about this much RGB
MAX_BATCH = 16
FORMAT = 1  # of the files' key: bump when the written numbers change meaning
# the joints found or lost together: the body, each hand
_GROUPS = (
    slice(0, len(POSE_JOINTS)),
    slice(len(POSE_JOINTS), len(POSE_JOINTS) + len(HAND_POINTS)),
    slice(len(POSE_JOINTS) + len(HAND_POINTS), len(JOINTS)),
)


class Estimator(Protocol):
    """What the step needs of an estimator (fgsgl.pose.runtime.EstimatorProcess)."""

    def describe(self) -> dict[str, Any]: ...
    def open(self, max_side: int = 0) -> None: ...
    def frames(self, rgb: np.ndarray) -> np.ndarray: ...
    def restart(self) -> None: ...


@dataclass
class _Video:
    uri: str  # absolute path, gs:// or s3:// URI
    clips: list[str]
    ranges: list[tuple[int, int]] | None  # inclusive; None: the whole video
    file: str = ""  # relative to OUT
    error: str | None = None
    frames: int = 0
    estimated: int = 0
    found: int = 0
    resumed: bool = False
    notes: list[str] = field(default_factory=list)


def estimate_pose(
    dataset: str,
    out: str,
    *,
    model: str = "holistic",
    frames: str = "clips",
    max_side: int = 0,
    python: str | None = None,
    max_failure_ratio: float = 0.05,
    progress: bool = True,
    estimator: Estimator | None = None,
) -> dict[str, Any]:
    """Estimate 2D keypoints for every video of `dataset`; write the dataset with them to
    `out` (a local directory). `python` is the pose runtime's interpreter (default: found,
    see fgsgl.pose.runtime); `estimator` replaces the MediaPipe process (tests).

    Returns a summary: videos, done, resumed, failed, frames, estimated, found, seconds.
    Raises FgsglError after writing everything when more than `max_failure_ratio` of the
    videos failed.
    """
    started = time.perf_counter()
    _check_arguments(model, frames, max_side, max_failure_ratio)
    ds = load_dataset(dataset)
    out_dir = _out_dir(out, ds)
    videos = _plan(ds, frames)
    own = None
    if estimator is None:
        from fgsgl.pose.runtime import EstimatorProcess

        estimator = own = EstimatorProcess(python, model=model)
    try:
        settings = {
            "model": model,
            "frames": frames,
            "max_side": max_side,
            "joints": len(JOINTS),
            "format": FORMAT,
            **estimator.describe(),
        }
        for v in videos:
            v.file = _file_name(v, settings)
        for name in (MANIFEST_CSV, MANIFEST_PARQUET, CLASSES_CSV, RECORD):
            (out_dir / name).unlink(missing_ok=True)  # OUT is no dataset until the end
        (out_dir / KEYPOINTS_DIR).mkdir(parents=True, exist_ok=True)
        _run(videos, out_dir, estimator, max_side, progress)
    finally:
        if own is not None:
            own.__exit__(None, None, None)
    _remove_stale(out_dir, videos)
    summary = _write(ds, out_dir, videos, settings, started)
    _check_failure_ratio(summary, max_failure_ratio, out_dir)
    return summary


def _check_arguments(model: str, frames: str, max_side: int, max_failure_ratio: float) -> None:
    problems = []
    if model not in MODELS:
        problems.append(f"--model must be one of {', '.join(MODELS)} (got {model!r})")
    if frames not in FRAME_MODES:
        problems.append(f"--frames must be one of {', '.join(FRAME_MODES)} (got {frames!r})")
    if max_side < 0 or 0 < max_side < 32:
        problems.append(f"--max-side must be 0 (no limit) or >= 32 pixels (got {max_side})")
    if not 0.0 <= max_failure_ratio <= 1.0:
        problems.append(f"--max-failure-ratio must be in [0, 1] (got {max_failure_ratio})")
    if problems:
        raise UsageError("invalid pose settings", problems)


def _out_dir(out: str, ds: Dataset) -> Path:
    """OUT: new, or an earlier run's output; never the input or another dataset."""
    if storage.is_remote(str(out)):
        raise UsageError(
            f"{out}: OUT must be a local directory (on Kubeflow the component writes to its "
            "artifact's path, which KFP uploads to the pipeline root)"
        )
    path = Path(out).expanduser().resolve()
    if not storage.is_remote(ds.root) and path == Path(ds.root):
        raise UsageError(f"{out}: OUT is the input dataset; write the keypoints elsewhere")
    if path.exists() and not path.is_dir():
        raise FgsglError(f"{out}: exists and is not a directory")
    has_tables = any((path / n).exists() for n in (MANIFEST_CSV, MANIFEST_PARQUET))
    if has_tables and not _made_here(path / RECORD):
        raise FgsglError(
            f"{out}: holds a dataset that `fgsgl pose` did not write; choose another OUT"
        )
    path.mkdir(parents=True, exist_ok=True)
    return path


def _made_here(record: Path) -> bool:
    try:
        return json.loads(record.read_text()).get("made_by") == "fgsgl pose"
    except (OSError, ValueError, AttributeError):
        return False


def _plan(ds: Dataset, frames: str) -> list[_Video]:
    """One entry per distinct video, in manifest order, with its clips' frame ranges."""
    by_uri: dict[str, _Video] = {}
    m = ds.manifest
    for clip_id, video, start, end in zip(
        m["clip_id"], m["video"], m["start_frame"], m["end_frame"], strict=True
    ):
        uri = ds.video_uri(video)
        v = by_uri.setdefault(uri, _Video(uri, [], []))
        v.clips.append(clip_id)
        if frames == "all" or pd.isna(start) or pd.isna(end):
            v.ranges = None
        elif v.ranges is not None:
            v.ranges.append((int(start), int(end)))
    for v in by_uri.values():
        if v.ranges is not None:
            v.ranges = merge_ranges(v.ranges)
    return list(by_uri.values())


def merge_ranges(ranges: list[tuple[int, int]], gap: int = MERGE_GAP) -> list[tuple[int, int]]:
    """Sorted inclusive ranges, those less than `gap` frames apart joined into one."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(ranges):
        if merged and start - merged[-1][1] <= gap:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _file_name(v: _Video, settings: dict[str, Any]) -> str:
    """keypoints/<video stem>-<key>.npy; the key changes when the video, its ranges or the
    settings do, so a rerun knows which files still hold."""
    stat: list[int] = []
    if not storage.is_remote(v.uri) and os.path.isfile(v.uri):
        s = os.stat(v.uri)
        stat = [s.st_size, s.st_mtime_ns]
    key = json.dumps([v.uri, stat, v.ranges, settings], sort_keys=True, default=str)
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(v.uri).stem)[:80] or "video"
    return f"{KEYPOINTS_DIR}/{stem}-{digest}.npy"


def _run(
    videos: list[_Video], out: Path, estimator: Estimator, max_side: int, progress: bool
) -> None:
    todo = [v for v in videos if not _resume(v, out)]
    log.info(
        "pose: %d videos, %d already done, %d to estimate -> %s",
        len(videos),
        len(videos) - len(todo),
        len(todo),
        out,
    )
    with bar(total=len(todo), desc="pose", unit="video", disable=not progress) as b:
        frames_done, t0 = 0, time.perf_counter()
        for v in todo:
            try:
                _estimate_video(v, out, estimator, max_side)
            except _VideoFailed as e:
                v.error = str(e)
                log.warning("pose: %s: %s", v.uri, v.error)
            frames_done += v.estimated
            b.update(1)
            b.set_postfix_str(f"{frames_done / max(time.perf_counter() - t0, 1e-9):.1f} frames/s")


def _resume(v: _Video, out: Path) -> bool:
    """Whether the video's file is already there (from a run with the same key)."""
    path = out / v.file
    if not path.is_file():
        return False
    try:
        k = np.load(path, mmap_mode="r")
    except (OSError, ValueError):
        return False
    if k.ndim != 3 or k.shape[1:] != (len(JOINTS), 3) or k.dtype != np.float32:
        return False
    _count(v, np.asarray(k[:, : len(POSE_JOINTS), 2]), len(k))
    v.resumed = True
    return True


def _count(v: _Video, body_confidence: np.ndarray, frames: int) -> None:
    v.frames = frames
    v.estimated = sum(len(r) for r in _segments(v.ranges, frames))
    v.found = int((body_confidence > 0).any(axis=1).sum())


def _segments(ranges: list[tuple[int, int]] | None, frames: int) -> list[range]:
    """The tracks to run, clamped to the video's frames."""
    if ranges is None:
        return [range(frames)] if frames else []
    clamped = [range(max(a, 0), min(b, frames - 1) + 1) for a, b in ranges]
    return [r for r in clamped if len(r)]


class _VideoFailed(Exception):
    pass


def _estimate_video(v: _Video, out: Path, estimator: Estimator, max_side: int) -> None:
    from fgsgl.pose.runtime import EstimatorCrashed
    from fgsgl.video.decode import VideoError, VideoFile

    with tempfile.TemporaryDirectory(prefix="fgsgl-pose-") as scratch:
        try:
            local = _local(v.uri, Path(scratch))
            video = VideoFile(local, size=16)
        except (VideoError, FgsglError) as e:
            raise _VideoFailed(str(e)) from e
        keypoints = np.zeros((video.frame_count, len(JOINTS), 3), np.float32)
        segments = _segments(v.ranges, video.frame_count)
        if v.ranges is not None and any(b >= video.frame_count for _, b in v.ranges):
            v.notes.append(f"clips end after the video's {video.frame_count} frames")
        try:
            for segment in segments:
                estimator.open(max_side)
                batch = MAX_BATCH
                start = segment.start
                while start < segment.stop:
                    indices = list(range(start, min(start + batch, segment.stop)))
                    rgb, (width, height) = _native_frames(video, indices)
                    normalised = estimator.frames(rgb)
                    keypoints[indices] = to_pixels(normalised, width, height)
                    start += len(indices)
                    batch = max(1, min(MAX_BATCH, BATCH_BYTES // max(rgb[0].nbytes, 1)))
        except VideoError as e:
            raise _VideoFailed(str(e)) from e
        except EstimatorCrashed as e:
            estimator.restart()
            raise _VideoFailed(str(e)) from e
    _save(out / v.file, keypoints)
    _count(v, keypoints[:, : len(POSE_JOINTS), 2], len(keypoints))


def _local(uri: str, scratch: Path) -> str:
    if not storage.is_remote(uri):
        return uri
    return str(storage.download(uri, scratch / Path(uri).name))


def _native_frames(video: Any, indices: list[int]) -> tuple[np.ndarray, tuple[int, int]]:
    """uint8 (N, H, W, 3) RGB at the decoded size and the video's (width, height).

    Uses VideoFile's own decoding (rotation applied, decord's odd-width bug worked around:
    the frames may then come a few columns wider, which normalised landmarks do not mind).
    """
    batch, native = video.decode_native(indices)
    return np.asarray(batch.numpy(), dtype=np.uint8), native


def to_pixels(normalised: np.ndarray, width: int, height: int) -> np.ndarray:
    """(N, J, 3) landmarks normalised to the frame -> the video's pixels (pixel centres at
    integers: the left edge is x = -0.5); joints not found stay all zero."""
    k = np.array(normalised, dtype=np.float32)
    found = k[..., 2] > 0
    for group in _GROUPS:  # a body or a hand is found as a whole
        found[:, group] |= (k[:, group] != 0).any(axis=2).any(axis=1, keepdims=True)
    k[..., 0] = k[..., 0] * width - 0.5
    k[..., 1] = k[..., 1] * height - 0.5
    k[~found] = 0.0
    return k


def _save(path: Path, keypoints: np.ndarray) -> None:
    partial = path.with_name(f".{path.name}.partial")
    with open(partial, "wb") as f:
        np.save(f, keypoints)
    os.replace(partial, path)


def _remove_stale(out: Path, videos: list[_Video]) -> None:
    """Files of earlier runs that this plan no longer names (other settings, changed
    videos) and partial files of interrupted ones."""
    keep = {Path(v.file).name for v in videos}
    for path in (out / KEYPOINTS_DIR).iterdir():
        if path.is_file() and (path.name.endswith(".partial") or path.name not in keep):
            path.unlink()


def _write(
    ds: Dataset, out: Path, videos: list[_Video], settings: dict[str, Any], started: float
) -> dict[str, Any]:
    by_uri = {v.uri: v for v in videos}
    manifest = ds.manifest.copy()
    manifest["video"] = [ds.video_uri(p) for p in manifest["video"]]
    manifest["keypoints"] = [None if by_uri[u].error else by_uri[u].file for u in manifest["video"]]
    failures = pd.DataFrame(
        [(c, v.uri, v.error) for v in videos if v.error for c in v.clips],
        columns=["clip_id", "video", "error"],
    )
    write_csv(failures, out / FAILURES_CSV)
    write_tables(out, manifest, ds.classes)
    ok = [v for v in videos if not v.error]
    summary = {
        "videos": len(videos),
        "done": len(ok),
        "resumed": sum(v.resumed for v in ok),
        "failed": len(videos) - len(ok),
        "frames": sum(v.frames for v in ok),
        "estimated": sum(v.estimated for v in ok),
        "found": sum(v.found for v in ok),
        "seconds": round(time.perf_counter() - started, 3),
        "out": str(out),
    }
    summary["found_share"] = round(summary["found"] / max(summary["estimated"], 1), 4)
    record = {
        "made_by": "fgsgl pose",
        "dataset": ds.root,
        "dataset_fingerprint": ds.fingerprint(),
        "keypoints": {
            "layout": LAYOUT,
            "joints": list(JOINTS),
            "source": f"{MODELS[settings['model']]} (pose_landmark_full, model_complexity 1)",
            "coordinates": f"{COORDINATES}; left/right are the subject's",
            "shape": "(frames, joints, 3): x, y, confidence",
            "confidence": "body joints: MediaPipe's visibility (0..1); hand joints: 1 where "
            "the hand was tracked; 0 = not found or not estimated",
            "frames": (
                "every frame"
                if settings["frames"] == "all"
                else "the frames of the video's clips (other rows: confidence 0)"
            ),
        },
        "settings": settings,
        "summary": summary,
        "videos": [
            {
                "video": v.uri,
                "file": None if v.error else v.file,
                "frames": v.frames,
                "estimated": v.estimated,
                "found": v.found,
                **({"error": v.error} if v.error else {}),
                **({"notes": v.notes} if v.notes else {}),
            }
            for v in videos
        ],
    }
    write_json(out / RECORD, record)
    return summary


def _check_failure_ratio(summary: dict[str, Any], limit: float, out: Path) -> None:
    see = f"see {out / FAILURES_CSV}. The other videos' keypoints are written to {out}"
    check_failure_ratio(summary["failed"], summary["videos"], limit, what="videos", see=see)
