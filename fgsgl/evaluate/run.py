"""The evaluation step: one model on one split of a frames artifact -> an evaluation artifact.

    evaluate(frames, model, out, split="test") -> summary dict

Inputs are checked before the model is loaded (datasets, class lists, split, texts), every
problem at once. The output is written through `staged_dir`: all files or none.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from fgsgl.artifacts import read_metadata, staged_dir, write_metadata
from fgsgl.errors import FgsglError, UsageError
from fgsgl.evaluate.artifact import KIND, REPORT, Evaluation, write_data
from fgsgl.evaluate.compare_report import compare
from fgsgl.evaluate.metrics import METRIC_KEYS, compute_metrics
from fgsgl.evaluate.report import write_report
from fgsgl.runtime.cpus import configure_torch_threads, loader_workers

__all__ = ["compare", "evaluate", "write_evaluation"]

log = logging.getLogger("fgsgl.evaluate")
MODEL_KIND = "fgsgl.model"
MODEL_INFO_KEYS = (
    "family",
    "backbone",
    "backbone_weights",
    "trainable_mlp",
    "stage",
    "best_epoch",
    "best_val_top1",
    "selected",
    "texts_encoder",
    "texts_fg",
)


def write_evaluation(
    directory: str | Path,
    *,
    clip_ids: list[str],
    labels: np.ndarray,
    scores: np.ndarray,
    class_names: list[str],
    meta: dict[str, Any],
    history: list[dict[str, Any]] | None = None,
    timing: dict[str, float] | None = None,
) -> Evaluation:
    """Everything after the forward passes: metrics, data files, metadata, report."""
    directory = Path(directory)
    metrics = compute_metrics(labels, scores, len(class_names))
    ev = write_data(
        directory,
        metrics=metrics,
        class_names=list(class_names),
        clip_ids=list(clip_ids),
        labels=np.asarray(labels),
        scores=scores,
        timing=dict(timing or {}),
        history=list(history or []),
    )
    ev.meta = write_metadata(directory, KIND, **meta)
    write_report(directory, ev)
    return ev


def training_history(model: str | Path, depth: int = 4) -> list[dict[str, Any]]:
    """The model's per-epoch history, preceded by its init model's (stage 1 before stage 2)
    while that is still there and still the same run; each entry tagged with its stage."""
    from fgsgl.train.artifact import HISTORY_JSON

    history: list[dict[str, Any]] = []
    path: Path | None = Path(model)
    expected_run: str | None = None
    for _ in range(depth):
        if path is None or not (path / HISTORY_JSON).is_file():
            break
        try:
            meta = read_metadata(path, MODEL_KIND)
            entries = json.loads((path / HISTORY_JSON).read_text())
        except (FgsglError, json.JSONDecodeError) as e:
            log.warning("training curves: leaving out %s (%s)", path, e)
            break
        if expected_run is not None and meta.get("run_fingerprint") != expected_run:
            log.warning("training curves: %s was retrained since; its history is left out", path)
            break
        history = [{"stage": meta.get("stage"), **e} for e in entries] + history
        init = meta.get("init")
        if isinstance(init, dict):
            path, expected_run = Path(init["path"]), init.get("run")
        else:
            path, expected_run = (Path(init) if init else None), None
    return history


def check_inputs(
    frames: Any,
    model_meta: dict[str, Any],
    model: str,
    split: str,
    texts_bank: Any | None,
    texts: str | None,
) -> None:
    """Every reason the model cannot be evaluated on this split, at once."""
    problems = []
    if model_meta.get("dataset_fingerprint") != frames.dataset_fingerprint:
        problems.append(
            f"model {model} was trained on dataset "
            f"{str(model_meta.get('dataset_fingerprint'))[:16]}, the frames are of dataset "
            f"{str(frames.dataset_fingerprint)[:16]}"
        )
    model_classes = list(model_meta.get("class_names") or [])
    frame_classes = list(frames.class_names)
    if model_classes != frame_classes:
        diff = [
            f"class {i}: {a!r} in the model, {b!r} in the frames"
            for i, (a, b) in enumerate(zip(model_classes, frame_classes, strict=False))
            if a != b
        ]
        problems.append(
            f"class lists differ ({len(model_classes)} classes in the model, "
            f"{len(frame_classes)} in the frames)" + (f": {'; '.join(diff[:5])}" if diff else "")
        )
    counts = frames.index["split"].value_counts().sort_index()
    if counts.get(split, 0) == 0:
        have = ", ".join(f"{s} ({n} clips)" for s, n in counts.items()) or "none"
        failed = len(frames.failures())
        why = f"; {failed} clips failed extraction (failures.csv)" if failed else ""
        problems.append(f"split {split!r} has no clips in the frames; splits: {have}{why}")
    rows = frames.clips(split)
    unlabelled = int((rows["label"] < 0).sum())
    if unlabelled:
        what = (
            f"is unlabelled: none of its {len(rows)} clips has a label"
            if unlabelled == len(rows)
            else f"has {unlabelled} of {len(rows)} clips without a label"
        )
        problems.append(
            f"split {split!r} {what} (a source that withholds them; the dataset's import.json "
            "says why), so there is nothing to score against: evaluate a labelled split "
            "(--split val), or run `fgsgl predict` on it"
        )
    if texts_bank is not None:
        if texts_bank.dataset_fingerprint != frames.dataset_fingerprint:
            problems.append(f"texts {texts} are of another dataset than the frames")
        if model_meta.get("text_dim") not in (None, texts_bank.dim):
            problems.append(
                f"texts {texts} have dimension {texts_bank.dim}, the model projects to "
                f"{model_meta.get('text_dim')}"
            )
        if model_meta.get("texts_encoder") not in (None, texts_bank.encoder):
            problems.append(
                f"texts {texts} were encoded by {texts_bank.encoder!r}, the model was trained "
                f"with {model_meta.get('texts_encoder')!r}"
            )
    if problems:
        raise FgsglError(f"cannot evaluate {model} on {split!r}", problems)
    if model_meta.get("frames") not in (None, frames.frames):
        log.warning(
            "%s was trained on %s frames per clip, these frames have %d: evaluating anyway",
            model,
            model_meta["frames"],
            frames.frames,
        )


def evaluate(
    frames: str,
    model: str,
    out: str,
    *,
    split: str = "test",
    with_prototypes: float | None = None,
    texts: str | None = None,
    batch_size: int = 32,
    variant: str | None = None,
    seed: int | None = None,
    device: str | None = None,
    workers: int | None = None,
    weights: str | None = None,
) -> dict:
    """Evaluate `model` on `split` of `frames`; write the evaluation artifact to `out`.

    weights: the backbone's checkpoint as a fetched weights artifact (fgsgl.weights).
    with_prototypes: add ALPHA x cosine(z_high, class prototype) / tau to the classifier's
    logits (prototypes from `texts`). variant, seed: the run's identity for `compare`
    (seed defaults to the model's training seed). device: default CUDA when available;
    workers: data loader processes (default: up to 4, one less than the CPUs).
    Returns a small JSON-able summary.
    """
    start = time.perf_counter()
    if (with_prototypes is None) != (texts is None):
        raise UsageError("--with-prototypes ALPHA and --texts TEXTS go together")
    if batch_size < 1:
        raise UsageError(f"batch size must be >= 1, got {batch_size}")

    from fgsgl.evaluate.predict import predict
    from fgsgl.runtime.device import autocast_dtype, resolve_device
    from fgsgl.text.bank import load_texts
    from fgsgl.train import load_model
    from fgsgl.video.frames import FramesArtifact

    frames_art = FramesArtifact.open(frames)
    model_meta = read_metadata(model, MODEL_KIND)
    bank = load_texts(texts) if texts is not None else None
    check_inputs(frames_art, model_meta, model, split, bank, texts)

    configure_torch_threads()
    dev = resolve_device(device)
    net, config = load_model(model, weights=weights)
    workers = loader_workers(workers)
    t0 = time.perf_counter()
    result = predict(
        net,
        frames_art,
        split,
        batch_size=batch_size,
        device=dev,
        workers=workers,
        autocast=autocast_dtype(config.precision, dev),
        prototypes=None if bank is None else bank.class_embeddings(),
        alpha=with_prototypes or 0.0,
        tau=config.loss.tau,
    )
    predict_seconds = time.perf_counter() - t0

    if seed is None:
        seed = getattr(config, "seed", None)
    meta = {
        "split": split,
        "model": str(model),
        "frames": str(frames),
        "dataset_fingerprint": frames_art.dataset_fingerprint,
        "variant": variant,
        "seed": seed,
        "with_prototypes": with_prototypes,
        "texts": None if texts is None else str(texts),
        "tau": config.loss.tau if with_prototypes is not None else None,
        "model_info": {k: model_meta.get(k) for k in MODEL_INFO_KEYS},
        "device": str(dev),
        "batch_size": batch_size,
    }
    with staged_dir(out) as tmp:
        seconds = time.perf_counter() - start
        ev = write_evaluation(
            tmp,
            clip_ids=result.clip_ids,
            labels=result.labels,
            scores=result.scores,
            class_names=list(frames_art.class_names),
            meta=meta,
            history=training_history(model),
            timing={
                "seconds": round(seconds, 3),
                "predict_seconds": round(predict_seconds, 3),
                "clips_per_s": round(len(result.clip_ids) / max(predict_seconds, 1e-9), 3),
            },
        )
    summary = {k: ev.metrics[k] for k in METRIC_KEYS}
    summary.update(
        clips=len(result.clip_ids),
        seconds=ev.metrics["seconds"],
        clips_per_s=ev.metrics["clips_per_s"],
        split=split,
        out=str(out),
        report=str(Path(out) / REPORT),
    )
    log.info(
        "%s on %s (%d clips): top-1 %.2f %%, top-5 %.2f %%, macro-F1 %.2f %%",
        model,
        split,
        summary["clips"],
        100 * summary["top1"],
        100 * summary["top5"],
        100 * summary["macro_f1"],
    )
    return summary
