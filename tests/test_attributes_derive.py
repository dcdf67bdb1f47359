"""FG-Text attributes derived from skeletons: against SynthMG's truth, through the other
layouts (OpenPose BODY_25 + fingers, Kinect V2) built from the same joints, and on every
kind of bad keypoints (never a crash, never an invented value: unknown with its reason)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from skeleton_helpers import as_kinect, as_openpose

from fgsgl.attributes.derive import derive
from fgsgl.attributes.skeleton import LAYOUTS, find_layout, read_body
from fgsgl.attributes.truth import synthmg_truth
from fgsgl.attributes.vocabulary import UNKNOWN, vocabulary
from fgsgl.synth.body import JOINTS
from fgsgl.text.templates import ATTRIBUTES


@pytest.fixture(scope="module")
def synthmg(tmp_path_factory):
    from fgsgl.synth import SynthConfig
    from fgsgl.synth.generate import generate

    root = tmp_path_factory.mktemp("synthmg") / "ds"
    generate(
        root,
        SynthConfig(clips_per_class=4, subjects=4, keypoints=True, seed=2),
        workers=1,
        progress=False,
    )
    manifest = pd.read_csv(root / "manifest.csv")
    arrays = {
        c: np.load(root / k)
        for c, k in zip(manifest["clip_id"], manifest["keypoints"], strict=True)
    }
    return manifest, arrays, json.loads((root / "synthmg.json").read_text())


def derived_table(manifest, arrays, layout, convert=lambda k: k, fps=12.0):
    rows = []
    for clip in manifest["clip_id"]:
        d = derive(read_body(convert(arrays[clip]), layout), fps=fps)
        rows.append({"clip_id": clip, **d.values})
    return pd.DataFrame(rows).set_index("clip_id")


def test_synthmg_attributes_are_found_with_vocabulary_values(synthmg):
    manifest, arrays, meta = synthmg
    layout = find_layout(meta["keypoints"]["joints"])
    assert layout is LAYOUTS["synthmg"]
    got = derived_table(manifest, arrays, layout)
    truth = synthmg_truth(manifest).set_index("clip_id")
    accuracy = {a: float((got[a] == truth[a]).mean()) for a in ATTRIBUTES}
    # 48 clips of a seed the rules were not tuned on (bench/attributes.py has the full set)
    assert accuracy["initiator"] >= 0.95 and accuracy["receiver"] >= 0.85
    assert accuracy["direction"] >= 0.8 and accuracy["motion"] >= 0.7, accuracy
    for a in ATTRIBUTES:
        assert set(got[a]) - {UNKNOWN} <= set(vocabulary()[a]), a


def test_openpose_and_kinect_layouts_give_the_same_hands_and_directions(synthmg):
    manifest, arrays, _ = synthmg
    ours = derived_table(manifest, arrays, LAYOUTS["synthmg"])
    openpose = derived_table(manifest, arrays, LAYOUTS["openpose-body25-hands"], as_openpose)
    kinect = derived_table(manifest, arrays, LAYOUTS["kinect-v2"], as_kinect)
    assert (openpose["initiator"] == ours["initiator"]).mean() >= 0.95
    assert (kinect["initiator"] == ours["initiator"]).mean() >= 0.95
    assert (openpose["direction"] == ours["direction"]).mean() >= 0.8
    # OpenPose has the face's points, so the face receivers survive the change of layout
    face = ours["receiver"].isin(["forehead", "nose", "mouth", "left ear", "right ear"])
    assert (openpose["receiver"][face] == ours["receiver"][face]).mean() >= 0.8


def test_bad_keypoints_give_unknown_with_the_reason_never_a_value(synthmg):
    manifest, arrays, _ = synthmg
    layout = LAYOUTS["synthmg"]
    k = arrays[manifest["clip_id"].iloc[0]].copy()
    j = {n: i for i, n in enumerate(JOINTS)}

    def reasons(array, **kw):
        d = derive(read_body(array, layout), fps=12.0, **kw)
        assert all((d.values[a] == UNKNOWN) == (a in d.reasons) for a in ATTRIBUTES)
        return d

    nan = np.full_like(k, np.nan)
    assert set(reasons(nan).reasons.values()) == {
        "no head or shoulders seen: no scale to measure in"
    }
    zero = k.copy()
    zero[..., 2] = 0  # every joint with confidence 0
    assert reasons(zero).values == dict.fromkeys(ATTRIBUTES, UNKNOWN)
    assert "frames in the clip's range" in reasons(k, start=0, end=2).reasons["initiator"]
    no_hands = k.copy()
    for side in ("left", "right"):
        no_hands[:, j[f"{side}_hand"], 2] = 0
    assert reasons(no_hands).reasons["receiver"] == "no hand joints seen in most frames"
    still = np.repeat(k[:1], len(k), axis=0)  # the first frame held: no hand moves
    assert reasons(still).reasons["motion"].startswith("no hand moves")
    wrong = k[:, :5]  # a format with other joints than its layout's
    with pytest.raises(ValueError, match="layout synthmg has 18 joints"):
        read_body(wrong, layout)
