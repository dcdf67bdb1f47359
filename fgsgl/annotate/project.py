"""`fgsgl annotate export`: a Label Studio project for a dataset's clips.

    OUT/label_config.xml   the labeling config (fgsgl.annotate.labeling)
    OUT/tasks.json         one task per clip, with pre-annotations (Label Studio predictions)
    OUT/videos/CLIP.mp4    each clip's own video: a copy of a clip file, or the clip's
                           segment cut out of a long recording (so nobody hunts through an
                           hour of interview for it)
    OUT/project.json       the project's settings (title, annotators per task, how the
                           videos are served) for the API or the UI
    OUT/suggestions.csv    the pre-annotations as a table (what `import` compares with)

Videos are served by Label Studio's local files (LOCAL_FILES_DOCUMENT_ROOT=OUT and a
local-files storage of OUT/videos; task URLs `/data/local-files/?d=videos/CLIP.mp4`), or
from `--video-url PREFIX` (a bucket the project's cloud storage reads). The
pre-annotations are the attributes derived from each clip's keypoints, the class table
where derivation could not tell (fgsgl.attributes), each with its confidence.
`--review DISAGREEMENTS.csv` writes a review project instead: one task per disputed clip,
each annotator's answer shown as a prediction of its own.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fgsgl import __version__, storage
from fgsgl.annotate.labeling import VIDEO, labeling_config
from fgsgl.attributes.vocabulary import vocabulary
from fgsgl.dataset import Dataset, load_dataset
from fgsgl.errors import FgsglError, UsageError
from fgsgl.progress import bar
from fgsgl.text.templates import ATTRIBUTES

log = logging.getLogger("fgsgl")

CONFIG_XML = "label_config.xml"
TASKS_JSON = "tasks.json"
PROJECT_JSON = "project.json"
SUGGESTIONS_CSV = "suggestions.csv"
VIDEOS = "videos"
MODEL_PREFIX = "fgsgl-derived"  # the pre-annotations' name in Label Studio (+ version)
MODEL_VERSION = f"{MODEL_PREFIX}-{__version__}"
REVIEW_PREFIX = "annotator:"  # a review task's predictions: one per annotator
MAX_SIDE = 480  # cut segments are scaled down to this (annotators need no 4K)


def local_file_url(relative: str) -> str:
    """How Label Studio's local-files storage serves a file below its document root."""
    return f"/data/local-files/?d={relative}"


def export_project(
    dataset: str | Path,
    out: str | Path,
    *,
    splits: Sequence[str] | None = None,
    clips: Sequence[str] | None = None,
    annotators: int = 2,
    video_url: str | None = None,
    review: str | Path | None = None,
    validate: bool = True,
    python: str | None = None,
) -> dict[str, Any]:
    """Write the project for `dataset`'s clips (all, or those of `splits` / `clips`)."""
    from fgsgl.annotate.sdk import validate_project

    if annotators < 1:
        raise UsageError(f"--annotators {annotators}: at least one annotator per task")
    ds = load_dataset(dataset)
    chosen = _choose(ds, splits, clips)
    disputes = _read_disputes(review, set(chosen["clip_id"])) if review is not None else None
    if disputes is not None:
        chosen = chosen[chosen["clip_id"].isin(disputes)]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    suggestions = _suggestions(ds, chosen)
    config = labeling_config()
    tasks = []
    with bar(total=len(chosen), desc="tasks", unit="clip") as b:
        for clip in chosen.itertuples(index=False):
            video, fps = _clip_video(ds, clip, out)
            url = f"{video_url.rstrip('/')}/{video}" if video_url else local_file_url(video)
            # a clip of an unlabelled split (label -1) has no class to show
            name = ds.class_names[int(clip.label)] if clip.label >= 0 else "unlabelled"
            data = {
                VIDEO: url,
                "fps": fps,
                "clip_id": clip.clip_id,
                "class_name": name,
                "split": clip.split,
                "title": f"clip {clip.clip_id} · class: {name}",
            }
            if disputes is not None:
                data["fgsgl_review"] = True
                predictions = _review_predictions(disputes[clip.clip_id])
            else:
                predictions = [_prediction(suggestions.loc[clip.clip_id])]
            tasks.append({"data": data, "predictions": [p for p in predictions if p]})
            b.update(1)
    problems = task_problems(tasks)
    if validate:
        problems += validate_project(config, tasks, python=python)
    if problems:
        raise FgsglError(f"{out}: the project does not validate; nothing written", problems)
    (out / CONFIG_XML).write_text(config)
    (out / TASKS_JSON).write_text(json.dumps(tasks, indent=1, ensure_ascii=False) + "\n")
    suggestions.reset_index().to_csv(out / SUGGESTIONS_CSV, index=False)
    project = {
        "title": f"FG-Text: {Path(ds.root).name}" + (" (review)" if disputes else ""),
        "label_config": CONFIG_XML,
        "tasks_file": TASKS_JSON,
        "maximum_annotations": 1 if disputes is not None else annotators,
        "show_overlap_first": True,
        "videos": {
            "local_files_document_root": str(out.resolve()),
            "local_storage_path": str((out / VIDEOS).resolve()),
        }
        if video_url is None
        else {"url": video_url},
        "validated_with_sdk": validate,
    }
    (out / PROJECT_JSON).write_text(json.dumps(project, indent=1) + "\n")
    return {"out": str(out), "tasks": len(tasks), "review": disputes is not None, **project}


def _choose(ds: Dataset, splits: Sequence[str] | None, clips: Sequence[str] | None) -> Any:
    m = ds.manifest
    problems = []
    if splits:
        unknown = sorted(set(splits) - set(m["split"]))
        if unknown:
            problems.append(
                f"--split {', '.join(unknown)}: no such split ({sorted(set(m['split']))})"
            )
        m = m[m["split"].isin(splits)]
    if clips:
        unknown = [c for c in clips if c not in set(ds.manifest["clip_id"])]
        if unknown:
            problems.append(f"--clips: not clips of {ds.root}: {', '.join(unknown)}")
        m = m[m["clip_id"].isin(clips)]
    if problems:
        raise UsageError("; ".join(problems))
    if m.empty:
        raise UsageError(f"{ds.root}: no clips chosen")
    return m


def _suggestions(ds: Dataset, chosen: pd.DataFrame) -> pd.DataFrame:
    """Per chosen clip (index clip_id): each attribute's derived (or class-table) value and
    confidence, empty where neither knows it."""
    from fgsgl.attributes.artifact import attribute_table

    sub = Dataset(ds.root, chosen.reset_index(drop=True), ds.classes, ds.manifest_file)
    table, _, notes = attribute_table(sub, "derived")
    for note in notes:
        log.info("pre-annotations: %s", note)
    columns = ["clip_id"]
    for a in ATTRIBUTES:
        columns += [a, f"{a}_source", f"{a}_confidence"]
    return table[columns].set_index("clip_id")


def _prediction(row: pd.Series) -> dict[str, Any] | None:
    """One Label Studio prediction from a clip's suggestions (None when nothing is known)."""
    result, scores = [], []
    for a in ATTRIBUTES:
        value = row[a]
        if not isinstance(value, str) or not value:
            continue
        score = float(row[f"{a}_confidence"])
        scores.append(score)
        result.append(_choice(a, value, score))
    if not result:
        return None
    return {"model_version": MODEL_VERSION, "score": float(np.mean(scores)), "result": result}


def _choice(attribute: str, value: str, score: float | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": f"{attribute}-choice",
        "from_name": attribute,
        "to_name": VIDEO,
        "type": "choices",
        "value": {"choices": [value]},
    }
    if score is not None:
        out["score"] = round(score, 4)
    return out


def task_problems(tasks: list[dict[str, Any]]) -> list[str]:
    """Every choice of every prediction that is not in its attribute's vocabulary (Label
    Studio's server would accept it)."""
    vocab = vocabulary()
    out = []
    for task in tasks:
        for p in task["predictions"]:
            for r in p["result"]:
                for value in r["value"]["choices"]:
                    if value not in vocab[r["from_name"]]:
                        out.append(
                            f"clip {task['data']['clip_id']}: {p['model_version']}: "
                            f"{r['from_name']} {value!r} is not in the vocabulary"
                        )
    return out


def _clip_video(ds: Dataset, clip: Any, out: Path) -> tuple[str, float]:
    """The clip's own video under OUT/videos (relative path) and its frame rate."""
    from fgsgl.attributes.artifact import video_fps

    source = ds.video_uri(clip.video)
    relative = f"{VIDEOS}/{_safe(clip.clip_id)}.mp4"
    target = out / relative
    fps = video_fps(source)
    start, end = getattr(clip, "start_frame", None), getattr(clip, "end_frame", None)
    whole = pd.isna(start) and pd.isna(end)
    if target.is_file():
        return relative, fps  # written by an earlier export: resumable
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_suffix(".part.mp4")
    if whole:
        if storage.is_remote(source):
            storage.download(source, part)
        else:
            shutil.copyfile(source, part)
    else:
        _cut(
            source,
            int(0 if pd.isna(start) else start),
            None if pd.isna(end) else int(end),
            fps,
            part,
        )
    part.replace(target)
    return relative, fps


def _cut(source: str, start: int, end: int | None, fps: float, dest: Path) -> None:
    """Frames start..end (end exclusive) of `source` as an mp4 of at most MAX_SIDE px."""
    import torch

    from fgsgl.synth.video import write_mp4
    from fgsgl.video.decode import VideoFile

    video = VideoFile(source, size=MAX_SIDE)
    stop = min(end if end is not None else video.frame_count, video.frame_count)
    if stop <= start:
        raise FgsglError(f"{source}: frames {start}..{end} lie past its {video.frame_count}")
    chunks = []
    for first in range(start, stop, 64):
        batch, (width, height) = video.decode_native(list(range(first, min(first + 64, stop))))
        scale = min(1.0, MAX_SIDE / max(width, height))
        h, w = (max(2, round(height * scale / 2) * 2), max(2, round(width * scale / 2) * 2))
        x = batch[:, :height, :width].permute(0, 3, 1, 2).float()
        x = torch.nn.functional.interpolate(x, size=(h, w), mode="bilinear", antialias=True)
        chunks.append(x.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy())
    write_mp4(dest, np.concatenate(chunks), fps=max(1, round(fps)))


def _safe(clip_id: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in clip_id)


def _read_disputes(path: str | Path, known: set[str]) -> dict[str, dict[str, dict[str, str]]]:
    """DISAGREEMENTS.csv (clip_id, attribute, annotator, value) -> clip -> annotator ->
    attribute -> value."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"--review {path}: file not found")
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    need = {"clip_id", "attribute", "annotator", "value"}
    if not need <= set(table.columns):
        raise FgsglError(f"{path}: needs the columns {', '.join(sorted(need))}")
    unknown = sorted(set(table["clip_id"]) - known)
    if unknown:
        raise FgsglError(f"{path}: clips not among those chosen: {', '.join(unknown[:10])}")
    out: dict[str, dict[str, dict[str, str]]] = {}
    for row in table.itertuples(index=False):
        out.setdefault(row.clip_id, {}).setdefault(row.annotator, {})[row.attribute] = row.value
    return out


def _review_predictions(answers: dict[str, dict[str, str]]) -> list[dict[str, Any]]:
    """One prediction per annotator of a disputed clip: what each of them said."""
    vocab = vocabulary()
    out = []
    for annotator, by_attribute in sorted(answers.items()):
        result = [_choice(a, v) for a, v in by_attribute.items() if a in vocab and v in vocab[a]]
        if result:
            out.append({"model_version": f"{REVIEW_PREFIX}{annotator}", "result": result})
    return out
