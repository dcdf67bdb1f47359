"""fgsgl.storage through a fault proxy in front of the real local stores (GCS emulator,
moto's S3): transient failures are retried with backoff per request, a store that keeps
failing gives one clear error in bounded time, and a failed upload never leaves a
truncated object."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from fgsgl import storage, storage_drivers
from fgsgl.errors import FgsglError, StoreUnavailableError

if TYPE_CHECKING:
    from object_stores import Server

pytest_plugins = ("object_stores",)  # the `gcs`, `s3` and `store` fixtures

FAST = {"FGSGL_STORAGE_BACKOFF_S": "0.01"}  # the tests' backoff: the setting, kept small


def payload(size: int) -> bytes:
    """Bytes that look random but are the same every run, ending in neither CR nor LF:
    gcp-storage-emulator parses a multipart upload with Python's email parser, which drops
    a final CR (see the last test), so os.urandom failed 1 run in 256 on GCS."""
    import random

    return random.Random(size).randbytes(size - 1) + b"\x00"


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in FAST.items():
        monkeypatch.setenv(name, value)


@pytest.mark.parametrize("fault", ["503", "429", "reset"])
def test_a_round_trip_survives_a_third_of_the_requests_failing(
    store: Server, tmp_path: Path, fault: str
) -> None:
    from object_stores import faulty

    src = tmp_path / "clip.mp4"
    src.write_bytes(payload(200_000))
    with faulty(store, fault, every=3) as proxy:
        stored = storage.upload(src, store.uri("v/clip.mp4"))
        got = storage.download(store.uri("v/clip.mp4"), tmp_path / "got.mp4")
        listing = storage.list_files(store.uri("v"))
        assert storage.exists(store.uri("v/clip.mp4"))
        assert not storage.exists(store.uri("v/other.mp4"))
        assert storage.read_bytes(store.uri("v/clip.mp4")) == src.read_bytes()
    assert got.read_bytes() == src.read_bytes()
    assert stored["size"] == 200_000 and listing == {"clip.mp4": stored}
    assert proxy.failed >= 3
    # every failed request was sent again and then went through; except where gcsfs asks
    # for an object and for a "directory" of its name at once, and drops the second
    # (maxResults=1) once the first has answered
    unretried = [
        path
        for i, (method, path, failed) in enumerate(proxy.seen)
        if failed and (method, path, False) not in proxy.seen[i + 1 :]
    ]
    assert all("maxResults=1" in path for path in unretried), unretried


@pytest.mark.parametrize("fault", ["503", "reset"])
def test_a_store_that_keeps_failing_is_one_clear_error_in_bounded_time(
    store: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fault: str
) -> None:
    from object_stores import faulty

    (tmp_path / "a.bin").write_bytes(b"a" * 1000)
    storage.upload(tmp_path / "a.bin", store.uri("a.bin"))
    monkeypatch.setenv("FGSGL_STORAGE_ATTEMPTS", "3")
    operations = {
        "read": lambda: storage.read_bytes(store.uri("a.bin")),
        "exists": lambda: storage.exists(store.uri("a.bin")),  # never a silent False
        "list": lambda: storage.list_files(store.uri()),  # never a silent {}
        "download": lambda: storage.download(store.uri("a.bin"), tmp_path / "dl" / "a.bin"),
        "upload": lambda: storage.upload(tmp_path / "a.bin", store.uri("b.bin")),
    }
    with faulty(store, fault, every=1) as proxy:
        for operation, call in operations.items():
            started, sent = time.monotonic(), len(proxy.seen)
            with pytest.raises(StoreUnavailableError) as raised:
                call()
            elapsed = time.monotonic() - started
            uri = store.uri({"upload": "b.bin", "list": ""}.get(operation, "a.bin"))
            message = str(raised.value)
            assert message.startswith(f"{uri}: {operation} failed after 3 attempts"), message
            assert raised.value.attempts == 3 and raised.value.last_error in message
            assert elapsed < 10, (operation, elapsed)
            if operation == "read":  # one request tried 3 times: no second layer of retries
                # (aiohttp itself resends a GET once, at once, when the connection drops
                # before the answer's head arrived)
                tries = len(proxy.seen) - sent
                assert tries in ({3} if fault == "503" else {3, 4, 5, 6}), proxy.seen
    assert not (tmp_path / "dl").exists() or not list((tmp_path / "dl").iterdir())
    assert storage.info(store.uri("b.bin")) is None


def test_a_lasting_429_is_named_in_the_error(store: Server) -> None:
    from object_stores import faulty

    with faulty(store, "429", every=1), pytest.raises(StoreUnavailableError, match="429"):
        storage.exists(store.uri("x"))


def test_a_reset_mid_upload_leaves_the_old_object_or_none(
    store: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """6 MiB: a resumable upload on GCS (its session is dropped), one PUT on S3. Every
    request carrying more than 1 MiB is cut half-way; the small ones go through."""
    from object_stores import faulty

    old, new = tmp_path / "old.bin", tmp_path / "new.bin"
    old.write_bytes(b"old" * 1000)
    new.write_bytes(payload(6 * 2**20))
    storage.upload(old, store.uri("shard-0.npy"))
    monkeypatch.setenv("FGSGL_STORAGE_ATTEMPTS", "2")
    with faulty(store, "reset", every=1, min_body=2**20) as proxy:
        for name in ("shard-0.npy", "shard-1.npy"):
            with pytest.raises(StoreUnavailableError, match=r"upload failed after 2 attempts"):
                storage.upload(new, store.uri(name))
    # two attempts each (aiohttp resends a PUT once, at once, when its connection drops)
    assert proxy.failed == (4 if store.scheme == "gs" else 8)
    assert storage.read_bytes(store.uri("shard-0.npy")) == old.read_bytes()
    assert storage.info(store.uri("shard-1.npy")) is None
    assert sorted(storage.list_files(store.uri())) == ["shard-0.npy"]


def test_the_retry_settings_are_checked_and_back_off_exponentially(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("FGSGL_STORAGE_BACKOFF_S")
    assert storage_drivers.policy() == storage_drivers.Policy(attempts=5, backoff_s=1.0)
    rules = storage_drivers.Policy(attempts=8, backoff_s=1.0)
    for attempt, ceiling in [(1, 1), (2, 2), (3, 4), (4, 8), (5, 16), (6, 30), (7, 30)]:
        assert ceiling / 2 <= rules.delay(attempt) <= ceiling
    for name, text in [("FGSGL_STORAGE_ATTEMPTS", "0"), ("FGSGL_STORAGE_ATTEMPTS", "two"),
                       ("FGSGL_STORAGE_BACKOFF_S", "-1")]:  # fmt: skip
        monkeypatch.setenv(name, text)
        with pytest.raises(FgsglError, match=rf"^{name}='{text}': expected "):
            storage_drivers.policy()
        monkeypatch.delenv(name)


def test_a_bad_retry_setting_stops_the_first_store_operation(
    store: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FGSGL_STORAGE_ATTEMPTS", "0")
    with pytest.raises(FgsglError, match=r"^FGSGL_STORAGE_ATTEMPTS='0': expected a whole number"):
        storage.exists(store.uri("x"))


def test_a_store_that_stores_fewer_bytes_than_were_sent_is_refused(
    gcs: Server, tmp_path: Path
) -> None:
    """gcp-storage-emulator drops a file's final CR in a multipart (one-request) upload:
    a real store that loses bytes, which the stored-size check turns into an error."""
    src = tmp_path / "a.bin"
    src.write_bytes(b"abc" * 1000 + b"\r")
    with pytest.raises(FgsglError, match=r"a\.bin: upload incomplete \(3000 of 3001 bytes"):
        storage.upload(src, gcs.uri("a.bin"))
