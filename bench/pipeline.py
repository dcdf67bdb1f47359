"""Benchmark: what the pipeline costs over the library, and what its cache saves.

1. Overhead. The full variant on one SynthMG dataset, in one process, two ways:
   (a) the plain library calls one after the other (extract, encode_texts, train stage 1,
       train stage 2, evaluate), imports included, as a script would run them;
   (b) `fgsgl run-local` of the same variant with the same parameters, cold cache: the
       compiled pipeline under kfp.local, one subprocess per task (the two weights fetches
       included: empty for tiny-clip and minilm, so they cost their start-up only).
   Ratio b/a; target <= 1.3 on a run whose plain time (a) is at least two minutes (a
   shorter run is reported but says less: the per-task start-up is a fixed cost).
2. Cache. run-local of all five variants (a smaller setting), cold then warm (everything
   from the cache). Ratio warm/cold; target <= 0.05.

    .venv/bin/python bench/pipeline.py [--root build/bench-pipeline] [--epochs 6]
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path
from typing import Any

from fgsgl.synth import SynthConfig
from fgsgl.synth.generate import generate

OVERHEAD_TARGET, CACHE_TARGET, PLAIN_FLOOR_S = 1.3, 0.05, 120.0


def settings(epochs: int) -> dict[str, Any]:
    return {
        "num_frames": 8,
        "frame_size": 64,
        "stage1.epochs": epochs,
        "stage2.epochs": epochs,
        "optim.batch_size": 8,
        "model.proj_hidden": 64,
    }


def plain(dataset: Path, out: Path, args: dict[str, Any]) -> float:
    """The full variant as plain library calls; returns seconds (imports included)."""
    started = time.perf_counter()
    from fgsgl.evaluate.run import evaluate
    from fgsgl.runtime.parameters import training_overrides
    from fgsgl.text.encode import encode_texts
    from fgsgl.train.run import train
    from fgsgl.video.extract import extract

    overrides = training_overrides(args)
    frames, texts = str(out / "frames"), str(out / "texts")
    extract(
        str(dataset),
        frames,
        frames=args["num_frames"],
        size=args["frame_size"],
        resize=args["resize"],
        max_failure_ratio=args["max_failure_ratio"],
    )
    encode_texts(str(dataset), texts, encoder=args["text_encoder"])
    s1, s2 = str(out / "stage1"), str(out / "stage2")
    train(frames, texts, s1, stage=1, overrides=overrides)
    train(frames, texts, s2, stage=2, init=s1, overrides=overrides)
    evaluate(frames, s2, str(out / "evaluation"), split=args["eval_split"], variant="full")
    return time.perf_counter() - started


# FG-SGL's five variants (`all` also holds clip_mg, which needs a dataset with keypoints)
ABLATIONS = "full,no_fg_sa,no_cp_a,no_ml_co,class_text"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("build/bench-pipeline"))
    parser.add_argument("--epochs", type=int, default=6, help="epochs per stage in part 1")
    args = parser.parse_args()
    root = args.root.resolve()
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)

    dataset = root / "synthmg"
    generate(
        dataset, SynthConfig(clips_per_class=4, subjects=4, size=64, frames=16), progress=False
    )

    from fgsgl.pipelines.local import run_local
    from fgsgl.pipelines.plan import plan_runs, read_settings

    quiet = lambda line: None  # noqa: E731
    part1 = settings(args.epochs)
    plan = plan_runs("full", settings=read_settings(values=part1))[0]
    a = plain(dataset, root / "plain", plan.arguments)
    started = time.perf_counter()
    run_local(dataset, "full", root / "runlocal", part1, echo=quiet)
    b = time.perf_counter() - started

    part2 = settings(1)
    started = time.perf_counter()
    cold = run_local(dataset, ABLATIONS, root / "cache", part2, echo=quiet)
    c = time.perf_counter() - started
    started = time.perf_counter()
    warm = run_local(dataset, ABLATIONS, root / "cache", part2, echo=quiet)
    w = time.perf_counter() - started
    assert len(cold.executions) == 17 and not warm.executions

    print(f"dataset: {dataset} ({len(list((dataset / 'videos').iterdir()))} clips)")
    print(f"1. full variant, {args.epochs} epochs per stage")
    print(f"   (a) plain library calls, one process:   {a:8.1f} s")
    print(f"   (b) fgsgl run-local (kfp.local, cold):  {b:8.1f} s")
    if a < PLAIN_FLOOR_S:
        print(f"   note: plain time below {PLAIN_FLOOR_S:.0f} s; raise --epochs for the target")
    print("2. all five variants, 1 epoch per stage")
    print(f"   cold run-local (17 task executions):   {c:8.1f} s")
    print(f"   warm run-local (all from the cache):   {w:8.1f} s")
    print(f"overhead run-local / plain: {b / a:.3f} (target <= {OVERHEAD_TARGET})")
    print(f"cache warm / cold: {w / c:.3f} (target <= {CACHE_TARGET})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
