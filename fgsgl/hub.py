"""Where model weights come from: local folders, pinned Hugging Face hub ids, mirrors.

A backbone or text encoder names its checkpoint by a local folder or a hub id, pinned to a
revision as `ORG/NAME@REVISION` (a commit sha, a tag or a branch; only a commit is a pin,
since a branch moves). Every consumer resolves the name through `resolve`, which downloads
only the files of the part it needs (`PARTS`: the vision tower's shards for training, the
language model's for text encoding) into the Hugging Face cache, or finds them there
offline, and reports the commit it got. An unpinned id is resolved too, with a warning
that says which commit to pin.

A mirror (for clusters without hub access) is a folder, gs:// or s3:// prefix holding each
model under its name as written: `MIRROR/ORG/NAME@REVISION/` (or `MIRROR/ORG/NAME/`
unpinned), the files of the hub snapshot, e.g. made with
`huggingface-cli download ORG/NAME --revision REVISION --local-dir MIRROR/ORG/NAME@REVISION`.
"""

from __future__ import annotations

import fnmatch
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fgsgl.errors import FgsglError

log = logging.getLogger("fgsgl")

_HUB_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*(/[A-Za-z0-9_][A-Za-z0-9_.-]*)?")
_REVISION = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_./-]*")
_COMMIT = re.compile(r"[0-9a-f]{40}")
INDEX = "model.safetensors.index.json"
SINGLE = "model.safetensors"

CONFIG_PATTERNS = ("*.json",)
TOKENIZER_PATTERNS = ("*.txt", "*.model", "*.tiktoken")
CODE_PATTERNS = ("*.py",)  # a checkpoint's own model code: used only with trust_remote_code


@dataclass(frozen=True)
class Part:
    """The files one consumer needs: the small files matching `patterns`, and the
    safetensors shards that hold a tensor under one of `prefixes` (every shard when the
    checkpoint has none of them: a model of that part alone)."""

    patterns: tuple[str, ...]
    prefixes: tuple[str, ...] | None  # None: every shard


PARTS: dict[str, Part] = {
    "vision": Part(
        CONFIG_PATTERNS,
        (
            "vision_model.",  # original InternVL and CLIP
            "vision_tower.",  # native InternVL
            "model.vision_tower.",
            "mlp1.",  # original InternVL's vision-to-language projector
            "multi_modal_projector.",
            "model.multi_modal_projector.",
        ),
    ),
    "language": Part(
        CONFIG_PATTERNS + TOKENIZER_PATTERNS + CODE_PATTERNS,
        ("language_model.", "model.language_model."),
    ),
    "all": Part(CONFIG_PATTERNS + TOKENIZER_PATTERNS + CODE_PATTERNS, None),
}


@dataclass(frozen=True)
class ModelRef:
    """A checkpoint name: a local folder, or a hub id with an optional revision."""

    spec: str  # as written
    local: Path | None
    repo_id: str | None
    revision: str | None

    @property
    def pinned(self) -> bool:
        """Whether the name fixes the files: a local folder, or a hub id at a commit sha."""
        return self.local is not None or bool(self.revision and _COMMIT.fullmatch(self.revision))

    def mirror_name(self) -> str:
        """The folder of this model under a mirror root."""
        assert self.repo_id is not None
        return f"{self.repo_id}@{self.revision}" if self.revision else self.repo_id


def parse_ref(spec: str) -> ModelRef:
    """`ORG/NAME@REV`, `ORG/NAME` or a local folder; FgsglError for anything else."""
    if not spec:
        raise FgsglError("empty model path or id")
    path = Path(spec).expanduser()
    if path.exists():
        if not path.is_dir():
            raise FgsglError(f"{spec}: not a folder (a checkpoint is a Hugging Face model folder)")
        return ModelRef(spec, path.resolve(), None, None)
    repo, sep, revision = spec.rpartition("@") if "@" in spec else (spec, "", "")
    if not _HUB_ID.fullmatch(repo) or (sep and not _REVISION.fullmatch(revision)):
        looks_local = spec.startswith(("/", ".", "~")) or spec.count("/") > 1
        why = "not a Hugging Face id (ORG/NAME[@REVISION])"
        why = "no such model folder" if looks_local else why
        raise FgsglError(f"{spec}: {why}")
    return ModelRef(spec, None, repo, revision or None)


def check_ref(spec: str, what: str) -> str | None:
    """Why `spec` cannot name a checkpoint, for planning-time checks; None when it can."""
    try:
        parse_ref(spec)
    except FgsglError as e:
        return f"{what}: {e}"
    return None


@dataclass(frozen=True)
class Snapshot:
    """A checkpoint's files in a local folder, and where they came from."""

    folder: Path
    ref: ModelRef
    commit: str | None  # the hub commit of the files; None for a local folder or mirror
    source: str  # "local", "hub" or "weights" (a fetched weights artifact)

    def provenance(self) -> dict[str, Any]:
        """What an artifact records about the weights it used."""
        return {
            "name": self.ref.spec,
            "repo_id": self.ref.repo_id,
            "revision": self.ref.revision,
            "commit": self.commit,
            "source": self.source,
        }


def part_files(
    names: list[str], read_json: Callable[[str], dict[str, Any]], part: str
) -> list[str]:
    """Which of a snapshot's files (`names`) the `part` needs; `read_json` reads one of them."""
    spec = PARTS[part]
    small = [n for n in names if any(fnmatch.fnmatch(Path(n).name, p) for p in spec.patterns)]
    if INDEX in names:
        weight_map: dict[str, str] = read_json(INDEX).get("weight_map", {})
        shards = sorted(set(weight_map.values()))
        if spec.prefixes is not None:
            wanted = {s for k, s in weight_map.items() if k.startswith(spec.prefixes)}
            shards = sorted(wanted) or shards
    elif SINGLE in names:
        shards = [SINGLE]
    else:
        shards = sorted(n for n in names if n.endswith(".safetensors"))
    return sorted(set(small) | set(shards))


def resolve(
    spec: str,
    part: str = "all",
    *,
    cache_dir: str | Path | None = None,
    local_files_only: bool | None = None,
) -> Snapshot:
    """A local folder with the files `part` needs of checkpoint `spec` (a step given a
    fetched weights artifact reads it instead: fgsgl.weights.resolve_checkpoint).

    `cache_dir`, `local_files_only`: the Hugging Face cache to use and whether to stay
    offline (default: HF_HOME, HF_HUB_OFFLINE).
    """
    ref = parse_ref(spec)
    if ref.local is not None:
        return Snapshot(ref.local, ref, None, "local")
    return _from_hub(ref, part, cache_dir, local_files_only)


def _from_hub(
    ref: ModelRef, part: str, cache_dir: str | Path | None, local_files_only: bool | None
) -> Snapshot:
    from huggingface_hub import constants, snapshot_download

    assert ref.repo_id is not None
    offline = constants.HF_HUB_OFFLINE if local_files_only is None else local_files_only

    def download(patterns: list[str]) -> Path:
        try:
            return Path(
                snapshot_download(
                    ref.repo_id,
                    revision=ref.revision,
                    allow_patterns=patterns,
                    cache_dir=cache_dir,
                    local_files_only=offline,
                )
            )
        except Exception as e:  # hub errors come in many types; all mean "could not get it"
            raise hub_error(ref, e, offline) from e

    small = download(list(PARTS[part].patterns))
    names = sorted(p.relative_to(small).as_posix() for p in small.rglob("*") if p.is_file())
    if INDEX not in names:  # a checkpoint in one file
        names.append(SINGLE)
    wanted = part_files(names, lambda n: json.loads((small / n).read_text()), part)
    folder = download(wanted)
    commit = folder.name if _COMMIT.fullmatch(folder.name) else None
    if not ref.pinned:
        log.warning(
            "%s is not pinned to a commit: it resolved to %s; pin it as %s@%s so that every "
            "step and rerun reads the same weights",
            ref.spec,
            commit,
            ref.repo_id,
            commit,
        )
    return Snapshot(folder, ref, commit, "hub")


def hub_error(ref: ModelRef, e: Exception, offline: bool) -> FgsglError:
    """One message for everything the hub client raises, naming the id and revision."""
    from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError

    at = f" at revision {ref.revision!r}" if ref.revision else ""
    if isinstance(e, RevisionNotFoundError):
        return FgsglError(f"{ref.repo_id}: revision {ref.revision!r} does not exist on the hub")
    if isinstance(e, RepositoryNotFoundError):
        return FgsglError(
            f"{ref.repo_id}: no such model on the Hugging Face hub (or it is private)"
        )
    if offline:
        return FgsglError(
            f"{ref.spec}: not a local folder, and {ref.repo_id}{at} is not in the Hugging Face "
            "cache (HF_HUB_OFFLINE is set): fetch it once online, or use a weights mirror"
        )
    return FgsglError(f"{ref.spec}: the Hugging Face hub did not give {ref.repo_id}{at} ({e})")
