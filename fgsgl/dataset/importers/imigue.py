"""iMiGUE: `<VVVV>_label.csv` files (gestureID,startFrame,endFrame; ids 1..32, 99 = no
micro-gesture) and `<VVVV>.mp4` videos, possibly in separate trees (the MiGA release:
`imigue_skeleton_{train,validate}/<VVVV>/<VVVV>_label.csv` and
`imigue_rgb_phase1/{train_data,validation_data}/<VVVV>/<VVVV>.mp4`).

Clip ids are `<VVVV>_<k>`, k the 0-based row of the label file (counting every row, so ids
do not move when non-gesture rows are dropped; MiGA's baselines name clips the same way).
A clip's split comes from the folders its label file (or else its video) lies in, unless a
split file is given. iMiGUE names no athletes per video, so `subject` stays empty and a
carved val split takes whole videos.

With `skeletons` (a folder; the MiGA release keeps `<VVVV>_light_hand.csv` beside each label
file), each video's OpenPose joints become `keypoints/<VVVV>.npy` and the manifest's
`keypoints` column: see `skeleton_formats` for the layout and where it was learned.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pandas as pd

from fgsgl.dataset.contract import DatasetError
from fgsgl.dataset.importers.base import Imported, classes_table
from fgsgl.dataset.importers.class_names import (
    IMIGUE_CLASSES,
    IMIGUE_NON_GESTURE_ID,
    IMIGUE_NON_GESTURE_NAME,
)
from fgsgl.dataset.importers.segments import read_segments
from fgsgl.dataset.importers.skeleton_formats import IMIGUE_OPENPOSE
from fgsgl.dataset.importers.skeletons import attach_requested
from fgsgl.dataset.importers.sources import (
    VideoIndex,
    existing_dir,
    find_one_video,
    splits_named,
)
from fgsgl.dataset.importers.splits import carve_val, read_split_file

LABEL_SUFFIX = "_label.csv"
NON_GESTURE_CHOICES = ("error", "drop", "keep")


def import_imigue(
    src: Path,
    *,
    videos: Path | None = None,
    split_file: Path | None = None,
    non_gesture: str = "error",
    class_names: list[str] | None = None,
    val_fraction: float | None = None,
    val_subjects: list[str] | None = None,
    seed: int = 0,
    skeletons: Path | None = None,
    missing_skeletons: str = "error",
) -> Imported:
    """Read an iMiGUE tree; raises DatasetError listing every problem found.

    non_gesture: what to do with gesture id 99: "error" (report its rows), "drop" them, or
    "keep" them as an extra last class. skeletons: a folder to find `<VVVV>_light_hand.csv`
    (or `_light.csv`) in and convert to keypoints; missing_skeletons: "error" (a video
    without a readable one is a problem) or "skip" (its clips get no keypoints).
    """
    if non_gesture not in NON_GESTURE_CHOICES:
        raise ValueError(f"non_gesture must be one of {NON_GESTURE_CHOICES}")
    src = existing_dir(src, "SRC")
    video_root = existing_dir(videos, "--videos") if videos else src
    names = list(class_names or IMIGUE_CLASSES)
    if len(names) != len(IMIGUE_CLASSES):
        raise DatasetError(f"--classes: iMiGUE has 32 classes, the list has {len(names)}")
    label_files = sorted(src.rglob(f"*{LABEL_SUFFIX}"))
    if not label_files:
        raise DatasetError(f"{src}: no iMiGUE label files (<VVVV>{LABEL_SUFFIX}) under it")
    index = VideoIndex([video_root])
    split_key, split_map = read_split_file(split_file) if split_file else (None, {})
    problems: list[str] = []
    rows: list[dict] = []
    row_videos: list[str] = []
    seen: dict[str, Path] = {}
    non_gesture_rows: dict[str, list[int]] = defaultdict(list)
    dropped = 0
    for path in label_files:
        vid = path.name[: -len(LABEL_SUFFIX)]
        name = str(path.relative_to(src))
        if vid in seen:
            problems.append(f"{name}: video id {vid} also has {seen[vid].relative_to(src)}")
            continue
        seen[vid] = path
        video = find_one_video(index, vid, video_root, name, problems)
        split = None
        if split_key == "video":
            split = split_map.get(vid)
            if split is None:
                problems.append(f"{split_file}: no split for video {vid} ({name})")
        elif split_key is None:
            split = _split_from_tree(path.relative_to(src), video, video_root, name, problems)
        segments, found = read_segments(path, name)
        problems += found
        for seg in segments:
            clip_id = f"{vid}_{seg.row}"
            if seg.label == IMIGUE_NON_GESTURE_ID:
                if non_gesture == "error":
                    non_gesture_rows[name].append(seg.line)
                    continue
                if non_gesture == "drop":
                    dropped += 1
                    continue
                label = len(names)
            elif 1 <= seg.label <= len(IMIGUE_CLASSES):
                label = seg.label - 1
            else:
                problems.append(
                    f"{name} line {seg.line}: gesture id {seg.label} is outside 1..32 "
                    f"(and is not {IMIGUE_NON_GESTURE_ID}, the non-gesture id)"
                )
                continue
            clip_split = split
            if split_key == "clip_id":
                clip_split = split_map.get(clip_id)
                if clip_split is None:
                    problems.append(f"{split_file}: no split for clip {clip_id} ({name})")
            rows.append(
                {
                    "clip_id": clip_id,
                    "video": str(video) if video else "",
                    "label": label,
                    "split": clip_split,
                    "subject": "",
                    "start_frame": seg.start,
                    "end_frame": seg.end,
                }
            )
            row_videos.append(vid)
    for name, lines in non_gesture_rows.items():
        problems.append(
            f"{name} lines {', '.join(map(str, lines))}: gesture id 99 (non-gesture); "
            "pass --non-gesture drop to leave these clips out or --non-gesture keep to "
            "import them as an extra class"
        )
    converted, skeleton_options = attach_requested(
        rows, row_videos, skeletons, IMIGUE_OPENPOSE, missing_skeletons
    )
    problems += converted.problems if converted else []
    if problems:
        raise DatasetError(f"{src}: cannot import iMiGUE ({len(problems)} problems)", problems)
    if not rows:
        raise DatasetError(f"{src}: the label files hold no clips")
    manifest = pd.DataFrame(rows)
    notes = [f"{len(label_files)} videos, {len(manifest)} clips from {src}"]
    if dropped:
        notes.append(f"dropped {dropped} non-gesture (id 99) clips (--non-gesture drop)")
    if non_gesture == "keep":
        names.append(IMIGUE_NON_GESTURE_NAME)
        kept = int((manifest["label"] == len(names) - 1).sum())
        notes.append(f"kept {kept} non-gesture (id 99) clips as class {len(names) - 1}")
    manifest, note = carve_val(manifest, fraction=val_fraction, subjects=val_subjects, seed=seed)
    if note:
        notes.append(note)
    if converted is not None:
        notes += converted.notes
    return Imported(
        source=str(src),
        importer="imigue",
        manifest=manifest,
        classes=classes_table(names),
        options={
            "videos": str(video_root),
            "split_file": str(split_file) if split_file else None,
            "non_gesture": non_gesture,
            "val_fraction": val_fraction,
            "val_subjects": val_subjects,
            "seed": seed,
            **skeleton_options,
        },
        notes=notes,
        **(converted.imported_fields() if converted else {}),
    )


def _split_from_tree(
    label_rel: Path, video: Path | None, video_root: Path, name: str, problems: list[str]
) -> str | None:
    """The split named by the label file's folders, else by the video's; both must agree."""
    named = splits_named(label_rel)
    if video is not None:
        named |= splits_named(video.relative_to(video_root))
    if len(named) == 1:
        return next(iter(named))
    if not named:
        problems.append(
            f"{name}: cannot tell its split: no folder of it or its video is named "
            "train, validate or test; pass --split-file CSV (video,split)"
        )
    else:
        problems.append(
            f"{name}: its folders name several splits ({', '.join(sorted(named))}); "
            "pass --split-file CSV (video,split)"
        )
    return None
