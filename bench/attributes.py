"""Benchmark: FG-Text attributes derived from skeletons, against SynthMG's truth.

SynthMG's generator knows every clip's initiator, receiver, direction and motion
(fgsgl.attributes.truth puts them in the vocabulary's terms). Per setting, in one process
on the same clips:
  (a) the baseline: each class's most common true value on the training split, given to
      every clip of the class (the best a class-level table can do: no instance detail);
  (b) ours: fgsgl.attributes.derive on each clip's keypoints.
Per attribute the accuracy of both, our most common confusions, and the ratio ours /
baseline last. Settings: SynthMG default (the targets: initiator >= 95 %, receiver >= 85 %,
direction >= 80 %, motion >= 70 %); a harder one (--subtlety 3 --nuisance 2) whose
keypoints also get what real pose estimators give: Gaussian jitter and dropped joints.

    .venv/bin/python bench/attributes.py [--root build/bench-attributes] [--seed 1]
"""

from __future__ import annotations

import argparse
import json
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from fgsgl.attributes.derive import derive
from fgsgl.attributes.skeleton import find_layout, read_body
from fgsgl.attributes.truth import synthmg_truth
from fgsgl.synth import SynthConfig
from fgsgl.synth.generate import generate
from fgsgl.text.templates import ATTRIBUTES

TARGETS = {"initiator": 0.95, "receiver": 0.85, "direction": 0.80, "motion": 0.70}
JITTER_R = 0.1  # pose-estimator noise: head radii, per joint and frame
DROPOUT = 0.05  # share of joints a pose estimator misses


def noisy(k: np.ndarray, r: float, rng: np.random.Generator) -> np.ndarray:
    """Keypoints as a pose estimator might give them: jittered, some joints lost."""
    k = k.copy()
    k[..., :2] += rng.normal(0.0, JITTER_R * r, size=k[..., :2].shape)
    k[..., 2] *= rng.random(k.shape[:2]) >= DROPOUT
    return k


def score(root: Path, noise: bool, seed: int) -> dict[str, dict[str, object]]:
    manifest = pd.read_csv(root / "manifest.csv")
    meta = json.loads((root / "synthmg.json").read_text())
    layout = find_layout(meta["keypoints"]["joints"])
    assert layout is not None
    truth = synthmg_truth(manifest).set_index("clip_id")
    train = truth[manifest.set_index("clip_id")["split"] == "train"]
    labels = manifest.set_index("clip_id")["label"]
    majority = {
        a: train.groupby(labels[train.index])[a].agg(lambda v: v.value_counts().index[0])
        for a in ATTRIBUTES
    }
    rng = np.random.default_rng(seed)
    ours: dict[str, list[bool]] = {a: [] for a in ATTRIBUTES}
    base: dict[str, list[bool]] = {a: [] for a in ATTRIBUTES}
    wrong: dict[str, Counter] = {a: Counter() for a in ATTRIBUTES}
    for clip in manifest.itertuples():
        k = np.load(root / clip.keypoints)
        if noise:
            body = read_body(k, layout)
            k = noisy(k, float(np.nanmedian(body.head_r)), rng)
        derived = derive(read_body(k, layout), fps=float(meta["config"]["fps"]))
        for a in ATTRIBUTES:
            true = truth.loc[clip.clip_id, a]
            ours[a].append(derived.values[a] == true)
            base[a].append(majority[a].get(clip.label) == true)
            if derived.values[a] != true:
                wrong[a][(true, derived.values[a])] += 1
    return {
        a: {
            "ours": float(np.mean(ours[a])),
            "baseline": float(np.mean(base[a])),
            "confusions": wrong[a].most_common(3),
        }
        for a in ATTRIBUTES
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("build/bench-attributes"))
    parser.add_argument("--seed", type=int, default=1, help="SynthMG seed (0 tuned the rules)")
    args = parser.parse_args()
    shutil.rmtree(args.root, ignore_errors=True)
    settings = {
        "default": (SynthConfig(seed=args.seed, keypoints=True), False),
        "hard (subtlety 3, nuisance 2, pose noise)": (
            SynthConfig(seed=args.seed, keypoints=True, subtlety=3.0, nuisance=2.0),
            True,
        ),
    }
    results = {}
    for i, (name, (config, noise)) in enumerate(settings.items()):
        root = args.root / f"synthmg-{i}"
        generate(root, config, progress=False)
        results[name] = score(root, noise, args.seed)
    for name, per in results.items():
        print(f"SynthMG {name}, seed {args.seed}: accuracy, baseline (class majority) -> ours")
        for a, r in per.items():
            target = f" (target {TARGETS[a]:.0%})" if name == "default" else ""
            print(f"  {a:9s} {r['baseline']:6.1%} -> {r['ours']:6.1%}{target}")
            for (true, got), n in r["confusions"]:
                print(f"            {n:3d} x {true!r} taken for {got!r}")
    print("ratios ours / class-majority baseline (default; hard):")
    for a in ATTRIBUTES:
        default, hard = (results[name][a] for name in settings)
        ratio = [r["ours"] / max(r["baseline"], 1e-9) for r in (default, hard)]
        met = "ok" if default["ours"] >= TARGETS[a] else "MISSED"
        print(
            f"  {a}: {ratio[0]:.2f}; {ratio[1]:.2f}   ours {default['ours']:.1%} "
            f"(target {TARGETS[a]:.0%}) {met}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
