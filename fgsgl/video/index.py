"""index.csv and failures.csv of a frames artifact, built from the shards' sidecars.

The sidecars say, per slot, whether the clip was extracted (its frame indices and note)
or why not; the dataset's manifest adds what training and evaluation select on (label,
split, subject) and the fine-grained text and attributes.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from fgsgl.dataset import Dataset
from fgsgl.text.templates import ATTRIBUTES
from fgsgl.video.frames import FAILURE_COLUMNS, INDEX_COLUMNS
from fgsgl.video.plan import Plan


def clip_table(ds: Dataset) -> pd.DataFrame:
    """Per clip_id: the manifest columns the index repeats, empty text where absent."""
    m = ds.manifest.set_index("clip_id")
    table = pd.DataFrame(index=m.index)
    table["label"] = m["label"].astype("int64")
    table["split"] = m["split"].astype(str)
    table["subject"] = m["subject"].fillna("").astype(str)
    fg = ds.annotated_fg_texts()  # the manifest's own; None where a clip has no attributes
    table["fg_text"] = fg.reindex(m.index).fillna("").astype(str)
    for column in ATTRIBUTES:
        table[column] = m[column].fillna("").astype(str)
    return table


def build_tables(
    plan: Plan, sidecars: dict[int, dict[str, Any]], ds: Dataset
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(index, failures) over the plan's selected shards, in plan order."""
    where: list[tuple[str, int, int, str, str]] = []
    failures: list[tuple[str, str, str]] = []
    for k in plan.selected:
        for job, slot in zip(plan.shards[k], sidecars[k]["clips"], strict=True):
            if slot.get("error") is not None:
                failures.append((job.clip_id, job.video, slot["error"]))
            else:
                indices = " ".join(map(str, slot["frame_indices"]))
                where.append((job.clip_id, k, job.slot, indices, slot.get("note", "")))
    placed = pd.DataFrame(where, columns=["clip_id", "shard", "offset", "frame_indices", "note"])
    info = clip_table(ds).reindex(placed["clip_id"]).reset_index(drop=True)
    index = pd.concat([placed[["clip_id"]], info, placed.drop(columns="clip_id")], axis=1)
    index = index[list(INDEX_COLUMNS)].astype(
        {"label": "int64", "shard": "int64", "offset": "int64"}
    )
    return index, pd.DataFrame(failures, columns=list(FAILURE_COLUMNS))
