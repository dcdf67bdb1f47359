"""fgsgl.storage against real local object stores (a GCS emulator, moto's S3 server):
transfers, listing, copies, errors (retries and injected faults: test_storage_faults.py)."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from fgsgl import storage
from fgsgl.errors import FgsglError

if TYPE_CHECKING:
    from object_stores import Server

pytest_plugins = ("object_stores",)  # the `gcs`, `s3` and `store` fixtures


def test_upload_download_and_list(store: Server, tmp_path: Path) -> None:
    src = tmp_path / "a.bin"
    src.write_bytes(bytes(range(256)) * 1000)
    info = storage.upload(src, store.uri("dir/a.bin"))
    assert info["size"] == 256_000 and info["checksum"] and info["version"]
    storage.upload(src, store.uri("dir/sub/b.bin"))
    listing = storage.list_files(store.uri("dir"))
    assert sorted(listing) == ["a.bin", "sub/b.bin"]
    assert listing["a.bin"] == info
    dest = storage.download(store.uri("dir/a.bin"), tmp_path / "out" / "a.bin")
    assert dest.read_bytes() == src.read_bytes()
    assert storage.read_bytes(store.uri("dir/sub/b.bin")) == src.read_bytes()
    assert storage.exists(store.uri("dir/a.bin")) and not storage.exists(store.uri("nope"))
    storage.delete(store.uri("dir/a.bin"))
    storage.delete(store.uri("dir/a.bin"))  # already gone: fine
    assert sorted(storage.list_files(store.uri("dir"))) == ["sub/b.bin"]
    assert storage.list_files(store.uri("empty/")) == {}


def test_a_missing_object_fails_at_once_naming_it(store: Server, tmp_path: Path) -> None:
    started = time.monotonic()
    with pytest.raises(FgsglError, match=rf"^{store.uri('missing.mp4')}: not found$"):
        storage.download(store.uri("missing.mp4"), tmp_path / "dl" / "x.mp4")
    assert time.monotonic() - started < 5  # not retried
    assert not list((tmp_path / "dl").iterdir())  # no partial file left


def test_local_paths_use_the_same_api(tmp_path: Path) -> None:
    (tmp_path / "d" / "e").mkdir(parents=True)
    (tmp_path / "d" / "e" / "f.txt").write_text("x")
    mtime = str((tmp_path / "d" / "e" / "f.txt").stat().st_mtime_ns)
    listing = storage.list_files(tmp_path / "d")
    assert listing == {"e/f.txt": {"size": 1, "checksum": None, "version": mtime}}
    storage.copy(tmp_path / "d" / "e" / "f.txt", tmp_path / "g" / "f.txt")
    assert (tmp_path / "g" / "f.txt").read_text() == "x"
    storage.upload(tmp_path / "g" / "f.txt", str(tmp_path / "h.txt"))
    assert storage.download(str(tmp_path / "h.txt"), tmp_path / "i.txt").read_text() == "x"
    with pytest.raises(FgsglError, match="not found"):
        storage.download(str(tmp_path / "nope"), tmp_path / "j.txt")


def test_copies_between_local_and_the_store(store: Server, tmp_path: Path) -> None:
    src = tmp_path / "src.bin"
    src.write_bytes(b"frames" * 5000)
    storage.copy(src, store.uri("one.bin"))  # local -> store
    storage.copy(store.uri("one.bin"), store.uri("copies/two.bin"))  # within the store: server side
    storage.copy(store.uri("copies/two.bin"), tmp_path / "back.bin")  # store -> local
    assert (tmp_path / "back.bin").read_bytes() == src.read_bytes()
    listing = storage.list_files(store.uri())
    assert listing["one.bin"]["checksum"] == listing["copies/two.bin"]["checksum"]


def test_upload_dir(store: Server, tmp_path: Path) -> None:
    for name in ("a.txt", "s/b.txt", "s/t/c.txt"):
        (tmp_path / "art" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "art" / name).write_text(name)
    names = storage.upload_dir(tmp_path / "art", store.uri("art"))
    assert names == ["a.txt", "s/b.txt", "s/t/c.txt"]
    assert storage.read_bytes(store.uri("art/s/t/c.txt")) == b"s/t/c.txt"


def test_downloads_are_shared_released_and_cleaned(store: Server, tmp_path: Path) -> None:
    for i in range(5):
        (tmp_path / f"v{i}").write_bytes(bytes([i]) * 10_000)
        storage.upload(tmp_path / f"v{i}", store.uri(f"videos/v{i}.mp4"))
    with storage.Downloads(workers=2, directory=tmp_path) as downloads:
        futures = [downloads.fetch(store.uri(f"videos/v{i}.mp4")) for i in range(5)]
        again = downloads.fetch(store.uri("videos/v0.mp4"))
        assert again is futures[0]  # one download per URI
        paths = [Path(f.result()) for f in futures]
        assert [p.read_bytes()[0] for p in paths] == [0, 1, 2, 3, 4]
        assert paths[0].parent.parent == downloads.directory
        downloads.release(store.uri("videos/v0.mp4"))
        assert paths[0].exists()  # fetched twice, released once
        downloads.release(store.uri("videos/v0.mp4"))
        assert not paths[0].exists()
        local = downloads.fetch(str(tmp_path / "v1"))
        assert local.result() == str(tmp_path / "v1")
        missing = downloads.fetch(store.uri("videos/missing.mp4"))
        with pytest.raises(FgsglError, match="not found"):
            missing.result()
        directory = downloads.directory
    assert not directory.exists()


def test_copies_between_two_stores(gcs: Server, s3: Server, tmp_path: Path) -> None:
    src = tmp_path / "src.bin"
    src.write_bytes(b"keypoints" * 100)
    storage.upload(src, gcs.uri("a/k.bin"))
    storage.copy(gcs.uri("a/k.bin"), s3.uri("b/k.bin"))
    assert storage.read_bytes(s3.uri("b/k.bin")) == src.read_bytes()
    assert not list(Path(tempfile.gettempdir()).glob("fgsgl-copy-*"))


def test_an_s3_endpoint_can_come_from_fsspec_options(
    s3: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import fsspec.config

    (tmp_path / "x").write_bytes(b"minio")
    storage.upload(tmp_path / "x", s3.uri("x"))
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    monkeypatch.setitem(fsspec.config.conf, "s3", {"endpoint_url": s3.host})  # = FSSPEC_S3
    storage.reset()
    assert storage.read_bytes(s3.uri("x")) == b"minio"


def test_a_scheme_without_a_driver_is_one_clear_error() -> None:
    with pytest.raises(FgsglError, match=r"^az://c/x: no storage driver for az:// \(fgsgl"):
        storage.exists("az://c/x")
    with pytest.raises(FgsglError, match=r"^s3:///x: no bucket in the URL$"):
        storage.exists("s3:///x")


def test_kfp_minio_uris_are_s3_at_the_endpoint(
    s3: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """KFP's standalone install names its artifacts minio://BUCKET/...: the same objects as
    s3://BUCKET/... at AWS_ENDPOINT_URL, or at KFP's MinIO service when it is not set."""
    (tmp_path / "last.pt").write_bytes(b"epoch 3")
    storage.upload(tmp_path / "last.pt", s3.uri("v2/artifacts/run/model.resume/last.pt"))
    minio = f"minio://{s3.bucket}/v2/artifacts/run/model.resume/"
    assert list(storage.list_files(minio)) == ["last.pt"]
    assert storage.read_bytes(minio + "last.pt") == b"epoch 3"
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    storage.reset()
    fs, path = storage.filesystem("minio://mlpipeline/v2/artifacts/x")
    assert (fs.endpoint_url, path) == (storage.KFP_MINIO_ENDPOINT, "mlpipeline/v2/artifacts/x")
