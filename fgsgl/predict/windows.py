"""Sliding windows over a whole video, each sampled as a training clip, decoded once.

A window is a clip of LEN frames every STRIDE frames; its T frames are the segment
middles of its range, exactly as `fgsgl extract` samples a labelled clip
(fgsgl.video.sampling), so the model sees windows as it saw training clips. The last
window is aligned to the video's end so no tail goes unseen; a video shorter than one
window gets one window over all of it, with repeated frames and a note.

Decoding: overlapping windows share frames, and a long recording must not be decoded once
per window. `decoded_frames` decodes the union of every window's indices once, in order,
in chunks; its caller keeps each frame (or its features) only until `last_uses` says the
last window that samples it is done (fgsgl.predict.spot).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from fgsgl.errors import UsageError
from fgsgl.video.sampling import segment_middles

DECODE_CHUNK = 64  # frames per decoder call: bounded memory, few calls


@dataclass(frozen=True)
class WindowSpec:
    """LEN:STRIDE as given: frames, or seconds with an `s` (resolved per video's fps)."""

    length: float
    stride: float
    seconds: bool = False

    def in_frames(self, fps: float) -> tuple[int, int]:
        """(length, stride) in frames of a video at `fps`."""
        if not self.seconds:
            return int(self.length), int(self.stride)
        if fps <= 0:
            raise UsageError(f"--windows {self}: the video has no frame rate to count seconds")
        return max(1, round(self.length * fps)), max(1, round(self.stride * fps))

    def __str__(self) -> str:
        unit = "s" if self.seconds else ""
        return f"{self.length:g}{unit}:{self.stride:g}{unit}"


_SPEC = re.compile(r"^\s*(\d+(?:\.\d+)?)(s?)\s*:\s*(\d+(?:\.\d+)?)(s?)\s*$")


def parse_windows(text: str) -> WindowSpec:
    """'32:8' (frames) or '2s:0.5s' (seconds) -> WindowSpec; UsageError otherwise."""
    match = _SPEC.match(text)
    hint = "expected LEN:STRIDE in frames (32:8) or seconds (2s:0.5s), STRIDE <= LEN"
    if match is None or match.group(2) != match.group(4):
        raise UsageError(f"--windows {text!r}: {hint}")
    length, stride = float(match.group(1)), float(match.group(3))
    seconds = match.group(2) == "s"
    if not seconds and (length != int(length) or stride != int(stride)):
        raise UsageError(f"--windows {text!r}: frames are whole numbers ({hint})")
    if length <= 0 or stride <= 0 or stride > length:
        raise UsageError(f"--windows {text!r}: {hint}")
    return WindowSpec(length, stride, seconds)


@dataclass(frozen=True)
class Window:
    """Frames [start, end] (inclusive, 0-based) of a video and the T indices sampled."""

    start: int
    end: int
    indices: tuple[int, ...]

    @property
    def centre(self) -> float:
        return (self.start + self.end) / 2


def plan_windows(
    frame_count: int, length: int, stride: int, frames: int
) -> tuple[list[Window], str]:
    """The windows of a video of `frame_count` frames, and a note ('' when none)."""
    if frame_count < 1:
        raise ValueError("the video has no frames")
    if frame_count <= length:
        window = Window(0, frame_count - 1, tuple(segment_middles(0, frame_count - 1, frames)))
        note = f"{frame_count} frames, shorter than one window of {length}: one window"
        if frame_count < frames:
            note += f", frames repeat ({frame_count} < {frames})"
        return [window], note if frame_count < length else ""
    starts = list(range(0, frame_count - length + 1, stride))
    if starts[-1] + length < frame_count:
        starts.append(frame_count - length)  # the tail, aligned to the end
    windows = [
        Window(s, s + length - 1, tuple(segment_middles(s, s + length - 1, frames))) for s in starts
    ]
    return windows, ""


def decoded_frames(
    video: object, windows: list[Window], *, chunk: int = DECODE_CHUNK
) -> Iterator[tuple[list[int], np.ndarray]]:
    """The frames the windows sample, each decoded once, in order: (indices, n x S x S x 3
    uint8) per chunk. `video`: a fgsgl.video.decode.VideoFile (`read` decodes, resizes)."""
    needed = sorted({i for w in windows for i in w.indices})
    for lo in range(0, len(needed), chunk):
        batch = needed[lo : lo + chunk]
        yield batch, video.read(batch)  # type: ignore[attr-defined]


def last_uses(windows: list[Window]) -> dict[int, int]:
    """Frame index -> the last window (position) that samples it: when it may be let go."""
    out: dict[int, int] = {}
    for k, w in enumerate(windows):
        for i in w.indices:
            out[i] = k
    return out
