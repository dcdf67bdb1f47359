"""fgsgl.settings is the one declaration of the run settings: the pipeline's parameters are
made from it, and every component argument that is a run setting agrees with it."""

from __future__ import annotations

from fgsgl.components import STEPS
from fgsgl.pipelines.pipeline import parameters, run_signature
from fgsgl.settings import BY_NAME, GPU, PARAMETERS, TRAIN_KEYS
from fgsgl.train.config import TrainConfig, valid_keys

KFP_TYPES = {"String": str, "Integer": int, "Float": float, "Boolean": bool}
KFP_TYPES |= {"Struct": dict, "List": list}
# component defaults that differ from the run's on purpose
OWN_DEFAULTS = {("evaluate", "variant"): ""}  # an evaluation outside a run names no variant


def test_the_pipeline_parameters_are_the_settings_in_order() -> None:
    import inspect

    from fgsgl.pipelines.pipeline import build_pipeline

    built = inspect.signature(build_pipeline().pipeline_func).parameters
    assert list(built) == list(parameters()) == [s.name for s in PARAMETERS]
    assert {n: p.default for n, p in built.items()} == {
        n: p.default for n, p in parameters().items()
    }
    assert len(PARAMETERS) == len(BY_NAME)  # no name twice
    assert set(TRAIN_KEYS.values()) <= set(valid_keys())


def test_a_training_setting_takes_its_type_and_default_from_the_training_config() -> None:
    sig = run_signature().parameters
    flat = TrainConfig().flat()
    assert sig["stage1_lr"].annotation is float and sig["stage1_lr"].default == flat["stage1.lr"]
    assert sig["mid_layer"].annotation is int and sig["mid_layer"].default == 0  # null's
    assert sig["backbone"].default == flat["model.backbone"]


def test_every_setting_is_read_and_every_component_agrees_with_it() -> None:
    read: set[str] = set()
    problems = []
    for step, component in STEPS.items():
        for name, spec in (component.component_spec.inputs or {}).items():
            if name not in BY_NAME:
                continue  # an artifact, or a step's own argument (shard)
            read.add(name)
            want = run_signature().parameters[name]
            if KFP_TYPES.get(spec.type) is not want.annotation:
                problems.append(f"{step}.{name}: type {spec.type}, the setting's {want.annotation}")
            default = OWN_DEFAULTS.get((step, name), want.default)
            if spec.default is not None and spec.default != default:
                problems.append(
                    f"{step}.{name}: default {spec.default!r}, the setting's {default!r}"
                )
    assert problems == []
    placement = {s.name for s in PARAMETERS if s.step == GPU}  # read by the pipeline itself
    assert set(BY_NAME) - read == placement


def test_keys_and_flat_names_are_each_declared_once() -> None:
    from fgsgl.settings import BY_KEY, SETTINGS

    assert len(BY_KEY) == len(SETTINGS)
    assert BY_KEY["stage1.lr"].name == "stage1_lr" and BY_KEY["extract.frame_size"].name == (
        "frame_size"
    )
    assert BY_KEY["resources.node_selector"].name == "gpu_node_selector"
    assert BY_KEY["model.mid_layer"].parameter_default == 0  # null's sentinel
    assert not BY_KEY["data.workers"].parameter  # a config key, never a run parameter


def test_a_field_without_its_declaration_is_refused() -> None:
    from dataclasses import dataclass

    import pytest

    from fgsgl.schema import walk

    @dataclass
    class Loose:
        n: int = 3

    with pytest.raises(TypeError, match=r"Loose.n: a setting needs setting\(help=...\)"):
        walk(Loose, "x")


def test_fgsgl_settings_lists_every_key_and_its_yaml_reads_back_as_the_defaults(
    tmp_path, capsys
) -> None:
    from fgsgl.cli import main
    from fgsgl.settings import REQUIRED, SETTINGS, read

    assert main(["settings"]) == 0
    listing = capsys.readouterr().out
    for s in SETTINGS:
        assert f"  {s.key}" in listing
    assert "  stage1.lr [stage1_lr] = 0.0001\n      peak learning rate of stage 1." in listing
    assert main(["settings", "--yaml"]) == 0
    path = tmp_path / "all.yaml"
    path.write_text(capsys.readouterr().out)
    assert read(config=path) == {s.key: s.default for s in SETTINGS if s.default is not REQUIRED}
    assert main(["settings", "stage2"]) == 0
    assert capsys.readouterr().out.count("\n  stage2.") == 2
    assert main(["settings", "nope"]) == 2
    assert "no such section or step" in capsys.readouterr().err


def test_sections_keys_and_old_spellings_read_alike(tmp_path, caplog) -> None:
    from fgsgl.settings import read

    nested = tmp_path / "nested.yaml"
    nested.write_text("extract: {frame_size: 64}\nresources:\n  node_selector: {pool: a}\n")
    dotted = tmp_path / "dotted.yaml"
    dotted.write_text("extract.frame_size: 64\nresources.node_selector: {pool: a}\n")
    old = tmp_path / "old.yaml"
    old.write_text("frame_size: 64\ngpu_node_selector: {pool: a}\n")
    want = {"extract.frame_size": 64, "resources.node_selector": {"pool": "a"}}
    with caplog.at_level("WARNING", logger="fgsgl.settings"):
        assert read(config=nested) == read(config=dotted) == want
        assert not caplog.records
        assert read(config=old) == want
    assert len(caplog.records) == 2  # one warning per old spelling
    assert read(["extract.frame_size=64", "resources.node_selector={pool: a}"]) == want
