"""One writer per output: a lock file beside OUT that names its holder.

Two `fgsgl extract` (or encode-text, train, run-local) into the same OUT at once would
interleave their writes. Each step takes `output_lock(OUT)` (or is decorated with
`@locks_output("out")`) before it writes anything:

- The lock is a POSIX record lock (lockf) on `.NAME.lock` beside OUT (never inside it, so
  no artifact ever carries it), whose content names the holder: pid, host, command and
  start time. A record lock belongs to the process, not to the descriptor: the loader and
  pool workers a step forks do not inherit it, so a killed run's workers, still exiting,
  never keep its rerun out (an flock would be shared with them).
- A second writer refuses at once with LockedError naming the holder and the lock file;
  so does a second take of the same OUT inside one process (record locks never conflict
  within a process, so the held paths are tracked here too).
- The kernel drops the lock when its process dies, SIGKILL included: the file a killed run
  left behind is stale, and the next writer takes it over with a warning naming the dead
  holder. Released and removed on exit, errors included.
- Of a distributed launch (torchrun / deepspeed: RANK set) only rank 0 takes it.
- Object-store outputs (gs://, s3://) and file systems without locks (some FUSE mounts)
  get no lock: there, as in a KFP run, every task writes an output of its own.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import fcntl
import functools
import inspect
import json
import logging
import os
import shlex
import socket
import sys
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

from fgsgl import storage
from fgsgl.diskspace import disk_full_error, is_disk_full
from fgsgl.errors import LockedError

log = logging.getLogger("fgsgl")
NO_LOCKS = (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL)
F = TypeVar("F", bound=Callable[..., Any])
_HELD: dict[Path, Holder] = {}  # the lock files this process holds


def lock_path(out: str | os.PathLike) -> Path:
    """`.NAME.lock` beside OUT; symlinks and relative spellings of one OUT meet one lock."""
    path = Path(out).resolve()
    return path.with_name(f".{path.name}.lock")


@dataclass(frozen=True)
class Holder:
    """Who holds (or held) a lock: what its file says."""

    pid: int
    host: str
    command: str
    started: str

    @classmethod
    def me(cls) -> Holder:
        return cls(
            pid=os.getpid(),
            host=socket.gethostname(),
            command=_command_line(),
            started=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        )

    @classmethod
    def parse(cls, text: str) -> Holder | None:
        try:
            data = json.loads(text)
            return cls(int(data["pid"]), str(data["host"]), str(data["command"]), data["started"])
        except (ValueError, KeyError, TypeError):
            return None

    def describe(self) -> str:
        return f"pid {self.pid} on {self.host} since {self.started} ({self.command})"

    def alive(self) -> bool | None:
        """Whether the process still runs (None: on another host, cannot tell)."""
        if self.host != socket.gethostname():
            return None
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


def _command_line(limit: int = 240) -> str:
    """This process's command line, on one line and cut to `limit` characters."""
    try:
        args = [
            a.decode(errors="replace")
            for a in Path("/proc/self/cmdline").read_bytes().split(b"\0")
            if a
        ]
    except OSError:
        args = [sys.executable, *sys.argv]
    text = " ".join(shlex.quote(a) for a in args).replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _read(fd: int) -> Holder | None:
    return Holder.parse(os.pread(fd, 4096, 0).decode("utf-8", "replace"))


class OutputLock:
    """The lock of one output; `acquire` refuses (LockedError) while another holds it."""

    def __init__(self, out: str | os.PathLike) -> None:
        self.out = str(out)
        self.path = lock_path(out)
        self._fd: int | None = None

    def acquire(self) -> bool:
        """Take the lock; False where this file system cannot lock (then nothing is held)."""
        if self.path in _HELD:  # never open it again: closing any descriptor drops the lock
            raise LockedError(self._refusal(_HELD[self.path]))
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = self._open_locked()
        except OSError as e:
            if is_disk_full(e):
                raise disk_full_error(self.path, e, then="free space") from e
            if e.errno not in (*NO_LOCKS, errno.EACCES, errno.EROFS, errno.EPERM):
                raise
            log.warning(
                "%s: cannot take the lock %s (%s); writing without one",
                self.out,
                self.path,
                e.strerror,
            )
            return False
        if fd is None:
            return False
        previous = _read(fd)
        if previous is not None:
            alive = previous.alive()
            gone = "no longer running" if alive is False else "no longer holding it"
            log.warning(
                "%s: taking over the stale lock %s left by %s: that process is %s",
                self.out,
                self.path,
                previous.describe(),
                gone,
            )
        me = Holder.me()
        text = json.dumps(asdict(me), indent=2) + "\n"
        self._fd = fd
        _HELD[self.path] = me
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, text.encode(), 0)
        except OSError as e:
            self.release()
            if is_disk_full(e):
                raise disk_full_error(self.path, e, needed=len(text), then="free space") from e
            raise
        return True

    def _open_locked(self) -> int | None:
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as e:
                if e.errno in (errno.EACCES, errno.EAGAIN):  # held by another process
                    holder = _read(fd)
                    os.close(fd)
                    raise LockedError(self._refusal(holder)) from None
                os.close(fd)
                if e.errno in NO_LOCKS:
                    log.debug("%s: no locks on this file system (%s)", self.path, e.strerror)
                    return None
                raise
            # a holder that just finished removes its file: lock the file at the path now
            try:
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                return fd
            os.close(fd)

    def _refusal(self, holder: Holder | None) -> str:
        who = holder.describe() if holder else "another process (it is just starting)"
        return (
            f"{self.out} is being written by {who}; wait for it to finish or choose another "
            f"output. The lock is {self.path}"
        )

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        _HELD.pop(self.path, None)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()  # before unlocking: a waiter then locks a file of its own
        os.close(fd)  # drops the record lock


@contextlib.contextmanager
def output_lock(out: str | os.PathLike) -> Iterator[None]:
    """Hold OUT's lock for the duration of the block (see the module docstring)."""
    if storage.is_remote(out) or int(os.environ.get("RANK", "0") or 0) != 0:
        yield
        return
    lock = OutputLock(out)
    lock.acquire()
    try:
        yield
    finally:
        lock.release()


def locks_output(argument: str) -> Callable[[F], F]:
    """Decorate a step so that it holds the lock of its output `argument` while it runs."""

    def decorate(fn: F) -> F:
        signature = inspect.signature(fn)

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            with output_lock(bound.arguments[argument]):
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate
