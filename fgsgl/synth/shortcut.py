"""The compositional preset's shortcut: a small disc drifting in a top corner of the scene.

A cue is a corner (top-left or top-right of the frame, where the seated person never is)
and one of eight headings; the disc drifts along a straight line through the corner's
centre at a steady pace over the whole clip. Cue v belongs to class v (there are as many
cues as compositional classes). In train and val a clip shows its own class's cue most of
the time (Compositional.shortcut), in test any cue equally often, so a model that reads
the corner instead of the hands does well on val and badly on test.

It moves, so it survives what a static cue would not: the tiny backbone sees each frame
minus its clip's mean frame (`subtract_clip_mean`), where a background colour vanishes
but a moving disc stays. Its grey level is set against the background behind it (dark on
light, light on dark), so it shows in grey frames too (the calibration probes').
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

CORNERS = ("top-left", "top-right")
HEADINGS = ("up", "up-right", "right", "down-right", "down", "down-left", "left", "up-left")
CUES = tuple((c, h) for c in CORNERS for h in HEADINGS)

CENTRE_X = {"top-left": 0.14, "top-right": 0.86}  # of the frame size
CENTRE_Y = 0.15
PATH = 0.2  # length of the drift over one clip, of the frame size
RADIUS = 0.035  # of the frame size
CONTRAST = 20.0  # grey levels between the disc and the background behind it


def cue_text(value: int) -> str:
    """Cue `value` in words: 'top-left corner, drifting up-right'."""
    corner, heading = CUES[value]
    return f"{corner} corner, drifting {heading}"


@dataclass(frozen=True)
class Distractor:
    """One clip's disc: it drifts from `start` to `end` (frame pixels, continuous grid)
    over the clip, drawn in `colour` with `radius` pixels."""

    value: int
    start: tuple[float, float]
    end: tuple[float, float]
    radius: float
    colour: tuple[int, int, int]

    def at(self, t: float) -> tuple[float, float]:
        """Its centre at clip time t in [0, 1]."""
        return (
            self.start[0] + (self.end[0] - self.start[0]) * t,
            self.start[1] + (self.end[1] - self.start[1]) * t,
        )


def sample_distractor(
    value: int, rng: np.random.Generator, size: int, background_grey: float
) -> Distractor:
    """Cue `value` for one clip: its path jittered a little (so the cue is the corner and
    the heading, not exact pixels), its grey level `CONTRAST` away from the background's."""
    corner, heading = CUES[value]
    angle = math.radians(90.0 - 45.0 * HEADINGS.index(heading))  # up = -y on screen
    dx, dy = math.cos(angle), -math.sin(angle)
    cx = (CENTRE_X[corner] + float(rng.uniform(-0.02, 0.02))) * size
    cy = (CENTRE_Y + float(rng.uniform(-0.02, 0.02))) * size
    half = 0.5 * PATH * size * float(rng.uniform(0.85, 1.15))
    grey = background_grey - CONTRAST if background_grey > 110 else background_grey + CONTRAST
    tint = rng.uniform(-15, 15, 3)
    colour = tuple(int(v) for v in np.clip(grey + tint, 0, 255))
    return Distractor(
        value=value,
        start=(cx - dx * half, cy - dy * half),
        end=(cx + dx * half, cy + dy * half),
        radius=RADIUS * size * float(rng.uniform(0.9, 1.1)),
        colour=colour,
    )


def corner_grey(background, value: int, size: int, supersample: int, margin: int) -> float:
    """Mean grey level of the scene's background (a supersampled PIL image with `margin`
    pixels beyond each edge) around cue `value`'s corner."""
    corner, _ = CUES[value]
    k = supersample
    x, y = CENTRE_X[corner] * size + margin, CENTRE_Y * size + margin
    half = 0.5 * PATH * size
    box = tuple(round(k * v) for v in (x - half, y - half, x + half, y + half))
    return float(np.asarray(background.crop(box).convert("L"), np.float32).mean())
