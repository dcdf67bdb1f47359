"""The pipeline's parameters in library terms (no KFP here).

The KFP pipeline exposes every training setting as a flat, typed run parameter (so the KFP
compare view lines them up) and hands each component exactly the parameters its signature
names. This module is the one table between those flat names and the training config's
dotted keys, plus the reading of `--set key=value` and `--config FILE` into parameter values.

KFP cannot pass a null parameter to a local run, so the one nullable setting uses a sentinel:
`mid_layer = 0` means null (the middle layer; real layers count from 1).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fgsgl.config_files import coerce, read_yaml
from fgsgl.errors import FgsglError

# flat pipeline / component parameter -> training config key (fgsgl.train.config)
TRAIN_KEYS: dict[str, str] = {
    "seed": "seed",
    "backbone": "model.backbone",
    "mid_layer": "model.mid_layer",
    "temporal_pool": "model.temporal_pool",
    "subtract_clip_mean": "model.subtract_clip_mean",
    "lora_rank": "model.lora_rank",
    "lora_alpha": "model.lora_alpha",
    "lora_dropout": "model.lora_dropout",
    "proj_hidden": "model.proj_hidden",
    "family": "model.family",
    "gradient_checkpointing": "model.gradient_checkpointing",
    "trainable_mlp": "model.trainable_mlp",
    "tau": "loss.tau",
    "lambda_cp": "loss.lambda_cp",
    "lambda_fg": "loss.lambda_fg",
    "fg_sa": "ablation.fg_sa",
    "cp_a": "ablation.cp_a",
    "ml_co": "ablation.ml_co",
    "text_granularity": "ablation.text_granularity",
    "stage1_epochs": "stage1.epochs",
    "stage1_lr": "stage1.lr",
    "stage2_epochs": "stage2.epochs",
    "stage2_lr": "stage2.lr",
    "weight_decay": "optim.weight_decay",
    "warmup_ratio": "optim.warmup_ratio",
    "grad_clip": "optim.grad_clip",
    "batch_size": "optim.batch_size",
    "grad_accum": "optim.grad_accum",
    "augment": "data.augment",
    "precision": "precision",
    "selection": "selection",
}

# Training config keys that are deliberately not run parameters, and why.
NOT_PARAMETERS: dict[str, str] = {
    "data.workers": "cannot change a result (augmentation is seeded per clip), so it stays "
    "out of the cache key; the trainer's default is used",
}

# The run parameters that are not training settings, and the step (or part of the run) each
# configures. A config file may mix them with training keys (configs/cpu-tiny.yaml sets
# frame_size and the training schedule together); `fgsgl train --config` leaves them out.
OTHER_PARAMETERS: dict[str, str] = {
    "dataset": "the run",
    "dataset_fingerprint": "the run",
    "variant": "the run",
    "num_frames": "extraction",
    "frame_size": "extraction",
    "resize": "extraction",
    "max_failure_ratio": "extraction",
    "text_encoder": "text encoding",
    "text_pooling": "text encoding",
    "text_dtype": "text encoding",
    "text_trust_remote_code": "text encoding",
    "text_paraphrases": "text encoding",
    "fg_attributes": "the attributes step (FG-Text attributes: auto, annotated, derived, class)",
    "weights_mirror": "the weights fetch steps",
    "deepspeed": "the training launcher (fgsgl train --deepspeed)",
    "eval_split": "evaluation",
    "prototype_weight": "evaluation",
    "gpu_type": "GPU placement",
    "gpus": "GPU placement",
    "gpu_node_selector": "GPU placement",
    "gpu_tolerations": "GPU placement",
}

# Parameters whose library value may be null, and the value that stands for null.
NULL_SENTINELS: dict[str, Any] = {"mid_layer": 0}

KEY_TO_PARAM: dict[str, str] = {key: name for name, key in TRAIN_KEYS.items()}


def training_overrides(params: Mapping[str, Any]) -> dict[str, Any]:
    """Dotted training-config overrides for the training parameters among `params`.

    Other names (artifacts, resources) are ignored, so a component can pass its own
    parameters as they are.
    """
    out: dict[str, Any] = {}
    for name, value in params.items():
        key = TRAIN_KEYS.get(name)
        if key is None:
            continue
        if name in NULL_SENTINELS and value == NULL_SENTINELS[name]:
            value = None
        out[key] = value
    return out


def training_config_values(values: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """A config file's mapping as training config values: pipeline parameter names become
    their training keys (`stage1_lr` -> `stage1.lr`, null sentinels -> null), training keys
    stay, and the parameters of other steps (`frame_size`) are left out and returned by
    name. Anything else is kept, for the training config to report as unknown."""
    flat = _flatten(values)
    skipped = [key for key in flat if key in OTHER_PARAMETERS]
    out = {k: v for k, v in flat.items() if k not in OTHER_PARAMETERS and k not in TRAIN_KEYS}
    out.update(training_overrides(flat))  # parameter names -> keys, null sentinels -> null
    return out, skipped


def parameter_name(key: str, known: Mapping[str, Any]) -> str | None:
    """The pipeline parameter a `--set` key names: a parameter name or a training key."""
    if key in known:
        return key
    name = KEY_TO_PARAM.get(key)
    return name if name in known else None


def resolve_settings(
    items: list[str] | None,
    types: Mapping[str, Any],
    *,
    config: str | Path | None = None,
    values: Mapping[str, Any] | None = None,
    source: str = "--set",
) -> dict[str, Any]:
    """Parameter values from a `--config` YAML file, then `values`, then `--set KEY=VALUE`.

    Keys are pipeline parameter names (`stage2_epochs`, `num_frames`) or training config
    keys (`stage2.epochs`); a YAML file may nest sections (`stage2: {epochs: 3}`). Values
    are coerced to the parameter's type. Every unknown key and bad value is reported at once.
    """
    raw: list[tuple[str, str, Any]] = []  # (where, key, value)
    problems: list[str] = []
    if config is not None:
        for key, value in _flatten(read_yaml(config)).items():
            raw.append((str(config), key, value))
    for key, value in _flatten(values or {}).items():
        raw.append(("settings", key, value))
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            problems.append(f"{source} {item!r}: expected KEY=VALUE, e.g. stage2.epochs=3")
            continue
        raw.append((source, key.strip(), value.strip()))

    out: dict[str, Any] = {}
    for where, key, value in raw:
        name = parameter_name(key, types)
        if name is None:
            problems.append(f"{where}: unknown parameter {key!r}{_hint(key, types)}")
            continue
        try:
            out[name] = coerce_parameter(value, types[name])
        except ValueError as e:
            problems.append(f"{where}: {key}: {e}")
    if problems:
        if any("unknown parameter" in p for p in problems):
            problems.append("parameters: " + ", ".join(sorted(types)))
        raise FgsglError("bad pipeline parameters", problems)
    return out


def coerce_parameter(raw: Any, typ: Any) -> Any:
    """`raw` (YAML value or command-line string) as a value of the parameter type `typ`."""
    import yaml

    if typ in (dict, list):
        if isinstance(raw, str):
            try:
                raw = yaml.safe_load(raw)
            except yaml.YAMLError as e:
                raise ValueError(f"not valid YAML/JSON ({e})") from e
        if not isinstance(raw, typ):
            raise ValueError(f"{raw!r} is not a {typ.__name__}")
        return raw
    return coerce(raw, typ)


def _flatten(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested sections to dotted keys; dict-valued parameters (node selectors) stay whole."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        dotted = f"{prefix}{key}"
        section = any(k.startswith(f"{dotted}.") for k in KEY_TO_PARAM)
        if isinstance(value, dict) and section and not prefix:
            out.update(_flatten(value, f"{dotted}."))
        else:
            out[dotted] = value
    return out


def _hint(key: str, types: Mapping[str, Any]) -> str:
    choices = list(types) + [k for k, n in KEY_TO_PARAM.items() if n in types]
    close = difflib.get_close_matches(key, choices, n=1)
    return f" (did you mean {close[0]}?)" if close else ""
