"""Local paths and gs:// URIs behind one small API.

Datasets, videos and artifacts may live on local disk (KFP hands components local paths,
e.g. a gcsfuse mount) or in Google Cloud Storage. google-cloud-storage is imported only
when a gs:// URI is actually used. With STORAGE_EMULATOR_HOST set (a local emulator) the
client uses anonymous credentials.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import os
import posixpath
from pathlib import Path
from typing import Any

from fgsgl.errors import FgsglError

GCS_PREFIX = "gs://"


def is_gcs(uri: str | os.PathLike) -> bool:
    return str(uri).startswith(GCS_PREFIX)


def split_gcs(uri: str) -> tuple[str, str]:
    """'gs://bucket/a/b' -> ('bucket', 'a/b')."""
    if not is_gcs(uri):
        raise ValueError(f"not a gs:// URI: {uri}")
    bucket, _, name = uri[len(GCS_PREFIX) :].partition("/")
    if not bucket:
        raise FgsglError(f"{uri}: no bucket in gs:// URI")
    return bucket, name


def join(root: str | os.PathLike, relative: str) -> str:
    """Resolve `relative` against a local directory or a gs:// prefix."""
    root = str(root)
    if is_gcs(root):
        return posixpath.join(root.rstrip("/") + "/", relative)
    return str(Path(root) / relative)


@functools.cache
def client() -> Any:
    """The google-cloud-storage client; anonymous against a local emulator."""
    from google.cloud import storage

    if os.environ.get("STORAGE_EMULATOR_HOST"):
        from google.auth.credentials import AnonymousCredentials

        return storage.Client(
            project=os.environ.get("GOOGLE_CLOUD_PROJECT", "local"),
            credentials=AnonymousCredentials(),
        )
    return storage.Client()


def blob(uri: str) -> Any:
    bucket, name = split_gcs(uri)
    return client().bucket(bucket).blob(name)


def exists(uri: str | os.PathLike) -> bool:
    if is_gcs(uri):
        return bool(blob(str(uri)).exists())
    return Path(uri).exists()


def read_bytes(uri: str | os.PathLike) -> bytes:
    """Read a whole (small) file: manifests, class lists, metadata."""
    if is_gcs(uri):
        from google.api_core import exceptions

        try:
            return blob(str(uri)).download_as_bytes()
        except exceptions.NotFound as e:
            raise FgsglError(f"{uri}: not found") from e
    path = Path(uri)
    if not path.is_file():
        raise FgsglError(f"{uri}: not found" if not path.exists() else f"{uri}: not a file")
    return path.read_bytes()


# ---------------------------------------------------------------- transfers
#
# Videos and artifacts can be large, so they move as files (never whole in memory), through
# a `.partial` name that is renamed only when complete. Transient errors (connection resets,
# 429, 5xx) are retried by the client's own classification with a bounded, backed-off
# policy; anything else (not found, forbidden) fails at once with the URI in the message.

RETRY_TIMEOUT_S = 120.0


def _retry(timeout: float | None = None) -> Any:
    from google.cloud.storage.retry import DEFAULT_RETRY

    return DEFAULT_RETRY.with_delay(initial=0.25, maximum=8.0, multiplier=2.0).with_timeout(
        RETRY_TIMEOUT_S if timeout is None else timeout
    )


def _gcs_error(uri: str, e: Exception) -> FgsglError:
    from google.api_core import exceptions

    if isinstance(e, exceptions.NotFound):
        return FgsglError(f"{uri}: not found")
    if isinstance(e, exceptions.Forbidden):
        return FgsglError(f"{uri}: access denied ({getattr(e, 'message', e)})")
    return FgsglError(f"{uri}: transfer failed after retries ({type(e).__name__}: {e})")


def download(uri: str, dest: str | Path, *, retry_timeout: float | None = None) -> Path:
    """Copy a gs:// object (or local file) to `dest`; FgsglError naming the URI on failure."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(f".{dest.name}.partial")
    try:
        if is_gcs(uri):
            try:
                blob(uri).download_to_filename(partial, retry=_retry(retry_timeout))
            except Exception as e:
                raise _gcs_error(uri, e) from e
        else:
            import shutil

            if not Path(uri).is_file():
                raise FgsglError(f"{uri}: not found")
            shutil.copyfile(uri, partial)
        os.replace(partial, dest)
    finally:
        partial.unlink(missing_ok=True)
    return dest


def upload(local: str | Path, uri: str, *, retry_timeout: float | None = None) -> dict[str, Any]:
    """Copy a local file to a gs:// URI (or local path); returns the object's size and crc32c.

    The client checks the upload against a locally computed CRC32C, so the crc32c returned
    is that of the bytes sent; `checksums` later shows whether the object still holds them.
    """
    if not is_gcs(uri):
        import shutil

        Path(uri).parent.mkdir(parents=True, exist_ok=True)
        partial = Path(uri).with_name(f".{Path(uri).name}.partial")
        shutil.copyfile(local, partial)
        os.replace(partial, uri)
        return {"size": Path(uri).stat().st_size, "crc32c": None}
    b = blob(uri)
    try:
        b.upload_from_filename(str(local), checksum="crc32c", retry=_retry(retry_timeout))
    except Exception as e:
        raise _gcs_error(uri, e) from e
    return {"size": b.size, "crc32c": b.crc32c}


def upload_dir(local: str | Path, uri: str, *, workers: int = 8) -> list[str]:
    """Upload every file under a local directory to the prefix `uri`, in parallel."""
    from concurrent.futures import ThreadPoolExecutor

    local = Path(local)
    files = sorted(p for p in local.rglob("*") if p.is_file())
    names = [p.relative_to(local).as_posix() for p in files]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(lambda f, n: upload(f, join(uri, n)), files, names))
    return names


def list_files(prefix: str | os.PathLike) -> dict[str, dict[str, Any]]:
    """Files under a local directory or gs:// prefix, recursively: relative name -> info.

    Info has `size` and, for gs:// objects, the server's `crc32c` (base64, as GCS gives
    it), which lets a caller verify an object's content without downloading it.
    """
    if is_gcs(prefix):
        bucket, name = split_gcs(str(prefix))
        base = name.rstrip("/") + "/" if name else ""
        try:
            blobs = client().list_blobs(bucket, prefix=base, retry=_retry())
            return {
                b.name[len(base) :]: {"size": b.size, "crc32c": b.crc32c}
                for b in blobs
                if not b.name.endswith("/")
            }
        except Exception as e:
            raise _gcs_error(str(prefix), e) from e
    root = Path(prefix)
    if not root.is_dir():
        return {}
    return {
        p.relative_to(root).as_posix(): {"size": p.stat().st_size, "crc32c": None}
        for p in root.rglob("*")
        if p.is_file()
    }


def delete(uri: str | os.PathLike) -> None:
    """Remove a file or gs:// object; a missing one is not an error."""
    if is_gcs(uri):
        from google.api_core import exceptions

        with contextlib.suppress(exceptions.NotFound):
            blob(str(uri)).delete(retry=_retry())
        return
    Path(uri).unlink(missing_ok=True)


class Downloads:
    """Bounded concurrent downloads of gs:// files into a private temp directory.

    `fetch(uri)` starts the download once per URI (at most `workers` at a time) and returns
    a Future of the local path; local paths come back as they are, already done.
    `release(uri)` says one user is done with it: the file is deleted when every fetch was
    released, so disk use follows the work in flight, not the dataset. `close()` (or
    leaving the `with` block) stops and deletes everything, also after an error.
    """

    def __init__(self, *, workers: int = 8, directory: str | Path | None = None) -> None:
        import threading
        from concurrent.futures import ThreadPoolExecutor

        self._parent = directory
        self._dir: Path | None = None  # made on the first gs:// fetch: local runs need none
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fgsgl-dl")
        self._lock = threading.Lock()
        self._entries: dict[str, list[Any]] = {}  # uri -> [future, users]
        self._numbers = itertools.count()  # one folder per download: names may repeat

    @property
    def directory(self) -> Path:
        if self._dir is None:
            import tempfile

            self._dir = Path(tempfile.mkdtemp(prefix="fgsgl-downloads-", dir=self._parent))
        return self._dir

    def fetch(self, uri: str) -> Any:
        from concurrent.futures import Future

        if not is_gcs(uri):
            done: Future = Future()
            done.set_result(str(uri))
            return done
        with self._lock:
            entry = self._entries.get(uri)
            if entry is None:
                name = posixpath.basename(split_gcs(uri)[1]) or "object"
                dest = self.directory / f"{next(self._numbers):06d}" / name
                entry = [self._pool.submit(lambda: str(download(uri, dest))), 0]
                self._entries[uri] = entry
            entry[1] += 1
            return entry[0]

    def release(self, uri: str) -> None:
        if not is_gcs(uri):
            return
        with self._lock:
            entry = self._entries.get(uri)
            if entry is None:
                return
            entry[1] -= 1
            if entry[1] > 0:
                return
            del self._entries[uri]
        future = entry[0]
        future.cancel()
        if not future.cancelled() and future.done() and future.exception() is None:
            Path(future.result()).unlink(missing_ok=True)
        elif not future.cancelled():
            future.add_done_callback(
                lambda f: f.exception() is None and Path(f.result()).unlink(missing_ok=True)
            )

    def close(self) -> None:
        import shutil

        self._pool.shutdown(wait=True, cancel_futures=True)
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> Downloads:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def copy(src: str | os.PathLike, dst: str | os.PathLike) -> None:
    """Copy one file between any two of local and gs://, without a detour where possible:
    gs:// to gs:// is a server-side rewrite, local to local a hard link (files of finished
    artifacts are never modified in place) or a copy across file systems."""
    src, dst = str(src), str(dst)
    if is_gcs(src) and is_gcs(dst):
        source, target = blob(src), blob(dst)
        try:
            token, _, _ = target.rewrite(source, retry=_retry())
            while token is not None:
                token, _, _ = target.rewrite(source, token=token, retry=_retry())
        except Exception as e:
            raise _gcs_error(src, e) from e
    elif is_gcs(src):
        download(src, dst)
    elif is_gcs(dst):
        upload(src, dst)
    else:
        Path(dst).parent.mkdir(parents=True, exist_ok=True)
        Path(dst).unlink(missing_ok=True)
        try:
            os.link(src, dst)
        except OSError:
            import shutil

            if not Path(src).is_file():
                raise FgsglError(f"{src}: not found") from None
            shutil.copyfile(src, dst)
