"""Joining fine-grained annotations (initiator, receiver, direction, motion) on clip_id.

FG-SGL's fine-grained texts come from human annotations kept apart from the video
releases: a CSV `clip_id,initiator,receiver,direction,motion` (an `fg_text` column, when
present, is joined too). Clip ids are the importers' (e.g. iMiGUE `0001_3`, SMG
`Sample0001_3`).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from fgsgl.dataset.contract import DatasetError, RowNamer
from fgsgl.dataset.tables import read_csv_table
from fgsgl.dataset.validate import as_text, padded_id
from fgsgl.text.templates import ATTRIBUTES

FG_COLUMNS = (*ATTRIBUTES, "fg_text")


def join_fg_annotations(manifest: pd.DataFrame, path: Path) -> tuple[pd.DataFrame, str]:
    """The manifest with the annotation columns filled in, and a coverage note.

    Every problem is reported at once: missing columns, duplicate or unknown clip ids
    (an id that matches no clip is a typo or an annotation of another import, and would
    otherwise be lost without a word).
    """
    if not path.is_file():
        raise DatasetError(f"{path}: FG annotation file not found")
    table = read_csv_table(
        path.read_bytes(), path.name, ("clip_id", *FG_COLUMNS), exact=("clip_id",)
    )
    frame = table.frame
    where = RowNamer(path.name, table.lines)
    missing = [c for c in ("clip_id", *ATTRIBUTES) if c not in frame.columns]
    if missing:
        raise DatasetError(
            f"{path}: missing column(s) {', '.join(missing)} "
            f"(an FG annotation file has clip_id,{','.join(ATTRIBUTES)})"
        )
    known = set(manifest["clip_id"])
    seen: dict[str, int] = {}
    problems = []
    for i, clip in enumerate(frame["clip_id"]):
        if not clip.strip():
            problems.append(f"{where.row(i)}: clip_id is empty")
        elif clip != clip.strip():
            problems.append(f"{where.row(i)}: {padded_id(clip)}")
        elif clip in seen:
            problems.append(f"{where.rows([seen[clip], i])}: duplicate clip_id {clip!r}")
        elif clip not in known:
            problems.append(f"{where.row(i)}: clip_id {clip!r} is not a clip of this import")
        else:
            seen[clip] = i
    if problems:
        raise DatasetError(f"{path}: annotations do not match the imported clips", problems)
    columns = [c for c in FG_COLUMNS if c in frame.columns]
    values = frame.set_index("clip_id")[columns].map(as_text)
    manifest = manifest.copy()
    for column in columns:
        manifest[column] = manifest["clip_id"].map(values[column]).astype("str")
    note = f"FG annotations ({path.name}): {len(seen)} of {len(manifest)} clips"
    return manifest, note
