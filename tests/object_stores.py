"""Real local object stores for tests of gs:// and s3:// paths, each its own process on a
free loopback port, stopped by its pid:

- GCS: gcp-storage-emulator; STORAGE_EMULATOR_HOST points gcsfs at it (fgsgl.storage then
  uses anonymous access).
- S3: moto's standalone server (`python -m moto.server`); AWS_ENDPOINT_URL points s3fs
  at it, the way a MinIO user would.

Use the fixtures by naming this module as a plugin of the test module:

    pytest_plugins = ("object_stores",)

    def test_x(gcs): ...    # gcs.uri("a/b") -> gs://fgsgl-test/a/b, an empty bucket
    def test_y(s3): ...     # s3.uri("a/b") -> s3://fgsgl-test/a/b
    def test_z(store): ...  # runs once against each
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from fgsgl import storage

BUCKET = "fgsgl-test"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not start") from None
            time.sleep(0.05)


@dataclass
class Server:
    """One store's server process and the environment that points fgsgl at it."""

    scheme: str
    port: int
    data_dir: Path
    bucket: str = BUCKET
    process: subprocess.Popen | None = None
    environment: dict[str, str] = field(default_factory=dict)

    @property
    def host(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def uri(self, name: str = "") -> str:
        return f"{self.scheme}://{self.bucket}/{name}"

    def command(self) -> list[str]:
        raise NotImplementedError

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.command(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_for_port(self.port, self.process, f"the {self.scheme}:// server")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


class Emulator(Server):
    """gcp-storage-emulator: keeps its objects in data_dir, so it survives a restart."""

    def __init__(self, port: int, data_dir: Path) -> None:
        super().__init__("gs", port, data_dir)
        self.environment = {"STORAGE_EMULATOR_HOST": self.host, "GOOGLE_CLOUD_PROJECT": "fgsgl"}

    def command(self) -> list[str]:
        command = [sys.executable, "-m", "gcp_storage_emulator", "--data-dir", str(self.data_dir)]
        command += ["start", "--host", "127.0.0.1", "--port", str(self.port), "-q"]
        return [*command, "--default-bucket", self.bucket]


class MotoS3(Server):
    """moto's S3 server (in memory); the bucket is made once it listens."""

    def __init__(self, port: int, data_dir: Path) -> None:
        super().__init__("s3", port, data_dir)
        self.environment = {
            "AWS_ENDPOINT_URL": self.host,
            "AWS_ACCESS_KEY_ID": "fgsgl-test",
            "AWS_SECRET_ACCESS_KEY": "fgsgl-test-secret",
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    def command(self) -> list[str]:
        return [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)]

    def start(self) -> None:
        super().start()
        saved = {k: os.environ.get(k) for k in self.environment}
        os.environ.update(self.environment)
        storage.reset()
        try:
            fs, _ = storage.filesystem(self.uri())
            fs.mkdir(self.bucket)
        finally:
            _restore(saved)
            storage.reset()


SERVERS = {"gs": Emulator, "s3": MotoS3}


class DroppingProxy:
    """A TCP proxy on loopback in front of a server that drops (accepts, then closes) its
    first `drop` connections and relays the rest: transient failures, counted, not timed."""

    def __init__(self, target_port: int, drop: int) -> None:
        import threading

        self.target_port, self.remaining, self.dropped = target_port, drop, 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def host(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        import threading

        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            if self.remaining > 0:
                self.remaining -= 1
                self.dropped += 1
                client.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=_relay, args=(a, b), daemon=True).start()

    def close(self) -> None:
        self.listener.close()


def _relay(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for s in (source, sink):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)


def _restore(saved: dict[str, str | None]) -> None:
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def running(kind: str, tmp_path: Path) -> Iterator[Server]:
    """A fresh server of `kind` with the environment pointing at it, for one test."""
    server = SERVERS[kind](free_port(), tmp_path / f"{kind}-data")
    server.data_dir.mkdir()
    server.start()
    saved = {k: os.environ.get(k) for k in server.environment}
    os.environ.update(server.environment)
    storage.reset()
    try:
        yield server
    finally:
        server.stop()
        _restore(saved)
        storage.reset()


@pytest.fixture
def gcs(tmp_path: Path) -> Iterator[Server]:
    yield from running("gs", tmp_path)


@pytest.fixture
def s3(tmp_path: Path) -> Iterator[Server]:
    yield from running("s3", tmp_path)


@pytest.fixture(params=sorted(SERVERS))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    yield from running(request.param, tmp_path)
