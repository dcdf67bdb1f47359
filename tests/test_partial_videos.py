"""Partial videos on real cut files: an mp4 whose index (moov) comes first, cut off, still
promises every frame. Found from the header, read only as far as it holds, its clips
failed or kept by the rule, and reported by `fgsgl validate --check-files`."""

from __future__ import annotations

import struct
from pathlib import Path

import av
import pytest
from video_helpers import coded_frames, frame_of, make_dataset, write_video

from fgsgl.cli import main
from fgsgl.video.decode import VideoFile
from fgsgl.video.frames import FramesArtifact
from fgsgl.video.partial import (
    PartialClipError,
    Shortfall,
    clip_note,
    find_shortfall,
    read_header,
)
from fgsgl.video.sampling import NoFramesError
from fgsgl.video.worker import read_clip

T, S = 8, 32
PROMISED = 60


def whole_packets(path: Path) -> int:
    """Packets the demuxer returns whole (a cut one comes back flagged corrupt)."""
    with av.open(str(path)) as container:
        return sum(1 for p in container.demux(video=0) if p.size and not p.is_corrupt)


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("partial")
    faststart = {"movflags": "faststart"}  # the index first: it survives the cut
    whole = write_video(root / "whole.mp4", coded_frames(PROMISED), container_options=faststart)
    data = whole.read_bytes()
    cut = root / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * 0.7)])
    return {"whole": whole, "cut": cut, "good": write_video(root / "good.mp4", coded_frames(20))}


def test_the_header_shows_what_a_cut_copy_lacks(videos: dict[str, Path]) -> None:
    whole, cut = read_header(str(videos["whole"])), read_header(str(videos["cut"]))
    assert (whole.indexed, whole.held, whole.cut) == (PROMISED, PROMISED, None)
    assert whole.index_end == videos["whole"].stat().st_size  # the last sample ends the file
    assert cut.indexed == PROMISED and cut.index_end == whole.index_end
    held = whole_packets(videos["cut"])
    assert 10 < held < PROMISED and cut.held == held
    assert cut.size == videos["cut"].stat().st_size
    # the held part ends where a sample begins: cut there, no packet comes back corrupt
    held_part = videos["cut"].parent / "held_part.mp4"
    held_part.write_bytes(videos["cut"].read_bytes()[: cut.cut])
    with av.open(str(held_part)) as container:
        packets = [p for p in container.demux(video=0) if p.size]
    assert len(packets) == held and not any(p.is_corrupt for p in packets)
    assert find_shortfall(str(videos["whole"])) is None
    short = find_shortfall(str(videos["cut"]))
    assert str(short) == (
        f"partial video: its container promises {PROMISED} frames, the file holds {held} "
        f"(its sample index runs to byte {whole.index_end:,}, the file ends at byte "
        f"{cut.size:,})"
    )


def test_avi_headers_without_and_with_an_index(tmp_path: Path) -> None:
    avi = write_video(tmp_path / "a.avi", coded_frames(40), codec="mpeg4")
    data = bytearray(avi.read_bytes())
    (tmp_path / "cut.avi").write_bytes(bytes(data[: len(data) * 3 // 4]))  # idx1 is lost
    short = find_shortfall(str(tmp_path / "cut.avi"))
    assert short is not None and short.promised == 40 and 0 < short.held < 40
    assert str(short).endswith("(the header's frame count; the file has no per-frame index)")
    # a header that claims too many frames, but an index (idx1) that lists every one
    struct.pack_into("<I", data, data.find(b"avih") + 8 + 16, 999)
    struct.pack_into("<I", data, data.find(b"strh") + 8 + 32, 999)
    (tmp_path / "lie.avi").write_bytes(bytes(data))
    assert find_shortfall(str(tmp_path / "lie.avi")) is None


def test_a_partial_video_reads_every_frame_it_holds_in_place(videos: dict[str, Path]) -> None:
    video = VideoFile(str(videos["cut"]), size=S)
    short = video.shortfall
    assert short is not None and short.promised == PROMISED
    assert short.held == whole_packets(videos["cut"])
    # frames shown before the first missing one's decode time: x264's 2-frame delay
    assert video.frame_count == short.readable == short.held - 2
    clip = video.read(list(range(video.frame_count)))  # the tail too (decord alone fails there)
    assert [frame_of(g) for g in clip[:, S // 2, S // 2, 1]] == [
        i % 30 for i in range(video.frame_count)
    ]
    assert VideoFile(str(videos["whole"]), size=S).shortfall is None
    # what prediction reads clips with: a clip it cannot take is a NoFramesError it reports
    with pytest.raises(NoFramesError, match=r"^partial video: .* the clip is the whole video"):
        read_clip(video, None, None, T)


def test_the_clip_rule() -> None:
    short = Shortfall(promised=60, held=30, readable=28, evidence="e")
    assert clip_note(short, 0, 27, keep=False).endswith(
        "; the clip's frames 0..27 lie inside the readable 28"
    )
    with pytest.raises(PartialClipError, match=r"frames 20\.\.28 reach past frame 27, the last"):
        clip_note(short, 20, 28, keep=False)
    assert clip_note(short, 20, 28, keep=True).endswith(
        "; frames past 27 are missing (--keep-partial)"
    )
    with pytest.raises(PartialClipError, match="the clip is the whole video"):
        clip_note(short, None, None, keep=False)
    assert "sampled over the 28 readable frames" in clip_note(short, None, None, keep=True)
    with pytest.raises(PartialClipError, match=r"frames 40\.\.50 reach past frame 27"):
        clip_note(short, 40, 50, keep=True)  # nothing of it is there to keep


def test_extraction_fails_or_keeps_the_clips_of_a_partial_video(
    videos: dict[str, Path], tmp_path: Path
) -> None:
    root = tmp_path / "ds"
    (root / "v").mkdir(parents=True)
    for name in ("cut", "good"):
        (root / "v" / f"{name}.mp4").write_bytes(videos[name].read_bytes())
    rows = [
        {"clip_id": "whole", "video": "v/cut.mp4"},
        {"clip_id": "inside", "video": "v/cut.mp4", "start_frame": 2, "end_frame": 17},
        {"clip_id": "past", "video": "v/cut.mp4", "start_frame": 20, "end_frame": 59},
        {"clip_id": "good", "video": "v/good.mp4"},
    ]
    make_dataset(root, [{**r, "label": 0, "split": "train"} for r in rows])
    short = VideoFile(str(root / "v" / "cut.mp4"), size=S).shortfall
    assert short is not None
    last = short.readable - 1
    out = tmp_path / "frames"

    def extracted(*flags: str) -> FramesArtifact:
        args = ["extract", str(root), str(out), "--frames", str(T), "--size", str(S)]
        assert main([*args, "--workers", "1", "--max-failure-ratio", "1", *flags]) == 0
        return FramesArtifact.open(out)

    promise = f"its container promises {PROMISED} frames, the file holds {short.held}"
    art = extracted()
    failures = art.failures().set_index("clip_id")
    assert sorted(failures.index) == ["past", "whole"]
    assert promise in failures.loc["whole", "error"]
    assert failures.loc["whole", "error"].endswith(
        f"the clip is the whole video (--keep-partial samples the {short.readable} readable frames)"
    )
    assert failures.loc["past", "error"].endswith(
        f"the clip's frames 20..59 reach past frame {last}, the last readable one "
        "(--keep-partial keeps what it holds)"
    )
    assert failures.loc["past", "video"] == "v/cut.mp4"
    index = art.index.set_index("clip_id")
    assert list(index.index) == ["inside", "good"]
    assert promise in index.loc["inside", "note"]
    assert index.loc["inside", "note"].endswith(f"frames 2..17 lie inside the readable {last + 1}")
    assert index.loc["good", "note"] == "" and art.meta["keep_partial"] is False

    art = extracted("--keep-partial")  # a rerun: the failed clips are tried again
    index = art.index.set_index("clip_id")
    assert list(index.index) == ["whole", "inside", "past", "good"] and art.failures().empty
    assert art.meta["keep_partial"] is True
    assert index.loc["whole", "note"].endswith(
        f"sampled over the {short.readable} readable frames (--keep-partial)"
    )
    assert (
        f"frames past {last} are missing (--keep-partial); end_frame 59 clamped to the "
        f"video's last frame {last}" in index.loc["past", "note"]
    )
    for i, clip_id in enumerate(index.index[:3]):
        indices = art.frame_indices(i)
        assert max(indices) <= last, clip_id
        greens = art.array(i)[:, S // 2, S // 2, 1]
        assert [frame_of(g) for g in greens] == [f % 30 for f in indices], clip_id

    art = extracted()  # without the flag again: what only it kept fails again
    assert sorted(art.failures()["clip_id"]) == ["past", "whole"]
    assert list(art.index["clip_id"]) == ["inside", "good"]
    # a clip inside the readable part was never redone: its slot is the one written first
    assert art.index.set_index("clip_id").loc["inside", "note"] == index.loc["inside", "note"]


def test_validate_check_files_reports_partial_videos(
    videos: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    root = (tmp_path / "ds").resolve()
    root.mkdir()
    for name in ("cut", "good"):
        (root / f"{name}.mp4").write_bytes(videos[name].read_bytes())
    rows = [
        {"clip_id": "a", "video": "good.mp4"},
        {"clip_id": "b", "video": "cut.mp4", "start_frame": 0, "end_frame": 9},
        {"clip_id": "c", "video": "cut.mp4", "start_frame": 30, "end_frame": 59},
    ]
    make_dataset(root, [{**r, "label": 0, "split": "train"} for r in rows])
    assert main(["validate", str(root)]) == 0  # the files are only read with --check-files
    capsys.readouterr()
    assert main(["validate", str(root), "--check-files"]) == 1
    err = capsys.readouterr().err.splitlines()
    short = find_shortfall(str(root / "cut.mp4"))
    assert err[1:] == [
        f"  - manifest.csv rows 2, 3 (lines 3, 4): video file {root / 'cut.mp4'}: {short}"
    ]
    (root / "cut.mp4").write_bytes(videos["whole"].read_bytes())  # copied again, whole
    assert main(["validate", str(root), "--check-files"]) == 0
