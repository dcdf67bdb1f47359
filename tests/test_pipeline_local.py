"""run-local end to end on a tiny SynthMG set (with keypoints): the six variants under
kfp.local with its cache, what runs cold and warm, what a changed setting or manifest
reruns, the compiled YAML run back, and `fgsgl rerun` of the evaluation.

Cold, FG-SGL's five variants are exactly 18 task executions: the 2 weights fetches (backbone
and text encoder, empty artifacts for tiny-clip and minilm), 1 extraction, 1 attributes
step (FG-Text attributes: SynthMG's own, annotated), 1 text encoding,
2 stage-1 trainings (full, no_fg_sa and class_text share one; no_cp_a has its own; no_ml_co
has none, and its one-stage marker instead), 5 stage-2 trainings and 5 evaluations. clip_mg
after them is 2 more (its one training stage and its evaluation): it shares their fetches,
extraction, text encoding and the one-stage marker.
"""

import builtins
import json
import os
import re
import shutil
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from fgsgl.cli import main
from fgsgl.pipelines.local import LocalResult, run_local

pytestmark = pytest.mark.slow

TINY = {  # the smallest run that still trains and evaluates every step
    "num_frames": 4,
    "frame_size": 32,
    "stage1.epochs": 1,
    "stage2.epochs": 1,
    "optim.batch_size": 4,
    "model.proj_hidden": 32,
}
FETCH = {"fetch_backbone": 1, "fetch_text_encoder": 1}
COLD = {
    **FETCH,
    "extract_frames": 1,
    "derive_attributes": 1,
    "encode_text": 1,
    "train_stage1": 2,
    "train_stage2": 5,
    "evaluate": 5,
}
ABLATIONS = ["full", "no_fg_sa", "no_cp_a", "no_ml_co", "class_text"]
PRINT = builtins.print  # kfp.local swaps it while tasks run; run-local must put it back


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from fgsgl.synth import SynthConfig
    from fgsgl.synth.generate import generate

    out = tmp_path_factory.mktemp("synth") / "ds"
    config = SynthConfig(
        classes=4, clips_per_class=3, subjects=3, size=32, frames=8, seed=3, keypoints=True
    )
    generate(out, config, workers=1, progress=False)
    return out


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("runlocal")


@pytest.fixture(scope="module")
def cold(dataset: Path, root: Path) -> LocalResult:
    return run_local(dataset, ABLATIONS, root, TINY, echo=lambda line: None)


@pytest.fixture(scope="module")
def clip_mg(cold: LocalResult, dataset: Path, root: Path) -> LocalResult:
    return run_local(dataset, "clip_mg", root, TINY, echo=lambda line: None)


def by_run(result: LocalResult) -> dict[str, dict[str, str]]:
    """run -> step -> status."""
    return {r.name: {t.step: t.status for t in r.tasks} for r in result.runs}


def test_cold_run_of_the_five_ablations_executes_18_tasks(cold: LocalResult, root: Path) -> None:
    assert [r.name for r in cold.runs] == ABLATIONS
    assert len(cold.executions) == 18
    assert cold.executed_steps() == Counter(COLD) + Counter({"start_one_stage": 1})
    status = by_run(cold)
    assert status["full"] == dict.fromkeys(COLD, "executed")
    # no_fg_sa and class_text take full's stage 1 from the cache; no_cp_a trains its own
    for name in ("no_fg_sa", "class_text"):
        assert status[name]["train_stage1"] == "cached"
        assert status[name]["train_stage2"] == "executed"
    assert status["no_cp_a"]["train_stage1"] == "executed"
    assert "train_stage1" not in status["no_ml_co"]
    assert status["no_ml_co"]["start_one_stage"] == "executed"
    # both branches' training and evaluation are the same tasks: one name in KFP's views
    for run in cold.runs:
        assert {t.task for t in run.tasks if t.step in ("train_stage2", "evaluate")} == {
            "train-stage2",
            "evaluate",
        }
        assert "metrics" in run.task("evaluate").outputs
    stage1 = {
        r.name: r.task("train_stage1").outputs["model"] for r in cold.runs if r.name != "no_ml_co"
    }
    assert stage1["no_fg_sa"] == stage1["class_text"] == stage1["full"] != stage1["no_cp_a"]
    assert stage1["full"].startswith(str(root / "runs" / "full"))
    # every run evaluated, same metric keys; a comparison over the five
    for run in cold.runs:
        metrics = run.metrics()
        assert set(metrics) == {"top1", "top5", "macro_f1", "mean_class_acc"}
        assert all(0.0 <= v <= 1.0 for v in metrics.values())
    assert Path(cold.compare).is_file()
    summary = json.loads((root / "summary.json").read_text())
    assert summary["executions"] == 18
    assert not list((root / "tmp").glob("tmp.*"))  # kfp's temp folders went to ROOT/tmp
    assert builtins.print is PRINT  # not left indented by tasks that ran side by side


def test_run_records_and_the_kfp_views_of_the_evaluation(cold: LocalResult, root: Path) -> None:
    full = cold.runs[0]
    saved = json.loads((Path(full.directory) / "run.json").read_text())
    assert saved["variant"] == "full" and saved["status"] == "succeeded"
    evaluate = full.task("evaluate")
    assert set(evaluate.artifacts) == {"frames", "model", "texts", "backbone_weights"}
    assert evaluate.parameters == {"variant": "full", "eval_split": "test", "prototype_weight": 0.0}
    metrics_file = json.loads(Path(evaluate.outputs["metrics"]).read_text())
    assert metrics_file == pytest.approx(full.metrics())
    confusion = json.loads(Path(evaluate.outputs["confusion"]).read_text())["confusionMatrix"]
    names = [a["displayName"] for a in confusion["annotationSpecs"]]
    ev = json.loads((Path(full.evaluation) / "confusion.json").read_text())
    assert names == ev["class_names"]
    assert [r["row"] for r in confusion["rows"]] == ev["matrix"]
    assert Path(evaluate.outputs["report"]).read_text().startswith("#")
    report = cold.report()
    assert "18 of 40 tasks executed" in report
    assert re.search(r"^no_fg_sa\s+train-stage1\s+cached\s+-\s+runs/full/", report, re.M)
    # each training task's Metrics are its history; the report says where its curves are
    stage1 = full.task("train_stage1")
    history = json.loads((Path(stage1.outputs["model"]) / "history.json").read_text())
    logged = json.loads(Path(stage1.outputs["metrics"]).read_text())
    assert logged["best_val_top1"] == max(e["val_top1"] for e in history)
    assert logged["final_loss_cp"] == history[-1]["loss_cp"] and logged["epochs"] == 1
    assert set(full.tensorboard) == {"train-stage1", "train-stage2"}
    assert set(cold.runs[ABLATIONS.index("no_ml_co")].tensorboard) == {"train-stage2"}
    assert f"tensorboard --logdir {root / 'runs'}" in report
    for run in cold.runs:
        for label, logdir in run.tensorboard.items():
            where = re.escape(os.path.relpath(logdir, root))
            assert re.search(rf"^{run.name}\s+{label}\s+{where}$", report, re.M), (run.name, label)
    # what `tensorboard --logdir ROOT/runs` loads: the curves of all 7 trainings that ran
    from tensorboard.backend.event_processing.plugin_event_multiplexer import EventMultiplexer

    board = EventMultiplexer().AddRunsFromDirectory(str(root / "runs"))
    board.Reload()
    trained = {logdir for run in cold.runs for logdir in run.tensorboard.values()}
    assert {str(root / "runs" / name) for name in board.Runs()} == trained
    assert len(trained) == 7
    assert all("loss/total" in tags["tensors"] for tags in board.Runs().values())


def test_clip_mg_shares_extraction_and_texts_and_ends_with_metrics(
    cold: LocalResult, clip_mg: LocalResult
) -> None:
    (run,) = clip_mg.runs
    assert clip_mg.executed_steps() == Counter({"train_stage2": 1, "evaluate": 1})
    status = by_run(clip_mg)["clip_mg"]
    assert status["extract_frames"] == status["encode_text"] == "cached"
    assert status["fetch_backbone"] == status["fetch_text_encoder"] == "cached"
    assert "train_stage1" not in status  # one stage: the ml_co=false path
    for step in ("fetch_backbone", "extract_frames", "encode_text"):
        assert run.task(step).outputs == cold.runs[0].task(step).outputs
    model = json.loads(
        (Path(run.task("train_stage2").outputs["model"]) / "metadata.json").read_text()
    )
    assert model["family"] == "clip_mg" and set(model["losses"]) == {"cls", "cp"}
    metrics = run.metrics()
    assert set(metrics) == {"top1", "top5", "macro_f1", "mean_class_acc"}
    assert all(0.0 <= v <= 1.0 for v in metrics.values())


def test_a_second_identical_run_executes_nothing(
    cold: LocalResult, clip_mg: LocalResult, dataset: Path, root: Path
) -> None:
    warm = run_local(dataset, "all", root, TINY, echo=lambda line: None)
    assert [r.name for r in warm.runs] == [*ABLATIONS, "clip_mg"]
    assert warm.executions == []
    assert all(t.status == "cached" for r in warm.runs for t in r.tasks)
    assert warm.metrics() == {**cold.metrics(), **clip_mg.metrics()}
    # one comparison table holds FG-SGL's variants and the CLIP-MG baseline
    table = Path(warm.compare).read_text()
    assert all(re.search(rf"^\|\s*{name}\b", table, re.M) for name in warm.metrics())


def test_clip_mg_on_a_dataset_without_keypoints_is_refused_before_any_run(
    dataset: Path, tmp_path: Path
) -> None:
    from fgsgl.errors import FgsglError

    bare = tmp_path / "ds"
    shutil.copytree(dataset, bare)
    manifest = pd.read_csv(bare / "manifest.csv")
    manifest.drop(columns=["keypoints"]).to_csv(bare / "manifest.csv", index=False)
    with pytest.raises(FgsglError) as err:
        run_local(bare, "full,clip_mg", tmp_path / "root", TINY, echo=lambda line: None)
    assert "run(s) clip_mg need per-frame keypoints" in str(err.value)
    assert not (tmp_path / "root" / "runs").exists()


def test_a_stage2_setting_reruns_only_stage2_and_evaluation(
    cold: LocalResult, dataset: Path, root: Path
) -> None:
    changed = run_local(
        dataset, "full,no_ml_co", root, {**TINY, "stage2.lr": 3e-4}, echo=lambda line: None
    )
    assert changed.executed_steps() == Counter({"train_stage2": 2, "evaluate": 2})
    assert by_run(changed)["full"]["train_stage1"] == "cached"


def test_seeds_multiply_only_the_seed_dependent_tasks(
    cold: LocalResult, dataset: Path, root: Path
) -> None:
    seeded = run_local(dataset, "full", root, TINY, seeds=[0, 1], echo=lambda line: None)
    assert [r.name for r in seeded.runs] == ["full-seed0", "full-seed1"]
    # seed 0 is the cold run's own (the default seed); seed 1 trains and evaluates anew
    # while extraction and text encoding come from the cache
    assert by_run(seeded)["full-seed0"] == dict.fromkeys(
        [
            *FETCH,
            *("extract_frames", "derive_attributes", "encode_text"),
            *("train_stage1", "train_stage2", "evaluate"),
        ],
        "cached",
    )
    assert seeded.executed_steps() == Counter({"train_stage1": 1, "train_stage2": 1, "evaluate": 1})
    assert seeded.runs[0].metrics() == cold.runs[0].metrics()  # same seed, same metrics
    one = seeded.runs[1].task("train_stage1").outputs["model"]
    history = json.loads((Path(one) / "history.json").read_text())
    reference = json.loads(
        (Path(cold.runs[0].task("train_stage1").outputs["model"]) / "history.json").read_text()
    )
    assert history[0]["loss"] != reference[0]["loss"]  # another seed, another initialisation


def test_the_compiled_yaml_loaded_back_is_the_pipeline_that_ran(
    cold: LocalResult, dataset: Path, root: Path, tmp_path: Path
) -> None:
    """`fgsgl compile` writes what run-local ran: its YAML carries the run's parameters as
    defaults, and loaded back and run under kfp.local with the same cache, every task is a
    hit. (The arguments are passed explicitly: kfp.local reads an integer default from the
    YAML back as a float, which would change the cache keys.)"""
    from kfp import components

    from fgsgl.pipelines.local import execute, task_environment
    from fgsgl.runtime.runs import RunRecord

    sets = [f"--set={k}={v}" for k, v in TINY.items()]
    sets.append("--set=model.backbone=tiny-clip")  # chosen: a default then (for upload: none)
    args = ["compile", "--variant", "no_cp_a", "--out", str(tmp_path), "--dataset", str(dataset)]
    assert main([*args, *sets, "--retries", "0"]) == 0
    loaded = components.load_component_from_file(str(tmp_path / "fgsgl-no_cp_a.yaml"))
    arguments = cold.runs[2].arguments
    defaults = {k: v.default for k, v in loaded.component_spec.inputs.items()}
    assert defaults == arguments
    record = RunRecord("yaml", "no_cp_a", 0, "", {}, root=str(root), log=str(tmp_path / "log"))
    with task_environment(root / "tmp"):
        execute(
            lambda: loaded(**arguments),
            record,
            pipeline_root=tmp_path / "out",
            cache=True,
            show_logs=False,
            echo=print,
        )
    assert record.status == "succeeded"
    # the two fetches, extraction, text encoding, two stages, evaluation
    assert [t.status for t in record.tasks] == ["cached"] * 8
    assert record.metrics() == cold.runs[2].metrics()


def test_rerun_evaluation_from_an_earlier_run(
    cold: LocalResult, root: Path, capsys: pytest.CaptureFixture
) -> None:
    earlier = cold.runs[0].directory  # ROOT/runs/full/fgsgl-TIME: that run, not a later one
    code = main(["rerun", "evaluate", "--from", earlier, "--set", "eval_split=val"])
    out = capsys.readouterr().out
    assert code == 0
    assert "evaluate" in out and "executed" in out
    rerun_dir = next((root / "reruns" / "full").glob("*/evaluate/evaluation"))
    meta = json.loads((rerun_dir / "metadata.json").read_text())
    assert meta["split"] == "val"
    assert meta["model"] == cold.runs[0].task("train_stage2").outputs["model"]


def test_a_changed_manifest_invalidates_everything_that_reads_the_dataset(
    cold: LocalResult, dataset: Path, root: Path, tmp_path: Path
) -> None:
    changed = tmp_path / "ds"
    shutil.copytree(dataset, changed)
    manifest = pd.read_csv(changed / "manifest.csv")
    manifest.loc[0, "clip_id"] = "renamed-clip"
    manifest.to_csv(changed / "manifest.csv", index=False)
    result = run_local(changed, "full", root, TINY, echo=lambda line: None)
    status = {t.step: t.status for t in result.runs[0].tasks}
    assert status == {**dict.fromkeys(COLD, "executed"), **dict.fromkeys(FETCH, "cached")}


def test_a_failing_task_is_one_clear_error_and_keeps_what_was_done(
    cold: LocalResult, dataset: Path, root: Path
) -> None:
    from fgsgl.errors import FgsglError

    with pytest.raises(FgsglError) as err:
        run_local(dataset, "full", root, {**TINY, "eval_split": "nosuchsplit"}, echo=lambda x: None)
    message = str(err.value)
    assert "run full: task evaluate failed" in message
    assert "nosuchsplit" in message
    summary = json.loads((root / "summary.json").read_text())
    assert summary["runs"][0]["status"] == "failed"


def test_extraction_fans_out_over_shards_and_merges(dataset: Path, tmp_path: Path) -> None:
    """The pipeline's sharded extraction (compile option --extract-shards) under kfp.local:
    one task per shard, then a merge that holds every clip once."""
    from kfp import dsl

    from fgsgl.pipelines.local import execute, task_environment
    from fgsgl.pipelines.pipeline import BuildOptions, extraction
    from fgsgl.runtime.runs import RunRecord
    from fgsgl.video.frames import FramesArtifact

    @dsl.pipeline(name="frames-only")
    def frames_only(
        dataset: str,
        dataset_fingerprint: str,
        num_frames: int = 4,
        frame_size: int = 32,
        resize: str = "squash",
        max_failure_ratio: float = 0.05,
    ) -> None:
        extraction(dict(locals()), BuildOptions(extract_shards=2, gpu_retries=0))

    record = RunRecord("shards", "full", 0, "", {}, root=str(tmp_path), log=str(tmp_path / "log"))
    (tmp_path / "tmp").mkdir()
    with task_environment(tmp_path / "tmp"):
        execute(
            lambda: frames_only(dataset=str(dataset), dataset_fingerprint="fp"),
            record,
            pipeline_root=tmp_path / "out",
            cache=False,
            show_logs=False,
            echo=lambda line: None,
        )
    assert record.status == "succeeded"
    assert sorted(t.label for t in record.executed) == [
        "extract-frames[0]",
        "extract-frames[1]",
        "merge-frames",
    ]
    merged = FramesArtifact.open(record.task("merge_frames").outputs["frames"])
    clip_ids = list(merged.index["clip_id"])
    manifest = pd.read_csv(dataset / "manifest.csv")
    assert sorted(clip_ids) == sorted(manifest["clip_id"])
