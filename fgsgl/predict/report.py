"""summary.md of a predictions directory, and the counts it and metadata.json share.

Short on purpose: what was predicted with what (model, preprocessing, scoring), how many
clips per input, top-1 where the inputs had labels, which classes came out, and the
failures; predictions.csv holds every clip.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from fgsgl.predict.inputs import Inputs

FAILURES_SHOWN = 20


def counts_of(
    predictions: pd.DataFrame, failures: pd.DataFrame, resolved: Inputs, k: int
) -> dict[str, Any]:
    """clips, predicted, failed, labelled, top1 and topk (None without labels)."""
    labelled = predictions[predictions["label"].notna()] if len(predictions) else predictions
    top1 = topk = None
    if len(labelled):
        top1 = float(labelled["correct"].astype(bool).mean())
        ids = labelled[[f"top{r}_id" for r in range(1, k + 1)]].to_numpy()
        topk = float((ids == labelled["label"].to_numpy(dtype=int)[:, None]).any(axis=1).mean())
    return {
        "clips": resolved.total,
        "predicted": len(predictions),
        "failed": len(failures),
        "labelled": len(labelled),
        "top1": top1,
        "topk": topk,
        "k": k,
    }


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.2f} %"


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def summary_markdown(
    info: dict[str, Any], predictions: pd.DataFrame, failures: pd.DataFrame, predictor: Any
) -> str:
    counts = info["counts"]
    meta = predictor.meta
    dataset = (meta.get("dataset") or {}).get("name") or "its dataset"
    best = meta.get("best_val_top1")
    best_text = "" if best is None else f", best val top-1 {100 * best:.1f} %"
    lines = [
        f"# Predictions: {counts['predicted']} of {counts['clips']} clips",
        "",
        f"- Model: `{info['model']}` ({info['family']}, `{meta.get('backbone')}`, stage "
        f"{meta.get('stage')}; trained on {dataset}{best_text})",
        f"- Preprocessing (from the model): {predictor.preprocessing.describe()}",
        f"- Scoring: {info['scoring']}; top {info['top_k']} classes per clip",
        f"- Device {info['device']}, batch {info['batch_size']}, "
        f"{info['workers']} decoding worker(s); {info['timing']['seconds']:.1f} s "
        f"({info['timing']['clips_per_s']:.1f} clips/s while predicting)",
        "",
        "| input | kind | clips | predicted | failed | labelled | top-1 |",
        "|---|---|---|---|---|---|---|",
    ]
    for item in info["inputs"]:
        path = item["path"]
        mine = predictions[predictions["input"] == path] if len(predictions) else predictions
        bad = int((failures["input"] == path).sum()) if len(failures) else 0
        lab = mine[mine["label"].notna()] if len(mine) else mine
        top1 = _percent(float(lab["correct"].astype(bool).mean())) if len(lab) else "n/a"
        lines.append(
            f"| `{_cell(path)}` | {item['kind']} | {item['clips']} | {len(mine)} | {bad} | "
            f"{len(lab)} | {top1} |"
        )
    lines += [""]
    if counts["labelled"]:
        lines.append(
            f"**Top-1 {_percent(counts['top1'])}**, top-{counts['k']} "
            f"{_percent(counts['topk'])} over the {counts['labelled']} labelled clips."
        )
    else:
        lines.append("No labels to compare with (none given, or of other classes).")
    for note in info.get("notes") or []:
        lines.append(f"- {note}")
    if len(predictions):
        lines += ["", "## Predicted classes", "", "| class | clips | mean probability |"]
        lines.append("|---|---|---|")
        groups = predictions.groupby(["top1_id", "top1_name"], sort=True)["top1_prob"]
        for (cid, name), probs in groups:
            lines.append(f"| {cid} {_cell(name)} | {len(probs)} | {probs.mean():.3f} |")
    if len(failures):
        lines += ["", f"## Failures ({len(failures)}, all in failures.csv)", ""]
        lines += ["| input | clip | video | error |", "|---|---|---|---|"]
        for row in failures.head(FAILURES_SHOWN).itertuples(index=False):
            lines.append(
                f"| `{_cell(row.input)}` | {_cell(row.clip_id)} | `{_cell(row.video)}` | "
                f"{_cell(row.error)} |"
            )
    return "\n".join(lines) + "\n"
