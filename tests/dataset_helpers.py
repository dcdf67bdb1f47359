"""A small valid dataset directory for tests that plan or submit runs: its tables, stand-in
video files, per-clip keypoints (what clip_mg needs) and, unless fg=False, the four FG-Text
attributes (what the variants that train on T_fg need); no step decodes these videos."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from fgsgl.dataset import write_tables

ATTRIBUTES = {
    "initiator": "right hand",
    "receiver": "neck",
    "direction": "upward",
    "motion": "touches it",
}


def planning_dataset(root: Path, *, fg: bool = True) -> Path:
    (root / "videos").mkdir(parents=True)
    (root / "keypoints").mkdir()
    rows = []
    for i, split in enumerate(["train", "train", "val", "test"]):
        (root / "videos" / f"c{i}.mp4").write_bytes(b"\x00" * (100 + i))
        np.save(root / "keypoints" / f"c{i}.npy", np.zeros((4, 3, 3), np.float32))
        rows.append(
            {
                "clip_id": f"c{i}",
                "video": f"videos/c{i}.mp4",
                "label": i % 2,
                "split": split,
                "keypoints": f"keypoints/c{i}.npy",
                **(ATTRIBUTES if fg else {}),
            }
        )
    classes = pd.DataFrame(
        {"id": [0, 1], "name": ["touching neck", "rubbing eyes"], "description": ["", ""]}
    )
    write_tables(root, pd.DataFrame(rows), classes)
    return root
