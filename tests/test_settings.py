"""fgsgl.settings is the one declaration of the run settings: the pipeline's parameters are
made from it, and every component argument that is a run setting agrees with it."""

from __future__ import annotations

from fgsgl.components import STEPS
from fgsgl.pipelines.pipeline import parameters, run_signature
from fgsgl.settings import BY_NAME, GPU, SETTINGS, TRAIN_KEYS
from fgsgl.train.config import TrainConfig, valid_keys

KFP_TYPES = {"String": str, "Integer": int, "Float": float, "Boolean": bool}
KFP_TYPES |= {"Struct": dict, "List": list}
# component defaults that differ from the run's on purpose
OWN_DEFAULTS = {("evaluate", "variant"): ""}  # an evaluation outside a run names no variant


def test_the_pipeline_parameters_are_the_settings_in_order() -> None:
    import inspect

    from fgsgl.pipelines.pipeline import build_pipeline

    built = inspect.signature(build_pipeline().pipeline_func).parameters
    assert list(built) == list(parameters()) == [s.name for s in SETTINGS]
    assert {n: p.default for n, p in built.items()} == {
        n: p.default for n, p in parameters().items()
    }
    assert len(SETTINGS) == len(BY_NAME)  # no name twice
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
    placement = {s.name for s in SETTINGS if s.step == GPU}  # read by the pipeline itself
    assert set(BY_NAME) - read == placement
