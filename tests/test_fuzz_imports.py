"""Fuzzed sources through `fgsgl import`: iMiGUE / SMG label files, FG annotation CSVs,
mmaction list files and skeleton (keypoint) files. Each input either imports with exactly
the values an oracle reads from what was written (clip ids, labels, frames, attributes,
joints), or is refused with one error naming every bad line / row, exit 1 or 2, no
traceback, and no OUT (nor a staging folder beside it).

Sources are tiny trees with stand-in video files (nothing decodes them).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from fuzz_strategies import (
    BAD,
    EMPTY,
    assert_one_error,
    fuzz,
    int_cell,
    menu,
    names_row,
    run_cli,
    write_csv_rows,
)
from hypothesis import assume, event, given
from hypothesis import strategies as st

from fgsgl.dataset import load_dataset
from fgsgl.dataset.importers.skeleton_formats import IMIGUE_JOINTS


@dataclass
class LabelFile:
    """One label file as lines of text, and what each line must become."""

    lines: list[str]
    segments: list[tuple[int, int, int, int]]  # (row, label as written, start, end)
    bad_lines: set[int] = field(default_factory=set)  # 1-based
    non_gesture_lines: list[int] = field(default_factory=list)


def _fresh(*folders: Path) -> None:
    for folder in folders:
        if folder.exists():
            shutil.rmtree(folder)


def _nothing_written(out: Path) -> None:
    assert not out.exists()
    assert not [p for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.")]


def _imported(
    outcome: Any, out: Path, bad: dict[str, set[int]], expected: list
) -> pd.DataFrame | None:
    """The imported manifest; or, where the input has bad lines (or no clips), None once
    the refusal is checked: one error naming every bad line of every file, nothing written."""
    if any(bad.values()):
        event("refused")
        assert_one_error(outcome, "import")
        for name, lines in bad.items():
            for line in lines:
                assert names_row(outcome.err, name, line, "line"), (name, line, outcome.err)
        _nothing_written(out)
        return None
    if not expected:
        assert_one_error(outcome, "import", "hold no clips")
        _nothing_written(out)
        return None
    event("imported")
    assert outcome.rc == 0, outcome.err
    return load_dataset(out).manifest


@st.composite
def label_files(draw: st.DrawFn, labels: list[int], clean: bool) -> LabelFile:
    """Lines `label,start,end` with odd spellings, blank lines, other delimiters, a header
    (`clean`: only good and blank lines)."""
    out = LabelFile([], [])
    row = 0
    if not clean and draw(st.integers(0, 5)) == 0:
        out.lines.append("gestureID,startFrame,endFrame")
        out.bad_lines.add(1)
        row += 1
    kinds = ["good", "blank"] if clean else ["good", "good", "odd", "blank", "fields", "tabs"]
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(kinds))
        if kind == "blank":
            out.lines.append(draw(st.sampled_from(["", " , , ", ",,"])))
            continue
        line = len(out.lines) + 1
        odd = draw(st.sampled_from(["label", "start", "end"])) if kind == "odd" else ""
        label, label_v = draw(int_cell(draw(st.sampled_from(labels)), bad=odd == "label"))
        start, start_v = draw(int_cell(draw(st.sampled_from([0, 7])), bad=odd == "start"))
        ends = [7, 12, 3] if odd == "end" else [7, 12]
        end, end_v = draw(int_cell(draw(st.sampled_from(ends)), bad=odd == "end"))
        cells = [label, start, end]
        assume(any(c.strip() for c in cells))  # else a blank line
        if kind == "fields":
            cells = draw(st.sampled_from([cells[:2], [*cells, "1"]]))
        out.lines.append(("\t" if kind == "tabs" else ",").join(cells))
        values = (label_v, start_v, end_v)
        wrong = kind in ("fields", "tabs") or BAD in values or EMPTY in values
        if wrong or start_v < 0 or end_v < 0 or start_v > end_v:
            out.bad_lines.add(line)
        else:
            out.segments.append((row, label_v, start_v, end_v))
        row += 1
    return out


def _file_bytes(lines: list[str], crlf: bool, bom: bool) -> bytes:
    text = ("\r\n" if crlf else "\n").join(lines) + "\n"
    return (b"\xef\xbb\xbf" if bom else b"") + text.encode()


IMIGUE_VIDEOS = {
    "0001": ("imigue_skeleton_train/0001", "imigue_rgb_phase1/train_data/0001", "train"),
    "0002": ("imigue_skeleton_validate/0002", "imigue_rgb_phase1/validation_data/0002", "val"),
}
SMG_SAMPLES = {"Sample0001": "1", "Sample0037": "37"}  # subject 37 is in the default test


@fuzz(50)
@given(
    kind=st.sampled_from(["imigue", "smg"]),
    non_gesture=st.sampled_from(["error", "drop", "keep"]),
    data=st.data(),
    crlf=st.booleans(),
    bom=st.booleans(),
)
def test_fuzzed_label_files(tmp_path: Path, kind, non_gesture, data, crlf, bom):
    src, out = tmp_path / "src", tmp_path / "out"
    _fresh(src, out)
    clean = data.draw(st.booleans(), label="clean")  # only good lines in every file
    if kind == "imigue":
        labels = [1, 5, 32] if clean else [1, 32, 99, 0, 33]
    else:
        labels = [1, 9, 17] if clean else [1, 17, 0, 18]
    files: dict[str, LabelFile] = {}
    ids = IMIGUE_VIDEOS if kind == "imigue" else SMG_SAMPLES
    for vid in ids:
        if kind == "imigue":
            labels_dir, videos_dir, _ = IMIGUE_VIDEOS[vid]
            name, video = f"{labels_dir}/{vid}_label.csv", f"{videos_dir}/{vid}.mp4"
        else:
            name, video = f"{vid}/{vid}_finelabels.csv", f"{vid}/{vid}_color.mp4"
        files[name] = data.draw(label_files(labels, clean), label=name)
        for path in (src / name, src / video):
            path.parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_bytes(_file_bytes(files[name].lines, crlf, bom))
        (src / video).write_bytes(b"stand-in video")
    argv = ["import", kind, str(src), str(out), "--val-fraction", "0"]
    argv += ["--non-gesture", non_gesture] if kind == "imigue" else []
    outcome = run_cli(argv)

    top = 32 if kind == "imigue" else 17
    expected, bad = [], {}
    for (name, lf), vid in zip(files.items(), ids, strict=True):
        bad[name] = set(lf.bad_lines)
        for row, label, start, end in lf.segments:
            line = _line_of(lf, row)
            if kind == "imigue" and label == 99:
                if non_gesture == "error":
                    bad[name].add(line)
                elif non_gesture == "keep":
                    expected.append((f"{vid}_{row}", top, start, end, _split(kind, vid)))
            elif not 1 <= label <= top:
                bad[name].add(line)
            else:
                expected.append((f"{vid}_{row}", label - 1, start, end, _split(kind, vid)))
    m = _imported(outcome, out, bad, expected)
    if m is None:
        return
    got = list(
        zip(m["clip_id"], m["label"], m["start_frame"], m["end_frame"], m["split"], strict=True)
    )
    assert got == expected


def _line_of(lf: LabelFile, row: int) -> int:
    """The 1-based line of segment row `row` (blank lines hold no row)."""
    rows = [i + 1 for i, line in enumerate(lf.lines) if line.replace(",", "").strip()]
    return rows[row]


def _split(kind: str, vid: str) -> str:
    if kind == "imigue":
        return IMIGUE_VIDEOS[vid][2]
    return "test" if SMG_SAMPLES[vid] == "37" else "train"


# --- FG annotations ----------------------------------------------------------------

IMIGUE_LABELS = {"0001": "5,0,30\n12,41,60\n", "0002": "1,5,9\n"}
CLIPS = ["0001_0", "0001_1", "0002_0"]
ATTRIBUTE_COLUMNS = ["initiator", "receiver", "direction", "motion"]
ATTRIBUTE_CELLS = [
    ("right hand", "right hand"),
    (" right hand ", "right hand"),
    ("правая рука", "правая рука"),
    ('hand, "left"', 'hand, "left"'),
    ("", EMPTY),
]
ANNOTATION_IDS = [
    ("{clip}", "{clip}"),
    (" {clip}", BAD),
    ("{clip} ", BAD),
    ("9999_0", BAD),  # no clip of this import
    ("", BAD),
]


def _imigue_tree(src: Path) -> None:
    for vid, text in IMIGUE_LABELS.items():
        labels_dir, videos_dir, _ = IMIGUE_VIDEOS[vid]
        for folder in (src / labels_dir, src / videos_dir):
            folder.mkdir(parents=True, exist_ok=True)
        (src / labels_dir / f"{vid}_label.csv").write_text(text)
        (src / videos_dir / f"{vid}.mp4").write_bytes(b"stand-in video")


@fuzz(40)
@given(data=st.data(), order=st.permutations(range(6)), drop=st.sampled_from([None, None, 2]))
def test_fuzzed_fg_annotations(tmp_path: Path, data, order, drop):
    src, out, csv_path = tmp_path / "src", tmp_path / "out", tmp_path / "fg.csv"
    _fresh(src, out)
    _imigue_tree(src)
    rows, expected, bad = [], {}, set()
    clips = data.draw(st.lists(st.sampled_from(CLIPS), min_size=1, max_size=4), label="clips")
    for i, clip in enumerate(clips):
        odd = data.draw(st.booleans())
        written, clip_v = data.draw(
            st.sampled_from([c for c in ANNOTATION_IDS if odd or c[1] is not BAD]).map(
                lambda c, clip=clip: (c[0].format(clip=clip), c[1])
            )
        )
        cells = [data.draw(menu(ATTRIBUTE_CELLS, i)) for _ in range(5)]
        assume(written.strip() or any(c[0].strip() for c in cells))  # else a blank line
        rows.append([written] + [c[0] for c in cells])
        if clip_v is BAD:
            bad.add(i)
        elif clip in expected:  # the same clip twice: both rows named
            bad |= {i, expected[clip][0]}
        else:
            expected[clip] = (i, [c[1] for c in cells])
    header = ["clip_id", *ATTRIBUTE_COLUMNS, "fg_text"]
    if drop is not None:
        header.pop(drop)
        rows = [r[:drop] + r[drop + 1 :] for r in rows]
    keep = [j for j in order if j < len(header)]
    write_csv_rows(csv_path, [header[j] for j in keep], [[r[j] for j in keep] for r in rows])
    argv = ["import", "imigue", str(src), str(out), "--val-fraction", "0"]
    outcome = run_cli([*argv, "--fg-annotations", str(csv_path)])
    if drop is not None:
        assert_one_error(outcome, "import", "missing column(s) receiver")
        _nothing_written(out)
        return
    if bad:
        event("refused")
        assert_one_error(outcome, "import")
        for i in bad:
            assert names_row(outcome.err, "fg.csv", i + 1), (i, outcome.err)
        _nothing_written(out)
        return
    event("joined")
    assert outcome.rc == 0, outcome.err
    m = load_dataset(out).manifest.set_index("clip_id")
    for clip in CLIPS:
        values = expected[clip][1] if clip in expected else [EMPTY] * 5
        for column, value in zip([*ATTRIBUTE_COLUMNS, "fg_text"], values, strict=True):
            got = m.loc[clip, column]
            assert pd.isna(got) if value is EMPTY else got == value, (clip, column, got)


# --- list files ----------------------------------------------------------------------

# (path as listed, its clip id, and what is wrong with it: None, "fields" or "outside"
# (refused before the path is taken as listed), or "missing" (after); "comment": skipped)
LIST_PATHS = [
    ("videos/a{i}.mp4", "videos/a{i}", None),
    ("videos/sub/../a{i}.mp4", "videos/a{i}", None),
    ("{abs}/videos/a{i}.mp4", "{abs}/videos/a{i}", None),
    ("videos/ü {i}.mp4", None, "fields"),  # a space splits the line into three fields
    ("../outside/a{i}.mp4", None, "outside"),  # leads out of the data prefix
    ("videos/missing{i}.mp4", "videos/missing{i}", "missing"),
    ("#videos/a{i}.mp4", None, "comment"),
]


@fuzz(40)
@given(data=st.data(), crlf=st.booleans(), bom=st.booleans(), one_based=st.booleans())
def test_fuzzed_list_files(tmp_path: Path, data, crlf, bom, one_based):
    src, out = tmp_path / "src", tmp_path / "out"
    _fresh(src, out, tmp_path / "outside")
    (src / "videos" / "sub").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    for i in range(4):
        (src / "videos" / f"a{i}.mp4").write_bytes(b"stand-in video")
        (src / "videos" / f"ü {i}.mp4").write_bytes(b"stand-in video")
        (tmp_path / "outside" / f"a{i}.mp4").write_bytes(b"stand-in video")
    (src / "classes.txt").write_text("touching neck\nrubbing eyes\nnodding\n")
    lines, expected, bad, seen = [], [], set(), set()
    lowest = int(one_based)
    for i in range(data.draw(st.integers(1, 4), label="lines")):
        odd = data.draw(st.sampled_from(["", "path", "label"]))
        options = [p for p in LIST_PATHS if odd == "path" or p[2] in (None, "comment")]
        path, clip, wrong = data.draw(st.sampled_from(options))
        path = path.format(i=i % 2, abs=src)  # i % 2: a path may be listed twice
        clip = clip and clip.format(i=i % 2, abs=src)
        label, label_v = data.draw(
            int_cell(lowest + i % 3, bad=odd == "label")
            | int_cell(lowest + (3 if odd == "label" else 0), bad=odd == "label")
        )
        lines.append(f"{path} {label}")
        line = len(lines)
        if wrong == "comment":
            continue
        if wrong in ("fields", "outside") or label_v in (BAD, EMPTY):
            bad.add(line)
            continue
        if clip in seen:  # listed again
            bad.add(line)
            continue
        seen.add(clip)
        if wrong == "missing" or not 0 <= label_v - lowest < 3:
            bad.add(line)
        else:
            expected.append((clip, label_v - lowest))
    (src / "train_list.txt").write_bytes(_file_bytes(lines, crlf, bom))
    argv = ["import", "list", str(src), str(out), "--classes", str(src / "classes.txt")]
    argv += ["--val-fraction", "0", *(["--one-based"] if one_based else [])]
    outcome = run_cli(argv)
    m = _imported(outcome, out, {"train_list.txt": bad}, expected)
    if m is not None:
        assert list(zip(m["clip_id"], m["label"], strict=True)) == expected


# --- skeleton (keypoint) files -------------------------------------------------------

FIELDS = 1 + 3 * len(IMIGUE_JOINTS)  # a frame number, then 35 x (x, y, confidence)
# (cell, the value it is read as: a float, NAN (joint not found) or BAD)
NAN: Any = "<nan>"
COORDINATES = [
    ("12.5", 12.5),
    ("3", 3.0),
    ("1e1", 10.0),
    ("-0.5", -0.5),
    ("nan", NAN),
    ("", NAN),
    ("inf", BAD),
    ("abc", BAD),
    ("\u0663", BAD),
    ("0x1", BAD),
]


@st.composite
def skeleton_files(draw: st.DrawFn) -> tuple[list[str], np.ndarray | None]:
    """Lines of a `_light_hand.csv`, and the (frames, 35, 3) array it must become (None:
    refused)."""
    lines, frames, ok = [], [], True
    if draw(st.booleans()):
        lines.append(",".join(["frame", *(f"v{j}" for j in range(FIELDS - 1))]))
    for f in range(draw(st.integers(1, 3))):
        choices = [c for c in COORDINATES if c[1] is not BAD]
        cells = [str(f)]
        values = np.zeros((len(IMIGUE_JOINTS), 3))
        missing = np.zeros(len(IMIGUE_JOINTS), dtype=bool)
        spelled = draw(st.lists(st.sampled_from(choices), min_size=6, max_size=6))
        for j in range(len(IMIGUE_JOINTS)):
            x, y, c = spelled[(3 * j) % 6], spelled[(3 * j + 1) % 6], ("0.9", 0.9)
            if j % 7 == 3:
                c = ("0", 0.0)  # not found by OpenPose
            for k, (cell, value) in enumerate((x, y, c)):
                cells.append(cell)
                if value is NAN:
                    missing[j] = True
                else:
                    values[j, k] = value
        missing |= values[:, 2] <= 0
        values[missing] = 0
        if draw(st.booleans()):  # one odd cell anywhere in the frame (not its number)
            cells[draw(st.integers(1, FIELDS - 1))] = draw(
                st.sampled_from([c for c, v in COORDINATES if v is BAD])
            )
            ok = False
        if draw(st.integers(0, 6)) == 0:
            cells.append("1")  # one field too many
            ok = False
        lines.append(",".join(cells))
        frames.append(values)
    return lines, np.stack(frames).astype(np.float32) if ok else None


@fuzz(30)
@given(skeleton=skeleton_files(), skip=st.booleans(), crlf=st.booleans(), bom=st.booleans())
def test_fuzzed_skeleton_files(tmp_path: Path, skeleton, skip, crlf, bom):
    src, out = tmp_path / "src", tmp_path / "out"
    _fresh(src, out)
    _imigue_tree(src)
    lines, want = skeleton
    for vid in IMIGUE_LABELS:
        folder = src / IMIGUE_VIDEOS[vid][0]
        body = lines if vid == "0001" else ["0," + ",".join(["1", "2", "0.5"] * 35)]
        (folder / f"{vid}_light_hand.csv").write_bytes(_file_bytes(body, crlf, bom))
    argv = ["import", "imigue", str(src), str(out), "--val-fraction", "0", "--skeletons"]
    argv += ["--missing-skeletons", "skip"] if skip else []
    outcome = run_cli(argv)
    if want is None and not skip:
        event("refused")
        assert_one_error(outcome, "import", "skeleton of video 0001", "0001_light_hand.csv")
        _nothing_written(out)
        return
    assert outcome.rc == 0, outcome.err
    m = load_dataset(out).manifest.set_index("clip_id")
    if want is None:
        event("skipped")
        assert m.loc[["0001_0", "0001_1"], "keypoints"].isna().all()
        assert "0001" in outcome.out  # the notes name the video left without keypoints
        return
    event("converted")
    assert list(m.loc[["0001_0", "0001_1"], "keypoints"]) == ["keypoints/0001.npy"] * 2
    points = np.load(out / "keypoints" / "0001.npy")
    assert points.shape == (61, len(IMIGUE_JOINTS), 3)  # up to the last labelled frame
    np.testing.assert_array_equal(points[: len(want)], want)
    assert not points[len(want) :].any()  # padding: frames with no joints found
