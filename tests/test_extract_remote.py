"""Datasets, videos and artifacts in object stores (gs://, s3://), against real local
servers: a GCS emulator and moto's S3 server."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from video_helpers import assert_same_artifact, coded_dataset

from fgsgl import storage
from fgsgl.video.extract import extract, merge
from fgsgl.video.frames import FramesArtifact

if TYPE_CHECKING:
    from object_stores import Server

pytest_plugins = ("object_stores",)  # the `gcs`, `s3` and `store` fixtures
SETTINGS = {"frames": 8, "size": 40, "clips_per_shard": 2, "max_failure_ratio": 1.0}


def bucket_dataset(tmp_path: Path, store: Server) -> tuple[Path, str]:
    """A local dataset (6 clips, one of them broken) and the same uploaded to the store."""
    local = coded_dataset(tmp_path / "ds", clips=6)
    (local / "videos" / "v3.mp4").write_bytes(b"\x00" * 64)
    storage.upload_dir(local, store.uri("datasets/coded"))
    return local, store.uri("datasets/coded")


def download_artifact(uri: str, dest: Path) -> Path:
    for name in storage.list_files(uri):
        storage.download(storage.join(uri, name), dest / name)
    return dest


def leftovers() -> set[str]:
    temp = Path(tempfile.gettempdir())
    return {p.name for p in temp.glob("fgsgl-*")}


def test_a_remote_dataset_to_a_remote_artifact_equals_a_local_run(
    store: Server, tmp_path: Path
) -> None:
    local, remote = bucket_dataset(tmp_path, store)
    before = leftovers()
    summary = extract(remote, store.uri("frames"), workers=2, **SETTINGS)
    assert summary["extracted"] == 5 and summary["failed"] == 1
    assert leftovers() == before  # downloaded videos and staging removed
    extract(str(local), str(tmp_path / "local"), workers=1, **SETTINGS)
    got = download_artifact(store.uri("frames"), tmp_path / "got")
    assert_same_artifact(got, tmp_path / "local")
    art = FramesArtifact.open(got)
    assert art.meta["dataset"] == remote
    failure = art.failures().iloc[0]
    assert (failure["clip_id"], failure["video"]) == ("clip03", "videos/v3.mp4")


def test_a_remote_video_that_is_missing_fails_alone(store: Server, tmp_path: Path) -> None:
    _, remote = bucket_dataset(tmp_path, store)
    storage.delete(storage.join(remote, "videos/v1.mp4"))
    extract(remote, str(tmp_path / "out"), workers=1, **SETTINGS)
    failures = FramesArtifact.open(tmp_path / "out").failures().set_index("clip_id")
    assert failures.loc["clip01", "error"] == f"{remote}/videos/v1.mp4: not found"
    assert len(failures) == 2


def test_resume_verifies_objects_by_the_stores_checksum(store: Server, tmp_path: Path) -> None:
    local, remote = bucket_dataset(tmp_path, store)
    out = store.uri("frames")
    extract(remote, out, workers=1, **SETTINGS)
    storage.delete(storage.join(out, "shards/00000.npy"))  # lost
    other = tmp_path / "other.npy"
    other.write_bytes(storage.read_bytes(storage.join(out, "shards/00002.npy"))[:-1] + b"\x01")
    storage.upload(other, storage.join(out, "shards/00002.npy"))  # damaged
    summary = extract(remote, out, workers=1, **SETTINGS)
    assert summary["skipped_shards"] == 1  # only shard 1 (clips 2, 3) was intact
    extract(str(local), str(tmp_path / "local"), workers=1, **SETTINGS)
    assert_same_artifact(download_artifact(out, tmp_path / "got"), tmp_path / "local")


def test_remote_parts_merge_into_the_store(store: Server, tmp_path: Path) -> None:
    local, remote = bucket_dataset(tmp_path, store)
    parts = [store.uri(f"parts/{i}") for i in range(2)]
    for i, part in enumerate(parts):
        extract(remote, part, workers=1, shard=f"{i}/2", **SETTINGS)
    summary = merge(parts, store.uri("merged"))
    assert summary["extracted"] == 5 and summary["shards"] == 3
    extract(str(local), str(tmp_path / "local"), workers=1, **SETTINGS)
    got = download_artifact(store.uri("merged"), tmp_path / "got")
    assert_same_artifact(got, tmp_path / "local")
