"""Planning time: what would fail in a pod is refused before any run starts (run-local and
submit, dry runs included), every problem at once; `submit --dry-run` of the paper config
shows the fetch steps, the pinned revisions and 15 epochs in all."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from dataset_helpers import planning_dataset
from tiny_checkpoints import internvl_original, internvl_vision

from fgsgl.cli import main
from fgsgl.errors import FgsglError
from fgsgl.pipelines.plan import plan_runs, read_settings
from fgsgl.pipelines.preflight import check_runs

PINNED = "OpenGVLab/InternVL2_5-8B@e9e4c0dc1db56bfab10458671519b7fa3dd29463"


def plans(variant: str = "full", **settings):
    return plan_runs(variant, settings=read_settings(values=settings))


@pytest.fixture(scope="module")
def original(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("ckpt") / "internvl"
    internvl_original(folder)
    return folder


def test_good_runs_pass_and_say_where_their_weights_come_from(original, tmp_path):
    assert check_runs(plans()) == []  # tiny-clip and minilm: nothing to fetch
    notes = check_runs(plans(backbone=f"internvl:{original}"))
    where = f"the vision part is fetched once from the local folder {original}"
    assert notes == [f"backbone internvl:{original}: {where}"]
    mirror = tmp_path / "mirror"
    shutil.copytree(original, mirror / PINNED)
    notes = check_runs(plans(backbone=f"internvl:{PINNED}", weights_mirror=str(mirror)))
    assert "fetched once from the mirror" in notes[0] and "at commit e9e4c0dc" in notes[0]
    unpinned = check_runs(plans(backbone="internvl:OpenGVLab/InternVL2_5-8B"))  # offline: not asked
    assert any("not pinned to a commit" in n for n in unpinned)


def test_every_problem_of_every_run_in_one_error(original, tmp_path):
    (tmp_path / "empty").mkdir()
    moe = tmp_path / "moe"
    internvl_original(moe, use_moe=True)
    vision_only = internvl_vision(tmp_path / "vision")
    runs = [
        *plans(backbone=f"internvl:{tmp_path / 'empty'}"),
        *plans("no_cp_a", backbone=f"internvl:{moe}", selection="best"),
        *plans("class_text", backbone=f"internvl:{vision_only}", trainable_mlp="projector"),
        *plans("no_ml_co", backbone=f"internvl:{PINNED}", weights_mirror=str(tmp_path / "none")),
        *plans("no_fg_sa", text_encoder="internvl:org/name@"),
    ]
    with pytest.raises(FgsglError) as e:
        check_runs(runs)
    problems = e.value.problems
    text = "\n".join(problems)
    assert e.value.message.startswith("these runs would fail in their pods")
    assert f"run full: backbone internvl:{tmp_path / 'empty'}: no config.json" in text
    assert "run no_cp_a: selection: 'best' is not one of ['stage', 'run']" in text
    assert "run no_cp_a: backbone" in text and "use_moe is true" in text
    assert "run class_text: backbone" in text and "has no usable projector" in text
    assert f"weights_mirror {tmp_path / 'none'} has no {PINNED}/config.json" in text
    assert "run no_fg_sa: text_encoder: org/name@: not a Hugging Face id" in text
    assert len(problems) == 6


def test_run_local_refuses_before_any_task_runs(tmp_path):
    from fgsgl.pipelines.local import run_local

    ds = planning_dataset(tmp_path / "ds")
    with pytest.raises(FgsglError, match="would fail in their pods"):
        run_local(ds, "full", tmp_path / "root", {"backbone": f"internvl:{tmp_path / 'nope'}"})
    assert not (tmp_path / "root").exists()


def test_the_paper_dry_run_shows_the_fetch_steps_pinned_revisions_and_15_epochs(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    dataset = planning_dataset(tmp_path / "ds")
    args = ["submit", "--dataset", str(dataset), "--config", "paper-smg", "--dry-run"]
    assert main([*args, "--variant", "full,no_ml_co"]) == 0
    out = capsys.readouterr().out
    assert f'backbone="internvl:{PINNED}"' in out and f'text_encoder="internvl:{PINNED}"' in out
    assert "training: stage 1 5 (cls + cp) + stage 2 10 (cls + cp + fg) = 15 epochs" in out
    assert "training: one stage 15 (cls + cp + fg) = 15 epochs" in out
    steps = next((line for line in out.splitlines() if line.startswith("steps: ")), None)
    assert steps is not None, out
    names = steps.removeprefix("steps: ").split(", ")
    assert names.index("fetch-backbone") < names.index("train-stage1")
    assert names.index("fetch-text-encoder") < names.index("encode-text")
    # after both branches of the ML-CO condition: stage 2, then the evaluation
    assert names.index("train-stage1") < names.index("train-stage2") < names.index("evaluate")
    assert names.index("start-one-stage") < names.index("train-stage2")
    hub = "the vision part is fetched once from the Hugging Face hub at commit e9e4c0dc1db5"
    assert f"weights: backbone internvl:{PINNED}: {hub}" in out
    assert 'selection="run"' in out and "best val top-1 of the whole run kept" in out
