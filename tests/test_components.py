"""The components as interfaces: typed artifacts, documented parameters, this project's images,
no package installs at run time, and light imports for the steps that only move files."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from fgsgl.components import STEPS, estimate_pose

COMPONENTS = {**STEPS, "estimate_pose": estimate_pose}

WEIGHTS = {"backbone_weights": "system.Artifact"}
TRAINED = {"model": "system.Model", "metrics": "system.Metrics", "tensorboard": "system.Artifact"}
ARTIFACTS = {
    "fetch_backbone": ({}, {"weights": "system.Artifact"}),
    "fetch_text_encoder": ({}, {"weights": "system.Artifact"}),
    "extract_frames": ({}, {"frames": "system.Dataset"}),
    "merge_frames": ({"parts": "system.Dataset"}, {"frames": "system.Dataset"}),
    "derive_attributes": ({}, {"attributes": "system.Artifact"}),
    "estimate_pose": ({}, {"keypoints": "system.Dataset"}),
    "encode_text": (
        {"text_weights": "system.Artifact", "attributes": "system.Artifact"},
        {"texts": "system.Dataset"},
    ),
    "train_stage1": (
        {"frames": "system.Dataset", "texts": "system.Dataset", **WEIGHTS},
        TRAINED,
    ),
    "train_stage2": (
        {"frames": "system.Dataset", "texts": "system.Dataset", "init": "system.Model", **WEIGHTS},
        TRAINED,
    ),
    "evaluate": (
        {
            "frames": "system.Dataset",
            "model": "system.Model",
            "texts": "system.Dataset",
            **WEIGHTS,
        },
        {
            "evaluation": "system.Artifact",
            "metrics": "system.Metrics",
            "confusion": "system.ClassificationMetrics",
            "report": "system.Markdown",
        },
    ),
}


def schema(type_: str) -> str:
    return type_.split("@")[0]


@pytest.mark.parametrize("name", sorted(ARTIFACTS))
def test_typed_artifacts_in_and_out_and_every_parameter_documented(name: str) -> None:
    component = COMPONENTS[name]
    spec = component.component_spec
    inputs, outputs = ARTIFACTS[name]
    artifact_inputs = {k: schema(v.type) for k, v in spec.inputs.items() if "." in v.type}
    assert artifact_inputs == inputs
    assert {k: schema(v.type) for k, v in (spec.outputs or {}).items()} == outputs
    assert spec.description  # the first paragraph: what the step does
    for param, input_spec in spec.inputs.items():  # the KFP UI shows these per input
        assert input_spec.description, (name, param)


@pytest.mark.parametrize("name", sorted(ARTIFACTS))
def test_runs_in_the_project_image_without_installing_anything(name: str) -> None:
    container = COMPONENTS[name].component_spec.implementation.container
    image = "fgsgl-gpu:" if name.startswith("train") else "fgsgl-cpu:"
    assert container.image.startswith(image)
    command = " ".join(container.command)
    assert "pip install" not in command  # install_kfp_package=False: the image has kfp
    assert "from fgsgl" in command  # the body calls the library


def test_images_come_from_the_environment_when_the_components_are_built() -> None:
    code = (
        "from fgsgl.components import extract_frames, train_stage1\n"
        "print(extract_frames.component_spec.implementation.container.image)\n"
        "print(train_stage1.component_spec.implementation.container.image)\n"
    )
    env = {**os.environ, "FGSGL_CPU_IMAGE": "reg/cpu:1", "FGSGL_GPU_IMAGE": "reg/gpu:1"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.split() == ["reg/cpu:1", "reg/gpu:1"], out.stderr


def test_steps_that_only_move_files_and_the_cli_do_not_import_torch(tmp_path) -> None:
    code = (
        "import sys\n"
        "from fgsgl.cli import main\n"
        f"assert main(['compile', '--variant', 'all', '--out', {str(tmp_path)!r},\n"
        "    '--config', 'cpu-tiny', '--set', 'stage1.lr=4e-5']) == 0\n"
        "from fgsgl.video.extract import extract, merge\n"
        "import fgsgl.pipelines.local, fgsgl.pipelines.submit, fgsgl.pipelines.rerun\n"
        "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"
