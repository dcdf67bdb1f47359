"""Reading and writing the dataset's tables, with clear messages for malformed files.

CSV files are parsed with the csv module rather than pandas so that nothing is guessed:
every cell stays the text that was written ("NA" is a subject, not a missing value), rows
with the wrong number of fields are all reported with their line numbers, and a file
written with `;` or tabs, or without a header, gets one message that says so.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from fgsgl.dataset.contract import DatasetError

_OTHER_DELIMITERS = {";": "';'", "\t": "tabs", "|": "'|'"}


@dataclass(frozen=True)
class RawTable:
    """A table as read from a file: cells as written, and each data row's line number."""

    frame: pd.DataFrame
    lines: tuple[int, ...] | None  # None for parquet: rows have no lines


def read_csv_table(
    data: bytes, file: str, known_columns: tuple[str, ...], *, exact: tuple[str, ...] = ()
) -> RawTable:
    """Parse a comma-separated file with a header row into a table of stripped strings.

    `known_columns` are the column names the contract defines; a first line naming none of
    them is taken as a missing header (or another delimiter) rather than as column names.
    Columns in `exact` (identifiers such as clip_id) keep their cells as written, so that
    the caller can refuse an id with spaces around it instead of changing it unseen.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise DatasetError(f"{file}: not UTF-8 text (byte {e.start}: {e.reason})") from e
    if (nul := text.find("\x00")) >= 0:  # the csv module keeps NUL bytes inside cells
        line = text.count("\n", 0, nul) + 1
        raise DatasetError(f"{file} line {line}: not valid CSV (a NUL byte: UTF-16 or binary?)")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header, rows, lines = _read_rows(reader)
    except csv.Error as e:
        raise DatasetError(f"{file} line {reader.line_num}: not valid CSV ({e})") from e
    if header is None:
        raise DatasetError(
            f"{file}: empty; expected a header line naming the columns ({', '.join(known_columns)})"
        )
    _check_header(header, file, known_columns)
    problems = [
        f"{file} line {line}: {len(row)} fields, but the header has {len(header)}"
        for row, line in zip(rows, lines, strict=True)
        if len(row) != len(header)
    ]
    if problems:
        raise DatasetError(f"{file}: rows do not match the header", problems)
    frame = pd.DataFrame(rows, columns=header, dtype="str")
    for column in frame.columns:  # stripped column by column, not cell by cell
        if column not in exact:
            frame[column] = frame[column].str.strip()
    return RawTable(frame, tuple(lines))


def _read_rows(reader: csv._reader) -> tuple[list[str] | None, list[list[str]], list[int]]:
    header: list[str] | None = None
    rows: list[list[str]] = []
    lines: list[int] = []
    for record in reader:
        if not any(record):
            continue  # blank line (or only commas, as spreadsheets write them)
        if header is None:
            header = [cell.strip() for cell in record]
        else:
            rows.append(record)
            lines.append(reader.line_num)
    return header, rows, lines


def _check_header(header: list[str], file: str, known: tuple[str, ...]) -> None:
    first_line = ",".join(header)
    if not any(name in known for name in header):
        for delimiter, name in _OTHER_DELIMITERS.items():
            if any(delimiter in cell for cell in header):
                raise DatasetError(
                    f"{file}: fields are separated by {name}, but fgsgl reads comma-separated "
                    f"files (first line: {first_line[:120]!r})"
                )
        raise DatasetError(
            f"{file}: no header line: the first line {first_line[:120]!r} names none of the "
            f"columns {', '.join(known)}; add a header line"
        )
    problems = []
    seen: set[str] = set()
    for position, name in enumerate(header, start=1):
        if not name:
            problems.append(f"{file} line 1: column {position} has no name")
        elif name in seen:
            problems.append(f"{file} line 1: column {name!r} appears twice")
        seen.add(name)
    if problems:
        raise DatasetError(f"{file}: bad header line", problems)


def read_parquet_table(data: bytes, file: str) -> RawTable:
    try:
        frame = pd.read_parquet(io.BytesIO(data))
    except Exception as e:  # pyarrow raises several types for a damaged file
        raise DatasetError(f"{file}: not a readable parquet file ({e})") from e
    frame = frame.reset_index(drop=True)
    frame.columns = [str(c).strip() for c in frame.columns]
    return RawTable(frame, None)


def write_csv(frame: pd.DataFrame, path: str | Path) -> None:
    """Write a table as CSV atomically (NA as an empty cell), so readers never see half."""
    _atomic_write(path, frame.to_csv(index=False, lineterminator="\n").encode())


def write_parquet(frame: pd.DataFrame, path: str | Path) -> None:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    _atomic_write(path, buffer.getvalue())


def _atomic_write(path: str | Path, data: bytes) -> None:
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_bytes(data)
    except BaseException:  # a full disk: no half-written temp file left behind
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)
