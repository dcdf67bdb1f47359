"""SynthMG's settings as plain data: every value that changes a dataset's bytes.

Kept free of numpy and the renderer so that `fgsgl --help` and option checking stay
instant; fgsgl.synth.generate does the work.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MIN_SIZE = 32
MIN_FRAMES = 8


@dataclass(frozen=True)
class Compositional:
    """The compositional layout (`--preset compositional`, fgsgl/synth/compositional.py):
    classes are a receiver x motion grid (classes.COMPOSITIONAL_CLASSES), and each split
    has its own clip counts and its own subjects, so the test split can be large without
    the training set growing with it.

    Counts are clips per class. `low_shot` classes (ids) get `low_shot_train` training
    clips instead of `train`; val and test are the same for every class. `shortcut` is how
    often a clip's background distractor (fgsgl/synth/shortcut.py) is its own class's in
    train and val; in test the distractor is independent of the class (None: no
    distractor). `gain` scales the motions' amplitudes and `tempo` their cycles, so that a
    motion stays visible at small frames and in 8 sampled frames; `across` is how often a
    one-handed reach to a lateral receiver goes to the other side of the body.
    """

    train: int = 35
    low_shot_train: int = 5
    val: int = 40
    test: int = 128
    subjects: tuple[int, int, int] = (20, 10, 20)  # train, val, test
    low_shot: tuple[int, ...] = (5, 10, 15)
    shortcut: float | None = 0.9
    gain: float = 2.0
    tempo: float = 0.6
    across: float = 0.4

    def clips(self, label: int, split: str) -> int:
        """Clips of class `label` in `split`."""
        if split == "train":
            return self.low_shot_train if label in self.low_shot else self.train
        return {"val": self.val, "test": self.test}[split]

    def problems(self, classes: int) -> list[str]:
        from fgsgl.synth.classes import low_shot_problems

        out = []
        for name in ("train", "low_shot_train", "val", "test"):
            if getattr(self, name) < 1:
                out.append(f"compositional {name} must be at least 1 clip per class")
        if len(self.subjects) != 3 or min(self.subjects) < 1:
            out.append(
                f"compositional subjects must be three counts >= 1 (train, val, test), "
                f"not {self.subjects}"
            )
        out += low_shot_problems(self.low_shot, classes)
        if self.shortcut is not None and not 0.0 <= self.shortcut <= 1.0:
            out.append(f"compositional shortcut must be between 0 and 1, not {self.shortcut}")
        for name, lo, hi in (("gain", 0.0, 5.0), ("tempo", 0.05, 5.0), ("across", 0.0, 1.0)):
            value = getattr(self, name)
            if not (math.isfinite(value) and lo <= value <= hi):
                out.append(f"compositional {name} must be between {lo:g} and {hi:g}, not {value}")
        return out


@dataclass(frozen=True)
class SynthConfig:
    """Every setting that changes the dataset's bytes (workers do not).

    `compositional` switches to the compositional layout; None (the default) is the
    classic one, and is left out of every written record, so the classic presets' bytes do
    not depend on the field existing.

    `class_names` picks the classic classes by name (ids in that order) instead of the
    first `classes` (`classic_subset_config` fills `classes` in): e.g. a corpus without the
    compositional preset's receivers (fgsgl.train.pretrain). None (the default) is left out
    of the written record too.
    """

    classes: int = 12
    clips_per_class: int = 30
    subjects: int = 10
    size: int = 128
    frames: int = 24
    fps: int = 12
    seed: int = 0
    keypoints: bool = False
    subtlety: float = 1.0
    nuisance: float = 1.0
    compositional: Compositional | None = None
    class_names: tuple[str, ...] | None = None

    def problems(self) -> list[str]:
        from fgsgl.synth.classes import COMPOSITIONAL_CLASSES, MAX_CLASSES, MIN_CLASSES

        out = self._class_names_problems()
        comp = self.compositional
        if comp is not None:
            grid = len(COMPOSITIONAL_CLASSES)
            if self.classes != grid:
                out.append(
                    f"--classes does not apply to --preset compositional: its {grid} classes "
                    f"are the receiver x motion grid (got {self.classes})"
                )
            if self.subjects != sum(comp.subjects):
                out.append(
                    "--subjects does not apply to --preset compositional: its subjects are "
                    f"{'/'.join(map(str, comp.subjects))} train/val/test (got {self.subjects})"
                )
            out += comp.problems(grid)
        elif not MIN_CLASSES <= self.classes <= MAX_CLASSES:
            out.append(f"--classes must be {MIN_CLASSES}..{MAX_CLASSES}, not {self.classes}")
        if self.clips_per_class < 1:
            out.append(f"--clips-per-class must be at least 1, not {self.clips_per_class}")
        if comp is None and self.subjects < 3:
            out.append(
                f"--subjects must be at least 3 (train, val and test each need one), "
                f"not {self.subjects}"
            )
        if self.size < MIN_SIZE or self.size % 2:
            out.append(
                f"--size must be an even number >= {MIN_SIZE} (H.264 4:2:0 needs even "
                f"sizes), not {self.size}"
            )
        if self.frames < MIN_FRAMES:
            out.append(f"--frames must be at least {MIN_FRAMES}, not {self.frames}")
        if self.fps < 1:
            out.append(f"--fps must be at least 1, not {self.fps}")
        if self.seed < 0:
            out.append(f"--seed must be >= 0, not {self.seed}")
        for name in ("subtlety", "nuisance"):
            value = getattr(self, name)
            if not (math.isfinite(value) and 0.0 <= value <= 5.0):
                out.append(f"--{name} must be between 0 and 5, not {value}")
        return out

    def _class_names_problems(self) -> list[str]:
        from fgsgl.synth.classes import CLASSES

        names = self.class_names
        if names is None:
            return []
        if self.compositional is not None:
            return [
                "class_names does not apply to --preset compositional (its classes are the grid)"
            ]
        known = [c.name for c in CLASSES]
        out = [
            f"class_names: {n!r} is not a SynthMG class ({', '.join(known)})"
            for n in names
            if n not in known
        ]
        if len(set(names)) != len(names):
            out.append(f"class_names repeat: {list(names)}")
        if len(names) != self.classes:
            out.append(f"classes is {self.classes} but class_names names {len(names)}")
        return out


@dataclass(frozen=True)
class LongConfig:
    """SynthMG long videos (`fgsgl synth --long N`): how many, and how they are cut up.

    `gestures` and `idle` are inclusive (min, max) ranges: gestures per video, and frames
    of rest before, between and after them; idle=None means half a clip to two clips
    (`idle_frames`). Gesture lengths come from the SynthConfig (a clip's `frames`).
    """

    videos: int
    gestures: tuple[int, int] = (4, 6)
    idle: tuple[int, int] | None = None

    def idle_frames(self, config: SynthConfig) -> tuple[int, int]:
        return self.idle if self.idle is not None else (config.frames // 2, 2 * config.frames)

    def problems(self, config: SynthConfig) -> list[str]:
        out = []
        if config.compositional is not None:
            out.append(
                "--long does not apply to --preset compositional (long videos use the "
                "classic classes and splits)"
            )
        if self.videos < 1:
            out.append(f"--long must be at least 1 video, not {self.videos}")
        lo, hi = self.gestures
        if not 1 <= lo <= hi:
            out.append(
                f"--gestures-per-video {lo}:{hi}: needs 1 <= MIN <= MAX (a long video holds "
                "at least one gesture)"
            )
        lo, hi = self.idle_frames(config)
        if not 1 <= lo <= hi:
            out.append(
                f"--idle-frames {lo}:{hi}: needs 1 <= MIN <= MAX (gestures are kept apart by "
                "at least one frame at rest)"
            )
        return out


# `default` serves the laptop demo and the 5 variants x 3 seeds study (tiny ViT on CPU,
# within an hour on 2 cores): 360 clips of 24 frames at 128 px, about 30 s to generate.
# `mini` is for tests and smoke runs: 36 clips of 16 frames at 64 px, a few seconds.
# `compositional` serves the study of issue 21 (does fine-grained text help?): 16 receiver x
# motion classes, 3 of them low-shot, a background shortcut in train/val only, 470 / 640 /
# 2048 train / val / test clips of 16 frames at 64 px (see fgsgl/synth/compositional.py).


def classic_subset_config(names: tuple[str, ...], **settings) -> SynthConfig:
    """A classic-layout SynthConfig of the classes named `names` (ids in that order), with
    `classes` filled in; `settings` set the rest (seed, subjects, size, ...)."""
    return SynthConfig(classes=len(names), class_names=tuple(names), **settings)


def compositional_config(spec: Compositional | None = None, **settings) -> SynthConfig:
    """The compositional preset's SynthConfig for a layout `spec` (default: the preset's),
    with its class count and subjects filled in; `settings` override the rest (seed, size,
    keypoints, ...). Tests build scaled-down versions of the preset with it."""
    from fgsgl.synth.classes import COMPOSITIONAL_CLASSES

    spec = spec or Compositional()
    base = {"size": 64, "frames": 16, "clips_per_class": 1, **settings}
    return SynthConfig(
        classes=len(COMPOSITIONAL_CLASSES),
        subjects=sum(spec.subjects),
        compositional=spec,
        **base,
    )


PRESETS: dict[str, SynthConfig] = {
    "default": SynthConfig(),
    "mini": SynthConfig(clips_per_class=3, subjects=3, size=64, frames=16),
    "compositional": compositional_config(),
}

__all__ = [
    "MIN_FRAMES",
    "MIN_SIZE",
    "PRESETS",
    "Compositional",
    "LongConfig",
    "SynthConfig",
    "classic_subset_config",
    "compositional_config",
]
