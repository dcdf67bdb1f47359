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


class StoreUnavailableError(FgsglError):
    """An object store kept failing transiently (connection errors, 429, 5xx) through every
    attempt of fgsgl's retry policy (fgsgl.storage_drivers): which URI, which operation,
    how many attempts, and the last error."""

    def __init__(self, uri: str, operation: str, attempts: int, last_error: str) -> None:
        super().__init__(
            f"{uri}: {operation} failed after {attempts} attempts, the store failing "
            f"transiently each time (last: {last_error}); try again later, or allow more "
            "with FGSGL_STORAGE_ATTEMPTS / FGSGL_STORAGE_BACKOFF_S"
        )
        self.uri, self.operation, self.attempts = uri, operation, attempts
        self.last_error = last_error


class DiskFullError(FgsglError):
    """A write met a full disk (ENOSPC) or quota; `path` is where space ran out. What was
    finished before is kept, so a rerun after freeing space resumes (fgsgl.diskspace)."""

    def __init__(self, message: str, *, path: str) -> None:
        super().__init__(message)
        self.path = path


class LockedError(FgsglError):
    """Another live process holds the output's lock (fgsgl.locks): its pid, host, command."""


def check_failure_ratio(failed: int, total: int, limit: float, *, what: str, see: str) -> None:
    """A batch step (extract, pose) that recorded its failures and wrote the rest stops with
    this error when more than `limit` (its --max-failure-ratio) of its `what` failed; `see`
    says where the failures and the good ones are."""
    if total and failed / total > limit:
        raise FgsglError(
            f"{failed} of {total} {what} failed ({failed / total:.1%}), more than "
            f"--max-failure-ratio {limit:g}; {see}"
        )
