"""Nothing lost: a killed worker, or a killed run, ends in the uninterrupted run's artifact.

The run is the real CLI in a subprocess; SIGKILL is sent once the first shard is complete
(its sidecar exists), so the interruption falls mid-way.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from video_helpers import assert_same_artifact, coded_frames, make_dataset, write_video

from fgsgl.video.extract import extract

pytestmark = pytest.mark.slow
CLIPS = 16
ARGS = ["--frames", "8", "--size", "96", "--clips-per-shard", "1", "--workers", "2"]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("resume") / "ds"
    rows = []
    for i in range(CLIPS):
        write_video(root / f"v{i}.mp4", coded_frames(90 + i, width=320, height=240, band=40))
        rows.append(
            {"clip_id": f"c{i:02d}", "video": f"v{i}.mp4", "label": i % 2, "split": "train"}
        )
    (root / "broken.mp4").write_bytes(b"\x00" * 1000)
    rows.append({"clip_id": "broken", "video": "broken.mp4", "label": 0, "split": "val"})
    return make_dataset(root, rows)


@pytest.fixture(scope="module")
def uninterrupted(dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("whole") / "frames"
    run_cli(dataset, out).check_returncode()
    return out


def start_cli(dataset: Path, out: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "fgsgl", "extract", str(dataset), str(out), *ARGS]
    command += ["--max-failure-ratio", "0.1"]
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )


def run_cli(dataset: Path, out: Path) -> subprocess.CompletedProcess:
    process = start_cli(dataset, out)
    stdout, stderr = process.communicate(timeout=300)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def sidecars(out: Path) -> list[Path]:
    return sorted((out / "shards").glob("*.json")) if (out / "shards").is_dir() else []


def wait_for_first_shard(out: Path, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120
    while not sidecars(out):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "no shard finished in time"
        time.sleep(0.002)


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def test_killing_the_run_then_rerunning_resumes(
    dataset: Path, uninterrupted: Path, tmp_path: Path
) -> None:
    out = tmp_path / "frames"
    process = start_cli(dataset, out)
    wait_for_first_shard(out, process)
    os.killpg(process.pid, signal.SIGKILL)  # the main process and its workers
    process.wait(timeout=60)
    done = len(sidecars(out))
    assert not (out / "metadata.json").exists()  # not a complete artifact
    assert 1 <= done < CLIPS + 1, "the kill should fall mid-way"
    summary = extract(
        str(dataset),
        str(out),
        frames=8,
        size=96,
        clips_per_shard=1,
        workers=2,
        max_failure_ratio=0.1,
    )
    assert summary["skipped_shards"] >= done - 1  # a shard may be published, its sidecar not
    assert_same_artifact(out, uninterrupted)


def test_a_killed_worker_is_replaced_and_its_work_redone(
    dataset: Path, uninterrupted: Path, tmp_path: Path
) -> None:
    out = tmp_path / "frames"
    process = start_cli(dataset, out)
    wait_for_first_shard(out, process)
    workers = children(process.pid)
    assert workers, "the run should have worker processes"
    os.kill(workers[0], signal.SIGKILL)
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr.decode()
    assert b"a worker process died" in stderr
    assert_same_artifact(out, uninterrupted)


def test_a_sidecar_half_written_when_killed_is_removed_on_rerun(
    dataset: Path, uninterrupted: Path, tmp_path: Path
) -> None:
    """A kill inside the atomic write of a sidecar leaves its temp file (`.NNNNN.json.tmp-PID`);
    the rerun removes it with the other leftovers, so the artifact equals an uninterrupted one."""
    out = tmp_path / "frames"
    shutil.copytree(uninterrupted, out)
    (out / "metadata.json").unlink()  # as if killed before the end
    (out / "shards" / ".00000.json.tmp-4242").write_text('{"half": ')
    run_cli(dataset, out).check_returncode()
    assert_same_artifact(out, uninterrupted)
