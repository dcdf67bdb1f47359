"""How many clips of a dataset can have a fine-grained text, and from which source: what
`fgsgl validate` summarises and what planning checks before a run that needs T_fg."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd


@dataclass(frozen=True)
class Coverage:
    clips: int
    annotated: pd.Series  # per clip: the manifest has a fg_text or all four attributes
    derivable: pd.Series  # per clip: keypoints in a layout fgsgl reads
    tabled: pd.Series  # per clip: its class is in the class tables
    layout: str | None

    def usable(self, mode: str) -> pd.Series:
        """Per clip, whether `mode` (fg_attributes) can give it a T_fg."""
        return {
            "annotated": self.annotated,
            "derived": self.derivable,
            "class": self.tabled,
        }.get(mode, self.annotated | self.derivable)

    def describe(self, mode: str) -> str:
        if mode == "annotated":
            return f"{int(self.annotated.sum())} with attributes in the manifest"
        if mode == "class":
            return f"{int(self.tabled.sum())} of classes the class tables cover"
        return (
            f"{int(self.annotated.sum())} annotated, {int(self.derivable.sum())} with "
            "keypoints to derive from"
        )


def coverage(ds: Any) -> Coverage:
    from fgsgl.attributes.class_tables import class_attributes
    from fgsgl.attributes.skeleton import find_layout

    m = ds.manifest
    annotated = ds.annotated()
    joints = ds.keypoint_joints() if m["keypoints"].notna().any() else None
    layout = find_layout(joints) if joints else None
    derivable = m["keypoints"].notna() & (layout is not None)
    tabled = m["label"].isin(list(class_attributes(ds.class_names)))
    return Coverage(len(m), annotated, derivable, tabled, layout.name if layout else None)
