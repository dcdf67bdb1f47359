"""`train(...)`: one training stage from a frames and a texts artifact to a model artifact.

Checks everything that can be wrong with the inputs before any weight is touched (datasets
that differ, clips without text, a missing or unfitting --init, a bad config), then runs
the stage's epochs with a checkpoint after each, resuming from OUT's last checkpoint when
there is one, and writes the best-validation model as the artifact of docs/artifacts.md.
The curves go to TensorBoard event files as it trains (fgsgl.train.events).
"""

from __future__ import annotations

import contextlib
import logging
import math
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fgsgl import storage
from fgsgl.artifacts import read_metadata
from fgsgl.diskspace import disk_full_as_error, disk_full_error, free_bytes, is_disk_full
from fgsgl.errors import FgsglError, UsageError
from fgsgl.hashing import sha256_json, short
from fgsgl.locks import locks_output
from fgsgl.model.backbones import BuildContext
from fgsgl.runtime.device import autocast_dtype
from fgsgl.settings import load_config
from fgsgl.train import artifact
from fgsgl.train.checkpoint import Checkpointer, TrainState
from fgsgl.train.config import TrainConfig
from fgsgl.train.data import ClipDataset, ClipTransform, check_keypoints, make_loader
from fgsgl.train.distributed import Dist, device_for, from_env, launched_with_several_processes
from fgsgl.train.events import TENSORBOARD_DIR, TensorBoardLog
from fgsgl.train.pk_sampler import check_classes
from fgsgl.train.stages import StagePlan, freeze_unused_heads, plan_stage, stage_keys
from fgsgl.train.trainer import LossTargets, Trainer

log = logging.getLogger("fgsgl.train")


@locks_output("out")
def train(
    frames: str,
    texts: str,
    out: str,
    *,
    stage: int,
    init: str | None = None,
    config: str | None = None,
    overrides: Mapping[str, object] | Sequence[str] | None = None,
    deepspeed: str | None = None,
    weights: str | None = None,
    tensorboard: str | None = None,
) -> dict:
    """Train `stage` (1 or 2) and write the model artifact to `out`; returns a summary.

    `deepspeed`: None runs without DeepSpeed; "" uses the default DeepSpeed config (ZeRO-2,
    bf16 on CUDA); a path names a DeepSpeed config file. `weights`: a fetched weights
    artifact of the backbone (fgsgl.weights) to read the checkpoint from. `tensorboard`:
    the directory of the TensorBoard event files, written while training (default
    OUT/tensorboard; a pipeline task passes its own artifact). Rerunning the
    same call after an interruption resumes from the last epoch checkpoint in `out`; after
    completion it returns the finished run's summary without training again.
    """
    started = time.perf_counter()
    cfg = load_config(config, overrides)
    plan = plan_stage(cfg, stage)
    check_init_flag(plan, cfg, init)
    paths = (("FRAMES", frames), ("TEXTS", texts), ("OUT", out), ("--init", init))
    for name, path in (*paths, ("--weights", weights), ("--tensorboard", tensorboard)):
        if path is not None and storage.is_remote(path):
            raise UsageError(
                f"{name} {path}: training reads and writes local directories (KFP mounts its "
                "artifacts); copy it down or mount the bucket with gcsfuse"
            )
    inputs = open_inputs(frames, texts)
    check_family_inputs(cfg, inputs)
    check_fine_grained(plan, inputs)
    check_pk_classes(cfg, inputs)
    init_meta = check_init(init, cfg, inputs) if init else None
    run = run_identity(cfg, plan, inputs, init, init_meta, deepspeed)
    out_dir = Path(out)
    logdir = Path(tensorboard) if tensorboard else out_dir / TENSORBOARD_DIR
    done = finished_summary(out_dir, run)
    if done is not None:
        Checkpointer(out_dir, run).drop_bests()  # a kill just after metadata.json left one
        logdir.mkdir(parents=True, exist_ok=True)  # an output, even with nothing new in it
        return {**done, "tensorboard": str(logdir)}

    dist = None
    if deepspeed is not None:
        from fgsgl.train.deepspeed_engine import init_distributed

        init_distributed(torch.cuda.is_available())
        dist = from_env()
    elif launched_with_several_processes():
        raise UsageError("several processes (torchrun / deepspeed launcher) need --deepspeed")
    is_main = dist is None or dist.is_main
    device = device_for(dist or Dist(0, 0, 1))
    seed_everything(cfg.seed)

    ctx = BuildContext(weights=weights)
    model = build_or_load_model(cfg, inputs, init, ctx)
    log.info(plan.describe())
    frozen = freeze_unused_heads(model, plan)
    unused = f" ({', '.join(frozen)} frozen: no loss of this stage reads it)" if frozen else ""
    log.info("training: %s%s", parameter_summary(model), unused)
    readings = trainable_by_reading(cfg, inputs, ctx)
    if readings:
        log.info(
            "trainable parameters by reading of model.trainable_mlp: %s",
            ", ".join(f"{k} {v:,}" for k, v in readings.items()),
        )
    train_loader, val_loader = make_loaders(cfg, inputs, model, dist, device)
    steps_per_epoch = math.ceil(len(train_loader) / cfg.optim.grad_accum)
    stepper = make_stepper(cfg, plan, model, steps_per_epoch, device, dist, deepspeed)
    targets = loss_targets(inputs, plan, device)
    checkpointer = Checkpointer(out_dir, run, is_main=is_main)
    state = checkpointer.restore(stepper)
    if state is None:
        state = TrainState()
        if plan.needs_init and cfg.selection == "run":
            state = start_from_init(init_meta, checkpointer, model)
    else:
        log.info("resuming %s after epoch %d of %d", out_dir, state.epoch, plan.epochs)
    resumed_from = state.epoch
    curves = TensorBoardLog(logdir, resume_step=state.step) if is_main else None
    if curves is not None:
        log.info("TensorBoard curves, live: tensorboard --logdir %s", logdir)
    trainer = Trainer(
        plan=plan,
        tau=cfg.loss.tau,
        stepper=stepper,
        model=stepper.model,
        train_loader=train_loader,
        val_loader=val_loader,
        targets=targets,
        device=device,
        grad_accum=cfg.optim.grad_accum,
        checkpointer=checkpointer,
        dist=dist,
        log=curves,
    )
    resume = "Free space and rerun the same command: it resumes after the last finished epoch."
    try:
        state = trainer.fit(state)
    except BaseException as e:
        if curves is not None:
            with contextlib.suppress(OSError):  # the error being raised is the one to report
                curves.close()
        if is_disk_full(e):  # a TensorBoard write's; a checkpoint raises DiskFullError
            raise disk_full_error(fullest(out_dir, logdir), e, then=resume) from e
        raise
    if curves is not None:
        with disk_full_as_error(logdir, then=resume):
            curves.close()

    summary = {
        "out": str(out_dir),
        "stage": plan.stage,
        "epochs": plan.epochs,
        "best_epoch": state.best_epoch,
        "best_val_top1": state.best_top1,
        "final_loss": state.history[-1]["loss"],
        "resumed_from_epoch": resumed_from,
        "already_finished": False,
        "seconds": round(time.perf_counter() - started, 2),
        "tensorboard": str(logdir),
    }
    if is_main:
        artifact.write_artifact(
            out_dir,
            best_dir=checkpointer.best,
            cfg=cfg,
            history=state.history,
            fields=metadata_fields(cfg, plan, inputs, model, state, run, init_meta, readings),
        )
        checkpointer.drop_bests()  # now a copy in OUT itself
        log.info(
            "stage %d done: best val top1 %.4f at epoch %d -> %s",
            plan.stage,
            state.best_top1,
            state.best_epoch,
            out_dir,
        )
    if dist is not None:
        dist.barrier()
    return summary


# --- inputs -------------------------------------------------------------------------------


@dataclass
class Inputs:
    frames: Any  # fgsgl.video.frames.FramesArtifact
    bank: Any  # fgsgl.text.bank.TextBank
    train_positions: np.ndarray
    val_positions: np.ndarray

    @property
    def identity(self) -> dict[str, Any]:
        """What makes these inputs these (for the resume and finished-run checks)."""
        meta, tmeta = self.frames.meta, self.bank.meta
        return {
            "dataset_fingerprint": self.frames.dataset_fingerprint,
            "frames": {
                "frames": self.frames.frames,
                "size": self.frames.size,
                "shards": sha256_json(meta.get("shards")),
            },
            "texts": {k: tmeta.get(k) for k in ("encoder", "encoder_revision", "dim", "pooling")},
        }


def check_init_flag(plan: StagePlan, cfg: TrainConfig, init: str | None) -> None:
    if plan.needs_init and init is None:
        raise UsageError(
            "--stage 2 needs --init MODEL: the stage-1 model it continues from "
            "(or set ablation.ml_co=false to train one stage with all losses from scratch)"
        )
    if init is not None and not plan.needs_init:
        why = (
            "ablation.ml_co is false: the single stage starts from scratch"
            if not cfg.ablation.ml_co
            else "stage 1 starts from the backbone's own weights"
        )
        raise UsageError(f"--init is only for --stage 2 with ML-CO ({why})")


def open_inputs(frames_path: str, texts_path: str) -> Inputs:
    """Open both artifacts and list every way they do not fit together."""
    from fgsgl.text.bank import load_texts
    from fgsgl.video.frames import FramesArtifact

    frames = FramesArtifact.open(frames_path)
    bank = load_texts(texts_path)
    problems = []
    if frames.dataset_fingerprint != bank.dataset_fingerprint:
        problems.append(
            f"dataset fingerprints differ: frames {short(frames.dataset_fingerprint)}, texts "
            f"{short(bank.dataset_fingerprint)} (encode the texts of the dataset the frames "
            "came from)"
        )
    if frames.num_classes != bank.num_classes:
        problems.append(f"classes: {frames.num_classes} in frames, {bank.num_classes} in texts")
    known = set(bank.clips["clip_id"].astype(str))
    labels = frames.index["label"].to_numpy()
    ids = frames.index["clip_id"].astype(str)
    missing = [c for c, lab in zip(ids, labels, strict=True) if lab >= 0 and c not in known]
    if missing:
        shown = ", ".join(missing[:10]) + (" ..." if len(missing) > 10 else "")
        problems.append(f"{len(missing)} clip(s) of the frames have no text: {shown}")
    split = frames.index["split"].to_numpy()
    train_positions = np.flatnonzero(split == "train")
    val_positions = np.flatnonzero(split == "val")
    if len(train_positions) == 0:
        problems.append("the frames hold no clip of split 'train'")
    if len(val_positions) == 0:
        problems.append(
            "the frames hold no clip of split 'val': model selection needs a validation split "
            "(the importers carve one from train by subject)"
        )
    for name in ("train", "val"):
        if (labels[split == name] < 0).any():  # an unlabelled split (see fgsgl.dataset)
            problems.append(f"split {name!r} has clips without a label: it cannot be trained on")
    if problems:
        raise FgsglError(f"{frames_path} and {texts_path} cannot be trained on together", problems)
    return Inputs(frames, bank, train_positions, val_positions)


def check_family_inputs(cfg: TrainConfig, inputs: Inputs) -> None:
    """What the model family reads beyond the pixels: CLIP-MG's keypoints, for every train
    and validation clip (one error naming the clips without them)."""
    from fgsgl.model import family_class

    if family_class(cfg.model.family).needs_keypoints:
        positions = np.concatenate([inputs.train_positions, inputs.val_positions])
        check_keypoints(inputs.frames, positions, f"model.family {cfg.model.family!r}")


def check_fine_grained(plan: StagePlan, inputs: Inputs) -> None:
    """L_fg on T_fg needs fine-grained texts; a class-texts-only artifact (a dataset without
    attributes) serves no_fg_sa, class_text and clip_mg, not this stage."""
    bank = inputs.bank
    if plan.uses_texts and plan.text_granularity == "fine" and not bank.fine_grained:
        raise FgsglError(
            f"stage {plan.stage} trains L_fg on fine-grained texts (FG-SA with T_fg), and "
            f"{bank.path} has none: {bank.meta.get('fine_grained_missing') or ''} (or run "
            "the variants that need no T_fg: no_fg_sa, class_text, clip_mg)"
        )


def check_pk_classes(cfg: TrainConfig, inputs: Inputs) -> None:
    """P x K batches (optim.pk_sampler) need P classes in the training split: checked
    before any weight is touched."""
    pk = cfg.optim.pk()
    if pk is not None:
        labels = inputs.frames.index["label"].to_numpy()[inputs.train_positions]
        check_classes(labels.tolist(), *pk, str(inputs.frames.root))


def check_init(init: str, cfg: TrainConfig, inputs: Inputs) -> dict[str, Any]:
    """The stage-1 model must have the same model config, classes, text space and dataset."""
    meta, init_cfg = artifact.read_artifact(init)
    problems = []
    ours, theirs = cfg.model.to_dict(), init_cfg.model.to_dict()
    for key in ours:
        if ours[key] != theirs.get(key):
            problems.append(f"model.{key}: {theirs.get(key)!r} in --init, {ours[key]!r} here")
    if meta.get("text_dim") != inputs.bank.dim:
        problems.append(
            f"text dimension: {meta.get('text_dim')} in --init, {inputs.bank.dim} in the texts "
            f"({inputs.bank.encoder})"
        )
    if meta.get("num_classes") != inputs.frames.num_classes:
        problems.append(
            f"classes: {meta.get('num_classes')} in --init, {inputs.frames.num_classes} here"
        )
    if meta.get("dataset_fingerprint") != inputs.frames.dataset_fingerprint:
        problems.append(
            f"dataset fingerprints differ: --init {short(str(meta.get('dataset_fingerprint')))}, "
            f"frames {short(inputs.frames.dataset_fingerprint)}"
        )
    if problems:
        raise FgsglError(f"--init {init} does not fit this stage-2 run", problems)
    return meta


# --- the run ------------------------------------------------------------------------------


def run_identity(
    cfg: TrainConfig,
    plan: StagePlan,
    inputs: Inputs,
    init: str | None,
    init_meta: dict[str, Any] | None,
    deepspeed: str | None,
) -> dict[str, Any]:
    """Everything that must be equal for a checkpoint (or finished artifact) to be ours:
    the config keys that can change this stage's result, the inputs, init and DeepSpeed."""
    return {
        "stage": plan.stage,
        "config": {k: v for k, v in cfg.flat().items() if k in stage_keys(cfg, plan.stage)},
        "inputs": inputs.identity,
        "init": None
        if init is None
        else {"path": str(Path(init).resolve()), "run": (init_meta or {}).get("run_fingerprint")},
        "deepspeed": deepspeed,
    }


def finished_summary(out_dir: Path, run: dict[str, Any]) -> dict | None:
    """The summary of a run already finished in `out_dir`, None when there is none; a
    finished run of another config or inputs is refused."""
    if not (out_dir / "metadata.json").is_file():
        return None
    meta = read_metadata(out_dir, artifact.KIND)
    if meta.get("run_fingerprint") != sha256_json(run):
        Checkpointer(out_dir, run).check_same_run(meta.get("run", {}))
    log.info("%s: this run already finished (delete OUT to train again)", out_dir)
    return {
        "out": str(out_dir),
        "stage": meta["stage"],
        "epochs": meta["epochs"],
        "best_epoch": meta["best_epoch"],
        "best_val_top1": meta["best_val_top1"],
        "final_loss": meta["final_loss"],
        "resumed_from_epoch": meta["epochs"],
        "already_finished": True,
        "seconds": 0.0,
    }


def fullest(*paths: Path) -> Path:
    """Of the folders a run writes (OUT, the TensorBoard directory), the one with the least
    free space: where a write that met a full disk was going."""
    free = {p: free_bytes(p) for p in paths}
    return min(paths, key=lambda p: math.inf if free[p] is None else free[p])


def start_from_init(
    init_meta: dict[str, Any] | None, checkpointer: Checkpointer, model: Any
) -> TrainState:
    """selection=run: the stage-1 model is the best so far (epoch 0 of this stage), so a
    stage-2 epoch is kept only if it beats stage 1's best validation top-1."""
    best = float((init_meta or {}).get("best_val_top1", -1.0))
    checkpointer.save_best(model, 0)
    log.info(
        "model selection over the whole run: stage 1's best (val top1 %.4f, epoch %s) is kept "
        "unless a stage-2 epoch beats it",
        best,
        (init_meta or {}).get("best_epoch"),
    )
    return TrainState(best_top1=best, best_epoch=0)


def trainable_by_reading(cfg: TrainConfig, inputs: Inputs, ctx: Any) -> dict[str, int]:
    """Trainable parameters under each reading of model.trainable_mlp the backbone allows,
    from the model's structure alone (meta tensors, no weights read); {} for backbones
    trained fully."""
    from fgsgl.model import count_trainable_by_reading

    return count_trainable_by_reading(
        cfg.model,
        num_classes=inputs.frames.num_classes,
        text_dim=inputs.bank.dim,
        weights=ctx.weights,
    )


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def parameter_summary(model: Any) -> str:
    from fgsgl.model import parameter_summary as summary

    return summary(model)


def build_or_load_model(cfg: TrainConfig, inputs: Inputs, init: str | None, ctx: Any) -> Any:
    from fgsgl.model import build_model
    from fgsgl.model import load_model as load_weights

    num_classes, text_dim = inputs.frames.num_classes, inputs.bank.dim
    if init is None:
        return build_model(cfg.model, num_classes=num_classes, text_dim=text_dim, ctx=ctx)
    log.info("stage 2 starts from %s", init)
    return load_weights(init, cfg.model, num_classes=num_classes, text_dim=text_dim, ctx=ctx)


def make_loaders(
    cfg: TrainConfig, inputs: Inputs, model: Any, dist: Dist | None, device: torch.device
) -> tuple[Any, Any]:
    transform = ClipTransform(model.image_size, model.image_mean, model.image_std)
    frames = inputs.frames
    log.info(
        "frames: %d train / %d val clips, %d x %dpx -> %dpx; texts: %s (dim %d)",
        len(inputs.train_positions),
        len(inputs.val_positions),
        frames.frames,
        frames.size,
        model.image_size,
        inputs.bank.encoder,
        inputs.bank.dim,
    )
    rank, world = (dist.rank, dist.world) if dist else (0, 1)
    common = dict(
        batch_size=cfg.optim.batch_size,
        seed=cfg.seed,
        workers=cfg.data.workers,
        rank=rank,
        world=world,
        pin_memory=device.type == "cuda",
    )
    pose = model.needs_keypoints
    train_ds = ClipDataset(
        frames,
        inputs.train_positions,
        transform=transform,
        augment=cfg.data.augment,
        seed=cfg.seed,
        keypoints=pose,
    )
    val_ds = ClipDataset(
        frames,
        inputs.val_positions,
        transform=transform,
        augment=False,
        seed=cfg.seed,
        keypoints=pose,
    )
    train_loader = make_loader(
        train_ds, train=True, pk=cfg.optim.pk(), where=str(frames.root), **common
    )
    return train_loader, make_loader(val_ds, train=False, **common)


def make_stepper(
    cfg: TrainConfig,
    plan: StagePlan,
    model: Any,
    steps_per_epoch: int,
    device: torch.device,
    dist: Dist | None,
    deepspeed: str | None,
) -> Any:
    total_steps = plan.epochs * steps_per_epoch
    common = dict(
        lr=plan.lr,
        weight_decay=cfg.optim.weight_decay,
        total_steps=total_steps,
        warmup_ratio=cfg.optim.warmup_ratio,
        device=device,
    )
    if deepspeed is None:
        from fgsgl.train.optim import PlainStepper

        model.to(device)
        return PlainStepper(
            model,
            grad_clip=cfg.optim.grad_clip,
            autocast_dtype=autocast_dtype(cfg.precision, device),
            **common,
        )
    from fgsgl.train.deepspeed_engine import DeepSpeedStepper, read_config, resolve_config

    assert dist is not None
    ds_config = resolve_config(
        read_config(deepspeed),
        cfg,
        world=dist.world,
        cuda=device.type == "cuda",
        source=deepspeed or "default DeepSpeed config",
    )
    return DeepSpeedStepper(model, ds_config=ds_config, dist=dist, **common)


def loss_targets(inputs: Inputs, plan: StagePlan, device: torch.device) -> LossTargets:
    bank = inputs.bank
    clip_ids = inputs.frames.index["clip_id"].to_numpy()[inputs.train_positions]
    rows = bank.rows(clip_ids, plan.text_granularity) if plan.uses_texts else np.zeros(0)
    return LossTargets(
        class_emb=torch.as_tensor(bank.class_embeddings(), device=device),
        text_emb=torch.as_tensor(bank.embeddings, device=device),
        text_rows=torch.as_tensor(rows, dtype=torch.long, device=device),
    )


def selected_model(
    cfg: TrainConfig, plan: StagePlan, state: TrainState, init_meta: dict[str, Any] | None
) -> dict[str, Any]:
    """Which epoch of which stage the artifact's weights are (best_epoch 0 of a stage-2 run
    with selection=run: the stage-1 model it started from)."""
    if state.best_epoch == 0 and init_meta is not None:
        return {"stage": 1, "epoch": init_meta.get("best_epoch"), "selection": cfg.selection}
    return {"stage": plan.stage, "epoch": state.best_epoch, "selection": cfg.selection}


def metadata_fields(
    cfg: TrainConfig,
    plan: StagePlan,
    inputs: Inputs,
    model: Any,
    state: TrainState,
    run: dict[str, Any],
    init_meta: dict[str, Any] | None,
    readings: dict[str, int],
) -> dict[str, Any]:
    frames, bank = inputs.frames, inputs.bank
    return {
        "family": cfg.model.family,
        "backbone": cfg.model.backbone,
        "num_classes": frames.num_classes,
        "class_names": frames.class_names,
        "class_ids": artifact.class_ids(frames),
        "text_dim": bank.dim,
        "image_size": model.image_size,
        "frames": frames.frames,
        "preprocessing": artifact.preprocessing_record(frames, model),
        "dataset": artifact.dataset_record(frames),
        "dataset_fingerprint": frames.dataset_fingerprint,
        "texts_encoder": bank.encoder,
        "texts_fg": {"fine_grained": bank.fine_grained, "sources": bank.meta.get("fg_sources")},
        "texts_attributes": {  # where T_fg's attributes came from (the model card says)
            "artifact": bank.meta.get("attributes"),
            "counts": bank.meta.get("attribute_counts"),
            "paraphrase": bank.meta.get("paraphrase"),
        },
        "backbone_weights": model.backbone.provenance,
        "trainable_mlp": model.backbone.trainable_mlp,
        "trainable_by_reading": readings,
        "stage": plan.stage,
        "losses": plan.weights,
        "epochs": plan.epochs,
        "best_epoch": state.best_epoch,
        "best_val_top1": state.best_top1,
        "selected": selected_model(cfg, plan, state, init_meta),
        "final_loss": state.history[-1]["loss"],
        "config_fingerprint": cfg.fingerprint(),
        "stage_config_fingerprint": cfg.fingerprint(stage_keys(cfg, plan.stage)),
        "init": None if init_meta is None else run["init"],
        "run": run,
        "run_fingerprint": sha256_json(run),
    }
