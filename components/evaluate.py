"""Evaluation: frames + model in; the evaluation artifact, KFP metrics and report out."""

from kfp import dsl
from kfp.dsl import (
    Artifact,
    ClassificationMetrics,
    Dataset,
    Input,
    Markdown,
    Metrics,
    Model,
    Output,
)

from fgsgl.components.images import CPU_IMAGE


@dsl.component(base_image=CPU_IMAGE, install_kfp_package=False)
def evaluate(
    frames: Input[Dataset],
    model: Input[Model],
    texts: Input[Dataset],
    backbone_weights: Input[Artifact],
    evaluation: Output[Artifact],
    metrics: Output[Metrics],
    confusion: Output[ClassificationMetrics],
    report: Output[Markdown],
    variant: str = "",
    eval_split: str = "test",
    prototype_weight: float = 0.0,
) -> None:
    """Evaluate a trained model on one split; log what the KFP UI shows and compares.

    Args:
        frames: the frames artifact the model was trained on.
        model: the model artifact (stage 2, or the single stage without ML-CO).
        texts: the texts artifact; read only when prototype_weight > 0.
        backbone_weights: the backbone's fetched checkpoint (fetch-backbone).
        evaluation: the evaluation artifact (docs/artifacts.md "evaluation"): metrics,
            per-class accuracy, confusion, predictions, report.
        metrics: top1, top5, macro_f1, mean_class_acc (fractions; the same keys for every
            variant, so the KFP compare view lines them up).
        confusion: the confusion matrix with class names.
        report: the Markdown report (per-class table, most confused pairs, training curves).
        variant: the run's variant name, recorded for `fgsgl compare`.
        eval_split: which split to evaluate ("test", "val" or "train").
        prototype_weight: add this times the class-prototype similarity to the classifier's
            logits; 0 = the classifier alone.
    """
    import json
    import shutil
    from pathlib import Path

    from fgsgl.evaluate.artifact import REPORT, load_evaluation
    from fgsgl.evaluate.metrics import METRIC_KEYS
    from fgsgl.evaluate.run import evaluate as evaluate_model
    from fgsgl.weights import has_files

    evaluate_model(
        frames.path,
        model.path,
        evaluation.path,
        split=eval_split,
        with_prototypes=prototype_weight or None,
        texts=texts.path if prototype_weight else None,
        variant=variant or None,
        weights=backbone_weights.path if has_files(backbone_weights.path) else None,
    )
    result = load_evaluation(evaluation.path)
    for key in METRIC_KEYS:
        metrics.log_metric(key, float(result.metrics[key]))
    confusion.log_confusion_matrix(result.class_names, result.confusion.tolist())
    shutil.copyfile(Path(evaluation.path) / REPORT, report.path)
    # Metrics live in artifact metadata; kfp.local's cache drops an entry whose artifact
    # files are missing, so write them out as files too (also handy on a cluster).
    Path(metrics.path).write_text(json.dumps(dict(metrics.metadata), indent=2))
    Path(confusion.path).write_text(json.dumps(dict(confusion.metadata), indent=2))
