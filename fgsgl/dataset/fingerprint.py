"""Content fingerprints of a dataset, for KFP cache keys.

KFP's cache key does not look inside artifacts, so the pipeline passes a fingerprint of the
dataset as a parameter. It hashes the normalised tables, not the file bytes: a manifest.csv
and a manifest.parquet holding the same table agree, and reformatting a CSV (quotes,
blank lines) does not invalidate a cache. Optionally the videos' size and modification
time (local) or object version (gs://, s3://) are added, so that replacing a video changes the key
without reading every video's bytes.
"""

from __future__ import annotations

import os
import posixpath
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import pandas as pd

from fgsgl import storage
from fgsgl.hashing import sha256_json

FORMAT = "fgsgl.dataset/1"


def _column(values: pd.Series) -> list[Any]:
    """A column as JSON-able Python values, None for missing ones."""
    objects = values.astype(object)
    return objects.where(values.notna(), None).tolist()


def canonical_table(frame: pd.DataFrame) -> dict[str, Any]:
    """A JSON-able form of a table that does not depend on column order or file format.

    Column-major (name -> values in row order): the row order is kept, since the steps
    number clips by it.
    """
    return {str(c): _column(frame[c]) for c in sorted(frame.columns, key=str)}


def tables_fingerprint(manifest: pd.DataFrame, classes: pd.DataFrame) -> str:
    """SHA-256 (hex) over the canonical manifest and classes tables."""
    tables = {"manifest": canonical_table(manifest), "classes": canonical_table(classes)}
    return sha256_json({"format": FORMAT, **tables})


def file_stats(uris: Iterable[str]) -> list[list[Any]]:
    """[uri, size, version] per file, sorted by uri; size and version None when missing.

    version is st_mtime_ns for local files and the store's version of an object (GCS
    generation, S3 version id or modification time). Objects are listed once per bucket
    under their common prefix, not one request each.
    """
    unique = sorted(set(uris))
    stats: dict[str, list[Any]] = {}
    by_bucket: dict[str, list[str]] = defaultdict(list)
    for uri in unique:
        if storage.is_remote(uri):
            by_bucket[uri[: uri.index("://") + 3] + storage.bucket_of(uri)].append(uri)
            continue
        try:
            st = os.stat(uri)
            stats[uri] = [uri, st.st_size, st.st_mtime_ns]
        except OSError:
            stats[uri] = [uri, None, None]
    for names in by_bucket.values():
        prefix = posixpath.commonprefix(names)
        prefix = prefix[: prefix.rfind("/") + 1]
        listed = storage.list_files(prefix)
        for uri in names:
            found = listed.get(uri[len(prefix) :])
            stats[uri] = [uri, found["size"], found["version"]] if found else [uri, None, None]
    return [stats[u] for u in unique]


def files_fingerprint(tables_digest: str, uris: Iterable[str]) -> str:
    return sha256_json({"format": FORMAT, "tables": tables_digest, "files": file_stats(uris)})
