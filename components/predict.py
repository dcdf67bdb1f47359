"""Batch prediction: a trained model artifact and an input location in; predictions (or,
with windows, spotted segments) and their report out."""

from kfp import dsl
from kfp.dsl import Artifact, Input, Markdown, Metrics, Model, Output

from fgsgl.components.images import GPU_IMAGE


@dsl.component(base_image=GPU_IMAGE, install_kfp_package=False)
def predict_videos(
    model: Input[Model],
    predictions: Output[Artifact],
    report: Output[Markdown],
    metrics: Output[Metrics],
    inputs: str,
    split: str = "",
    windows: str = "",
    threshold: float = 0.5,
    min_frames: int = 1,
    score: bool = False,
    iou: float = 0.5,
    top_k: int = 5,
    batch_size: int = 8,
    weights_mirror: str = "",
) -> None:
    """Run a trained model on new footage, as `fgsgl predict` does.

    Args:
        model: a model artifact of an earlier run (train-stage2's `model`), imported by URI.
        predictions: the predictions directory (predictions.csv, failures.csv, summary.md;
            with windows: segments.csv, windows.csv, timelines/, spotting.md).
        report: summary.md, or spotting.md with windows, for the KFP UI.
        metrics: clips, predicted, failed and, where the input has labels, top1; with
            windows: videos, segments and, with score, precision, recall and f1.
        inputs: where the footage is, as the pods see it: video files, folders, dataset
            directories or frames artifacts (gs://, s3:// or a mounted path), several
            separated by commas.
        split: only this split of datasets and frames artifacts ("" = all).
        windows: LEN:STRIDE (frames, or seconds: 2s:0.5s) spots gestures in whole videos;
            "" predicts one class per clip.
        threshold: with windows, a window whose top probability is below it holds no gesture.
        min_frames: with windows, segments shorter than this are dropped.
        score: with windows, match the segments to the dataset's labelled ones.
        iou: with score, the temporal IoU a match needs.
        top_k: classes per clip in predictions.csv.
        batch_size: clips per forward pass.
        weights_mirror: a folder, gs:// or s3:// prefix holding ORG/NAME@REVISION/
            snapshots, for a pretrained backbone on a cluster without hub access.
    """
    import json
    import shutil
    import tempfile
    from pathlib import Path

    from fgsgl.predict.run import predict
    from fgsgl.weights import fetch_weights, has_files

    backbone = json.loads((Path(model.path) / "config.json").read_text())["backbone"]["name"]
    with tempfile.TemporaryDirectory(prefix="fgsgl-weights-") as tmp:
        weights = Path(tmp) / "weights"
        fetch_weights(backbone, weights, part="vision", mirror=weights_mirror or None)
        summary = predict(
            model.path,
            [p.strip() for p in inputs.split(",") if p.strip()],
            predictions.path,
            split=split or None,
            batch_size=batch_size,
            top_k=top_k,
            weights=str(weights) if has_files(str(weights)) else None,
            windows=windows or None,
            threshold=threshold,
            min_frames=min_frames,
            score=score,
            iou=iou,
        )
    keys = ("videos", "segments", "failed", "precision", "recall", "f1") if windows else (
        "clips", "predicted", "failed", "top1"
    )  # fmt: skip
    for key in keys:
        if summary.get(key) is not None:
            metrics.log_metric(key, float(summary[key]))
    shutil.copyfile(Path(summary["report" if windows else "summary"]), report.path)
    # kfp.local's cache drops an entry whose artifact files are missing (as in evaluate)
    Path(metrics.path).write_text(json.dumps(dict(metrics.metadata), indent=2))
