"""SynthMG's compositional layout (`fgsgl synth --preset compositional`, issue 21).

The classic presets cannot show whether fine-grained text helps: each class has its own
receiver, no attribute tuple occurs in two classes, and the attributes that vary inside a
class mean nothing for the label. Here:

- classes are the 4 x 4 grid of receivers (forehead, cheek, neck, the other upper arm)
  and motions (touch, rub in circles, scratch, stroke across): every receiver and every
  motion is shared by four classes, and neighbours in the grid differ in one attribute
  (classes.COMPOSITIONAL_CLASSES);
- inside a class, the hand (left / right), the receiver's side (cheek: either, reached
  across the body 40 % of the time; arm: the other one), the speed and the amplitude vary,
  are drawn, and are in the manifest's initiator / receiver / motion words, so the
  fine-grained text differs with them;
- low-shot classes (rubbing cheek, scratching neck, stroking arm) have 5 training clips
  instead of 35; each one's receiver and motion are in three normal classes, so a model
  that learns receivers and motions as such can still get them right. classes.csv marks
  them (`low_shot` 1); `low_shot_classes(DATASET)` returns their ids;
- a shortcut: a small disc drifting in a top corner of the background (shortcut.py). Its
  cue (corner x heading, 16 cues, cue v for class v) is the clip's class's in ~90 % of the
  train and val clips (exactly: (1 - 0.9) x n of each class's n clips in a split, rounded
  half down, get another cue, uniformly among the other 15: 3 of 35, 4 of 40, none of a
  low-shot class's 5; 91.7 % of train, 90.0 % of val), and in test every class shows every
  cue equally often (8 x 16 of its 128 clips: independent of the class, agreement 1/16).
  The manifest records it per clip: `shortcut` (the cue id) and `shortcut_agrees` (1 if
  it is the clip's class's cue).

Splits are by subject with their own counts: 20 / 10 / 20 train / val / test subjects
(the seed shuffles which), clip k of class c in a split performed by that split's subject
(k + c) mod n. Per class 35 (low-shot: 5) / 40 / 128 clips: 470 / 640 / 2048 clips, of 16
frames at 64 px and 12 fps (what the CPU study extracts: 8 frames at 64 px). A clip's
identity is (seed, class, split, k), so changing one split's size leaves the other
splits' clips as they were; clip ids are c<class>_<subject>_<split><k>, e.g.
c05_s12_test017. Fine-grained texts: 4-24 distinct per class (mean 11; 176 in all, none
in two classes); MiniLM cosines over clip pairs: same class 0.970 (different texts
0.965), different classes 0.749, T_fg to its T_c 0.803.

Cost: 64 s to generate with --keypoints on the 2-core dev machine (3,158 clips, 2
workers; 150 s while other jobs shared the cores), 43 s to calibrate.

Calibration (`python -m fgsgl.synth.calibrate`: logistic regression on 8 frames at
16 x 16 grey, seed 0, chance 6.2 %), top-1 in %; the test columns split by whether the
clip's cue is its class's (128 clips) or not (1,920), and the low-shot classes' 384:

    features         val    test   test: agrees  disagrees  low-shot
    |frame diffs|    52.5   18.0         51.6       15.8       0.5
    signed diffs     41.6   10.3         44.5        8.0       0.5
    frames           25.0   13.5         21.1       13.0       0.0
    keypoints        37.7   35.5         42.2       35.1       4.4
    without the shortcut (Compositional(shortcut=None), the same clips otherwise):
    |frame diffs|    23.3   23.7
    keypoints        37.7   35.5

So the shortcut is learnt: the |diffs| probe gains 29 points on val and loses 6 on test
(8 on the clips where the cue misleads) against the same data without it; the keypoint
probe, which cannot see the disc, is unmoved. The gesture alone is neither trivial nor
hopeless for a linear model: the pose probe finds the receiver (94 % of test clips) far
more easily than the motion (39 %, chance 25 %; the |diffs| probe without the shortcut:
65 % and 37 %), and the low-shot classes, 5 of 470 training clips each, are almost never
predicted (0-4 %): what a learner that shares receivers and motions across classes would
have to fix. `gain` 2.0 and `tempo` 0.6 keep the motions visible at 64 px in 8 frames.
The disc's CONTRAST of 20 grey levels puts the shortcut between too faint and dominant:
measured at gain 1.5 with 640 test clips (2,048 at 80), |diffs| val / test was 21 / 22
without it, 28 / 21 at contrast 8, 40 / 20 at 15, 66 / 14 at 35 and 75 / 11 at 80.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fgsgl.errors import FgsglError
from fgsgl.synth.config import SynthConfig
from fgsgl.synth.tasks import ClipTask, subject_name, subject_order

if TYPE_CHECKING:
    import pandas as pd

SPLITS = ("train", "val", "test")
SHORTCUT_STREAM = 3_000_017  # spawn-key tag that keeps the cue plan apart from clips'


def split_subjects(config: SynthConfig) -> dict[str, list[int]]:
    """Split -> its subject indices (sorted): the seed's shuffle, test first, then val."""
    comp = config.compositional
    assert comp is not None
    _, n_val, n_test = comp.subjects
    order = subject_order(sum(comp.subjects), config.seed)
    return {
        "test": sorted(order[:n_test]),
        "val": sorted(order[n_test : n_test + n_val]),
        "train": sorted(order[n_test + n_val :]),
    }


def shortcut_cues(config: SynthConfig, label: int, split: str, n: int) -> list[int]:
    """The distractor cues of class `label`'s n clips in `split`.

    train / val: the class's own cue except for `disagreements(n)` clips chosen at random,
    which get one of the other cues uniformly; test: every cue equally often (as near as n
    allows), shuffled, so the cue says nothing about the class.
    """
    comp = config.compositional
    assert comp is not None and comp.shortcut is not None
    cues = config.classes
    rng = np.random.default_rng(
        np.random.SeedSequence(config.seed, spawn_key=(SHORTCUT_STREAM, label, SPLITS.index(split)))
    )
    if split == "test":
        return rng.permutation(np.arange(n) % cues).tolist()
    out = [label] * n
    others = [v for v in range(cues) if v != label]
    for k in rng.choice(n, size=disagreements(comp.shortcut, n), replace=False).tolist():
        out[k] = int(rng.choice(others))
    return out


def disagreements(shortcut: float, n: int) -> int:
    """How many of n train or val clips show another class's cue: (1 - shortcut) x n
    rounded, halves down (35 clips at 0.9: 3; 40: 4; a low-shot class's 5: 0)."""
    return math.floor((1.0 - shortcut) * n + 0.5 - 1e-9)


def plan_compositional(config: SynthConfig, out: str | Path) -> list[ClipTask]:
    """Every clip of the compositional layout, class by class, split by split."""
    comp = config.compositional
    assert comp is not None
    subjects = split_subjects(config)
    tasks = []
    for label in range(config.classes):
        for s, split in enumerate(SPLITS):
            n = comp.clips(label, split)
            cues = shortcut_cues(config, label, split, n) if comp.shortcut is not None else None
            people = subjects[split]
            for k in range(n):
                subject = people[(k + label) % len(people)]
                tasks.append(
                    ClipTask(
                        clip_id=f"c{label:02d}_{subject_name(subject)}_{split}{k:03d}",
                        label=label,
                        number=s * 100_000 + k,  # the clip's stream: (seed, label, number)
                        subject=subject,
                        split=split,
                        config=config,
                        out=str(out),
                        shortcut=None if cues is None else cues[k],
                    )
                )
    return tasks


def compositional_info(config: SynthConfig, record: dict[str, Any]) -> None:
    """Add the compositional layout to a synthmg.json record (in place)."""
    from fgsgl.synth.shortcut import cue_text

    comp = config.compositional
    assert comp is not None
    record["config"].pop("clips_per_class")  # the layout's counts are per split
    record["layout"] = "compositional"
    for c in record["classes"]:
        c["low_shot"] = c["id"] in comp.low_shot
        c["clips"] = {s: comp.clips(c["id"], s) for s in SPLITS}
        if comp.shortcut is not None:
            c["shortcut"] = cue_text(c["id"])
    people = split_subjects(config)
    record["subjects"] = {s: [subject_name(i) for i in v] for s, v in people.items()}
    if comp.shortcut is not None:
        record["shortcut"] = {
            "cues": [cue_text(v) for v in range(config.classes)],
            "train_val_agreement": comp.shortcut,
            "test": "every cue equally often in every class",
            "columns": "manifest shortcut (cue id; cue v is class v's), shortcut_agrees (0/1)",
        }


def low_shot_from_table(classes: pd.DataFrame, where: str) -> list[int]:
    """The low-shot class ids of a classes table (`low_shot` 1); [] without that column.
    `where` names the table in errors."""
    import pandas as pd

    if "low_shot" not in classes:
        return []
    ids = []
    for row, (cid, value) in enumerate(zip(classes["id"], classes["low_shot"], strict=True)):
        flag = "" if value is None or value is pd.NA else str(value).strip()
        if flag not in ("0", "1"):
            raise FgsglError(
                f"{where} row {row + 1} (id {cid}): low_shot must be 0 or 1, not {flag!r}"
            )
        if flag == "1":
            ids.append(int(cid))
    return ids


def low_shot_classes(dataset: str | Path) -> list[int]:
    """The ids of a dataset's low-shot classes (classes.csv `low_shot` 1), for a study's
    separate accuracy on them; [] where classes.csv has no such column (the classic
    presets, imported datasets)."""
    from fgsgl.dataset import load_dataset

    return low_shot_from_table(load_dataset(dataset).classes, f"{dataset}/classes.csv")
