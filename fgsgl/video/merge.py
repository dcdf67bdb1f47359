"""Merging the parts of a sharded extraction (`--shard i/n`) into one frames artifact.

Parts are slices of one plan: whole shards, numbered as in a single run. So merging copies
shard files as they are (a hard link locally, a server-side copy in a store) and
concatenates the tables in shard order; the result equals a single run's artifact. Every
part must be there exactly once, made with the same settings from the same dataset.
"""

from __future__ import annotations

import io
import json
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

from fgsgl import storage
from fgsgl.artifacts import METADATA, read_metadata, staged_dir, write_metadata
from fgsgl.dataset.tables import write_csv
from fgsgl.errors import FgsglError
from fgsgl.locks import locks_output
from fgsgl.progress import bar
from fgsgl.video.frames import (
    CLASSES_CSV,
    FAILURES_CSV,
    INDEX_CSV,
    KEYPOINTS,
    KIND,
    SHARDS,
    read_failures,
    read_index,
)

log = logging.getLogger("fgsgl")

# metadata fields that must agree between parts (they decide the bytes of every shard)
SAME_IN_EVERY_PART = (
    "frames",
    "size",
    "resize",
    "sampler",
    "decoder",
    "dataset_fingerprint",
    "class_names",
    "clips_per_shard",
    "plan",
    "keep_partial",
)


def _part_metadata(part: str) -> dict[str, Any]:
    if not storage.is_remote(part):
        return read_metadata(part, KIND)
    try:
        meta = json.loads(storage.read_bytes(storage.join(part, METADATA)))
    except FgsglError:
        raise FgsglError(f"{part}: not a frames artifact (no {METADATA})") from None
    if meta.get("kind") != KIND:
        raise FgsglError(f"{part}: expected a {KIND} artifact, found {meta.get('kind')!r}")
    return meta


def _check_parts(parts: list[str], metas: list[dict[str, Any]]) -> list[int]:
    """Every problem at once; returns the parts' order by part index."""
    problems = []
    counts = set()
    seen: dict[int, str] = {}
    for part, meta in zip(parts, metas, strict=True):
        info = meta.get("part")
        if not info:
            problems.append(f"{part}: a complete artifact, not a part of a sharded extraction")
            continue
        counts.add(info["count"])
        if info["index"] in seen:
            problems.append(f"{part}: part {info['index']} again (also {seen[info['index']]})")
        seen[info["index"]] = part
        for key in SAME_IN_EVERY_PART:
            if meta.get(key) != metas[0].get(key):
                problems.append(
                    f"{part}: {key} {_short(meta.get(key))} differs from "
                    f"{parts[0]}'s {_short(metas[0].get(key))}"
                )
    if len(counts) > 1:
        problems.append(f"the parts come from different splits: n = {sorted(counts)}")
    elif counts:
        n = counts.pop()
        missing = sorted(set(range(n)) - set(seen))
        if missing:
            problems.append(f"missing part(s) {', '.join(f'{i}/{n}' for i in missing)}")
    if problems:
        raise FgsglError(f"cannot merge {len(parts)} parts", problems)
    return sorted(range(len(parts)), key=lambda i: metas[i]["part"]["index"])


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


@locks_output("out")
def merge(parts: list[str], out: str) -> dict[str, Any]:
    """Join the parts `fgsgl extract --shard i/n` wrote into one artifact at `out`."""
    started = time.perf_counter()
    if not parts:
        raise FgsglError("merge needs at least one part")
    parts = [str(p) for p in parts]
    metas = [_part_metadata(p) for p in parts]
    order = _check_parts(parts, metas)
    parts = [parts[i] for i in order]
    metas = [metas[i] for i in order]
    out = str(out)
    if storage.is_remote(out):
        storage.delete(storage.join(out, METADATA))  # incomplete until written again
        with tempfile.TemporaryDirectory(prefix="fgsgl-merge-") as tmp:
            summary = _merge_into(parts, metas, out, Path(tmp))
            keep = {
                f"{d}/{s['name']}.{e}"
                for m in metas
                for s in m["shards"]
                for d, e in ((SHARDS, "npy"), (SHARDS, "json"), (KEYPOINTS, "npy"))
            }
            for name in storage.list_files(out):  # what an older artifact there left
                if name.startswith((f"{SHARDS}/", f"{KEYPOINTS}/")) and name not in keep:
                    storage.delete(storage.join(out, name))
            for name in (INDEX_CSV, FAILURES_CSV, CLASSES_CSV, METADATA):
                storage.upload(Path(tmp) / name, storage.join(out, name))
    else:
        with staged_dir(out) as tmp:
            summary = _merge_into(parts, metas, str(tmp), tmp)
    summary["seconds"] = round(time.perf_counter() - started, 3)
    log.info(
        "merge: %d parts -> %s: %d clips extracted, %d failed, %d shards",
        len(parts),
        out,
        summary["extracted"],
        summary["failed"],
        summary["shards"],
    )
    summary["out"] = out
    return summary


def _merge_into(
    parts: list[str], metas: list[dict[str, Any]], data_root: str, tables: Path
) -> dict[str, Any]:
    """Copy every part's shard files to `data_root`; write tables + metadata into `tables`."""
    copies = []
    for part, meta in zip(parts, metas, strict=True):
        for shard in meta["shards"]:
            names = [f"{SHARDS}/{shard['name']}.npy", f"{SHARDS}/{shard['name']}.json"]
            if meta.get("keypoints"):
                names.append(f"{KEYPOINTS}/{shard['name']}.npy")
            copies += [(storage.join(part, n), storage.join(data_root, n)) for n in names]
    with bar(copies, desc="merge", unit="file") as files:
        for src, dst in files:
            storage.copy(src, dst)
    indexes = [
        read_index(io.BytesIO(storage.read_bytes(storage.join(p, INDEX_CSV)))) for p in parts
    ]
    failures = [
        read_failures(io.BytesIO(storage.read_bytes(storage.join(p, FAILURES_CSV)))) for p in parts
    ]
    index = pd.concat(indexes, ignore_index=True)
    failed = pd.concat(failures, ignore_index=True)
    write_csv(index, tables / INDEX_CSV)
    write_csv(failed, tables / FAILURES_CSV)
    (tables / CLASSES_CSV).write_bytes(storage.read_bytes(storage.join(parts[0], CLASSES_CSV)))
    first = metas[0]
    by_split: dict[str, int] = {}
    for meta in metas:
        for split, n in meta["counts"]["by_split"].items():
            by_split[split] = by_split.get(split, 0) + n
    counts = {
        "planned": sum(m["counts"]["planned"] for m in metas),
        "extracted": len(index),
        "failed": len(failed),
        "by_split": dict(sorted(by_split.items())),
    }
    joints = next((m["keypoints"]["joints"] for m in metas if m.get("keypoints")), None)
    fields = {
        key: first[key]
        for key in first
        if key not in ("kind", "format_version", "fgsgl_version", "created", "part")
    }
    fields.update(
        counts=counts,
        shards=[s for m in metas for s in m["shards"]],
        keypoints={**first["keypoints"], "joints": joints} if first.get("keypoints") else None,
    )
    write_metadata(tables, KIND, **fields)
    return {
        "parts": len(parts),
        "planned": counts["planned"],
        "extracted": counts["extracted"],
        "failed": counts["failed"],
        "shards": len(fields["shards"]),
    }
