"""The dataset contract: round trips, the Dataset API and fingerprints."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from fgsgl import storage
from fgsgl.dataset import Dataset, DatasetError, load_dataset, validate_tables, write_tables
from fgsgl.dataset.summary import summarise
from fgsgl.text.templates import fg_text

pytest_plugins = ("object_stores",)  # the `store` fixture: a GCS emulator, moto's S3

CLASSES = pd.DataFrame(
    {
        "id": [0, 1, 2],
        "name": ["rubbing eyes", "touching neck", "scratching neck"],
        "description": [None, "A person touches the neck.", None],
    }
)


def manifest(**changes: list) -> pd.DataFrame:
    table = {
        "clip_id": ["a", "b", "c", "d"],
        "video": ["v/1.mp4", "v/1.mp4", "/abs/2.mp4", "gs://bucket/3.mp4"],
        "label": [0, 1, 2, 0],
        "split": ["train", "train", "val", "test"],
        "subject": ["s1", "s1", "s2", None],
        "start_frame": [0, 11, None, None],
        "end_frame": [10, 20, None, None],
        "initiator": ["right hand", "left hand", "both hands", None],
        "receiver": ["eyes", "neck", "neck", None],
        "direction": ["upward", "sideways", "upward", None],
        "motion": ["rubs", "touches", "scratches", None],
        "fg_text": [None, None, None, "A hand rubs the eyes."],
        "keypoints": ["k/a.npy", None, None, None],
    }
    table.update(changes)
    return pd.DataFrame(table)


def test_round_trip_csv_and_parquet_agree(tmp_path: Path):
    write_tables(tmp_path / "csv", manifest(), CLASSES)
    write_tables(tmp_path / "pq", manifest(), CLASSES, manifest_format="parquet")
    assert sorted(os.listdir(tmp_path / "csv")) == ["classes.csv", "manifest.csv"]
    assert sorted(os.listdir(tmp_path / "pq")) == ["classes.csv", "manifest.parquet"]
    a, b = load_dataset(tmp_path / "csv"), load_dataset(tmp_path / "pq")
    pd.testing.assert_frame_equal(a.manifest, b.manifest)
    pd.testing.assert_frame_equal(a.classes, b.classes)
    assert a.fingerprint() == b.fingerprint()
    assert len(a.fingerprint()) == 64
    m = a.manifest
    assert dict(m.dtypes.astype(str)) == {
        "clip_id": "str",
        "video": "str",
        "label": "int64",
        "split": "str",
        "subject": "str",
        "start_frame": "Int64",
        "end_frame": "Int64",
        "initiator": "str",
        "receiver": "str",
        "direction": "str",
        "motion": "str",
        "fg_text": "str",
        "keypoints": "str",
    }
    assert list(m["clip_id"]) == ["a", "b", "c", "d"]
    assert list(m["label"]) == [0, 1, 2, 0]
    assert list(m["subject"]) == ["s1", "s1", "s2", ""]
    assert m["start_frame"].tolist()[:2] == [0, 11]
    assert m["start_frame"].isna().tolist() == [False, False, True, True]
    assert m["initiator"].isna().tolist() == [False, False, False, True]
    # writing what was loaded gives the same tables again
    write_tables(tmp_path / "again", a.manifest, a.classes)
    assert load_dataset(tmp_path / "again").fingerprint() == a.fingerprint()


def test_csv_cells_are_not_guessed(tmp_path: Path):
    """'NA' is a subject and '007' a clip id, not a missing value and a number."""
    (tmp_path / "classes.csv").write_text("id,name\n0,a\n")
    (tmp_path / "manifest.csv").write_text(
        'clip_id,video,label,split,subject\n007,"x, y.mp4",0,train,NA\n'
    )
    m = load_dataset(tmp_path).manifest
    assert m.loc[0, "clip_id"] == "007"
    assert m.loc[0, "video"] == "x, y.mp4"
    assert m.loc[0, "subject"] == "NA"


def test_dataset_api(tmp_path: Path):
    write_tables(tmp_path, manifest(), CLASSES)
    ds = load_dataset(tmp_path)
    assert isinstance(ds, Dataset)
    assert ds.root == str(tmp_path.resolve())
    assert ds.num_classes == 3
    assert ds.class_names == ["rubbing eyes", "touching neck", "scratching neck"]
    assert ds.class_texts == [
        "A person is rubbing eyes.",
        "A person touches the neck.",
        "A person is scratching neck.",
    ]
    assert ds.video_uri("v/1.mp4") == str(tmp_path.resolve() / "v" / "1.mp4")
    assert ds.video_uri("/abs/2.mp4") == "/abs/2.mp4"
    assert ds.video_uri("gs://bucket/3.mp4") == "gs://bucket/3.mp4"
    assert ds.keypoints_uri("k/a.npy") == str(tmp_path.resolve() / "k" / "a.npy")
    assert ds.has_fg_attributes
    texts = ds.fg_texts()
    assert list(texts.index) == ["a", "b", "c", "d"]
    assert texts["d"] == "A hand rubs the eyes."
    attrs = {"initiator": "left hand", "receiver": "neck", "direction": "sideways"}
    assert texts["b"] == fg_text({**attrs, "motion": "touches"})


def test_gs_root_is_kept_and_joined():
    ds = Dataset(root="gs://bucket/data", manifest=manifest(), classes=CLASSES)
    assert ds.video_uri("v/1.mp4") == "gs://bucket/data/v/1.mp4"
    assert ds.video_uri("/abs/2.mp4") == "/abs/2.mp4"


def test_fg_texts_names_rows_lacking_attributes(tmp_path: Path):
    m = manifest(motion=["rubs", None, "scratches", None])
    write_tables(tmp_path, m, CLASSES)
    ds = load_dataset(tmp_path)
    assert not ds.has_fg_attributes
    with pytest.raises(DatasetError) as e:
        ds.fg_texts()
    assert e.value.problems == [
        "manifest.csv row 2 (line 3): fine-grained text is needed but fg_text is empty "
        "and motion is missing"
    ]
    with pytest.raises(DatasetError) as e:
        load_dataset(tmp_path, need_fg_text=True)
    assert len(e.value.problems) == 1


def test_fingerprint_follows_content_not_format(tmp_path: Path):
    write_tables(tmp_path / "a", manifest(), CLASSES)
    base = load_dataset(tmp_path / "a").fingerprint()
    # column order and CSV formatting do not matter
    reordered = manifest()[list(reversed(manifest().columns))]
    write_tables(tmp_path / "b", reordered, CLASSES)
    assert load_dataset(tmp_path / "b").fingerprint() == base
    # any value does
    write_tables(tmp_path / "c", manifest(label=[0, 1, 2, 1]), CLASSES)
    assert load_dataset(tmp_path / "c").fingerprint() != base
    renamed = CLASSES.assign(name=["rubbing eyes", "touching neck", "scratching the neck"])
    write_tables(tmp_path / "d", manifest(), renamed)
    assert load_dataset(tmp_path / "d").fingerprint() != base


def test_fingerprint_with_videos_changes_when_a_video_changes(tmp_path: Path):
    m = manifest(video=["v/1.mp4", "v/1.mp4", "v/2.mp4", "v/2.mp4"], keypoints=[None] * 4)
    write_tables(tmp_path, m, CLASSES)
    (tmp_path / "v").mkdir()
    (tmp_path / "v" / "1.mp4").write_bytes(b"one")
    ds = load_dataset(tmp_path)
    missing = ds.fingerprint(videos=True)
    assert missing != ds.fingerprint()
    (tmp_path / "v" / "2.mp4").write_bytes(b"two")
    present = ds.fingerprint(videos=True)
    assert present != missing
    assert ds.fingerprint(videos=True) == present  # stable
    os.utime(tmp_path / "v" / "2.mp4", ns=(1, 1))
    assert ds.fingerprint(videos=True) != present
    assert ds.missing_files() == []


def test_missing_files_are_listed_with_rows(tmp_path: Path):
    write_tables(tmp_path, manifest(video=["v/1.mp4"] * 4), CLASSES)
    problems = load_dataset(tmp_path).missing_files()
    video = tmp_path.resolve() / "v" / "1.mp4"
    keypoints = tmp_path.resolve() / "k" / "a.npy"
    assert problems == [
        f"manifest.csv row {i} (line {i + 1}): video file {video} does not exist"
        for i in range(1, 5)
    ] + [f"manifest.csv row 1 (line 2): keypoints file {keypoints} does not exist"]


def test_validate_tables_in_memory():
    assert validate_tables(manifest(), CLASSES) == []
    problems = validate_tables(manifest(label=[0, 1, 2, "x"]), CLASSES)
    assert problems == ["manifest row 4: label 'x' is not an integer class id"]


def test_write_tables_refuses_invalid_tables_and_writes_nothing(tmp_path: Path):
    with pytest.raises(DatasetError) as e:
        write_tables(tmp_path / "out", manifest(split=["train", "train", "dev", "x"]), CLASSES)
    assert e.value.problems == [
        "manifest row 3: split 'dev' is not one of train, val, test (did you mean 'val'?)",
        "manifest row 4: split 'x' is not one of train, val, test",
    ]
    assert not (tmp_path / "out").exists()


def test_summary_counts_splits_classes_and_attributes(tmp_path: Path):
    write_tables(tmp_path, manifest(), CLASSES)
    text = summarise(load_dataset(tmp_path))
    assert "4 clips, 3 classes, 3 videos, 2 subjects" in text
    lines = text.splitlines()
    assert "  train      2         1" in lines
    assert "  val        1         1" in lines
    assert "  test       1         0" in lines
    assert "   0  rubbing eyes         1    0     1      2" in lines
    assert "  initiator        3/4" in lines
    assert "  clips with T_fg  4/4" in lines
    assert "clips inside longer videos (start/end frames): 2/4" in lines
    assert "  - 1 classes have no train clips: scratching neck" in lines


def test_load_from_a_store_and_fingerprint_videos(tmp_path: Path, store):
    m = manifest(video=["v/1.mp4", "v/1.mp4", "v/2.mp4", "v/2.mp4"], keypoints=[None] * 4)
    write_tables(tmp_path, m, CLASSES)

    def put(name: str, content: bytes | None = None) -> None:
        if content is not None:
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / name).write_bytes(content)
        storage.upload(tmp_path / name, store.uri(f"data/{name}"))

    put("manifest.csv")
    put("classes.csv")
    put("v/1.mp4", b"one")
    ds = load_dataset(store.uri("data/"))
    assert ds.root == store.uri("data")
    assert ds.video_uri("v/1.mp4") == store.uri("data/v/1.mp4")
    assert ds.fingerprint() == load_dataset(tmp_path).fingerprint()
    missing = store.uri("data/v/2.mp4")
    assert ds.missing_files() == [
        f"manifest.csv row {i} (line {i + 1}): video file {missing} does not exist" for i in (3, 4)
    ]
    before = ds.fingerprint(videos=True)
    put("v/2.mp4", b"two")
    after = ds.fingerprint(videos=True)
    assert after != before
    put("v/2.mp4", b"TWO")  # same size, another object
    assert ds.fingerprint(videos=True) != after
    with pytest.raises(DatasetError, match=r"no manifest\.csv or manifest\.parquet"):
        load_dataset(store.uri("elsewhere"))
