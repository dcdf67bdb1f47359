"""The four FG-Text attributes of one clip, estimated from its skeleton.

Everything is measured in the head frame of fgsgl.attributes.skeleton (head radii r; x
towards the subject's left, y down the face), so the rules do not depend on the image size
or the person's distance from the camera. Per clip:

- initiator: which palms travel (trajectory extent >= MOVE_R head radii, and at least
  BOTH_SHARE of the larger one's extent for "both hands").
- contact: the hand's rest is the clip's end point lying lower in the image (hands rest
  low, gestures go up to the body); the contact point is the median of the frames where
  the palm is farthest from it (the top CONTACT_SHARE of its distances), and the act
  phase the frames within ACT_R of that point.
- receiver: the landmark nearest to the contact point, among the face and body
  landmarks the layout gives (LANDMARKS: positions in the head frame, anatomical, the same
  geometry SynthMG draws) and, for two hands, where they meet (palms, fingertips, or
  crossed to the upper arms). Unknown when nothing lies within NEAR_R.
- direction: rest -> contact, up when it rises more than RISE_R, inward / outward /
  across the body by its sideways travel relative to the body's midline (the neck).
- motion: the act phase's trajectory relative to what it touches (the head for the face,
  the neck for the body, the other hand for two hands): still, circling, back and forth
  (sideways: rubbing; up and down, fast: scratching; slow: stroking), one or two big
  excursions (tugging), hands tapping or sliding together, arms crossed.

Each value carries a confidence in [0, 1] (how clearly the rule's measure cleared its
threshold); a value whose evidence is missing (no palm, no head, too few frames, a hand
that never moves) is UNKNOWN with the reason, never a guess.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from fgsgl.attributes.skeleton import SIDES, Body
from fgsgl.attributes.vocabulary import UNKNOWN
from fgsgl.text.templates import ATTRIBUTES

MIN_FRAMES = 4
MIN_SEEN = 0.3  # share of a palm's frames that must be seen
MOVE_R = 1.0
BOTH_SHARE = 0.35
CONTACT_SHARE = 0.3
ACT_R = 0.8
NEAR_R = 1.3
RISE_R = 1.7  # SynthMG's 0.15 body units
SIDEWAYS_R = 0.45
ACROSS_R = 0.4
TRIM = 0.2  # of the act phase at each end: the hand still arriving or leaving
STILL_PP_R = 0.15  # peak to peak of a held hand's drift
BRIEF_S = 0.9  # a touch shorter than this is brief
CIRCLE = 0.5  # minor / major axis of a circling hand
CIRCLE_PP_R = 0.25
SIDEWAYS_PP_R = 0.35
TUG_CYCLES = 1.5  # a tug is one or two excursions, not a rhythm
SCRATCH_HZ = 2.0
FINGERTIPS_RATIO = 0.47  # fingertip gap / palm gap below which the fingertips meet
BELOW_FACE_R = 2.2  # hands meeting lower than this (head frame y) meet in front of the body

# Landmarks in the head frame (x in r towards the side named, y down), where a hand lands
# on each; lateral ones exist on both sides. The face's come from the head frame; the
# body's are placed from the neck joint (`from_neck`).
LANDMARKS: dict[str, tuple[float, float, bool, bool]] = {
    # name: (x, y, lateral, from_neck)
    "forehead": (0.0, -0.65, False, False),
    "{side} eye": (0.40, -0.10, True, False),
    "nose": (0.0, 0.32, False, False),
    "mouth": (0.0, 0.72, False, False),
    "chin": (0.0, 1.15, False, False),
    "{side} side of the head": (0.75, -0.80, True, False),
    "{side} ear": (1.05, 0.03, True, False),
    "hair by the {side} temple": (1.02, -0.52, True, False),
    "neck": (0.0, -0.15, False, True),
    "shirt collar": (0.0, 0.30, False, True),
    "chest": (0.9, 1.35, True, True),
}
HELD = ("touches it briefly", "rests on it and holds still")


@dataclass
class Derived:
    """One clip's attributes: value (or UNKNOWN), confidence and, when unknown, why."""

    values: dict[str, str] = field(default_factory=lambda: dict.fromkeys(ATTRIBUTES, UNKNOWN))
    confidence: dict[str, float] = field(default_factory=lambda: dict.fromkeys(ATTRIBUTES, 0.0))
    reasons: dict[str, str] = field(default_factory=dict)

    def unknown(self, reason: str, *attributes: str) -> Derived:
        for a in attributes or ATTRIBUTES:
            self.values[a], self.confidence[a], self.reasons[a] = UNKNOWN, 0.0, reason
        return self

    def set(self, attribute: str, value: str, confidence: float) -> None:
        self.values[attribute] = value
        self.confidence[attribute] = round(float(np.clip(confidence, 0.0, 1.0)), 3)
        self.reasons.pop(attribute, None)


def _margin(value: float, threshold: float, scale: float) -> float:
    """How clearly `value` is on its side of `threshold`: 0 at it, 1 at `scale` away."""
    return min(1.0, abs(value - threshold) / scale)


def _fill(track: np.ndarray) -> np.ndarray:
    """Linear interpolation over unseen frames (the ends take the nearest seen value). No
    smoothing: at 12 fps a 3-frame average flattens a scratch (measured: motion 84 -> 66 %
    on SynthMG default), so a pose estimator's jitter stays in (bench/attributes.py)."""
    out = track.copy()
    t = np.arange(len(track))
    for k in range(track.shape[1]):
        seen = np.isfinite(track[:, k])
        out[:, k] = np.interp(t, t[seen], track[seen, k])
    return out


def derive(body: Body, start: int = 0, end: int | None = None, fps: float = 30.0) -> Derived:
    """The attributes of frames start..end (inclusive) of `body`."""
    out = Derived()
    end = body.frames - 1 if end is None else min(end, body.frames - 1)
    frames = np.arange(start, end + 1)
    if len(frames) < MIN_FRAMES:
        return out.unknown(f"{len(frames)} frames in the clip's range (fewer than {MIN_FRAMES})")
    r = float(np.nanmedian(body.head_r[frames])) if np.isfinite(body.head_r[frames]).any() else 0
    if not r > 0:
        return out.unknown("no head or shoulders seen: no scale to measure in")
    palms: dict[str, np.ndarray] = {}
    for s in SIDES:
        track = body.get(f"palm_{s}")[frames]
        if np.isfinite(track).all(1).mean() >= MIN_SEEN:
            palms[s] = _fill(track)
    if not palms:
        return out.unknown("no hand joints seen in most frames")
    clip = _Clip(body, frames, r, fps, palms)
    extent = {s: clip.extent(s) for s in palms}
    top = max(extent.values())
    if top < MOVE_R:
        return out.unknown(f"no hand moves (largest travel {top:.2f} r < {MOVE_R} r)")
    moved = [s for s in SIDES if s in extent and extent[s] >= max(MOVE_R, BOTH_SHARE * top)]
    if len(moved) == 2:
        out.set("initiator", "both hands", _margin(min(extent.values()) / top, BOTH_SHARE, 0.3))
    else:
        other = min(extent.values()) if len(extent) == 2 else 0.0
        confidence = _margin(other / top, BOTH_SHARE, 0.3) if len(extent) == 2 else 0.6
        out.set("initiator", f"{moved[0]} hand", confidence)
    clip.receiver(moved, out)
    clip.direction(moved, out)
    clip.motion(moved, out)
    return out


class _Clip:
    """The measurements of one clip's frames, shared by the four rules."""

    def __init__(
        self, body: Body, frames: np.ndarray, r: float, fps: float, palms: dict[str, np.ndarray]
    ) -> None:
        self.body, self.frames, self.r, self.fps, self.palms = body, frames, r, fps, palms
        self.head = _fill_or_nan(body.get("head")[frames])
        self.neck = _fill_or_nan(body.get("neck")[frames])
        hx = _fill_or_nan(body.head_x[frames])
        self.hx = hx / np.linalg.norm(hx, axis=1, keepdims=True)
        self.hy = np.stack([-self.hx[:, 1], self.hx[:, 0]], axis=1)
        self.rest: dict[str, np.ndarray] = {}
        self.act: dict[str, np.ndarray] = {}
        self.contact: dict[str, np.ndarray] = {}
        for s, p in palms.items():
            first, last = p[0], p[-1]
            rest = first if first[1] >= last[1] else last  # y grows downwards
            d = np.linalg.norm(p - rest, axis=1)
            self.rest[s] = rest
            self.contact[s] = np.median(p[d >= np.quantile(d, 1 - CONTACT_SHARE)], axis=0)
            near = np.linalg.norm(p - self.contact[s], axis=1) < ACT_R * r
            self.act[s] = near

    def extent(self, side: str) -> float:
        p = self.palms[side]
        return float(np.linalg.norm(p[:, None] - p[None], axis=-1).max() / self.r)

    def frame_coords(self, p: np.ndarray, origin: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Points p (of the frames `mask` selects) relative to `origin` (the same frames) in
        the head frame's axes, in r."""
        d = p - origin
        hx, hy = self.hx[mask], self.hy[mask]
        return np.stack([(d * hx).sum(1), (d * hy).sum(1)], axis=1) / self.r

    # --- receiver ------------------------------------------------------------------------
    def receiver(self, moved: list[str], out: Derived) -> None:
        if len(moved) == 2:
            meet = self._two_hands()
            if meet is not None:
                out.set("receiver", *meet)
                return
        side = max(moved, key=self.extent)
        act = self.act[side]
        if not np.isfinite(self.head).all():
            out.unknown("no head seen during the gesture", "receiver")
            return
        found = self._nearest(self.palms[side][act], act)
        if found is None:
            out.unknown(f"no landmark within {NEAR_R} r of the hand's contact", "receiver")
            return
        name, distance, runner_up = found
        if len(moved) == 2 and name.endswith(" eye"):
            name = "eyes"
        out.set("receiver", name, _margin(runner_up - distance, 0.0, 0.5))

    def _nearest(self, p: np.ndarray, act: np.ndarray) -> tuple[str, float, float] | None:
        head = self.frame_coords(p, self.head[act], act).mean(0)
        has_neck = np.isfinite(self.neck).all()
        neck = self.frame_coords(p, self.neck[act], act).mean(0) if has_neck else None
        distances: dict[str, float] = {}
        for name, (x, y, lateral, from_neck) in LANDMARKS.items():
            at = neck if from_neck else head
            if at is None:
                continue
            for sign, side in ((1, "left"), (-1, "right")) if lateral else ((1, ""),):
                key = name.format(side=side)
                lx = x * sign if lateral else x
                # a midline landmark: how far sideways the hand is does not count as much
                weight = 1.0 if lateral else 0.6
                distances[key] = float(np.hypot((at[0] - lx) * weight, at[1] - y))
        arm = self._upper_arm(p, act)
        if arm is not None:
            distances[arm[0]] = arm[1]
        if not distances:
            return None
        ranked = sorted(distances.items(), key=lambda kv: kv[1])
        name, best = ranked[0]
        if best > NEAR_R:
            return None
        return name, best, ranked[1][1] if len(ranked) > 1 else NEAR_R

    def _upper_arm(self, p: np.ndarray, act: np.ndarray) -> tuple[str, float] | None:
        """The other arm's upper arm (half way from its shoulder to its elbow)."""
        best: tuple[str, float] | None = None
        for s in SIDES:
            shoulder = self.body.get(f"shoulder_{s}")[self.frames][act]
            elbow = self.body.get(f"elbow_{s}")[self.frames][act]
            mid = (shoulder + elbow) / 2
            if not np.isfinite(mid).all():
                continue
            d = float(np.linalg.norm((p - mid).mean(0)) / self.r)
            if best is None or d < best[1]:
                best = (f"{s} upper arm", d)
        return best

    def _two_hands(self) -> tuple[str, float] | None:
        """Where two moving hands meet: crossed to the upper arms, palm to palm, or
        fingertip to fingertip; None when they do not meet (e.g. both at the face)."""
        both = self.act["left"] & self.act["right"]
        if both.sum() < 2:
            return None
        if not np.isfinite(self.neck[both]).all() or not np.isfinite(self.head[both]).all():
            return None
        mid = (self.palms["left"][both] + self.palms["right"][both]) / 2
        if self.frame_coords(mid, self.head[both], both).mean(0)[1] < BELOW_FACE_R:
            return None  # both hands at the face: the face's landmarks decide
        left = self.frame_coords(self.palms["left"][both], self.neck[both], both).mean(0)
        right = self.frame_coords(self.palms["right"][both], self.neck[both], both).mean(0)
        if left[0] < -0.3 and right[0] > 0.3:  # each hand past the midline: arms crossed
            return "upper arms", _margin(min(-left[0], right[0]), 0.3, 1.0)
        palms = np.linalg.norm(self.palms["left"][both] - self.palms["right"][both], axis=1)
        palm_gap = float(np.median(palms) / self.r)
        if palm_gap > 2.0:
            return None
        tips_l = self.body.get("fingertips_left")[self.frames][both]
        tips_r = self.body.get("fingertips_right")[self.frames][both]
        tips = np.linalg.norm(tips_l - tips_r, axis=1)
        if self.body.has_fingers and np.isfinite(tips).sum() >= 2:  # one hand hides the other's
            ratio = float(np.nanmedian(tips) / max(np.median(palms), 1e-9))
            if ratio < FINGERTIPS_RATIO:  # fingertips together, palms apart: a steeple
                return "fingertips", _margin(ratio, FINGERTIPS_RATIO, 0.2)
        return "palms", _margin(palm_gap, 2.0, 1.5)

    # --- direction -----------------------------------------------------------------------
    def direction(self, moved: list[str], out: Derived) -> None:
        rises, inwards, beyonds = [], [], []
        for s in moved:
            sign = 1.0 if s == "right" else -1.0  # inward: towards the other side
            travel = self.contact[s] - self.rest[s]
            axis_x, axis_y = self.hx.mean(0), self.hy.mean(0)
            rises.append(-(travel @ axis_y) / self.r)
            inwards.append(sign * (travel @ axis_x) / self.r)
            if np.isfinite(self.neck).all():
                beyonds.append(sign * ((self.contact[s] - self.neck.mean(0)) @ axis_x) / self.r)
        rise, inward = float(np.mean(rises)), float(np.mean(inwards))
        vertical = "up" if rise > RISE_R else ("down" if rise < -RISE_R else "")
        if beyonds and min(beyonds) > ACROSS_R:  # every moving hand past the midline
            sideways = "across the body"
        elif inward > SIDEWAYS_R:
            sideways = "inward"
        elif inward < -SIDEWAYS_R:
            sideways = "outward"
        else:
            sideways = ""
        if vertical == "up":
            value = {
                "across the body": "upward across the body",
                "inward": "upward and inward",
                "outward": "upward and outward",
                "": "straight upward",
            }[sideways]
        elif vertical == "down":
            value = (
                f"downward and {sideways}"
                if sideways in ("inward", "outward")
                else "straight downward"
            )
        else:
            value = sideways or "forward"
        confidence = min(_margin(rise, RISE_R, 1.0), _margin(inward, SIDEWAYS_R, 0.5))
        out.set("direction", value, max(confidence, 0.2))

    # --- motion --------------------------------------------------------------------------
    def motion(self, moved: list[str], out: Derived) -> None:
        receiver = out.values["receiver"]
        if len(moved) == 2 and receiver in ("palms", "fingertips", "upper arms"):
            self._two_hand_motion(receiver, out)
            return
        side = max(moved, key=self.extent)
        act = self.act[side]
        seconds = act.sum() / self.fps
        held = _trimmed(act)
        if held.sum() < 3:
            out.unknown("the hand stays at the contact point for under 3 frames", "motion")
            return
        origin = self.neck if receiver in ("neck", "shirt collar", "chest") else self.head
        if not np.isfinite(origin[held]).all():
            origin = np.zeros_like(self.palms[side])
        shape = _shape(self.frame_coords(self.palms[side][held], origin[held], held))
        hz = shape["cycles"] / max(held.sum() / self.fps, 1e-9)
        peak = shape["peak"]
        if peak < STILL_PP_R:
            value = HELD[0] if seconds < BRIEF_S else HELD[1]
            confidence = _margin(peak, STILL_PP_R, STILL_PP_R)
        elif shape["roundness"] >= CIRCLE and peak >= CIRCLE_PP_R:
            value, confidence = "rubs it in circles", _margin(shape["roundness"], CIRCLE, 0.3)
        elif shape["sideways"] and peak >= SIDEWAYS_PP_R:
            value, confidence = "rubs it from side to side", _margin(peak, SIDEWAYS_PP_R, 0.3)
        elif shape["cycles"] <= TUG_CYCLES:
            value, confidence = "tugs at it", _margin(shape["cycles"], TUG_CYCLES, 1.0)
        elif hz >= SCRATCH_HZ:
            value, confidence = "scratches it", _margin(hz, SCRATCH_HZ, 1.0)
        else:
            value, confidence = "strokes it", _margin(hz, SCRATCH_HZ, 1.0)
        out.set("motion", value, confidence)

    def _two_hand_motion(self, receiver: str, out: Derived) -> None:
        both = self.act["left"] & self.act["right"]
        if receiver == "upper arms":
            out.set("motion", "crosses them and holds still", 0.8)
            return
        if receiver == "fingertips":
            out.set("motion", "taps them together", 0.7)
            return
        rel = self.frame_coords(self.palms["left"][both], self.palms["right"][both], both)
        shape = _shape(rel)
        if shape["peak"] < STILL_PP_R:
            out.set("motion", "rests on it and holds still", 0.5)
        else:
            out.set("motion", "rubs them together", _margin(shape["peak"], STILL_PP_R, 0.5))


def _trimmed(act: np.ndarray) -> np.ndarray:
    """The act phase without its first and last TRIM (at least one frame each)."""
    idx = np.flatnonzero(act)
    cut = max(1, round(TRIM * len(idx)))
    keep = np.zeros_like(act)
    keep[idx[cut : len(idx) - cut]] = True
    return keep


def _fill_or_nan(track: np.ndarray) -> np.ndarray:
    """`_fill` where the track was seen at all, else all NaN."""
    if np.isfinite(track).all(1).any():
        return _fill(track)
    return np.full_like(track, np.nan)


def _shape(q: np.ndarray) -> dict[str, float]:
    """A trajectory's shape: peak-to-peak along its main axis (r), roundness (minor/major
    spread), cycles (zero crossings / 2 along the main axis, trend removed) and whether
    the main axis is nearer the head frame's x (sideways) than its y."""
    t = np.arange(len(q), dtype=np.float64)
    slope = np.polyfit(t, q, 1)
    q = q - (np.outer(t, slope[0]) + slope[1])
    _, sv, vt = np.linalg.svd(q, full_matrices=False)
    main = q @ vt[0]
    crossings = int(((main[:-1] * main[1:]) < 0).sum())
    return {
        "peak": float(main.max() - main.min()),
        "roundness": float(sv[1] / max(sv[0], 1e-9)) if len(sv) > 1 else 0.0,
        "cycles": crossings / 2,
        "sideways": bool(abs(vt[0][0]) > abs(vt[0][1])),
    }
