"""Print pip requirement lines from pyproject.toml: the images' one source of pins.

    python requirements.py [--extra gpu] [--only torch | --without torch] [PYPROJECT]

The Dockerfiles install exactly these lines (torch first, from the index that matches the
image's CUDA or CPU build), so an image never pins anything pyproject does not.
Standard library only: it runs before anything is installed.
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from pathlib import Path


def requirements(pyproject: Path, extras: list[str]) -> list[str]:
    project = tomllib.loads(pyproject.read_text())["project"]
    lines = list(project["dependencies"])
    optional = project.get("optional-dependencies", {})
    for extra in extras:
        if extra not in optional:
            raise SystemExit(f"{pyproject}: no optional dependency group {extra!r}")
        lines += optional[extra]
    return lines


def name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].strip().lower()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pyproject", nargs="?", default="pyproject.toml", type=Path)
    parser.add_argument("--extra", action="append", default=[], help="optional group to add")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--only", action="append", default=[], metavar="NAME")
    which.add_argument("--without", action="append", default=[], metavar="NAME")
    args = parser.parse_args(argv)
    lines = requirements(args.pyproject, args.extra)
    if args.only:
        lines = [r for r in lines if name(r) in args.only]
    lines = [r for r in lines if name(r) not in args.without]
    sys.stdout.write("".join(f"{r}\n" for r in lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
