"""Progress bars for long work: tqdm on a terminal, a periodic line in pod logs."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm import tqdm

T = TypeVar("T")
log = logging.getLogger("fgsgl")


def bar(
    iterable: Iterable[T] | None = None,
    *,
    total: int | None = None,
    desc: str = "",
    unit: str = "it",
    disable: bool | None = None,
) -> tqdm:
    """A tqdm bar on stderr: redrawn in place on a terminal, every 10 s as a line otherwise
    (KFP and kubectl logs show each redraw as a new line)."""
    tty = sys.stderr.isatty()
    return tqdm(
        iterable,
        total=total,
        desc=desc,
        unit=unit,
        file=sys.stderr,
        mininterval=0.2 if tty else 10.0,
        dynamic_ncols=tty,
        ascii=not tty,
        disable=disable,
        leave=tty,
    )


def track(iterable: Iterable[T], **kwargs) -> Iterator[T]:
    with bar(iterable, **kwargs) as b:
        yield from b
