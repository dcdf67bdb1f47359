"""Reading a clip's frames with decord: only the frames needed, then cropped and resized.

decord's VideoReader counts frames from the demuxer's packet index (no decoding, and not
the container's frame-count field, which AVI and MP4 files can state wrongly). That count
is still a claim: a truncated or damaged file has packets that do not decode. So the
count is checked by decoding: `read` fetches exactly the sampled indices with
`get_batch`, and any frame that does not decode turns the clip into a `VideoError` that
carries the decoder's own message (the clip goes to failures.csv, the rest goes on).

Frames are decoded at their displayed size (rotation applied by decord) and resized by
fgsgl.video.resize, which says why that is cheaper than decord's in-decoder scaling.

decord 3.4.0 cannot return frames whose width makes FFmpeg's padded RGB row a multiple of
the width (e.g. 32, 48, 96): get_batch fails and a single frame comes back with extra
channels. Such a video is decoded a few columns wider (see `safe_width`) and resized.

A partial copy (fgsgl.video.partial) is read only as far as its frames are whole:
`frame_count` is then what it holds, and `shortfall` says what its container promised.
"""

from __future__ import annotations

import os
import re
from functools import cache
from typing import TYPE_CHECKING, Any

import numpy as np

from fgsgl.video.partial import (
    Header,
    HeaderError,
    Shortfall,
    count_shortfall,
    held_part,
    index_shortfall,
    read_header,
)
from fgsgl.video.resize import RESIZE_MODES, crop_box, resize_frames

if TYPE_CHECKING:
    import torch

_ALIGNS = (16, 32, 64)  # FFmpeg's frame-buffer alignment: SSE, AVX2, AVX-512 builds


class VideoError(Exception):
    """A video or clip that cannot be decoded; the message is the decoder's diagnosis."""


def decoder_info() -> dict[str, str]:
    """Name and version of the decoder, for the artifact's metadata."""
    import decord

    return {"name": "decord", "version": decord.__version__}


@cache
def _quiet_decord() -> None:
    """FFmpeg's per-packet warnings would flood pod logs; failures keep their message."""
    import decord

    decord.logging.set_level(decord.logging.QUIET)


def decord_width_ok(width: int) -> bool:
    """Whether decord returns a correct (H, W, 3) frame at this output width.

    FFmpeg pads an RGB24 row of W pixels to 3*align(W, a) bytes; decord copies rows
    correctly unless that padded length is a multiple of W, in which case it reshapes the
    buffer into more than 3 channels (decord's AsNDArray). Checked for every alignment
    FFmpeg may use on this CPU.
    """
    for a in _ALIGNS:
        padded = -(-width // a) * a
        if padded != width and (3 * padded) % width == 0:
            return False
    return True


def safe_width(width: int) -> int:
    """The smallest width >= `width` that decord returns correctly."""
    while not decord_width_ok(width):
        width += 1
    return width


_DECORD_PREFIX = re.compile(r"\[\d\d:\d\d:\d\d\] \S+\.(?:cc|h):\d+: ")
_CHECK = re.compile(r"Check failed: .*?\((-?\d+) vs\. -?\d+\)\s*(.*)$")


def decord_message(e: BaseException) -> str:
    """decord's error without source locations and C++ checks, FFmpeg's codes spelled out.

    '... Check failed: avcodec_send_packet(...) >= 0 (-1094995529 vs. 0) Thread worker:
    Error sending packet.' becomes 'Thread worker: Error sending packet (Invalid data found
    when processing input)'.
    """
    lines = str(e).strip().splitlines()
    text = _DECORD_PREFIX.sub("", lines[0]) if lines else ""
    match = _CHECK.search(text)
    if match:
        code, what = int(match.group(1)), match.group(2).strip().rstrip(".")
        text = f"{what or 'decord check failed'} ({averror_text(code)})" if code < 0 else what
    return text or type(e).__name__


def averror_text(code: int) -> str:
    """FFmpeg's text for a negative AVERROR code."""
    import av

    try:
        av.error.err_check(code)
    except av.error.FFmpegError as e:
        return e.strerror or str(e)
    except OSError as e:  # AVERROR(errno) codes come back as the builtin OSError types
        return e.strerror or str(e)
    return f"FFmpeg error {code}"


def _ffmpeg_diagnosis(path: str) -> str | None:
    """FFmpeg's own reason (via PyAV) why a file does not open or decode; None if it does."""
    import av

    try:
        with av.open(path) as container:
            if not container.streams.video:
                return "no video stream"
            for _ in container.decode(video=0):
                return None
            return "the video stream has no frames"
    except av.error.FFmpegError as e:
        return e.strerror or str(e)


def _open_failure(path: str, e: BaseException) -> VideoError:
    """Why decord could not open a file: FFmpeg's own reason is the useful one."""
    reason = _ffmpeg_diagnosis(path)
    if reason is None:
        return VideoError(f"decord cannot open the video: {decord_message(e)}")
    return VideoError(reason)


def _header(path: str) -> Header | None:
    """The container's promise; None where PyAV cannot read it (decord's open says why)."""
    try:
        return read_header(path)
    except HeaderError:
        return None


def _check_file(path: str) -> None:
    """Missing and empty files get a plain message (FFmpeg's would be 'Invalid data')."""
    if not os.path.exists(path):
        raise VideoError("file not found")
    if os.path.isfile(path) and os.path.getsize(path) == 0:
        raise VideoError("empty file (0 bytes)")


class VideoFile:
    """One video opened for reading clips: its frame count and S x S reads.

    Open once per video and read every clip of it (clips of a long recording share the
    reader and its packet index). One decoder thread: parallelism is across processes.
    `native_size` is the displayed (width, height), known after the first read;
    `shortfall` is None unless the file is a partial copy.
    """

    def __init__(self, path: str, *, size: int, resize: str = "squash") -> None:
        import decord

        if resize not in RESIZE_MODES:
            raise ValueError(f"resize must be one of {RESIZE_MODES}, not {resize!r}")
        _quiet_decord()
        self.path = path
        self.size = size
        self.resize = resize
        self.native_size: tuple[int, int] | None = None
        self._decode_size = (-1, -1)  # native, unless decord mishandles the native width
        _check_file(path)
        header = _header(path)
        self._source = path
        if header is not None and header.missing_samples:
            if not header.held:
                raise VideoError(f"{index_shortfall(header)}: not one frame is whole")
            self._source = held_part(path, header)
        try:
            self._reader = self._open()
        except (RuntimeError, decord.DECORDError) as e:
            raise _open_failure(path, e) from e
        self.frame_count = len(self._reader)
        self.fps = float(self._reader.get_avg_fps())  # the container's rate (0 if none)
        self.shortfall = self._shortfall(header)
        if self.shortfall is not None:
            self.frame_count = self.shortfall.readable

    def _open(self) -> Any:
        import decord

        width, height = self._decode_size
        return decord.VideoReader(
            self._source, ctx=decord.cpu(0), width=width, height=height, num_threads=1
        )

    def _shortfall(self, header: Header | None) -> Shortfall | None:
        """What a partial file lacks. Of the frames it holds, those shown before the first
        missing sample's decode time are whole and in place (a B-frame shown later may
        come before missing ones)."""
        if header is None:
            return None
        if not header.missing_samples:
            return count_shortfall(header, self.frame_count)
        assert header.cut_time is not None
        shown = self._reader.get_frame_timestamp(range(self.frame_count))[:, 0]
        margin = 0.25 / self.fps if self.fps > 0 else 1e-3  # decord's times are float32
        readable = int(np.count_nonzero(shown < header.cut_time - margin))
        if readable < 1:
            raise VideoError(f"{index_shortfall(header, 0)}: not one frame is whole")
        return index_shortfall(header, readable)

    def read(self, indices: list[int]) -> np.ndarray:
        """uint8 (len(indices), S, S, 3) RGB; VideoError when any of them does not decode."""
        bad = [i for i in indices if not 0 <= i < self.frame_count]
        if bad:
            raise ValueError(f"indices {bad} outside 0..{self.frame_count - 1}")
        batch, (width, height) = self.decode_native(indices)
        box = crop_box(width, height, self.resize)
        stretch = batch.shape[2] / width  # 1 unless decoded wider (decord's row bug)
        x0, x1 = round(box.x * stretch), round((box.x + box.width) * stretch)
        return resize_frames(batch[:, box.y : box.y + box.height, x0:x1], self.size)

    def decode_native(self, indices: list[int]) -> tuple[torch.Tensor, tuple[int, int]]:
        """The frames at the decoded size, in decord's own buffer (no copy), and the
        video's native (width, height)."""
        import decord
        from decord.bridge.torchdl import to_torch

        try:
            batch = to_torch(self._reader.get_batch(indices))
        except decord.DECORDError as e:
            mangled = self._mangled_native_size(indices[0]) if self.native_size is None else None
            if mangled is None:
                self._reader = self._open()  # decord's reader stays broken after an error
                raise VideoError(
                    f"{decord_message(e)} (reading frames {indices[0]}..{indices[-1]} of the "
                    f"{self.frame_count} that decord counts: truncated or corrupt video)"
                ) from e
            self.native_size = mangled
            self._decode_size = (safe_width(mangled[0] + 1), mangled[1])
            self._reader = self._open()
            return self.decode_native(indices)
        if batch.ndim != 4 or batch.shape[3] != 3:
            raise VideoError(
                f"decord returned frames of shape {tuple(batch.shape)}, not (N, H, W, 3)"
            )
        if self.native_size is None:
            self.native_size = (batch.shape[2], batch.shape[1])
        return batch, self.native_size

    def _mangled_native_size(self, index: int) -> tuple[int, int] | None:
        """(width, height) when get_batch failed because of decord's row bug, else None.

        A single frame read does not fail: it comes back (H, W, more than 3 channels).
        """
        import decord

        try:
            frame = decord.VideoReader(self._source, ctx=decord.cpu(0), num_threads=1)[index]
        except (RuntimeError, decord.DECORDError):
            return None
        height, width, channels = frame.shape
        return (width, height) if channels != 3 else None
