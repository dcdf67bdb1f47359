"""The extraction plan: every clip's shard and slot, fixed before any decoding starts.

The plan depends only on the dataset and the settings (T, S, resize, sampler, decoder,
clips per shard), never on the number of workers or which clips fail. So a resumed run
finds the same shards, `--shard i/n` parts are slices of the same plan (whole shards,
numbered as in a single run), and merging parts gives the single run's artifact.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import pandas as pd

from fgsgl.errors import UsageError
from fgsgl.hashing import sha256_json

SHARD_BYTES = 256 << 20  # about this much per shard file: big enough for streaming reads
MAX_CLIPS_PER_SHARD = 512  # and small enough that an interrupted shard costs little


@dataclass(frozen=True)
class Settings:
    """Everything that decides the bytes of a shard; recorded in every sidecar."""

    frames: int
    size: int
    resize: str
    sampler: str
    decoder: str  # "decord 3.4.0"
    dataset_fingerprint: str
    clips_per_shard: int
    keypoints: bool

    def as_dict(self) -> dict[str, object]:
        return asdict(self)

    @property
    def clip_bytes(self) -> int:
        return self.frames * self.size * self.size * 3


def default_clips_per_shard(frames: int, size: int) -> int:
    clip = frames * size * size * 3
    return max(1, min(MAX_CLIPS_PER_SHARD, SHARD_BYTES // clip))


@dataclass(frozen=True)
class ClipJob:
    """One clip to extract and where its frames go."""

    clip_id: str
    video: str  # as the manifest writes it (failures.csv repeats it)
    uri: str  # resolved: absolute local path, gs:// or s3:// URI
    start: int | None
    end: int | None
    keypoints_uri: str | None
    shard: int
    slot: int


@dataclass(frozen=True)
class Part:
    """Slice i of n of a plan (0-based, as KFP's ParallelFor counts)."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> Part:
        try:
            i_text, n_text = text.split("/")
            i, n = int(i_text), int(n_text)
        except ValueError:
            raise UsageError(f"--shard {text!r}: expected i/n, e.g. 0/4") from None
        if n < 1 or not 0 <= i < n:
            raise UsageError(f"--shard {text}: i must be in 0..n-1 (0-based), n >= 1")
        return cls(i, n)

    def shards(self, total: int) -> range:
        """Contiguous whole shards: clips of one video stay together in one part."""
        return range(self.index * total // self.count, (self.index + 1) * total // self.count)

    def as_dict(self) -> dict[str, int]:
        return {"index": self.index, "count": self.count}


@dataclass(frozen=True)
class Plan:
    settings: Settings
    shards: list[list[ClipJob]]  # every shard of the whole dataset, in order
    part: Part | None

    @property
    def selected(self) -> range:
        """The shard numbers this run extracts."""
        return self.part.shards(len(self.shards)) if self.part else range(len(self.shards))

    @property
    def digest(self) -> str:
        """Identifies the plan (settings and clip order) across runs and parts."""
        ids = [[job.clip_id for job in shard] for shard in self.shards]
        return sha256_json({"settings": self.settings.as_dict(), "clips": ids})

    def jobs(self) -> list[ClipJob]:
        return [job for k in self.selected for job in self.shards[k]]


def make_plan(
    manifest: pd.DataFrame,
    *,
    settings: Settings,
    video_uri,
    keypoints_uri,
    part: Part | None = None,
) -> Plan:
    """Cut the manifest, in its order, into shards of `settings.clips_per_shard` clips."""
    per = settings.clips_per_shard
    has_kp = settings.keypoints
    jobs: list[ClipJob] = []
    rows = manifest[["clip_id", "video", "start_frame", "end_frame"]].itertuples(index=False)
    keypoints = manifest["keypoints"] if has_kp else [None] * len(manifest)
    for position, ((clip_id, video, start, end), kp) in enumerate(
        zip(rows, keypoints, strict=True)
    ):
        jobs.append(
            ClipJob(
                clip_id=str(clip_id),
                video=str(video),
                uri=video_uri(video),
                start=None if pd.isna(start) else int(start),
                end=None if pd.isna(end) else int(end),
                keypoints_uri=None if kp is None or pd.isna(kp) else keypoints_uri(kp),
                shard=position // per,
                slot=position % per,
            )
        )
    shards = [jobs[i : i + per] for i in range(0, len(jobs), per)]
    return Plan(settings, shards, part)
