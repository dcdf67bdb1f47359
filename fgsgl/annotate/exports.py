"""Label Studio JSON exports -> one row per answer (clip, attribute, annotator, value).

Reads the full JSON export (a list of tasks, each with its `annotations` and their
`completed_by`: an id, or a user object with an e-mail in a snapshot export), from one
file or several. What cannot be used is kept as a problem row naming the file, the task
and the annotator (nothing is dropped without a word): controls of another project,
choices outside the vocabulary, clips the dataset lacks, attributes an annotator left
out, a second annotation of one task by the same person (the later one counts),
cancelled (skipped) annotations.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from fgsgl.annotate.labeling import control_names, other_name
from fgsgl.annotate.project import MODEL_PREFIX
from fgsgl.attributes.vocabulary import OTHER, vocabulary
from fgsgl.errors import FgsglError
from fgsgl.text.templates import ATTRIBUTES

ANSWER_COLUMNS = ("file", "task", "clip_id", "annotator", "attribute", "value", "other", "review")
PROBLEM_COLUMNS = ("file", "task", "annotator", "problem")


@dataclass
class Answers:
    answers: pd.DataFrame  # ANSWER_COLUMNS: people's answers (review: an adjudication)
    suggestions: pd.DataFrame  # clip_id, attribute, value: the pre-annotations exported
    problems: list[dict[str, Any]] = field(default_factory=list)  # PROBLEM_COLUMNS
    tasks: int = 0

    def problem_table(self) -> pd.DataFrame:
        return pd.DataFrame(self.problems, columns=list(PROBLEM_COLUMNS))


def annotator_name(completed_by: Any) -> str:
    """A stable name for `completed_by`: the e-mail where the export has it, else the id."""
    if isinstance(completed_by, dict):
        return str(completed_by.get("email") or completed_by.get("id"))
    return f"user {completed_by}"


def read_exports(paths: list[str | Path], known_clips: set[str] | None = None) -> Answers:
    """Every answer of every export in `paths`; FgsglError when none holds any task."""
    vocab = vocabulary()
    controls = control_names()
    rows: list[dict[str, Any]] = []
    suggestions: list[dict[str, Any]] = []
    problems: list[dict[str, Any]] = []
    seen: dict[tuple[str, str, bool], str] = {}  # (clip, annotator, review) -> its time
    tasks = 0
    fatal = []
    for path in map(Path, paths):
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as e:
            fatal.append(f"{path}: not a Label Studio JSON export ({e})")
            continue
        if not isinstance(data, list) or not all(isinstance(t, dict) for t in data):
            fatal.append(f"{path}: expected a list of tasks (Label Studio's JSON export)")
            continue
        if not data:
            fatal.append(f"{path}: the export holds no tasks")
            continue

        def problem(task: Any, annotator: str, text: str, path: Path = path) -> None:
            problems.append(
                {"file": str(path), "task": task, "annotator": annotator, "problem": text}
            )

        for task in data:
            tasks += 1
            task_id = task.get("id", "?")
            clip = str((task.get("data") or {}).get("clip_id", ""))
            review = bool((task.get("data") or {}).get("fgsgl_review"))
            if not clip:
                problem(task_id, "", "the task has no data.clip_id (not an fgsgl project?)")
                continue
            if known_clips is not None and clip not in known_clips:
                problem(task_id, "", f"clip {clip!r} is not in the dataset")
                continue
            for p in task.get("predictions") or []:
                if str(p.get("model_version", "")).startswith(MODEL_PREFIX):
                    for a, value, _ in _choices(p.get("result") or []):
                        suggestions.append({"clip_id": clip, "attribute": a, "value": value})
            for ann in task.get("annotations") or []:
                who = annotator_name(ann.get("completed_by"))
                if ann.get("was_cancelled"):
                    problem(task_id, who, "skipped the task (cancelled annotation); not counted")
                    continue
                key = (clip, who, review)
                stamp = str(ann.get("updated_at") or ann.get("created_at") or ann.get("id"))
                if key in seen:
                    problem(task_id, who, "annotated this task twice; the later one counts")
                    if stamp < seen[key]:
                        continue
                    rows[:] = [
                        r for r in rows if (r["clip_id"], r["annotator"], r["review"]) != key
                    ]
                seen[key] = stamp
                result = ann.get("result") or []
                foreign = sorted({r.get("from_name") for r in result} - controls - {None})
                if foreign:
                    problem(task_id, who, f"controls of another project: {', '.join(foreign)}")
                texts = {
                    r.get("from_name"): " ".join(r.get("value", {}).get("text") or [])
                    for r in result
                    if r.get("type") == "textarea"
                }
                answered = set()
                for a, value, _ in _choices(result):
                    if value not in vocab[a]:
                        problem(task_id, who, f"{a} {value!r} is not in the vocabulary")
                        continue
                    answered.add(a)
                    rows.append(
                        {
                            "file": str(path),
                            "task": task_id,
                            "clip_id": clip,
                            "annotator": who,
                            "attribute": a,
                            "value": value,
                            "other": texts.get(other_name(a), "") if value == OTHER else "",
                            "review": review,
                        }
                    )
                missing = [a for a in ATTRIBUTES if a not in answered]
                if missing and not review:
                    problem(task_id, who, f"left out {', '.join(missing)}")
    if fatal:
        raise FgsglError("cannot read the exports", fatal)
    if not rows:
        said = [
            f"{p['file']}: task {p['task']}: {p['annotator']}: {p['problem']}" for p in problems
        ]
        raise FgsglError(f"{', '.join(map(str, paths))}: no usable annotations", said[:50])
    return Answers(
        pd.DataFrame(rows, columns=list(ANSWER_COLUMNS)),
        pd.DataFrame(suggestions, columns=["clip_id", "attribute", "value"]).drop_duplicates(
            ["clip_id", "attribute"]
        ),
        problems,
        tasks,
    )


def _choices(result: list[dict[str, Any]]) -> list[tuple[str, str, float | None]]:
    """(attribute, value, score) of each single-choice result naming an attribute."""
    out = []
    for r in result:
        if r.get("type") != "choices" or r.get("from_name") not in ATTRIBUTES:
            continue
        for value in r.get("value", {}).get("choices") or []:
            out.append((r["from_name"], str(value), r.get("score")))
    return out
