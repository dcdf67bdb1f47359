"""Hand trajectories: rest, reach the receiver, perform the motion there, go back.

A clip's gesture is timed in fractions of the clip (so any --frames/--fps holds one whole
gesture): it starts after a short rest, reaches the receiver along a slightly outward arc
with a minimum-jerk profile, performs the motion pattern for the "act" phase (the contact
frames), and returns towards the rest pose (the clip may end before it gets there).

Motion patterns are offsets around the contact point in head radii (so they scale with
the person), with an envelope that fades them in and out. Speed sets how many cycles fit
in the act phase and how long reaching takes; amplitude sets the offset's size. Both are
folded into the manifest's motion phrase ("rubs quickly in small circles").
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

SPEEDS = ("slowly", "quickly")
AMPLITUDES = ("small", "large")

# An offset pattern: (u in [0, 1] through the act phase, amplitude, cycles, phase,
# hand k = +1/-1, axis angle) -> (dx, dy) in head radii and finger curl.
Pattern = Callable[[float, float, float, float, float, float], tuple[float, float, float]]


def _still(u: float, a: float, c: float, p: float, k: float, axis: float):
    return 0.0, 0.0, 0.15


def _circle(u: float, a: float, c: float, p: float, k: float, axis: float):
    w = 2 * math.pi * c * u + p
    return a * math.cos(w), a * math.sin(w), 0.3


def _along(u: float, a: float, c: float, p: float, k: float, axis: float):
    s = a * math.sin(2 * math.pi * c * u + p)
    return s * math.cos(axis), s * math.sin(axis), 0.25


def _scratch(u: float, a: float, c: float, p: float, k: float, axis: float):
    w = 2 * math.pi * c * u + p
    s = a * math.sin(w)
    # Fingertips dig in on the down stroke and straighten on the way back up.
    return s * math.cos(axis), s * math.sin(axis), 0.55 + 0.35 * math.cos(w)


def _tug(u: float, a: float, c: float, p: float, k: float, axis: float):
    s = a * math.sin(math.pi * c * u) ** 2  # c tugs out along the axis and back
    return s * math.cos(axis), s * math.sin(axis), 0.7


def _rub_hands(u: float, a: float, c: float, p: float, k: float, axis: float):
    s = k * a * math.sin(2 * math.pi * c * u + p)  # the two palms slide in opposition
    return 0.0, s, 0.2


def _tap_apart(u: float, a: float, c: float, p: float, k: float, axis: float):
    s = a * 0.5 * (1 - math.cos(2 * math.pi * c * u))  # fingertips part and meet again
    return k * s, 0.0, 0.1


def _hold_further(u: float, a: float, c: float, p: float, k: float, axis: float):
    return a * math.cos(axis), a * math.sin(axis), 0.35


@dataclass(frozen=True)
class MotionKind:
    """A motion pattern: its phrase, its cycles per act phase and its amplitudes."""

    name: str
    pattern: Pattern
    phrase: Callable[[str, str], str]  # (speed, amplitude) -> text after "and"
    cycles: tuple[float, float] = (0.0, 0.0)  # slowly, quickly
    amplitudes: tuple[float, float] | None = None  # small, large (head radii)
    held: bool = False  # a held pose: "quickly" means briefly, "slowly" means held long
    axis: float = 90.0  # default axis (degrees, right hand): 90 = up and down


def _size(amplitude: str, small: str, large: str) -> str:
    return small if amplitude == "small" else large


MOTIONS: dict[str, MotionKind] = {
    m.name: m
    for m in (
        MotionKind(
            "touch",
            _still,
            lambda s, a: "touches it briefly" if s == "quickly" else "rests on it and holds still",
            held=True,
        ),
        MotionKind(
            "cover",
            _still,
            lambda s, a: "covers it briefly" if s == "quickly" else "covers it and holds still",
            held=True,
        ),
        MotionKind(
            "rub_circle",
            _circle,
            lambda s, a: f"rubs {s} in {_size(a, 'small', 'wide')} circles",
            cycles=(1.5, 2.5),
            amplitudes=(0.12, 0.22),
        ),
        MotionKind(
            "rub_side",
            _along,
            lambda s, a: f"rubs {s} from side to side in {_size(a, 'short', 'long')} strokes",
            cycles=(1.5, 2.5),
            amplitudes=(0.14, 0.26),
            axis=0.0,
        ),
        MotionKind(
            "scratch",
            _scratch,
            lambda s, a: f"scratches {s} with {_size(a, 'short', 'long')} strokes",
            cycles=(2.5, 4.0),
            amplitudes=(0.08, 0.16),
        ),
        MotionKind(
            "pull",
            _tug,
            lambda s, a: (
                f"gives it two quick, {_size(a, 'small', 'big')} tugs"
                if s == "quickly"
                else f"gives it one slow, {_size(a, 'small', 'big')} tug"
            ),
            cycles=(1.0, 2.0),
            amplitudes=(0.14, 0.26),
        ),
        MotionKind(
            "stroke",
            _along,
            lambda s, a: f"strokes it {s} in {_size(a, 'short', 'long')} sweeps",
            cycles=(1.0, 2.0),
            amplitudes=(0.16, 0.28),
        ),
        MotionKind(
            "rub_hands",
            _rub_hands,
            lambda s, a: f"rubs them together {s} in {_size(a, 'short', 'long')} strokes",
            cycles=(2.0, 3.5),
            amplitudes=(0.18, 0.34),
        ),
        MotionKind(
            "steeple",
            _tap_apart,
            lambda s, a: f"taps them together {s} with {_size(a, 'small', 'wide')} gaps",
            cycles=(1.5, 3.0),
            amplitudes=(0.1, 0.22),
        ),
        MotionKind(
            "fold",
            _hold_further,
            lambda s, a: f"crosses them {s} and holds {_size(a, 'loosely', 'tightly')}",
            amplitudes=(0.0, 0.3),
            axis=0.0,
        ),
    )
}

# Axis of the motion at a receiver where it differs from the motion's default (degrees,
# right hand, mirrored for the left): tugging an ear goes outwards, a collar down, a
# stroke follows the jaw line or the hair, and goes across the forehead, cheek, neck and
# upper arm (the compositional classes: across, so that it is not a slow scratch).
RECEIVER_AXES: dict[tuple[str, str], float] = {
    ("pull", "ear"): 180.0,
    ("pull", "collar"): 100.0,
    ("stroke", "chin"): -150.0,
    ("stroke", "hair"): 80.0,
    ("fold", "upper arms"): 180.0,
    ("stroke", "forehead"): 0.0,
    ("stroke", "cheek"): 0.0,
    ("stroke", "neck"): 0.0,
    ("stroke", "arm"): 0.0,
}


def motion_axis(kind: str, receiver: str, hand_side: str) -> float:
    degrees = RECEIVER_AXES.get((kind, receiver), MOTIONS[kind].axis)
    a = math.radians(degrees)
    return a if hand_side == "right" else math.pi - a


@dataclass(frozen=True)
class Timeline:
    """The gesture's phases as fractions of the clip: [start, reached, released, home]."""

    start: float
    reach: float
    act: float
    back: float

    @property
    def contact(self) -> tuple[float, float]:
        return self.start + self.reach, self.start + self.reach + self.act

    @property
    def end(self) -> float:
        """When the hand is back home at its rest."""
        return self.start + self.reach + self.act + self.back

    def phase(self, t: float) -> tuple[str, float]:
        """("rest" | "reach" | "act" | "back", progress in [0, 1]) at clip time t."""
        a, b = self.contact
        if t < self.start:
            return "rest", 0.0
        if t < a:
            return "reach", (t - self.start) / self.reach
        if t <= b:
            return "act", (t - a) / self.act
        if t < b + self.back:
            return "back", (t - b) / self.back
        return "home", 1.0


def timeline(kind: str, speed: str, start: float, scale: float = 1.0) -> Timeline:
    """Phase lengths from the motion and speed; `scale` (about 1) varies them per clip."""
    m = MOTIONS[kind]
    fast = speed == "quickly"
    reach = (0.15 if fast else 0.23) * scale
    # A held pose is brief or long; a moving one needs room for its cycles either way.
    act = ((0.26 if fast else 0.46) if m.held else (0.44 if fast else 0.48)) * scale
    return Timeline(start=start, reach=reach, act=act, back=reach * 1.1)


def min_jerk(s: float) -> float:
    """The minimum-jerk position profile: smooth start and stop, like a reaching hand."""
    s = min(max(s, 0.0), 1.0)
    return s * s * s * (10 - 15 * s + 6 * s * s)


def envelope(u: float, ramp: float = 0.15) -> float:
    """Fades a motion in and out over the first and last `ramp` of the act phase."""
    if u < ramp:
        return min_jerk(u / ramp)
    if u > 1 - ramp:
        return min_jerk((1 - u) / ramp)
    return 1.0


def lerp_angle(a: float, b: float, s: float) -> float:
    d = (b - a + math.pi) % (2 * math.pi) - math.pi
    return a + d * s


def direction_phrase(
    rest: tuple[float, float],
    contact: tuple[float, float],
    midline: float,
    hand_side: str,
    unit: float,
) -> str:
    """The main movement direction from the rest point to the contact point, in words.

    "inward" is towards the body's midline, "across the body" past it; distances are in
    frame-size units so the words do not depend on the subject's size.
    """
    sign = -1.0 if hand_side == "right" else 1.0
    rise = (rest[1] - contact[1]) / unit
    inward = sign * (rest[0] - contact[0]) / unit
    beyond = -sign * (contact[0] - midline) / unit  # > 0: on the other side of the midline
    up = rise > 0.15
    if beyond > 0.035:
        horizontal = "across the body"
    elif inward > 0.04:
        horizontal = "inward"
    elif inward < -0.04:
        horizontal = "outward"
    else:
        horizontal = ""
    if up and horizontal == "across the body":
        return "upward across the body"
    if up and horizontal:
        return f"upward and {horizontal}"
    if up:
        return "straight upward"
    return horizontal or "forward"
