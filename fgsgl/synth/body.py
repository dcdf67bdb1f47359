"""The seated person: per-subject proportions and colours, the skeleton, its keypoints.

Everything is in output pixels (floats; x right, y down; the continuous pixel grid, so
pixel j covers [j, j+1)). A `Subject` is drawn once per subject id (proportions in units
of the frame size, colours, hair, sleeves); a `Placement` puts it in one clip (position,
scale); a `Torso` is the body at one frame (idle sway and camera shake applied) and knows
where every receiver lies; `solve_arm` bends an arm so that its hand lands on a point.

Sides are the subject's: the right hand appears on the image's left (sign -1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

Point = tuple[float, float]
SIDES = ("right", "left")

# The keypoints written with --keypoints, in this order (the pose baseline reads them).
JOINTS = (
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
    "mouth",
    "chin",
    "neck",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hand",
    "right_hand",
    "left_fingertips",
    "right_fingertips",
)
# Bones between keypoints, for drawing skeletons and for graph pose models.
EDGES = (
    ("nose", "left_eye"),
    ("nose", "right_eye"),
    ("left_eye", "left_ear"),
    ("right_eye", "right_ear"),
    ("nose", "mouth"),
    ("mouth", "chin"),
    ("chin", "neck"),
    ("neck", "left_shoulder"),
    ("neck", "right_shoulder"),
    ("left_shoulder", "left_elbow"),
    ("right_shoulder", "right_elbow"),
    ("left_elbow", "left_wrist"),
    ("right_elbow", "right_wrist"),
    ("left_wrist", "left_hand"),
    ("right_wrist", "right_hand"),
    ("left_hand", "left_fingertips"),
    ("right_hand", "right_fingertips"),
)


def side_sign(side: str) -> float:
    """-1 for the subject's right (image left), +1 for the left."""
    return -1.0 if side == "right" else 1.0


def other(side: str) -> str:
    return "left" if side == "right" else "right"


Color = tuple[int, int, int]

SKIN_TONES: tuple[Color, ...] = (
    (246, 214, 190),
    (234, 192, 160),
    (214, 165, 128),
    (186, 134, 96),
    (150, 102, 70),
    (112, 76, 54),
)
HAIR_COLOURS: tuple[Color, ...] = (
    (30, 24, 20),
    (70, 46, 30),
    (120, 84, 50),
    (190, 150, 90),
    (140, 140, 140),
    (100, 40, 26),
)
HAIR_STYLES = ("short", "long", "bald", "bob")


@dataclass(frozen=True)
class Subject:
    """One person: proportions in units of the frame size (at scale 1) and colours."""

    index: int
    head_rx: float
    head_ry: float
    neck_len: float
    neck_w: float
    shoulder_half: float
    waist_half: float
    upper_arm: float
    forearm: float
    arm_w: float
    forearm_w: float
    palm_r: float
    skin: Color
    hand: Color
    hair: Color
    hair_style: str
    shirt: Color
    long_sleeves: bool
    lips: Color
    scale: float
    dx: float

    def sample_rest(self, rng: np.random.Generator) -> str:
        return str(rng.choice(tuple(REST_POINTS)))


def _jitter(rng: np.random.Generator, value: float, rel: float, strength: float) -> float:
    return value * (1.0 + rel * strength * float(rng.uniform(-1.0, 1.0)))


def _shade(colour: Color, factor: float, add: Color = (0, 0, 0)) -> Color:
    return tuple(int(np.clip(c * factor + a, 0, 255)) for c, a in zip(colour, add, strict=True))


def _shirt_colour(rng: np.random.Generator) -> Color:
    """A clothing colour: any hue, never skin-like (saturated or dark or grey-blue)."""
    import colorsys

    hue = float(rng.uniform(0.0, 1.0))
    if 0.02 < hue < 0.12:  # skin hues: push to blue-green to keep shirt apart from hands
        hue += 0.45
    sat = float(rng.uniform(0.35, 0.85))
    val = float(rng.uniform(0.25, 0.8))
    r, g, b = colorsys.hsv_to_rgb(hue, sat, val)
    return (int(r * 255), int(g * 255), int(b * 255))


def sample_subject(index: int, rng: np.random.Generator, nuisance: float = 1.0) -> Subject:
    """A new person; `nuisance` scales how much proportions vary between people."""
    head_rx = _jitter(rng, 0.088, 0.07, nuisance)
    skin = SKIN_TONES[int(rng.integers(len(SKIN_TONES)))]
    skin = _shade(skin, float(rng.uniform(0.95, 1.05)))
    # Palms and the backs of hands read a little pinker and lighter than the face: it is
    # what lets a viewer (and the test) see a hand in front of the face.
    hand = _shade(skin, 1.07, (14, 0, 2))
    palm_r = head_rx * 1.24 * 0.36
    return Subject(
        index=index,
        head_rx=head_rx,
        head_ry=head_rx * _jitter(rng, 1.25, 0.05, nuisance),
        neck_len=_jitter(rng, 0.045, 0.2, nuisance),
        neck_w=head_rx * _jitter(rng, 1.1, 0.1, nuisance),
        shoulder_half=_jitter(rng, 0.2, 0.08, nuisance),
        waist_half=_jitter(rng, 0.17, 0.08, nuisance),
        upper_arm=_jitter(rng, 0.22, 0.04, nuisance),
        forearm=_jitter(rng, 0.19, 0.04, nuisance),
        arm_w=_jitter(rng, 0.07, 0.1, nuisance),
        forearm_w=_jitter(rng, 0.052, 0.1, nuisance),
        palm_r=palm_r,
        skin=skin,
        hand=hand,
        hair=HAIR_COLOURS[int(rng.integers(len(HAIR_COLOURS)))],
        hair_style=HAIR_STYLES[int(rng.integers(len(HAIR_STYLES)))],
        shirt=_shirt_colour(rng),
        long_sleeves=bool(rng.random() < 0.6),
        lips=_shade(skin, 0.78, (20, -10, -6)),
        scale=_jitter(rng, 1.0, 0.08, nuisance),
        dx=0.03 * nuisance * float(rng.uniform(-1.0, 1.0)),
    )


FRAMING = 1.1  # body units per frame size: how close the camera is


@dataclass(frozen=True)
class Placement:
    """Where a subject sits in one clip: the neck base in pixels and pixels per unit."""

    cx: float
    shoulder_y: float
    unit: float  # pixels per frame-size unit (frame size x scale)

    @classmethod
    def sample(
        cls, subject: Subject, size: int, rng: np.random.Generator, nuisance: float = 1.0
    ) -> Placement:
        scale = subject.scale * (1.0 + 0.05 * nuisance * float(rng.uniform(-1.0, 1.0)))
        cx = 0.5 + subject.dx + 0.04 * nuisance * float(rng.uniform(-1.0, 1.0))
        sy = 0.5 + 0.03 * nuisance * float(rng.uniform(-1.0, 1.0))
        # FRAMING: the person fills the frame from just above the head to the lap.
        return cls(cx=cx * size, shoulder_y=sy * size, unit=FRAMING * scale * size)


@dataclass(frozen=True)
class Receiver:
    """A place a hand can go to.

    frame: "head" (x, y in head radii, from the head centre, rotating with the head),
    "torso" (x, y in units from the neck base), "arm" (the other arm's upper arm, y the
    fraction from shoulder to elbow), "hands" (a meeting point in front of the body).
    x is measured towards the receiver's side for lateral receivers, towards the hand's
    own side otherwise. fingers: the direction the fingers point, in degrees (0 = image
    right, -90 = up), for a right hand; mirrored for a left one. depth: distance in front
    of the shoulders' plane, which lets the arm's inverse kinematics bring the elbow
    forward and down (foreshortened) instead of flaring it out like a wing.
    """

    text: str
    frame: str
    x: float
    y: float
    lateral: bool
    fingers: float
    depth: float  # how far in front of the shoulders the palm is (units)
    both_text: str | None = None


RECEIVERS: dict[str, Receiver] = {
    "forehead": Receiver("forehead", "head", 0.06, -0.52, False, -70.0, 0.1),
    "eye": Receiver("{side} eye", "head", 0.4, -0.08, True, -75.0, 0.1, "eyes"),
    "nose": Receiver("nose", "head", 0.04, 0.24, False, -80.0, 0.12),
    "mouth": Receiver("mouth", "head", 0.0, 0.56, False, -12.0, 0.12),
    "head": Receiver("{side} side of the head", "head", 0.72, -0.66, True, -55.0, 0.02),
    "ear": Receiver("{side} ear", "head", 1.02, 0.04, True, -95.0, 0.02),
    "hair": Receiver("hair by the {side} temple", "head", 1.02, -0.42, True, -100.0, 0.03),
    "chin": Receiver("chin", "head", 0.12, 0.92, False, -60.0, 0.1),
    "cheek": Receiver("{side} cheek", "head", 0.6, 0.3, True, -80.0, 0.1),
    "neck": Receiver("neck", "torso", 0.03, -0.016, False, -25.0, 0.06),
    "collar": Receiver("shirt collar", "torso", 0.02, 0.018, False, -95.0, 0.08),
    "chest": Receiver("chest", "torso", 0.08, 0.12, True, -30.0, 0.1),
    "arm": Receiver("{side} upper arm", "arm", 0.0, 0.5, True, 10.0, 0.05),
    "upper arms": Receiver("upper arms", "arm", 0.0, 0.62, True, 0.0, 0.08),
    "hands": Receiver("palms", "hands", 0.5, 0.27, False, -70.0, 0.22),
    "fingertips": Receiver("fingertips", "hands", 0.85, 0.21, False, -62.0, 0.22),
}

# Where hands rest between gestures (torso frame, x towards the hand's side), the
# direction their fingers point there (for a right hand) and their depth.
REST_POINTS: dict[str, tuple[float, float, float, float]] = {
    "lap": (0.085, 0.37, 15.0, 0.24),
    "thighs": (0.15, 0.39, 55.0, 0.24),
    "armrests": (0.25, 0.31, 80.0, 0.16),
}


def finger_angle(degrees_for_right: float, hand_side: str) -> float:
    """A right-hand finger direction mirrored for the left hand (radians)."""
    a = math.radians(degrees_for_right)
    return a if hand_side == "right" else math.pi - a


@dataclass(frozen=True)
class Torso:
    """The body without its arms at one frame: head pose and the anchor points."""

    subject: Subject
    cx: float
    shoulder_y: float
    unit: float
    head_angle: float  # radians, positive = clockwise on screen
    head_dx: float

    @property
    def rx(self) -> float:
        return self.subject.head_rx * self.unit

    @property
    def ry(self) -> float:
        return self.subject.head_ry * self.unit

    @property
    def neck_base(self) -> Point:
        return (self.cx, self.shoulder_y)

    @property
    def head_centre(self) -> Point:
        s = self.subject
        pivot_y = self.shoulder_y - s.neck_len * self.unit
        # The head turns about the top of the neck; its centre sits a head-height above.
        d = 0.9 * self.ry
        return (
            self.cx + self.head_dx + d * math.sin(self.head_angle),
            pivot_y - d * math.cos(self.head_angle),
        )

    def head_point(self, hx: float, hy: float) -> Point:
        """A point given in head radii from the head centre, turned with the head."""
        cxh, cyh = self.head_centre
        x, y = hx * self.rx, hy * self.ry
        c, s = math.cos(self.head_angle), math.sin(self.head_angle)
        return (cxh + c * x - s * y, cyh + s * x + c * y)

    def head_points(self, local: np.ndarray) -> np.ndarray:
        """`head_point` for an (n, 2) array of head-local points at once."""
        cxh, cyh = self.head_centre
        c, s = math.cos(self.head_angle), math.sin(self.head_angle)
        m = np.array([[c * self.rx, -s * self.ry], [s * self.rx, c * self.ry]])
        return local @ m.T + np.array([cxh, cyh])

    def torso_point(self, tx: float, ty: float) -> Point:
        return (self.cx + tx * self.unit, self.shoulder_y + ty * self.unit)

    def shoulder(self, side: str) -> Point:
        s = self.subject
        return self.torso_point(side_sign(side) * s.shoulder_half * 0.9, s.arm_w * 0.3)

    def rest_point(self, side: str, rest: str) -> tuple[Point, float, float]:
        """A hand's rest: palm centre, finger angle and depth (pixels in front)."""
        x, y, fingers, depth = REST_POINTS[rest]
        point = self.torso_point(side_sign(side) * x, y)
        return point, finger_angle(fingers, side), depth * self.unit

    def rest_elbow(self, side: str, rest: str) -> Point:
        return solve_arm(self, side, *self.rest_point(side, rest)).elbow

    def receiver_point(
        self, name: str, hand_side: str, receiver_side: str, rest: str = "lap"
    ) -> tuple[Point, float, float]:
        """Where the hand's centre goes for a receiver, where its fingers point, its depth."""
        r = RECEIVERS[name]
        fingers = finger_angle(r.fingers, hand_side)
        depth = r.depth * self.unit
        sign = side_sign(receiver_side if r.lateral else hand_side)
        if r.frame == "head":
            return self.head_point(sign * r.x, r.y), fingers, depth
        if r.frame == "torso":
            return self.torso_point(sign * r.x, r.y), fingers, depth
        if r.frame == "arm":
            shoulder = self.shoulder(receiver_side)
            elbow = self.rest_elbow(receiver_side, rest)
            return _lerp(shoulder, elbow, r.y), fingers, depth
        if r.frame == "hands":
            return self.torso_point(sign * r.x * self.subject.palm_r, r.y), fingers, depth
        raise ValueError(f"unknown receiver frame {r.frame!r}")


def _lerp(a: Point, b: Point, t: float) -> Point:
    return (a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t)


@dataclass(frozen=True)
class Arm:
    """One arm's joints at one frame, and the hand's finger direction and curl."""

    side: str
    shoulder: Point
    elbow: Point
    wrist: Point
    hand: Point  # the palm's centre
    fingers: float  # radians
    curl: float  # 0 = straight fingers, 1 = a fist
    reached: bool  # False if the hand was out of the arm's reach (it then falls short)

    @property
    def direction(self) -> Point:
        return (math.cos(self.fingers), math.sin(self.fingers))

    def fingertips(self, palm_r: float) -> Point:
        reach = palm_r * (0.6 + finger_length(self.curl))
        return (self.hand[0] + self.direction[0] * reach, self.hand[1] + self.direction[1] * reach)


def finger_length(curl: float) -> float:
    """Finger length beyond the palm, in palm radii: bending fingers shortens them."""
    return 1.15 * (1.0 - 0.6 * curl)


def solve_arm(
    torso: Torso, side: str, hand: Point, fingers: float, depth: float, curl: float = 0.2
) -> Arm:
    """Inverse kinematics in 3D, drawn in 2D: place the palm on `hand` at `depth` in front
    of the shoulder, with the elbow hanging as low as the arm allows (and a little out).

    A frontal camera sees the arm foreshortened when the hand comes forward, which is why
    a hand at the face does not need a raised, flared elbow.
    """
    s = torso.subject
    palm = s.palm_r * torso.unit
    sx, sy = torso.shoulder(side)
    shoulder = np.array([sx, sy, 0.0])
    wrist = np.array(
        [hand[0] - math.cos(fingers) * palm * 0.9, hand[1] - math.sin(fingers) * palm * 0.9, depth]
    )
    l1, l2 = s.upper_arm * torso.unit, s.forearm * torso.unit
    axis = wrist - shoulder
    dist = float(np.linalg.norm(axis))
    reached = dist <= l1 + l2
    if not reached:  # out of reach: the arm stretches straight towards the point
        wrist = shoulder + axis * ((l1 + l2 - 1e-6) / dist)
        dist = l1 + l2 - 1e-6
    dist = max(dist, abs(l1 - l2) + 1e-6)
    n = axis / max(float(np.linalg.norm(axis)), 1e-9)
    a = (l1 * l1 - l2 * l2 + dist * dist) / (2 * dist)
    r = math.sqrt(max(l1 * l1 - a * a, 0.0))
    # Where the elbow goes: out and down, and forward when the hand is raised (reaching
    # the face) but back when the hand is low (resting on the lap or an armrest).
    low = min(max((wrist[1] - sy) / (0.25 * torso.unit), 0.0), 1.0)
    prefer = np.array([side_sign(side) * 0.5, 0.7, 0.45 - 1.0 * low])
    v = prefer - float(prefer @ n) * n
    v = v / max(float(np.linalg.norm(v)), 1e-9)
    elbow = shoulder + a * n + r * v
    if not reached:
        hand = (
            float(wrist[0]) + math.cos(fingers) * palm * 0.9,
            float(wrist[1]) + math.sin(fingers) * palm * 0.9,
        )
    return Arm(
        side,
        (sx, sy),
        (float(elbow[0]), float(elbow[1])),
        (float(wrist[0]), float(wrist[1])),
        hand,
        fingers,
        curl,
        reached,
    )


def keypoints(torso: Torso, arms: dict[str, Arm]) -> np.ndarray:
    """(J, 2) joint positions in pixel-index coordinates (pixel centres at integers)."""
    palm = torso.subject.palm_r * torso.unit
    chin = torso.head_point(0.0, 0.96)
    points: dict[str, Point] = {
        "nose": torso.head_point(0.0, 0.24),
        "left_eye": torso.head_point(0.4, -0.08),
        "right_eye": torso.head_point(-0.4, -0.08),
        "left_ear": torso.head_point(1.02, 0.04),
        "right_ear": torso.head_point(-1.02, 0.04),
        "mouth": torso.head_point(0.0, 0.56),
        "chin": chin,
        "neck": torso.neck_base,
    }
    for side in SIDES:
        arm = arms[side]
        points[f"{side}_shoulder"] = arm.shoulder
        points[f"{side}_elbow"] = arm.elbow
        points[f"{side}_wrist"] = arm.wrist
        points[f"{side}_hand"] = arm.hand
        points[f"{side}_fingertips"] = arm.fingertips(palm)
    return np.array([points[j] for j in JOINTS], dtype=np.float64) - 0.5
