"""The training config (defaults, YAML, --set, errors) and the stage / ablation table."""

from __future__ import annotations

import pytest
import yaml

from fgsgl.errors import FgsglError, UsageError
from fgsgl.settings import load_config
from fgsgl.train.config import TrainConfig, config_from_dict, valid_keys
from fgsgl.train.stages import plan_stage, stage_keys

# --- config ---------------------------------------------------------------------------------


def test_defaults_are_the_papers_setting():
    cfg = load_config()
    flat = cfg.flat()
    assert flat["optim.weight_decay"] == 0.05
    assert flat["optim.warmup_ratio"] == 0.03
    assert flat["optim.grad_clip"] == 1.0
    assert flat["loss.tau"] == 0.07
    assert flat["model.lora_rank"] == 8 and flat["model.lora_alpha"] == 16
    assert flat["model.backbone"] == "tiny-clip" and flat["model.mid_layer"] is None
    assert flat["precision"] == "auto" and flat["seed"] == 0
    assert {"ablation.fg_sa", "ablation.cp_a", "ablation.ml_co"} <= set(flat)
    assert list(flat) == valid_keys()


def test_yaml_file_nested_and_dotted_then_overrides_win(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(
        "seed: 3\noptim:\n  batch_size: 4\n  grad_accum: 2\n"
        "stage1.epochs: 5\nmodel:\n  mid_layer: 2\n"
    )
    cfg = load_config(path, {"optim.batch_size": "16", "stage2.lr": "1e-4"})
    assert cfg.seed == 3
    assert cfg.optim.batch_size == 16  # --set beats the file
    assert cfg.optim.grad_accum == 2
    assert cfg.stage1.epochs == 5
    assert cfg.model.mid_layer == 2
    assert cfg.stage2.lr == pytest.approx(1e-4) and isinstance(cfg.stage2.lr, float)


@pytest.mark.parametrize(
    ("key", "text", "value"),
    [
        ("ablation.fg_sa", "false", False),
        ("ablation.ml_co", "True", True),
        ("stage1.lr", "3e-5", 3e-5),  # YAML 1.1 reads this as a string
        ("stage1.lr", "1", 1.0),
        ("optim.grad_clip", "0", 0.0),
        ("model.mid_layer", "null", None),
        ("model.mid_layer", "3", 3),
        ("model.backbone", "clip:/models/clip-b16", "clip:/models/clip-b16"),
        ("ablation.text_granularity", "class", "class"),
    ],
)
def test_set_values_are_coerced_to_the_field_type(key, text, value):
    cfg = load_config(overrides=[f"{key}={text}"])
    got = cfg.flat()[key]
    assert got == value and type(got) is type(value)


# Found by tests/test_fuzz_configs.py: YAML 1.1 and Python read these as other numbers.
@pytest.mark.parametrize(
    ("key", "text", "problem"),
    [
        ("stage1.epochs", "0x10", "'0x10' is not an integer"),  # was 16
        ("stage1.epochs", "1:30", "'1:30' is not an integer"),  # was 90 (base 60)
        ("stage1.epochs", "1_000", "'1_000' is not an integer"),  # was 1000
        ("stage1.epochs", "0b11", "'0b11' is not an integer"),  # was 3
        ("stage1.lr", "\u0663", "'\u0663' is not a number"),  # was 3.0
        ("stage1.lr", "1_0.5", "'1_0.5' is not a number"),  # was 10.5
        ("stage1.lr", "inf", "'inf' is not a finite number"),  # passed `lr > 0`
        ("stage1.lr", "1" + "0" * 400, "is not a finite number"),  # was an OverflowError
        ("loss.tau", "nan", "'nan' is not a finite number"),
        ("seed", "-1", "seed: -1 is not in 0..4294967295"),  # numpy refused it at the start
        ("seed", "4294967296", "seed: 4294967296 is not in 0..4294967295"),
    ],
)
def test_numbers_other_than_decimal_are_refused(tmp_path, key, text, problem):
    with pytest.raises(FgsglError) as err:
        load_config(overrides=[f"{key}={text}"])
    assert any(problem in p for p in err.value.problems), err.value.problems
    section, _, name = key.rpartition(".")
    path = tmp_path / "c.yaml"
    path.write_text(f"{section}:\n  {name}: {text}\n" if section else f"{key}: {text}\n")
    with pytest.raises(FgsglError) as err:
        load_config(path)
    assert any(problem in p for p in err.value.problems), err.value.problems


def test_leading_zeros_are_decimal_in_files_and_set_alike(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("stage1:\n  epochs: 010\nstage2.lr: 1e-4\nseed: +07\n")  # YAML 1.1: 8
    cfg = load_config(path)
    assert (cfg.stage1.epochs, cfg.stage2.lr, cfg.seed) == (10, 1e-4, 7)
    cfg = load_config(overrides=["stage1.epochs=010", "stage2.lr=1e-4", "seed=+07"])
    assert (cfg.stage1.epochs, cfg.stage2.lr, cfg.seed) == (10, 1e-4, 7)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"seed: 1\ncaf\xe9: 1\n", "not UTF-8 text (byte 11"),  # was a UnicodeDecodeError
        (b"stage1: {lr: !!float abc}\n", "not valid YAML"),  # was a ValueError
        (b"seed: 2024-13-45\n", "not valid YAML"),  # a date with month 13: a ValueError
        (b"seed: !!int 0x10\n", "'0x10' is not a decimal integer"),
    ],
)
def test_unreadable_config_files_are_one_error(tmp_path, data, message):
    path = tmp_path / "c.yaml"
    path.write_bytes(data)
    with pytest.raises(FgsglError, match=f"^{path}: ") as err:
        load_config(path)
    assert message in str(err.value)


def test_every_problem_is_listed_at_once_with_the_valid_keys():
    with pytest.raises(FgsglError) as err:
        load_config(
            overrides={
                "optim.lrr": "1",
                "optim.batch_size": "two",
                "ablation.fg_sa": "maybe",
                "stage1.epochs": "-1",
                "ablation.text_granularity": "coarse",
            }
        )
    problems = err.value.problems
    text = str(err.value)
    assert any("unknown setting 'optim.lrr'" in p for p in problems)
    assert any(p.startswith("--set: optim.batch_size: 'two' is not an integer") for p in problems)
    assert any("ablation.fg_sa: 'maybe' is not a boolean" in p for p in problems)
    assert any(p.startswith("stage1.epochs: -1") for p in problems)
    assert any(p.startswith("ablation.text_granularity: 'coarse'") for p in problems)
    assert problems[-1].startswith("settings: dataset, dataset_fingerprint, variant,")
    assert "optim.grad_accum" in problems[-1]
    assert text.startswith("invalid training config\n  - ")


def test_unknown_key_in_file_names_the_file_and_a_close_match(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("optim:\n  batchsize: 4\n")
    with pytest.raises(FgsglError) as err:
        load_config(path)
    assert f"{path}: unknown setting 'optim.batchsize' (did you mean optim.batch_size?)" in (
        err.value.problems
    )


def test_a_file_of_run_settings_configures_training_too(tmp_path, caplog):
    """One file for `fgsgl run-local --config` and `fgsgl train --config`: other steps'
    settings are left out (and logged), in a file and in --set alike."""
    path = tmp_path / "run.yaml"
    path.write_text(
        "extract: {frame_size: 64, num_frames: 8}\nstage1.lr: 2e-3\n"
        "model:\n  backbone: tiny-clip:image=64,patch=8\nstage2: {epochs: 3}\n"
        "optim.batch_size: 4\n"
    )
    with caplog.at_level("INFO", logger="fgsgl.settings"):
        cfg = load_config(path)
    assert cfg.stage1.lr == 2e-3 and cfg.stage2.epochs == 3 and cfg.optim.batch_size == 4
    assert cfg.model.backbone == "tiny-clip:image=64,patch=8"
    assert "extract.frame_size, extract.num_frames set other steps than training" in caplog.text
    caplog.clear()
    with caplog.at_level("INFO", logger="fgsgl.settings"):
        assert load_config(overrides=["extract.frame_size=64"]) == TrainConfig()
    assert "extract.frame_size set other steps than training; left out" in caplog.text
    path.write_text("extract: {frame_sise: 64}\n")
    with pytest.raises(FgsglError, match=r"unknown setting 'extract\.frame_sise'"):
        load_config(path)


def test_the_old_flat_spellings_work_with_a_warning(tmp_path, caplog):
    """Flat parameter names (`stage1_lr`, `frame_size`) still work for one release."""
    path = tmp_path / "old.yaml"
    path.write_text("frame_size: 64\nstage1_lr: 2e-3\nmid_layer: 0\nbackbone: tiny-clip\n")
    with caplog.at_level("INFO", logger="fgsgl.settings"):
        cfg = load_config(path, ["lambda_fg=0.5"])
    assert cfg.stage1.lr == 2e-3 and cfg.loss.lambda_fg == 0.5
    assert cfg.model.mid_layer is None  # the parameter's null sentinel
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert f"{path}: 'stage1_lr' is the old spelling of 'stage1.lr' (it stops working in 0.6)" in (
        warned
    )
    old = "--set: 'lambda_fg' is the old spelling of 'loss.lambda_fg' (it stops working in 0.6)"
    assert old in warned
    assert len(warned) == 5  # frame_size, stage1_lr, mid_layer, backbone and lambda_fg


def test_model_section_is_checked_by_the_model_config():
    with pytest.raises(FgsglError) as err:
        load_config(overrides={"model.backbone": "resnet", "model.temporal_pool": "median"})
    text = str(err.value)
    assert "model.backbone" in text and "resnet" in text
    assert "model.temporal_pool" in text


def test_bad_files_and_bad_set_syntax(tmp_path):
    with pytest.raises(FgsglError, match="config file not found"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("- a list\n- not a mapping\n")
    with pytest.raises(FgsglError, match="expected a mapping"):
        load_config(bad)
    with pytest.raises(FgsglError, match="expected KEY=VALUE"):
        load_config(overrides=["stage1.epochs"])


def test_resolved_yaml_round_trips_and_fingerprint_follows_values():
    cfg = load_config(overrides={"stage1.epochs": "3", "model.mid_layer": "2"})
    again = config_from_dict(yaml.safe_load(cfg.to_yaml()))
    assert again.flat() == cfg.flat()
    assert again.fingerprint() == cfg.fingerprint()
    assert load_config().fingerprint() == TrainConfig().fingerprint()
    assert load_config(overrides={"stage1.epochs": "4"}).fingerprint() != cfg.fingerprint()
    # every value is in the YAML, defaults included
    assert yaml.safe_load(cfg.to_yaml())["optim"]["weight_decay"] == 0.05


# --- the stage / ablation table ---------------------------------------------------------------


def _plan(stage, **switches):
    overrides = {f"ablation.{k}": str(v).lower() for k, v in switches.items()}
    overrides |= {"stage1.epochs": "2", "stage2.epochs": "3"}
    overrides |= {"stage1.lr": "1e-3", "stage2.lr": "5e-4"}
    overrides |= {"loss.lambda_cp": "0.5", "loss.lambda_fg": "2"}
    return plan_stage(load_config(overrides=overrides), stage)


@pytest.mark.parametrize(
    ("stage", "switches", "weights", "epochs", "lr", "needs_init"),
    [
        (1, {}, {"cls": 1.0, "cp": 0.5}, 2, 1e-3, False),
        (2, {}, {"cls": 1.0, "cp": 0.5, "fg": 2.0}, 3, 5e-4, True),
        (1, {"cp_a": False}, {"cls": 1.0}, 2, 1e-3, False),
        (2, {"cp_a": False}, {"cls": 1.0, "fg": 2.0}, 3, 5e-4, True),
        (1, {"fg_sa": False}, {"cls": 1.0, "cp": 0.5}, 2, 1e-3, False),
        (2, {"fg_sa": False}, {"cls": 1.0, "cp": 0.5}, 3, 5e-4, True),
        (2, {"ml_co": False}, {"cls": 1.0, "cp": 0.5, "fg": 2.0}, 5, 1e-3, False),
        (2, {"ml_co": False, "cp_a": False}, {"cls": 1.0, "fg": 2.0}, 5, 1e-3, False),
    ],
)
def test_stage_table(stage, switches, weights, epochs, lr, needs_init):
    plan = _plan(stage, **switches)
    assert plan.weights == weights
    assert plan.epochs == epochs
    assert plan.lr == pytest.approx(lr)
    assert plan.needs_init is needs_init
    assert plan.uses_texts is ("fg" in weights)


def test_class_text_changes_only_the_fg_target():
    fine, coarse = _plan(2), _plan(2, text_granularity="class")
    assert fine.weights == coarse.weights
    assert (fine.text_granularity, coarse.text_granularity) == ("fine", "class")


def test_stage_1_without_ml_co_is_refused():
    with pytest.raises(UsageError, match="run it as --stage 2 without --init"):
        _plan(1, ml_co=False)


def test_zero_epochs_is_refused():
    cfg = load_config(overrides={"stage2.epochs": "0"})
    with pytest.raises(FgsglError, match=r"stage2\.epochs is 0"):
        plan_stage(cfg, 2)


def test_stage_1_cache_key_is_shared_by_full_no_fg_sa_and_class_text():
    def key(stage, **over):
        cfg = load_config(overrides={k: str(v) for k, v in over.items()})
        return cfg.fingerprint(stage_keys(cfg, stage))

    full = key(1)
    assert key(1, **{"ablation.fg_sa": "false"}) == full
    assert key(1, **{"ablation.text_granularity": "class"}) == full
    assert key(1, **{"loss.lambda_fg": 3.0, "stage2.epochs": 1}) == full
    assert key(1, **{"data.workers": 0}) == full  # workers cannot change a result
    assert key(1, **{"ablation.cp_a": "false"}) != full
    assert key(1, **{"stage1.epochs": 1}) != full
    assert key(2, **{"ablation.text_granularity": "class"}) != key(2)
