"""How hard is a dataset? Logistic regression on downsampled frames and frame differences.

`python -m fgsgl.synth.calibrate DATASET` decodes each clip, takes the same T frames the
pipeline's extraction takes (the middle of T equal segments), makes them grey and
averages them down to a GRID x GRID image, and fits a multinomial logistic regression
(fgsgl.logistic: numpy, full-batch L-BFGS, L2 penalty chosen on val) on the train split.
It reports top-1 on train, val and test beside chance (1/C) for two feature sets:

- absdiff:   the absolute differences between consecutive sampled frames (where
             something moved; the headline "frame differences" baseline);
- diffs:     the same differences, signed (which way it moved);
- frames:    the T sampled frames themselves (appearance and position);
- keypoints: when the dataset has them (--keypoints), the drawn skeleton's joints
             relative to the neck: a pose probe that shows how much the classes are
             separable at all once appearance and nuisance are gone.

SynthMG's defaults are tuned so that these sit well above chance and well below 100%: a
linear model sees where a hand goes only coarsely and cannot tell the paired classes
apart, while the clip-level nuisance (position, scale, background, light) moves pixels
more than the gesture does. Measured on the default dataset (seed 0), val / test top-1,
chance 8.3%: |diffs| 47.2 / 44.4, diffs 23.6 / 19.4, frames 18.1 / 19.4, keypoints
75.0 / 68.1; how the difficulty knobs move these is tabled in fgsgl/synth/generate.py.
On the compositional preset (16 classes, chance 6.2%): |diffs| 52.5 / 18.0, diffs
41.6 / 10.3, frames 25.0 / 13.5, keypoints 37.7 / 35.5. Where a dataset has them, test
top-1 is also reported on the clips whose shortcut cue agrees / disagrees with their
class (manifest `shortcut_agrees`: |diffs| 51.6 / 15.8 there) and on the low-shot
classes (classes.csv `low_shot`), see fgsgl/synth/compositional.py.
About a minute on 2 cores for the default dataset (decoding 360 clips is most of it).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from fgsgl.errors import FgsglError
from fgsgl.logistic import accuracy, select_penalty, standardise

FRAMES = 8
GRID = 16


def clip_features(path: str, frames: int, grid: int) -> np.ndarray:
    """(T, grid, grid) float32 grey frames in [0, 1], the pipeline's T sampled frames."""
    from PIL import Image

    from fgsgl.synth.video import read_mp4
    from fgsgl.video.sampling import segment_middles

    video, _ = read_mp4(path)
    idx = segment_middles(0, len(video) - 1, frames)
    out = np.empty((frames, grid, grid), np.float32)
    for k, i in enumerate(idx):
        grey = Image.fromarray(video[i]).convert("L").resize((grid, grid), Image.BOX)
        out[k] = np.asarray(grey, np.float32) / 255.0
    return out


def load_features(dataset: str | Path, frames: int, grid: int, progress: bool = True):
    from fgsgl.dataset import load_dataset
    from fgsgl.progress import track

    ds = load_dataset(dataset)
    m = ds.manifest
    if (m["start_frame"].notna()).any():
        raise FgsglError(f"{dataset}: clips inside longer videos are not supported here")
    x = np.stack(
        [
            clip_features(ds.video_uri(v), frames, grid)
            for v in track(m["video"], desc="decode", unit="clip", disable=not progress)
        ]
    )
    return ds, x, m["label"].to_numpy(), m["split"].to_numpy()


def evaluate(
    features: np.ndarray,
    y: np.ndarray,
    split: np.ndarray,
    classes: int,
    groups: dict[str, np.ndarray] | None = None,
) -> dict:
    """Standardise on train, pick the penalty on val (fgsgl.logistic.select_penalty),
    report top-1 per split, and on each of `groups` (name -> boolean row mask)."""
    flat = features.reshape(len(features), -1)
    train = split == "train"
    _, flat = standardise(flat[train], flat)
    val = split == "val"
    penalty, chosen, _ = select_penalty(flat[train], y[train], flat[val], y[val], classes)
    return {
        "penalty": penalty,
        **{s: accuracy(flat[split == s], y[split == s], chosen) for s in ("train", "val", "test")},
        **{g: accuracy(flat[mask], y[mask], chosen) for g, mask in (groups or {}).items()},
    }


def analysis_groups(ds, split: np.ndarray) -> dict[str, np.ndarray]:
    """The test subsets SynthMG's compositional layout asks about (none for other
    datasets): clips whose shortcut cue agrees / disagrees with their class (manifest
    `shortcut_agrees`), and the clips of the low-shot classes (classes.csv `low_shot`)."""
    from fgsgl.synth.compositional import low_shot_from_table

    m, test = ds.manifest, split == "test"
    groups = {}
    if "shortcut_agrees" in m:
        agrees = m["shortcut_agrees"].astype(str).to_numpy() == "1"
        groups["test_agrees"] = test & agrees
        groups["test_disagrees"] = test & ~agrees
    low = low_shot_from_table(ds.classes, f"{ds.root}/classes.csv")
    if low:
        groups["test_low_shot"] = test & np.isin(m["label"].to_numpy(), low)
    return groups


def keypoint_features(ds, frames: int) -> np.ndarray | None:
    """(N, T, J*3) pose features when every clip has keypoints: joints relative to the
    neck in shoulder widths, and visibility; None otherwise."""
    from fgsgl.synth.body import JOINTS
    from fgsgl.video.sampling import segment_middles

    paths = ds.manifest["keypoints"]
    if paths.isna().any():
        return None
    neck = JOINTS.index("neck")
    ls, rs = JOINTS.index("left_shoulder"), JOINTS.index("right_shoulder")
    out = []
    for p in paths:
        kp = np.load(ds.keypoints_uri(p))
        kp = kp[segment_middles(0, len(kp) - 1, frames)]
        width = np.linalg.norm(kp[:, ls, :2] - kp[:, rs, :2], axis=1)[:, None, None]
        xy = (kp[:, :, :2] - kp[:, neck : neck + 1, :2]) / np.maximum(width, 1e-6)
        out.append(np.concatenate([xy, kp[:, :, 2:]], axis=2).reshape(frames, -1))
    return np.stack(out).astype(np.float32)


def calibrate(
    dataset: str | Path, *, frames: int = FRAMES, grid: int = GRID, progress: bool = True
) -> dict:
    started = time.monotonic()
    ds, x, y, split = load_features(dataset, frames, grid, progress)
    missing = [s for s in ("train", "val", "test") if not (split == s).any()]
    if missing:
        raise FgsglError(f"{dataset}: no clips in split(s) {', '.join(missing)}")
    classes = ds.num_classes
    groups = analysis_groups(ds, split)
    diffs = np.diff(x, axis=1)
    results = {
        "absdiff": evaluate(np.abs(diffs), y, split, classes, groups),
        "diffs": evaluate(diffs, y, split, classes, groups),
        "frames": evaluate(x, y, split, classes, groups),
    }
    pose = keypoint_features(ds, frames)
    if pose is not None:
        results["keypoints"] = evaluate(pose, y, split, classes, groups)
    return {
        "dataset": str(dataset),
        "clips": {s: int((split == s).sum()) for s in ("train", "val", "test")},
        "groups": {g: int(mask.sum()) for g, mask in groups.items()},
        "classes": classes,
        "chance": 1.0 / classes,
        "frames": frames,
        "grid": grid,
        "results": results,
        "seconds": round(time.monotonic() - started, 1),
    }


def format_report(r: dict) -> str:
    lines = [
        f"{r['dataset']}: {r['classes']} classes, clips train/val/test = "
        f"{r['clips']['train']}/{r['clips']['val']}/{r['clips']['test']}, "
        f"{r['frames']} frames at {r['grid']}x{r['grid']} grey",
        f"chance top-1: {r['chance']:.1%}",
    ]
    groups = list(r.get("groups", {}))
    if groups:
        sizes = ", ".join(f"{g} {n}" for g, n in r["groups"].items())
        lines.append(f"test subsets (clips): {sizes}")
    columns = ("train", "val", "test", *groups)
    lines.append(f"{'features':<8} {'L2':>7} " + " ".join(f"{c:>7}" for c in columns))
    for name, v in r["results"].items():
        cells = " ".join(f"{v[c]:>{max(7, len(c))}.1%}" for c in columns)
        lines.append(f"{name:<8} {v['penalty']:>7g} {cells}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m fgsgl.synth.calibrate",
        description="Logistic-regression baselines on a dataset: top-1 on val/test vs chance.",
    )
    parser.add_argument("dataset", help="dataset directory (e.g. written by `fgsgl synth`)")
    parser.add_argument("--frames", type=int, default=FRAMES, help="frames per clip (8)")
    parser.add_argument("--grid", type=int, default=GRID, help="downsampled side (16)")
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    try:
        result = calibrate(args.dataset, frames=args.frames, grid=args.grid)
    except FgsglError as e:
        print(f"calibrate: error: {e}", file=sys.stderr)
        return e.exit_code
    print(format_report(result))
    if args.json:
        from fgsgl.artifacts import write_json

        write_json(args.json, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
