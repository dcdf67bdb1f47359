"""Splits of imported datasets: split files, subject lists and carving val from train.

Model selection needs a validation split. Where a source has none, it is carved from the
training clips by subject (or by video where the source names no subjects), so that no
person or recording is on both sides, and never from test.
"""

from __future__ import annotations

import random
from pathlib import Path, PurePath

import pandas as pd

from fgsgl.dataset.contract import DatasetError, RowNamer, split_word
from fgsgl.dataset.tables import read_csv_table
from fgsgl.errors import UsageError

DEFAULT_VAL_FRACTION = 0.1


def parse_ids(text: str, flag: str) -> list[str]:
    """'36-40,12' -> ['36', '37', '38', '39', '40', '12']; other ids are kept as written."""
    ids: list[str] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        low, sep, high = part.partition("-")
        if sep and low.isdigit() and high.isdigit():
            if int(low) > int(high):
                raise UsageError(f"{flag}: range {part!r} runs backwards")
            ids += [str(i) for i in range(int(low), int(high) + 1)]
        else:
            ids.append(part)
    if not ids:
        raise UsageError(f"{flag}: no ids in {text!r}")
    return ids


def read_split_file(path: Path) -> tuple[str, dict[str, str]]:
    """A CSV `video,split` (or `clip_id,split`) -> (key column, {key: split}).

    Split names may be written as the public releases do (validate, validation, testing).
    """
    if not path.is_file():
        raise DatasetError(f"{path}: split file not found")
    table = read_csv_table(path.read_bytes(), str(path), ("video", "clip_id", "split"))
    frame = table.frame
    where = RowNamer(str(path), table.lines)
    keys = [c for c in ("video", "clip_id") if c in frame.columns]
    if len(keys) != 1 or "split" not in frame.columns:
        raise DatasetError(
            f"{path}: a split file has the columns video,split or clip_id,split "
            f"(found: {', '.join(frame.columns)})"
        )
    key = keys[0]
    splits: dict[str, str] = {}
    problems = []
    for i, (k, s) in enumerate(zip(frame[key], frame["split"], strict=True)):
        split = split_word(s)
        if split is None:
            problems.append(f"{where.row(i)}: split {s!r} is not train, val or test")
        elif k in splits and splits[k] != split:
            problems.append(f"{where.row(i)}: {key} {k!r} is given two splits")
        else:
            splits[k] = split
    if problems:
        raise DatasetError(f"{path}: bad split file", problems)
    return key, splits


def carve_val(
    manifest: pd.DataFrame,
    *,
    fraction: float | None,
    subjects: list[str] | None,
    seed: int,
) -> tuple[pd.DataFrame, str | None]:
    """Move whole subjects (or videos) from train to val; returns (manifest, note).

    `subjects` names them; otherwise `fraction` of the training subjects is drawn with
    `seed` (None: the default fraction, 0: no val split). Refused where the source already
    has a val split, for named subjects outside train, or where train has one subject only.
    """
    has_val = bool((manifest["split"] == "val").any())
    if has_val:
        if subjects or fraction:
            raise UsageError(
                "the source already has a val split "
                f"({int((manifest['split'] == 'val').sum())} clips); "
                "--val-subjects/--val-fraction only carve one where there is none"
            )
        return manifest, None
    if fraction is not None and not 0 <= fraction < 1:
        raise UsageError(f"--val-fraction must be in [0, 1), not {fraction}")
    # Without subjects, a video is the group (named by its file name without extension).
    videos = manifest["video"].map(lambda v: PurePath(v).stem)
    group = manifest["subject"].where(manifest["subject"] != "", videos)
    what = "subjects" if (manifest["subject"] != "").all() else "videos"
    train = manifest["split"] == "train"
    train_groups = sorted(set(group[train]))
    if subjects:
        chosen = list(dict.fromkeys(subjects))
        problems = []
        for s in chosen:
            if s not in set(group):
                problems.append(f"--val-subjects: {s!r} is not a subject of the source")
            elif s not in train_groups:
                problems.append(
                    f"--val-subjects: {s!r} is not in train (val is never carved from test)"
                )
        if problems:
            raise UsageError("cannot carve the val split", problems)
    else:
        fraction = DEFAULT_VAL_FRACTION if fraction is None else fraction
        if fraction == 0:
            return manifest, "no val split (--val-fraction 0)"
        if len(train_groups) < 2:
            raise DatasetError(
                f"cannot carve a val split by {what}: train has {len(train_groups)} of them; "
                "pass --val-fraction 0 to import without one"
            )
        count = min(len(train_groups) - 1, max(1, round(fraction * len(train_groups))))
        chosen = sorted(random.Random(seed).sample(train_groups, count))
    moved = train & group.isin(chosen)
    manifest = manifest.copy()
    manifest.loc[moved, "split"] = "val"
    note = (
        f"val split carved from train: {int(moved.sum())} clips of {len(chosen)} {what} "
        f"({', '.join(chosen)})"
    )
    return manifest, note
