"""Fuzzed dataset directories through `fgsgl validate`: any manifest.csv / classes.csv /
manifest.parquet is either a dataset whose values are exactly what was written, or one
error naming every bad row, exit 1, no traceback and nothing written.

Inputs are mutations of a valid dataset (tests/fuzz_strategies.py): odd numbers, padded or
unicode ids, paths with `..`, URIs and absolute paths, dropped / duplicated / swapped
columns, BOM, CRLF, blank lines, other delimiters, NUL bytes, Latin-1, and symlinks out of
the directory for --check-files. Seeded and bounded (fuzz_strategies.fuzz).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from fuzz_strategies import (
    BAD,
    EMPTY,
    HARMLESS,
    assert_one_error,
    files_under,
    fuzz,
    harmless,
    int_cell,
    menu,
    names_row,
    run_cli,
    write_csv_rows,
)
from hypothesis import assume, event, given
from hypothesis import strategies as st

from fgsgl.dataset import load_dataset

COLUMNS = ["clip_id", "video", "label", "split", "subject", "start_frame", "end_frame"]
REQUIRED = ["clip_id", "video", "label", "split"]
CLASSES = ["rubbing eyes", "touching neck", "scratching neck"]
ROWS = 4

# (cell, what the manifest must hold, or BAD) per text column; {i} is the row.
CLIP_IDS = [
    ("c{i}", "c{i}"),
    ("клип-{i}", "клип-{i}"),
    ("c {i}", "c {i}"),
    ('c"{i},x', 'c"{i},x'),
    ("c{i}\u200b", "c{i}\u200b"),  # a zero-width space is part of the id, kept
    (" c{i}", BAD),
    ("c{i}\t", BAD),
    ("c{i}\u00a0", BAD),
    ("", BAD),
]
DUPLICATE = ("c0", "c0")  # the first row's id again: every row holding it is bad
VIDEOS = [
    ("v/c{i}.mp4", "v/c{i}.mp4"),
    (" v/c{i}.mp4 ", "v/c{i}.mp4"),
    ("v/../c{i}.mp4", "v/../c{i}.mp4"),
    ("/data/c{i}.mp4", "/data/c{i}.mp4"),
    ("gs://bucket/c{i}.mp4", "gs://bucket/c{i}.mp4"),
    ("v/ümlaut {i}.mp4", "v/ümlaut {i}.mp4"),
    ("../c{i}.mp4", BAD),
    ("v/../../c{i}.mp4", BAD),
    ("..\\c{i}.mp4", BAD),
    ("http://host/c{i}.mp4", BAD),
    ("s3://bucket/", BAD),
    ("", BAD),
]
SPLITS = [
    ("train", "train"),
    ("val", "val"),
    ("test", "test"),
    (" val ", "val"),
    ("Train", BAD),
    ("validation", BAD),
    ("train\u200b", BAD),
    ("", BAD),
]
SUBJECTS = [("s{i}", "s{i}"), ("", ""), ("NA", "NA"), ("036", "036"), (" s{i} ", "s{i}")]

# File-level changes that must be refused, and what the one error then says.
BREAKING = {
    "drop_clip_id": "missing required column(s) clip_id",
    "drop_label": "missing required column(s) label",
    "duplicate_column": "column 'split' appears twice",
    "semicolons": "fields are separated by ';'",
    "short_row": "fields, but the header has",
    "nul_byte": "not valid CSV",
    "latin1": "not UTF-8",
}


@dataclass
class Case:
    header: list[str]
    rows: list[list[str]]
    expected: list[dict[str, Any]]  # per row, the manifest's values on success
    bad_rows: set[int] = field(default_factory=set)  # 0-based
    classes: list[list[str]] = field(default_factory=list)
    bad_classes: set[int] = field(default_factory=set)
    changes: list[str] = field(default_factory=list)
    breaking: str | None = None


def _frames(start: Any, end: Any) -> bool:
    """Whether a start/end pair (as read) is acceptable."""
    if BAD in (start, end):
        return False
    if (start is EMPTY) != (end is EMPTY):
        return False
    return start is EMPTY or 0 <= start <= end


@st.composite
def manifest_cases(draw: st.DrawFn) -> Case:
    rows, expected, bad_rows = [], [], set()
    clean = draw(st.sampled_from([True, False, False]))  # a third: only good spellings
    for i in range(ROWS):
        # else one column of the row may get odd spellings: each rule met on its own
        odd = "" if clean else draw(st.sampled_from(["", *COLUMNS, "any"]))
        bad = {c: odd in (c, "any") for c in COLUMNS}
        clip, clip_v = draw(menu(CLIP_IDS + [DUPLICATE] * bad["clip_id"], i, bad=bad["clip_id"]))
        video, video_v = draw(menu(VIDEOS, i, bad=bad["video"]))
        split, split_v = draw(menu(SPLITS, i, bad=bad["split"]))
        subject, subject_v = draw(menu(SUBJECTS, i, bad=bad["subject"]))
        odd_label, odd_start, odd_end = bad["label"], bad["start_frame"], bad["end_frame"]
        label, label_v = draw(
            int_cell(i % 3, bad=odd_label) | int_cell(3 if odd_label else 0, bad=odd_label)
        )
        start, start_v = draw(
            int_cell(0, bad=odd_start) | int_cell(-2 if odd_start else 3, bad=odd_start)
        )
        end, end_v = draw(int_cell(9, bad=odd_end) | int_cell(1 if odd_end else 3, bad=odd_end))
        rows.append([clip, video, label, split, subject, start, end])
        assume(any(c.strip() for c in rows[-1]))  # a row of empty cells is a blank line
        expected.append(
            {
                "clip_id": clip_v,
                "video": video_v,
                "label": label_v,
                "split": split_v,
                "subject": subject_v,
                "start_frame": start_v,
                "end_frame": end_v,
            }
        )
        label_ok = label_v is EMPTY or (label_v is not BAD and 0 <= label_v < len(CLASSES))
        if BAD in (clip_v, video_v, split_v) or not label_ok or not _frames(start_v, end_v):
            bad_rows.add(i)
    # An empty label is allowed only where no clip of its split has one (a withheld split).
    labelled = {
        r[3].strip() for r, e in zip(rows, expected, strict=True) if e["label"] is not EMPTY
    }
    for i, e in enumerate(expected):
        if e["label"] is EMPTY:
            e["label"] = -1
            if rows[i][3].strip() in labelled:
                bad_rows.add(i)
    stripped = [r[0].strip() for r in rows]
    bad_rows |= {i for i, c in enumerate(stripped) if c and stripped.count(c) > 1}
    classes, bad_classes = [], set()
    odd = not clean and draw(st.booleans())
    for i, name in enumerate(CLASSES):
        cid, cid_v = draw(int_cell(i, bad=odd))
        spelled = draw(st.sampled_from([name, f" {name} ", name.upper(), *[""] * odd]))
        assume(cid.strip() or spelled)  # a row of empty cells is a blank line, skipped
        classes.append([cid, spelled, ""])
        if cid_v != i or not spelled.strip():
            bad_classes.add(i)
    names = [c[1].strip().lower() for c in classes]
    bad_classes |= {i for i, n in enumerate(names) if n and names.count(n) > 1}
    header = list(COLUMNS)
    if draw(st.booleans()):  # the columns in another order: the same dataset
        order = draw(st.permutations(range(len(COLUMNS))))
        header = [header[j] for j in order]
        rows = [[r[j] for j in order] for r in rows]
    return Case(
        header,
        rows,
        expected,
        bad_rows,
        classes,
        bad_classes,
        changes=draw(st.lists(st.sampled_from(HARMLESS), max_size=2, unique=True)),
        breaking=None  # a quarter of the other cases: a change to the whole file
        if clean or draw(st.integers(0, 3))
        else draw(st.sampled_from(sorted(BREAKING))),
    )


def _break(root: Path, case: Case) -> None:
    path = root / "manifest.csv"
    text = path.read_bytes()
    kind = case.breaking
    if kind in ("drop_clip_id", "drop_label"):
        column = case.header.index(kind.removeprefix("drop_"))
        keep = [j for j in range(len(case.header)) if j != column]
        write_csv_rows(
            path, [case.header[j] for j in keep], [[r[j] for j in keep] for r in case.rows]
        )
    elif kind == "duplicate_column":
        write_csv_rows(path, [*case.header, "split"], [[*r, "train"] for r in case.rows])
    elif kind == "semicolons":
        path.write_bytes(text.replace(b",", b";"))
    elif kind == "short_row":
        write_csv_rows(path, case.header, [case.rows[0][:-1], *case.rows[1:]])
    elif kind == "nul_byte":
        path.write_bytes(text.replace(b"\n", b"\n\x00", 1))
    elif kind == "latin1":
        path.write_bytes(text + "caf\u00e9,v/x.mp4,0,train,,,\n".encode("latin-1"))


def _write(root: Path, case: Case) -> None:
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    write_csv_rows(root / "classes.csv", ["id", "name", "description"], case.classes)
    write_csv_rows(root / "manifest.csv", case.header, case.rows)
    if case.breaking:
        _break(root, case)
    path = root / "manifest.csv"
    path.write_bytes(harmless(path.read_bytes(), case.changes))


@fuzz(150)
@given(case=manifest_cases())
def test_fuzzed_manifest_and_classes(tmp_path: Path, case: Case):
    root = tmp_path / "ds"
    _write(root, case)
    before = files_under(root)
    outcome = run_cli(["validate", str(root)])
    assert files_under(root) == before  # validate writes nothing, not even a temp file
    event("refused" if outcome.rc else "valid")
    if case.breaking:
        assert_one_error(outcome, "validate", BREAKING[case.breaking])
        return
    if case.bad_rows or case.bad_classes:
        assert_one_error(outcome, "validate", "not a valid dataset")
        for i in case.bad_rows:
            assert names_row(outcome.err, "manifest.csv", i + 1), (i, outcome.err)
        for i in case.bad_classes:
            assert names_row(outcome.err, "classes.csv", i + 1), (i, outcome.err)
        named = {i for i in range(ROWS) if names_row(outcome.err, "manifest.csv", i + 1)}
        assert named == case.bad_rows, outcome.err  # and no good row is blamed
        return
    assert outcome.rc == 0, outcome.err
    ds = load_dataset(root)
    manifest = ds.manifest
    for i, want in enumerate(case.expected):
        for column, value in want.items():
            got = manifest[column].iloc[i]
            if value is EMPTY:
                assert pd.isna(got), (column, i, got)
            else:
                assert got == value and type(got) is not float, (column, i, got, value)
    assert list(ds.classes["name"]) == [c[1].strip() for c in case.classes]


# --- manifest.parquet: typed columns -----------------------------------------------

# (values of the label column as a program writes them, or None where the row must fail)
LABEL_COLUMNS = [
    ([0, 1, 2], [0, 1, 2]),
    ([0.0, 1.0, 2.0], [0, 1, 2]),  # a float column of whole numbers: the same labels
    ([0.0, np.nan, 2.0], [0, None, 2]),
    ([0.0, 1.5, 2.0], [0, None, 2]),
    ([0.0, np.inf, 2.0], [0, None, 2]),
    ([0.0, -np.inf, 1e20], [0, None, None]),
    (np.array([0, 2**64 - 1, 1], dtype=np.uint64), [0, None, 1]),
    ([True, False, True], [None, None, None]),
    (["0", "1", "2.0"], [0, 1, None]),
    ([0, 7, -1], [0, None, None]),
]
SUBJECT_COLUMNS = [
    ([36.0, 37.0, 38.0], ["36", "37", "38"]),
    ([np.inf, 1.0, np.nan], ["inf", "1", ""]),
    (["a", None, " b "], ["a", "", "b"]),
]


@fuzz(20)
@given(
    labels=st.sampled_from(LABEL_COLUMNS),
    subjects=st.sampled_from(SUBJECT_COLUMNS),
    order=st.permutations(range(3)),
)
def test_fuzzed_parquet_manifest(tmp_path: Path, labels, subjects, order):
    root = tmp_path / "ds"
    if root.exists():
        shutil.rmtree(root)
    root.mkdir()
    write_csv_rows(
        root / "classes.csv", ["id", "name"], [[str(i), n] for i, n in enumerate(CLASSES)]
    )
    values, want = labels
    frame = pd.DataFrame(
        {
            "clip_id": [f"c{i}" for i in order],
            "video": [f"v/c{i}.mp4" for i in order],
            "label": pd.Series(values).iloc[list(order)].reset_index(drop=True),
            "split": ["train"] * 3,
            "subject": pd.Series(subjects[0]).iloc[list(order)].reset_index(drop=True),
        }
    )
    frame.to_parquet(root / "manifest.parquet")
    want = [want[i] for i in order]
    outcome = run_cli(["validate", str(root)])
    if None in want:
        assert_one_error(outcome, "validate", "not a valid dataset")
        for i, w in enumerate(want):
            assert names_row(outcome.err, "manifest.parquet", i + 1) == (w is None), outcome.err
        return
    assert outcome.rc == 0, outcome.err
    manifest = load_dataset(root).manifest
    assert list(manifest["label"]) == want
    assert list(manifest["subject"]) == [subjects[1][i] for i in order]


# --- --check-files: paths that exist, and symlinks out of the dataset ---------------

ESCAPES = "escapes the dataset directory"
# (video path, the problem its row must get, or None): `link` leads out of the dataset,
# `inside` to a folder in it; `top/v/c.mp4` exists beside the dataset directory.
CHECKED_PATHS = [
    ("v/c.mp4", None),
    ("inside/c.mp4", None),
    ("inside/../v/c.mp4", None),
    ("{top}/v/c.mp4", None),  # absolute paths may name any file
    ("link/c.mp4", "leads out of the dataset directory through a symlink"),
    ("link/../v/c.mp4", "leads out of the dataset directory through a symlink"),
    ("v/../../v/c.mp4", ESCAPES),
    ("v/missing.mp4", "does not exist"),
    ("linkfile.mp4", "leads out of the dataset directory through a symlink"),
]


@fuzz(25)
@given(paths=st.lists(st.sampled_from(CHECKED_PATHS), min_size=1, max_size=4))
def test_fuzzed_paths_with_check_files(tmp_path: Path, paths):
    top = tmp_path / "top"
    if top.exists():
        shutil.rmtree(top)
    root = top / "ds"
    for folder in (root / "v", top / "v", top / "outside"):
        folder.mkdir(parents=True)
    for video in (root / "v" / "c.mp4", top / "v" / "c.mp4", top / "outside" / "c.mp4"):
        video.write_bytes(b"stand-in video, not decoded")
    os.symlink(top / "outside", root / "link")
    os.symlink(root / "v", root / "inside")
    os.symlink(top / "v" / "c.mp4", root / "linkfile.mp4")
    rows = [
        [f"c{i}", path.format(top=top), "0", "train", "", "", ""]
        for i, (path, _) in enumerate(paths)
    ]
    write_csv_rows(root / "classes.csv", ["id", "name"], [["0", "touching neck"]])
    write_csv_rows(root / "manifest.csv", COLUMNS, rows)
    outcome = run_cli(["validate", str(root), "--check-files"])
    problems = [why for _, why in paths]
    if ESCAPES in problems:  # the tables are checked first, the files they name after
        problems = [why if why == ESCAPES else None for why in problems]
    if not any(problems):
        assert outcome.rc == 0, outcome.err
        return
    assert_one_error(outcome, "validate")
    for i, why in enumerate(problems):
        if why is None:
            assert not names_row(outcome.err, "manifest.csv", i + 1), outcome.err
        else:
            line = next(line for line in outcome.err.splitlines() if f"row {i + 1} " in line)
            assert why in line, (why, line)
