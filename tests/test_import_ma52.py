"""`fgsgl import ma52`: MA-52 as its repository lays it out, down to evaluate and predict.

The fixture tree follows VUT-HFUT/Micro-Action, mar_scripts/manet/mmaction2/data/ma52/:
label_name.txt (`id<TAB>name`, ids 0..51), train/val/test_list_videos.txt (`NAME.mp4
label`), and videos_train/, videos_val/, videos_test/ as links to the folders holding the
videos. Train and val names are PPPP_BB_NNNN.mp4 (BB: the body-level label); the test list
names testNNNN.mp4 and writes 0 for every label (withheld).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from train_fixtures import TINY_DEMO, make_artifacts
from video_helpers import coded_frames, write_video

from fgsgl.cli import main
from fgsgl.dataset import DatasetError, load_dataset
from fgsgl.dataset.importers import import_ma52
from fgsgl.dataset.importers.base import read_class_names
from fgsgl.dataset.importers.class_names import MA52_CLASSES
from fgsgl.dataset.importers.withheld import looks_withheld
from fgsgl.errors import FgsglError

# (file name, label) per split; BB agrees with each label's body part (0: 0-4, 1: 5-10,
# 3: 24-31, 6: 48-51), as in the release
LISTS = {
    "train": [
        ("0003_00_0001.mp4", 0), ("0003_01_0002.mp4", 9), ("0004_03_0001.mp4", 24),
        ("0004_06_0001.mp4", 48), ("0005_00_0002.mp4", 0), ("0005_01_0003.mp4", 9),
        ("0006_03_0004.mp4", 24), ("0006_06_0005.mp4", 48),
    ],
    "val": [
        ("0003_01_0005.mp4", 9), ("0004_00_0003.mp4", 0), ("0005_06_0007.mp4", 48),
        ("0006_03_0002.mp4", 24),
    ],
    "test": [(f"test{i:04d}.mp4", 0) for i in range(4)],
}  # fmt: skip


def release(root: Path, lists: dict[str, list[tuple[str, int]]] = LISTS) -> Path:
    """An MA-52 tree at root/ma52 with tiny real videos (8 frames, 48 x 64)."""
    src = root / "ma52"
    src.mkdir(parents=True)
    (src / "label_name.txt").write_text(
        "\n".join(f"{i}\t{name}" for i, name in enumerate(MA52_CLASSES))  # no final newline
    )
    video = write_video(root / "clip.mp4", coded_frames(8))
    for split, rows in lists.items():
        (src / f"{split}_list_videos.txt").write_text("".join(f"{n} {lab}\n" for n, lab in rows))
        store = root / "datasets" / "ma52" / split
        store.mkdir(parents=True)
        for name, _ in rows:
            (store / name).write_bytes(video.read_bytes())
        (src / f"videos_{split}").symlink_to(store, target_is_directory=True)
    return src


def test_the_release_imports_as_released(tmp_path: Path, capsys: pytest.CaptureFixture):
    src = release(tmp_path)
    out = tmp_path / "out"
    assert main(["import", "ma52", str(src), str(out)]) == 0
    printed = capsys.readouterr().out
    ds = load_dataset(out)
    m = ds.manifest
    # the classes are the file's `id<TAB>name` pairs, never names with a tab in them
    assert ds.class_names == list(MA52_CLASSES) and len(ds.class_names) == 52
    assert m["clip_id"].tolist() == [Path(n).stem for s in LISTS.values() for n, _ in s]
    assert m["split"].tolist() == ["train"] * 8 + ["val"] * 4 + ["test"] * 4
    assert m["label"].tolist() == [lab for s in ("train", "val") for _, lab in LISTS[s]] + [-1] * 4
    assert m.loc[0, "video"] == str((tmp_path / "datasets/ma52/train/0003_00_0001.mp4").resolve())
    # the body-level label from the file names; the test names carry none
    assert m["coarse_label"].tolist()[:12] == list("013601361063")
    assert m["coarse_label"].iloc[12:].isna().all()
    assert (
        m["subject"].tolist() == [n[:4] for s in ("train", "val") for n, _ in LISTS[s]] + [""] * 4
    )
    # on disk the withheld labels are empty cells, not 0 and not -1
    raw = pd.read_csv(out / "manifest.csv", dtype=str, keep_default_na=False)
    assert raw.loc[raw["split"] == "test", "label"].tolist() == [""] * 4
    assert raw.loc[raw["split"] == "train", "label"].tolist()[:2] == ["0", "9"]
    assert ds.unlabelled_splits() == ["test"]
    # the warnings say why, per split
    assert (
        "warning: the test split is imported unlabelled (its labels are left empty): all 4 "
        "of its clips have label 0 while there are 52 classes" in printed
    )
    assert (
        "warning: --subject-pattern matches none of the 4 test file names (e.g. test0000.mp4): "
        "the test clips have no subject" in printed
    )
    assert "the test split is unlabelled (4 clips without a label)" in printed
    record = json.loads((out / "import.json").read_text())
    assert record["importer"] == "ma52"
    assert list(record["options"]["unlabelled"]) == ["test"]
    assert record["options"]["videos"]["test"] == str((tmp_path / "datasets/ma52/test").resolve())
    # and `fgsgl validate` takes it as it is
    assert main(["validate", str(out)]) == 0
    assert f"{out}: valid" in capsys.readouterr().out
    # an annotation project of the test clips shows no class (not the last one, label -1)
    from fgsgl.annotate.project import TASKS_JSON, export_project

    export_project(out, tmp_path / "ls", splits=["test"], validate=False)
    tasks = json.loads((tmp_path / "ls" / TASKS_JSON).read_text())
    assert [t["data"]["class_name"] for t in tasks] == ["unlabelled"] * 4


def test_labels_kept_on_request_and_bad_subject_names_refused(tmp_path: Path):
    src = release(tmp_path)
    kept = import_ma52(src, unlabelled="none").manifest
    assert kept.loc[kept["split"] == "test", "label"].tolist() == [0] * 4
    named = import_ma52(src, unlabelled=["val"]).manifest
    assert named.loc[named["split"] == "val", "label"].isna().all()
    assert named.loc[named["split"] == "test", "label"].tolist() == [0] * 4
    # a pattern that misses some of a split's names (not all) is a problem naming each line
    with pytest.raises(DatasetError) as e:
        import_ma52(src, subject_pattern=r"^(000[3-5])_")
    assert e.value.problems == [
        "train_list_videos.txt line 7: --subject-pattern does not match '0006_03_0004.mp4'",
        "train_list_videos.txt line 8: --subject-pattern does not match '0006_06_0005.mp4'",
        "val_list_videos.txt line 4: --subject-pattern does not match '0006_03_0002.mp4'",
    ]


def test_missing_video_folder_and_wrong_body_part(tmp_path: Path, capsys):
    lists = {s: list(rows) for s, rows in LISTS.items()}
    lists["train"][1] = ("0003_02_0002.mp4", 9)  # upper limb in the name, a head label
    src = release(tmp_path, lists)
    notes = import_ma52(src).notes
    assert (
        "warning: 1 clips' file names give another body part than their label's "
        "(0003_02_0002 (label 9: body part 1, file name: 2)); coarse_label keeps the file "
        "name's" in notes
    )
    (src / "videos_val").unlink()
    assert main(["import", "ma52", str(src), str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "no video folder for the val split: none of videos_val/val, videos_val, val" in err
    assert "pass --val-videos DIR" in err
    assert not (tmp_path / "out").exists()
    other = tmp_path / "datasets" / "ma52" / "val"
    ds = import_ma52(src, videos={"val": other})
    assert (ds.manifest["split"] == "val").sum() == 4


def test_id_tab_name_class_files(tmp_path: Path):
    path = tmp_path / "label_name.txt"
    path.write_text("1\tnodding\n0\tshaking body\n\n2\ttilting head\n")
    assert read_class_names(path) == ["shaking body", "nodding", "tilting head"]
    path.write_text("0\tshaking body\nnodding\n2\ta\tb\n")
    with pytest.raises(DatasetError) as e:
        read_class_names(path)
    assert e.value.problems == [
        "label_name.txt line 2: 'nodding' is not `id<TAB>name`",
        "label_name.txt line 3: '2\\ta\\tb' is not `id<TAB>name`",
    ]
    path.write_text("0\tshaking body\n2\tnodding\n")
    with pytest.raises(DatasetError, match="bad class list") as e:
        read_class_names(path)
    assert e.value.problems == [
        "label_name.txt: ids must run 0..1 without gaps (2 classes); missing 1; unexpected 2"
    ]
    path.write_text("shaking body\nnodding\n")  # one name per line, as before
    assert read_class_names(path) == ["shaking body", "nodding"]


def test_a_split_is_labelled_as_a_whole(tmp_path: Path, capsys: pytest.CaptureFixture):
    (tmp_path / "classes.csv").write_text("id,name\n0,nodding\n1,waving\n")
    rows = ["a,a.mp4,0,train", "b,b.mp4,,train", "c,c.mp4,1,val", "d,d.mp4,,test", "e,e.mp4,,test"]
    (tmp_path / "manifest.csv").write_text("clip_id,video,label,split\n" + "\n".join(rows))
    with pytest.raises(DatasetError) as e:
        load_dataset(tmp_path)
    assert e.value.problems == ["manifest.csv row 2 (line 3): label is empty"]
    assert main(["import", "ma52", str(tmp_path), str(tmp_path / "o"), "--unlabelled", "dev"]) == 2
    assert "--unlabelled: 'dev' is not auto, none or a split" in capsys.readouterr().err


def test_withheld_means_beyond_chance():
    assert not looks_withheld([0, 0], 52)  # 1 in 52: could be real
    assert looks_withheld([0, 0, 0], 52)
    assert not looks_withheld([3] * 5, 4) and looks_withheld([3] * 6, 4)
    assert not looks_withheld([0, 1, 0], 52) and not looks_withheld([0] * 50, 1)


def test_training_refuses_an_unlabelled_train_split(tmp_path: Path):
    from fgsgl.train.run import open_inputs

    frames, texts = make_artifacts(tmp_path, per_class={"train": 1, "val": 1})
    index = pd.read_csv(frames / "index.csv", dtype=str, keep_default_na=False)
    index.loc[index["split"] == "train", "label"] = "-1"
    index.to_csv(frames / "index.csv", index=False)
    with pytest.raises(FgsglError) as e:
        open_inputs(str(frames), str(texts))
    assert e.value.problems == ["split 'train' has clips without a label: it cannot be trained on"]


@pytest.mark.slow  # extracts 16 tiny clips, trains a tiny model (one short stage)
def test_evaluate_refuses_the_unlabelled_test_split_and_predict_runs_on_it(
    tmp_path: Path, capsys: pytest.CaptureFixture
):
    from fgsgl.predict import predict
    from fgsgl.text.encode import encode_texts
    from fgsgl.train import train
    from fgsgl.video.extract import extract
    from fgsgl.video.frames import FramesArtifact

    src = release(tmp_path)
    ds, frames, texts, model = (str(tmp_path / n) for n in ("ds", "frames", "texts", "model"))
    assert main(["import", "ma52", str(src), ds]) == 0
    extract(ds, frames, frames=4, size=32, workers=1)
    index = FramesArtifact.open(frames).index
    assert index.loc[index["split"] == "test", "label"].tolist() == [-1] * 4
    encode_texts(ds, texts)  # the test clips get no texts: they have no class
    train(frames, texts, model, stage=1, overrides=TINY_DEMO)
    capsys.readouterr()

    out = tmp_path / "eval"
    assert main(["evaluate", frames, model, str(out), "--workers", "0"]) == 1
    err = capsys.readouterr().err
    assert "split 'test' is unlabelled: none of its 4 clips has a label" in err
    assert "evaluate a labelled split (--split val), or run `fgsgl predict` on it" in err
    assert not out.exists()
    assert main(["evaluate", frames, model, str(out), "--split", "val", "--workers", "0"]) == 0
    assert json.loads((out / "metrics.json").read_text())["top1"] >= 0

    summary = predict(model, [ds], str(tmp_path / "pred"), split="test", workers=0)
    assert (summary["clips"], summary["predicted"], summary["labelled"]) == (4, 4, 0)
    assert summary["top1"] is None
    rows = pd.read_csv(tmp_path / "pred" / "predictions.csv", dtype={"clip_id": str})
    assert rows["clip_id"].tolist() == [f"test{i:04d}" for i in range(4)]
    assert rows["label"].isna().all() and rows["correct"].isna().all()
    assert np.isin(rows["top1_id"], range(52)).all()
