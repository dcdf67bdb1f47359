"""Validation and normalisation of the manifest and classes tables.

One pass over the tables finds every problem at once (each named by file and row) and
produces the normalised tables with the contract's dtypes. Tables may come from a CSV
(every cell a string), a parquet file or a program (ints, floats with NaN, None): columns
are coerced vectorised, a bad cell becomes a problem instead of an exception, and only
rows with a problem are visited one by one.
"""

from __future__ import annotations

import math
import numbers
import os
import posixpath
import re
from collections import defaultdict
from typing import Any

import numpy as np
import pandas as pd

from fgsgl.dataset.contract import (
    CLASSES_COLUMNS,
    CLASSES_REQUIRED,
    FRAME_COLUMNS,
    MANIFEST_COLUMNS,
    OPTIONAL_TEXT_COLUMNS,
    PATH_COLUMNS,
    REQUIRED_COLUMNS,
    SPLITS,
    RowNamer,
    split_word,
)
from fgsgl.text.templates import ATTRIBUTES

# ASCII digits only: `\d` and int() also read other scripts' digits ("٣" as 3), and a
# cell that does not look like a number to its writer must not become one.
_INT = re.compile(r"[+-]?[0-9]+")
_INT64 = range(-(2**63), 2**63)  # what the tables' int64 columns hold


def is_missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def parse_int(value: Any) -> int | None:
    """An int from an int, an integral float or a decimal string; None if missing.

    Raises ValueError for anything else ("3.5", "abc", True), so that a string label is
    reported rather than guessed.
    """
    if is_missing(value):
        return None
    if isinstance(value, bool | np.bool_):
        raise ValueError(value)
    if isinstance(value, numbers.Integral) or (
        isinstance(value, numbers.Real) and float(value).is_integer()
    ):
        number = int(value)
    elif isinstance(value, str) and _INT.fullmatch(value.strip()):
        number = int(value.strip())
    else:
        raise ValueError(value)
    if number not in _INT64:
        raise ValueError(value)
    return number


def as_text(value: Any) -> str | None:
    """A cell as stripped text, None if missing."""
    if is_missing(value):
        return None
    if (
        isinstance(value, numbers.Real)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value == int(value)
    ):
        value = int(value)  # a parquet subject 36.0 means "36"
    return str(value).strip()


def path_problem(value: str) -> str | None:
    """Why a manifest path is unusable, or None: relative paths must stay inside the root."""
    if "://" in value:
        from fgsgl import storage

        name = storage.scheme(value)
        if name not in storage.DRIVERS:
            return (
                f"uses the URI scheme {value.split('://')[0]}://; only local paths and "
                "gs:// or s3:// URIs are read"
            )
        bucket, _, key = value.split("://", 1)[1].partition("/")
        if not bucket or not key.strip("/"):
            return f"names no object (expected {name}://BUCKET/PATH)"
        return None
    if escapes(value):
        return "escapes the dataset directory (relative paths must stay inside it)"
    return None


def escapes(path: str) -> bool:
    """Whether a relative path climbs out of the folder it is relative to (`..`, also
    written with backslashes); absolute paths do not."""
    if path.startswith("/"):
        return False
    normal = posixpath.normpath(path.replace("\\", "/"))
    return normal == ".." or normal.startswith("../")


def normalise_classes(frame: pd.DataFrame, where: RowNamer) -> tuple[pd.DataFrame, list[str]]:
    """classes.csv -> (id int64, name str, description str|NA) sorted by id, and problems."""
    problems: list[str] = []
    missing = [c for c in CLASSES_REQUIRED if c not in frame.columns]
    if missing:
        problems.append(
            f"{where.file}: missing required column(s) {', '.join(missing)} "
            f"(found: {', '.join(map(str, frame.columns)) or 'none'})"
        )
        return _empty_classes(), problems
    if len(frame) == 0:
        return _empty_classes(), [f"{where.file}: no classes"]
    ids: list[int | None] = []
    names: list[str | None] = []
    by_id: dict[int, list[int]] = defaultdict(list)
    by_name: dict[str, list[int]] = defaultdict(list)
    descriptions = frame["description"] if "description" in frame.columns else None
    for i, (raw_id, raw_name) in enumerate(zip(frame["id"], frame["name"], strict=True)):
        try:
            cid = parse_int(raw_id)
            if cid is None:
                problems.append(f"{where.row(i)}: id is empty")
        except ValueError:
            cid = None
            problems.append(f"{where.row(i)}: id {raw_id!r} is not an integer")
        name = as_text(raw_name)
        if name is None:
            problems.append(f"{where.row(i)}: name is empty")
        ids.append(cid)
        names.append(name)
        if cid is not None:
            by_id[cid].append(i)
        if name is not None:
            by_name[name.lower()].append(i)
    for cid, rows in by_id.items():
        if len(rows) > 1:
            problems.append(f"{where.rows(rows)}: duplicate id {cid}")
    for rows in by_name.values():
        if len(rows) > 1:
            problems.append(f"{where.rows(rows)}: duplicate name {names[rows[0]]!r}")
    count = len(frame)
    absent = sorted(set(range(count)) - set(by_id))
    extra = sorted(set(by_id) - set(range(count)))
    if (absent or extra) and all(cid is not None for cid in ids):
        detail = []
        if absent:
            detail.append(f"missing {_ints(absent)}")
        if extra:
            detail.append(f"unexpected {_ints(extra)}")
        problems.append(
            f"{where.file}: ids must run 0..{count - 1} without gaps ({count} classes); "
            + "; ".join(detail)
        )
    classes = pd.DataFrame(
        {
            "id": pd.array([-1 if c is None else c for c in ids], dtype="int64"),
            "name": pd.array(names, dtype="str"),
            "description": pd.array(
                [None] * count if descriptions is None else [as_text(v) for v in descriptions],
                dtype="str",
            ),
        }
    )
    extras = [c for c in frame.columns if c not in CLASSES_COLUMNS]
    for c in extras:
        classes[c] = pd.array([as_text(v) for v in frame[c]], dtype="str")
    classes = classes.sort_values("id", kind="stable").reset_index(drop=True)
    return classes, problems


def _empty_classes() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": pd.array([], dtype="int64"),
            "name": pd.array([], dtype="str"),
            "description": pd.array([], dtype="str"),
        }
    )


def _ints(values: list[int], limit: int = 10) -> str:
    shown = ", ".join(map(str, values[:limit]))
    return shown + (f" and {len(values) - limit} more" if len(values) > limit else "")


def text_column(values: pd.Series | None, n: int) -> pd.Series:
    """A column as stripped text (pandas str dtype), NA where missing or empty.

    Columns of strings (every CSV column) are handled vectorised; anything else (numbers
    from parquet, mixed objects from a program) cell by cell.
    """
    if values is None:
        return pd.Series([None] * n, dtype="str")
    values = values.reset_index(drop=True)
    if pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty"):
        text = values.astype("str").str.strip()
    else:
        text = pd.Series([as_text(v) for v in values], dtype="str")
    return text.mask(text == "")


def int_column(values: pd.Series | None, n: int) -> tuple[pd.Series, np.ndarray]:
    """A column as nullable Int64, and a mask of the cells that are not integers."""
    if values is None:
        return pd.Series([None] * n, dtype="Int64"), np.zeros(n, dtype=bool)
    values = values.reset_index(drop=True)
    if pd.api.types.is_bool_dtype(values):
        return pd.Series([None] * n, dtype="Int64"), values.notna().to_numpy()
    if pd.api.types.is_integer_dtype(values) and (
        values.dtype.kind != "u" or not (values >= 2**63).any()
    ):
        return values.astype("Int64"), np.zeros(n, dtype=bool)
    if pd.api.types.is_float_dtype(values):
        number = values.to_numpy(dtype=float, na_value=np.nan)
        whole = np.isfinite(number) & (number == np.round(number)) & (np.abs(number) < 2**63)
        integral = np.isnan(number) | whole
        return values.where(integral).astype("Int64"), ~integral
    text = text_column(values, n)
    digits = text.str.fullmatch(_INT.pattern).fillna(False).astype(bool).to_numpy()
    # int() of each such cell, not to_numeric: exact beyond 2**53, and too large is bad
    numbers: list[int | None] = [None] * n
    for i in np.flatnonzero(digits):
        number = int(text.iloc[i])
        numbers[i] = number if number in _INT64 else None
    parsed = pd.Series(pd.array(numbers, dtype="Int64"))
    return parsed, ~(text.isna().to_numpy() | parsed.notna().to_numpy())


def _padded(values: pd.Series) -> np.ndarray:
    """Which cells are text with spaces around it (an id that stripping would change)."""
    return np.array([isinstance(v, str) and v != v.strip() for v in values], dtype=bool)


def padded_id(value: str) -> str:
    return f"clip_id {value!r} has spaces around it; ids are compared exactly (remove them)"


def _duplicates(values: pd.Series) -> list[tuple[str, list[int]]]:
    """(value, positions) of every value that appears more than once, by first position."""
    dup = values.notna() & values.duplicated(keep=False)
    groups: dict[str, list[int]] = defaultdict(list)
    for i in np.flatnonzero(dup.to_numpy()):
        groups[values.iloc[i]].append(int(i))
    return list(groups.items())


def normalise_manifest(
    frame: pd.DataFrame,
    where: RowNamer,
    *,
    num_classes: int | None,
    need_fg_text: bool = False,
    need_labels: bool = True,
) -> tuple[pd.DataFrame, list[str]]:
    """manifest -> the contract's columns and dtypes, and every problem found.

    `num_classes` is None when classes.csv could not be read; labels are then only checked
    for being non-negative integers. Checks are vectorised: only rows with a problem are
    visited one by one, so a 100k-clip manifest validates in about a second.
    `need_labels=False` (new footage to predict on) lets label and split be absent or
    empty (label -1); a label or split that is given is still checked. Either way, a split
    whose every label is empty is unlabelled (label -1: a source that withholds its test
    labels); an empty label inside a split that has labels is a problem.
    """
    problems: list[str] = []
    required = REQUIRED_COLUMNS if need_labels else ("clip_id", "video")
    missing = [c for c in required if c not in frame.columns]
    if missing:
        problems.append(
            f"{where.file}: missing required column(s) {', '.join(missing)} "
            f"(found: {', '.join(map(str, frame.columns)) or 'none'})"
        )
    n = len(frame)
    if n == 0 and not missing:
        problems.append(f"{where.file}: no clips")

    def raw(name: str) -> pd.Series | None:
        return frame[name] if name in frame.columns else None

    out: dict[str, pd.Series] = {}
    out["clip_id"] = text_column(raw("clip_id"), n)
    out["video"] = text_column(raw("video"), n)
    out["split"] = text_column(raw("split"), n)
    per_row: list[tuple[np.ndarray, Any]] = []
    if "clip_id" in frame.columns:
        per_row.append((out["clip_id"].isna().to_numpy(), lambda i: "clip_id is empty"))
        padded = _padded(frame["clip_id"]) & out["clip_id"].notna().to_numpy()
        per_row.append((padded, lambda i: padded_id(frame["clip_id"].iloc[i])))
    if "video" in frame.columns:
        per_row.append((out["video"].isna().to_numpy(), lambda i: "video is empty"))
    if "split" in frame.columns:
        bad_split = (~out["split"].isin(SPLITS)).to_numpy()
        if not need_labels:
            bad_split = bad_split & out["split"].notna().to_numpy()
        per_row.append((bad_split, lambda i: _split_problem(_value(out["split"], i))))
    rows_with = np.flatnonzero(np.logical_or.reduce([m for m, _ in per_row] or [np.zeros(n, bool)]))
    for i in rows_with:
        problems += [f"{where.row(int(i))}: {text(int(i))}" for m, text in per_row if m[i]]
    for clip, rows in _duplicates(out["clip_id"]):
        problems.append(f"{where.rows(rows)}: duplicate clip_id {clip!r}")
    labels, bad = int_column(raw("label"), n)
    if "label" in frame.columns:
        low = labels.lt(0).fillna(False).to_numpy(dtype=bool)
        high = labels.ge(num_classes).fillna(False).to_numpy(dtype=bool) if num_classes else low
        empty = labels.isna().to_numpy() & ~bad & need_labels
        if empty.any():  # a split with no label at all is unlabelled (withheld): allowed
            labelled_splits = out["split"][~(labels.isna().to_numpy() & ~bad)]
            empty &= out["split"].isin(set(labelled_splits.dropna())).to_numpy()
        allowed = f"0..{num_classes - 1}" if num_classes else "a class id"
        for i in np.flatnonzero(bad | empty | low | high):
            i = int(i)
            if bad[i]:
                problems.append(
                    f"{where.row(i)}: label {_shown(frame['label'].iloc[i])} is not an integer "
                    "class id"
                )
            elif empty[i]:
                problems.append(f"{where.row(i)}: label is empty")
            else:
                problems.append(
                    f"{where.row(i)}: label {labels.iloc[i]} is outside {allowed} "
                    f"(classes.csv has {num_classes} classes)"
                )
    out["label"] = labels.fillna(-1).astype("int64")
    out["subject"] = text_column(raw("subject"), n).fillna("")
    out.update(_frames(frame, where, problems))
    for name in OPTIONAL_TEXT_COLUMNS:
        out[name] = text_column(raw(name), n)
    for name in PATH_COLUMNS:
        paths = out[name]
        suspicious = paths.str.contains("..", regex=False) | paths.str.contains("://", regex=False)
        for i in np.flatnonzero(suspicious.fillna(False).to_numpy(dtype=bool)):
            value = paths.iloc[int(i)]
            if why := path_problem(value):
                problems.append(f"{where.row(int(i))}: {name} {value!r} {why}")
    manifest = pd.DataFrame({name: out[name] for name in MANIFEST_COLUMNS})
    for name in frame.columns:
        if name not in MANIFEST_COLUMNS:
            manifest[name] = text_column(frame[name], n)
    if need_fg_text and n:
        problems.extend(fg_text_problems(manifest, where))
    return manifest, problems


def _shown(value: Any) -> str:
    """A cell as messages show it: repr of the Python value ('3.5', inf), not np.float64(inf)."""
    return repr(value.item() if isinstance(value, np.generic) else value)


def _value(column: pd.Series, i: int) -> str | None:
    value = column.iloc[i]
    return None if pd.isna(value) else value


def _split_problem(split: str | None) -> str:
    if split is None:
        return f"split is empty (use one of {', '.join(SPLITS)})"
    hint = split_word(split)
    text = f"split {split!r} is not one of {', '.join(SPLITS)}"
    return text + (f" (did you mean {hint!r}?)" if hint else "")


def _frames(frame: pd.DataFrame, where: RowNamer, problems: list[str]) -> dict[str, pd.Series]:
    """start_frame/end_frame as nullable ints; both or neither, 0 <= start <= end."""
    n = len(frame)
    values: dict[str, pd.Series] = {}
    unreadable = np.zeros(n, dtype=bool)
    for name in FRAME_COLUMNS:
        parsed, bad = int_column(frame[name] if name in frame.columns else None, n)
        negative = parsed.lt(0).fillna(False).to_numpy(dtype=bool)
        for i in np.flatnonzero(bad | negative):
            i = int(i)
            if bad[i]:
                value = _shown(frame[name].iloc[i])
                problems.append(f"{where.row(i)}: {name} {value} is not an integer")
            else:
                problems.append(f"{where.row(i)}: {name} {parsed.iloc[i]} is negative")
        unreadable |= bad
        values[name] = parsed
    start, end = values["start_frame"], values["end_frame"]
    after = (start > end).fillna(False).to_numpy(dtype=bool)
    only_start = (start.notna() & end.isna()).to_numpy()
    only_end = (start.isna() & end.notna()).to_numpy()
    for i in np.flatnonzero((after | only_start | only_end) & ~unreadable):
        i = int(i)
        if after[i]:
            problems.append(
                f"{where.row(i)}: start_frame {start.iloc[i]} is after end_frame {end.iloc[i]}"
            )
        elif only_start[i]:
            # A half-open clip is ambiguous (to the end? from 0?): the contract wants both.
            problems.append(f"{where.row(i)}: start_frame is given but end_frame is empty")
        else:
            problems.append(f"{where.row(i)}: end_frame is given but start_frame is empty")
    return values


def fg_text_problems(manifest: pd.DataFrame, where: RowNamer) -> list[str]:
    """Rows that have neither an fg_text nor all four attributes to build one from."""
    present = [a for a in ATTRIBUTES if manifest[a].notna().any()]
    if not present and manifest["fg_text"].isna().all():
        return [
            f"{where.file}: fine-grained text is needed, but no clip has an fg_text or the "
            f"attributes {', '.join(ATTRIBUTES)} (import with --fg-annotations CSV)"
        ]
    lacking = {a: manifest[a].isna().to_numpy() for a in ATTRIBUTES}
    needs = manifest["fg_text"].isna().to_numpy() & np.logical_or.reduce(list(lacking.values()))
    problems = []
    for i in np.flatnonzero(needs):
        names = [a for a in ATTRIBUTES if lacking[a][i]]
        problems.append(
            f"{where.row(int(i))}: fine-grained text is needed but fg_text is empty and "
            f"{', '.join(names)} {'is' if len(names) == 1 else 'are'} missing"
        )
    return problems


def normalise_tables(
    manifest: pd.DataFrame,
    classes: pd.DataFrame,
    *,
    need_fg_text: bool = False,
    manifest_name: str = "manifest",
    classes_name: str = "classes",
) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Both tables normalised, and every problem in either."""
    classes_n, problems = normalise_classes(classes, RowNamer(classes_name))
    manifest_n, found = normalise_manifest(
        manifest,
        RowNamer(manifest_name),
        num_classes=len(classes_n) or None,
        need_fg_text=need_fg_text,
    )
    return manifest_n, classes_n, problems + found


def missing_file_problems(manifest: pd.DataFrame, root: str, where: RowNamer) -> list[str]:
    """Rows whose video or keypoints file does not exist (relative paths under `root`)."""
    from fgsgl import storage
    from fgsgl.dataset.fingerprint import file_stats

    def resolve(path: str) -> str:
        return path if storage.is_remote(path) or path.startswith("/") else storage.join(root, path)

    wanted = [
        (i, name, resolve(value))
        for name in PATH_COLUMNS
        for i, value in enumerate(manifest[name])
        if isinstance(value, str) and path_problem(value) is None
    ]
    sizes = {uri: size for uri, size, _ in file_stats(uri for _, _, uri in wanted)}
    problems = []
    for i, name, uri in wanted:
        if sizes[uri] is None:
            problems.append(f"{where.row(i)}: {name} file {uri} does not exist")
        elif (outside := _linked_outside(root, manifest[name].iloc[i], uri)) is not None:
            problems.append(
                f"{where.row(i)}: {name} {manifest[name].iloc[i]!r} leads out of the dataset "
                f"directory through a symlink (to {outside}); relative paths must stay inside "
                "it (give the file's absolute path instead)"
            )
    return problems


def _linked_outside(root: str, value: str, uri: str) -> str | None:
    """Where a relative local path really leads, when a symlink takes it out of `root`."""
    from fgsgl import storage

    if storage.is_remote(root) or value.startswith("/"):
        return None
    real_root, real = os.path.realpath(root), os.path.realpath(uri)
    return None if os.path.commonpath([real_root, real]) == real_root else real


def partial_video_problems(manifest: pd.DataFrame, root: str, where: RowNamer) -> list[str]:
    """Local videos that are partial copies (fgsgl.video.partial), one problem per video
    naming its rows. A header read per video; a packet scan (no decoding) only where the
    header states a frame count but no per-frame index. Missing and unreadable files are
    left to the existence check and to extraction; remote videos to extraction."""
    from fgsgl import storage
    from fgsgl.video.partial import HeaderError, find_shortfall

    rows: dict[str, list[int]] = defaultdict(list)
    for i, value in enumerate(manifest["video"]):
        if isinstance(value, str) and path_problem(value) is None and not storage.is_remote(value):
            path = value if value.startswith("/") else storage.join(root, value)
            if not storage.is_remote(path) and os.path.isfile(path):
                rows[path].append(i)
    problems = []
    for path, positions in rows.items():
        try:
            short = find_shortfall(path)
        except (HeaderError, OSError):
            continue
        if short is not None:
            if len(positions) == 1:
                named = where.row(positions[0])
            elif len(positions) <= 5:
                named = where.rows(positions)
            else:
                named = f"{where.row(positions[0])} and {len(positions) - 1} more rows"
            problems.append(f"{named}: video file {path}: {short}")
    return problems


def validate_tables(
    manifest: pd.DataFrame,
    classes: pd.DataFrame,
    *,
    root: str | None = None,
    need_fg_text: bool = False,
    check_files: bool = False,
) -> list[str]:
    """Every problem of a manifest and classes table pair (an empty list: valid).

    For tables built in memory (importers, synth) before they are written; rows are named
    "manifest row N" / "classes row N" (1-based). With check_files, relative video and
    keypoints paths must exist under `root`.
    """
    manifest_n, _, problems = normalise_tables(manifest, classes, need_fg_text=need_fg_text)
    if check_files:
        if root is None:
            raise ValueError("check_files needs the dataset root")
        problems += missing_file_problems(manifest_n, str(root), RowNamer("manifest"))
    return problems
