"""Every validation problem, named by file and row, all reported at once."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fgsgl.dataset import DatasetError, load_dataset

HEADER = "clip_id,video,label,split,subject,start_frame,end_frame"
GOOD_ROWS = ["a,v/a.mp4,0,train,s1,0,10", "b,v/b.mp4,1,val,s2,,", "c,v/c.mp4,2,test,s3,5,5"]
CLASSES = "id,name,description\n0,rubbing eyes,\n1,touching neck,\n2,scratching neck,\n"


def dataset(tmp_path: Path, rows: list[str], header: str = HEADER, classes: str = CLASSES) -> Path:
    (tmp_path / "manifest.csv").write_text("\n".join([header, *rows]) + "\n")
    (tmp_path / "classes.csv").write_text(classes)
    return tmp_path


def problems(root: Path, **kwargs: bool) -> list[str]:
    with pytest.raises(DatasetError) as e:
        load_dataset(root, **kwargs)
    return e.value.problems


def test_good_rows_load(tmp_path: Path):
    assert len(load_dataset(dataset(tmp_path, GOOD_ROWS)).manifest) == 3


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        ("d,v/d.mp4,three,train,s1,,", "label 'three' is not an integer class id"),
        ("d,v/d.mp4,1.5,train,s1,,", "label '1.5' is not an integer class id"),
        ("d,v/d.mp4,3,train,s1,,", "label 3 is outside 0..2 (classes.csv has 3 classes)"),
        ("d,v/d.mp4,-1,train,s1,,", "label -1 is outside 0..2 (classes.csv has 3 classes)"),
        ("d,v/d.mp4,,train,s1,,", "label is empty"),
        (
            "d,v/d.mp4,0,training,s1,,",
            "split 'training' is not one of train, val, test (did you mean 'train'?)",
        ),
        ("d,v/d.mp4,0,holdout,s1,,", "split 'holdout' is not one of train, val, test"),
        (
            "d,v/d.mp4,0,validation,s1,,",
            "split 'validation' is not one of train, val, test (did you mean 'val'?)",
        ),
        (
            "d,v/d.mp4,0,Test,s1,,",
            "split 'Test' is not one of train, val, test (did you mean 'test'?)",
        ),
        ("d,v/d.mp4,0,,s1,,", "split is empty (use one of train, val, test)"),
        (",v/d.mp4,0,train,s1,,", "clip_id is empty"),
        ("d,,0,train,s1,,", "video is empty"),
        ("d,v/d.mp4,0,train,s1,9,3", "start_frame 9 is after end_frame 3"),
        ("d,v/d.mp4,0,train,s1,-2,3", "start_frame -2 is negative"),
        ("d,v/d.mp4,0,train,s1,4,", "start_frame is given but end_frame is empty"),
        ("d,v/d.mp4,0,train,s1,,4", "end_frame is given but start_frame is empty"),
        ("d,v/d.mp4,0,train,s1,x,4", "start_frame 'x' is not an integer"),
        (
            "d,../d.mp4,0,train,s1,,",
            "video '../d.mp4' escapes the dataset directory (relative paths must stay inside it)",
        ),
        (
            "d,v/../../d.mp4,0,train,s1,,",
            "video 'v/../../d.mp4' escapes the dataset directory "
            "(relative paths must stay inside it)",
        ),
        (
            "d,http://host/d.mp4,0,train,s1,,",
            "video 'http://host/d.mp4' uses the URI scheme http://; "
            "only local paths and gs:// or s3:// URIs are read",
        ),
        ("d,s3://,0,train,s1,,", "video 's3://' names no object (expected s3://BUCKET/PATH)"),
        (
            "d,s3://bucket/,0,train,s1,,",
            "video 's3://bucket/' names no object (expected s3://BUCKET/PATH)",
        ),
    ],
)
def test_each_manifest_problem_names_its_row(tmp_path: Path, row: str, problem: str):
    root = dataset(tmp_path, [*GOOD_ROWS, row])
    assert problems(root) == [f"manifest.csv row 4 (line 5): {problem}"]


def test_paths_inside_the_directory_are_fine(tmp_path: Path):
    rows = ["d,v/../d.mp4,0,train,s1,,", "e,/data/e.mp4,0,train,s1,,", "f,gs://b/f.mp4,0,val,,,"]
    rows.append("g,s3://b/g.mp4,0,val,,,")
    assert len(load_dataset(dataset(tmp_path, [*GOOD_ROWS, *rows])).manifest) == 7


def test_keypoints_paths_are_checked_too(tmp_path: Path):
    header = HEADER + ",keypoints"
    rows = [r + "," for r in GOOD_ROWS] + ["d,v/d.mp4,0,train,s1,,,../k.npy"]
    assert problems(dataset(tmp_path, rows, header)) == [
        "manifest.csv row 4 (line 5): keypoints '../k.npy' escapes the dataset directory "
        "(relative paths must stay inside it)"
    ]


def test_duplicate_clip_ids_list_all_their_rows(tmp_path: Path):
    root = dataset(tmp_path, [*GOOD_ROWS, "a,v/x.mp4,0,train,s1,,", "a,v/y.mp4,0,train,s1,,"])
    assert problems(root) == ["manifest.csv rows 1, 4, 5 (lines 2, 5, 6): duplicate clip_id 'a'"]


def test_every_problem_is_reported_at_once(tmp_path: Path):
    rows = ["a,v/a.mp4,7,train,s1,,", "a,../b.mp4,x,dev,s1,3,1", "c,v/c.mp4,0,test,s1,,"]
    classes = "id,name\n0,x\n1,x\n3,z\n"
    found = problems(dataset(tmp_path, rows, classes=classes))
    assert found == [
        "classes.csv rows 1, 2 (lines 2, 3): duplicate name 'x'",
        "classes.csv: ids must run 0..2 without gaps (3 classes); missing 2; unexpected 3",
        "manifest.csv row 2 (line 3): split 'dev' is not one of train, val, test "
        "(did you mean 'val'?)",
        "manifest.csv rows 1, 2 (lines 2, 3): duplicate clip_id 'a'",
        "manifest.csv row 1 (line 2): label 7 is outside 0..2 (classes.csv has 3 classes)",
        "manifest.csv row 2 (line 3): label 'x' is not an integer class id",
        "manifest.csv row 2 (line 3): start_frame 3 is after end_frame 1",
        "manifest.csv row 2 (line 3): video '../b.mp4' escapes the dataset directory "
        "(relative paths must stay inside it)",
    ]


def test_missing_required_columns(tmp_path: Path):
    root = dataset(tmp_path, ["a,v/a.mp4,train"], header="clip_id,video,split")
    assert problems(root) == [
        "manifest.csv: missing required column(s) label (found: clip_id, video, split)"
    ]


def test_no_clips(tmp_path: Path):
    assert problems(dataset(tmp_path, [])) == ["manifest.csv: no clips"]


@pytest.mark.parametrize(
    ("classes", "expected"),
    [
        (
            "id,name\n0,a\n2,b\n",
            ["classes.csv: ids must run 0..1 without gaps (2 classes); missing 1; unexpected 2"],
        ),
        (
            "id,name\n1,a\n2,b\n",
            ["classes.csv: ids must run 0..1 without gaps (2 classes); missing 0; unexpected 2"],
        ),
        (
            "id,name\n0,a\n0,b\n",
            [
                "classes.csv rows 1, 2 (lines 2, 3): duplicate id 0",
                "classes.csv: ids must run 0..1 without gaps (2 classes); missing 1",
            ],
        ),
        ("id,name\n0,a\n1,A\n", ["classes.csv rows 1, 2 (lines 2, 3): duplicate name 'a'"]),
        ("id,name\nzero,a\n1,b\n", ["classes.csv row 1 (line 2): id 'zero' is not an integer"]),
        ("id,name\n0,\n1,b\n", ["classes.csv row 1 (line 2): name is empty"]),
        (
            "name,description\na,x\n",
            ["classes.csv: missing required column(s) id (found: name, description)"],
        ),
        ("id,name\n", ["classes.csv: no classes"]),
    ],
)
def test_classes_problems(tmp_path: Path, classes: str, expected: list[str]):
    root = dataset(tmp_path, ["a,v/a.mp4,0,train,s1,,"], classes=classes)
    assert problems(root) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "clip_id;video;label;split\na;v/a.mp4;0;train\n",
            "manifest.csv: fields are separated by ';', but fgsgl reads comma-separated files "
            "(first line: 'clip_id;video;label;split')",
        ),
        (
            "clip_id\tvideo\tlabel\tsplit\na\tv/a.mp4\t0\ttrain\n",
            "manifest.csv: fields are separated by tabs, but fgsgl reads comma-separated files "
            "(first line: 'clip_id\\tvideo\\tlabel\\tsplit')",
        ),
        (
            "a,v/a.mp4,0,train\nb,v/b.mp4,1,train\n",
            "manifest.csv: no header line: the first line 'a,v/a.mp4,0,train' names none of the "
            "columns clip_id, video, label, split, subject, start_frame, end_frame, initiator, "
            "receiver, direction, motion, fg_text, keypoints; add a header line",
        ),
        (
            "",
            "manifest.csv: empty; expected a header line naming the columns (clip_id, video, "
            "label, split, subject, start_frame, end_frame, initiator, receiver, direction, "
            "motion, fg_text, keypoints)",
        ),
        (
            "clip_id,video,label,clip_id\n",
            "manifest.csv line 1: column 'clip_id' appears twice",
        ),
    ],
)
def test_malformed_manifest_gets_one_clear_message(tmp_path: Path, text: str, message: str):
    (tmp_path / "manifest.csv").write_text(text)
    (tmp_path / "classes.csv").write_text(CLASSES)
    assert problems(tmp_path) == [message]


def test_rows_with_the_wrong_number_of_fields_are_all_listed(tmp_path: Path):
    text = "clip_id,video,label,split\na,v/a.mp4,0,train\n\nb,v/b.mp4,1\nc,v/c.mp4,1,val,x\n"
    (tmp_path / "manifest.csv").write_text(text)
    (tmp_path / "classes.csv").write_text(CLASSES)
    assert problems(tmp_path) == [
        "manifest.csv line 4: 3 fields, but the header has 4",
        "manifest.csv line 5: 5 fields, but the header has 4",
    ]


def test_line_numbers_skip_blank_lines(tmp_path: Path):
    text = "clip_id,video,label,split\n\na,v/a.mp4,9,train\n"
    (tmp_path / "manifest.csv").write_text(text)
    (tmp_path / "classes.csv").write_text(CLASSES)
    assert problems(tmp_path) == [
        "manifest.csv row 1 (line 3): label 9 is outside 0..2 (classes.csv has 3 classes)"
    ]


def test_not_utf8(tmp_path: Path):
    (tmp_path / "manifest.csv").write_bytes(b"clip_id,video,label,split\n\xff\xfe,a,0,train\n")
    (tmp_path / "classes.csv").write_text(CLASSES)
    assert problems(tmp_path) == ["manifest.csv: not UTF-8 text (byte 26: invalid start byte)"]


def test_malformed_classes_and_manifest_are_both_reported(tmp_path: Path):
    (tmp_path / "manifest.csv").write_text("clip_id;video;label;split\n")
    (tmp_path / "classes.csv").write_text("0,a\n1,b\n")
    found = problems(tmp_path)
    assert len(found) == 2
    assert found[0].startswith("manifest.csv: fields are separated by ';'")
    assert found[1].startswith("classes.csv: no header line: the first line '0,a'")


def test_missing_classes_file(tmp_path: Path):
    (tmp_path / "manifest.csv").write_text(HEADER + "\n" + GOOD_ROWS[0] + "\n")
    assert problems(tmp_path) == [f"{tmp_path.resolve()}/classes.csv: not found"]


def test_not_a_dataset(tmp_path: Path):
    with pytest.raises(DatasetError, match=r"no manifest\.csv or manifest\.parquet"):
        load_dataset(tmp_path)
    with pytest.raises(DatasetError, match="not found"):
        load_dataset(tmp_path / "nope")
    (tmp_path / "manifest.csv").write_text("x")
    (tmp_path / "manifest.parquet").write_bytes(b"x")
    with pytest.raises(DatasetError, match=r"holds both manifest\.csv and manifest\.parquet"):
        load_dataset(tmp_path)


def test_damaged_parquet(tmp_path: Path):
    (tmp_path / "manifest.parquet").write_bytes(b"not parquet")
    (tmp_path / "classes.csv").write_text(CLASSES)
    (found,) = problems(tmp_path)
    assert found.startswith("manifest.parquet: not a readable parquet file")


def test_need_fg_text_without_any_attributes_is_one_problem(tmp_path: Path):
    root = dataset(tmp_path, GOOD_ROWS)
    assert problems(root, need_fg_text=True) == [
        "manifest.csv: fine-grained text is needed, but no clip has an fg_text or the "
        "attributes initiator, receiver, direction, motion (import with --fg-annotations CSV)"
    ]


def test_need_fg_text_lists_rows_missing_attributes(tmp_path: Path):
    header = "clip_id,video,label,split,initiator,receiver,direction,motion,fg_text"
    rows = [
        "a,v/a.mp4,0,train,right hand,eyes,up,rubs,",
        "b,v/b.mp4,0,train,,,,,The hand rubs the eyes.",
        "c,v/c.mp4,0,train,right hand,,up,,",
    ]
    root = dataset(tmp_path, rows, header)
    assert problems(root, need_fg_text=True) == [
        "manifest.csv row 3 (line 4): fine-grained text is needed but fg_text is empty and "
        "receiver, motion are missing"
    ]
    assert len(load_dataset(root).manifest) == 3  # fine when FG text is not needed


# Found by tests/test_fuzz_datasets.py: tracebacks and values changed without a word.


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        ("d,v/d.mp4,99999999999999999999,train,s1,,", "label '99999999999999999999' is not"),
        ("d,v/d.mp4,0,train,s1,0,99999999999999999999", "end_frame '99999999999999999999' is"),
        ("d,v/d.mp4,\u0663,train,s1,,", "label '\u0663' is not an integer class id"),
        ("d,v/d.mp4,0,train,s1,\u0663,\uff19", "start_frame '\u0663' is not an integer"),
        (" d,v/d.mp4,0,train,s1,,", "clip_id ' d' has spaces around it"),
        ("d\u00a0,v/d.mp4,0,train,s1,,", "clip_id 'd\\xa0' has spaces around it"),
    ],
)
def test_odd_numbers_and_padded_ids_are_refused(tmp_path: Path, row: str, problem: str):
    root = dataset(tmp_path, [*GOOD_ROWS, row])
    assert problems(root)[0].startswith(f"manifest.csv row 4 (line 5): {problem}")


def test_big_integers_are_read_exactly(tmp_path: Path):
    big = 2**53 + 1  # as a float (the column has an empty cell) it would read 2**53
    root = dataset(tmp_path, [*GOOD_ROWS, f"d,v/d.mp4,0,train,s1,{big},{big}"])
    assert load_dataset(root).manifest["end_frame"].iloc[3] == big


def test_huge_class_id_is_a_problem(tmp_path: Path):
    root = dataset(tmp_path, GOOD_ROWS, classes=f"id,name\n{'9' * 20},a\n")
    assert f"classes.csv row 1 (line 2): id '{'9' * 20}' is not an integer" in problems(root)


def test_nul_byte_is_not_valid_csv(tmp_path: Path):
    (tmp_path / "manifest.csv").write_bytes(f"{HEADER}\n{GOOD_ROWS[0]}\n\x00b\n".encode())
    (tmp_path / "classes.csv").write_text(CLASSES)
    assert problems(tmp_path) == [
        "manifest.csv line 3: not valid CSV (a NUL byte: UTF-16 or binary?)"
    ]


@pytest.mark.parametrize(
    ("labels", "problem"),
    [
        ([0.0, np.inf], "label inf is not an integer class id"),
        ([0.0, 1e20], "label 1e+20 is not an integer class id"),
        (np.array([0, 2**64 - 1], dtype=np.uint64), "label 18446744073709551615 is not"),
    ],
)
def test_parquet_labels_that_fit_no_int64(tmp_path: Path, labels, problem: str):
    frame = pd.DataFrame(
        {"clip_id": ["a", "b"], "video": ["a.mp4", "b.mp4"], "split": ["train"] * 2}
    )
    frame["label"] = labels
    frame["subject"] = [np.inf, 36.0]  # as text: 'inf', '36'
    frame.to_parquet(tmp_path / "manifest.parquet")
    (tmp_path / "classes.csv").write_text(CLASSES)
    (found,) = problems(tmp_path)
    assert found.startswith(f"manifest.parquet row 2: {problem}")
    frame["label"] = [0, 1]
    frame.to_parquet(tmp_path / "manifest.parquet")
    assert load_dataset(tmp_path).manifest["subject"].tolist() == ["inf", "36"]
