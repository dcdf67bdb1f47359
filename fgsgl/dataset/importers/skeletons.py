"""Per-video skeleton files -> the dataset's keypoints files and manifest column.

An importer given `--skeletons` finds each video's skeleton file by its id under a folder
(the MiGA and SMG releases keep them beside the label files), converts it once into
`keypoints/<id>.npy` (float32 (F, J, 3), row f = video frame f, x, y in the video's pixels,
confidence: what SynthMG writes, see `skeleton_formats`), and points every clip of the video
at it; `fgsgl extract` then samples it at the clip's T frames. Clips stay whole videos'
frame numbers, so one file per video serves all its clips.

Arrays are converted into a scratch folder while importing (each file is read once and every
problem is known before anything is written); `write_import` copies them into OUT. Every
array has the format's full joint list (a 25-joint iMiGUE `_light.csv` gets its 10 hand
points as not found), and frames up to the video's last labelled frame (a shorter file is
padded with frames of no joints and said in the notes), so extraction never fails a clip for
its keypoints.

A video whose skeleton file is missing or unreadable is a problem (listed with the others)
unless missing="skip": then its clips are imported without keypoints and the notes name it
(FG-SGL does not need them; CLIP-MG refuses such clips by name).
"""

from __future__ import annotations

import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fgsgl.dataset.importers.skeleton_formats import SkeletonError, SkeletonFormat, widen_joints

MISSING_CHOICES = ("error", "skip")
KEYPOINTS_DIR = "keypoints"
COORDINATES = "pixels of the video frame, x right, y down, pixel centres at integers"


@dataclass
class ConvertedSkeletons:
    """Where each video's keypoints went (None: it has none) and what to tell the user."""

    paths: dict[str, str | None]  # video id -> dataset-relative .npy path
    files: dict[str, Path]  # dataset-relative path -> converted file in `scratch`
    scratch: tempfile.TemporaryDirectory | None
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    record: dict[str, Any] = field(default_factory=dict)

    def imported_fields(self) -> dict[str, Any]:
        """What `Imported` carries of it: the files to write, the record, the scratch."""
        return {"files": self.files, "keypoints": self.record, "scratch": self.scratch}


def convert_skeletons(
    frames_needed: dict[str, int],
    root: Path,
    fmt: SkeletonFormat,
    *,
    missing: str = "error",
) -> ConvertedSkeletons:
    """Convert the skeleton of every video id in `frames_needed` (id -> last labelled frame
    + 1) found under `root`."""
    if missing not in MISSING_CHOICES:
        raise ValueError(f"missing must be one of {MISSING_CHOICES}")
    found = _index(root, fmt, frames_needed)
    scratch = tempfile.TemporaryDirectory(prefix="fgsgl-keypoints-")
    out = ConvertedSkeletons({}, {}, scratch)
    lacking: list[tuple[str, str]] = []  # (video id, why) of videos left without keypoints
    padded: list[str] = []
    narrow: list[str] = []
    extra: list[str] = []
    for vid, needed in frames_needed.items():
        out.paths[vid] = None
        candidates = found.get(vid, [])
        if not candidates:
            lacking.append((vid, f"no {' or '.join(fmt.names_for(vid))} under {root}"))
            continue
        if len(candidates) > 1:
            listed = ", ".join(str(p.relative_to(root)) for p in candidates)
            lacking.append((vid, f"several skeleton files: {listed}"))
            continue
        path = candidates[0]
        try:
            points, note = fmt.read(path)
        except SkeletonError as e:
            lacking.append((vid, f"{path.relative_to(root)}: {e}"))
            continue
        if note:
            extra.append(f"{vid}: {note}")
        if points.shape[1] < len(fmt.joints):
            narrow.append(vid)
            points = widen_joints(points, len(fmt.joints))
        if len(points) < needed:
            padded.append(f"{vid} ({len(points)} < {needed})")
            pad = np.zeros((needed - len(points), *points.shape[1:]), np.float32)
            points = np.concatenate([points, pad])
        rel = f"{KEYPOINTS_DIR}/{vid}.npy"
        target = Path(scratch.name) / f"{vid}.npy"
        np.save(target, points)
        out.paths[vid] = rel
        out.files[rel] = target
    _report(out, lacking, missing)
    if narrow:
        out.notes.append(
            f"keypoints: {len(narrow)} videos have {fmt.name} files without all "
            f"{len(fmt.joints)} joints (the rest are stored as not found): {_few(narrow)}"
        )
    if padded:
        out.notes.append(
            f"keypoints: {len(padded)} skeleton files end before their videos' last labelled "
            f"frame (padded with frames of no joints): {_few(padded)}"
        )
    if extra:
        out.notes.append(f"keypoints: {_few(extra)}")
    converted = sum(p is not None for p in out.paths.values())
    out.notes.append(f"keypoints: {converted} of {len(frames_needed)} videos from {root}")
    out.record = {
        "format": fmt.name,
        "source": fmt.source,
        "skeletons": str(root),
        "joints": list(fmt.joints),
        "coordinates": COORDINATES,
        "videos": converted,
        "without": [v for v, p in out.paths.items() if p is None],
    }
    return out


def _index(root: Path, fmt: SkeletonFormat, ids: dict[str, int]) -> dict[str, list[Path]]:
    """Each video id's skeleton files under root: the first file name (in the format's
    order of preference) that exists anywhere, with every place it exists."""
    wanted = {name: vid for vid in ids for name in fmt.names_for(vid)}
    by_name: dict[str, list[Path]] = defaultdict(list)
    for path in sorted(root.rglob("*")):
        if path.name in wanted and path.is_file():
            by_name[path.name].append(path)
    found: dict[str, list[Path]] = {}
    for vid in ids:
        for name in fmt.names_for(vid):
            if by_name.get(name):
                found[vid] = by_name[name]
                break
    return found


def _report(out: ConvertedSkeletons, lacking: list[tuple[str, str]], missing: str) -> None:
    if not lacking:
        return
    if missing == "error":
        hint = " (--missing-skeletons skip imports its clips without keypoints)"
        out.problems += [f"skeleton of video {vid}: {why}{hint}" for vid, why in lacking]
    else:
        out.notes.append(
            f"keypoints: {len(lacking)} videos have no usable skeleton, their clips none "
            f"(--missing-skeletons skip): {_few([f'{v} ({why})' for v, why in lacking])}"
        )


def _few(items: list[str], shown: int = 10) -> str:
    more = f", ... ({len(items) - shown} more)" if len(items) > shown else ""
    return ", ".join(items[:shown]) + more


def attach_keypoints(
    rows: list[dict],
    video_ids: list[str],
    root: Path,
    fmt: SkeletonFormat,
    *,
    missing: str = "error",
) -> ConvertedSkeletons:
    """Convert the skeletons of the rows' videos (`video_ids[i]` is row i's) and set each
    row's `keypoints` to its video's file (None where the video has none)."""
    needed: dict[str, int] = {}
    for row, vid in zip(rows, video_ids, strict=True):
        needed[vid] = max(needed.get(vid, 0), int(row["end_frame"]) + 1)
    converted = convert_skeletons(needed, root, fmt, missing=missing)
    for row, vid in zip(rows, video_ids, strict=True):
        row["keypoints"] = converted.paths[vid]
    return converted


def attach_requested(
    rows: list[dict],
    video_ids: list[str],
    skeletons: Path | None,
    fmt: SkeletonFormat,
    missing: str,
) -> tuple[ConvertedSkeletons | None, dict[str, Any]]:
    """`attach_keypoints` when --skeletons was given (else None), and the import options
    that record it."""
    if skeletons is None:
        return None, {"skeletons": None, "missing_skeletons": None}
    from fgsgl.dataset.importers.sources import existing_dir

    root = existing_dir(skeletons, "--skeletons")
    converted = attach_keypoints(rows, video_ids, root, fmt, missing=missing)
    return converted, {"skeletons": str(skeletons), "missing_skeletons": missing}
