"""Which frames a clip contributes: segment middles, repeats, clamping."""

from __future__ import annotations

import pytest

from fgsgl.video.sampling import (
    NoFramesError,
    clip_range,
    sample_indices,
    segment_middles,
)


def test_segment_middles_of_a_90_frame_clip() -> None:
    # 90 frames in 8 segments of 11.25: middles at 5.625, 16.875, ... floored
    assert segment_middles(0, 89, 8) == [5, 16, 28, 39, 50, 61, 73, 84]


def test_segment_middles_are_offset_by_the_start() -> None:
    assert segment_middles(100, 189, 8) == [i + 100 for i in segment_middles(0, 89, 8)]


def test_exactly_t_frames_takes_each_once() -> None:
    assert segment_middles(3, 10, 8) == list(range(3, 11))


def test_a_clip_shorter_than_t_repeats_frames_in_order() -> None:
    assert segment_middles(0, 2, 8) == [0, 0, 0, 1, 1, 2, 2, 2]
    assert segment_middles(7, 7, 4) == [7, 7, 7, 7]


def test_indices_stay_inside_the_range() -> None:
    for n in range(1, 60):
        for t in (1, 3, 8, 16):
            idx = segment_middles(10, 10 + n - 1, t)
            assert len(idx) == t
            assert idx == sorted(idx)
            assert idx[0] >= 10 and idx[-1] <= 10 + n - 1


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        segment_middles(5, 4, 8)
    with pytest.raises(ValueError):
        segment_middles(0, 4, 0)


def test_whole_video_when_no_range() -> None:
    r = clip_range(None, None, 50)
    assert (r.start, r.end, r.note) == (0, 49, "")


def test_end_past_the_video_is_clamped_and_noted() -> None:
    r = clip_range(40, 80, 50)
    assert (r.start, r.end) == (40, 49)
    assert "end_frame 80 clamped to the video's last frame 49" in r.note


def test_start_past_the_video_has_no_frames() -> None:
    with pytest.raises(NoFramesError, match="start_frame 50 is past the video's last frame 49"):
        clip_range(50, 60, 50)


def test_empty_video_has_no_frames() -> None:
    with pytest.raises(NoFramesError, match="no frames"):
        clip_range(None, None, 0)


def test_sample_indices_notes_repeats_and_clamps() -> None:
    indices, note = sample_indices(45, 80, 50, 8)
    # n = 5: floor((2k+1)*5/16) = 0 0 1 2 2 3 4 4
    assert indices == [45, 45, 46, 47, 47, 48, 49, 49]
    assert "clamped" in note and "5 frames < 8: indices repeat" in note
    assert sample_indices(None, None, 90, 8) == ([5, 16, 28, 39, 50, 61, 73, 84], "")
