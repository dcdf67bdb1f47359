"""Content fingerprints of a dataset, for KFP cache keys.

KFP's cache key does not look inside artifacts, so the pipeline passes a fingerprint of the
dataset as a parameter. It hashes the normalised tables, not the file bytes: a manifest.csv
and a manifest.parquet holding the same table agree, and reformatting a CSV (quotes,
blank lines) does not invalidate a cache. Optionally the videos' size and modification
time (local) or generation (gs://) are added, so that replacing a video changes the key
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

    version is st_mtime_ns for local files and the object generation for gs:// objects.
    gs:// objects are listed once per bucket under their common prefix, not one request each.
    """
    unique = sorted(set(uris))
    stats: dict[str, list[Any]] = {}
    by_bucket: dict[str, list[str]] = defaultdict(list)
    for uri in unique:
        if storage.is_gcs(uri):
            bucket, name = storage.split_gcs(uri)
            by_bucket[bucket].append(name)
            continue
        try:
            st = os.stat(uri)
            stats[uri] = [uri, st.st_size, st.st_mtime_ns]
        except OSError:
            stats[uri] = [uri, None, None]
    for bucket, names in by_bucket.items():
        prefix = posixpath.commonprefix(names)
        prefix = prefix[: prefix.rfind("/") + 1]
        listed = {
            b.name: (b.size, b.generation)
            for b in storage.client().list_blobs(bucket, prefix=prefix or None)
        }
        for name in names:
            size, generation = listed.get(name, (None, None))
            uri = f"gs://{bucket}/{name}"
            stats[uri] = [uri, size, generation]
    return [stats[u] for u in unique]


def files_fingerprint(tables_digest: str, uris: Iterable[str]) -> str:
    return sha256_json({"format": FORMAT, "tables": tables_digest, "files": file_stats(uris)})
