"""Benchmark: spotting in long videos against decoding them once, in one process.

Inputs (made once, cached under --data): SynthMG long videos (`fgsgl synth --long`, 128 px
H.264 as SynthMG writes it, 12 fps; --videos recordings of --gestures gestures each, idle
stretches between them) and two models trained with the demo's config (configs/cpu-tiny:
tiny-clip at 64 px, T = 8) for one stage-1 epoch on the SynthMG default preset (speed does
not depend on what the weights learnt): one on the paper's input, whose backbone sees
each frame alone, so overlapping windows share each frame's backbone features; and the
demo's own, on frame residuals (each frame minus its clip's mean), where every window
goes through the whole model.

The two measured paths, over the same videos and windows (--windows, default 24:6: a
clip-long window every 6 frames):
- decode: each video opened once and the union of every window's frame indices decoded
  and resized to S x S, in order, in chunks (fgsgl.video.decode.VideoFile.read): the floor,
  "decoding the video once at the window sampling rate";
- spot: `fgsgl.predict.spot.spot` with a Predictor on the CPU: the same decoding (each
  frame once, in a thread a few chunks ahead of the model), the model (each frame's
  backbone features once, or each window whole), decisions, segments, the CSVs, the
  timelines and the report.
Rounds alternate decode / spot after a warm-up of each; each path's time is its best round
(other processes on a shared machine only add time). The ratio last: spot / decode with
the paper-input model; target <= 1.5.

    .venv/bin/python bench/spot.py [--videos 2] [--gestures 40] [--windows 24:6]
                                   [--rounds 3] [--data build/bench-spot]
"""

from __future__ import annotations

import argparse
import logging
import shutil
import time
from pathlib import Path

TARGET = 1.5
CPU_TINY = "cpu-tiny"


def prepare(data: Path, videos: int, gestures: int) -> tuple[Path, dict[str, Path]]:
    """(long-video dataset, {name: model}) under `data`, made once."""
    from fgsgl.synth.config import LongConfig
    from fgsgl.synth.generate import SynthConfig, generate
    from fgsgl.synth.long import generate_long
    from fgsgl.text.encode import encode_texts
    from fgsgl.train import train
    from fgsgl.video.extract import extract

    clips, frames, texts = data / "synthmg", data / "frames", data / "texts"
    long = data / f"long-{videos}x{gestures}"
    if not (clips / "manifest.csv").exists():
        generate(clips, SynthConfig(), progress=False)
    if not (long / "manifest.csv").exists():
        generate_long(long, SynthConfig(), LongConfig(videos, (gestures, gestures)), progress=False)
    if not (frames / "metadata.json").exists():
        extract(str(clips), str(frames), frames=8, size=64)
    if not (texts / "metadata.json").exists():
        encode_texts(str(clips), str(texts))
    models = {}
    for name, residuals in (("paper input", False), ("frame residuals", True)):
        model = models[name] = data / f"model-{'residuals' if residuals else 'frames'}"
        if not (model / "metadata.json").exists():
            overrides = {"stage1.epochs": 1, "data.workers": 0,
                         "model.subtract_clip_mean": residuals}  # fmt: skip
            train(str(frames), str(texts), str(model), stage=1, config=CPU_TINY,
                  overrides=overrides)  # fmt: skip
    return long, models


def decode_once(paths: list[Path], spec, pre) -> tuple[float, int]:
    """Seconds to decode every window's frames once per video, and the frames decoded."""
    from fgsgl.predict.windows import DECODE_CHUNK, plan_windows
    from fgsgl.video.decode import VideoFile

    started, count = time.perf_counter(), 0
    for path in paths:
        video = VideoFile(str(path), size=pre.size, resize=pre.resize)
        length, stride = spec.in_frames(video.fps)
        windows, _ = plan_windows(video.frame_count, length, stride, pre.frames)
        needed = sorted({i for w in windows for i in w.indices})
        for k in range(0, len(needed), DECODE_CHUNK):
            video.read(needed[k : k + DECODE_CHUNK])
        count += len(needed)
    return time.perf_counter() - started, count


def spot_all(predictor, paths: list[Path], spec, out: Path) -> tuple[float, int]:
    from fgsgl.predict.spot import LongVideo, spot

    shutil.rmtree(out, ignore_errors=True)
    started = time.perf_counter()
    summary = spot(predictor, [LongVideo(p.name, str(p)) for p in paths], out, spec,
                   threshold=0.5, progress=False)  # fmt: skip
    return time.perf_counter() - started, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--videos", type=int, default=2)
    parser.add_argument("--gestures", type=int, default=40)
    parser.add_argument("--windows", default="24:6")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--data", type=Path, default=Path("build/bench-spot"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    from fgsgl.predict import Predictor
    from fgsgl.predict.windows import parse_windows
    from fgsgl.runtime.cpus import configure_torch_threads

    long, models = prepare(args.data, args.videos, args.gestures)
    configure_torch_threads()
    spec = parse_windows(args.windows)
    paths = sorted((long / "videos").glob("*.mp4"))
    from fgsgl.video.decode import VideoFile

    frames = sum(VideoFile(str(p), size=64).frame_count for p in paths)
    ratios, besides = {}, {}
    for name, model in models.items():
        predictor = Predictor.open(str(model), device="cpu", batch_size=16)
        pre = predictor.preprocessing
        shared = "each frame's features once" if predictor.frames_independent else "per window"
        print(f"{name}: {len(paths)} long videos, {frames} frames; windows {spec}; "
              f"{pre.describe()}; model {shared}")  # fmt: skip
        decode_once(paths, spec, pre)  # warm-up: file cache, decoder
        spot_all(predictor, paths, spec, args.data / "out")
        decode_times, spot_times, summaries = [], [], []
        for _ in range(args.rounds):
            seconds, decoded = decode_once(paths, spec, pre)
            decode_times.append(round(seconds, 3))
            seconds, summary = spot_all(predictor, paths, spec, args.data / "out")
            spot_times.append(round(seconds, 3))
            summaries.append(summary)
        best_decode, best_spot = min(decode_times), min(spot_times)
        best = summaries[spot_times.index(best_spot)]
        print(f"  decode once : {best_decode:7.2f} s  ({decoded} frames, "
              f"{decoded / best_decode:5.0f} frames/s)   rounds {decode_times}")  # fmt: skip
        waited, model_s = best["decode_wait_seconds"], best["model_seconds"]
        print(f"  spot        : {best_spot:7.2f} s  (decoding {best['decode_seconds']:.2f} s in "
              f"its thread, of which {waited:.2f} s not hidden by the model; model "
              f"{model_s:.2f} s; the rest {best_spot - waited - model_s:.2f} s; "
              f"{best['segments']} segments)   rounds {spot_times}")  # fmt: skip
        ratios[name] = best_spot / best_decode
        besides[name] = (best_spot - model_s) / best_decode
    for name in models:
        print(
            f"{name}: spot less the model's own seconds / decode once = {besides[name]:.2f} "
            "(what spotting adds to the model's arithmetic: each frame decoded once, in a "
            "thread beside the model)"
        )
    print(f"spot / decode once, frame residuals (per window) = {ratios['frame residuals']:.2f}")
    ratio = ratios["paper input"]
    verdict = "within" if ratio <= TARGET else "over"
    print(f"spot / decode once, paper input = {ratio:.2f} ({verdict} the target {TARGET})")


if __name__ == "__main__":
    main()
