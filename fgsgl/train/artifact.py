"""The model artifact (docs/artifacts.md, "model"): written at the end of training, read by
evaluation and by stage 2's --init.

    metadata.json   family, backbone, num_classes, class_names, text_dim, dataset and config
                    fingerprints, texts_encoder, stage, best_epoch, best_val_top1,
                    preprocessing, run
    config.yaml     the resolved training config, every value
    config.json     what rebuilds the model on its own: architecture, classes, preprocessing
    README.md       the model card (fgsgl.train.card)
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

from fgsgl import __version__
from fgsgl.artifacts import read_metadata, write_json, write_metadata
from fgsgl.diskspace import disk_full_as_error
from fgsgl.errors import FgsglError
from fgsgl.train.config import TrainConfig, config_from_dict

KIND = "fgsgl.model"
CONFIG_YAML = "config.yaml"
CONFIG_JSON = "config.json"
CONFIG_FORMAT = 1  # of config.json
README = "README.md"
HISTORY_JSON = "history.json"
ADAPTER_README = "adapter/README.md"  # peft's blank model-card template, replaced


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


def model_config(path: str | Path, meta: dict[str, Any], cfg: TrainConfig) -> dict[str, Any]:
    """config.json of the artifact; for one written before artifacts carried it, the same
    fields from metadata.json and config.yaml (`preprocessing` None: not recorded then)."""
    file = Path(path) / CONFIG_JSON
    if file.is_file():
        try:
            return json.loads(file.read_text())
        except json.JSONDecodeError as e:
            raise FgsglError(f"{file}: not valid JSON ({e})") from e
    return {
        "format": None,
        "family": cfg.model.family,
        "model": cfg.model.to_dict(),
        "num_classes": int(meta["num_classes"]),
        "class_names": list(meta.get("class_names") or []),
        "class_ids": list(meta.get("class_ids") or range(int(meta["num_classes"]))),
        "text_dim": int(meta["text_dim"]),
        "preprocessing": meta.get("preprocessing"),
        "inference": {"precision": cfg.precision, "tau": cfg.loss.tau},
    }


def load_model(path: str | Path, *, weights: str | None = None) -> tuple[Any, TrainConfig]:
    """Rebuild a trained model from its artifact directory alone (and, for a pretrained
    backbone, its checkpoint: from `weights`, a fetched weights artifact, or from where the
    backbone's name points): (model in eval mode on the CPU, its training config).

    The model is built from config.json (`model_config`), the one description of what the
    artifact holds; `model.artifact` is that dict (class names, preprocessing)."""
    from fgsgl.model import ModelConfig
    from fgsgl.model import load_model as load_weights
    from fgsgl.model.backbones import BuildContext

    meta, cfg = read_artifact(path)
    config = model_config(path, meta, cfg)
    try:
        model_cfg = ModelConfig.from_dict(dict(config["model"]))
        num_classes, text_dim = int(config["num_classes"]), int(config["text_dim"])
    except (KeyError, TypeError, ValueError) as e:
        raise FgsglError(f"{Path(path) / CONFIG_JSON}: cannot rebuild the model ({e!r})") from e
    model = load_weights(
        path,
        model_cfg,
        num_classes=num_classes,
        text_dim=text_dim,
        ctx=BuildContext(weights=weights),
    )
    model.eval()
    model.artifact = config
    return model, cfg


def load_pretrained(
    path: str | Path, *, weights: str | None = None, device: str | None = None
) -> Any:
    """The trained model of an artifact directory, in eval mode (on `device`; default CPU):
    `fgsgl.load_model(path)` and `FamilyModel.from_pretrained(path)`. `model.artifact` is its
    config.json (class_names, class_ids, preprocessing: what inference needs to know)."""
    model, _ = load_model(path, weights=weights)
    if device is not None:
        from fgsgl.runtime.device import resolve_device

        model.to(resolve_device(device))
    return model


# --- what training records beside the weights ----------------------------------------------


def preprocessing_record(frames: Any, model: Any) -> dict[str, Any]:
    """How the model's training clips were made and fed to it: the frames artifact's
    sampling (T, S, resize, sampler, decoder), whether the model reads keypoints (and how
    many joints), and the model's own input transform. Prediction reads new videos with
    exactly this (fgsgl.predict), and refuses inputs made otherwise."""
    meta = frames.meta
    pose = bool(getattr(model, "needs_keypoints", False))
    keypoints = meta.get("keypoints") or {}
    return {
        "frames": int(meta["frames"]),
        "size": int(meta["size"]),
        "resize": meta.get("resize"),
        "sampler": meta.get("sampler"),
        "decoder": meta.get("decoder"),
        "keypoints": pose,
        "joints": keypoints.get("joints") if pose else None,
        "image_size": int(model.image_size),
        "image_mean": [float(v) for v in model.image_mean],
        "image_std": [float(v) for v in model.image_std],
        "subtract_clip_mean": bool(model.config.subtract_clip_mean),
    }


def dataset_record(frames: Any) -> dict[str, Any]:
    """Which dataset the model learnt from: its directory, name and fingerprint (SynthMG's
    generator is named where its synthmg.json is there to say so)."""
    from fgsgl import storage

    root = str(frames.meta.get("dataset") or "")
    name = root.rstrip("/").rsplit("/", 1)[-1] if root else None
    generator = None
    if root and not storage.is_remote(root) and (Path(root) / "synthmg.json").is_file():
        generator = "SynthMG"
    return {
        "root": root or None,
        "name": name,
        "generator": generator,
        "fingerprint": frames.dataset_fingerprint,
    }


def class_ids(frames: Any) -> list[int]:
    """The dataset's class ids in class-index order (classes.csv of the frames artifact)."""
    import pandas as pd

    path = Path(frames.root) / "classes.csv"
    if not path.is_file():
        return list(range(frames.num_classes))
    return [int(v) for v in pd.read_csv(path)["id"]]


def artifact_config(
    cfg: TrainConfig, fields: dict[str, Any], out: Path, weight_files: list[str]
) -> dict[str, Any]:
    """config.json: everything that rebuilds the model and feeds it, in one file: the
    architecture (family, backbone name and its pinned weights, heads with their tensor
    shapes), the classes, the text space, the preprocessing and how it scores."""
    from safetensors import safe_open

    from fgsgl.model.io import HEADS_FILE

    heads: dict[str, dict[str, list[int]]] = {}
    with safe_open(str(out / HEADS_FILE), "pt") as f:
        for key in sorted(f.keys()):
            head, _, tensor = key.partition(".")
            heads.setdefault(head, {})[tensor] = list(f.get_slice(key).get_shape())
    files = {name: (out / name).stat().st_size for name in sorted(weight_files)}
    return {
        "format": CONFIG_FORMAT,
        "fgsgl_version": __version__,
        "family": cfg.model.family,
        "model": cfg.model.to_dict(),
        "backbone": {"name": cfg.model.backbone, "weights": fields.get("backbone_weights")},
        "heads": heads,
        "num_classes": fields["num_classes"],
        "class_names": fields["class_names"],
        "class_ids": fields["class_ids"],
        "text_dim": fields["text_dim"],
        "preprocessing": fields["preprocessing"],
        "inference": {
            "precision": cfg.precision,
            "tau": cfg.loss.tau,
            "scoring": "classifier softmax",
        },
        "files": files,  # the model's own save (fgsgl.model.io): name -> bytes
    }


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
    best_dir: Path | None,
    cfg: TrainConfig,
    history: list[dict[str, Any]],
    fields: dict[str, Any],
) -> dict[str, Any]:
    """Put the best model's files, config.yaml and history.json into `out`, then
    metadata.json. Copying (not moving) keeps this repeatable after a kill part-way, and
    after a full disk (one DiskFullError naming OUT and the model's size): the rerun does
    not train again, it writes the artifact again."""
    if best_dir is None or not best_dir.is_dir():
        raise FgsglError(f"{best_dir}: the best model of this run is missing; rerun to retrain")
    needed = sum(p.stat().st_size for p in best_dir.rglob("*") if p.is_file())
    then = "Free space and rerun the same command: training is done, only the artifact is written."
    with disk_full_as_error(out, needed=needed, then=then):
        return _write_files(out, best_dir, cfg, history, fields)


def _write_files(
    out: Path, best_dir: Path, cfg: TrainConfig, history: list[dict[str, Any]], fields: dict
) -> dict[str, Any]:
    for stale in out.glob(".*.tmp-*"):  # a killed attempt's temp file (fgsgl.artifacts)
        stale.unlink(missing_ok=True)
    for entry in best_dir.iterdir():
        target = out / entry.name
        if entry.is_dir():
            shutil.copytree(entry, target, dirs_exist_ok=True)
        else:
            shutil.copy2(entry, target)
    (out / CONFIG_YAML).write_text(cfg.to_yaml())
    write_json(out / HISTORY_JSON, history)
    from fgsgl.train.card import adapter_readme, model_card

    (out / ADAPTER_README).unlink(missing_ok=True)  # peft's template
    weight_files = [
        p.relative_to(best_dir).as_posix()
        for p in best_dir.rglob("*")
        if p.is_file() and p.relative_to(best_dir).as_posix() != ADAPTER_README
    ]
    config = artifact_config(cfg, fields, out, weight_files)
    write_json(out / CONFIG_JSON, config)
    (out / README).write_text(model_card(fields, cfg, history, config))
    if (out / "adapter").is_dir():
        (out / ADAPTER_README).write_text(adapter_readme(fields))
    return write_metadata(out, KIND, **fields)
