"""MA-52 (Micro-Action-52) as released: list files, a video folder per split, label_name.txt.

The layout, as the dataset's repository (VUT-HFUT/Micro-Action, mar_scripts/manet/mmaction2/
data/ma52/ and its configs) lays it out:

    label_name.txt                      `id<TAB>name`, ids 0..51
    {train,val,test}_list_videos.txt    `NAME.mp4 label` (or in annotations/)
    videos_{train,val,test}/            the split's videos, NAME.mp4 (or {train,val,test}/)

Train and val names are `PPPP_BB_NNNN.mp4`: PPPP numbers the participant, BB is the clip's
body-level (coarse) label 0..6, NNNN the clip. The test names are `testNNNN.mp4` and its
labels are withheld (all 0): that split is imported unlabelled (fgsgl.dataset.importers.
withheld) and without subjects. The coarse label becomes the manifest column
`coarse_label`, checked against the body part of each fine label.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

import pandas as pd

from fgsgl.dataset.contract import DatasetError
from fgsgl.dataset.importers.base import Imported, read_class_names
from fgsgl.dataset.importers.class_names import (
    MA52_BODY_PART_OF,
    MA52_BODY_PARTS,
    MA52_CLASSES,
)
from fgsgl.dataset.importers.listfile import find_list_files, import_list
from fgsgl.dataset.importers.sources import existing_dir
from fgsgl.dataset.importers.withheld import AUTO

CLASS_FILE = "label_name.txt"
SUBJECT_PATTERN = r"^(\d+)_\d+_\d+\.\w+$"
COARSE_COLUMN = "coarse_label"
_NAME = re.compile(r"^\d+_(\d+)_\d+$")  # PPPP_BB_NNNN: BB the coarse label
SHOWN = 5  # rows named in one note


def video_folder(src: Path, split: str) -> Path | None:
    """The split's video folder: videos_<split>/<split> (an archive unpacked into the
    link's target), videos_<split>, or <split>."""
    for folder in (src / f"videos_{split}" / split, src / f"videos_{split}", src / split):
        if folder.is_dir():
            return folder.resolve()
    return None


def coarse_of(clip_id: str) -> int | None:
    """The body-level label a file name carries (`0003_01_0001` -> 1), or None."""
    match = _NAME.match(PurePosixPath(clip_id).name)
    return int(match.group(1)) if match else None


def import_ma52(
    src: Path,
    *,
    lists: dict[str, Path] | None = None,
    videos: dict[str, Path] | None = None,
    class_names: list[str] | None = None,
    subject_pattern: str | None = SUBJECT_PATTERN,
    unlabelled: str | list[str] = AUTO,
    check_videos: bool = True,
    val_fraction: float | None = None,
    val_subjects: list[str] | None = None,
    seed: int = 0,
) -> Imported:
    """Read an MA-52 release; raises DatasetError listing every problem found.

    `videos`: a video folder per split instead of the ones found in SRC; `class_names`:
    instead of SRC/label_name.txt (else the built-in list).
    """
    src = existing_dir(src, "SRC")
    subject_pattern = subject_pattern or None
    lists = {s: Path(p) for s, p in lists.items()} if lists else find_list_files(src)
    given = {s: existing_dir(p, f"--{s}-videos") for s, p in (videos or {}).items()}
    folders, problems = {}, []
    for split in lists:
        folder = given.get(split) or video_folder(src, split)
        if folder is None:
            problems.append(
                f"no video folder for the {split} split: none of videos_{split}/{split}, "
                f"videos_{split}, {split} in {src}; pass --{split}-videos DIR"
            )
        folders[split] = folder
    if problems:
        raise DatasetError(f"{src}: not an MA-52 release", problems)
    class_file = src / CLASS_FILE
    if class_names is None and class_file.is_file():
        class_names, classes_from = read_class_names(class_file), str(class_file)
    elif class_names is None:
        class_names, classes_from = list(MA52_CLASSES), "the built-in MA-52 list"
    else:
        classes_from = "--classes"
    imported = import_list(
        src,
        lists=lists,
        split_prefixes=folders,
        class_names=class_names,
        subject_pattern=subject_pattern,
        check_videos=check_videos,
        val_fraction=val_fraction,
        val_subjects=val_subjects,
        seed=seed,
        unlabelled=unlabelled,
    )
    m = imported.manifest
    coarse = [coarse_of(c) for c in m["clip_id"]]
    m[COARSE_COLUMN] = [None if c is None else str(c) for c in coarse]
    notes = [f"{len(class_names)} classes from {classes_from}"]
    notes.append(
        f"{COARSE_COLUMN}: the body-level label of {sum(c is not None for c in coarse)} of "
        f"{len(m)} clips, from their file names (0..6: {', '.join(MA52_BODY_PARTS)})"
    )
    if list(class_names) == list(MA52_CLASSES):
        notes += _disagreements(m, coarse)
    imported.importer = "ma52"
    imported.notes = imported.notes[:1] + notes + imported.notes[1:]
    imported.options.update(
        classes=classes_from,
        videos={s: str(p) for s, p in folders.items()},
        coarse_labels=list(MA52_BODY_PARTS),
    )
    return imported


def _disagreements(manifest: pd.DataFrame, coarse: list[int | None]) -> list[str]:
    """A warning naming the clips whose file name's body part is not their label's."""
    wrong = [
        f"{clip} (label {label}: body part {MA52_BODY_PART_OF[label]}, file name: {c})"
        for clip, label, c in zip(manifest["clip_id"], manifest["label"], coarse, strict=True)
        if c is not None and not pd.isna(label) and MA52_BODY_PART_OF[int(label)] != c
    ]
    if not wrong:
        return []
    return [
        f"warning: {len(wrong)} clips' file names give another body part than their label's "
        f"({'; '.join(wrong[:SHOWN])}{' ...' if len(wrong) > SHOWN else ''}); "
        f"{COARSE_COLUMN} keeps the file name's"
    ]
