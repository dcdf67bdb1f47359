"""Benchmark: the extract step against bare decoding, in one process on the same inputs.

Sets of clips (made once, then cached under --data):
1. 40 SynthMG clips (the SynthMG renderer at 480 x 480, widened to 640 x 480 by
   mirroring the background), standalone, 3 s at 30 fps (90 frames), H.264 as SynthMG
   writes it (CRF 18, preset medium);
2. 40 two-second segments (start/end frames, 60 frames) inside four 60-second
   640 x 480 videos (each 20 SynthMG clips of one subject back to back; keyframes every
   250 frames and no scene-cut keyframes, as a camera recording has), as in iMiGUE and SMG;
3. every video in --folder DIR (whole videos), when given.

Methods, all sampling the same T frames (segment middles):
(a) bare decord: VideoReader (one thread), get_batch of the T indices at native size;
(b) PyAV from the start, one thread: decode every frame to RGB until the last needed one,
    keep the T, resize them to S x S (PIL bicubic) - the straightforward loader;
(c) `fgsgl.video.extract.extract(..., workers=1)`: the whole step (dataset, plan, decode,
    resize to S x S, shard writes, checksums, index, metadata);
(d) the same with all cores.

Per clip: the median over repeats of (pass time / clips), the repeats interleaving the
methods (a, b, c, d, a, b, ...: a slow spell of the machine hits all of them alike); also
the median single clip for
(a) and (b), and the CPU time per clip (all threads and worker processes; unlike wall time
it hardly moves when other work shares the machine). Bytes per clip: what the method holds
(a, b: in memory) or stores (c, d: the artifact on disk). The ratios come last, with the
targets for a 2-core machine: c/a <= 1.15 (set 1), b/c >= 1.5 (set 1) and >= 5 (set 2),
c/d >= 1.6; then c/a and b/c in CPU time, a check that holds on a busy machine too.

    .venv/bin/python bench/extract.py [--folder DIR] [--repeats 5] [--data build/bench-extract]
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import statistics
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from fgsgl.dataset import load_dataset, write_tables
from fgsgl.runtime.cpus import available_cpus
from fgsgl.video.extract import extract
from fgsgl.video.sampling import sample_indices

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mkv", ".mov", ".webm")
WIDTH, HEIGHT, FPS, SECONDS = 640, 480, 30, 3
LONG_SECONDS, CLIPS_PER_LONG, SEGMENT = 60, 10, 60


# ---------------------------------------------------------------- inputs


def _render(task: tuple[int, int, int]) -> np.ndarray:
    """One SynthMG clip at 480 x 480, mirrored out to 640 x 480."""
    from fgsgl.synth.classes import CLASSES
    from fgsgl.synth.clip import clip_rng, render_clip, subject_for

    label, number, subject = task
    clip = render_clip(
        CLASSES[label],
        subject_for(0, subject, 1.0),
        clip_rng(0, label, number),
        size=HEIGHT,
        frames=FPS * SECONDS,
    )
    pad = (WIDTH - HEIGHT) // 2
    return np.pad(clip.frames, ((0, 0), (0, 0), (pad, pad), (0, 0)), mode="reflect")


def _write(path: Path, frames: np.ndarray, *, continuous: bool = False) -> None:
    import av

    from fgsgl.synth.video import CRF, PRESET

    options = {"crf": str(CRF), "preset": PRESET}
    if continuous:  # a camera recording: periodic keyframes only
        options["x264-params"] = "keyint=250:scenecut=0"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=FPS, options=options)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def _classes(n: int) -> pd.DataFrame:
    return pd.DataFrame({"id": range(n), "name": [f"class{i}" for i in range(n)]})


def make_inputs(data: Path) -> tuple[Path, Path]:
    """Sets 1 and 2 as dataset directories (made once: rendering takes minutes)."""
    set1, set2 = data / "set1", data / "set2"
    if (set1 / "manifest.csv").exists() and (set2 / "manifest.csv").exists():
        return set1, set2
    print(f"making the benchmark videos in {data} (once; a few minutes) ...", flush=True)
    for d in (set1, set2):
        shutil.rmtree(d, ignore_errors=True)
        (d / "videos").mkdir(parents=True)
    tasks = [(i % 12, i, i % 4) for i in range(40)]
    with ProcessPoolExecutor(max_workers=available_cpus()) as pool:
        clips = list(pool.map(_render, tasks))
    rows = []
    for i, frames in enumerate(clips):
        _write(set1 / "videos" / f"clip{i:02d}.mp4", frames)
        rows.append({"clip_id": f"clip{i:02d}", "video": f"videos/clip{i:02d}.mp4"})
    manifest = pd.DataFrame(rows).assign(label=[t[0] for t in tasks], split="train")
    write_tables(set1, manifest, _classes(12))
    rows = []
    per_long = LONG_SECONDS // SECONDS
    for v in range(4):  # each long video: one subject's clips back to back
        own = [c for c, t in zip(clips, tasks, strict=True) if t[2] == v]
        frames = np.concatenate([own[k % len(own)] for k in range(per_long)])
        _write(set2 / "videos" / f"long{v}.mp4", frames, continuous=True)
        spacing = len(frames) // CLIPS_PER_LONG
        for j in range(CLIPS_PER_LONG):
            start = j * spacing + spacing // 4
            rows.append(
                {
                    "clip_id": f"long{v}_{j}",
                    "video": f"videos/long{v}.mp4",
                    "start_frame": start,
                    "end_frame": start + SEGMENT - 1,
                }
            )
    manifest = pd.DataFrame(rows).assign(label=0, split="train")
    manifest[["start_frame", "end_frame"]] = manifest[["start_frame", "end_frame"]].astype("Int64")
    write_tables(set2, manifest, _classes(1))
    return set1, set2


def first_clips(dataset: Path, n: int, data: Path) -> Path:
    """The first n clips of a dataset, as a dataset of their own (for a quick smoke run)."""
    ds = load_dataset(dataset)
    manifest = ds.manifest.head(n).copy()
    manifest["video"] = [ds.video_uri(v) for v in manifest["video"]]
    root = data / f"first{n}-{dataset.name}"
    shutil.rmtree(root, ignore_errors=True)
    write_tables(root, manifest, ds.classes)
    return root


def folder_dataset(folder: Path, data: Path) -> Path:
    """Set 3: every video under `folder`, whole, as a dataset (absolute paths)."""
    videos = sorted(p for p in folder.rglob("*") if p.suffix.lower() in VIDEO_EXTENSIONS)
    if not videos:
        raise SystemExit(f"{folder}: no videos ({', '.join(VIDEO_EXTENSIONS)})")
    root = data / "set3"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    manifest = pd.DataFrame(
        {
            "clip_id": [f"v{i:04d}" for i in range(len(videos))],
            "video": [str(p.resolve()) for p in videos],
            "label": 0,
            "split": "train",
        }
    )
    write_tables(root, manifest, _classes(1))
    return root


# ---------------------------------------------------------------- methods


@dataclass(frozen=True)
class Clip:
    path: str
    start: int | None
    end: int | None


def clips_of(dataset: Path) -> list[Clip]:
    ds = load_dataset(dataset)
    m = ds.manifest
    return [
        Clip(ds.video_uri(v), None if pd.isna(s) else int(s), None if pd.isna(e) else int(e))
        for v, s, e in zip(m["video"], m["start_frame"], m["end_frame"], strict=True)
    ]


def bare_decord(clip: Clip, frames: int, size: int) -> int:
    import decord

    reader = decord.VideoReader(clip.path, ctx=decord.cpu(0), num_threads=1)
    indices, _ = sample_indices(clip.start, clip.end, len(reader), frames)
    return reader.get_batch(indices).asnumpy().nbytes


def pyav_from_start(clip: Clip, frames: int, size: int) -> int:
    import av
    from PIL import Image

    with av.open(clip.path) as container:
        stream = container.streams.video[0]
        stream.thread_count = 1
        count = stream.frames  # what a simple loader trusts
        indices, _ = sample_indices(clip.start, clip.end, count, frames)
        wanted, picked = set(indices), {}
        for i, frame in enumerate(container.decode(stream)):
            rgb = frame.to_ndarray(format="rgb24")
            if i in wanted:
                picked[i] = rgb
            if i >= indices[-1]:
                break
    resized = [
        np.asarray(Image.fromarray(picked[i]).resize((size, size), Image.Resampling.BICUBIC))
        for i in indices
    ]
    return np.stack(resized).nbytes


def cpu_seconds() -> float:
    """CPU time of this process (all threads) and of its finished worker processes."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def per_clip_pass(
    method: Callable[[Clip, int, int], int], clips: list[Clip], frames: int, size: int
) -> tuple[float, float, list[float], int]:
    """(pass seconds, pass CPU seconds, per-clip seconds, bytes of the last clip)."""
    times = []
    nbytes = 0
    cpu, started = cpu_seconds(), time.perf_counter()
    for clip in clips:
        t = time.perf_counter()
        nbytes = method(clip, frames, size)
        times.append(time.perf_counter() - t)
    return time.perf_counter() - started, cpu_seconds() - cpu, times, nbytes


def ours(
    dataset: Path, out: Path, frames: int, size: int, workers: int | None
) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one extraction into a fresh `out`."""
    shutil.rmtree(out, ignore_errors=True)
    cpu, started = cpu_seconds(), time.perf_counter()
    extract(str(dataset), str(out), frames=frames, size=size, workers=workers)
    return time.perf_counter() - started, cpu_seconds() - cpu


def stored_bytes(out: Path) -> int:
    return sum(p.stat().st_size for p in out.rglob("*") if p.is_file())


# ---------------------------------------------------------------- the run


@dataclass
class Row:
    name: str
    per_clip: float  # seconds: median over repeats of pass / clips
    cpu_per_clip: float  # CPU seconds, the same way
    median_clip: float | None
    bytes_per_clip: float
    stored: bool


def bench_set(
    name: str, dataset: Path, args: argparse.Namespace, *, repeats_b: int
) -> dict[str, Row]:
    """Every method on the same clips; the repeats interleave the methods (a, b, c, d, a,
    b, ...), so that a slow spell of the machine weighs on all of them, not on one."""
    clips = clips_of(dataset)
    n = len(clips)
    out = args.data / "out"
    cores = available_cpus()
    labels = {
        "a": "(a) decord get_batch, native size",
        "b": "(b) PyAV from the start, pick T, resize",
        "c": "(c) fgsgl extract, 1 worker",
        "d": f"(d) fgsgl extract, {cores} workers (all cores)",
    }
    decoders = {"a": bare_decord, "b": pyav_from_start}
    for method in decoders.values():  # warm: imports, page cache
        method(clips[0], args.frames, args.size)
    ours(dataset, out, args.frames, args.size, 1)
    passes: dict[str, list[float]] = {k: [] for k in labels}
    cpus: dict[str, list[float]] = {k: [] for k in labels}
    singles: dict[str, list[float]] = {k: [] for k in decoders}
    nbytes: dict[str, float] = {}
    for repeat in range(args.repeats):
        for key, method in decoders.items():
            if key == "b" and repeat >= repeats_b:
                continue
            total, cpu, times, nbytes[key] = per_clip_pass(method, clips, args.frames, args.size)
            passes[key].append(total / n)
            cpus[key].append(cpu / n)
            singles[key] += times
        for key, workers in (("c", 1), ("d", None)):
            wall, cpu = ours(dataset, out, args.frames, args.size, workers)
            passes[key].append(wall / n)
            cpus[key].append(cpu / n)
            nbytes[key] = stored_bytes(out) / n
    rows = {
        key: Row(
            label,
            statistics.median(passes[key]),
            statistics.median(cpus[key]),
            statistics.median(singles[key]) if key in singles else None,
            nbytes[key],
            key in ("c", "d"),
        )
        for key, label in labels.items()
    }
    shutil.rmtree(out, ignore_errors=True)
    print(f"\n{name}: {n} clips, T={args.frames}, S={args.size}")
    header = f"{'per clip':>10s} {'median clip':>12s} {'CPU/clip':>10s} {'bytes/clip':>18s}"
    print(f"  {'method':46s} {header}")
    for row in rows.values():
        median = f"{row.median_clip * 1e3:9.1f} ms" if row.median_clip is not None else ""
        where = "stored" if row.stored else "in memory"
        size = f"{row.bytes_per_clip / 1e6:.2f} MB {where}"
        print(
            f"  {row.name:46s} {row.per_clip * 1e3:7.1f} ms {median:>12s} "
            f"{row.cpu_per_clip * 1e3:7.1f} ms {size:>18s}"
        )
    return rows


def check(value: float, op: str, target: float) -> str:
    ok = value <= target if op == "<=" else value >= target
    return f"{value:5.2f} (target {op} {target:g}) {'ok' if ok else 'MISSED'}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, help="set 3: every video in this folder")
    parser.add_argument("--data", type=Path, default=Path("build/bench-extract"))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--size", type=int, default=448)
    parser.add_argument("--limit", type=int, help="only the first N clips of each set (smoke run)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    args.data.mkdir(parents=True, exist_ok=True)
    set1, set2 = make_inputs(args.data)
    if args.limit:
        set1, set2 = (first_clips(d, args.limit, args.data) for d in (set1, set2))
    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(f"machine: {available_cpus()} cores; uptime: {load}")
    results = {
        1: bench_set(
            "set 1 (standalone SynthMG clips, 640x480, 3 s)", set1, args, repeats_b=args.repeats
        ),
        2: bench_set("set 2 (2-s segments in 60-s videos, 640x480)", set2, args, repeats_b=1),
    }
    if args.folder:
        results[3] = bench_set(
            f"set 3 ({args.folder})", folder_dataset(args.folder, args.data), args, repeats_b=1
        )
    print("\nratios (targets for a 2-core machine):")
    for number, rows in results.items():
        a, b, c, d = (rows[k].per_clip for k in "abcd")
        parts = [f"c/a = {check(c / a, '<=', 1.15) if number == 1 else f'{c / a:5.2f}'}"]
        if number in (1, 2):
            parts.append(f"b/c = {check(b / c, '>=', 1.5 if number == 1 else 5.0)}")
        else:
            parts.append(f"b/c = {b / c:5.2f}")
        parts.append(f"c/d = {check(c / d, '>=', 1.6)}")
        print(f"  set {number}: " + "; ".join(parts))
        cpu_a, cpu_b, cpu_c = (rows[k].cpu_per_clip for k in "abc")
        print(f"  set {number}, CPU time: c/a = {cpu_c / cpu_a:5.2f}; b/c = {cpu_b / cpu_c:5.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
