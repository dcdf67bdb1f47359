"""Which frames a clip contributes: the middle frame of T equal segments of its range.

TSN-style segment sampling: the clip's inclusive range [start, end] is cut into T equal
segments and the middle frame of each is taken, so the T frames cover the whole gesture
evenly and deterministically (no randomness at extraction; augmentation happens later).
A clip shorter than T frames repeats indices (each frame as often as its segments fall on
it). A range that runs past the video's last frame is clamped to it, and the clamp is
returned as a note that the index keeps.
"""

from __future__ import annotations

from dataclasses import dataclass

SAMPLER = "segment-middle"


class NoFramesError(ValueError):
    """The clip's range holds no frame of the video (the clip cannot be extracted)."""


@dataclass(frozen=True)
class ClipRange:
    """An inclusive, 0-based frame range inside a video, after clamping."""

    start: int
    end: int
    note: str = ""

    @property
    def length(self) -> int:
        return self.end - self.start + 1


def segment_middles(start: int, end: int, frames: int) -> list[int]:
    """The middle frame of each of `frames` equal segments of the inclusive [start, end].

    Integer arithmetic (no float rounding): segment k spans [k*n/T, (k+1)*n/T) and its
    middle is floor((2k+1)*n / 2T). For n < T the same frame comes back several times.
    """
    if frames < 1:
        raise ValueError(f"frames must be >= 1, not {frames}")
    if end < start or start < 0:
        raise ValueError(f"not a frame range: [{start}, {end}]")
    n = end - start + 1
    return [start + (2 * k + 1) * n // (2 * frames) for k in range(frames)]


def clip_range(start: int | None, end: int | None, frame_count: int) -> ClipRange:
    """The range a clip really covers in a video of `frame_count` frames.

    No start/end: the whole video. An end past the last frame is clamped (and noted);
    a start past it, or an empty video, leaves nothing to sample (NoFramesError).
    """
    if frame_count < 1:
        raise NoFramesError("the video has no frames")
    last = frame_count - 1
    if start is None and end is None:
        return ClipRange(0, last)
    if start is None or end is None:
        raise ValueError("start and end must be given together")
    if start > last:
        raise NoFramesError(
            f"start_frame {start} is past the video's last frame {last} ({frame_count} frames)"
        )
    if end > last:
        return ClipRange(
            start,
            last,
            note=f"end_frame {end} clamped to the video's last frame {last}",
        )
    return ClipRange(start, end)


def sample_indices(
    start: int | None, end: int | None, frame_count: int, frames: int
) -> tuple[list[int], str]:
    """The T frame indices of a clip in a video of `frame_count` frames, and its note."""
    r = clip_range(start, end, frame_count)
    note = r.note
    if r.length < frames:
        repeat = f"{r.length} frames < {frames}: indices repeat"
        note = f"{note}; {repeat}" if note else repeat
    return segment_middles(r.start, r.end, frames), note
