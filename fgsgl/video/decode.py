"""Reading a clip's frames with decord: only the frames needed, resized while decoding.

decord's VideoReader counts frames from the demuxer's packet index (no decoding, and not
the container's frame-count field, which AVI and MP4 files can state wrongly). That count
is still a claim: a truncated or damaged file has packets that do not decode. So the
count is checked by decoding: `read` fetches exactly the sampled indices with
`get_batch`, and any frame that does not decode turns the clip into a `VideoError` that
carries the decoder's own message (the clip goes to failures.csv, the rest goes on).

Resizing happens inside decord's FFmpeg filter graph (VideoReader width/height), in the
same pass as the YUV->RGB conversion, so it costs almost nothing over decoding at the
native size. `squash` scales straight to S x S; `center-crop` scales the shorter side to
S (the probe reads the displayed size, rotation included) and cuts the middle.

decord 3.4.0 returns a wrongly shaped frame when FFmpeg pads the RGB rows to a multiple
of the frame width (e.g. widths 32, 48, 96): such widths are never asked for; the frame
is decoded a little wider and resized (squash) or cropped (center-crop) instead.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import cache

import numpy as np

RESIZE_MODES = ("squash", "center-crop")
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


@dataclass(frozen=True)
class Geometry:
    """How decord is asked to scale, and how its output becomes S x S.

    decode_width x decode_height is what decord returns; then a crop at (x, y) of
    crop_width x S, and a horizontal resize to S only when crop_width != S (a squash to a
    width decord cannot return).
    """

    size: int
    decode_width: int
    decode_height: int
    x: int = 0
    y: int = 0
    crop_width: int | None = None

    @property
    def needs_resize(self) -> bool:
        return (self.crop_width or self.size) != self.size


def squash_geometry(size: int) -> Geometry:
    width = safe_width(size)
    return Geometry(size, width, size, crop_width=width)


def center_crop_geometry(size: int, width: int, height: int) -> Geometry:
    """Scale the shorter side of a `width` x `height` picture to `size`, keep the middle."""
    if width >= height:
        dh = size
        dw = safe_width(max(size, round(width * size / height)))
    else:
        dw = safe_width(size)
        dh = max(size, round(height * dw / width))
    return Geometry(size, dw, dh, x=(dw - size) // 2, y=(dh - size) // 2, crop_width=size)


def displayed_size(path: str) -> tuple[int, int]:
    """Width and height as displayed (rotation applied, as decord applies it).

    Read from the first decoded frame with PyAV: the stream header has the coded size
    only, and the rotation lives in side data that PyAV exposes on frames.
    """
    import av

    try:
        with av.open(path) as container:
            frame = next(container.decode(video=0))
            width, height = frame.width, frame.height
            if frame.rotation % 180 != 0:
                width, height = height, width
            return width, height
    except StopIteration:
        raise VideoError("the video stream has no frames") from None
    except IndexError:
        raise VideoError("no video stream") from None
    except av.error.FFmpegError as e:
        raise VideoError(e.strerror or str(e)) from e


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
    """

    def __init__(self, path: str, *, size: int, resize: str = "squash") -> None:
        import decord

        if resize not in RESIZE_MODES:
            raise ValueError(f"resize must be one of {RESIZE_MODES}, not {resize!r}")
        _quiet_decord()
        self.path = path
        _check_file(path)
        self._displayed: tuple[int, int] | None = None
        if resize == "squash":
            self.geometry = squash_geometry(size)
        else:
            self.geometry = center_crop_geometry(size, *self.displayed_size())
        g = self.geometry
        try:
            self._reader = decord.VideoReader(
                path,
                ctx=decord.cpu(0),
                width=g.decode_width,
                height=g.decode_height,
                num_threads=1,
            )
        except (RuntimeError, decord.DECORDError) as e:
            raise _open_failure(path, e) from e
        self.frame_count = len(self._reader)

    def displayed_size(self) -> tuple[int, int]:
        """The video's width and height as displayed (probed once, on first use)."""
        if self._displayed is None:
            self._displayed = displayed_size(self.path)
        return self._displayed

    def read(self, indices: list[int]) -> np.ndarray:
        """uint8 (len(indices), S, S, 3) RGB; VideoError when any of them does not decode."""
        import decord

        bad = [i for i in indices if not 0 <= i < self.frame_count]
        if bad:
            raise ValueError(f"indices {bad} outside 0..{self.frame_count - 1}")
        g = self.geometry
        try:
            batch = self._reader.get_batch(indices).asnumpy()
        except decord.DECORDError as e:
            self._reopen()  # decord's reader stays broken after a decoding error
            raise VideoError(
                f"{decord_message(e)} (reading frames {indices[0]}..{indices[-1]} of the "
                f"{self.frame_count} that decord counts: truncated or corrupt video)"
            ) from e
        expected = (len(indices), g.decode_height, g.decode_width, 3)
        if batch.shape != expected:  # decord's padded-row bug at a width we did not foresee
            raise VideoError(f"decord returned frames of shape {batch.shape}, not {expected}")
        crop_w = g.crop_width or g.size
        out = batch[:, g.y : g.y + g.size, g.x : g.x + crop_w]
        if g.needs_resize:
            out = _resize_width(out, g.size)
        return np.ascontiguousarray(out)

    def _reopen(self) -> None:
        import decord

        g = self.geometry
        self._reader = decord.VideoReader(
            self.path,
            ctx=decord.cpu(0),
            width=g.decode_width,
            height=g.decode_height,
            num_threads=1,
        )


def _resize_width(frames: np.ndarray, width: int) -> np.ndarray:
    """Bicubic horizontal resize (FFmpeg's default scaler is bicubic too)."""
    from PIL import Image

    return np.stack(
        [
            np.asarray(Image.fromarray(f).resize((width, f.shape[0]), Image.Resampling.BICUBIC))
            for f in frames
        ]
    )
