"""The attributes step: each clip's four FG-Text attributes and where each came from.

    attributes.csv  clip_id, fg_text (a sentence the manifest gives), and per attribute A:
                    A (the value, empty when unknown), A_source (annotated | derived |
                    class | unknown), A_confidence (derived values; 1 for annotated and
                    class ones), A_reason (why it is unknown, or why the class table
                    filled it)
    metadata.json   kind fgsgl.attributes; mode, dataset_fingerprint, layout, counts
                    {clips, with_fg_text, by_source {A: {source: n}}, unknown_reasons
                    {A: {reason: n}}}, notes

The modes (the pipeline parameter `fg_attributes`):
    auto       the manifest's own attributes where a clip has them (people's annotations,
               SynthMG's truth), else derived from the clip's keypoints, each unknown one
               filled from the class table; a clip with neither (or whose keypoints give
               nothing) keeps none
    annotated  the manifest's own attributes only
    derived    derived from keypoints for every clip (the manifest's ignored), unknown
               ones filled from the class table (where at least one was derived)
    class      every clip's attributes from the class table (the class-level FG-Text)

A clip has a T_fg when it has a fg_text or all four attributes. Derivation never crashes on
bad keypoints (NaN, zero confidence, a short file, no hand joints, a hand that never
moves): the attribute is unknown with its reason, and the counts say how often.
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fgsgl import storage
from fgsgl.artifacts import read_metadata, staged_dir, write_metadata
from fgsgl.attributes.class_tables import class_attributes
from fgsgl.attributes.derive import Derived, derive
from fgsgl.attributes.skeleton import Layout, find_layout, read_body
from fgsgl.attributes.vocabulary import UNKNOWN
from fgsgl.dataset import Dataset, load_dataset
from fgsgl.dataset.tables import write_csv
from fgsgl.errors import FgsglError
from fgsgl.progress import bar
from fgsgl.text.templates import ATTRIBUTES

log = logging.getLogger("fgsgl")

KIND = "fgsgl.attributes"
ATTRIBUTES_CSV = "attributes.csv"
MODES = ("auto", "annotated", "derived", "class")
SOURCES = ("annotated", "derived", "class", "unknown")
DEFAULT_FPS = 30.0


def derive_attributes(
    dataset: str, out: str | Path, *, mode: str = "auto", progress: bool = True
) -> dict[str, Any]:
    """Write the attributes artifact of `dataset` to `out`; returns its metadata."""
    if mode not in MODES:
        raise FgsglError(f"fg_attributes {mode!r}: not one of {', '.join(MODES)}")
    ds = load_dataset(dataset)
    table, layout, notes = attribute_table(ds, mode, progress=progress)
    counts = attribute_counts(table)
    with staged_dir(Path(out)) as tmp:
        write_csv(table, tmp / ATTRIBUTES_CSV)
        meta = write_metadata(
            tmp,
            KIND,
            mode=mode,
            dataset=str(dataset),
            dataset_fingerprint=ds.fingerprint(),
            layout=layout.name if layout else None,
            counts=counts,
            notes=notes,
        )
    log.info("%s", summary_line(counts, mode))
    return meta


def attribute_table(
    ds: Dataset, mode: str, *, progress: bool = True
) -> tuple[pd.DataFrame, Layout | None, list[str]]:
    """(one row per clip, the keypoint layout used, notes) for `mode`."""
    m = ds.manifest
    notes: list[str] = []
    classes = class_attributes(ds.class_names)
    if mode != "annotated" and len(classes) < ds.num_classes:
        notes.append(
            f"class tables cover {len(classes)} of {ds.num_classes} classes "
            "(fgsgl/attributes/class_attributes.csv)"
        )
    layout = _layout(ds, notes) if mode in ("auto", "derived") else None
    own = ds.annotated()
    fps_of: dict[str, float] = {}
    keypoints: dict[str, np.ndarray | str] = {}  # file -> array, or why it is unusable
    rows = []
    with bar(total=len(m), desc="attributes", unit="clip", disable=not progress) as b:
        for i, clip in enumerate(m.itertuples(index=False)):
            row: dict[str, Any] = {"clip_id": clip.clip_id, "fg_text": ""}
            label = int(clip.label)
            if mode in ("auto", "annotated") and own.iloc[i]:
                _annotated(row, clip)
            elif mode == "annotated":
                _unknown(row, "the manifest has no attributes for this clip")
            elif mode == "class":
                _from_class(row, classes.get(label), "class-level FG-Text")
            else:
                derived = _derive(ds, clip, layout, keypoints, fps_of)
                _derived(row, derived, classes.get(label))
            rows.append(row)
            b.update(1)
    columns = ["clip_id", "fg_text"]
    for a in ATTRIBUTES:
        columns += [a, f"{a}_source", f"{a}_confidence", f"{a}_reason"]
    return pd.DataFrame(rows, columns=columns), layout, notes


def _layout(ds: Dataset, notes: list[str]) -> Layout | None:
    if ds.manifest["keypoints"].isna().all():
        notes.append("no clip has keypoints: nothing to derive from (`fgsgl pose` makes them)")
        return None
    joints = ds.keypoint_joints()
    layout = find_layout(joints) if joints else None
    if layout is None:
        what = f"{len(joints)} joints" if joints else "no joint names recorded"
        notes.append(
            f"the keypoints' layout is not one fgsgl knows ({what}; keypoints.json beside "
            "the manifest names them): nothing derived"
        )
    return layout


def _annotated(row: dict[str, Any], clip: Any) -> None:
    given = clip.fg_text
    row["fg_text"] = given if isinstance(given, str) else ""
    for a in ATTRIBUTES:
        value = getattr(clip, a)
        if isinstance(value, str) and value:
            _put(row, a, value, "annotated", 1.0, "")
        else:
            _put(row, a, "", "unknown", 0.0, "the manifest gives a sentence, not this attribute")


def _unknown(row: dict[str, Any], reason: str) -> None:
    for a in ATTRIBUTES:
        _put(row, a, "", "unknown", 0.0, reason)


def _from_class(row: dict[str, Any], table: dict[str, str] | None, why: str) -> None:
    if table is None:
        _unknown(row, "no class table row for this class")
        return
    for a in ATTRIBUTES:
        _put(row, a, table[a], "class", 1.0, why)


def _derived(row: dict[str, Any], derived: Derived, table: dict[str, str] | None) -> None:
    """The derived values; the class table fills the unknown ones only where something was
    derived: a clip with no usable keypoints gets no class-level text in disguise."""
    if all(v == UNKNOWN for v in derived.values.values()):
        table = None
    for a in ATTRIBUTES:
        value = derived.values[a]
        if value != UNKNOWN:
            _put(row, a, value, "derived", derived.confidence[a], "")
        elif table is not None:
            _put(row, a, table[a], "class", 1.0, f"derived unknown: {derived.reasons[a]}")
        else:
            _put(row, a, "", "unknown", 0.0, derived.reasons[a])


def _put(row: dict[str, Any], a: str, value: str, source: str, conf: float, reason: str) -> None:
    row[a], row[f"{a}_source"] = value, source
    row[f"{a}_confidence"], row[f"{a}_reason"] = round(float(conf), 3), reason


def _derive(
    ds: Dataset,
    clip: Any,
    layout: Layout | None,
    cache: dict[str, np.ndarray | str],
    fps_of: dict[str, float],
) -> Derived:
    """One clip's derived attributes; every failure becomes an unknown with its reason."""
    if layout is None:
        return Derived().unknown("no keypoints in a layout fgsgl reads")
    file = clip.keypoints
    if not isinstance(file, str) or not file:
        return Derived().unknown("the clip has no keypoints")
    if file not in cache:
        cache[file] = _load(ds, file)
    loaded = cache[file]
    if isinstance(loaded, str):
        return Derived().unknown(loaded)
    start = 0 if pd.isna(clip.start_frame) else int(clip.start_frame)
    end = len(loaded) - 1 if pd.isna(clip.end_frame) else int(clip.end_frame)
    if start >= len(loaded):
        return Derived().unknown(
            f"the keypoints have {len(loaded)} frames, the clip starts at {start}"
        )
    try:
        body = read_body(loaded, layout)
    except ValueError as e:
        return Derived().unknown(str(e))
    video = str(clip.video)
    if video not in fps_of:
        fps_of[video] = video_fps(ds.video_uri(video))
    return derive(body, start, end, fps=fps_of[video])


def _load(ds: Dataset, file: str) -> np.ndarray | str:
    uri = ds.keypoints_uri(file)
    try:
        if storage.is_remote(uri):
            import io

            array = np.load(io.BytesIO(storage.read_bytes(uri)))
        else:
            array = np.load(uri)
    except (OSError, ValueError, FgsglError) as e:
        return f"keypoints {file} unreadable ({type(e).__name__}: {e})"
    if array.ndim != 3:
        return f"keypoints {file} of shape {array.shape}, not (frames, joints, 3)"
    return array


def video_fps(uri: str) -> float:
    """The video's frame rate (container metadata), DEFAULT_FPS where it cannot be read."""
    if storage.is_remote(uri) or not Path(uri).is_file():
        return DEFAULT_FPS
    try:
        import av

        with av.open(uri) as container:
            rate = container.streams.video[0].average_rate
        return float(rate) if rate else DEFAULT_FPS
    except Exception:  # a broken video: extraction reports it; here a default rate will do
        return DEFAULT_FPS


# --- reading and summarising --------------------------------------------------------------


def attribute_counts(table: pd.DataFrame) -> dict[str, Any]:
    by_source = {a: dict(Counter(table[f"{a}_source"])) for a in ATTRIBUTES}
    reasons: dict[str, dict[str, int]] = {}
    for a in ATTRIBUTES:
        unknown = table.loc[table[f"{a}_source"] == "unknown", f"{a}_reason"]
        reasons[a] = dict(Counter(unknown).most_common())
    return {
        "clips": len(table),
        "with_fg_text": int(has_fg_text(table).sum()),
        "by_source": by_source,
        "unknown_reasons": reasons,
    }


def has_fg_text(table: pd.DataFrame) -> pd.Series:
    """Per row: a sentence given, or all four attributes known."""
    known = pd.concat([table[f"{a}_source"] != "unknown" for a in ATTRIBUTES], axis=1).all(axis=1)
    return known | (table["fg_text"].fillna("") != "")


def summary_line(counts: dict[str, Any], mode: str) -> str:
    parts = []
    for a in ATTRIBUTES:
        shown = ", ".join(f"{s} {n}" for s, n in sorted(counts["by_source"][a].items()))
        parts.append(f"{a}: {shown}")
    return (
        f"attributes ({mode}): {counts['with_fg_text']} of {counts['clips']} clips have a "
        f"fine-grained text; " + "; ".join(parts)
    )


def load_attributes(path: str | Path) -> tuple[dict[str, Any], pd.DataFrame]:
    """(metadata, table) of an attributes artifact."""
    meta = read_metadata(path, KIND)
    table = pd.read_csv(Path(path) / ATTRIBUTES_CSV, dtype={"clip_id": str}, keep_default_na=False)
    return meta, table
