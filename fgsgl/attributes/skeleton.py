"""Skeleton layouts, read into one body model that the attribute derivation works on.

A dataset's keypoints are (F, J, 3) arrays (x, y, confidence; docs/artifacts.md) whose J
joints depend on where they came from: SynthMG's 18, iMiGUE's OpenPose BODY_25 (+ 2 x 5
finger points), SMG's Kinect V2 25, a pose estimator's. A `Layout` names its joints and says
how to find the points the derivation needs (`Body`): the head's centre, size and
orientation, the neck, and per side shoulder, elbow, wrist, palm centre and (where the
layout has them) fingertips, all in image pixels, NaN where a joint was not found.

Sides are the subject's ("left" = the person's left hand, on the image's right). Layouts
are recognised by their joint names, which the dataset records (import.json, synthmg.json
or keypoints.json: `keypoints.joints`).

The head frame: x towards the subject's left, y perpendicular to it (down the face), in
units of the head radius r (half the ear-to-ear width). Where a layout has no ears, r comes
from the eyes (eye-to-eye = 0.8 r) or the shoulders (shoulder width = 4.5 r, an adult's
proportions).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from fgsgl.dataset.importers.skeleton_formats import IMIGUE_JOINTS, KINECT_JOINTS
from fgsgl.pose.estimator import JOINTS as MEDIAPIPE_JOINTS
from fgsgl.synth.body import JOINTS as SYNTHMG_JOINTS

SIDES = ("left", "right")
EAR_WIDTH_R = 2.04  # ear to ear, in head radii
EYE_WIDTH_R = 0.8
SHOULDER_WIDTH_R = 4.5


@dataclass
class Body:
    """A skeleton over F frames in the derivation's terms. `points` name -> (F, 2), NaN
    where unseen; `head_r` (F,) the head radius in pixels; `head_x` (F, 2) the unit vector
    towards the subject's left; `has_fingers` whether fingertips come from real joints."""

    points: dict[str, np.ndarray]
    head_r: np.ndarray
    head_x: np.ndarray
    has_fingers: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def frames(self) -> int:
        return len(self.head_r)

    def get(self, name: str) -> np.ndarray:
        """(F, 2), all NaN when the layout has no such point."""
        return self.points.get(name, np.full((self.frames, 2), np.nan))

    @property
    def head_y(self) -> np.ndarray:
        """(F, 2) down the face: head_x turned a quarter towards +y."""
        return np.stack([-self.head_x[:, 1], self.head_x[:, 0]], axis=1)

    def to_head_frame(self, p: np.ndarray) -> np.ndarray:
        """(F, 2) image points -> head-frame coordinates (x to the left, y down, in r)."""
        d = p - self.get("head")
        r = self.head_r[:, None]
        return np.stack([(d * self.head_x).sum(1), (d * self.head_y).sum(1)], axis=1) / r


@dataclass(frozen=True)
class Layout:
    """One joint layout: its joint names and how to build a Body from an (F, J, 3) array."""

    name: str
    joints: tuple[str, ...]
    build: Callable[[dict[str, np.ndarray]], Body]  # joint name -> (F, 2) with NaN


def _mid(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a + b) / 2


def _unit(v: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(v, axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return v / n


def _head(
    j: dict[str, np.ndarray],
    *,
    ears: tuple[str, str] | None,
    eyes: tuple[str, str] | None,
    shoulders: tuple[str, str],
    centre: str | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(centre, radius, x axis) from the best pair a frame has: ears, else eyes, else
    shoulders (the pairs are (left, right))."""
    frames = len(next(iter(j.values())))
    c = np.full((frames, 2), np.nan)
    r = np.full(frames, np.nan)
    x = np.full((frames, 2), np.nan)
    for pair, width, offset in (
        (ears, EAR_WIDTH_R, 0.0),
        (eyes, EYE_WIDTH_R, 0.08),  # eyes sit 0.08 r above the ears' line
        (shoulders, SHOULDER_WIDTH_R, None),
    ):
        if pair is None:
            continue
        left, right = j[pair[0]], j[pair[1]]
        span = left - right
        ok = np.isnan(r) & ~np.isnan(span).any(1) & (np.linalg.norm(span, axis=1) > 0)
        if not ok.any():
            continue
        axis = _unit(span)
        x[ok] = axis[ok]
        r[ok] = np.linalg.norm(span, axis=1)[ok] / width
        if offset is None:  # shoulders: the head centre is a named joint (or unknown)
            c[ok] = j[centre][ok] if centre else np.nan
        else:
            down = np.stack([-axis[:, 1], axis[:, 0]], axis=1)
            c[ok] = (_mid(left, right) + offset * r[:, None] * down)[ok]
    if centre is not None:  # a head joint where the pair gave no centre
        missing = np.isnan(c).any(1)
        c[missing] = j[centre][missing]
    return c, r, x


def _synthmg(j: dict[str, np.ndarray]) -> Body:
    c, r, x = _head(
        j,
        ears=("left_ear", "right_ear"),
        eyes=("left_eye", "right_eye"),
        shoulders=("left_shoulder", "right_shoulder"),
    )
    points = {"head": c, "neck": j["neck"]}
    for name in ("nose", "mouth", "chin", "left_eye", "right_eye", "left_ear", "right_ear"):
        points[name] = j[name]
    for s in SIDES:
        for part in ("shoulder", "elbow", "wrist"):
            points[f"{part}_{s}"] = j[f"{s}_{part}"]
        points[f"palm_{s}"] = j[f"{s}_hand"]
        points[f"fingertips_{s}"] = j[f"{s}_fingertips"]
    return Body(points, r, x, has_fingers=True)


# OpenPose BODY_25 by index (the person's sides; MiGA's own names call them the other way
# round: its "ShoulderLeft" is BODY_25's RShoulder, index 2).
_B25 = {
    "nose": 0, "neck": 1, "shoulder_right": 2, "elbow_right": 3, "wrist_right": 4,
    "shoulder_left": 5, "elbow_left": 6, "wrist_left": 7, "eye_right": 15, "eye_left": 16,
    "ear_right": 17, "ear_left": 18,
}  # fmt: skip


def _openpose(j: dict[str, np.ndarray]) -> Body:
    names = list(j)
    by = {k: j[names[i]] for k, i in _B25.items()}
    c, r, x = _head(
        by,
        ears=("ear_left", "ear_right"),
        eyes=("eye_left", "eye_right"),
        shoulders=("shoulder_left", "shoulder_right"),
        centre="nose",
    )
    points = {"head": c, "neck": by["neck"], "nose": by["nose"]}
    for s in SIDES:
        points[f"eye_{s}"] = by[f"eye_{s}"]
        points[f"ear_{s}"] = by[f"ear_{s}"]
        for part in ("shoulder", "elbow", "wrist"):
            points[f"{part}_{s}"] = by[f"{part}_{s}"]
    notes: list[str] = []
    has_fingers = len(names) >= 35
    if has_fingers:
        # two sets of 5 finger points; which hand each belongs to is decided per frame by
        # the nearer wrist (the release's names for them are not reliable about sides)
        sets = [np.stack([j[names[k]] for k in range(25 + 5 * g, 30 + 5 * g)], 1) for g in (0, 1)]
        tips = [np.nanmean(s, axis=1) for s in sets]
        assigned = _by_nearest_wrist(tips, points["wrist_left"], points["wrist_right"])
        for s in SIDES:
            points[f"fingertips_{s}"] = assigned[s]
            # the palm's centre lies about half way from the wrist to the finger points
            palm = _mid(points[f"wrist_{s}"], assigned[s])
            points[f"palm_{s}"] = np.where(np.isnan(palm), points[f"wrist_{s}"], palm)
    else:
        notes.append("no finger points: the wrist stands for the palm")
        for s in SIDES:
            points[f"palm_{s}"] = points[f"wrist_{s}"]
    return Body(points, r, x, has_fingers=has_fingers, notes=notes)


def _by_nearest_wrist(
    tips: list[np.ndarray], wrist_left: np.ndarray, wrist_right: np.ndarray
) -> dict[str, np.ndarray]:
    """Give each of two point tracks to the wrist it is nearer to, per frame."""
    d = lambda a, b: np.linalg.norm(a - b, axis=1)  # noqa: E731
    straight = np.nan_to_num(d(tips[0], wrist_left) + d(tips[1], wrist_right), nan=np.inf)
    swapped = np.nan_to_num(d(tips[1], wrist_left) + d(tips[0], wrist_right), nan=np.inf)
    keep = (straight <= swapped)[:, None]
    return {
        "left": np.where(keep, tips[0], tips[1]),
        "right": np.where(keep, tips[1], tips[0]),
    }


def _kinect(j: dict[str, np.ndarray]) -> Body:
    c, r, x = _head(
        j, ears=None, eyes=None, shoulders=("ShoulderLeft", "ShoulderRight"), centre="Head"
    )
    points = {"head": c, "neck": j["Neck"]}
    for s, S in (("left", "Left"), ("right", "Right")):
        points[f"shoulder_{s}"] = j[f"Shoulder{S}"]
        points[f"elbow_{s}"] = j[f"Elbow{S}"]
        points[f"wrist_{s}"] = j[f"Wrist{S}"]
        points[f"palm_{s}"] = j[f"Hand{S}"]
        points[f"fingertips_{s}"] = j[f"HandTip{S}"]
    return Body(points, r, x, has_fingers=True, notes=["no face points: the head is one joint"])


def _mediapipe(j: dict[str, np.ndarray]) -> Body:
    """MediaPipe Holistic (fgsgl.pose): the body's 33 landmarks, then each hand's 21.

    MediaPipe's sides are the person's, like ours. It has no neck: the shoulders' midpoint
    stands for it. The palm's centre lies half way from the wrist to the knuckles: the hand
    landmarks' wrist and middle-finger knuckle where the hand was tracked, else the body's
    wrist and its index and pinky knuckles (the body model's coarse hand), else the wrist.
    Fingertips: the mean of the four fingers' tips (not the thumb's), where tracked.
    """
    c, r, x = _head(
        j,
        ears=("left_ear", "right_ear"),
        eyes=("left_eye", "right_eye"),
        shoulders=("left_shoulder", "right_shoulder"),
        centre="nose",
    )
    points = {
        "head": c,
        "neck": _mid(j["left_shoulder"], j["right_shoulder"]),
        "nose": j["nose"],
        "mouth": _mid(j["mouth_left"], j["mouth_right"]),
    }
    for s in SIDES:
        points[f"eye_{s}"] = j[f"{s}_eye"]
        points[f"ear_{s}"] = j[f"{s}_ear"]
        for part in ("shoulder", "elbow", "wrist"):
            points[f"{part}_{s}"] = j[f"{s}_{part}"]
        hand = f"{s}_hand_"
        tracked = _mid(j[f"{hand}wrist"], j[f"{hand}middle_finger_mcp"])
        coarse = _mid(j[f"{s}_wrist"], _mid(j[f"{s}_index"], j[f"{s}_pinky"]))
        palm = np.where(np.isnan(tracked), coarse, tracked)
        points[f"palm_{s}"] = np.where(np.isnan(palm), j[f"{s}_wrist"], palm)
        tips = [j[f"{hand}{finger}_tip"] for finger in ("index_finger", "middle_finger")]
        tips += [j[f"{hand}{finger}_tip"] for finger in ("ring_finger", "pinky")]
        points[f"fingertips_{s}"] = np.nanmean(np.stack(tips, axis=1), axis=1)
    notes = ["no neck joint: the shoulders' midpoint stands for it"]
    return Body(points, r, x, has_fingers=True, notes=notes)


LAYOUTS: dict[str, Layout] = {
    layout.name: layout
    for layout in (
        Layout("synthmg", tuple(SYNTHMG_JOINTS), _synthmg),
        Layout("openpose-body25-hands", tuple(IMIGUE_JOINTS), _openpose),
        Layout("openpose-body25", tuple(IMIGUE_JOINTS[:25]), _openpose),
        Layout("kinect-v2", tuple(KINECT_JOINTS), _kinect),
        Layout("mediapipe-holistic", tuple(MEDIAPIPE_JOINTS), _mediapipe),
    )
}


def register_layout(layout: Layout) -> None:
    """Add a layout (a pose estimator's, e.g. fgsgl.pose) so its keypoints can be read."""
    LAYOUTS[layout.name] = layout


def find_layout(joints: list[str] | tuple[str, ...]) -> Layout | None:
    """The layout whose joint names these are, or None."""
    joints = tuple(joints)
    return next((lay for lay in LAYOUTS.values() if lay.joints == joints), None)


def read_body(keypoints: np.ndarray, layout: Layout, min_confidence: float = 0.05) -> Body:
    """An (F, J, 3) array as a Body; joints below `min_confidence`, NaN or at (0, 0) with
    no confidence column count as not found."""
    k = np.asarray(keypoints, dtype=np.float64)
    if k.ndim != 3 or k.shape[1] != len(layout.joints) or k.shape[2] not in (2, 3):
        raise ValueError(
            f"keypoints of shape {k.shape}; layout {layout.name} has {len(layout.joints)} "
            "joints of (x, y[, confidence])"
        )
    xy = k[..., :2].copy()
    seen = np.isfinite(xy).all(-1)
    if k.shape[2] == 3:
        seen &= np.nan_to_num(k[..., 2], nan=0.0) >= min_confidence
    xy[~seen] = np.nan
    joints = {name: xy[:, i] for i, name in enumerate(layout.joints)}
    # an unseen hand makes all-NaN means and NaN comparisons: expected, not worth a warning
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Mean of empty slice")
        return layout.build(joints)
