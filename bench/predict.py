"""Benchmark: `fgsgl predict` on raw videos against `fgsgl evaluate` on the frames artifact
of the same clips, in one process, with the same model.

Inputs (made once, cached under --data): SynthMG at its default preset (12 classes x 30
clips, 128 px H.264 mp4), extracted as the demo does (8 frames at 64 px), its texts (the
packaged MiniLM), and a model trained with the demo's config (configs/cpu-tiny: tiny-clip
at 64 px, frame residuals) for one stage-1 epoch: throughput does not depend on what the
weights learnt.

The two measured paths, on the clips of one split (default train: 216 clips):
- evaluate: `fgsgl.evaluate.run.evaluate(FRAMES, MODEL, ...)`. Decoding EXCLUDED: the
  clips were decoded once by `fgsgl extract`; it memory-maps them, transforms them in its
  loader workers and runs the model.
- predict: `fgsgl.predict.predict(MODEL, [DATASET], ..., split=...)`. Decoding INCLUDED:
  every clip's video is opened, its 8 frames decoded by decord and resized (extraction's
  code) in loader workers, while the main process runs the model.
Both with their default workers (up to 4, one less than the CPUs) and batch sizes (evaluate
32, predict 8), on the CPU. Rounds alternate evaluate / predict after a warm-up of each;
each path's time is its best round (other processes on a shared machine only add time).

Also measured: decoding alone (the same clips through extraction's read_clip, one process,
one thread): the floor under predict's loop that evaluate does not pay. On a 2-core machine
with the demo's tiny model the decoding costs more than the forward pass, so predict is
bound by the cores both share; a heavier model (--backbone, --size) moves the ratio to 1.

Reported: the prediction loop's throughput (clips / seconds from the first clip handed to
the loader to the last score: metrics.json `predict_seconds` for evaluate, the summary's
`predict_seconds` for predict), and each whole call (loading the model, checks, writing the
outputs: evaluate's report with its charts, predict's CSVs and summary). The ratio last:
evaluate's throughput / predict's, i.e. how much slower predicting from raw videos is;
target <= 1.2.

    .venv/bin/python bench/predict.py [--split train] [--rounds 3] [--data build/bench-predict]
                                      [--size 64] [--backbone tiny-clip:image=64,patch=8,width=64]
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import time
from pathlib import Path

TARGET = 1.2
CPU_TINY = "cpu-tiny"  # configs/cpu-tiny.yaml: the demo's settings


def prepare(data: Path, size: int, backbone: str | None) -> tuple[Path, Path, Path]:
    """(dataset, frames, model) under `data`, made once per frame size and backbone."""
    from fgsgl.synth.generate import SynthConfig, generate
    from fgsgl.text.encode import encode_texts
    from fgsgl.train import train
    from fgsgl.video.extract import extract

    slug = "".join(c if c.isalnum() else "-" for c in backbone or CPU_TINY)
    dataset, frames, texts = data / "synthmg", data / f"frames-{size}", data / "texts"
    model = data / f"model-{slug}-{size}"
    if not (dataset / "manifest.csv").exists():
        generate(dataset, SynthConfig(), workers=None, progress=False)
    if not (frames / "metadata.json").exists():
        extract(str(dataset), str(frames), frames=8, size=size)
    if not (texts / "metadata.json").exists():
        encode_texts(str(dataset), str(texts))
    if not (model / "metadata.json").exists():
        overrides = {"stage1.epochs": 1, "data.workers": 0}
        if backbone:
            overrides["model.backbone"] = backbone
        train(str(frames), str(texts), str(model), stage=1, config=CPU_TINY, overrides=overrides)
    return dataset, frames, model


def decode_only(dataset: Path, model: Path, split: str) -> float:
    """Seconds to read the split's clips as predict does (open, sample, decode, resize),
    one process, one thread: what predict pays and evaluate does not."""
    import torch

    from fgsgl.dataset import load_dataset
    from fgsgl.predict.predictor import Predictor, open_video, read_clip

    pre = Predictor.open(str(model), device="cpu").preprocessing
    ds = load_dataset(dataset)
    videos = [ds.video_uri(v) for v in ds.manifest[ds.manifest["split"] == split]["video"]]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    start = time.perf_counter()
    for path in videos:
        read_clip(open_video(path, pre), None, None, pre)
    seconds = time.perf_counter() - start
    torch.set_num_threads(threads)
    return seconds


def run_evaluate(frames: Path, model: Path, out: Path, split: str) -> tuple[float, float, int]:
    from fgsgl.evaluate.run import evaluate

    start = time.perf_counter()
    summary = evaluate(str(frames), str(model), str(out), split=split, device="cpu")
    seconds = time.perf_counter() - start
    metrics = json.loads((out / "metrics.json").read_text())
    return seconds, float(metrics["predict_seconds"]), int(summary["clips"])


def run_predict(dataset: Path, model: Path, out: Path, split: str) -> tuple[float, float, int]:
    from fgsgl.predict import predict

    start = time.perf_counter()
    summary = predict(str(model), [str(dataset)], str(out), split=split, device="cpu")
    seconds = time.perf_counter() - start
    return seconds, float(summary["predict_seconds"]), int(summary["predicted"])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--split", default="train", help="the clips both paths run on")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--data", type=Path, default=Path("build/bench-predict"))
    p.add_argument("--size", type=int, default=64, help="frame size S (the demo's: 64)")
    p.add_argument("--backbone", help="instead of cpu-tiny's tiny-clip:image=64,...")
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    from fgsgl.runtime.cpus import available_cpus

    dataset, frames, model = prepare(args.data, args.size, args.backbone)
    out = args.data / "out"
    shutil.rmtree(out, ignore_errors=True)
    run_evaluate(frames, model, out / "evaluate", args.split)  # warm-up: imports, caches
    run_predict(dataset, model, out / "predict", args.split)
    ev, pr = [], []
    for _ in range(args.rounds):
        ev.append(run_evaluate(frames, model, out / "evaluate", args.split))
        pr.append(run_predict(dataset, model, out / "predict", args.split))
    clips = ev[0][2]
    assert all(r[2] == clips for r in ev + pr), "both paths must see the same clips"
    ev_loop, pr_loop = min(r[1] for r in ev), min(r[1] for r in pr)
    ev_all, pr_all = min(r[0] for r in ev), min(r[0] for r in pr)
    decode = min(decode_only(dataset, model, args.split) for _ in range(2))

    print(f"{clips} clips of split {args.split!r} ({dataset}), 8 frames at {args.size} px, "
          f"model {CPU_TINY} ({args.backbone or 'its tiny-clip'}), CPU: {available_cpus()} "
          f"cores")  # fmt: skip
    print("evaluate: frames artifact, decoding EXCLUDED (done once by `fgsgl extract`)")
    print("predict:  raw mp4 videos, decoding INCLUDED (decord + resize in loader workers)")
    print(f"{'seconds (best)':<34}{'loop':>8}{'call':>8}   rounds: loop / call")
    for name, rows, loop, call in (("evaluate (frames)", ev, ev_loop, ev_all),
                                   ("predict (videos)", pr, pr_loop, pr_all)):  # fmt: skip
        shown = "  ".join(f"{r[1]:.2f}/{r[0]:.2f}" for r in rows)
        print(f"{name:<34}{loop:>8.2f}{call:>8.2f}   {shown}")
    print(f"decoding alone (1 process, 1 thread): {decode:.2f} s, {1000 * decode / clips:.1f} "
          f"ms a clip")  # fmt: skip
    print(f"throughput: evaluate {clips / ev_loop:.1f} clips/s, predict {clips / pr_loop:.1f} "
          f"clips/s; whole calls predict/evaluate {pr_all / ev_all:.3f}")  # fmt: skip
    print(f"evaluate/predict throughput: {pr_loop / ev_loop:.3f} (target <= {TARGET})")


if __name__ == "__main__":
    main()
