"""The dataset contract: which columns a dataset directory has, and how problems are named.

A dataset directory holds `manifest.csv` (or `manifest.parquet`), one row per clip, and
`classes.csv`, one row per class (docs/method.md, "The dataset contract"). Everything that
reads or writes a dataset uses these names, so the contract lives in exactly one place.
"""

from __future__ import annotations

from dataclasses import dataclass

from fgsgl.errors import FgsglError
from fgsgl.text.templates import ATTRIBUTES

MANIFEST_CSV = "manifest.csv"
MANIFEST_PARQUET = "manifest.parquet"
CLASSES_CSV = "classes.csv"

SPLITS = ("train", "val", "test")

# How public releases and people name the splits; importers map these words to SPLITS and
# validation suggests them ("did you mean 'val'?"), but a manifest must use SPLITS.
SPLIT_WORDS = {
    "train": "train",
    "training": "train",
    "val": "val",
    "valid": "val",
    "validate": "val",
    "validation": "val",
    "dev": "val",
    "test": "test",
    "testing": "test",
}


def split_word(text: str) -> str | None:
    """The split a word stands for ('Validate' -> 'val'), or None."""
    return SPLIT_WORDS.get(text.strip().lower())


REQUIRED_COLUMNS = ("clip_id", "video", "label", "split")
FRAME_COLUMNS = ("start_frame", "end_frame")
# Optional text columns whose missing values are NA (subject is "" instead: every clip has
# one, possibly unknown, and grouping by subject must not drop NA rows).
OPTIONAL_TEXT_COLUMNS = (*ATTRIBUTES, "fg_text", "keypoints")
PATH_COLUMNS = ("video", "keypoints")
MANIFEST_COLUMNS = (*REQUIRED_COLUMNS, "subject", *FRAME_COLUMNS, *OPTIONAL_TEXT_COLUMNS)

CLASSES_REQUIRED = ("id", "name")
CLASSES_COLUMNS = ("id", "name", "description")


class DatasetError(FgsglError):
    """A dataset directory (or tables about to become one) breaks the contract."""


@dataclass(frozen=True)
class RowNamer:
    """Names rows in messages: 1-based data rows, plus the file line where there is one.

    "manifest.csv row 3 (line 4)": row 3 is the third clip, line 4 counts the header (and
    any blank lines), so both a spreadsheet user and an editor find it. `lines` holds each
    data row's line number when the table was read from a CSV file.
    """

    file: str
    lines: tuple[int, ...] | None = None

    def _line(self, position: int) -> int | None:
        if self.lines is not None and position < len(self.lines):
            return self.lines[position]
        return position + 2 if self.file.endswith(".csv") else None

    def row(self, position: int) -> str:
        """`position` is the 0-based position in the table."""
        line = self._line(position)
        text = f"{self.file} row {position + 1}"
        return text if line is None else f"{text} (line {line})"

    def rows(self, positions: list[int]) -> str:
        text = f"{self.file} rows {', '.join(str(p + 1) for p in positions)}"
        lines = [self._line(p) for p in positions]
        if all(line is not None for line in lines):
            text += f" (lines {', '.join(map(str, lines))})"
        return text
