"""The frames artifact: fixed-shape uint8 clips in .npy shards that loaders memory-map.

Layout (docs/artifacts.md, "frames"):

    metadata.json        how it was made (T, S, resize, sampler, decoder, dataset
                         fingerprint, counts, shards) - written last: its presence means
                         the artifact is complete
    classes.csv          the dataset's classes (evaluation needs the names)
    index.csv            one row per extracted clip: where its frames are (shard, offset)
    failures.csv         clip_id, video, error: the clips that could not be extracted
    shards/NNNNN.npy     uint8 (n, T, S, S, 3) RGB, one slot per planned clip
    shards/NNNNN.json    the shard's sidecar: its plan, and per slot the clip's CRC-32 or
                         its error; what a resumed run verifies the shard against
    keypoints/NNNNN.npy  float32 (n, T, J, 3) (x, y, confidence), when the dataset has them

A shard keeps one slot per planned clip, in plan order; a clip that failed leaves its slot
zero and is absent from index.csv. Slots never move, so a shard is written by several
processes at once (each clip into its own slot) and parts of a sharded run merge by
copying files.

This module is the format: names, the shard writer pieces, the sidecar, and the reader
`FramesArtifact`. The extraction step (fgsgl.video.extract) drives it.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fgsgl import storage
from fgsgl.artifacts import read_metadata, write_json
from fgsgl.diskspace import is_disk_full
from fgsgl.errors import FgsglError

KIND = "fgsgl.frames"
SHARDS = "shards"
KEYPOINTS = "keypoints"
INDEX_CSV = "index.csv"
FAILURES_CSV = "failures.csv"
CLASSES_CSV = "classes.csv"

INDEX_COLUMNS = (
    "clip_id",
    "label",
    "split",
    "subject",
    "fg_text",
    "initiator",
    "receiver",
    "direction",
    "motion",
    "shard",
    "offset",
    "frame_indices",
    "note",
)
INDEX_INT_COLUMNS = ("label", "shard", "offset")
FAILURE_COLUMNS = ("clip_id", "video", "error")


# ---------------------------------------------------------------- names


def shard_name(shard: int) -> str:
    return f"{shard:05d}"


def shard_file(root: str | Path, shard: int) -> Path:
    return Path(root) / SHARDS / f"{shard_name(shard)}.npy"


def sidecar_file(root: str | Path, shard: int) -> Path:
    return Path(root) / SHARDS / f"{shard_name(shard)}.json"


def keypoints_file(root: str | Path, shard: int) -> Path:
    return Path(root) / KEYPOINTS / f"{shard_name(shard)}.npy"


def partial_file(final: Path) -> Path:
    """Where a shard file is assembled; renamed onto `final` only when complete."""
    return final.with_name(f".{final.name}.partial")


# ---------------------------------------------------------------- writing shards


def clip_checksum(clip: np.ndarray) -> str:
    """CRC-32 of one clip's bytes (C order), 8 hex digits: what the sidecar records per slot.

    It guards against accidents (a slot left unwritten, a file cut short or overwritten),
    not against tampering, and costs 1.1 ms per 448 x 448 x 8 clip where SHA-256 costs
    2.7 ms: a few per cent of the extraction.
    """
    return f"{zlib.crc32(np.ascontiguousarray(clip).data):08x}"


def shard_digest(clip_checksums: list[str | None]) -> str:
    """One SHA-256 for a shard: over its slots' checksums in order (failed slots as '-')."""
    text = "\n".join(d or "-" for d in clip_checksums)
    return hashlib.sha256(text.encode()).hexdigest()


def create_shard(path: Path, slots: int, frames: int, size: int) -> None:
    """An .npy file of `slots` zero clips, ready for `write_slot`.

    Its disk space is reserved now (fallocate) where the file system can: a full disk
    fails here, with the path, not halfway through the shard; and writing into reserved
    blocks is cheaper than allocating them slot by slot.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        array = np.lib.format.open_memmap(
            path, mode="w+", dtype=np.uint8, shape=(slots, frames, size, size, 3)
        )
    except OSError as e:
        if is_disk_full(e):  # name the file (numpy does not)
            raise OSError(e.errno, e.strerror, str(path)) from e
        raise
    length = array.offset + array.nbytes
    del array
    fd = os.open(path, os.O_RDWR)
    try:
        os.posix_fallocate(fd, 0, length)
    except OSError as e:
        if is_disk_full(e):  # the step says how much the whole run still needs
            raise OSError(e.errno, e.strerror, str(path)) from e
        if e.errno not in (errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
            raise FgsglError(
                f"{path}: cannot reserve {length / 2**20:.0f} MiB ({e.strerror})"
            ) from e
    finally:
        os.close(fd)


@dataclass(frozen=True)
class ShardLayout:
    """Where slot i's bytes are inside an .npy shard file."""

    data_offset: int
    clip_bytes: int
    slots: int

    @classmethod
    def read(cls, path: Path) -> ShardLayout:
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
            else:
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
            offset = f.tell()
        if dtype != np.uint8 or fortran or len(shape) != 5 or shape[4] != 3:
            raise FgsglError(f"{path}: not a frames shard (dtype {dtype}, shape {shape})")
        return cls(offset, int(np.prod(shape[1:])), int(shape[0]))


def write_slot(path: Path, layout: ShardLayout, slot: int, clip: np.ndarray) -> None:
    """Write one clip into its slot (several processes may write other slots at once)."""
    data = np.ascontiguousarray(clip, dtype=np.uint8)
    if data.nbytes != layout.clip_bytes:
        raise ValueError(f"clip of {data.nbytes} bytes for a slot of {layout.clip_bytes}")
    fd = os.open(path, os.O_WRONLY)
    try:
        view = memoryview(data).cast("B")
        offset = layout.data_offset + slot * layout.clip_bytes
        while view:
            written = os.pwrite(fd, view, offset)
            view, offset = view[written:], offset + written
    finally:
        os.close(fd)


def publish(partial: Path, final: Path) -> None:
    """Make a finished file visible under its final name, durably, in one rename."""
    with open(partial, "rb+") as f:
        os.fsync(f.fileno())
    os.replace(partial, final)


# ---------------------------------------------------------------- sidecars


def write_sidecar(root: str | Path, shard: int, sidecar: dict[str, Any]) -> None:
    path = sidecar_file(root, shard)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, sidecar)


def read_sidecar(path: Path) -> dict[str, Any] | None:
    """A shard's sidecar, or None when it is missing or unreadable (the shard is redone)."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def verify_shard_file(path: Path, sidecar: dict[str, Any], frames: int, size: int) -> str | None:
    """Why the shard file does not hold what its sidecar says (None: it does).

    Reads every extracted slot and compares its CRC-32 with the sidecar: a file that
    exists but was truncated, replaced or partly written does not pass.
    """
    slots = sidecar["clips"]
    try:
        array = np.load(path, mmap_mode="r")
    except (OSError, ValueError) as e:
        return f"unreadable ({e})"
    expected = (len(slots), frames, size, size, 3)
    if array.shape != expected or array.dtype != np.uint8:
        return f"shape {array.shape} {array.dtype}, expected {expected} uint8"
    for i, slot in enumerate(slots):
        checksum = slot.get("crc32")
        if checksum is not None and clip_checksum(array[i]) != checksum:
            return f"slot {i} ({slot['clip_id']}) differs from its recorded CRC-32"
    return None


# ---------------------------------------------------------------- tables


def read_index(path: str | Path) -> pd.DataFrame:
    """index.csv with its types: text columns as str ('' when empty), ints as int64."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False)
    for column in INDEX_INT_COLUMNS:
        frame[column] = frame[column].astype("int64")
    return frame


def read_failures(path: str | Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False)


# ---------------------------------------------------------------- the reader


class FramesArtifact:
    """Read a frames artifact: its index, and each clip as a memory-mapped array.

    Row i of `.index` (a RangeIndex) is clip i; `.array(i)` is its uint8 (T, S, S, 3)
    frames, a read-only view into the memory-mapped shard (nothing is decoded or copied
    until used). `.clips(split)` selects rows of one split, keeping their positions.

    Shards are mapped lazily and per process, so the object pickles small and can be
    handed to DataLoader workers.
    """

    def __init__(self, root: Path, meta: dict[str, Any], index: pd.DataFrame) -> None:
        self.root = root
        self.meta = meta
        self.index = index
        self._shards: dict[int, np.ndarray] = {}
        self._keypoints: dict[int, np.ndarray] = {}
        self._shard = index["shard"].to_numpy()
        self._offset = index["offset"].to_numpy()

    @classmethod
    def open(cls, path: str | os.PathLike, *, allow_part: bool = False) -> FramesArtifact:
        """Open the artifact at a local directory (a gcsfuse mount works too).

        A part of a sharded extraction (`fgsgl extract --shard i/n`) holds only a slice
        of the dataset and is refused unless `allow_part` (merge the parts first).
        """
        if storage.is_remote(path):
            raise FgsglError(
                f"{path}: frames are memory-mapped and must be on a local file system; "
                f"copy the artifact down (gcloud storage cp -r) or mount the bucket (gcsfuse)"
            )
        root = Path(path)
        meta = read_metadata(root, KIND)
        part = meta.get("part")
        if part and not allow_part:
            raise FgsglError(
                f"{root}: part {part['index']}/{part['count']} of a sharded extraction "
                f"(only its slice of the clips); merge the parts with "
                f"`fgsgl extract --merge PART... OUT` and use the result"
            )
        index_path = root / INDEX_CSV
        if not index_path.is_file():
            raise FgsglError(f"{root}: frames artifact without {INDEX_CSV}")
        return cls(root, meta, read_index(index_path))

    # -- what the artifact is
    @property
    def frames(self) -> int:
        return int(self.meta["frames"])

    @property
    def size(self) -> int:
        return int(self.meta["size"])

    @property
    def class_names(self) -> list[str]:
        return list(self.meta["class_names"])

    @property
    def num_classes(self) -> int:
        return len(self.meta["class_names"])

    @property
    def dataset_fingerprint(self) -> str:
        return str(self.meta["dataset_fingerprint"])

    @property
    def has_keypoints(self) -> bool:
        return bool(self.meta.get("keypoints"))

    def __len__(self) -> int:
        return len(self.index)

    def clips(self, split: str) -> pd.DataFrame:
        """The index rows of one split (their index labels are positions for `.array`)."""
        return self.index[self.index["split"] == split]

    def failures(self) -> pd.DataFrame:
        path = self.root / FAILURES_CSV
        return read_failures(path) if path.is_file() else pd.DataFrame(columns=FAILURE_COLUMNS)

    # -- the data
    def array(self, i: int) -> np.ndarray:
        """Clip i's frames: uint8 (T, S, S, 3) RGB, read-only and memory-mapped."""
        shard = int(self._shard[i])
        array = self._shards.get(shard)
        if array is None:
            array = np.load(shard_file(self.root, shard), mmap_mode="r")
            self._shards[shard] = array
        return array[int(self._offset[i])]

    def keypoints(self, i: int) -> np.ndarray:
        """Clip i's keypoints at the same T frames: float32 (T, J, 3) (x, y, confidence)."""
        if not self.has_keypoints:
            raise FgsglError(f"{self.root}: this frames artifact has no keypoints")
        shard = int(self._shard[i])
        array = self._keypoints.get(shard)
        if array is None:
            array = np.load(keypoints_file(self.root, shard), mmap_mode="r")
            self._keypoints[shard] = array
        return array[int(self._offset[i])]

    def frame_indices(self, i: int) -> list[int]:
        """The video frame numbers clip i's T frames came from."""
        return [int(v) for v in str(self.index.at[i, "frame_indices"]).split()]

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_shards"], state["_keypoints"] = {}, {}  # never pickle mapped data
        return state

    def __repr__(self) -> str:
        return (
            f"FramesArtifact({str(self.root)!r}: {len(self)} clips, T={self.frames}, "
            f"S={self.size}, {self.meta.get('resize')})"
        )
