"""Benchmark: the pose step's keypoints against the skeleton SynthMG drew (its baseline).

SynthMG draws a seated cartoon person from a skeleton and writes that skeleton as its
keypoints (`--keypoints`, joints fgsgl.synth.body.JOINTS). `fgsgl pose` (MediaPipe
Holistic, fgsgl.pose) estimates keypoints from the pixels alone; this script scores them:

- PCK per joint: the share of the drawn joints (where SynthMG says visible) whose estimate
  lies within a threshold of it; a frame where no person was found counts as a miss.
  Threshold: ALPHA x the drawn head's width (ear to ear, per frame), reported at 0.5 (the
  main number, PCKh-like) and 0.25. Joints compared, SynthMG -> MediaPipe: nose, eyes,
  ears, mouth (mouth_left/right's midpoint), shoulders, elbows, wrists; palm (SynthMG's
  `hand`, the palm's centre) -> the Body's palm (fgsgl.attributes.skeleton: half way from
  the wrist to the knuckles, from the tracked hand, else the body's coarse hand);
  fingertips -> the four fingers' tips' mean (only where Holistic tracked the hand).
  Overall: all compared joints but the fingertips, pooled.
- found: the share of frames where a person was found at all; hand tracked: the share of
  frames where a hand's 21 landmarks came back, per side.
- speed: milliseconds of the whole step per frame (decode, estimate, write).
- FG-Text attributes: fgsgl.attributes.derive on the estimated keypoints against SynthMG's
  truth, beside the same derivation on the drawn skeleton (the baseline) on the same clips;
  the ratio estimated / drawn per attribute is printed last.

Each size is a SynthMG dataset of the default preset (subtlety, nuisance 1) with
--classes x --clips-per-class clips of 24 frames, made once under --data.

    .venv/bin/python bench/pose.py [--sizes 128,256] [--clips-per-class 2] [--data build/bench-pose]

Needs the pose runtime (`make pose-venv`); without one it says so and exits 0.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from fgsgl.attributes.derive import derive
from fgsgl.attributes.skeleton import find_layout, read_body
from fgsgl.attributes.truth import synthmg_truth
from fgsgl.dataset import load_dataset
from fgsgl.pose import JOINTS, estimate_pose
from fgsgl.synth.body import JOINTS as DRAWN
from fgsgl.text.templates import ATTRIBUTES

ALPHAS = (0.5, 0.25)
# SynthMG joint -> how to read the estimate from the MediaPipe keypoints (joint names;
# two names: their midpoint) or the Body (fgsgl.attributes.skeleton) point
PAIRS = {
    "nose": ("nose",),
    "left_eye": ("left_eye",),
    "right_eye": ("right_eye",),
    "left_ear": ("left_ear",),
    "right_ear": ("right_ear",),
    "mouth": ("mouth_left", "mouth_right"),
    "left_shoulder": ("left_shoulder",),
    "right_shoulder": ("right_shoulder",),
    "left_elbow": ("left_elbow",),
    "right_elbow": ("right_elbow",),
    "left_wrist": ("left_wrist",),
    "right_wrist": ("right_wrist",),
    "left_hand": "palm_left",
    "right_hand": "palm_right",
    "left_fingertips": "fingertips_left",
    "right_fingertips": "fingertips_right",
}
NOT_OVERALL = ("left_fingertips", "right_fingertips")


def make_data(root: Path, size: int, classes: int, clips: int) -> Path:
    from fgsgl.synth.config import PRESETS
    from fgsgl.synth.generate import generate

    out = root / f"synthmg-{size}px-{classes}x{clips}"
    if not (out / "manifest.csv").exists():
        config = replace(
            PRESETS["default"], size=size, classes=classes, clips_per_class=clips, keypoints=True
        )
        generate(out, config, overwrite=True, progress=False)
    return out


def estimated_points(keypoints: np.ndarray) -> dict[str, np.ndarray]:
    """SynthMG joint name -> (F, 2) estimate, NaN where not found."""
    body = read_body(keypoints, find_layout(JOINTS))
    xy = keypoints[..., :2].astype(np.float64)
    xy[keypoints[..., 2] <= 0] = np.nan
    index = {name: i for i, name in enumerate(JOINTS)}
    out = {}
    for drawn, how in PAIRS.items():
        if isinstance(how, str):
            out[drawn] = body.get(how)
        else:
            out[drawn] = np.mean([xy[:, index[n]] for n in how], axis=0)
    return out


def score(dataset: Path, estimated: Path) -> dict[str, object]:
    truth_ds, est_ds = load_dataset(dataset), load_dataset(estimated)
    drawn_index = {name: i for i, name in enumerate(DRAWN)}
    hits = {a: {j: [0, 0] for j in PAIRS} for a in ALPHAS}
    frames = found = 0
    hands = {"left": 0, "right": 0}
    pairs = zip(truth_ds.manifest["keypoints"], est_ds.manifest["keypoints"], strict=True)
    for t_rel, e_rel in pairs:
        truth = np.load(truth_ds.keypoints_uri(t_rel))
        est = np.load(est_ds.keypoints_uri(e_rel))
        n = min(len(truth), len(est))
        truth, est = truth[:n], est[:n]
        frames += n
        person = (est[:, :33, 2] > 0).any(axis=1)
        found += int(person.sum())
        for k, side in enumerate(("left", "right")):
            hand = est[:, 33 + 21 * k : 54 + 21 * k, 2]
            hands[side] += int((hand > 0).any(axis=1).sum())
        points = estimated_points(est)
        ears = truth[:, [drawn_index["left_ear"], drawn_index["right_ear"]], :2]
        width = np.linalg.norm(ears[:, 0] - ears[:, 1], axis=1)
        for drawn in PAIRS:
            t = truth[:, drawn_index[drawn]]
            visible = t[:, 2] > 0
            error = np.linalg.norm(points[drawn] - t[:, :2], axis=1)  # NaN: not found
            for a in ALPHAS:
                ok = visible & (np.nan_to_num(error, nan=np.inf) <= a * width)
                hits[a][drawn][0] += int(ok.sum())
                hits[a][drawn][1] += int(visible.sum())
    return {"hits": hits, "frames": frames, "found": found, "hands": hands}


def attribute_accuracy(dataset: Path, estimated: Path) -> dict[str, tuple[float, float]]:
    """Attribute -> (accuracy from the drawn skeleton, from the estimated keypoints)."""
    truth_ds, est_ds = load_dataset(dataset), load_dataset(estimated)
    fps = float(json.loads((dataset / "synthmg.json").read_text())["config"]["fps"])
    truth = synthmg_truth(truth_ds.manifest).set_index("clip_id")
    layouts = (find_layout(DRAWN), find_layout(JOINTS))
    hits: dict[str, list[list[bool]]] = {a: [[], []] for a in ATTRIBUTES}
    for clip_id, t_rel, e_rel in zip(
        truth_ds.manifest["clip_id"],
        truth_ds.manifest["keypoints"],
        est_ds.manifest["keypoints"],
        strict=True,
    ):
        files = (truth_ds.keypoints_uri(t_rel), est_ds.keypoints_uri(e_rel))
        for k, (path, layout) in enumerate(zip(files, layouts, strict=True)):
            derived = derive(read_body(np.load(path), layout), fps=fps)
            for a in ATTRIBUTES:
                hits[a][k].append(derived.values[a] == truth.loc[clip_id, a])
    return {a: (float(np.mean(h[0])), float(np.mean(h[1]))) for a, h in hits.items()}


def pck(counts: list[int]) -> float:
    return counts[0] / counts[1] if counts[1] else float("nan")


def overall(hits: dict[str, list[int]]) -> float:
    pooled = [sum(hits[j][i] for j in PAIRS if j not in NOT_OVERALL) for i in (0, 1)]
    return pck(pooled)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--sizes", default="128,256", help="SynthMG frame sizes, comma-separated")
    p.add_argument("--classes", type=int, default=12)
    p.add_argument("--clips-per-class", type=int, default=2)
    p.add_argument("--model", default="holistic", choices=("holistic", "pose"))
    p.add_argument("--pose-python", default=None)
    p.add_argument("--data", type=Path, default=Path("build/bench-pose"))
    args = p.parse_args()

    from fgsgl.pose.runtime import PoseRuntimeError, find_pose_python

    try:
        find_pose_python(args.pose_python)
    except PoseRuntimeError as e:
        print(f"bench/pose.py: skipped: {e}")
        return 0
    sizes = [int(s) for s in args.sizes.split(",")]
    results = {}
    for size in sizes:
        data = make_data(args.data, size, args.classes, args.clips_per_class)
        out = args.data / f"pose-{args.model}-{data.name}"
        t0 = time.perf_counter()
        summary = estimate_pose(
            str(data), str(out), model=args.model, python=args.pose_python, progress=False
        )
        seconds = time.perf_counter() - t0
        if summary["resumed"]:
            seconds = float("nan")  # an earlier run's files: no timing
        results[size] = (score(data, out), summary, seconds, attribute_accuracy(data, out))

    clips = args.classes * args.clips_per_class
    print(
        f"\npose ({args.model}) vs SynthMG's drawn skeleton: {clips} clips x 24 frames per "
        f"size; PCK threshold = alpha x the drawn head's ear-to-ear width"
    )
    cols = [f"{s}px a={a}" for s in sizes for a in ALPHAS]
    print(f"{'joint':18s}" + "".join(f"{c:>15s}" for c in cols))
    for j in PAIRS:
        row = [pck(results[s][0]["hits"][a][j]) for s in sizes for a in ALPHAS]
        print(f"{j:18s}" + "".join(f"{v:15.3f}" for v in row))
    row = [overall(results[s][0]["hits"][a]) for s in sizes for a in ALPHAS]
    print(f"{'overall':18s}" + "".join(f"{v:15.3f}" for v in row) + "   (fingertips left out)")
    print()
    for s in sizes:
        r, summary, seconds, _ = results[s]
        ms = 1000 * seconds / max(summary["estimated"], 1)
        print(
            f"{s}px: person found in {r['found'] / r['frames']:.1%} of {r['frames']} frames; "
            f"hand tracked: left {r['hands']['left'] / r['frames']:.1%}, right "
            f"{r['hands']['right'] / r['frames']:.1%}; {ms:.0f} ms per frame (whole step)"
        )
    main_size = sizes[0]
    attributes = results[main_size][3]
    print(f"\nFG-Text attributes derived at {main_size}px (fgsgl.attributes.derive), accuracy:")
    print(f"{'attribute':12s}{'drawn skeleton':>16s}{'estimated':>12s}")
    for a, (drawn, est) in attributes.items():
        print(f"{a:12s}{drawn:16.1%}{est:12.1%}")
    print(
        "PCK@0.5 overall: "
        + ", ".join(f"{s}px {overall(results[s][0]['hits'][0.5]):.3f}" for s in sizes)
        + f" (baseline: the drawn skeleton = 1.000; {main_size}px is the default SynthMG)"
    )
    print(
        "attributes, ratio estimated / drawn skeleton: "
        + ", ".join(f"{a} {est / max(drawn, 1e-9):.2f}" for a, (drawn, est) in attributes.items())
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
