"""The config files shipped in configs/: found by name, every key valid, the paper's values."""

from __future__ import annotations

import pytest
import yaml

from fgsgl.config_files import config_path, named_configs, read_yaml
from fgsgl.errors import FgsglError
from fgsgl.pipelines.plan import read_settings

PINNED = "OpenGVLab/InternVL2_5-8B@e9e4c0dc1db56bfab10458671519b7fa3dd29463"


def test_every_shipped_config_resolves_to_valid_run_parameters():
    names = named_configs()
    assert {"paper-smg", "paper-imigue"} <= set(names)
    for name in names:
        values = read_settings(config=name)  # raises on any unknown key or bad value
        assert values, name


@pytest.mark.parametrize(("name", "lr"), [("paper-smg", 4e-5), ("paper-imigue", 1e-4)])
def test_paper_configs_carry_the_papers_settings(name, lr):
    values = read_settings(config=name)
    assert values["stage1_lr"] == values["stage2_lr"] == lr
    assert values["backbone"] == values["text_encoder"] == f"internvl:{PINNED}"
    assert (values["num_frames"], values["frame_size"]) == (8, 448)
    assert (values["batch_size"], values["grad_accum"], values["gpus"]) == (8, 4, 2)
    # the paper's 15 epochs in all, split 5 + 10, the best epoch of the whole run kept
    assert (values["stage1_epochs"], values["stage2_epochs"], values["selection"]) == (5, 10, "run")
    assert (values["gradient_checkpointing"], values["trainable_mlp"]) == (True, "auto")
    assert (values["weight_decay"], values["warmup_ratio"], values["grad_clip"]) == (
        0.05,
        0.03,
        1.0,
    )
    assert (values["lora_rank"], values["precision"], values["deepspeed"]) == (8, "bf16", "on")


def test_a_path_wins_over_a_name_and_an_unknown_name_lists_the_shipped_ones(tmp_path):
    own = tmp_path / "paper-smg"
    own.write_text("stage1_epochs: 2\n")
    assert read_yaml(own) == {"stage1_epochs": 2}
    with pytest.raises(FgsglError, match=r"shipped: .*paper-imigue") as e:
        config_path("no-such-config")
    assert "no-such-config" in str(e.value)


def test_a_paper_config_compiles_into_the_pipelines_parameter_defaults(tmp_path):
    from fgsgl.cli import main

    assert (
        main(["compile", "--variant", "full", "--config", "paper-imigue", "--out", str(tmp_path)])
        == 0
    )
    (path,) = tmp_path.glob("*.yaml")
    spec = next(yaml.safe_load_all(path.read_text()))  # then the platform spec
    defaults = {
        name: p.get("defaultValue")
        for name, p in spec["root"]["inputDefinitions"]["parameters"].items()
    }
    assert defaults["stage1_lr"] == defaults["stage2_lr"] == 1e-4
    assert defaults["backbone"] == f"internvl:{PINNED}"
    assert (defaults["frame_size"], defaults["grad_accum"], defaults["gpus"]) == (448, 4, 2)
    assert (defaults["precision"], defaults["deepspeed"]) == ("bf16", "on")


def test_a_config_extends_another_section_by_section(tmp_path):
    base = tmp_path / "base.yaml"
    base.write_text(
        "stage1: {epochs: 5, lr: 4.0e-5}\nresources: {node_selector: {a: x, b: y}}\n"
        "extract.num_frames: 8\n"
    )
    (tmp_path / "own.yaml").write_text(
        "extends: base.yaml\nstage1: {lr: 1.0e-4}\nresources.node_selector: {c: z}\n"
    )
    values = read_settings(config=str(tmp_path / "own.yaml"))
    assert (values["stage1_epochs"], values["stage1_lr"], values["num_frames"]) == (5, 1e-4, 8)
    assert values["gpu_node_selector"] == {"c": "z"}  # a parameter's dict: replaced whole
    (tmp_path / "loop.yaml").write_text("extends: loop.yaml\n")
    with pytest.raises(FgsglError, match="goes round in a circle"):
        read_settings(config=tmp_path / "loop.yaml")
    smg, imigue = (read_settings(config=n) for n in ("paper-smg", "paper-imigue"))
    assert {k for k in smg if smg[k] != imigue[k]} == {"stage1_lr", "stage2_lr"}
