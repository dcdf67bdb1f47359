"""What the fuzz tests (tests/test_fuzz_*.py) share: seeded hypothesis settings, the CLI run
in-process, the odd spellings people and spreadsheets give a value, and the checks every
fuzzed input must pass: success with exactly the values an oracle expects, or one error
naming each bad row, exit code 1 or 2, no traceback and nothing written.

Each odd spelling comes with what it must be read as: the number (or text) itself, EMPTY, or
BAD (an error naming its row is the only right answer).
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st

from fgsgl.cli import main

# Hypothesis keeps a cache (.hypothesis/constants) in the working directory even without an
# example database; it reads where on first use: elsewhere, so the checkout stays clean.
os.environ.setdefault(
    "HYPOTHESIS_STORAGE_DIRECTORY", str(Path(tempfile.gettempdir()) / "fgsgl-hypothesis")
)


class _Bad:
    def __repr__(self) -> str:
        return "BAD"


BAD: Any = _Bad()  # a spelling that must be refused
EMPTY: Any = None  # a spelling that means "no value"


def fuzz(examples: int) -> settings:
    """Seeded and bounded: the same examples on every run, no .hypothesis folder written,
    and no shrinking (a failure is reported as found, in the same bounded time).
    FGSGL_FUZZ_SCALE=N runs N times as many (a deeper search by hand; CI runs 1)."""
    return settings(
        max_examples=examples * int(os.environ.get("FGSGL_FUZZ_SCALE", "1")),
        derandomize=True,
        database=None,
        deadline=None,
        phases=(Phase.explicit, Phase.generate),
        report_multiple_bugs=False,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


@dataclass(frozen=True)
class Outcome:
    rc: int
    out: str
    err: str


def run_cli(argv: list[str]) -> Outcome:
    """`fgsgl ARGV` in this process; any exception but SystemExit is a bug and propagates."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main(argv)
        except SystemExit as e:  # argparse's own usage errors
            rc = int(e.code or 0)
    return Outcome(rc, out.getvalue(), err.getvalue())


def names_row(text: str, file: str, row: int, word: str = "row") -> bool:
    """Whether `text` names 1-based `row` of `file` ("f row 3", "f rows 1, 3", "f line 3")."""
    pattern = rf"{re.escape(file)} {word}s? (?:\d+, )*{row}(?!\d)"
    return re.search(pattern, text) is not None


def assert_one_error(outcome: Outcome, command: str, *names: str) -> None:
    """Exit 1 or 2 with one `fgsgl COMMAND: error:` message that contains each of `names`."""
    assert outcome.rc in (1, 2), outcome
    assert "Traceback" not in outcome.err, outcome.err
    assert outcome.err.startswith(f"fgsgl {command}: error: "), outcome.err
    assert outcome.err.count(f"fgsgl {command}: error: ") == 1, outcome.err
    for name in names:
        assert name in outcome.err, (name, outcome.err)


def int_cell(value: int, *, bad: bool = True) -> st.SearchStrategy[tuple[str, Any]]:
    """(cell text, what it must read as) for an integer cell meant to hold `value`; only
    good spellings where `bad` is False."""
    good = [
        (str(value), value),
        (f" {value} ", value),
        (f"0{value}" if value >= 0 else f"-0{-value}", value),
        (f"+{value}" if value >= 0 else str(value), value),
        (f"{value}\u00a0", value),  # a no-break space from a spreadsheet
    ]
    if not bad:
        return st.sampled_from(good)
    wrong = [
        (f"{value}.0", BAD),
        (f"{value}e0", BAD),
        ("1e3", BAD),
        ("nan", BAD),
        ("inf", BAD),
        ("\u0663", BAD),  # ARABIC-INDIC DIGIT THREE: int() reads it as 3
        ("\uff13", BAD),  # FULLWIDTH DIGIT THREE
        ("0x1", BAD),
        ("1_0", BAD),
        ("9" * 20, BAD),  # beyond int64
        ("1 2", BAD),
        ("three", BAD),
        ("-", BAD),
    ]
    return st.one_of(st.sampled_from(good), st.sampled_from(wrong), st.just(("", EMPTY)))


def menu(options: list[tuple[str, Any]], i: int, *, bad: bool = True) -> st.SearchStrategy:
    """(cell, value) from `options` of text cells ({i}: the row), only good ones where `bad`
    is False."""
    chosen = [o for o in options if bad or o[1] is not BAD]
    return st.sampled_from(chosen).map(
        lambda c: (c[0].format(i=i), c[1].format(i=i) if isinstance(c[1], str) else c[1])
    )


def write_csv_rows(path: Path, header: list[str], rows: list[list[str]]) -> None:
    """A CSV as a careful program writes it (quoted where needed, \\n line ends)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")


# Byte-level changes that must not change what a CSV means.
HARMLESS = ("bom", "crlf", "blank_lines", "trailing_newlines")


def harmless(data: bytes, changes: list[str]) -> bytes:
    for change in changes:
        if change == "bom":
            data = b"\xef\xbb\xbf" + data
        elif change == "crlf":
            data = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        elif change == "blank_lines":
            lines = data.split(b"\n")
            data = b"\n".join([*lines[:1], b"", *lines[1:2], b"", *lines[2:]])
        elif change == "trailing_newlines":
            data = data + b"\n\n"
    return data


def files_under(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")} if root.exists() else set()
