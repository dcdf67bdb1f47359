"""From window probabilities to gesture segments of a long video.

Each window gets a decision: its top class, or "no gesture" when the top probability is
below `threshold`, or when the top class is the model's own non-gesture class (iMiGUE's id
99, imported with `--non-gesture keep`). Each window owns the frames nearest its centre
(the middle STRIDE frames of an inner window; the first and last reach the video's ends),
so the owned stretches tile the video; consecutive windows with the same class merge into
one segment spanning their stretches, scored by the mean of their top probabilities.
Segments shorter than `min_frames` are dropped (a single window's flicker).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from fgsgl.predict.windows import Window

NO_GESTURE = -1  # a window's class when it holds no gesture


@dataclass(frozen=True)
class Segment:
    """A run of frames [start, end] (inclusive) of one class in one video."""

    video: str
    start: int
    end: int
    label: int  # dataset class id
    score: float

    @property
    def frames(self) -> int:
        return self.end - self.start + 1


def decide(
    probabilities: np.ndarray,
    class_ids: Sequence[int],
    *,
    threshold: float = 0.0,
    non_gesture: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(class id or NO_GESTURE, top probability) per window (rows of `probabilities`)."""
    top = probabilities.argmax(axis=1)
    score = probabilities[np.arange(len(top)), top].astype(np.float64)
    labels = np.asarray(class_ids, dtype=np.int64)[top]
    silent = score < threshold
    if non_gesture is not None:
        silent |= labels == non_gesture
    return np.where(silent, NO_GESTURE, labels), score


def owned_ranges(windows: Sequence[Window], frame_count: int) -> list[tuple[int, int]]:
    """The frames each window stands for: split halfway between neighbouring centres."""
    out = []
    for k, w in enumerate(windows):
        lo = 0 if k == 0 else int(np.floor((windows[k - 1].centre + w.centre) / 2)) + 1
        hi = (
            frame_count - 1
            if k == len(windows) - 1
            else int(np.floor((w.centre + windows[k + 1].centre) / 2))
        )
        out.append((lo, hi))
    return out


def segments(
    video: str,
    windows: Sequence[Window],
    labels: np.ndarray,
    scores: np.ndarray,
    frame_count: int,
    *,
    min_frames: int = 1,
) -> list[Segment]:
    """Merge consecutive windows of one class into segments (NO_GESTURE makes none)."""
    out: list[Segment] = []
    ranges = owned_ranges(windows, frame_count)
    k = 0
    while k < len(windows):
        j = k
        while j + 1 < len(windows) and labels[j + 1] == labels[k]:
            j += 1
        if labels[k] != NO_GESTURE:
            start, end = ranges[k][0], ranges[j][1]
            if end - start + 1 >= min_frames:
                score = float(np.mean(scores[k : j + 1]))
                out.append(Segment(video, start, end, int(labels[k]), score))
        k = j + 1
    return out
