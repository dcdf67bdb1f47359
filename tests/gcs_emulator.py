"""A real local GCS emulator (gcp-storage-emulator) for tests of gs:// paths.

The emulator runs as its own process on a free loopback port; STORAGE_EMULATOR_HOST points
the real google-cloud-storage client at it (fgsgl.storage then uses anonymous
credentials). Use the `gcs` fixture by naming this module as a plugin of the test module:

    pytest_plugins = ("gcs_emulator",)

    def test_x(gcs):  # gcs.bucket is an empty bucket; gcs.uri("a/b") -> gs://bucket/a/b
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from fgsgl import storage


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Emulator:
    port: int
    data_dir: Path
    bucket: str = "fgsgl-test"
    process: subprocess.Popen | None = None

    @property
    def host(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def uri(self, name: str = "") -> str:
        return f"gs://{self.bucket}/{name}"

    def start(self) -> None:
        command = [sys.executable, "-m", "gcp_storage_emulator", "--data-dir", str(self.data_dir)]
        command += ["start", "--host", "127.0.0.1", "--port", str(self.port), "-q"]
        command += ["--default-bucket", self.bucket]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the GCS emulator did not start") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def gcs(tmp_path: Path) -> Iterator[Emulator]:
    emulator = Emulator(free_port(), tmp_path / "gcs-data")
    emulator.data_dir.mkdir()
    emulator.start()
    saved = {k: os.environ.get(k) for k in ("STORAGE_EMULATOR_HOST", "GOOGLE_CLOUD_PROJECT")}
    os.environ["STORAGE_EMULATOR_HOST"] = emulator.host
    os.environ["GOOGLE_CLOUD_PROJECT"] = "fgsgl-test"
    storage.client.cache_clear()
    try:
        yield emulator
    finally:
        emulator.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        storage.client.cache_clear()
