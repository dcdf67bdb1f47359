"""SMG: `SampleNNNN/SampleNNNN_finelabels.csv` (label,startf,endf; labels 1..17), one
sample per participant, and the sample's RGB video found by its id under the source.

Clip ids are `SampleNNNN_<k>`, k the 0-based row of the label file. The subject is the
sample number ("36" for Sample0036). The split is cross-subject: subjects 36-40 are test,
as in the SMG paper's baselines (tools/smg_gendata.py), the rest train; val is carved from
train by subject.

With `skeletons` (a folder; the release keeps `SampleNNNN_skeleton.csv` beside the labels),
each sample's Kinect V2 joints become `keypoints/SampleNNNN.npy` and the manifest's
`keypoints` column: see `skeleton_formats` for the layout, where it was learned, and which
of its two 2D pairs is taken (`pixel_columns`).
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from fgsgl.dataset.contract import DatasetError
from fgsgl.dataset.importers.base import Imported, classes_table
from fgsgl.dataset.importers.class_names import SMG_CLASSES
from fgsgl.dataset.importers.segments import read_segments
from fgsgl.dataset.importers.skeleton_formats import smg_kinect
from fgsgl.dataset.importers.skeletons import attach_keypoints
from fgsgl.dataset.importers.sources import VideoIndex, existing_dir, find_one_video
from fgsgl.dataset.importers.splits import carve_val

LABEL_FILE = re.compile(r"(Sample(\d+))_finelabels\.csv")
DEFAULT_TEST_SUBJECTS = tuple(str(s) for s in range(36, 41))


def import_smg(
    src: Path,
    *,
    videos: Path | None = None,
    test_subjects: list[str] | tuple[str, ...] = DEFAULT_TEST_SUBJECTS,
    class_names: list[str] | None = None,
    val_fraction: float | None = None,
    val_subjects: list[str] | None = None,
    seed: int = 0,
    skeletons: Path | None = None,
    missing_skeletons: str = "error",
    pixel_columns: int | None = None,
) -> Imported:
    """Read an SMG tree; raises DatasetError listing every problem found.

    skeletons: a folder to find `SampleNNNN_skeleton.csv` in and convert to keypoints;
    missing_skeletons: "error" (a sample without a readable one is a problem) or "skip"
    (its clips get no keypoints); pixel_columns: 7 or 9, the 2D pair to take (None: the
    wider one, see `skeleton_formats`).
    """
    src = existing_dir(src, "SRC")
    video_root = existing_dir(videos, "--videos") if videos else src
    names = list(class_names or SMG_CLASSES)
    if len(names) != len(SMG_CLASSES):
        raise DatasetError(f"--classes: SMG has 17 classes, the list has {len(names)}")
    label_files = sorted(p for p in src.rglob("*_finelabels.csv") if LABEL_FILE.fullmatch(p.name))
    if not label_files:
        raise DatasetError(f"{src}: no SMG label files (SampleNNNN_finelabels.csv) under it")
    index = VideoIndex([video_root])
    test = {str(int(s)) if s.isdigit() else s for s in test_subjects}
    problems: list[str] = []
    rows: list[dict] = []
    row_samples: list[str] = []
    seen: dict[str, str] = {}
    for path in label_files:
        match = LABEL_FILE.fullmatch(path.name)
        assert match is not None
        sample, subject = match.group(1), str(int(match.group(2)))
        name = str(path.relative_to(src))
        if sample in seen:
            problems.append(f"{name}: {sample} also has {seen[sample]}")
            continue
        seen[sample] = name
        video = find_one_video(index, sample, video_root, name, problems)
        segments, found = read_segments(path, name)
        problems += found
        for seg in segments:
            if not 1 <= seg.label <= len(SMG_CLASSES):
                problems.append(f"{name} line {seg.line}: label {seg.label} is outside 1..17")
                continue
            rows.append(
                {
                    "clip_id": f"{sample}_{seg.row}",
                    "video": str(video) if video else "",
                    "label": seg.label - 1,
                    "split": "test" if subject in test else "train",
                    "subject": subject,
                    "start_frame": seg.start,
                    "end_frame": seg.end,
                }
            )
            row_samples.append(sample)
    converted = None
    if skeletons is not None:
        fmt = smg_kinect(pixel_columns)
        root = existing_dir(skeletons, "--skeletons")
        converted = attach_keypoints(rows, row_samples, root, fmt, missing=missing_skeletons)
        problems += converted.problems
    if problems:
        raise DatasetError(f"{src}: cannot import SMG ({len(problems)} problems)", problems)
    if not rows:
        raise DatasetError(f"{src}: the label files hold no clips")
    manifest = pd.DataFrame(rows)
    subjects = set(manifest["subject"])
    notes = [f"{len(label_files)} samples, {len(manifest)} clips from {src}"]
    absent = sorted(test - subjects, key=_natural)
    if absent:
        notes.append(f"test subjects not in the source: {', '.join(absent)}")
    manifest, note = carve_val(manifest, fraction=val_fraction, subjects=val_subjects, seed=seed)
    if note:
        notes.append(note)
    if converted is not None:
        notes += converted.notes
    return Imported(
        source=str(src),
        importer="smg",
        manifest=manifest,
        classes=classes_table(names),
        options={
            "videos": str(video_root),
            "test_subjects": sorted(test, key=_natural),
            "val_fraction": val_fraction,
            "val_subjects": val_subjects,
            "seed": seed,
            "skeletons": str(skeletons) if skeletons else None,
            "missing_skeletons": missing_skeletons if skeletons else None,
            "pixel_columns": pixel_columns if skeletons else None,
        },
        notes=notes,
        **(converted.imported_fields() if converted else {}),
    )


def _natural(text: str) -> tuple[int, str]:
    return (int(text), "") if text.isdigit() else (1 << 30, text)
