"""The weights artifact: one checkpoint's files for one part, fetched once per name.

On a cluster, every GPU task would otherwise download InternVL2.5-8B (16 GB) again. The
pipeline's fetch steps (`fgsgl fetch-weights NAME OUT --part vision|language`) copy what
their consumers read into an artifact, once per name as written (`ORG/NAME@REVISION`; KFP
caches the step by it): the vision tower's shards for training and evaluation, the
language model's for text encoding. The files come from the hub, from a mirror (a folder or
gs:// / s3:// prefix, see fgsgl.hub) or from a local folder. Layout:

    files/          the checkpoint's files the part needs (config.json, shards, ...)
    metadata.json   kind fgsgl.weights; name (the backbone or text-encoder name), checkpoint
                    (its ORG/NAME@REVISION or folder), part, source, repo_id, revision,
                    commit (the hub commit, when it came from the hub), files (name ->
                    sha256)

A name without a checkpoint (tiny-clip, minilm) gives an artifact without files, and its
consumers build the model as they always do.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from fgsgl import storage
from fgsgl.artifacts import read_metadata, staged_dir, write_metadata
from fgsgl.errors import FgsglError
from fgsgl.hub import ModelRef, Snapshot, parse_ref, part_files, resolve

log = logging.getLogger("fgsgl")

KIND = "fgsgl.weights"
FILES = "files"


# The name kinds that read a checkpoint (what follows "kind:"), by part, kept here so that
# the fetch step needs no torch: the backbone registry (fgsgl.model.backbones.KINDS) and
# the text encoders (fgsgl.text.encoders.BUILDERS) agree with it (tests/test_weights.py).
CHECKPOINT_KINDS = {"vision": ("clip", "internvl"), "language": ("hf", "internvl")}
NO_CHECKPOINT = {"vision": ("tiny-clip",), "language": ("minilm",)}


def checkpoint_of(name: str, part: str) -> str | None:
    """The checkpoint a backbone name (part vision) or text-encoder name (part language)
    reads: `internvl:ORG/NAME@REV` -> `ORG/NAME@REV`; None for tiny-clip and minilm."""
    if part not in CHECKPOINT_KINDS:
        raise FgsglError(f"part {part!r}: not one of {', '.join(CHECKPOINT_KINDS)}")
    kind, _, source = name.partition(":")
    if kind in NO_CHECKPOINT[part]:
        return None
    if kind not in CHECKPOINT_KINDS[part] or not source:
        what = "backbone" if part == "vision" else "text encoder"
        valid = [*NO_CHECKPOINT[part], *(f"{k}:<path-or-id>" for k in CHECKPOINT_KINDS[part])]
        raise FgsglError(f"{what} {name!r}: not one of {', '.join(valid)}")
    return source


def fetch_weights(name: str, out: str | Path, *, part: str, mirror: str | None = None) -> dict:
    """Write the weights artifact of model `name` for `part` to `out`; returns its metadata.

    `mirror`: a folder, gs:// or s3:// prefix to take hub ids from instead of the hub.
    """
    checkpoint = checkpoint_of(name, part)
    with staged_dir(Path(out)) as tmp:
        files_dir = tmp / FILES
        files_dir.mkdir()
        if checkpoint is None:
            log.info("%s reads no checkpoint: nothing to fetch", name)
            fields: dict[str, Any] = {"source": None, "repo_id": None, "revision": None}
            fields["commit"] = None
        else:
            fields = _copy_checkpoint(checkpoint, part, mirror, files_dir)
        digests = _digests(files_dir)
        meta = write_metadata(
            tmp, KIND, name=name, checkpoint=checkpoint, part=part, files=digests, **fields
        )
    size = sum(p.stat().st_size for p in (Path(out) / FILES).rglob("*") if p.is_file())
    log.info(
        "weights of %s (%s): %d files, %.1f MB -> %s", name, part, len(digests), size / 1e6, out
    )
    return meta


def _copy_checkpoint(checkpoint: str, part: str, mirror: str | None, dest: Path) -> dict[str, Any]:
    ref = parse_ref(checkpoint)
    if ref.local is None and mirror:
        root = storage.join(mirror, ref.mirror_name())
        listing = sorted(storage.list_files(root))
        if not listing:
            raise FgsglError(
                f"weights mirror {mirror}: nothing under {root} (expected the snapshot of "
                f"{ref.repo_id}{'@' + ref.revision if ref.revision else ''}: config.json, "
                "*.safetensors, ...; see fgsgl.hub for the layout)"
            )
        if "config.json" not in listing:
            raise FgsglError(f"weights mirror {root}: no config.json among {len(listing)} files")
        names = part_files(
            listing, lambda n: json.loads(storage.read_bytes(storage.join(root, n))), part
        )
        for n in names:
            storage.copy(storage.join(root, n), dest / n)
        return {
            "source": "mirror",
            "repo_id": ref.repo_id,
            "revision": ref.revision,
            "commit": ref.revision if ref.pinned else None,  # a mirror of NAME@SHA holds it
        }
    snapshot = resolve(checkpoint, part)
    listing = sorted(
        p.relative_to(snapshot.folder).as_posix() for p in snapshot.folder.rglob("*") if p.is_file()
    )
    names = part_files(listing, lambda n: json.loads((snapshot.folder / n).read_text()), part)
    for n in names:
        storage.copy(snapshot.folder / n, dest / n)
    prov = snapshot.provenance()
    return {k: prov[k] for k in ("source", "repo_id", "revision", "commit")}


def _digests(folder: Path) -> dict[str, str]:
    from fgsgl.hashing import weights_revision

    files = sorted(p for p in folder.rglob("*") if p.is_file())
    _, digests = weights_revision(files)
    return {p.relative_to(folder).as_posix(): digests[p.name] for p in files}


def resolve_checkpoint(spec: str, part: str, weights: str | Path | None = None) -> Snapshot:
    """The files `part` needs of checkpoint `spec`: those of `weights`, the weights artifact
    fetched for this very name, when the step was given one; else found by fgsgl.hub."""
    if weights is not None:
        return open_weights(weights, spec, part)
    return resolve(spec, part)


def open_weights(directory: str | Path, checkpoint: str, part: str) -> Snapshot:
    """The files of a weights artifact as a Snapshot, refusing one made for another name or
    part (a cache hit of another run's fetch would otherwise load the wrong model)."""
    meta = read_metadata(directory, KIND)
    if meta.get("checkpoint") != checkpoint:
        raise FgsglError(
            f"{directory}: weights of {meta.get('checkpoint')!r}, not of {checkpoint!r} "
            f"(fetched for {meta.get('name')!r})"
        )
    if meta.get("part") not in (part, "all"):
        raise FgsglError(
            f"{directory}: the {meta.get('part')} weights of {checkpoint}; this step needs {part}"
        )
    folder = Path(directory) / FILES
    missing = [n for n in meta.get("files", {}) if not (folder / n).is_file()]
    if missing:
        raise FgsglError(f"{directory}: files of the artifact are missing", missing[:20])
    # the name as the fetch step read it (a folder there need not exist here)
    ref = ModelRef(checkpoint, None, meta.get("repo_id"), meta.get("revision"))
    return Snapshot(folder, ref, meta.get("commit"), "weights")


def has_files(directory: str | Path | None) -> bool:
    """Whether a weights artifact holds a checkpoint (False for tiny-clip / minilm ones)."""
    if directory is None:
        return False
    return bool(read_metadata(directory, KIND).get("files"))
