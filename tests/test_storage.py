"""fgsgl.storage against a real GCS emulator: transfers, listing, copies, retries."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from fgsgl import storage
from fgsgl.errors import FgsglError

if TYPE_CHECKING:
    from gcs_emulator import Emulator

pytest_plugins = ("gcs_emulator",)  # the `gcs` fixture


def test_upload_download_and_list(gcs: Emulator, tmp_path: Path) -> None:
    src = tmp_path / "a.bin"
    src.write_bytes(bytes(range(256)) * 1000)
    info = storage.upload(src, gcs.uri("dir/a.bin"))
    assert info["size"] == 256_000 and info["crc32c"]
    storage.upload(src, gcs.uri("dir/sub/b.bin"))
    listing = storage.list_files(gcs.uri("dir"))
    assert sorted(listing) == ["a.bin", "sub/b.bin"]
    assert listing["a.bin"] == {"size": 256_000, "crc32c": info["crc32c"]}
    dest = storage.download(gcs.uri("dir/a.bin"), tmp_path / "out" / "a.bin")
    assert dest.read_bytes() == src.read_bytes()
    assert storage.read_bytes(gcs.uri("dir/sub/b.bin")) == src.read_bytes()
    assert storage.exists(gcs.uri("dir/a.bin")) and not storage.exists(gcs.uri("nope"))
    storage.delete(gcs.uri("dir/a.bin"))
    storage.delete(gcs.uri("dir/a.bin"))  # already gone: fine
    assert sorted(storage.list_files(gcs.uri("dir"))) == ["sub/b.bin"]
    assert storage.list_files(gcs.uri("empty/")) == {}


def test_a_missing_object_fails_at_once_naming_it(gcs: Emulator, tmp_path: Path) -> None:
    started = time.monotonic()
    with pytest.raises(FgsglError, match=r"gs://fgsgl-test/missing\.mp4: not found"):
        storage.download(gcs.uri("missing.mp4"), tmp_path / "dl" / "x.mp4")
    assert time.monotonic() - started < 5  # not retried
    assert not list((tmp_path / "dl").iterdir())  # no partial file left


def test_local_paths_use_the_same_api(tmp_path: Path) -> None:
    (tmp_path / "d" / "e").mkdir(parents=True)
    (tmp_path / "d" / "e" / "f.txt").write_text("x")
    assert storage.list_files(tmp_path / "d") == {"e/f.txt": {"size": 1, "crc32c": None}}
    storage.copy(tmp_path / "d" / "e" / "f.txt", tmp_path / "g" / "f.txt")
    assert (tmp_path / "g" / "f.txt").read_text() == "x"
    storage.upload(tmp_path / "g" / "f.txt", str(tmp_path / "h.txt"))
    assert storage.download(str(tmp_path / "h.txt"), tmp_path / "i.txt").read_text() == "x"
    with pytest.raises(FgsglError, match="not found"):
        storage.download(str(tmp_path / "nope"), tmp_path / "j.txt")


def test_copies_between_local_and_gs(gcs: Emulator, tmp_path: Path) -> None:
    src = tmp_path / "src.bin"
    src.write_bytes(b"frames" * 5000)
    storage.copy(src, gcs.uri("one.bin"))  # local -> gs
    storage.copy(gcs.uri("one.bin"), gcs.uri("copies/two.bin"))  # gs -> gs, server side
    storage.copy(gcs.uri("copies/two.bin"), tmp_path / "back.bin")  # gs -> local
    assert (tmp_path / "back.bin").read_bytes() == src.read_bytes()
    listing = storage.list_files(gcs.uri())
    assert listing["one.bin"]["crc32c"] == listing["copies/two.bin"]["crc32c"]


def test_upload_dir(gcs: Emulator, tmp_path: Path) -> None:
    for name in ("a.txt", "s/b.txt", "s/t/c.txt"):
        (tmp_path / "art" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "art" / name).write_text(name)
    names = storage.upload_dir(tmp_path / "art", gcs.uri("art"))
    assert names == ["a.txt", "s/b.txt", "s/t/c.txt"]
    assert storage.read_bytes(gcs.uri("art/s/t/c.txt")) == b"s/t/c.txt"


def test_downloads_are_shared_released_and_cleaned(gcs: Emulator, tmp_path: Path) -> None:
    for i in range(5):
        (tmp_path / f"v{i}").write_bytes(bytes([i]) * 10_000)
        storage.upload(tmp_path / f"v{i}", gcs.uri(f"videos/v{i}.mp4"))
    with storage.Downloads(workers=2, directory=tmp_path) as downloads:
        futures = [downloads.fetch(gcs.uri(f"videos/v{i}.mp4")) for i in range(5)]
        again = downloads.fetch(gcs.uri("videos/v0.mp4"))
        assert again is futures[0]  # one download per URI
        paths = [Path(f.result()) for f in futures]
        assert [p.read_bytes()[0] for p in paths] == [0, 1, 2, 3, 4]
        assert paths[0].parent.parent == downloads.directory
        downloads.release(gcs.uri("videos/v0.mp4"))
        assert paths[0].exists()  # fetched twice, released once
        downloads.release(gcs.uri("videos/v0.mp4"))
        assert not paths[0].exists()
        local = downloads.fetch(str(tmp_path / "v1"))
        assert local.result() == str(tmp_path / "v1")
        missing = downloads.fetch(gcs.uri("videos/missing.mp4"))
        with pytest.raises(FgsglError, match="not found"):
            missing.result()
        directory = downloads.directory
    assert not directory.exists()


def test_transient_errors_are_retried(gcs: Emulator, tmp_path: Path) -> None:
    src = tmp_path / "video.mp4"
    src.write_bytes(b"x" * 50_000)
    storage.upload(src, gcs.uri("video.mp4"))
    gcs.stop()  # the server is gone: connection refused, a transient error
    result: dict[str, object] = {}

    def fetch() -> None:
        try:
            result["path"] = storage.download(gcs.uri("video.mp4"), tmp_path / "got.mp4")
        except Exception as e:  # reported below
            result["error"] = e

    thread = threading.Thread(target=fetch)
    thread.start()
    time.sleep(1.0)  # some attempts fail meanwhile
    assert thread.is_alive()
    gcs.start()  # back (the data is on disk)
    thread.join(timeout=60)
    assert "error" not in result, result.get("error")
    assert Path(result["path"]).read_bytes() == src.read_bytes()
