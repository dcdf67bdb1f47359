"""Real local object stores for tests of gs:// and s3:// paths, each its own process on a
free loopback port, started once per test session (when a test first asks) and stopped by
its pid at the end; each test gets a fresh empty bucket of its own:

- GCS: gcp-storage-emulator; STORAGE_EMULATOR_HOST points gcsfs at it (fgsgl.storage then
  uses anonymous access).
- S3: moto's standalone server (`python -m moto.server`); AWS_ENDPOINT_URL points s3fs
  at it, the way a MinIO user would.

Use the fixtures by naming this module as a plugin of the test module:

    pytest_plugins = ("object_stores",)

    def test_x(gcs): ...    # gcs.uri("a/b") -> gs://fgsgl-test-7/a/b, an empty bucket
    def test_y(s3): ...     # s3.uri("a/b") -> s3://fgsgl-test-8/a/b
    def test_z(store): ...  # runs once against each

`faulty(server, fault, ...)` puts a FaultProxy between fgsgl and a server for a block.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
    endpoint_variable: str = ""  # the variable in `environment` that names the server

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

    def make_bucket(self, name: str) -> None:
        with store_environment(self.environment):
            fs, _ = storage.filesystem(f"{self.scheme}://{name}/")
            fs.mkdir(name)


class Emulator(Server):
    """gcp-storage-emulator: keeps its objects in data_dir, so it survives a restart."""

    def __init__(self, port: int, data_dir: Path) -> None:
        super().__init__("gs", port, data_dir, endpoint_variable="STORAGE_EMULATOR_HOST")
        self.environment = {"STORAGE_EMULATOR_HOST": self.host, "GOOGLE_CLOUD_PROJECT": "fgsgl"}

    def command(self) -> list[str]:
        command = [sys.executable, "-m", "gcp_storage_emulator", "--data-dir", str(self.data_dir)]
        command += ["start", "--host", "127.0.0.1", "--port", str(self.port), "-q"]
        return [*command, "--default-bucket", self.bucket]


class MotoS3(Server):
    """moto's S3 server (in memory); the bucket is made once it listens."""

    def __init__(self, port: int, data_dir: Path) -> None:
        super().__init__("s3", port, data_dir, endpoint_variable="AWS_ENDPOINT_URL")
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
        self.make_bucket(self.bucket)


SERVERS = {"gs": Emulator, "s3": MotoS3}


class FaultProxy:
    """An HTTP proxy on loopback in front of a store that fails chosen requests the way a
    network and a busy store do, and counts what it saw. Deterministic: the n-th request
    (1-based, counting only those with at least `min_body` body bytes) fails when n is a
    multiple of `every` (3: a third of them; 1: all).

    Faults: "503" (Service Unavailable), "429" (Too Many Requests, Retry-After: 1) and
    "reset": a request with a body is cut after half of it, one without has its response
    cut after half of its bytes; both end in a TCP reset. A request the store never saw
    whole is never passed on, as a real store discards it. Each request is relayed on its
    own connection (`Connection: close` both ways), so requests and connections count alike.
    """

    FAULTS = ("503", "429", "reset")

    def __init__(
        self,
        target_port: int,
        fault: str,
        *,
        every: int,
        min_body: int = 0,
    ) -> None:
        import threading

        if fault not in self.FAULTS or every < 1:
            raise ValueError(f"fault {fault!r} (one of {self.FAULTS}), every {every} (>= 1)")
        self.target_port, self.fault = target_port, fault
        self.every, self.min_body = every, min_body
        self._lock = threading.Lock()
        self.seen: list[tuple[str, str, bool]] = []  # (method, path, failed) in arrival order
        self._candidates = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def host(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def failed(self) -> int:
        return sum(failed for *_, failed in self.seen)

    def close(self) -> None:
        self.listener.close()

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _accept(self) -> None:
        import threading

        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _decide(self, method: str, path: str, body_size: int) -> bool:
        with self._lock:
            fail = False
            if body_size >= self.min_body:
                self._candidates += 1
                fail = self._candidates % self.every == 0
            self.seen.append((method, path, fail))
            return fail

    def _serve(self, client: socket.socket) -> None:
        client.settimeout(30)
        try:
            reader = client.makefile("rb")
            request = _read_head(reader)
            if request is None:
                return
            head, method, path, headers = request
            if headers.get("expect", "").lower() == "100-continue":
                client.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            size = int(headers.get("content-length", "0") or 0)
            chunked = "chunked" in headers.get("transfer-encoding", "").lower()
            fail = self._decide(method, path, size if not chunked else self.min_body)
            if fail and self.fault == "reset" and (size or chunked):
                reader.read(max(size // 2, 1) if size else 1)
                return _reset(client)
            body = reader.read(size) if size else (_read_chunked(reader) if chunked else b"")
            if fail and self.fault != "reset":
                return client.sendall(_error_response(self.fault, body=method != "HEAD"))
            response = self._forward(head, body)
            if fail:  # "reset" of a request without a body: half of the answer, then reset
                client.sendall(response[: len(response) // 2])
                return _reset(client)
            client.sendall(response)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                client.close()

    def _forward(self, head: list[bytes], body: bytes) -> bytes:
        drop = (b"connection:", b"expect:", b"keep-alive:")
        lines = [h for h in head[1:] if not h.lower().startswith(drop)]
        request = b"\r\n".join([head[0], *lines, b"Connection: close", b"", b""]) + body
        with socket.create_connection(("127.0.0.1", self.target_port), timeout=30) as up:
            up.sendall(request)
            chunks = []
            while data := up.recv(65536):
                chunks.append(data)
        response = b"".join(chunks)
        top, sep, rest = response.partition(b"\r\n\r\n")
        kept = [h for h in top.split(b"\r\n") if not h.lower().startswith(drop)]
        return b"\r\n".join([*kept, b"Connection: close"]) + sep + rest


def _read_head(reader: Any) -> tuple[list[bytes], str, str, dict[str, str]] | None:
    """The request line and headers (raw lines, and parsed), or None at end of stream."""
    lines = []
    while (line := reader.readline(65537)) not in (b"\r\n", b"\n", b""):
        lines.append(line.rstrip(b"\r\n"))
    if not lines:
        return None
    method, path, _ = lines[0].decode("latin-1").split(" ", 2)
    headers = {}
    for line in lines[1:]:
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    return lines, method, path, headers


def _read_chunked(reader: Any) -> bytes:
    """A chunked body, raw (sizes and trailers included), to relay as it came."""
    raw = []
    while True:
        line = reader.readline(65537)
        raw.append(line)
        size = int(line.split(b";")[0].strip() or b"0", 16)
        if size == 0:
            while (trailer := reader.readline(65537)) not in (b"\r\n", b"\n", b""):
                raw.append(trailer)
            raw.append(b"\r\n")
            return b"".join(raw)
        raw.append(reader.read(size + 2))


def _error_response(fault: str, *, body: bool) -> bytes:
    """The answer of a busy store; with no body for a HEAD request, as HTTP says."""
    reason, extra = {
        "503": ("Service Unavailable", b""),
        "429": ("Too Many Requests", b"Retry-After: 1\r\n"),
    }[fault]
    text = f"{fault} {reason} (fault proxy)".encode()
    return (
        f"HTTP/1.1 {fault} {reason}\r\nContent-Type: text/plain\r\n".encode()
        + extra
        + f"Content-Length: {len(text)}\r\nConnection: close\r\n\r\n".encode()
        + (text if body else b"")
    )


def _reset(sock: socket.socket) -> None:
    """Close with a TCP reset (RST), not an orderly end of stream."""
    import struct

    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


@contextlib.contextmanager
def store_environment(values: dict[str, str]) -> Iterator[None]:
    """`values` set in os.environ for the block, fgsgl's cached file systems dropped on
    the way in and out (they hold the endpoint they were made with)."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    storage.reset()
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        storage.reset()


@pytest.fixture(scope="session")
def object_store_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Server]]:
    """The session's servers by scheme, each started when a test first needs it."""
    servers: dict[str, Server] = {}
    yield servers
    for server in servers.values():
        server.stop()


_BUCKETS = itertools.count(1)


def running(
    kind: str, servers: dict[str, Server], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """The session's server of `kind` seen through a fresh empty bucket, with the
    environment pointing at it, for one test."""
    shared = servers.get(kind)
    if shared is None or shared.process is None or shared.process.poll() is not None:
        shared = SERVERS[kind](free_port(), tmp_path_factory.mktemp(f"{kind}-data"))
        shared.start()
        servers[kind] = shared
    server = copy.copy(shared)
    server.bucket = f"{BUCKET}-{next(_BUCKETS)}"
    server.make_bucket(server.bucket)
    with store_environment(server.environment):
        yield server


@contextlib.contextmanager
def faulty(server: Server, fault: str, *, every: int, min_body: int = 0) -> Iterator[FaultProxy]:
    """fgsgl pointed at a FaultProxy in front of `server` for the block; the proxy is
    closed and the environment restored after it."""
    with (
        FaultProxy(server.port, fault, every=every, min_body=min_body) as proxy,
        store_environment({server.endpoint_variable: proxy.host}),
    ):
        yield proxy


@pytest.fixture
def gcs(
    object_store_servers: dict[str, Server], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    yield from running("gs", object_store_servers, tmp_path_factory)


@pytest.fixture
def s3(
    object_store_servers: dict[str, Server], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    yield from running("s3", object_store_servers, tmp_path_factory)


@pytest.fixture(params=sorted(SERVERS))
def store(
    request: pytest.FixtureRequest,
    object_store_servers: dict[str, Server],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Server]:
    yield from running(request.param, object_store_servers, tmp_path_factory)
