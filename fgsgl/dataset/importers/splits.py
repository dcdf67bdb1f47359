"""Splits of imported datasets: split files, subject lists, carving val from train, and
setting an import's clips per split beside a publication's.

Model selection needs a validation split. Where a source has none, it is carved from the
training clips by subject (or by video where the source names no subjects), so that no
person or recording is on both sides, and never from test.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePath

import pandas as pd

from fgsgl.dataset.contract import SPLITS, DatasetError, RowNamer, split_word
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


@dataclass(frozen=True)
class SplitFile:
    """A parsed split file: which column keys it, each key's split and the row it is on."""

    path: Path
    key: str  # "video" or "clip_id"
    splits: dict[str, str]
    positions: dict[str, list[int]]  # key -> its 0-based rows, for messages
    where: RowNamer
    problems: list[str]  # bad rows, for the importer to list with its own problems

    def rows_of(self, keys: list[str]) -> str:
        """'FILE row 3 (line 4)' or 'FILE rows 1, 3 (lines 2, 4)' for these keys' rows."""
        positions = sorted(p for k in keys for p in self.positions.get(k, []))
        return self.where.row(positions[0]) if len(positions) == 1 else self.where.rows(positions)


def load_split_file(path: Path) -> SplitFile:
    """A CSV `video,split` (or `clip_id,split`) and its bad rows (unknown splits, a key given
    two splits); raises DatasetError only where the file is missing or not such a table.

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
    positions: dict[str, list[int]] = {}
    problems = []
    for i, (k, s) in enumerate(zip(frame[key], frame["split"], strict=True)):
        split = split_word(s)
        if split is None:
            problems.append(f"{where.row(i)}: split {s!r} is not train, val or test")
        elif k in splits and splits[k] != split:
            problems.append(f"{where.row(i)}: {key} {k!r} is given two splits")
        else:
            splits[k] = split
            positions.setdefault(k, []).append(i)
    return SplitFile(path, key, splits, positions, where, problems)


def read_split_file(path: Path) -> tuple[str, dict[str, str]]:
    """(key column, {key: split}); raises DatasetError listing the file's bad rows."""
    table = load_split_file(path)
    if table.problems:
        raise DatasetError(f"{path}: bad split file", table.problems)
    return table.key, table.splits


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


@dataclass(frozen=True)
class ReferenceSplit:
    """Clips per split that a publication reports, to set an import beside."""

    name: str  # its column in the printed table, e.g. "paper"
    source: str  # who reports the counts, e.g. "the FG-SGL paper (Wei et al., ...)"
    clips: Mapping[str, int]  # split -> clips


def compare_splits(splits: pd.Series, reference: ReferenceSplit) -> list[str]:
    """Lines of a table: clips per split (and total) here, in `reference`, and the difference.

    Printed after an import so that a user sees at once whether theirs is the published
    split; the last line says whether every count matches.
    """
    ours = {s: int((splits == s).sum()) for s in SPLITS}
    rows = [(s, ours[s], int(reference.clips.get(s, 0))) for s in SPLITS]
    rows.append(("total", sum(ours.values()), sum(int(v) for v in reference.clips.values())))
    header = ("split", "this import", reference.name, "difference")
    cells = [header]
    cells += [(n, f"{a:,}", f"{b:,}", f"{a - b:+,}" if a != b else "0") for n, a, b in rows]
    widths = [max(len(row[c]) for row in cells) for c in range(len(header))]
    lines = [f"clips per split, against {reference.source}:"]
    for row in cells:
        first = row[0].ljust(widths[0])
        rest = "  ".join(cell.rjust(w) for cell, w in zip(row[1:], widths[1:], strict=True))
        lines.append(f"  {first}  {rest}")
    same = all(a == b for _, a, b in rows)
    lines.append(
        f"  the same split as the {reference.name}'s"
        if same
        else f"  not the {reference.name}'s split (docs/datasets.md says how to reproduce it)"
    )
    return lines
