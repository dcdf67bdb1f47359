"""The frame extraction step: a dataset directory in, a frames artifact out.

    extract(dataset, out, frames=8, size=448, resize="squash", workers=None,
            shard=None, max_failure_ratio=0.05, keep_partial=False) -> summary dict
    merge(parts, out) -> summary dict

Nothing is lost and nothing is half-written:
- Shards are assembled under a `.partial` name and renamed when every slot is resolved;
  then the shard's sidecar (its plan and per-slot CRC-32) is written. metadata.json comes
  last and is removed first, so a directory with metadata.json is always complete.
- A rerun into the same OUT keeps every shard whose sidecar matches the plan and settings
  and whose content matches its checksums (in an object store: the store's own, CRC32C
  or ETag), redoes the rest, and retries the clips that failed. The result equals an
  uninterrupted run.
- A bad clip (missing, empty, corrupt, truncated, no frames) goes to failures.csv with the
  decoder's message and the rest goes on. More failures than `max_failure_ratio` of the
  planned clips raise FgsglError at the very end, after everything good was written.
- A partial video (fgsgl.video.partial) fails the clips that need frames it lacks, naming
  what its container promised and what the file holds; `keep_partial` keeps them, sampled
  over what it holds, with that note in the index (a rerun without it fails them again).
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from fgsgl import storage
from fgsgl.artifacts import METADATA, write_metadata
from fgsgl.dataset import Dataset, load_dataset
from fgsgl.dataset.tables import write_csv
from fgsgl.diskspace import disk_full_error, free_bytes, human_bytes, is_disk_full
from fgsgl.errors import FgsglError, UsageError, check_failure_ratio
from fgsgl.hashing import sha256_file
from fgsgl.locks import locks_output
from fgsgl.progress import bar
from fgsgl.runtime.cpus import available_cpus
from fgsgl.settings import BY_NAME  # the defaults of the extraction settings
from fgsgl.video.decode import RESIZE_MODES, decoder_info
from fgsgl.video.frames import (
    CLASSES_CSV,
    FAILURES_CSV,
    INDEX_CSV,
    KEYPOINTS,
    KIND,
    SHARDS,
    ShardLayout,
    create_shard,
    keypoints_file,
    partial_file,
    read_sidecar,
    shard_digest,
    shard_file,
    shard_name,
    sidecar_file,
    verify_shard_file,
    write_sidecar,
)
from fgsgl.video.index import build_tables
from fgsgl.video.merge import merge
from fgsgl.video.plan import ClipJob, Part, Plan, Settings, default_clips_per_shard, make_plan
from fgsgl.video.pool import TaskRunner
from fgsgl.video.sampling import SAMPLER
from fgsgl.video.target import Target
from fgsgl.video.worker import ClipResult, VideoTask

__all__ = ["extract", "merge"]

log = logging.getLogger("fgsgl")
CLIPS_PER_TASK = 32  # clips of one video decoded by one task (balances long recordings)
SIDECAR_FORMAT = 2  # 2: per-slot CRC-32 (1 had SHA-256)
NPY_HEADER = 128  # bytes: numpy pads the header of a shard's shape to 128


@locks_output("out")
def extract(
    dataset: str,
    out: str,
    *,
    frames: int = BY_NAME["num_frames"].default,
    size: int = BY_NAME["frame_size"].default,
    resize: str = BY_NAME["resize"].default,
    workers: int | None = None,
    shard: str | None = None,
    max_failure_ratio: float = BY_NAME["max_failure_ratio"].default,
    clips_per_shard: int | None = None,
    keep_partial: bool = BY_NAME["keep_partial"].default,
) -> dict[str, Any]:
    """Extract T frames of every clip of `dataset` into the frames artifact `out`.

    `shard="i/n"` extracts slice i (0-based) of n, as its own part artifact, for
    `merge`. `clips_per_shard` sets the shard size (default: about 256 MiB per shard).
    Returns a summary: planned, extracted, failed, skipped_shards, seconds, clips_per_s.
    """
    started = time.perf_counter()
    _check_arguments(frames, size, resize, workers, max_failure_ratio, clips_per_shard)
    part = Part.parse(shard) if shard else None
    ds = load_dataset(dataset)
    settings = Settings(
        frames=frames,
        size=size,
        resize=resize,
        sampler=SAMPLER,
        decoder=" ".join(decoder_info().values()),
        dataset_fingerprint=ds.fingerprint(),
        clips_per_shard=clips_per_shard or default_clips_per_shard(frames, size),
        keypoints=bool(ds.manifest["keypoints"].notna().any()),
    )
    plan = make_plan(
        ds.manifest,
        settings=settings,
        video_uri=ds.video_uri,
        keypoints_uri=ds.keypoints_uri,
        part=part,
    )
    with Target(str(out)) as target:
        _refuse_foreign(target)
        target.delete(METADATA)  # from here on, OUT does not read as a complete artifact
        run = _Run(plan, target, ds, keep_partial=keep_partial)
        run.resume()
        todo = sum(len(s.todo) for s in run.shards.values())
        n_workers = max(1, min(workers or available_cpus(), todo or 1))
        log.info(
            "extract: %d clips in %d shards%s -> %s; %d shards complete (verified), "
            "%d clips to do with %d worker(s)",
            sum(len(plan.shards[k]) for k in plan.selected),
            len(plan.selected),
            f" (part {part.index}/{part.count})" if part else "",
            out,
            run.complete_at_start,
            todo,
            n_workers,
        )
        run.warn_if_short_of_space()
        try:
            run.extract(n_workers)
            summary = run.finish(started, part)
        except OSError as e:
            if not is_disk_full(e):
                raise
            raise run.disk_full(e) from e
    _check_failure_ratio(summary, max_failure_ratio, out)
    return summary


def _refuse_foreign(target: Target) -> None:
    """OUT may be new, or a frames artifact (finished or not); never another thing's home."""
    existing = target.existing()
    if any(name in existing for name in ("manifest.csv", "manifest.parquet")):
        raise FgsglError(f"{target.out}: holds a dataset; write the frames elsewhere")
    if METADATA in existing:
        try:
            kind = json.loads(target.get(METADATA).read_text()).get("kind")
        except (ValueError, AttributeError):
            kind = None
        if kind != KIND:
            raise FgsglError(
                f"{target.out}: holds {f'a {kind} artifact' if kind else 'another metadata.json'}"
                f", not frames; choose another OUT"
            )


def _check_arguments(
    frames: int,
    size: int,
    resize: str,
    workers: int | None,
    max_failure_ratio: float,
    clips_per_shard: int | None,
) -> None:
    problems = []
    if frames < 1:
        problems.append(f"--frames must be >= 1 (got {frames})")
    if size < 8:
        problems.append(f"--size must be >= 8 pixels (got {size})")
    if resize not in RESIZE_MODES:
        problems.append(f"--resize must be one of {', '.join(RESIZE_MODES)} (got {resize!r})")
    if workers is not None and workers < 1:
        problems.append(f"--workers must be >= 1 (got {workers})")
    if not 0.0 <= max_failure_ratio <= 1.0:
        problems.append(f"--max-failure-ratio must be in [0, 1] (got {max_failure_ratio})")
    if clips_per_shard is not None and clips_per_shard < 1:
        problems.append(f"clips per shard must be >= 1 (got {clips_per_shard})")
    if problems:
        raise UsageError("invalid extraction settings", problems)


def _check_failure_ratio(summary: dict[str, Any], limit: float, out: str) -> None:
    see = (
        f"see {storage.join(str(out), FAILURES_CSV)}. The {summary['extracted']} good clips "
        f"are written to {out}"
    )
    check_failure_ratio(summary["failed"], summary["planned"], limit, what="clips", see=see)


@dataclass
class _Shard:
    """One shard of this run: what is done, what is to do, and its results so far."""

    number: int
    jobs: list[ClipJob]
    slots: list[dict[str, Any] | None]  # per slot: the sidecar entry, None while to do
    retry: bool = False  # a complete shard whose failed clips are tried again
    layout: ShardLayout | None = None  # once its partial file exists
    keypoints: dict[int, np.ndarray] = field(default_factory=dict)

    @property
    def todo(self) -> list[ClipJob]:
        return [job for job, slot in zip(self.jobs, self.slots, strict=True) if slot is None]

    @property
    def finished(self) -> bool:
        return all(slot is not None for slot in self.slots)


class _Run:
    """One extraction into one target: resume, decode, finish shards, write the tables."""

    def __init__(self, plan: Plan, target: Target, ds: Dataset, *, keep_partial: bool) -> None:
        self.plan = plan
        self.keep_partial = keep_partial
        self.target = target
        self.ds = ds
        self.settings = plan.settings
        self.shards: dict[int, _Shard] = {}
        self.sidecars: dict[int, dict[str, Any]] = {}
        self.complete_at_start = 0
        self.joints: int | None = None
        self.failed = 0
        self.extracted_now = 0

    # ------------------------------------------------------------ resume
    def resume(self) -> None:
        """Keep verified shards; plan every other shard (and every failed clip) anew."""
        existing = self.target.existing()
        checks = bar(total=len(self.plan.selected), desc="verify", unit="shard")
        with checks:
            for k in self.plan.selected:
                jobs = self.plan.shards[k]
                sidecar = self._verified_sidecar(k, jobs, existing)
                checks.update()
                if sidecar is None:
                    self.shards[k] = _Shard(k, jobs, [None] * len(jobs))
                    continue
                self.complete_at_start += 1
                failed = [self._redo(slot) for slot in sidecar["clips"]]
                if not any(failed):
                    self.sidecars[k] = sidecar
                    continue
                slots = [
                    None if bad else slot
                    for bad, slot in zip(failed, sidecar["clips"], strict=True)
                ]
                self.shards[k] = _Shard(k, jobs, slots, retry=True)
        if self.settings.keypoints:
            self.joints = self._joints()

    def _redo(self, slot: dict[str, Any]) -> bool:
        """A failed clip is tried again; one kept by keep_partial is redone without it."""
        return slot.get("error") is not None or (
            bool(slot.get("kept_partial")) and not self.keep_partial
        )

    def _verified_sidecar(
        self, k: int, jobs: list[ClipJob], existing: dict[str, dict[str, Any]]
    ) -> dict[str, Any] | None:
        name = f"{SHARDS}/{shard_name(k)}"
        if f"{name}.json" not in existing or f"{name}.npy" not in existing:
            return None
        try:
            local = self.target.get(f"{name}.json")
        except FgsglError:
            return None
        sidecar = read_sidecar(local)
        if (
            sidecar is None
            or sidecar.get("format") != SIDECAR_FORMAT
            or sidecar.get("settings") != self.settings.as_dict()
            or sidecar.get("plan") != [job.clip_id for job in jobs]
        ):
            return None
        files = [f"{name}.npy"] + (
            [f"{KEYPOINTS}/{shard_name(k)}.npy"] if self.settings.keypoints else []
        )
        if self.target.remote:  # the store's checksum of each object against the uploaded one
            for f in files:
                if f not in existing or existing[f]["checksum"] != sidecar["files"].get(f):
                    return None
            return sidecar
        problem = verify_shard_file(
            shard_file(self.target.work, k), sidecar, self.settings.frames, self.settings.size
        )
        if problem is None and self.settings.keypoints:
            kp = keypoints_file(self.target.work, k)
            if not kp.is_file() or sha256_file(kp) != sidecar.get("keypoints_sha256"):
                problem = "keypoints file missing or changed"
        if problem is not None:
            log.warning("shard %s is redone: %s", shard_name(k), problem)
            return None
        return sidecar

    def _joints(self) -> int | None:
        """J of the dataset's keypoints: a finished shard's, else the first readable file's
        (a part whose own clips have none still writes keypoints of the dataset's J)."""
        for sidecar in self.sidecars.values():
            if sidecar.get("joints"):
                return int(sidecar["joints"])
        # in manifest order over the whole plan, so that every part finds the same J
        uris = (job.keypoints_uri for shard in self.plan.shards for job in shard)
        with storage.Downloads(workers=1) as downloads:
            for uri in filter(None, uris):
                try:
                    shape = np.load(downloads.fetch(uri).result(), mmap_mode="r").shape
                except (FgsglError, OSError, ValueError):
                    continue  # that clip fails on its own; try the next one
                if len(shape) == 3:
                    return int(shape[1])
        return None

    # ------------------------------------------------------------ decode
    def extract(self, workers: int) -> None:
        tasks = self._tasks()
        if not tasks:
            return
        runner = TaskRunner(workers)  # forks before any thread of ours starts
        progress = bar(total=sum(len(t.jobs) for t in tasks), desc="extract", unit="clip")
        with progress, storage.Downloads(workers=8) as downloads:

            def on_results(results: list[ClipResult]) -> None:
                for result in results:
                    self._record(result)
                progress.update(len(results))
                if self.failed:
                    progress.set_postfix(failed=self.failed, refresh=False)

            runner.run(tasks, on_results, before_submit=self._prepare, downloads=downloads)

    def _tasks(self) -> list[VideoTask]:
        """Consecutive clips of the same video form one task (one open, one packet index)."""
        tasks: list[VideoTask] = []
        group: list[ClipJob] = []

        def close() -> None:
            if group:
                tasks.append(self._task(group))
                group.clear()

        for k in self.plan.selected:
            shard = self.shards.get(k)
            for job in shard.todo if shard else []:
                if group and (job.uri != group[0].uri or len(group) >= CLIPS_PER_TASK):
                    close()
                group.append(job)
        close()
        return tasks

    def _task(self, jobs: list[ClipJob]) -> VideoTask:
        shard_files = {
            job.shard: str(partial_file(shard_file(self.target.work, job.shard))) for job in jobs
        }
        return VideoTask(
            path=jobs[0].uri,
            jobs=tuple(jobs),
            frames=self.settings.frames,
            size=self.settings.size,
            resize=self.settings.resize,
            shard_files=shard_files,
            keypoints_files={j.clip_id: j.keypoints_uri for j in jobs if j.keypoints_uri},
            joints=self.joints,
            keep_partial=self.keep_partial,
        )

    def _prepare(self, task: VideoTask) -> VideoTask:
        """Create (or, to retry failures, copy) the partial files of the task's shards; the
        task gets their layouts (read once per shard, not once per clip)."""
        for k in task.shard_files:
            shard = self.shards[k]
            if shard.layout is not None:
                continue
            final = shard_file(self.target.work, k)
            partial = partial_file(final)
            if shard.retry:
                if self.target.remote:
                    storage.download(self.target.uri(f"{SHARDS}/{final.name}"), partial)
                else:
                    shutil.copyfile(final, partial)
                if self.settings.keypoints:
                    kp = self.target.get(f"{KEYPOINTS}/{shard_name(k)}.npy")
                    old = np.load(kp)
                    for slot, entry in enumerate(shard.slots):
                        if entry is not None:
                            shard.keypoints[slot] = old[slot]
            else:
                final.unlink(missing_ok=True)  # an unverified old copy: free its space first
                create_shard(partial, len(shard.jobs), self.settings.frames, self.settings.size)
            shard.layout = ShardLayout.read(partial)
        return replace(task, layouts={k: self.shards[k].layout for k in task.shard_files})

    def _record(self, result: ClipResult) -> None:
        shard = self.shards[result.shard]
        if result.ok:
            entry = {
                "clip_id": result.clip_id,
                "crc32": result.crc32,
                "frame_indices": result.frame_indices,
                "note": result.note,
            }
            if result.kept_partial:
                entry["kept_partial"] = True
            if result.keypoints is not None:
                shard.keypoints[result.slot] = result.keypoints
            self.extracted_now += 1
        else:
            entry = {"clip_id": result.clip_id, "error": result.error}
            self.failed += 1
        shard.slots[result.slot] = entry
        if shard.finished:
            self._finish_shard(shard)

    def _finish_shard(self, shard: _Shard) -> None:
        """Publish a shard whose every slot is resolved: data, keypoints, then sidecar."""
        k = shard.number
        work = self.target.work
        files: dict[str, str | None] = {}
        sidecar: dict[str, Any] = {
            "format": SIDECAR_FORMAT,
            "shard": k,
            "settings": self.settings.as_dict(),
            "plan": [job.clip_id for job in shard.jobs],
            "clips": shard.slots,
            "sha256": shard_digest([s.get("crc32") for s in shard.slots]),
        }
        if self.settings.keypoints:
            kp_path = keypoints_file(work, k)
            kp_path.parent.mkdir(parents=True, exist_ok=True)
            array = self._keypoints_array(shard)
            tmp = partial_file(kp_path)
            with open(tmp, "wb") as f:
                np.save(f, array)
            os.replace(tmp, kp_path)
            sidecar["joints"] = int(array.shape[2])
            sidecar["keypoints_sha256"] = sha256_file(kp_path)
            files[f"{KEYPOINTS}/{kp_path.name}"] = None
        final = shard_file(work, k)
        os.replace(partial_file(final), final)
        files[f"{SHARDS}/{final.name}"] = None
        for name in files:  # object store: upload, record its checksum, free the disk
            files[name] = self.target.put(name, drop_local=True)["checksum"]
        sidecar["files"] = files
        write_sidecar(work, k, sidecar)
        self.target.put(f"{SHARDS}/{sidecar_file(work, k).name}")
        self.sidecars[k] = sidecar
        del self.shards[k]

    def _keypoints_array(self, shard: _Shard) -> np.ndarray:
        """(slots, T, J, 3) float32; clips without keypoints (or failed) are zero, confidence 0."""
        joints = self.joints
        if joints is None:
            shapes = [a.shape[1] for a in shard.keypoints.values()]
            joints = self.joints = shapes[0] if shapes else 0
        array = np.zeros((len(shard.jobs), self.settings.frames, joints, 3), np.float32)
        for slot, points in shard.keypoints.items():
            if shard.slots[slot].get("error") is None:
                array[slot] = points
        return array

    # ------------------------------------------------------------ a full disk
    def bytes_to_write(self) -> int:
        """About the disk space the unfinished shards still need (shard and keypoints files)."""
        s = self.settings
        slot = s.frames * s.size * s.size * 3
        if s.keypoints:
            slot += s.frames * (self.joints or 0) * 3 * 4
        return sum(NPY_HEADER + len(shard.jobs) * slot for shard in self.shards.values())

    def warn_if_short_of_space(self) -> None:
        """Say at the start when OUT's disk cannot hold the rest (an object store's staging
        holds only the shards in flight)."""
        need, free = self.bytes_to_write(), free_bytes(self.target.work)
        if not self.target.remote and free is not None and need > free:
            log.warning(
                "%s: %s free, the %d shards still to write need about %s; extraction stops "
                "when the disk is full (what is finished is kept: a rerun resumes)",
                self.target.out,
                human_bytes(free),
                len(self.shards),
                human_bytes(need),
            )

    def disk_full(self, error: OSError) -> FgsglError:
        """The one error for a full disk, after removing the files of unfinished shards (a
        rerun redoes them; their space is free now). Finished shards stay."""
        work = self.target.work
        for k, shard in self.shards.items():
            files = [shard_file(work, k), keypoints_file(work, k)]
            for final in files:
                partial_file(final).unlink(missing_ok=True)
                if not shard.retry:  # not verified: never trusted, only taking space
                    final.unlink(missing_ok=True)
        finished = len(self.plan.selected) - len(self.shards)
        return disk_full_error(
            work,
            error,
            needed=self.bytes_to_write(),
            then=f"{finished} of {len(self.plan.selected)} shards are finished and kept: free "
            "space (or choose another OUT) and rerun the same command to resume",
        )

    # ------------------------------------------------------------ tables and metadata
    def finish(self, started: float, part: Part | None) -> dict[str, Any]:
        if self.shards:  # cannot happen unless a task vanished: never write a broken index
            missing = ", ".join(shard_name(k) for k in sorted(self.shards))
            raise FgsglError(f"extraction ended with unfinished shards: {missing}; rerun")
        index, failures = build_tables(self.plan, self.sidecars, self.ds)
        work = self.target.work
        write_csv(index, work / INDEX_CSV)
        write_csv(failures, work / FAILURES_CSV)
        write_csv(self.ds.classes[["id", "name", "description"]], work / CLASSES_CSV)
        for name in (INDEX_CSV, FAILURES_CSV, CLASSES_CSV):
            self.target.put(name)
        self._remove_stale()
        planned = sum(len(self.plan.shards[k]) for k in self.plan.selected)
        counts = {
            "planned": planned,
            "extracted": len(index),
            "failed": len(failures),
            "by_split": {
                str(k): int(v) for k, v in index["split"].value_counts().sort_index().items()
            },
        }
        shards = [
            {
                "name": shard_name(k),
                "clips": len(self.plan.shards[k]),
                "extracted": sum(1 for s in self.sidecars[k]["clips"] if s.get("error") is None),
                "sha256": self.sidecars[k]["sha256"],
            }
            for k in self.plan.selected
        ]
        s = self.settings
        fields: dict[str, Any] = {
            "frames": s.frames,
            "size": s.size,
            "resize": s.resize,
            "sampler": s.sampler,
            "decoder": decoder_info(),
            "dataset": self.ds.root,
            "dataset_fingerprint": s.dataset_fingerprint,
            "num_classes": self.ds.num_classes,
            "class_names": self.ds.class_names,
            "clips_per_shard": s.clips_per_shard,
            "keep_partial": self.keep_partial,
            "plan": {"digest": self.plan.digest, "shards": len(self.plan.shards)},
            "keypoints": {"joints": self.joints, "coordinates": "output pixels"}
            if s.keypoints
            else None,
            "counts": counts,
            "shards": shards,
        }
        if part is not None:
            fields["part"] = part.as_dict()
        write_metadata(work, KIND, **fields)
        self.target.put(METADATA)
        seconds = time.perf_counter() - started
        done = self.extracted_now + self.failed
        summary = {
            "out": self.target.out,
            "planned": planned,
            "extracted": counts["extracted"],
            "failed": counts["failed"],
            "shards": len(shards),
            "skipped_shards": self.complete_at_start,
            "seconds": round(seconds, 3),
            "clips_per_s": round(done / seconds, 2) if seconds > 0 else None,
        }
        log.info(
            "extract: %d clips extracted, %d failed%s, in %.1f s (%s clips/s) -> %s",
            summary["extracted"],
            summary["failed"],
            f" (see {FAILURES_CSV})" if summary["failed"] else "",
            seconds,
            summary["clips_per_s"],
            self.target.out,
        )
        return summary

    def _remove_stale(self) -> None:
        """Shard files of another plan, and partial files of an interrupted run: shards and
        keypoints being assembled (`.partial`) and sidecars being written (`.tmp-PID`, see
        fgsgl.artifacts.write_json)."""
        keep = {shard_name(k) for k in self.plan.selected}
        pattern = re.compile(
            rf"^(?:{SHARDS}|{KEYPOINTS})/\.?(\d{{5}})\.(?:npy|json)(\.partial|\.tmp-\d+)?$"
        )
        names = set(self.target.existing())
        if self.target.remote:  # staging leftovers are removed with the staging dir
            names |= {
                p.relative_to(self.target.work).as_posix()
                for d in (SHARDS, KEYPOINTS)
                for p in (self.target.work / d).glob("*")
            }
        for name in sorted(names):
            match = pattern.match(name)
            if match and (match.group(2) or match.group(1) not in keep):
                self.target.delete(name)
