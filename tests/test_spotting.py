"""Spotting's parts: windows planned and decoded once, decisions, segments, scoring, and
the timeline picture; on real mp4 files whose frames carry their own number."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from video_helpers import coded_frames, frame_of, write_video

from fgsgl.errors import UsageError
from fgsgl.predict.scoring import match, score, temporal_iou
from fgsgl.predict.spotting import NO_GESTURE, Segment, decide, owned_ranges, segments
from fgsgl.predict.windows import Window, decoded_frames, last_uses, parse_windows, plan_windows
from fgsgl.video.decode import VideoFile
from fgsgl.video.sampling import segment_middles


def test_window_specs() -> None:
    assert parse_windows("32:8").in_frames(25.0) == (32, 8)
    assert parse_windows("2s:0.5s").in_frames(30.0) == (60, 15)
    for bad in ("32", "8:32", "2s:8", "0:0", "3.5:1", "a:b"):
        with pytest.raises(UsageError, match="--windows"):
            parse_windows(bad)


def test_windows_tile_the_video_as_training_clips_and_reach_its_end() -> None:
    windows, note = plan_windows(100, 32, 16, 8)
    assert note == ""
    spans = [(w.start, w.end) for w in windows]
    assert spans == [(0, 31), (16, 47), (32, 63), (48, 79), (64, 95), (68, 99)]  # tail too
    assert windows[1].indices == tuple(segment_middles(16, 47, 8))  # as `fgsgl extract`
    short, note = plan_windows(5, 32, 16, 8)
    assert [(w.start, w.end) for w in short] == [(0, 4)]
    assert short[0].indices == (0, 0, 1, 2, 2, 3, 4, 4)  # floor((2k+1)5/16)
    assert note == "5 frames, shorter than one window of 32: one window, frames repeat (5 < 8)"


class CountingVideo(VideoFile):
    """A real VideoFile that records which frames it was asked to decode."""

    decoded: list[int]

    def read(self, indices: list[int]) -> np.ndarray:
        self.decoded = [*getattr(self, "decoded", []), *indices]
        return super().read(indices)


def test_each_frame_is_decoded_once_in_order(tmp_path: Path) -> None:
    path = write_video(tmp_path / "long.mp4", coded_frames(90))
    video = CountingVideo(str(path), size=16)
    windows, _ = plan_windows(video.frame_count, 24, 6, 4)
    chunks = list(decoded_frames(video, windows, chunk=10))
    needed = sorted({i for w in windows for i in w.indices})
    assert video.decoded == needed == [i for indices, _ in chunks for i in indices]
    assert [len(indices) for indices, _ in chunks[:-1]] == [10] * (len(chunks) - 1)
    for indices, frames in chunks:
        assert frames.shape == (len(indices), 16, 16, 3)
        assert [frame_of(f[8, 8, 1]) for f in frames] == [i % 30 for i in indices]
    last = last_uses(windows)
    assert last[windows[0].indices[0]] == 0 and last[needed[-1]] == len(windows) - 1


def test_decisions_threshold_and_the_non_gesture_class() -> None:
    probs = np.array([[0.7, 0.2, 0.1], [0.4, 0.35, 0.25], [0.1, 0.1, 0.8]])
    labels, scores = decide(probs, [3, 5, 99], threshold=0.5, non_gesture=99)
    assert labels.tolist() == [3, NO_GESTURE, NO_GESTURE]
    assert scores.tolist() == pytest.approx([0.7, 0.4, 0.8])


def test_consecutive_windows_of_a_class_merge_into_one_segment() -> None:
    windows, _ = plan_windows(100, 20, 10, 4)  # starts 0, 10, ..., 80
    assert owned_ranges(windows, 100)[:3] == [(0, 14), (15, 24), (25, 34)]
    assert owned_ranges(windows, 100)[-1] == (85, 99)
    labels = np.array([NO_GESTURE, 4, 4, 4, NO_GESTURE, 7, NO_GESTURE, 4, 4])
    scores = np.array([0.9, 0.6, 0.8, 0.7, 0.9, 0.55, 0.9, 0.5, 0.7])
    got = segments("v.mp4", windows, labels, scores, 100)
    assert got == [
        Segment("v.mp4", 15, 44, 4, pytest.approx(0.7)),
        Segment("v.mp4", 55, 64, 7, pytest.approx(0.55)),
        Segment("v.mp4", 75, 99, 4, pytest.approx(0.6)),
    ]
    assert [s.label for s in segments("v.mp4", windows, labels, scores, 100, min_frames=11)] == [
        4,
        4,
    ]


def test_temporal_iou_counts_inclusive_frames() -> None:
    assert temporal_iou((0, 9), (0, 9)) == 1.0
    assert temporal_iou((0, 9), (5, 14)) == pytest.approx(5 / 15)
    assert temporal_iou((0, 9), (10, 19)) == 0.0


def test_scoring_by_hand() -> None:
    truth = [
        Segment("a", 10, 29, 1, 1.0),
        Segment("a", 50, 69, 2, 1.0),
        Segment("b", 0, 19, 1, 1.0),
    ]
    predicted = [
        Segment("a", 12, 31, 1, 0.9),  # IoU 18/22: TP
        Segment("a", 14, 27, 1, 0.8),  # the same truth, already taken: FP
        Segment("a", 50, 69, 1, 0.7),  # the wrong class: FP (and truth 2 missed)
        Segment("b", 15, 40, 1, 0.6),  # IoU 5/41 < 0.5: FP (and b's truth missed)
    ]
    matches, missed = match(predicted, truth, iou=0.5)
    assert [m.truth is not None for m in matches] == [True, False, False, False]
    assert matches[0].iou == pytest.approx(18 / 22)
    assert sorted((t.video, t.label) for t in missed) == [("a", 2), ("b", 1)]
    result = score(predicted, truth, iou=0.5)
    one, two = result["per_class"][1], result["per_class"][2]
    assert (one.tp, one.fp, one.fn) == (1, 3, 1) and (two.tp, two.fp, two.fn) == (0, 0, 1)
    overall = result["overall"]
    assert (overall.tp, overall.fp, overall.fn) == (1, 3, 2)
    assert overall.precision == pytest.approx(0.25) and overall.recall == pytest.approx(1 / 3)
    assert overall.f1 == pytest.approx(2 * 0.25 * (1 / 3) / (0.25 + 1 / 3))
    assert result["macro_f1"] == pytest.approx(one.f1 / 2)
    assert ">= 0.5" in result["rule"]


def test_the_timeline_picture() -> None:
    from PIL import Image

    from fgsgl.evaluate.charts import timeline_chart

    rows = {
        "predicted": [(0.5, 1.5, "rubbing eyes"), (2.0, 2.4, "folding arms")],
        "truth": [(0.4, 1.6, "rubbing eyes")],
    }
    png = timeline_chart("v.mp4", 3.0, rows)
    with Image.open(io.BytesIO(png)) as image:
        assert image.format == "PNG" and image.width > 600
    assert Window(0, 9, (1, 3)).centre == 4.5
