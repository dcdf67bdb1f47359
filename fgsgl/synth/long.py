"""SynthMG long videos (`fgsgl synth OUT --long N`): continuous recordings for spotting.

Each of the N videos is one recording of one subject: idle stretches (the body at rest
with its usual sway, fidgeting, camera shake and light) before, between and after a few
gestures of SynthMG's classes. It is rendered by the clips' own code (clip.render_frames)
as one `Setting` (person, placement, scene, camera path) with the gestures placed in it
as tracks, so nothing jumps at a boundary: a gesture leaves its rest and comes back to
it, and the idle frames around it are that same rest. The manifest's clips are exactly
the gesture segments, so spotting (finding the gestures in the whole video) can be
scored against exact truth.

Layout of the written dataset directory (a valid fgsgl dataset):

    manifest.csv     one row per gesture segment: clip_id (<video id>_gNN), video, label,
                     split, subject, start_frame, end_frame (0-based, inclusive: the
                     dataset contract's convention), initiator, receiver, direction,
                     motion, [keypoints], speed, amplitude, pattern, rest, contact_start,
                     contact_end (the first/last frame the hand is on its receiver, in
                     frames of the video, like start_frame)
    classes.csv      id, name, description, as SynthMG's
    segments.csv     the ground truth for spotting, one row per segment, the manifest's
                     rows in the manifest's order: video, clip_id, split, start_frame,
                     end_frame, label, class, fps, video_frames (the video's length)
    videos/<video id>.mp4       H.264 as SynthMG's clips (video.write_mp4), <video id> =
                                vNNN_sSS (video number, subject)
    keypoints/<video id>.npy    with --keypoints: float32 (video frames, J, 3), one file
                                per video, shared by its segments' rows
    synthmg.json     SynthMG's record (joints, keypoint convention, settings) with
                     "layout": "long" and the long-video settings

A gesture segment is as long as a SynthMG clip (`frames`), or a few frames longer where a
slow gesture needs them to bring the hand home: its motion is timed exactly as in a clip
(the same phases per frame), and its last frame is at rest. Idle stretches last
`idle_frames` frames, drawn uniformly (inclusive); gestures per video likewise. Classes are
dealt from a shuffled deck, so over the dataset every class comes up about equally often.

Subjects and splits are SynthMG's: video n is performed by subject n mod `subjects`, the
same person (and the same split) as in a clip dataset made with the same seed and
--subjects, so a model trained on the clips' train split meets the long test videos'
people for the first time. Every split has videos once N >= subjects.

Determinism: the plan (counts, labels, idle lengths, each gesture's instance) comes from
one random stream walked video by video, and each video renders from its own stream, so
the same command writes the same bytes, and adding videos leaves the earlier ones as they
were.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fgsgl.errors import UsageError
from fgsgl.runtime.cpus import available_cpus
from fgsgl.synth.config import LongConfig, SynthConfig

if TYPE_CHECKING:
    import pandas as pd

    from fgsgl.synth.clip import Instance

log = logging.getLogger("fgsgl")

LAYOUT = "long"
SEGMENTS_CSV = "segments.csv"
SEGMENT_COLUMNS = (
    "video",
    "clip_id",
    "split",
    "start_frame",
    "end_frame",
    "label",
    "class",
    "fps",
    "video_frames",
)
LONG_STREAM = 2_000_003  # spawn-key tag that keeps long videos' streams apart from clips'


@dataclass(frozen=True)
class Segment:
    """One gesture of a long video: frames start..end of the video, both inclusive."""

    label: int
    start: int
    end: int
    instance: Instance

    @property
    def frames(self) -> int:
        return self.end - self.start + 1


@dataclass(frozen=True)
class VideoPlan:
    """One long video to render: everything a worker process needs."""

    number: int
    subject: int
    split: str
    rest: str  # where the hands rest all through the video
    frames: int
    segments: tuple[Segment, ...]
    config: SynthConfig
    out: str = ""

    @property
    def video_id(self) -> str:
        from fgsgl.synth.generate import subject_name

        return f"v{self.number:03d}_{subject_name(self.subject)}"


def gesture_frames(instance: Instance, clip_frames: int) -> int:
    """A gesture's length: a clip's, or more until every moving hand is home on the last
    frame (frame j shows gesture time (j + .5) / clip_frames, as in a clip)."""
    tl = instance.timeline
    lag = max(instance.lags().values())
    n = max(clip_frames, math.ceil((tl.end + lag) * clip_frames + 0.5))
    while tl.phase((n - 0.5) / clip_frames - lag)[0] != "home":
        n += 1
    return n


def _rng(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(LONG_STREAM, *key)))


def plan_long(config: SynthConfig, long: LongConfig, out: str | Path = "") -> list[VideoPlan]:
    """Every video's subject, split, rest pose and gesture segments (see the module
    docstring for how they are drawn). Raises UsageError on impossible settings."""
    from fgsgl.synth.body import REST_POINTS
    from fgsgl.synth.clip import sample_instance
    from fgsgl.synth.generate import classes_for, subject_splits

    problems = config.problems() + long.problems(config)
    if problems:
        raise UsageError("invalid synth --long settings", problems)
    splits = subject_splits(config.subjects, config.seed)
    idle_lo, idle_hi = long.idle_frames(config)
    rng = _rng(config.seed)
    deck: list[int] = []
    table = classes_for(config)
    plans = []
    for number in range(long.videos):
        count = int(rng.integers(long.gestures[0], long.gestures[1] + 1))
        rest = str(rng.choice(tuple(REST_POINTS)))
        idles = rng.integers(idle_lo, idle_hi + 1, size=count + 1).tolist()
        segments = []
        at = idles[0]
        for k in range(count):
            if not deck:
                deck = rng.permutation(config.classes).tolist()[::-1]
            label = deck.pop()
            drawn = sample_instance(table[label], _rng(config.seed, number, 1, k), config.subtlety)
            instance = dataclasses.replace(drawn, rest=rest)
            length = gesture_frames(instance, config.frames)
            segments.append(Segment(label, at, at + length - 1, instance))
            at += length + idles[k + 1]
        subject = number % config.subjects
        plans.append(
            VideoPlan(number, subject, splits[subject], rest, at, tuple(segments), config, str(out))
        )
    return plans


def render_video(plan: VideoPlan) -> list[dict[str, Any]]:
    """Render one long video, write it (and its keypoints), return its manifest rows."""
    from fgsgl.synth.body import JOINTS
    from fgsgl.synth.clip import Track, render_frames, sample_setting, subject_for
    from fgsgl.synth.generate import subject_name
    from fgsgl.synth.video import write_mp4

    cfg = plan.config
    rng = _rng(cfg.seed, plan.number, 0)
    setting = sample_setting(
        subject_for(cfg.seed, plan.subject, cfg.nuisance),
        rng,
        size=cfg.size,
        frames=plan.frames,
        rest=plan.rest,
        nuisance=cfg.nuisance,
        settle=cfg.frames,
    )
    tracks = [Track(s.instance, s.start, s.frames) for s in plan.segments]
    kps = np.empty((plan.frames, len(JOINTS), 3), np.float32)

    def images() -> Iterator[np.ndarray]:
        for i, (image, kp) in enumerate(
            render_frames(setting, tracks, plan.frames, cfg.frames, rng)
        ):
            kps[i] = kp
            yield image

    video = f"videos/{plan.video_id}.mp4"
    write_mp4(Path(plan.out) / video, images(), cfg.fps)
    keypoints = f"keypoints/{plan.video_id}.npy"
    if cfg.keypoints:
        np.save(Path(plan.out) / keypoints, kps)
    rows = []
    for k, (segment, track) in enumerate(zip(plan.segments, tracks, strict=True)):
        words = track.attributes()
        row: dict[str, Any] = {
            "clip_id": f"{plan.video_id}_g{k:02d}",
            "video": video,
            "label": segment.label,
            "split": plan.split,
            "subject": subject_name(plan.subject),
            "start_frame": segment.start,
            "end_frame": segment.end,
            **{a: words[a] for a in ("initiator", "receiver", "direction", "motion")},
        }
        if cfg.keypoints:
            row["keypoints"] = keypoints
        row.update({a: words[a] for a in ("speed", "amplitude", "pattern", "rest")})
        first, last = track.contact(cfg.frames)
        row["contact_start"], row["contact_end"] = segment.start + first, segment.start + last
        rows.append(row)
    return rows


def segments_table(
    manifest: pd.DataFrame, class_names: list[str], fps: int, video_frames: dict[str, int]
) -> pd.DataFrame:
    """segments.csv from the manifest: the same rows, in the same order."""
    table = manifest[["video", "clip_id", "split", "start_frame", "end_frame", "label"]].copy()
    table["class"] = [class_names[int(label)] for label in table["label"]]
    table["fps"] = fps
    table["video_frames"] = [video_frames[v] for v in table["video"]]
    return table[list(SEGMENT_COLUMNS)]


def long_info(config: SynthConfig, long: LongConfig) -> dict[str, Any]:
    """synthmg.json for long videos: SynthMG's record, and how the videos were cut up."""
    from fgsgl.synth.generate import info

    record = info(config)
    record["config"].pop("clips_per_class")  # clips are the videos' segments here
    record["layout"] = LAYOUT
    record["long"] = {
        "videos": long.videos,
        "gestures_per_video": list(long.gestures),
        "idle_frames": list(long.idle_frames(config)),
        "segments": SEGMENTS_CSV,
        "frames": "start_frame and end_frame are 0-based and inclusive, as in the manifest",
    }
    return record


def generate_long(
    out: str | Path,
    config: SynthConfig,
    long: LongConfig,
    *,
    workers: int | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Write a SynthMG long-video dataset at `out` (see the module docstring); returns a
    summary. `config.clips_per_class` is not used. Like `generate`, the directory appears
    only when it is complete."""
    import pandas as pd

    from fgsgl.artifacts import staged_dir, write_json
    from fgsgl.dataset import load_dataset, write_tables
    from fgsgl.dataset.tables import write_csv
    from fgsgl.synth.generate import INFO_FILE, _prepare_out, _render_all, classes_table

    if workers is not None and workers < 1:
        raise UsageError("invalid synth settings", [f"--workers must be at least 1, not {workers}"])
    plans = plan_long(config, long)
    empty = [s for s in ("train", "val", "test") if not any(p.split == s for p in plans)]
    if empty:
        log.warning(
            "synth --long: no videos in split(s) %s (video n is performed by subject n mod "
            "%d; every split has videos from --long %d on, or with fewer --subjects)",
            ", ".join(empty),
            config.subjects,
            config.subjects,
        )
    out = Path(out)
    _prepare_out(out, overwrite)
    workers = min(workers or available_cpus(), long.videos)
    started = time.monotonic()
    with staged_dir(out, overwrite=True) as tmp:
        (tmp / "videos").mkdir()
        if config.keypoints:
            (tmp / "keypoints").mkdir()
        tasks = [dataclasses.replace(p, out=str(tmp)) for p in plans]
        per_video = _render_all(tasks, workers, progress, render=render_video, unit="video")
        classes = classes_table(config)
        write_tables(tmp, pd.DataFrame([row for rows in per_video for row in rows]), classes)
        lengths = {f"videos/{p.video_id}.mp4": p.frames for p in plans}
        manifest = load_dataset(tmp).manifest
        names = classes["name"].tolist()
        write_csv(segments_table(manifest, names, config.fps, lengths), tmp / SEGMENTS_CSV)
        write_json(tmp / INFO_FILE, long_info(config, long))
    dataset = load_dataset(out)
    by_split = {
        s: {
            "videos": sum(p.split == s for p in plans),
            "segments": sum(len(p.segments) for p in plans if p.split == s),
        }
        for s in ("train", "val", "test")
    }
    frames = [p.frames for p in plans]
    return {
        "out": str(out),
        "videos": long.videos,
        "segments": len(dataset.manifest),
        "classes": config.classes,
        "subjects": config.subjects,
        "by_split": by_split,
        "video_frames": {"min": min(frames), "max": max(frames), "total": sum(frames)},
        "size": config.size,
        "fps": config.fps,
        "keypoints": config.keypoints,
        "segments_csv": str(out / SEGMENTS_CSV),
        "fingerprint": dataset.fingerprint(),
        "seconds": round(time.monotonic() - started, 2),
        "workers": workers,
    }
