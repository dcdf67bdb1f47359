"""How hard is a dataset? Logistic regression on downsampled frames and frame differences.

`python -m fgsgl.synth.calibrate DATASET` decodes each clip, takes the same T frames the
pipeline's extraction takes (the middle of T equal segments), makes them grey and
averages them down to a GRID x GRID image, and fits a multinomial logistic regression
(numpy, full-batch L-BFGS, L2 penalty chosen on val) on the train split. It reports top-1
on train, val and test beside chance (1/C) for two feature sets:

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
About a minute on 2 cores for the default dataset (decoding 360 clips is most of it).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from fgsgl.errors import FgsglError

FRAMES = 8
GRID = 16
PENALTIES = (1e-4, 1e-3, 1e-2, 1e-1, 1.0)


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


def _loss_and_grad(
    theta: np.ndarray, x: np.ndarray, onehot: np.ndarray, penalty: float
) -> tuple[float, np.ndarray]:
    """Mean softmax cross-entropy + penalty * |W|^2 and its gradient; theta = [W; b]."""
    d, c = x.shape[1], onehot.shape[1]
    w, b = theta[: d * c].reshape(d, c), theta[d * c :]
    logits = x @ w + b
    logits -= logits.max(axis=1, keepdims=True)
    log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    n = len(x)
    loss = -(onehot * log_p).sum() / n + penalty * (w * w).sum()
    residual = (np.exp(log_p) - onehot) / n
    grad_w = x.T @ residual + 2 * penalty * w
    return float(loss), np.concatenate([grad_w.ravel(), residual.sum(axis=0)])


def fit_logistic(
    x: np.ndarray,
    y: np.ndarray,
    classes: int,
    penalty: float,
    init: tuple | None = None,
    *,
    iterations: int = 300,
    memory: int = 10,
) -> tuple[np.ndarray, np.ndarray]:
    """Multinomial logistic regression with an L2 penalty, fitted by L-BFGS (float64).

    numpy only: the problem is small and convex, and importing torch's optimisers costs
    more (seconds, they import torch._dynamo) than the fit. Deterministic: zero (or
    `init`) start, full batch, no sampling.
    """
    d = x.shape[1]
    onehot = np.eye(classes)[y]

    def dot(a: np.ndarray, b: np.ndarray) -> float:
        # Not BLAS: on a busy machine OpenBLAS's threads cost more than these dot products.
        return float(np.multiply(a, b).sum())

    theta = (
        np.zeros(d * classes + classes)
        if init is None
        else np.concatenate([init[0].ravel(), init[1]])
    )
    loss, grad = _loss_and_grad(theta, x, onehot, penalty)
    steps: list[tuple[np.ndarray, np.ndarray]] = []
    for _ in range(iterations):
        if np.abs(grad).max() < 1e-6:
            break
        # Two-loop recursion: the quasi-Newton direction from the last `memory` steps.
        q = grad.copy()
        alphas = []
        for s_k, y_k in reversed(steps):
            a = dot(s_k, q) / dot(y_k, s_k)
            alphas.append(a)
            q -= a * y_k
        if steps:
            s_k, y_k = steps[-1]
            q *= dot(s_k, y_k) / dot(y_k, y_k)
        for (s_k, y_k), a in zip(steps, reversed(alphas), strict=True):
            q += s_k * (a - dot(y_k, q) / dot(y_k, s_k))
        direction = -q
        slope = dot(grad, direction)
        if slope >= 0:  # not a descent direction: restart from the gradient
            steps.clear()
            direction, slope = -grad, -dot(grad, grad)
        step = 1.0 if steps else 1.0 / max(1.0, np.abs(grad).sum())
        while True:  # backtracking until the Armijo condition holds
            candidate = theta + step * direction
            new_loss, new_grad = _loss_and_grad(candidate, x, onehot, penalty)
            if new_loss <= loss + 1e-4 * step * slope or step < 1e-10:
                break
            step *= 0.5
        s_new, y_new = candidate - theta, new_grad - grad
        if dot(s_new, y_new) > 1e-12:
            steps.append((s_new, y_new))
            steps = steps[-memory:]
        converged = loss - new_loss < 1e-10 * max(1.0, abs(loss))
        theta, loss, grad = candidate, new_loss, new_grad
        if converged:
            break
    return theta[: d * classes].reshape(d, classes), theta[d * classes :]


def top1(x: np.ndarray, y: np.ndarray, model: tuple) -> float:
    w, b = model
    return float(((x @ w + b).argmax(axis=1) == y).mean()) if len(y) else float("nan")


def evaluate(features: np.ndarray, y: np.ndarray, split: np.ndarray, classes: int) -> dict:
    """Standardise on train, pick the penalty on val (strongest first, warm-started),
    report top-1 per split."""
    flat = features.reshape(len(features), -1).astype(np.float64)
    train = split == "train"
    mean, std = flat[train].mean(axis=0), flat[train].std(axis=0) + 1e-6
    flat = (flat - mean) / std
    best, model = None, None
    for penalty in sorted(PENALTIES, reverse=True):
        model = fit_logistic(flat[train], y[train], classes, penalty, init=model)
        val = top1(flat[split == "val"], y[split == "val"], model)
        if best is None or val > best[0]:
            best = (val, penalty, model)
    _, penalty, chosen = best
    return {
        "penalty": penalty,
        **{s: top1(flat[split == s], y[split == s], chosen) for s in ("train", "val", "test")},
    }


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
    diffs = np.diff(x, axis=1)
    results = {
        "absdiff": evaluate(np.abs(diffs), y, split, classes),
        "diffs": evaluate(diffs, y, split, classes),
        "frames": evaluate(x, y, split, classes),
    }
    pose = keypoint_features(ds, frames)
    if pose is not None:
        results["keypoints"] = evaluate(pose, y, split, classes)
    return {
        "dataset": str(dataset),
        "clips": {s: int((split == s).sum()) for s in ("train", "val", "test")},
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
        f"{'features':<8} {'L2':>7} {'train':>7} {'val':>7} {'test':>7}",
    ]
    for name, v in r["results"].items():
        lines.append(
            f"{name:<8} {v['penalty']:>7g} {v['train']:>7.1%} {v['val']:>7.1%} {v['test']:>7.1%}"
        )
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
