"""Partial videos: files that hold fewer frames than their container promises.

A copy cut off mid-transfer (a download or rsync stopped) keeps what was written first.
An MP4 whose index (moov) comes first still lists every frame then: decord counts the
frames it can reach and reads the first part without an error, so a clip sampled over
"the whole video" would silently show only the beginning of the gesture.

How it is found, reading the container header only (PyAV opens the file and probes a few
packets: 15-20 ms for a 10-second 640x448 mp4, which takes 0.35 s to decode; the sample
index adds about 2 us per frame):
- a per-frame sample index (MP4/MOV sample tables, AVI idx1) gives every frame's byte
  offset and size; a sample that ends past the end of the file is missing. Exact.
- without one (an AVI that lost its idx1), a frame count stated in the header is compared
  with the frames found by reading the packets (decoding none).
- Matroska/WebM state neither: a partial copy of one is not detected.

The frames certainly whole are those shown before the first missing sample's decode time
(no frame is shown before it is decoded). They are read through FFmpeg's `subfile`
protocol, a view of the file that ends where the missing samples begin, so that decord
never meets the half-written sample (its read-ahead fails on it even for earlier frames).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from fgsgl.video.sampling import NoFramesError

KEEP_FLAG = "--keep-partial"


@dataclass(frozen=True)
class Header:
    """What a video's container promises, read without decoding."""

    size: int  # bytes in the file
    stated: int  # the header's frame count (0: none stated)
    indexed: int | None = None  # frames a per-frame sample index lists (None: no such index)
    held: int | None = None  # of those, the samples wholly inside the file
    index_end: int | None = None  # the byte where the index's last sample ends
    cut: int | None = None  # the byte where the first sample not wholly inside begins
    cut_time: float | None = None  # that sample's decode time, in seconds

    @property
    def missing_samples(self) -> bool:
        return self.cut is not None


@dataclass(frozen=True)
class Shortfall:
    """A partial video: what its container promises, what the file holds, and the frames
    (from 0) that are readable in display order."""

    promised: int
    held: int
    readable: int
    evidence: str

    def __str__(self) -> str:
        return (
            f"partial video: its container promises {self.promised} frames, the file holds "
            f"{self.held} ({self.evidence})"
        )


class HeaderError(Exception):
    """The container header cannot be read (FFmpeg's reason)."""


class PartialClipError(NoFramesError):
    """A clip needs frames that its partial video does not hold (so whoever reads clips
    and handles NoFramesError, extraction and prediction, reports it as the clip's error)."""


def read_header(path: str) -> Header:
    """The header's promise and, where the container has a per-frame sample index, which
    of its samples lie inside the file."""
    import av

    size = os.path.getsize(path)
    try:
        with av.open(path) as container:
            if not container.streams.video:
                raise HeaderError("no video stream")
            stream = container.streams.video[0]
            stated = max(0, int(stream.frames or 0))
            # ints now: PyAV's entries point into the stream, freed when it closes
            entries = [
                (e.pos, e.size, e.timestamp, e.is_keyframe)
                for e in stream.index_entries
                if not e.is_discard
            ]
            time_base = float(stream.time_base) if stream.time_base else 0.0
    except av.error.FFmpegError as e:
        raise HeaderError(e.strerror or str(e)) from e
    per_frame = len(entries) > 1 and (not all(key for *_, key in entries) or len(entries) == stated)
    if not per_frame:
        return Header(size=size, stated=stated)
    missing = [(pos, ts) for pos, n, ts, _ in entries if pos + n > size]
    cut = min(missing)[0] if missing else None
    return Header(
        size=size,
        stated=stated,
        indexed=len(entries),
        held=len(entries) - len(missing),
        index_end=max(pos + n for pos, n, *_ in entries),
        cut=cut,
        cut_time=min(ts for _, ts in missing) * time_base if missing else None,
    )


def index_shortfall(header: Header, readable: int | None = None) -> Shortfall | None:
    """The shortfall the sample index shows (None: every sample is inside the file);
    `readable` defaults to the samples held (exact where no frame is reordered)."""
    if not header.missing_samples:
        return None
    assert header.indexed is not None and header.held is not None
    return Shortfall(
        promised=header.indexed,
        held=header.held,
        readable=header.held if readable is None else readable,
        evidence=f"its sample index runs to byte {header.index_end:,}, the file ends at byte "
        f"{header.size:,}",
    )


def count_shortfall(header: Header, found: int) -> Shortfall | None:
    """Where the container has no per-frame index: `found` frames (packets) against the
    header's count (None: no count stated, or all found)."""
    if header.indexed is not None or not header.stated or found >= header.stated:
        return None
    return Shortfall(
        promised=header.stated,
        held=found,
        readable=found,
        evidence="the header's frame count; the file has no per-frame index",
    )


def count_packets(path: str) -> int:
    """The video packets in the file: reads it through, decodes nothing."""
    import av

    try:
        with av.open(path) as container:
            return sum(1 for p in container.demux(video=0) if p.size)
    except av.error.FFmpegError as e:
        raise HeaderError(e.strerror or str(e)) from e


def find_shortfall(path: str) -> Shortfall | None:
    """Whether a local video file is a partial copy, for `fgsgl validate --check-files`:
    a header read, plus a packet scan where the header states a count but no index."""
    header = read_header(path)
    if header.indexed is not None:
        return index_shortfall(header)
    return count_shortfall(header, count_packets(path)) if header.stated else None


def held_part(path: str, header: Header) -> str:
    """The file as far as its whole samples go, as an FFmpeg URL (no copy)."""
    return f"subfile,,start,0,end,{header.cut},,:file:{os.path.abspath(path)}"


def inside(short: Shortfall, start: int | None, end: int | None) -> bool:
    """Whether a clip (None, None: the whole video) lies wholly inside the readable frames."""
    return end is not None and end < short.readable


def clip_note(short: Shortfall, start: int | None, end: int | None, *, keep: bool) -> str:
    """The index note of a clip of a partial video; PartialClipError where the clip needs
    frames the file does not hold (unless `keep`: then it is sampled over what it holds).
    A clip wholly inside the readable frames is kept either way, with the note."""
    last = short.readable - 1
    if inside(short, start, end):
        return f"{short}; the clip's frames {start}..{end} lie inside the readable {short.readable}"
    if start is None or end is None:
        if not keep:
            raise PartialClipError(
                f"{short}; the clip is the whole video ({KEEP_FLAG} samples the "
                f"{short.readable} readable frames)"
            )
        return f"{short}; sampled over the {short.readable} readable frames ({KEEP_FLAG})"
    if keep and start <= last:
        return f"{short}; frames past {last} are missing ({KEEP_FLAG})"
    raise PartialClipError(
        f"{short}; the clip's frames {start}..{end} reach past frame {last}, the last "
        f"readable one" + ("" if keep else f" ({KEEP_FLAG} keeps what it holds)")
    )
