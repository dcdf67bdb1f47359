"""The model artifact (docs/artifacts.md, "model"): written at the end of training, read by
evaluation and by stage 2's --init.

    metadata.json   family, backbone, num_classes, class_names, text_dim, dataset and config
                    fingerprints, texts_encoder, stage, best_epoch, best_val_top1, run
    config.yaml     the resolved training config, every value
    adapter/ | backbone.safetensors, heads.safetensors   the model's own save (fgsgl.model)
    history.json    one entry per epoch
    checkpoints/    the resume state (fgsgl.train.checkpoint)
    tensorboard/    the curves as TensorBoard events (`fgsgl train`; fgsgl.train.events)

metadata.json is written last: its presence means the run finished.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import yaml

from fgsgl.artifacts import read_metadata, write_json, write_metadata
from fgsgl.errors import FgsglError
from fgsgl.train.config import TrainConfig, config_from_dict

KIND = "fgsgl.model"
CONFIG_YAML = "config.yaml"
HISTORY_JSON = "history.json"


def read_artifact(path: str | Path) -> tuple[dict[str, Any], TrainConfig]:
    """A finished model artifact's metadata and resolved training config."""
    directory = Path(path)
    meta = read_metadata(directory, KIND)
    config_path = directory / CONFIG_YAML
    if not config_path.is_file():
        raise FgsglError(f"{directory}: model artifact without {CONFIG_YAML}")
    try:
        values = yaml.safe_load(config_path.read_text()) or {}
    except yaml.YAMLError as e:
        raise FgsglError(f"{config_path}: not valid YAML ({e})") from e
    return meta, config_from_dict(values, source=str(config_path))


def load_model(path: str | Path, *, weights: str | None = None) -> tuple[Any, TrainConfig]:
    """Rebuild a trained model from its artifact directory alone (and, for a pretrained
    backbone, its checkpoint: from `weights`, a fetched weights artifact, or from where the
    backbone's name points): (model in eval mode on the CPU, its training config)."""
    from fgsgl.model import load_model as load_weights
    from fgsgl.model.backbones import BuildContext

    meta, cfg = read_artifact(path)
    model = load_weights(
        path,
        cfg.model,
        num_classes=int(meta["num_classes"]),
        text_dim=int(meta["text_dim"]),
        ctx=BuildContext(weights=weights),
    )
    model.eval()
    return model, cfg


def read_history(path: str | Path) -> list[dict[str, Any]]:
    return json.loads((Path(path) / HISTORY_JSON).read_text())


def training_metrics(path: str | Path) -> dict[str, float]:
    """A finished stage's headline numbers, for the KFP Metrics artifact of its task: the
    model selection (best_val_top1, best_epoch), the last epoch's mean loss terms
    (final_loss, final_loss_cls, ...: the stage's own terms only), and its cost (epochs,
    seconds: the epochs' sum, samples_per_s: their mean training rate).

    Read from the artifact rather than from `train`'s return value, so that a task trained
    under torchrun, resumed, or found finished reports the same numbers.
    """
    meta = read_metadata(Path(path), KIND)
    history = read_history(path)
    last = history[-1]
    values: dict[str, Any] = {
        "best_val_top1": meta["best_val_top1"],
        "best_epoch": meta["best_epoch"],
        "epochs": meta["epochs"],
        **{f"final_{k}": v for k, v in last.items() if k == "loss" or k.startswith("loss_")},
        "seconds": sum(e["seconds"] for e in history),
    }
    rates = [e["samples_per_s"] for e in history if e.get("samples_per_s")]
    if rates:
        values["samples_per_s"] = sum(rates) / len(rates)
    return {k: float(v) for k, v in values.items()}


def write_artifact(
    out: Path,
    *,
    best_dir: Path,
    cfg: TrainConfig,
    history: list[dict[str, Any]],
    fields: dict[str, Any],
) -> dict[str, Any]:
    """Put the best model's files, config.yaml and history.json into `out`, then
    metadata.json. Copying (not moving) keeps this repeatable after a kill part-way."""
    if not best_dir.is_dir():
        raise FgsglError(f"{best_dir}: the best model of this run is missing; rerun to retrain")
    for entry in best_dir.iterdir():
        target = out / entry.name
        if entry.is_dir():
            shutil.copytree(entry, target, dirs_exist_ok=True)
        else:
            shutil.copy2(entry, target)
    (out / CONFIG_YAML).write_text(cfg.to_yaml())
    write_json(out / HISTORY_JSON, history)
    return write_metadata(out, KIND, **fields)
