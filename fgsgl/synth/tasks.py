"""What SynthMG renders: one task per clip, and the subjects that perform them.

Kept apart from generate.py (which renders and writes) so that both layouts' plans, the
classic one (generate.plan) and the compositional one (compositional.py), build on the
same task and the same shuffle of subjects without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fgsgl.synth.config import SynthConfig


@dataclass(frozen=True)
class ClipTask:
    """One clip to render: everything a worker process needs, and nothing else."""

    clip_id: str
    label: int
    number: int
    subject: int
    split: str
    config: SynthConfig
    out: str
    shortcut: int | None = None  # the distractor's cue (compositional preset only)


def subject_order(subjects: int, seed: int) -> list[int]:
    """The subjects shuffled with the seed: splits take them from the front, test first."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(7,)))
    return rng.permutation(subjects).tolist()


def subject_splits(subjects: int, seed: int) -> dict[int, str]:
    """Subject index -> split; ~20% test, ~20% val (at least one each), the rest train."""
    order = subject_order(subjects, seed)
    n_test = max(1, round(0.2 * subjects))
    n_val = max(1, round(0.2 * subjects))
    splits = {}
    for rank, s in enumerate(order):
        splits[s] = "test" if rank < n_test else "val" if rank < n_test + n_val else "train"
    return splits


def subject_name(index: int) -> str:
    return f"s{index:02d}"
