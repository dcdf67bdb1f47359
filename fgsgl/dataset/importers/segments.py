"""Segment label files: headerless CSV rows `label,start_frame,end_frame`, one per clip.

iMiGUE (`<VVVV>_label.csv`: gestureID,startFrame,endFrame) and SMG
(`SampleNNNN_finelabels.csv`: label,startf,endf) share this shape. Frames are 0-based and
inclusive, as the contract wants, so they are kept as they are.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from fgsgl.dataset.validate import parse_int


@dataclass(frozen=True)
class Segment:
    row: int  # 0-based position among the file's segment rows (part of the clip id)
    line: int  # line number in the file, for messages
    label: int  # as written in the file (source ids, e.g. 1..32)
    start: int
    end: int


def read_segments(path: Path, name: str) -> tuple[list[Segment], list[str]]:
    """Every well-formed segment of a label file, and a problem for every other line.

    `name` is how messages call the file (its path relative to the source). A first line
    whose label is not a number is reported as a header, since the public files have none.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        return [], [f"{name}: not UTF-8 text (byte {e.start})"]
    segments: list[Segment] = []
    problems: list[str] = []
    reader = csv.reader(io.StringIO(text, newline=""))
    row = 0
    for record in reader:
        line = reader.line_num
        cells = [c.strip() for c in record]
        if not any(cells):
            continue
        where = f"{name} line {line}"
        if len(cells) == 1 and any(d in cells[0] for d in ";\t "):
            problems.append(f"{where}: {cells[0]!r} is not comma-separated label,start,end")
            row += 1
            continue
        if len(cells) != 3:
            problems.append(f"{where}: {len(cells)} fields, expected 3 (label,start,end)")
            row += 1
            continue
        try:
            label, start, end = (parse_int(c) for c in cells)
        except ValueError:
            bad = next(c for c in cells if not _is_int(c))
            header = line == 1 and not any(_is_int(c) for c in cells)  # names, no numbers
            what = "a header line" if header else f"{bad!r} is not a number"
            problems.append(f"{where}: {what}; expected label,start,end as integers")
            row += 1
            continue
        if None in (label, start, end):
            problems.append(f"{where}: empty field; expected label,start,end")
        elif start < 0 or end < 0:
            problems.append(f"{where}: negative frame number ({start},{end})")
        elif start > end:
            problems.append(f"{where}: start frame {start} is after end frame {end}")
        else:
            segments.append(Segment(row, line, label, start, end))
        row += 1
    return segments, problems


def _is_int(cell: str) -> bool:
    try:
        parse_int(cell)
    except ValueError:
        return False
    return True
