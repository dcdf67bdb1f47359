"""SynthMG's drawn skeletons rewritten in the public layouts (iMiGUE's OpenPose BODY_25 with
finger points, SMG's Kinect V2), to test the readers of those layouts on known poses."""

from __future__ import annotations

import numpy as np

from fgsgl.dataset.importers.skeleton_formats import IMIGUE_JOINTS, KINECT_JOINTS
from fgsgl.synth.body import JOINTS


def as_openpose(k: np.ndarray) -> np.ndarray:
    """SynthMG joints in iMiGUE's OpenPose layout (BODY_25 by index, the person's sides;
    the two finger sets in swapped order: the reader must pair them by the nearer wrist)."""
    j = {n: i for i, n in enumerate(JOINTS)}
    out = np.zeros((len(k), len(IMIGUE_JOINTS), 3), np.float32)
    b25 = {0: "nose", 2: "right_shoulder", 3: "right_elbow", 4: "right_wrist", 5: "left_shoulder",
           6: "left_elbow", 7: "left_wrist", 15: "right_eye", 16: "left_eye", 17: "right_ear",
           18: "left_ear", 1: "neck"}  # fmt: skip
    for index, name in b25.items():
        out[:, index] = k[:, j[name]]
    for g, side in enumerate(("left", "right")):  # left's fingers first: not BODY_25's order
        tip, palm = k[:, j[f"{side}_fingertips"]], k[:, j[f"{side}_hand"]]
        for f in range(5):  # points on the way from the palm to the fingertips
            out[:, 25 + 5 * g + f] = palm + (tip - palm) * (0.8 + 0.1 * f)
    return out


def as_kinect(k: np.ndarray) -> np.ndarray:
    j = {n: i for i, n in enumerate(JOINTS)}
    out = np.zeros((len(k), len(KINECT_JOINTS), 3), np.float32)
    names = {"Neck": "neck", "Head": "nose"}
    for side, S in (("left", "Left"), ("right", "Right")):
        for ours, theirs in (("shoulder", "Shoulder"), ("elbow", "Elbow"), ("wrist", "Wrist"),
                             ("hand", "Hand"), ("fingertips", "HandTip")):  # fmt: skip
            names[f"{theirs}{S}"] = f"{side}_{ours}"
    for theirs, ours in names.items():
        out[:, KINECT_JOINTS.index(theirs)] = k[:, j[ours]]
    return out
