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
class SynthConfig:
    """Every setting that changes the dataset's bytes (workers do not)."""

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

    def problems(self) -> list[str]:
        from fgsgl.synth.classes import MAX_CLASSES, MIN_CLASSES

        out = []
        if not MIN_CLASSES <= self.classes <= MAX_CLASSES:
            out.append(f"--classes must be {MIN_CLASSES}..{MAX_CLASSES}, not {self.classes}")
        if self.clips_per_class < 1:
            out.append(f"--clips-per-class must be at least 1, not {self.clips_per_class}")
        if self.subjects < 3:
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
PRESETS: dict[str, SynthConfig] = {
    "default": SynthConfig(),
    "mini": SynthConfig(clips_per_class=3, subjects=3, size=64, frames=16),
}

__all__ = ["MIN_FRAMES", "MIN_SIZE", "PRESETS", "LongConfig", "SynthConfig"]
