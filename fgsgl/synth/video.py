"""Writing and reading the benchmark's H.264 mp4 files with PyAV.

Byte-identical output for identical frames, whatever else the process encoded before, is
measured, not assumed (av 18.1.0, x264 core 165); it needs:
- x264's macroblock-tree rate control off (`mbtree=0`): with it on, the same frames
  encoded in one process gave different bytes depending on which videos that process
  had encoded before (seen with 8-frame 64 px clips), so worker processes disagreed;
- one x264 thread (the SEI header records the thread count, and frame threads could
  reorder decisions);
- the muxer's and encoder's bitexact flags (no library version string, no creation time);
- our own RGB -> YUV 4:2:0 conversion in exact integer arithmetic (BT.601 limited range,
  what decoders assume for untagged SD video) instead of swscale's SIMD paths;
- a fixed preset and CRF.
The tests encode the same frames after different histories and in worker processes and
compare bytes.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from pathlib import Path

import numpy as np

CRF = 18
PRESET = "medium"


def write_mp4(
    path: str | Path, frames: np.ndarray | Iterable[np.ndarray], fps: int, *, crf: int = CRF
) -> None:
    """Encode (T, H, W, 3) uint8 RGB frames as H.264 (yuv420p) in an mp4 container.

    `frames` may also be an iterable of (H, W, 3) frames, encoded as they come, so a long
    video never has to be held in memory. H and W must be even (4:2:0 chroma halves
    them). The file is written in one go; the caller writes into a staging directory, so
    a crash never leaves a visible half file.
    """
    import av
    from av.codec.context import Flags

    pending = iter(frames)
    first = next(pending, None)
    if first is None:
        raise ValueError("no frames to encode")
    h, w, c = first.shape if first.ndim == 3 else (0, 0, 0)
    if c != 3 or first.dtype != np.uint8:
        raise ValueError(f"frames must be (H, W, 3) uint8, got {first.shape} {first.dtype}")
    if h % 2 or w % 2:
        raise ValueError(f"frame size must be even for yuv420p, got {w}x{h}")
    with av.open(str(path), "w", format="mp4", options={"fflags": "+bitexact"}) as container:
        stream = container.add_stream(
            "libx264",
            rate=fps,
            options={
                "crf": str(crf),
                "preset": PRESET,
                "threads": "1",
                "x264-params": "mbtree=0",
            },
        )
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.codec_context.flags |= Flags.bitexact
        for frame in itertools.chain([first], pending):
            if frame.shape != first.shape or frame.dtype != np.uint8:
                raise ValueError(f"frame {frame.shape} {frame.dtype} after {first.shape} ones")
            yuv = av.VideoFrame.from_ndarray(rgb_to_yuv420p(frame), format="yuv420p")
            for packet in stream.encode(yuv):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


# BT.601 limited range ("studio swing") in 8-bit fixed point: Y in 16..235, Cb/Cr in
# 16..240; the coefficients are the standard integer approximation (ITU-R BT.601 x 256).
_Y = (66, 129, 25)
_CB = (-38, -74, 112)
_CR = (112, -94, -18)


def rgb_to_yuv420p(frame: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 RGB -> the (H * 3 / 2, W) uint8 planar layout PyAV takes for
    yuv420p: the Y plane, then Cb and Cr over 2x2 blocks. Integer arithmetic only, so the
    result is exact and the same everywhere."""
    h, w, _ = frame.shape
    r, g, b = (frame[..., i].astype(np.int32) for i in range(3))

    def mix(k: tuple[int, int, int]) -> np.ndarray:
        return k[0] * r + k[1] * g + k[2] * b

    y = ((mix(_Y) + 128) >> 8) + 16

    def chroma(k: tuple[int, int, int]) -> np.ndarray:
        blocks = mix(k).reshape(h // 2, 2, w // 2, 2).sum(axis=(1, 3))
        return ((blocks + 512) >> 10) + 128  # the mean of 4, and the /256, rounded

    planes = np.concatenate([y.ravel(), chroma(_CB).ravel(), chroma(_CR).ravel()])
    return np.clip(planes, 0, 255).astype(np.uint8).reshape(h * 3 // 2, w)


def read_mp4(path: str | Path) -> tuple[np.ndarray, float]:
    """All frames of a video as (T, H, W, 3) uint8 RGB, and its frame rate."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
        fps = float(stream.average_rate) if stream.average_rate else 0.0
    if not frames:
        raise ValueError(f"{path}: no video frames")
    return np.stack(frames), fps
