"""SynthMG's true attributes in the vocabulary's terms, to score the derivation against.

SynthMG writes each clip's initiator, receiver and direction in words the vocabulary has,
and its motion as a richer phrase ("rubs quickly in small circles") with the pattern, speed
and amplitude beside it in the manifest. The vocabulary's motion values are kinds of
motion; a SynthMG pattern maps onto one (a brief or held touch by its speed, covering
counts as touching: keypoints cannot tell a covering hand from a resting one).
"""

from __future__ import annotations

import pandas as pd

from fgsgl.text.templates import ATTRIBUTES

MOTION_KINDS = {
    "rub_circle": "rubs it in circles",
    "rub_side": "rubs it from side to side",
    "scratch": "scratches it",
    "stroke": "strokes it",
    "pull": "tugs at it",
    "rub_hands": "rubs them together",
    "steeple": "taps them together",
    "fold": "crosses them and holds still",
}
HELD = {"quickly": "touches it briefly", "slowly": "rests on it and holds still"}


def synthmg_truth(manifest: pd.DataFrame) -> pd.DataFrame:
    """clip_id + the four attributes, as the derivation should find them."""
    motion = [
        HELD[speed] if pattern in ("touch", "cover") else MOTION_KINDS[pattern]
        for pattern, speed in zip(manifest["pattern"], manifest["speed"], strict=True)
    ]
    truth = manifest[["clip_id", *ATTRIBUTES]].copy()
    truth["motion"] = motion
    return truth
