"""User-facing errors: one message (or one list of problems) and an exit code.

Anything raised as FgsglError is bad input or a refused operation that the user can fix;
the CLI prints it without a traceback. Any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations


class FgsglError(Exception):
    """A problem the user can fix. `problems` lists every one found, not just the first."""

    exit_code = 1

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.problems = list(problems or [])

    def __str__(self) -> str:
        if not self.problems:
            return self.message
        lines = [self.message] + [f"  - {p}" for p in self.problems]
        return "\n".join(lines)


class UsageError(FgsglError):
    """Wrong command-line usage that argparse itself cannot see (exit 2, like argparse)."""

    exit_code = 2
