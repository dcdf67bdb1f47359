"""One writer per output: a second writer refuses at once naming the holder, a lock left by
a killed process is taken over, the lock is released on errors and never inside an artifact.

The holder is a real second process (`python -c`, holding the locks of the paths it is
given until its stdin closes); the writers are the real CLI or the library.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from video_helpers import coded_dataset

from fgsgl.errors import LockedError, UsageError
from fgsgl.locks import OutputLock, lock_path, output_lock
from fgsgl.video.extract import extract

HOLDER = """# the lock holder of test_locks
import contextlib, sys
from fgsgl.locks import output_lock
with contextlib.ExitStack() as stack:
    for path in sys.argv[1:]:
        stack.enter_context(output_lock(path))
    print("held", flush=True)
    sys.stdin.read()
"""


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return coded_dataset(tmp_path_factory.mktemp("locks") / "ds", clips=2, frames=12)


class Holder:
    def __init__(self, *outputs: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", HOLDER, *map(str, outputs)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        line = self.process.stdout.readline()
        assert line == "held\n", self.process.communicate()

    @property
    def pid(self) -> int:
        return self.process.pid

    def release(self) -> None:
        self.process.communicate("", timeout=30)
        assert self.process.returncode == 0

    def kill(self) -> None:
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.communicate(timeout=30)


@pytest.fixture
def holder_of(tmp_path: Path) -> Iterator:
    holders: list[Holder] = []

    def start(*outputs: Path) -> Holder:
        holders.append(Holder(*outputs))
        return holders[-1]

    yield start
    for h in holders:
        if h.process.poll() is None:
            h.kill()


EXTRACT_ARGS = ["--frames", "2", "--size", "16", "--workers", "1"]


def run_extract_cli(dataset: Path, out: Path) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "fgsgl", "extract", str(dataset), str(out), *EXTRACT_ARGS]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def test_a_second_extract_refuses_at_once_naming_the_holder(
    dataset: Path, tmp_path: Path, holder_of
) -> None:
    out = tmp_path / "frames"
    holder = holder_of(out)
    done = run_extract_cli(dataset, out)
    assert done.returncode == 1, done.stderr
    error = done.stderr.strip().splitlines()[-1]
    assert f"{out} is being written by pid {holder.pid} on {socket.gethostname()}" in error
    assert "-c '# the lock holder of test_locks" in error  # the holder's command line
    assert str(lock_path(out)) in error
    assert "Traceback" not in done.stderr
    assert not out.exists()  # refused before writing anything
    holder.release()
    assert not lock_path(out).exists()  # removed on release
    done = run_extract_cli(dataset, out)
    assert done.returncode == 0, done.stderr
    assert (out / "metadata.json").is_file()
    assert not lock_path(out).exists()


def test_a_lock_left_by_a_killed_process_is_taken_over(
    dataset: Path, tmp_path: Path, holder_of, caplog: pytest.LogCaptureFixture
) -> None:
    out = tmp_path / "frames"
    holder = holder_of(out)
    holder.kill()  # SIGKILL: no chance to remove its lock file
    assert lock_path(out).is_file()
    with caplog.at_level(logging.WARNING, logger="fgsgl"):
        summary = extract(str(dataset), str(out), frames=2, size=16, workers=1)
    assert summary["extracted"] == 2
    warnings = [r.getMessage() for r in caplog.records if "stale lock" in r.getMessage()]
    assert len(warnings) == 1
    assert f"left by pid {holder.pid} on {socket.gethostname()}" in warnings[0]
    assert "no longer running" in warnings[0]
    assert not lock_path(out).exists()
    assert not [p for p in out.rglob("*") if "lock" in p.name]  # the artifact carries none


def test_encode_text_train_run_local_and_merge_refuse_while_their_output_is_held(
    tmp_path: Path, holder_of
) -> None:
    """Each step takes its output's lock first, before it reads its inputs (absent here)."""
    from fgsgl.pipelines.local import run_local
    from fgsgl.text.encode import encode_texts
    from fgsgl.train.run import train
    from fgsgl.video.merge import merge

    outs = {name: tmp_path / name for name in ("texts", "model", "runs", "merged")}
    holder = holder_of(*outs.values())
    missing = str(tmp_path / "missing")
    calls = {
        "texts": lambda: encode_texts(missing, str(outs["texts"])),
        "model": lambda: train(missing, missing, str(outs["model"]), stage=1),
        "runs": lambda: run_local(missing, "full", outs["runs"]),
        "merged": lambda: merge([missing], str(outs["merged"])),
    }
    for name, call in calls.items():
        with pytest.raises(LockedError, match=f"being written by pid {holder.pid} "):
            call()
        assert not outs[name].exists(), name
    holder.release()


def test_the_lock_is_released_when_the_step_fails(dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "frames"
    with pytest.raises(UsageError):
        extract(str(dataset), str(out), frames=0)
    assert not lock_path(out).exists()
    with output_lock(out):  # free again
        assert lock_path(out).is_file()


def test_one_process_cannot_take_one_output_twice(tmp_path: Path) -> None:
    out = tmp_path / "out"
    same_out = tmp_path / "sub" / ".." / "out"  # another spelling of the same OUT
    with output_lock(same_out), pytest.raises(LockedError, match=f"pid {os.getpid()} "):
        OutputLock(out).acquire()
    assert not lock_path(out).exists()


def test_only_rank_zero_of_a_distributed_launch_takes_the_lock(
    tmp_path: Path, holder_of, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "model"
    holder_of(out)  # rank 0, say
    monkeypatch.setenv("RANK", "1")
    with output_lock(out):  # rank 1 writes only what rank 0 lets it
        pass
    monkeypatch.setenv("RANK", "0")
    with pytest.raises(LockedError):
        OutputLock(out).acquire()
