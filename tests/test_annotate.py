"""FG-Text by people without a server: the labeling config, the exported project (videos
cut to the clip, pre-annotations checked by the SDK), reading an export recorded from a
real Label Studio (tests/test_annotate_server.py records it), every kind of bad export,
agreement against simulated annotators of known error rates, and adjudication."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from xml.etree import ElementTree as ET

import numpy as np
import pandas as pd
import pytest
from labelstudio import PYTHON

from fgsgl.annotate.agreement import agreement
from fgsgl.annotate.collect import import_annotations
from fgsgl.annotate.consensus import consensus, decide
from fgsgl.annotate.labeling import labeling_config
from fgsgl.annotate.project import export_project, task_problems
from fgsgl.annotate.sdk import validate_project
from fgsgl.attributes.truth import synthmg_truth
from fgsgl.attributes.vocabulary import vocabulary
from fgsgl.dataset import load_dataset
from fgsgl.dataset.importers.fg_annotations import join_fg_annotations
from fgsgl.errors import FgsglError, UsageError
from fgsgl.synth.config import SynthConfig
from fgsgl.synth.generate import generate
from fgsgl.text.templates import ATTRIBUTES

RECORDED = Path(__file__).with_name("data") / "labelstudio_export.json"
SYNTH = SynthConfig(classes=4, clips_per_class=6, subjects=3, keypoints=True, seed=5)
ADMIN, SECOND = "admin@fgsgl.example.com", "second@fgsgl.example.com"
needs_sdk = pytest.mark.skipif(
    not PYTHON.is_file(), reason="no Label Studio: make labelstudio-venv"
)


@pytest.fixture(scope="module")
def smg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The SynthMG dataset the recorded export was made from (byte-deterministic)."""
    out = tmp_path_factory.mktemp("annotate") / "smg"
    generate(out, SYNTH, workers=1, progress=False)
    return out


def recorded() -> list[dict]:
    return json.loads(RECORDED.read_text())


def test_the_config_offers_every_vocabulary_value_with_distinct_hotkeys() -> None:
    root = ET.fromstring(labeling_config())
    keys = []
    for a in ATTRIBUTES:
        choices = root.find(f"Choices[@name='{a}']")
        assert [c.get("value") for c in choices] == list(vocabulary()[a])
        keys += [c.get("hotkey") for c in choices if c.get("hotkey")]
        other = root.find(f"TextArea[@name='{a}_other']")
        assert other.get("whenTagName") == a and other.get("whenChoiceValue") == "other"
    assert len(keys) == len(set(keys)) > 30


@needs_sdk
def test_an_exported_project_plays_each_clip_and_validates(smg: Path, tmp_path: Path) -> None:
    out = tmp_path / "project"
    summary = export_project(smg, out, splits=["test"], annotators=3)
    tasks = json.loads((out / "tasks.json").read_text())
    ds = load_dataset(smg)
    test = ds.manifest[ds.manifest["split"] == "test"]
    assert summary["tasks"] == len(tasks) == len(test)
    assert json.loads((out / "project.json").read_text())["maximum_annotations"] == 3
    for task in tasks:
        d = task["data"]
        name = d["video"].removeprefix("/data/local-files/?d=")
        source = ds.video_uri(test.set_index("clip_id").loc[d["clip_id"], "video"])
        assert (out / name).read_bytes() == Path(source).read_bytes()  # a whole-file clip
        assert d["class_name"] in d["title"] and task["predictions"][0]["result"]
    assert task_problems(tasks) == []
    # the SDK refuses what the server would take: a choice outside the vocabulary
    tasks[0]["predictions"][0]["result"][0]["value"]["choices"] = ["left elbow"]
    assert any("left elbow" in p for p in validate_project(labeling_config(), tasks))
    assert any("'left elbow' is not in the vocabulary" in p for p in task_problems(tasks))


@needs_sdk
def test_a_segment_of_a_long_video_is_cut_out(smg: Path, tmp_path: Path) -> None:
    """A clip that is frames 3..9 of its video gets a file of exactly those frames."""
    from fgsgl.video.decode import VideoFile

    ds = load_dataset(smg)
    long = tmp_path / "long"
    long.mkdir()
    manifest = ds.manifest.head(2).copy()
    manifest["video"] = [ds.video_uri(v) for v in manifest["video"]]
    manifest["start_frame"], manifest["end_frame"] = 3, 9
    manifest["split"] = "test"
    manifest.drop(columns=["keypoints"]).to_csv(long / "manifest.csv", index=False)
    ds.classes.to_csv(long / "classes.csv", index=False)
    export_project(long, tmp_path / "p")
    clip = manifest.iloc[0]
    cut = VideoFile(str(tmp_path / "p" / "videos" / f"{clip.clip_id}.mp4"), size=64)
    source = VideoFile(clip.video, size=64)
    assert cut.frame_count == 6
    diff = np.abs(cut.read([0, 5]).astype(int) - source.read([3, 8]).astype(int)).mean()
    assert diff < 6  # the same frames, re-encoded


def test_choosing_what_does_not_exist_is_refused(smg: Path, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="--split dev: no such split"):
        export_project(smg, tmp_path / "p", splits=["dev"], validate=False)
    with pytest.raises(UsageError, match=r"--clips: not clips of .*: nope"):
        export_project(smg, tmp_path / "p", clips=["nope"], validate=False)


def test_the_recorded_export_reads_back_as_the_server_wrote_it(smg: Path, tmp_path: Path) -> None:
    result = import_annotations([RECORDED], tmp_path / "out", dataset=smg)
    assert (result["tasks"], result["annotators"], result["problems"]) == (8, 2, 0)
    assert result["decisions"]["receiver"] == {"unanimous": 5, "disputed": 3}
    assert result["alpha"]["initiator"] == 1.0 and result["alpha"]["direction"] is None
    decided = pd.read_csv(tmp_path / "out" / "consensus.csv").set_index("clip_id")
    truth = synthmg_truth(load_dataset(smg).manifest).set_index("clip_id")
    ok = decided[decided["receiver_decided"] == "unanimous"].index
    assert list(decided.loc[ok, "receiver"]) == list(truth.loc[ok, "receiver"])
    raters = pd.read_csv(tmp_path / "out" / "raters.csv").set_index(["rater", "attribute"])
    for who in (ADMIN, SECOND):  # each against the other: the 3 disputes count against both
        assert raters.loc[(who, "receiver"), "agreement"] == 5 / 8
        assert raters.loc[(who, "initiator"), "agreement"] == 1.0
    assert raters.loc[("derived suggestions", "receiver"), "n"] == 5
    report = (tmp_path / "out" / "report.md").read_text()
    assert (
        "![agreement](agreement.png)" in report
        and (tmp_path / "out" / "agreement.png").stat().st_size
    )
    # the consensus is what `fgsgl import --fg-annotations` takes, for the clips it covers
    manifest, note = join_fg_annotations(
        load_dataset(smg).manifest, tmp_path / "out" / "consensus.csv"
    )
    assert note.endswith(f"{len(decided)} of {len(manifest)} clips")
    joined = manifest.set_index("clip_id").loc[ok]
    assert list(joined["receiver"]) == list(decided.loc[ok, "receiver"])


def bad_export(tmp_path: Path) -> Path:
    """The recorded export with one of each kind of problem."""
    tasks = recorded()
    t0, t1, t2, t3, t4 = tasks[:5]
    t0["annotations"][0]["result"].append(
        {"from_name": "sentiment", "to_name": "text", "type": "choices",
         "value": {"choices": ["positive"]}}
    )  # fmt: skip
    t1["annotations"][1]["result"][0]["value"]["choices"] = ["left elbow"]
    t2["data"]["clip_id"] = "c99_s99_999"
    t3["annotations"][1]["result"] = t3["annotations"][1]["result"][:2]  # half done
    t4["annotations"] = t4["annotations"][:1]  # one annotator only
    dup = copy.deepcopy(tasks[5]["annotations"][0])
    dup["id"], dup["updated_at"] = 999, "9999-01-01T00:00:00Z"
    dup["result"][0]["value"]["choices"] = ["both hands"]
    tasks[5]["annotations"].append(dup)  # the same person again, later
    skipped = copy.deepcopy(tasks[6]["annotations"][0])
    skipped["was_cancelled"], skipped["completed_by"] = True, {"id": 3, "email": "third@x.org"}
    tasks[6]["annotations"].append(skipped)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(tasks))
    return path


def test_every_bad_answer_is_reported_by_file_task_and_annotator(smg: Path, tmp_path: Path) -> None:
    path = bad_export(tmp_path)
    result = import_annotations([path], tmp_path / "out", dataset=smg)
    problems = pd.read_csv(tmp_path / "out" / "problems.csv")
    tasks = recorded()
    said = {(p.task, p.annotator, p.problem) for p in problems.itertuples()}
    ids = [t["id"] for t in tasks]
    assert (ids[0], ADMIN, "controls of another project: sentiment") in said
    assert (ids[1], SECOND, "initiator 'left elbow' is not in the vocabulary") in said
    assert any(t == ids[2] and "'c99_s99_999' is not in the dataset" in p for t, _, p in said)
    assert (ids[3], SECOND, "left out direction, motion") in said
    assert (ids[5], ADMIN, "annotated this task twice; the later one counts") in said
    assert (ids[6], "third@x.org", "skipped the task (cancelled annotation); not counted") in said
    assert (ids[1], SECOND, "left out initiator") in said  # its one answer was illegal
    assert set(problems["file"]) == {str(path)} and result["problems"] == len(problems) == 7
    decided = pd.read_csv(tmp_path / "out" / "consensus.csv").set_index("clip_id")
    c4, c5 = tasks[4]["data"]["clip_id"], tasks[5]["data"]["clip_id"]
    assert decided.loc[c4, "initiator_decided"] == "single annotator"
    assert decided.loc[c5, "initiator_decided"] == "disputed"  # the later answer disagrees
    assert tasks[2]["data"]["clip_id"] not in decided.index


def test_unreadable_and_empty_exports_are_refused(tmp_path: Path) -> None:
    (tmp_path / "empty.json").write_text("[]")
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(FgsglError) as err:
        import_annotations([tmp_path / "empty.json", tmp_path / "broken.json"], tmp_path / "o")
    assert any("empty.json: the export holds no tasks" in p for p in err.value.problems)
    assert any("broken.json: not a Label Studio JSON export" in p for p in err.value.problems)


def test_decisions() -> None:
    assert decide(["a", "a", "a"], []) == ("a", "unanimous")
    assert decide(["a", "a", "b"], []) == ("a", "majority")
    assert decide(["a", "b"], []) == (None, "disputed")
    assert decide(["a", "b"], ["b"]) == ("b", "adjudicated")
    assert decide(["a"], []) == ("a", "single annotator")


def simulate(
    error: float, annotators: int, clips: int, seed: int = 0
) -> tuple[pd.DataFrame, np.ndarray]:
    """Annotators answering the receiver: right with 1 - error, else a uniformly drawn
    other vocabulary value; the truth uniform over 8 values."""
    rng = np.random.default_rng(seed)
    values = list(vocabulary()["receiver"])
    truth = rng.choice(values[:8], clips)
    rows = []
    for k in range(annotators):
        for i, t in enumerate(truth):
            v = t if rng.random() >= error else rng.choice([x for x in values if x != t])
            rows.append({"file": "sim", "task": i, "clip_id": f"c{i:05d}",
                         "annotator": f"a{k}", "attribute": "receiver", "value": v,
                         "other": "", "review": False})  # fmt: skip
    return pd.DataFrame(rows), truth


@pytest.mark.parametrize("error", [0.1, 0.3])
def test_agreement_and_consensus_come_out_as_the_error_rates_predict(error: float) -> None:
    answers, truth = simulate(error, annotators=3, clips=3000)
    row = agreement(answers).set_index("attribute").loc["receiver"]
    v = len(vocabulary()["receiver"])
    right = 1 - error
    expect_percent = right**2 + error**2 / (v - 1)  # two answers agree
    # the values' share: right answers spread over the 8 true values, wrong ones over all
    p_true = right / 8 + error * (1 / 8) * 7 / (v - 1)
    p_other = error * 8 / 8 / (v - 1)
    expected_chance = 8 * p_true**2 + (v - 8) * p_other**2
    expect_alpha = 1 - (1 - expect_percent) / (1 - expected_chance)
    assert abs(row["percent"] - expect_percent) < 0.02
    assert (
        row["percent_low"] <= expect_percent + 0.01 and row["percent_high"] >= expect_percent - 0.01
    )
    assert abs(row["alpha"] - expect_alpha) < 0.02
    decided = consensus(answers, pd.DataFrame(columns=["clip_id", "attribute", "value"]))
    by_people = decided["receiver_decided"].isin(["unanimous", "majority"])
    accuracy = np.mean(decided.loc[by_people, "receiver"].to_numpy() == truth[by_people.to_numpy()])
    # majority of 3 right when 2 or 3 are right; wrong only when two wrong answers coincide
    p_decided_right = right**3 + 3 * right**2 * error
    p_two_wrong_alike = 3 * error**2 * (right + error / (v - 1)) / (v - 1) + error**3 / (v - 1) ** 2
    expect_accuracy = p_decided_right / (p_decided_right + p_two_wrong_alike)
    assert abs(accuracy - expect_accuracy) < 0.01
    assert abs(by_people.mean() - (p_decided_right + p_two_wrong_alike)) < 0.02


@needs_sdk
def test_a_review_project_adjudicates_the_disputes(smg: Path, tmp_path: Path) -> None:
    first = import_annotations([RECORDED], tmp_path / "round1", dataset=smg)
    assert first["disputed"] == 3
    export_project(smg, tmp_path / "review", review=tmp_path / "round1" / "disagreements.csv")
    review = json.loads((tmp_path / "review" / "tasks.json").read_text())
    assert len(review) == 3 and all(t["data"]["fgsgl_review"] for t in review)
    assert {p["model_version"] for t in review for p in t["predictions"]} == {
        f"annotator:{ADMIN}", f"annotator:{SECOND}"
    }  # fmt: skip
    # the adjudicator (a third person) sides with the first annotator: as Label Studio
    # would export it, the review tasks with one annotation each
    for i, task in enumerate(review):
        chosen = next(p for p in task["predictions"] if p["model_version"].endswith(ADMIN))
        task["id"] = 100 + i
        task["annotations"] = [{"id": 200 + i, "completed_by": {"id": 4, "email": "lead@x.org"},
                                "result": chosen["result"]}]  # fmt: skip
    (tmp_path / "review.json").write_text(json.dumps(review))
    second = import_annotations(
        [RECORDED, tmp_path / "review.json"], tmp_path / "round2", dataset=smg
    )
    assert second["decisions"]["receiver"] == {"unanimous": 5, "adjudicated": 3}
    assert second["disputed"] == 0 and second["problems"] == 0
    decided = pd.read_csv(tmp_path / "round2" / "consensus.csv").set_index("clip_id")
    truth = synthmg_truth(load_dataset(smg).manifest).set_index("clip_id")
    assert list(decided["receiver"]) == list(truth.loc[decided.index, "receiver"])


def test_the_closed_form_alpha_is_krippendorffs() -> None:
    """The bootstrap's fast alpha equals the krippendorff package's on ragged data."""
    from fgsgl.annotate.agreement import _statistics, alpha, unit_counts

    rng = np.random.default_rng(3)
    matrix = rng.integers(0, 5, (4, 300)).astype(float)
    matrix[rng.random(matrix.shape) < 0.3] = np.nan  # annotators skip clips
    counts = unit_counts(matrix)
    fast = _statistics(counts, np.ones((1, len(counts))))[0][0]
    assert fast == pytest.approx(alpha(matrix), abs=1e-12)


def test_an_export_of_another_project_is_refused_saying_why(tmp_path: Path) -> None:
    other = [{"id": 7, "data": {"text": "hello"}, "annotations": [
        {"id": 1, "completed_by": 1, "result": [{"from_name": "sentiment", "to_name": "text",
         "type": "choices", "value": {"choices": ["positive"]}}]}]}]  # fmt: skip
    (tmp_path / "other.json").write_text(json.dumps(other))
    with pytest.raises(FgsglError, match="no usable annotations") as err:
        import_annotations([tmp_path / "other.json"], tmp_path / "o")
    assert err.value.problems == [
        f"{tmp_path / 'other.json'}: task 7: : the task has no data.clip_id (not an fgsgl project?)"
    ]
