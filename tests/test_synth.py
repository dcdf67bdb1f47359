"""SynthMG's renderer: classes, attributes, the hand on its receiver, keypoints, videos."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fgsgl.synth.body import JOINTS, RECEIVERS
from fgsgl.synth.classes import CLASSES, class_table
from fgsgl.synth.clip import clip_rng, render_clip, sample_instance, subject_for
from fgsgl.synth.config import SynthConfig
from fgsgl.synth.generate import plan, subject_splits
from fgsgl.synth.motion import MOTIONS, direction_phrase
from fgsgl.synth.render import IRIS
from fgsgl.synth.video import read_mp4, write_mp4
from fgsgl.text.templates import fg_text

SIZE = 96
FRAMES = 12


@pytest.fixture(scope="module")
def clean_clips():
    """One clip per class, no nuisance: exact colours, still camera, flat background."""
    return [
        render_clip(
            gc,
            subject_for(0, label % 4, nuisance=0.0),
            clip_rng(0, label, 0),
            size=SIZE,
            frames=FRAMES,
            nuisance=0.0,
        )
        for label, gc in enumerate(CLASSES)
    ]


def test_classes_are_complete_and_come_in_pairs():
    names = [c.name for c in CLASSES]
    assert len(names) >= 12 and len(set(names)) == len(names)
    for c in CLASSES:
        assert c.receiver in RECEIVERS
        assert all(m in MOTIONS for m in c.motions)
        assert c.twin is None or c.twin in names
    default = {c.name for c in class_table(12)}
    # The default 12 hold a target-height pair and a motion-only pair.
    assert {"touching forehead", "rubbing eyes"} <= default
    assert {"touching neck", "scratching neck"} <= default
    neck, scratch = CLASSES[names.index("touching neck")], CLASSES[names.index("scratching neck")]
    assert neck.receiver == scratch.receiver and neck.motions != scratch.motions
    with pytest.raises(ValueError):
        class_table(len(CLASSES) + 1)


def test_paired_receivers_are_a_few_pixels_apart_at_the_default_size():
    subject = subject_for(0, 0, nuisance=1.0)
    from fgsgl.synth.body import Placement, Torso

    place = Placement.sample(subject, 128, np.random.default_rng(0), nuisance=0.0)
    torso = Torso(subject, place.cx, place.shoulder_y, place.unit, 0.0, 0.0)
    forehead = torso.receiver_point("forehead", "right", "right")[0]
    eye = torso.receiver_point("eye", "right", "right")[0]
    nose = torso.receiver_point("nose", "right", "right")[0]
    mouth = torso.receiver_point("mouth", "right", "right")[0]
    assert 3.0 <= eye[1] - forehead[1] <= 8.0
    assert 3.0 <= mouth[1] - nose[1] <= 8.0


def test_attributes_vary_inside_a_class_and_make_fine_grained_text():
    eyes = CLASSES[[c.name for c in CLASSES].index("rubbing eyes")]
    seen = {"initiator": set(), "receiver": set(), "motion": set()}
    for n in range(60):
        inst = sample_instance(eyes, clip_rng(3, 1, n), subtlety=1.0)
        seen["initiator"].add(inst.initiator)
        seen["receiver"].add(inst.receiver_text())
        seen["motion"].add(inst.motion_text())
    assert seen["initiator"] == {"left hand", "right hand", "both hands"}
    assert {"left eye", "right eye", "eyes"} <= seen["receiver"]
    assert seen["motion"] == {
        "rubs slowly in small circles",
        "rubs slowly in wide circles",
        "rubs quickly in small circles",
        "rubs quickly in wide circles",
    }
    text = fg_text(
        {"initiator": "left hand", "receiver": "left eye", "direction": "upward", "motion": "x"}
    )
    assert "left eye" in text


def test_direction_words_follow_the_path():
    # Right hand (image left) from a rest point out on the left to a point up by the midline.
    assert direction_phrase((20, 100), (50, 40), 50, "right", 100) == "upward and inward"
    assert direction_phrase((45, 100), (46, 40), 50, "right", 100) == "straight upward"
    assert direction_phrase((40, 100), (70, 40), 50, "right", 100) == "upward across the body"
    assert direction_phrase((40, 100), (45, 95), 50, "right", 100) == "inward"


def test_the_drawn_hand_reaches_the_receiver(clean_clips):
    for gc, clip in zip(CLASSES, clean_clips, strict=True):
        first = clip.contact[0]
        assert 0 < first <= clip.contact[1] < FRAMES, gc.name
        hand = np.array(clip.subject.hand)
        hands = clip.receiver_points.shape[1]
        # One hand: the very pixel. Two hands overlap (the top hand's outline may cross
        # the other's palm centre): a hand pixel within one pixel of the receiver.
        reach = 0 if hands == 1 else 1
        for h in range(hands):
            x, y = (int(v) for v in clip.receiver_points[first, h])
            window = np.s_[y - reach : y + reach + 1, x - reach : x + reach + 1]
            # Hand colour, within the blend of an anti-aliased edge nearby (hands and
            # faces differ by 14+ levels for every skin tone).
            at = np.abs(clip.frames[first][window].astype(int) - hand).max(axis=-1)
            assert at.min() <= 8, (gc.name, at)
            # Before the gesture the same place shows something else (face, shirt, ...).
            before = np.abs(clip.frames[0][window].astype(int) - hand).max(axis=-1)
            assert before.min() > 8, (gc.name, before)


def test_the_hand_stays_on_the_receiver_through_the_contact_frames(clean_clips):
    for gc, clip in zip(CLASSES, clean_clips, strict=True):
        a, b = clip.contact
        palm = clip.subject.palm_r * clip.subject.scale * SIZE
        gap = np.linalg.norm(clip.hand_points[a : b + 1] - clip.receiver_points[a : b + 1], axis=-1)
        # Motions move the palm around the receiver by at most ~0.9 palm radii.
        assert gap.max() <= 1.0 * palm, (gc.name, gap.max(), palm)


def test_keypoints_line_up_with_drawn_pixels(clean_clips):
    hand_joints = [JOINTS.index(j) for j in ("left_hand", "right_hand")]
    eye_joints = [JOINTS.index(j) for j in ("left_eye", "right_eye")]
    for gc, clip in zip(CLASSES, clean_clips, strict=True):
        kp = clip.keypoints
        assert kp.shape == (FRAMES, len(JOINTS), 3) and kp.dtype == np.float32
        hand = np.array(clip.subject.hand)
        for t in range(FRAMES):
            for j in hand_joints:
                x, y, v = kp[t, j]
                if v:
                    pixel = clip.frames[t, round(y), round(x)].astype(int)
                    assert np.abs(pixel - hand).max() <= 3, (gc.name, t, JOINTS[j])
            for j in eye_joints:
                x, y, v = kp[t, j]
                pixel = clip.frames[t, round(y), round(x)].astype(int)
                if v:  # the iris, darker than any skin tone
                    assert pixel.mean() < np.mean(IRIS) + 60, (gc.name, t, JOINTS[j], pixel)


def test_a_hand_over_an_eye_hides_the_eye_keypoint(clean_clips):
    clip = clean_clips[[c.name for c in CLASSES].index("rubbing eyes")]
    a = clip.contact[0]
    for side in ("left", "right"):
        x, y, v = clip.keypoints[a, JOINTS.index(f"{side}_eye")]
        assert clip.keypoints[0, JOINTS.index(f"{side}_eye"), 2] == 1.0  # before: visible
        pixel = clip.frames[a, round(y), round(x)].astype(int)
        if np.abs(pixel - np.array(clip.subject.hand)).max() <= 3:  # the hand is drawn there
            assert v == 0.0
    # The receiving eye, under the palm's centre, is hidden.
    hand_side = clip.instance.hands[0]
    eye = clip.instance.receiver_sides[hand_side]
    assert clip.keypoints[a, JOINTS.index(f"{eye}_eye"), 2] == 0.0


def test_nuisance_changes_pixels_but_not_the_gesture():
    gc = CLASSES[0]
    kwargs = {"size": 64, "frames": 8}
    a = render_clip(gc, subject_for(1, 0, 0.0), clip_rng(1, 0, 0), nuisance=0.0, **kwargs)
    b = render_clip(gc, subject_for(1, 0, 0.0), clip_rng(1, 0, 0), nuisance=1.0, **kwargs)
    assert a.attributes["motion"] == b.attributes["motion"]
    assert np.abs(a.frames.astype(int) - b.frames.astype(int)).mean() > 5


def test_subjects_are_split_and_every_split_sees_every_class():
    cfg = SynthConfig(classes=12, clips_per_class=6, subjects=5)
    splits = subject_splits(5, seed=0)
    assert sorted(splits.values()).count("test") == 1
    assert sorted(splits.values()).count("val") == 1
    tasks = plan(cfg, "unused")
    assert len({t.clip_id for t in tasks}) == len(tasks) == 72
    for t in tasks:
        assert t.split == splits[t.subject]
    for split in ("train", "val", "test"):
        assert {t.label for t in tasks if t.split == split} == set(range(12))


def test_mp4_is_bit_exact_and_decodes_to_the_frames(tmp_path):
    rng = np.random.default_rng(0)
    frames = np.repeat(rng.integers(0, 255, (6, 8, 8, 3), dtype=np.uint8), 4, axis=1)
    frames = np.repeat(frames, 4, axis=2)  # blocks of 4x4: survives 4:2:0 well
    write_mp4(tmp_path / "a.mp4", frames, 10)
    # x264 once made different bytes for the same frames depending on what the process
    # had encoded before (mbtree): encode other clips in between, then compare.
    for n in (3, 7, 5):
        other = rng.integers(0, 255, (n, 32, 32, 3), dtype=np.uint8)
        write_mp4(tmp_path / "other.mp4", other, 10)
        write_mp4(tmp_path / "b.mp4", frames, 10)
        assert (tmp_path / "a.mp4").read_bytes() == (tmp_path / "b.mp4").read_bytes()
    decoded, fps = read_mp4(tmp_path / "a.mp4")
    assert decoded.shape == frames.shape and math.isclose(fps, 10.0)
    assert np.abs(decoded.astype(int) - frames.astype(int)).mean() < 12
    with pytest.raises(ValueError, match="even"):
        write_mp4(tmp_path / "odd.mp4", np.zeros((2, 31, 32, 3), np.uint8), 10)
