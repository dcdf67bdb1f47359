"""The compiled pipeline: every variant compiles and loads back with kfp, and its YAML carries
the variant's defaults, the GPU node pool settings and the cache-key wiring."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from kfp import components

from fgsgl.cli import main
from fgsgl.pipelines.pipeline import parameter_defaults, parameter_types
from fgsgl.pipelines.variants import load_variants
from fgsgl.settings import (
    BY_KEY,
    NOT_PARAMETERS,
    NULL_SENTINELS,
    OTHER_PARAMETERS,
    TRAIN_KEYS,
    TRAINING,
)

VARIANTS = {
    "full": {"fg_sa": True, "cp_a": True, "ml_co": True, "text_granularity": "fine"},
    "no_fg_sa": {"fg_sa": False, "cp_a": True, "ml_co": True, "text_granularity": "fine"},
    "no_cp_a": {"fg_sa": True, "cp_a": False, "ml_co": True, "text_granularity": "fine"},
    "no_ml_co": {"fg_sa": True, "cp_a": True, "ml_co": False, "text_granularity": "fine"},
    "class_text": {"fg_sa": True, "cp_a": True, "ml_co": True, "text_granularity": "class"},
    # the CLIP-MG baseline: another model family, one stage (the ml_co=false path), no L_fg
    "clip_mg": {
        "family": "clip_mg",
        "fg_sa": False,
        "cp_a": True,
        "ml_co": False,
        "text_granularity": "fine",
    },
}
GPU_TASKS = {"train-stage1", "train-stage2"}


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pipelines")
    assert main(["compile", "--variant", "all", "--out", str(out)]) == 0
    return out


def load(path: Path) -> tuple[dict, dict]:
    spec, platform = yaml.safe_load_all(path.read_text())
    return spec, platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]


def all_tasks(spec: dict) -> dict[str, dict]:
    """Every task of the pipeline, in the root DAG or a condition's sub-DAG, by name."""
    tasks = dict(spec["root"]["dag"]["tasks"])
    for comp in spec["components"].values():
        tasks.update(comp.get("dag", {}).get("tasks", {}))
    return tasks


def test_variants_file_names_the_five_ablations_and_clip_mg() -> None:
    variants = load_variants()
    assert list(variants) == list(VARIANTS)
    for name, switches in VARIANTS.items():
        assert {k: variants[name].parameters[k] for k in switches} == switches


def test_every_variant_compiles_loads_back_and_carries_its_defaults(compiled: Path) -> None:
    defaults = parameter_defaults()
    assert sorted(p.name for p in compiled.iterdir()) == sorted(f"fgsgl-{v}.yaml" for v in VARIANTS)
    for name, switches in VARIANTS.items():
        component = components.load_component_from_file(str(compiled / f"fgsgl-{name}.yaml"))
        inputs = component.component_spec.inputs
        assert component.name == "fgsgl"
        assert inputs["variant"].default == name
        for key, value in switches.items():
            assert inputs[key].default == value, (name, key)
        # everything else keeps the pipeline's default, except the laptop's backbone: a
        # YAML for upload asks for one (the KFP UI will not start a run without it)
        assert inputs["stage1_epochs"].default == defaults["stage1_epochs"]
        assert inputs["backbone"].default is None and not inputs["backbone"].optional
        assert inputs["gpus"].default == 1
        required = [n for n, i in inputs.items() if not i.optional]
        assert sorted(required) == ["backbone", "dataset", "dataset_fingerprint"]
        assert inputs["dataset"].default is None


@pytest.mark.parametrize(
    ("sets", "backbone"),
    [
        (["--config", "paper-smg"], "internvl:OpenGVLab/InternVL2_5-8B@"),
        (["--set", "model.backbone=clip:/models/clip-vit-b16"], "clip:/models/clip-vit-b16"),
        (["--set", "model.backbone=tiny-clip"], "tiny-clip"),  # a choice, not the default
    ],
)
def test_a_backbone_chosen_at_compile_time_is_the_default(
    tmp_path: Path, capsys: pytest.CaptureFixture, sets: list[str], backbone: str
) -> None:
    assert main(["compile", "--out", str(tmp_path), *sets]) == 0
    component = components.load_component_from_file(str(tmp_path / "fgsgl-full.yaml"))
    assert component.component_spec.inputs["backbone"].default.startswith(backbone)
    assert "note: backbone" not in capsys.readouterr().err


def test_compiling_for_upload_says_which_parameter_a_run_must_set(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    assert main(["compile", "--out", str(tmp_path)]) == 0
    err = capsys.readouterr().err
    assert err.startswith("note: backbone has no default in the YAML")
    assert "--config paper-smg or --set model.backbone=... compiles a default in" in err


def test_gpu_tasks_get_accelerator_node_selector_toleration_shm_and_retries(
    compiled: Path,
) -> None:
    spec, k8s = load(compiled / "fgsgl-full.yaml")
    executors = spec["deploymentSpec"]["executors"]
    root_inputs = spec["root"]["inputDefinitions"]["parameters"]
    assert root_inputs["gpu_type"]["defaultValue"] == "nvidia.com/gpu"
    assert root_inputs["gpus"]["defaultValue"] == 1
    assert root_inputs["gpu_node_selector"]["defaultValue"] == {}  # any cloud's GPU nodes
    assert root_inputs["gpu_tolerations"]["defaultValue"] == [
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
    ]
    tasks = all_tasks(spec)
    for name in GPU_TASKS:
        executor = f"exec-{name}"
        container = executors[executor]["container"]
        accelerator = container["resources"]["accelerator"]
        channel = "pipelinechannel--" if name == "train-stage1" else ""  # in a sub-DAG
        assert accelerator["resourceType"] == (
            "{{$.inputs.parameters['pipelinechannel--gpu_type']}}"
        )
        assert accelerator["resourceCount"] == ("{{$.inputs.parameters['pipelinechannel--gpus']}}")
        assert container["image"].startswith("fgsgl-gpu:")
        platform = k8s[executor]
        assert platform["nodeSelector"]["nodeSelectorJson"]["componentInputParameter"] == (
            f"{channel}gpu_node_selector"
        )
        toleration = platform["tolerations"][0]["tolerationJson"]["componentInputParameter"]
        assert toleration == f"{channel}gpu_tolerations"
        assert platform["emptyDirMounts"] == [
            {"medium": "Memory", "mountPath": "/dev/shm", "sizeLimit": "16Gi", "volumeName": "dshm"}
        ]
        assert tasks[name]["retryPolicy"]["maxRetryCount"] == 3
    # the GPU parameters reach the condition sub-DAGs (a kfp 2.17 pitfall, see _place)
    params = spec["components"]["comp-condition-2"]["inputDefinitions"]["parameters"]
    assert {"pipelinechannel--gpu_type", "pipelinechannel--gpus"} <= set(params)
    # CPU steps: CPU image, requests, no accelerator, no GPU pool
    for name in ("extract-frames", "encode-text", "evaluate", "start-one-stage"):
        container = executors[f"exec-{name}"]["container"]
        assert container["image"].startswith("fgsgl-cpu:")
        assert "accelerator" not in container["resources"]
        assert container["resources"]["resourceCpuRequest"] == "4"
        assert f"exec-{name}" not in k8s
        assert "retryPolicy" not in tasks[name]


def test_stage1_sits_under_ml_co_and_each_task_gets_only_what_it_reads(compiled: Path) -> None:
    spec, _ = load(compiled / "fgsgl-full.yaml")
    tasks = all_tasks(spec)

    def params(name: str) -> set[str]:
        names = set(tasks[name]["inputs"].get("parameters", {}))
        return {n for n in names if not n.startswith(("pipelinechannel--", "accelerator_"))}

    assert params("extract-frames") == {
        "dataset",
        "dataset_fingerprint",
        "num_frames",
        "frame_size",
        "resize",
        "max_failure_ratio",
        "keep_partial",
    }
    assert params("encode-text") == {
        "dataset",
        "dataset_fingerprint",
        "text_encoder",
        "text_pooling",
        "text_dtype",
        "text_trust_remote_code",
        "text_paraphrases",
    }
    assert params("derive-attributes") == {"dataset", "dataset_fingerprint", "fg_attributes"}
    assert params("fetch-backbone") == {"backbone", "weights_mirror"}
    assert params("fetch-text-encoder") == {"text_encoder", "weights_mirror"}
    stage1 = params("train-stage1")
    assert not stage1 & {"fg_sa", "text_granularity", "lambda_fg", "stage2_epochs", "stage2_lr"}
    assert not stage1 & {"variant", "dataset", "dataset_fingerprint", "ml_co"}
    assert {"cp_a", "lambda_cp", "stage1_epochs", "stage1_lr", "seed", "backbone"} <= stage1
    stage2 = params("train-stage2")
    assert stage2 == stage1 | {"fg_sa", "ml_co", "text_granularity", "lambda_fg"} | {
        "stage2_epochs",
        "stage2_lr",
        "selection",
    }
    assert params("evaluate") == {"variant", "eval_split", "prototype_weight"}
    # stage 1 runs only with ML-CO, stage 2 alone without it
    conditions = [t["triggerPolicy"]["condition"] for t in tasks.values() if "triggerPolicy" in t]
    assert "inputs.parameter_values['pipelinechannel--ml_co'] == true" in conditions
    # stage 2 (one task in both branches) takes the stage-1 model or the one-stage marker
    init = tasks["train-stage2"]["inputs"]["artifacts"]["init"]["taskOutputArtifact"]
    assert init["producerTask"] == "condition-branches-1"
    branches = spec["components"]["comp-condition-branches-1"]["outputDefinitions"]
    selectors = spec["components"]["comp-condition-branches-1"]["dag"]["outputs"]["artifacts"]
    (oneof,) = selectors.values()
    producers = {a["producerSubtask"] for a in oneof["artifactSelectors"]}
    assert producers == {"condition-2", "condition-3"} and branches["artifacts"]


def test_stage_parameters_match_the_trainers_own_statement_of_what_a_stage_reads() -> None:
    from fgsgl.components import train_stage1, train_stage2
    from fgsgl.train.config import TrainConfig, valid_keys
    from fgsgl.train.stages import stage_keys

    # every training key is a parameter, or deliberately not one
    training_not_parameters = {k for k in NOT_PARAMETERS if BY_KEY[k].step == TRAINING}
    assert set(valid_keys()) == set(TRAIN_KEYS.values()) | training_not_parameters
    full = TrainConfig()  # all switches on: the stage-1 run the variants share
    for component, stage, always in (
        (train_stage1, 1, {"ablation.ml_co"}),
        (train_stage2, 2, set()),
    ):
        artifacts = {"frames", "texts", "init", "backbone_weights", "deepspeed"}
        names = set(component.component_spec.inputs) - artifacts
        keys = {TRAIN_KEYS[n] for n in names}
        # stage 1 only runs with ML-CO on, so ml_co is not one of its inputs
        assert keys == set(stage_keys(full, stage)) - always, stage


def test_every_run_parameter_is_a_training_key_or_another_steps() -> None:
    # what lets `fgsgl train --config` read a run-parameter file (configs/cpu-tiny.yaml)
    assert not set(TRAIN_KEYS) & set(OTHER_PARAMETERS)
    assert set(parameter_types()) == set(TRAIN_KEYS) | set(OTHER_PARAMETERS)


def test_pipeline_defaults_are_the_trainers_defaults() -> None:
    from fgsgl.train.config import TrainConfig

    flat = TrainConfig().flat()
    defaults = parameter_defaults()
    for name, key in TRAIN_KEYS.items():
        value = defaults[name]
        if name in NULL_SENTINELS and value == NULL_SENTINELS[name]:
            value = None
        assert value == flat[key], name


def test_images_and_fan_out_are_compile_options(tmp_path: Path) -> None:
    args = ["compile", "--variant", "no_cp_a", "--out", str(tmp_path), "--extract-shards", "3"]
    args += ["--cpu-image", "reg.example/fgsgl-cpu:7", "--gpu-image", "reg.example/fgsgl-gpu:7"]
    args += ["--gpu-steps", "train,text", "--set", "stage2.epochs=4", "--set", "gpus=2"]
    assert main(args) == 0
    spec, k8s = load(tmp_path / "fgsgl-no_cp_a.yaml")
    executors = spec["deploymentSpec"]["executors"]
    assert executors["exec-extract-frames"]["container"]["image"] == "reg.example/fgsgl-cpu:7"
    assert executors["exec-encode-text"]["container"]["image"] == "reg.example/fgsgl-gpu:7"
    assert "exec-encode-text" in k8s  # text encoding joined the GPU pool
    tasks = all_tasks(spec)
    loop = [t for t in tasks.values() if "parameterIterator" in t]
    assert len(loop) == 1
    assert loop[0]["parameterIterator"]["items"]["raw"] == '["0/3", "1/3", "2/3"]'
    assert "merge-frames" in tasks
    params = spec["root"]["inputDefinitions"]["parameters"]
    assert params["stage2_epochs"]["defaultValue"] == 4
    assert params["gpus"]["defaultValue"] == 2
    assert params["cp_a"]["defaultValue"] is False


def test_bad_settings_are_reported_together(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code = main(
        [
            "compile",
            "--out",
            str(tmp_path),
            "--set",
            "stage2.epoch=3",
            "--set",
            "gpus=two",
            "--set",
            "novalue",
        ]
    )
    err = capsys.readouterr().err
    assert code == 1
    assert "unknown setting 'stage2.epoch' (did you mean stage2.epochs?)" in err
    assert "resources.gpus: 'two' is not an integer" in err
    assert "'novalue': expected KEY=VALUE" in err
    assert not list(tmp_path.iterdir())


def test_unknown_variant_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["compile", "--variant", "nope", "--out", str(tmp_path)]) == 2
    assert "unknown variant 'nope'; known: full, no_fg_sa" in capsys.readouterr().err


def test_a_config_file_carries_its_values_into_the_pipeline_parameters(tmp_path: Path) -> None:
    """A paper-style config (nested training sections, dotted keys and pipeline parameters
    mixed) becomes the compiled defaults; --set still wins."""
    config = tmp_path / "paper.yaml"
    config.write_text(
        "model: {backbone: 'internvl:/models/InternVL2_5-8B', lora_rank: 8}\n"
        "stage1: {epochs: 15, lr: 4.0e-5}\n"
        "stage2.lr: 4.0e-5\n"
        "optim: {batch_size: 8, grad_accum: 4}\n"
        "precision: bf16\n"
        "deepspeed: 'on'\n"
        "gpus: 2\n"
        "gpu_node_selector: {cloud.google.com/gke-accelerator: nvidia-tesla-a100}\n"
        "frame_size: 448\n"
    )
    out = tmp_path / "out"
    args = ["compile", "--variant", "full", "--out", str(out), "--config", str(config)]
    assert main([*args, "--set", "stage1.epochs=12"]) == 0
    spec, _ = load(out / "fgsgl-full.yaml")
    params = {
        k: v.get("defaultValue") for k, v in spec["root"]["inputDefinitions"]["parameters"].items()
    }
    assert params["backbone"] == "internvl:/models/InternVL2_5-8B"
    assert params["stage1_epochs"] == 12 and params["stage1_lr"] == 4e-5
    assert params["stage2_lr"] == 4e-5 and params["grad_accum"] == 4
    assert params["precision"] == "bf16" and params["deepspeed"] == "on"
    assert params["gpus"] == 2 and params["frame_size"] == 448
    assert params["gpu_node_selector"] == {"cloud.google.com/gke-accelerator": "nvidia-tesla-a100"}


def test_every_variant_names_its_steps_and_metrics_alike(compiled: Path) -> None:
    """One evaluation and one stage-2 task in the whole IR, whichever branch runs, so the
    KFP compare view shows `evaluate` / `metrics` for every variant (no `evaluate-2`), and
    `train-stage1` / `train-stage2` with the same training `metrics` and `tensorboard`."""
    trained = {
        "model": "system.Model",
        "metrics": "system.Metrics",
        "tensorboard": "system.Artifact",
    }
    for name in VARIANTS:
        spec, _ = load(compiled / f"fgsgl-{name}.yaml")
        by_component: dict[str, list[str]] = {}
        for task_name, task in all_tasks(spec).items():
            by_component.setdefault(task["componentRef"]["name"], []).append(task_name)
        assert by_component["comp-evaluate"] == ["evaluate"], name
        assert by_component["comp-train-stage2"] == ["train-stage2"], name
        assert by_component["comp-train-stage1"] == ["train-stage1"], name
        outputs = spec["components"]["comp-evaluate"]["outputDefinitions"]["artifacts"]
        assert outputs["metrics"]["artifactType"]["schemaTitle"] == "system.Metrics"
        for stage in ("comp-train-stage1", "comp-train-stage2"):
            outputs = spec["components"][stage]["outputDefinitions"]["artifacts"]
            assert {k: v["artifactType"]["schemaTitle"] for k, v in outputs.items()} == trained
        display = {t["taskInfo"]["name"] for t in all_tasks(spec).values()}
        assert {"evaluate", "train stage 1", "train stage 2"} <= display
