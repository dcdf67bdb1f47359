"""Local paths and object-store URLs (gs://, s3://, minio://) behind one small API.

Datasets, videos and artifacts may live on local disk (KFP hands components local paths)
or in an object store: Google Cloud Storage (gs://, through gcsfs) or anything speaking
the S3 API (s3://, through s3fs: AWS, MinIO, Ceph). The drivers are fsspec's; what is
ours sits on top: files move through a `.partial` name renamed only when complete, an
upload is checked against the stored object's size and returns the store's checksum of
its content (GCS CRC32C, S3 ETag) so a resumed run can tell an intact object from a
replaced one, and every failure is one FgsglError naming the URL and the operation.

Where the stores are, the usual way for each:
- GCS: Google's default credentials; STORAGE_EMULATOR_HOST (a local emulator) switches to
  anonymous access against it.
- S3: the AWS environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_PROFILE,
  AWS_REGION), with AWS_ENDPOINT_URL for MinIO or another S3-compatible server.
- minio:// (KFP's standalone artifact store): S3 at AWS_ENDPOINT_URL, else at KFP's
  in-cluster MinIO service.
- Any fsspec option through fsspec's own configuration, e.g.
  FSSPEC_S3='{"endpoint_url": "http://minio:9000"}' or FSSPEC_S3_ANON=true.

Transient errors (connections refused, reset or timed out, HTTP 408, 429, 5xx) are retried
request by request, the same way for both stores: FGSGL_STORAGE_ATTEMPTS attempts (5),
FGSGL_STORAGE_BACKOFF_S (1 s) before the second, doubling (fgsgl.storage_drivers says how
and why not the drivers' own). When they run out, StoreUnavailableError names the URL, the
operation, the attempts and the last error; anything else (not found, forbidden) fails at
once. An upload that fails leaves no object, or the one that was there: a single-request
upload is committed by the store only when its body arrived whole, and a multipart or
resumable one is aborted by the driver (its parts are never completed into the object).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import posixpath
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fgsgl.errors import FgsglError, StoreUnavailableError

# Object stores fgsgl supports, and the package that drives each (for the error message).
# minio:// is how KFP's standalone install names artifact URIs in its MinIO: S3 at
# AWS_ENDPOINT_URL, by default KFP's own in-cluster MinIO service.
DRIVERS = {"gs": "gcsfs", "gcs": "gcsfs", "s3": "s3fs", "s3a": "s3fs", "minio": "s3fs"}
KFP_MINIO_ENDPOINT = "http://minio-service.kubeflow:9000"
_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://")


def scheme(uri: str | os.PathLike) -> str | None:
    """'s3' for 's3://b/k'; None for a local path (also for file:// URLs)."""
    match = _SCHEME.match(str(uri))
    if match is None or match.group(1).lower() == "file":
        return None
    return match.group(1).lower()


def is_remote(uri: str | os.PathLike) -> bool:
    """True for an object-store URL (gs://, s3://), False for a local path."""
    return scheme(uri) is not None


def local_path(uri: str | os.PathLike) -> Path:
    """A local path or file:// URL as a Path."""
    text = str(uri)
    return Path(text[len("file://") :] if text.startswith("file://") else text)


def join(root: str | os.PathLike, relative: str) -> str:
    """Resolve `relative` against a local directory or an object-store prefix."""
    root = str(root)
    if is_remote(root):
        return posixpath.join(root.rstrip("/") + "/", relative)
    return str(local_path(root) / relative)


def bucket_of(uri: str) -> str:
    """'s3://bucket/a/b' -> 'bucket'; FgsglError when the URL names none."""
    bucket = uri.split("://", 1)[1].partition("/")[0]
    if not bucket:
        raise FgsglError(f"{uri}: no bucket in the URL")
    return bucket


def filesystem(uri: str) -> tuple[Any, str]:
    """The fsspec file system for an object-store URL and the path within it.

    Listings are never cached: a resumed run must see what another attempt just wrote.
    """
    name = scheme(uri)
    if name is None:
        raise ValueError(f"not an object-store URL: {uri}")
    bucket_of(uri)
    options: dict[str, Any] = {"use_listings_cache": False}
    if name in ("gs", "gcs") and os.environ.get("STORAGE_EMULATOR_HOST"):
        options["token"] = "anon"
    if name == "minio" and not os.environ.get("AWS_ENDPOINT_URL"):
        options["endpoint_url"] = KFP_MINIO_ENDPOINT
    try:
        fs = _driver(name)(**options)
    except (ImportError, ValueError) as e:
        need = DRIVERS.get(name)
        hint = f"install {need}" if need else f"fgsgl supports {', '.join(sorted(DRIVERS))}://"
        raise FgsglError(f"{uri}: no storage driver for {name}:// ({hint}; {e})") from e
    return fs, uri.split("://", 1)[1].rstrip("/")


def _driver(name: str) -> type:
    """The fsspec class for a scheme: for GCS and S3 fgsgl's subclasses, which retry by one
    policy (fgsgl.storage_drivers). For GCS the plain GCSFileSystem underneath: gcsfs's
    default class first asks a gRPC control plane for each bucket's layout (zonal or
    hierarchical buckets), an extra call fgsgl does not need and an emulator cannot answer."""
    if name in DRIVERS:
        from fgsgl import storage_drivers

        return storage_drivers.GCS if DRIVERS[name] == "gcsfs" else storage_drivers.S3
    import fsspec

    return fsspec.get_filesystem_class(name)


def reset() -> None:
    """Forget the file systems made so far (their endpoints and credentials): for a
    process that changes STORAGE_EMULATOR_HOST or AWS_ENDPOINT_URL, like the tests."""
    for name in DRIVERS:
        with contextlib.suppress(ImportError, ValueError):
            _driver(name).clear_instance_cache()


@contextlib.contextmanager
def _errors(uri: str, operation: str) -> Iterator[None]:
    """Turn a driver's exception into one FgsglError naming the URL and the operation;
    StoreUnavailableError when transient failures used up every attempt."""
    try:
        yield
    except FgsglError:
        raise
    except FileNotFoundError as e:
        raise FgsglError(f"{uri}: not found") from e
    except PermissionError as e:
        raise FgsglError(f"{uri}: access denied ({e})") from e
    except Exception as e:
        from fgsgl.storage_drivers import exhausted, status_of, transient

        if status_of(e) == 404:
            raise FgsglError(f"{uri}: not found") from e
        if status_of(e) in (401, 403) and not transient(e):
            raise FgsglError(f"{uri}: access denied ({e})") from e
        spent = exhausted(e)
        if spent is not None:
            last, attempts = spent
            raise StoreUnavailableError(
                uri, operation, attempts, f"{type(last).__name__}: {last}"
            ) from e
        raise FgsglError(f"{uri}: {operation} failed ({type(e).__name__}: {e})") from e


def _entry(info: dict[str, Any]) -> dict[str, Any]:
    """{size, checksum, version} of one stored object, whatever the store.

    checksum: the store's digest of the content (GCS CRC32C, S3 ETag), equal for equal
    bytes written alike; version: changes whenever the object is written again.
    """
    checksum = info.get("crc32c") or info.get("ETag") or info.get("etag")
    version = info.get("generation") or info.get("VersionId")
    if version is None and info.get("LastModified") is not None:  # S3 without versioning
        version = f"{checksum}@{info['LastModified']}"
    return {
        "size": int(info["size"]),
        "checksum": str(checksum).strip('"') if checksum else None,
        "version": str(version) if version is not None else None,
    }


def _local_entry(path: Path) -> dict[str, Any]:
    st = path.stat()
    return {"size": st.st_size, "checksum": None, "version": str(st.st_mtime_ns)}


def exists(uri: str | os.PathLike) -> bool:
    if is_remote(uri):
        fs, path = filesystem(str(uri))
        with _errors(str(uri), "exists"):
            return bool(fs.exists(path))
    return local_path(uri).exists()


def read_bytes(uri: str | os.PathLike) -> bytes:
    """Read a whole (small) file: manifests, class lists, metadata."""
    if is_remote(uri):
        fs, path = filesystem(str(uri))
        with _errors(str(uri), "read"):
            return fs.cat_file(path)
    path = local_path(uri)
    if not path.is_file():
        raise FgsglError(f"{uri}: not found" if not path.exists() else f"{uri}: not a file")
    return path.read_bytes()


def info(uri: str | os.PathLike) -> dict[str, Any] | None:
    """{size, checksum, version} of one file, or None when there is none."""
    if is_remote(uri):
        fs, path = filesystem(str(uri))
        with _errors(str(uri), "info"):
            try:
                found = fs.info(path)
            except FileNotFoundError:
                return None
        return _entry(found) if found.get("type") != "directory" else None
    path = local_path(uri)
    return _local_entry(path) if path.is_file() else None


# ---------------------------------------------------------------- transfers
#
# Videos and artifacts can be large, so they move as files (never whole in memory), through
# a `.partial` name that is renamed only when complete.


def download(uri: str, dest: str | Path) -> Path:
    """Copy an object (or local file) to `dest`; FgsglError naming the URI on failure."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(f".{dest.name}.partial")
    try:
        if is_remote(uri):
            fs, path = filesystem(uri)
            with _errors(uri, "download"):
                if fs.isdir(path):
                    raise FgsglError(f"{uri}: not found (a prefix, not an object)")
                fs.get_file(path, str(partial))
        else:
            import shutil

            if not local_path(uri).is_file():
                raise FgsglError(f"{uri}: not found")
            shutil.copyfile(local_path(uri), partial)
        os.replace(partial, dest)
    finally:
        partial.unlink(missing_ok=True)
    return dest


def upload(local: str | Path, uri: str) -> dict[str, Any]:
    """Copy a local file to an object-store URL (or local path); returns the stored file's
    {size, checksum, version}. The stored size is checked against the local one; on S3
    botocore also checks the bytes in transit (a CRC32 with each request), on GCS nothing
    more does (gcsfs's MD5 check is off: composite objects have no MD5)."""
    if not is_remote(uri):
        import shutil

        target = local_path(uri)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.partial")
        shutil.copyfile(local, partial)
        os.replace(partial, target)
        return _local_entry(target)
    fs, path = filesystem(uri)
    size = Path(local).stat().st_size
    with _errors(uri, "upload"):
        fs.put_file(str(local), path)
        stored = _entry(fs.info(path))
    if stored["size"] != size:
        raise FgsglError(f"{uri}: upload incomplete ({stored['size']} of {size} bytes stored)")
    return stored


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
    """Files under a local directory or object-store prefix, recursively: relative name ->
    {size, checksum, version}. The store's checksum lets a caller verify an object's content
    without downloading it (None for local files)."""
    if is_remote(prefix):
        fs, path = filesystem(str(prefix))
        base = path.rstrip("/") + "/"
        with _errors(str(prefix), "list"):
            found = fs.find(base, detail=True)
        return {
            name[len(base) :]: _entry(details)
            for name, details in sorted(found.items())
            if name.startswith(base) and not name.endswith("/") and details.get("size") is not None
            and details.get("type") != "directory"
        }  # fmt: skip
    root = local_path(prefix)
    if not root.is_dir():
        return {}
    return {p.relative_to(root).as_posix(): _local_entry(p) for p in root.rglob("*") if p.is_file()}


def delete(uri: str | os.PathLike) -> None:
    """Remove a file or object; a missing one is not an error."""
    if is_remote(uri):
        fs, path = filesystem(str(uri))
        with _errors(str(uri), "delete"), contextlib.suppress(FileNotFoundError):
            fs.rm_file(path)
        return
    local_path(uri).unlink(missing_ok=True)


class Downloads:
    """Bounded concurrent downloads of object-store files into a private temp directory.

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
        self._dir: Path | None = None  # made on the first remote fetch: local runs need none
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

        if not is_remote(uri):
            done: Future = Future()
            done.set_result(str(uri))
            return done
        with self._lock:
            entry = self._entries.get(uri)
            if entry is None:
                name = posixpath.basename(uri.rstrip("/")) or "object"
                dest = self.directory / f"{next(self._numbers):06d}" / name
                entry = [self._pool.submit(lambda: str(download(uri, dest))), 0]
                self._entries[uri] = entry
            entry[1] += 1
            return entry[0]

    def release(self, uri: str) -> None:
        if not is_remote(uri):
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
    """Copy one file between any two of local and object stores, without a detour where
    possible: within one store a server-side copy, local to local a hard link (files of
    finished artifacts are never modified in place) or a copy across file systems."""
    src, dst = str(src), str(dst)
    if is_remote(src) and is_remote(dst) and scheme(src) == scheme(dst):
        fs, source = filesystem(src)
        _, target = filesystem(dst)
        with _errors(src, f"copy to {dst}"):
            fs.copy(source, target)
    elif is_remote(src) and is_remote(dst):
        import tempfile

        with tempfile.TemporaryDirectory(prefix="fgsgl-copy-") as tmp:
            upload(download(src, Path(tmp) / "object"), dst)
    elif is_remote(src):
        download(src, dst)
    elif is_remote(dst):
        upload(src, dst)
    else:
        source, target = local_path(src), local_path(dst)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.unlink(missing_ok=True)
        try:
            os.link(source, target)
        except OSError:
            import shutil

            if not source.is_file():
                raise FgsglError(f"{src}: not found") from None
            shutil.copyfile(source, target)
