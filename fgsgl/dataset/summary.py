"""The human-readable summary `fgsgl validate` prints for a valid dataset."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from fgsgl.dataset.contract import SPLITS
from fgsgl.text.templates import ATTRIBUTES

if TYPE_CHECKING:
    from fgsgl.dataset.dataset import Dataset


def _table(header: list[str], rows: list[list[object]]) -> list[str]:
    """Plain aligned columns: text left, numbers right."""
    cells = [header, *[[str(c) for c in r] for r in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    numeric = [all(str(r[i]).lstrip("-").isdigit() for r in rows) for i in range(len(header))]
    lines = []
    for r in cells:
        parts = [
            c.rjust(w) if num else c.ljust(w) for c, w, num in zip(r, widths, numeric, strict=True)
        ]
        lines.append("  " + "  ".join(parts).rstrip())
    return lines


def summarise(ds: Dataset) -> str:
    m = ds.manifest
    n = len(m)
    splits = [s for s in SPLITS if (m["split"] == s).any()]
    subjects = m["subject"][m["subject"] != ""].nunique()
    lines = [
        f"dataset {ds.root}",
        f"fingerprint {ds.fingerprint()[:16]}",
        f"{n} clips, {ds.num_classes} classes, {m['video'].nunique()} videos, {subjects} subjects",
        "",
        "clips per split:",
    ]
    split_rows = []
    for s in SPLITS:
        part = m[m["split"] == s]
        subjects = part["subject"][part["subject"] != ""]
        split_rows.append([s, len(part), subjects.nunique()])
    lines += _table(["split", "clips", "subjects"], split_rows)
    counts = pd.crosstab(m["label"], m["split"]).reindex(
        index=range(ds.num_classes), columns=splits, fill_value=0
    )
    lines += ["", "clips per class:"]
    lines += _table(
        ["id", "class", *splits, "total"],
        [
            [cid, name, *[int(counts.loc[cid, s]) for s in splits], int(counts.loc[cid].sum())]
            for cid, name in enumerate(ds.class_names)
        ],
    )
    lines += ["", "fine-grained attributes:"]
    coverage = [[a, f"{int(m[a].notna().sum())}/{n}"] for a in ATTRIBUTES]
    coverage.append(["fg_text given", f"{int(m['fg_text'].notna().sum())}/{n}"])
    complete = ds.annotated()
    coverage.append(["clips with T_fg", f"{int(complete.sum())}/{n}"])
    lines += _table(["attribute", "clips"], coverage)
    lines += ["", "where a clip's FG-Text can come from (fgsgl attributes, fg_attributes):"]
    lines += _table(["source", "clips"], _fg_sources(ds))
    ranged = int(m["start_frame"].notna().sum())
    keypoints = int(m["keypoints"].notna().sum())
    lines += ["", f"clips inside longer videos (start/end frames): {ranged}/{n}"]
    lines.append(f"clips with keypoints: {keypoints}/{n}")
    notes = _notes(ds, counts)
    if notes:
        lines += ["", "notes:", *[f"  - {note}" for note in notes]]
    return "\n".join(lines)


def _fg_sources(ds: Dataset) -> list[list[object]]:
    from fgsgl.attributes.coverage import coverage

    c = coverage(ds)
    n = c.clips
    layout = f" ({c.layout})" if c.layout else ""
    return [
        ["annotated (the manifest's attributes)", f"{int(c.annotated.sum())}/{n}"],
        [f"derived from keypoints{layout}", f"{int(c.derivable.sum())}/{n}"],
        ["class tables (typical values)", f"{int(c.tabled.sum())}/{n}"],
        ["none of these", f"{int((~(c.annotated | c.derivable | c.tabled)).sum())}/{n}"],
    ]


def _notes(ds: Dataset, counts: pd.DataFrame) -> list[str]:
    """Things that are valid but will surprise later steps."""
    notes = []
    m = ds.manifest
    for s in SPLITS:
        if not (m["split"] == s).any():
            why = {
                "train": "there is nothing to train on",
                "val": "training selects the best epoch on val",
                "test": "evaluation reads the test split by default",
            }[s]
            notes.append(f"no {s} clips: {why}")
    for s in ds.unlabelled_splits():
        notes.append(
            f"the {s} split is unlabelled ({int((m['split'] == s).sum())} clips without a "
            "label): `fgsgl evaluate` refuses it, `fgsgl predict` runs on it"
        )
    if "train" in counts.columns:
        missing = [ds.class_names[c] for c in counts.index if counts.loc[c, "train"] == 0]
        if missing:
            notes.append(f"{len(missing)} classes have no train clips: {', '.join(missing[:8])}")
    subjects = m[m["subject"] != ""].groupby("subject")["split"].nunique()
    shared = sorted(subjects[subjects > 1].index)
    if shared:
        notes.append(
            f"{len(shared)} subjects appear in more than one split (not cross-subject): "
            + ", ".join(shared[:8])
        )
    return notes
