"""Splits whose labels the source withholds: imported unlabelled, never as truth.

Benchmark releases keep their test labels for a challenge server and still ship a list
file of `path label` lines: MA-52's test_list_videos.txt gives every clip the label 0. A
split whose clips all have one label while there are many classes is such a split: its
labels become missing (empty in manifest.csv), and the import says why. `fgsgl evaluate`
then refuses the split and `fgsgl predict` runs on it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from fgsgl.dataset.contract import SPLITS
from fgsgl.errors import UsageError

# A split of n clips over C classes is taken as withheld when C ** (n - 1), the number of
# ways n clips could spread over the classes per way they all share one label, is above
# this: clips of equally frequent classes fall on one label by chance less often than
# once in a thousand imports (52 classes: 3 clips; 4 classes: 6 clips).
CHANCE = 1000

AUTO, NONE = "auto", "none"


def parse_unlabelled(text: str) -> str | list[str]:
    """--unlabelled: 'auto', 'none', or splits ('test' or 'val,test')."""
    word = text.strip().lower()
    if word in (AUTO, NONE):
        return word
    splits = [s.strip() for s in text.split(",") if s.strip()]
    bad = [s for s in splits if s not in SPLITS]
    if bad or not splits:
        raise UsageError(
            f"--unlabelled: {', '.join(map(repr, bad)) or repr(text)} is not auto, none or "
            f"a split ({', '.join(SPLITS)})"
        )
    return splits


def looks_withheld(labels: Sequence[int], num_classes: int) -> bool:
    """Whether one label on every clip of a split is beyond chance with this many classes."""
    if len(labels) < 2 or num_classes < 2 or len(set(labels)) != 1:
        return False
    return num_classes ** (len(labels) - 1) > CHANCE


def withheld_splits(
    labels: Mapping[str, Sequence[int]], num_classes: int, choice: str | list[str] = AUTO
) -> dict[str, str]:
    """{split: why} for the splits to import unlabelled; `labels` are each split's, as read.

    `choice` is --unlabelled: 'auto' (the splits that look withheld), 'none', or the splits
    to import unlabelled whatever their labels.
    """
    if choice == NONE:
        return {}
    if choice != AUTO:
        return {s: "--unlabelled names it" for s in choice if s in labels}
    found = {}
    for split, values in labels.items():
        if looks_withheld(values, num_classes):
            found[split] = (
                f"all {len(values)} of its clips have label {values[0]} while there are "
                f"{num_classes} classes: the source withholds these labels (MA-52's test "
                "list writes 0 for every clip)"
            )
    return found


def withheld_note(split: str, why: str) -> str:
    """The import's warning for one unlabelled split."""
    return (
        f"warning: the {split} split is imported unlabelled (its labels are left empty): "
        f"{why}. `fgsgl evaluate` refuses to score it, `fgsgl predict` runs on it; "
        "--unlabelled none keeps the labels as they are"
    )
