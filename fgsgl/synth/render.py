"""Drawing one frame: background, the seated person, then camera, light and sensor noise.

Shapes are polygons drawn with PIL on a canvas SUPERSAMPLE times the output size and
box-filtered down, which gives anti-aliased edges at 64-160 px where faces are only a few
pixels tall. The background is drawn once per clip, a little larger than the frame, and
cropped per frame at the camera's offset, so camera shake moves the whole scene.

Everything a viewer uses to tell classes apart is drawn here: the hand colour differs a
little from the face (`Subject.hand`), hands and arms have a thin dark outline, and the
face has eyes, brows, nose, mouth and ears at fixed head-relative places.
"""

from __future__ import annotations

import colorsys
import functools
import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from fgsgl.synth.body import (
    JOINTS,
    Arm,
    Color,
    Point,
    Subject,
    Torso,
    finger_length,
    side_sign,
)

SUPERSAMPLE = 4
MARGIN = 4  # background pixels beyond each edge, room for camera shake


def _shade(c: Color, f: float) -> Color:
    return tuple(int(max(0, min(255, round(v * f)))) for v in c)


@functools.cache
def _circle(n: int) -> np.ndarray:
    t = 2 * np.pi * np.arange(n) / n
    return np.stack([np.cos(t), np.sin(t)], axis=1)


def ellipse(c: Point, rx: float, ry: float, angle: float = 0.0, n: int = 36) -> np.ndarray:
    """An (n, 2) polygon of an ellipse centred at c, turned by `angle` radians."""
    ca, sa = math.cos(angle), math.sin(angle)
    m = np.array([[ca * rx, -sa * ry], [sa * rx, ca * ry]])
    return _circle(n) @ m.T + np.asarray(c)


@functools.cache
def _half_circle(n: int) -> np.ndarray:
    t = np.pi * np.arange(n + 1) / n - np.pi / 2
    return np.stack([np.cos(t), np.sin(t)], axis=1)


def capsule(a: Point, b: Point, r: float, n: int = 10) -> np.ndarray:
    """A stadium (a thick line with round ends) from a to b, radius r, as a polygon."""
    ang = math.atan2(b[1] - a[1], b[0] - a[0])
    ca, sa = math.cos(ang), math.sin(ang)
    rot = np.array([[ca, -sa], [sa, ca]]) * r
    half = _half_circle(n) @ rot.T
    return np.concatenate([half + np.asarray(b), -half + np.asarray(a)])


def in_capsule(p: Point, a: Point, b: Point, r: float) -> bool:
    ax, ay = b[0] - a[0], b[1] - a[1]
    length2 = ax * ax + ay * ay
    t = 0.0
    if length2 > 0:
        t = max(0.0, min(1.0, ((p[0] - a[0]) * ax + (p[1] - a[1]) * ay) / length2))
    dx, dy = p[0] - (a[0] + t * ax), p[1] - (a[1] + t * ay)
    return dx * dx + dy * dy <= r * r


class Canvas:
    """A supersampled PIL canvas that takes output-pixel coordinates (offset by the crop)."""

    def __init__(self, image: Image.Image) -> None:
        self.image = image
        self.draw = ImageDraw.Draw(image)

    def poly(self, points: np.ndarray, fill: Color) -> None:
        xy = np.asarray(points, dtype=np.float64) * SUPERSAMPLE - 0.5
        self.draw.polygon(xy.ravel().tolist(), fill=fill)

    def line(self, points: np.ndarray, fill: Color, width: float) -> None:
        k = SUPERSAMPLE
        xy = np.asarray(points, dtype=np.float64) * k - 0.5
        self.draw.line(
            xy.ravel().tolist(),
            fill=fill,
            width=max(1, round(k * width)),
            joint="curve",
        )


@dataclass(frozen=True)
class Scene:
    """What stays fixed over one clip: the background and the light."""

    size: int
    background: Image.Image  # (size + 2*MARGIN) * SUPERSAMPLE square, RGB
    gain: float
    cast: tuple[float, float, float]
    noise: float  # sensor noise sigma, in 8-bit levels
    flicker: float


def _muted_colour(rng: np.random.Generator) -> np.ndarray:
    h = float(rng.uniform(0, 1))
    s = float(rng.uniform(0.05, 0.4))
    v = float(rng.uniform(0.45, 0.92))
    return np.array(colorsys.hsv_to_rgb(h, s, v)) * 255.0


def make_scene(
    size: int, rng: np.random.Generator, nuisance: float, chair: tuple[float, float] | None
) -> Scene:
    """A background (gradient, texture, maybe a chair back behind the person) and light.

    `nuisance` scales the texture contrast, light changes and noise; 0 gives a flat
    background, neutral light and no noise (tests use that to check drawn pixels).
    """
    k = SUPERSAMPLE
    full = size + 2 * MARGIN
    base = _muted_colour(rng)
    yy = np.linspace(-0.5, 0.5, full * k, dtype=np.float32)[:, None, None]
    img = np.broadcast_to(base, (full * k, full * k, 3)).astype(np.float32)
    img = img + nuisance * float(rng.uniform(-30, 30)) * yy
    kind = rng.choice(("blotches", "stripes", "tiles", "plain"))
    if nuisance > 0 and kind == "blotches":
        cells = int(rng.integers(3, 8))
        low = rng.normal(0, 1, (cells, cells, 3)).astype(np.float32)
        tex = Image.fromarray(((low - low.min()) / (np.ptp(low) + 1e-6) * 255).astype(np.uint8))
        tex = np.asarray(tex.resize((full * k, full * k), Image.BICUBIC), np.float32) - 127.5
        img = img + nuisance * float(rng.uniform(0.1, 0.25)) * tex
    elif nuisance > 0 and kind == "stripes":
        period = float(rng.uniform(0.06, 0.2)) * size * k
        xs = np.arange(full * k, dtype=np.float32)[None, :, None]
        wave = np.sign(np.sin(2 * np.pi * xs / period + float(rng.uniform(0, 6.3))))
        img = img + nuisance * float(rng.uniform(6, 18)) * wave * (rng.uniform(0.5, 1.0, 3))
    elif nuisance > 0 and kind == "tiles":
        period = int(float(rng.uniform(0.1, 0.25)) * size * k)
        ys, xs = np.mgrid[0 : full * k, 0 : full * k]
        grout = ((ys % period) < k) | ((xs % period) < k)
        img = img - nuisance * float(rng.uniform(15, 35)) * grout[..., None]
    image = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))
    if chair is not None:
        # A chair back behind the shoulders: fixed in the scene, the person sways in front.
        cx, top = chair
        colour = tuple(int(v) for v in _muted_colour(rng) * float(rng.uniform(0.3, 0.6)))
        half = float(rng.uniform(0.2, 0.27)) * size
        canvas = Canvas(image)
        canvas.poly(capsule((cx + MARGIN, top + MARGIN), (cx + MARGIN, full * 1.5), half), colour)
    cast = tuple(float(v) for v in rng.uniform(-8, 8, 3) * nuisance)
    return Scene(
        size=size,
        background=image,
        gain=1.0 + 0.12 * nuisance * float(rng.uniform(-1, 1)),
        cast=cast,
        noise=2.5 * nuisance,
        flicker=0.015 * nuisance,
    )


def _local_ellipse(cx: float, cy: float, rx: float, ry: float, n: int = 28) -> np.ndarray:
    return _circle(n) * np.array([rx, ry]) + np.array([cx, cy])


def _hair_cap() -> np.ndarray:
    """The hair on top of the head, head-local: the crown's arc and a fringe hairline."""
    t = np.linspace(math.pi + 0.28, 2 * math.pi - 0.28, 24)
    arc = 1.07 * np.stack([np.cos(t), np.sin(t)], axis=1)
    hairline = [(1.0, -0.3), (0.82, -0.58), (0.35, -0.66), (-0.2, -0.6), (-0.8, -0.56)]
    hairline.append((-1.0, -0.3))
    return np.concatenate([arc, np.array(hairline)])


def _back_hair(drop: float) -> np.ndarray:
    """Hair hanging behind the head down to `drop` head radii below its centre."""
    top = _local_ellipse(0, -0.1, 1.12, 1.02)[14:]  # the upper half, right to left
    return np.concatenate([top, np.array([(-1.18, drop), (1.18, drop)])])


# Head-local shapes (head radii from the head centre; x to the image's right).
HEAD_SHAPES: dict[str, np.ndarray] = {
    "ear_left": _local_ellipse(1.0, 0.04, 0.2, 0.3),
    "ear_right": _local_ellipse(-1.0, 0.04, 0.2, 0.3),
    "ear_in_left": _local_ellipse(1.02, 0.06, 0.09, 0.16),
    "ear_in_right": _local_ellipse(-1.02, 0.06, 0.09, 0.16),
    "outline": _local_ellipse(0, 0, 1.04, 1.03, 40),
    "face": _local_ellipse(0, 0, 1.0, 1.0, 40),
    "cap": _hair_cap(),
    "bald_left": _local_ellipse(0.93, -0.25, 0.13, 0.28),
    "bald_right": _local_ellipse(-0.93, -0.25, 0.13, 0.28),
    "brow_left": np.array([(0.22, -0.27), (0.58, -0.29)]),
    "brow_right": np.array([(-0.22, -0.27), (-0.58, -0.29)]),
    "eye_left": _local_ellipse(0.4, -0.08, 0.19, 0.1, 16),
    "eye_right": _local_ellipse(-0.4, -0.08, 0.19, 0.1, 16),
    "iris_left": _local_ellipse(0.4, -0.08, 0.1, 0.1, 12),
    "iris_right": _local_ellipse(-0.4, -0.08, 0.1, 0.1, 12),
    "nose": np.array([(0.02, -0.02), (0.06, 0.2), (-0.05, 0.25)]),
    "lips": _local_ellipse(0, 0.56, 0.3, 0.08, 16),
    "mouth": np.array([(-0.28, 0.56), (0.28, 0.56)]),
    "hair_long": _back_hair(1.45),
    "hair_bob": _back_hair(0.85),
    "jaw": np.array([(-0.5, 0.55), (0.5, 0.55)]),
}


@dataclass(frozen=True)
class Palette:
    """A subject's drawing colours, derived once from its few base colours."""

    skin: Color
    ear: Color
    ear_in: Color
    face_edge: Color
    neck: Color
    hair: Color
    back_hair: Color
    brow: Color
    nose: Color
    lips: Color
    mouth: Color
    shirt: Color
    collar: Color
    sleeve: Color
    sleeve_edge: Color
    forearm: Color
    forearm_edge: Color
    hand: Color
    hand_edge: Color
    finger_gap: Color


@functools.cache
def palette(s: Subject) -> Palette:
    sleeve = _shade(s.shirt, 0.9)
    forearm = sleeve if s.long_sleeves else _shade(s.skin, 0.95)
    return Palette(
        skin=s.skin,
        ear=_shade(s.skin, 0.9),
        ear_in=_shade(s.skin, 0.72),
        face_edge=_shade(s.skin, 0.75),
        neck=_shade(s.skin, 0.88),
        hair=s.hair,
        back_hair=_shade(s.hair, 0.85),
        brow=_shade(s.hair, 0.8),
        nose=_shade(s.skin, 0.7),
        lips=s.lips,
        mouth=_shade(s.lips, 0.55),
        shirt=s.shirt,
        collar=_shade(s.shirt, 0.6),
        sleeve=sleeve,
        sleeve_edge=_shade(sleeve, 0.55),
        forearm=forearm,
        forearm_edge=_shade(forearm, 0.55),
        hand=s.hand,
        hand_edge=_shade(s.hand, 0.55),
        finger_gap=_shade(s.hand, 0.75),
    )


def draw_torso(c: Canvas, torso: Torso, pal: Palette) -> None:
    s: Subject = torso.subject
    u = torso.unit
    cx, sy = torso.cx, torso.shoulder_y
    head = torso.head_points
    if s.hair_style in ("long", "bob"):  # back hair hangs behind the neck and shoulders
        c.poly(head(HEAD_SHAPES[f"hair_{s.hair_style}"]), pal.back_hair)
    nw = s.neck_w * u / 2
    sh = s.shoulder_half * u
    aw = s.arm_w * u
    bottom = sy + 2.0 * u
    half = np.array(
        [
            (nw * 1.2, -0.012 * u),
            (sh * 0.7, 0.005 * u),
            (sh, aw * 0.35),
            (sh + aw * 0.15, aw * 1.2),
            (s.waist_half * u, bottom - sy),
        ]
    )
    body = np.concatenate([half * np.array([-1, 1]), half[::-1]]) + np.array([cx, sy])
    c.poly(body, pal.shirt)
    jaw = head(HEAD_SHAPES["jaw"])  # the neck runs from under the jaw into the collar
    c.poly(np.concatenate([jaw, [(cx + nw, sy + 0.01 * u), (cx - nw, sy + 0.01 * u)]]), pal.neck)
    v = np.array(
        [(cx - nw * 1.05, sy - 0.004 * u), (cx + nw * 1.05, sy - 0.004 * u), (cx, sy + 0.05 * u)]
    )
    c.poly(v, pal.ear)  # the collar's opening shows skin
    c.line(v[[0, 2, 1]], pal.collar, 0.018 * u)


def draw_head(c: Canvas, torso: Torso, pal: Palette) -> None:
    s = torso.subject
    head = torso.head_points
    shapes = HEAD_SHAPES
    for side in ("left", "right"):  # ears, behind the head's outline
        c.poly(head(shapes[f"ear_{side}"]), pal.ear)
        c.poly(head(shapes[f"ear_in_{side}"]), pal.ear_in)
    c.poly(head(shapes["outline"]), pal.face_edge)
    c.poly(head(shapes["face"]), pal.skin)
    if s.hair_style != "bald":
        c.poly(head(shapes["cap"]), pal.hair)
    else:  # a fringe of hair round the sides
        for side in ("left", "right"):
            c.poly(head(shapes[f"bald_{side}"]), pal.hair)
    for side in ("left", "right"):
        c.line(head(shapes[f"brow_{side}"]), pal.brow, 0.07 * torso.ry)
        c.poly(head(shapes[f"eye_{side}"]), EYE_WHITE)
        c.poly(head(shapes[f"iris_{side}"]), IRIS)
    c.line(head(shapes["nose"]), pal.nose, 0.05 * torso.ry)
    c.poly(head(shapes["lips"]), pal.lips)
    c.line(head(shapes["mouth"]), pal.mouth, 0.03 * torso.ry)


EYE_WHITE: Color = (236, 236, 232)
IRIS: Color = (40, 30, 26)
OUTLINE = 0.55  # output pixels of dark edge round arms and hands


def arm_parts(arm: Arm, torso: Torso) -> list[tuple[str, Point, Point, float]]:
    """The capsules an arm is drawn with (and occludes with): (part, a, b, radius)."""
    s = torso.subject
    u = torso.unit
    palm = s.palm_r * u
    d = arm.direction
    tip = arm.fingertips(palm)
    finger_r = 0.4 * palm
    finger_start = (arm.hand[0] + d[0] * palm * 0.3, arm.hand[1] + d[1] * palm * 0.3)
    finger_end = (tip[0] - d[0] * finger_r, tip[1] - d[1] * finger_r)
    return [
        ("upper", arm.shoulder, arm.elbow, s.arm_w * u / 2),
        ("fore", arm.elbow, arm.wrist, s.forearm_w * u / 2),
        ("palm", arm.hand, arm.hand, palm * 0.92),
        ("fingers", finger_start, finger_end, finger_r),
    ]


def _thumb(arm: Arm, palm: float) -> tuple[Point, Point]:
    d = arm.direction
    # The thumb sits on the side of the hand that faces the body's midline.
    perp = (-d[1], d[0])
    if side_sign(arm.side) * perp[0] > 0:
        perp = (d[1], -d[0])
    a = (arm.hand[0] + perp[0] * palm * 0.55, arm.hand[1] + perp[1] * palm * 0.55)
    b = (a[0] + (perp[0] * 0.35 + d[0] * 0.75) * palm, a[1] + (perp[1] * 0.35 + d[1] * 0.75) * palm)
    return a, b


def draw_arm(c: Canvas, arm: Arm, torso: Torso, pal: Palette) -> None:
    s = torso.subject
    palm = s.palm_r * torso.unit
    parts = arm_parts(arm, torso)
    (_, sh, el, r_up), (_, el2, wr, r_fore), _, (_, fa, fb, fr) = parts
    c.poly(capsule(sh, el, r_up + OUTLINE), pal.sleeve_edge)
    c.poly(capsule(sh, el, r_up), pal.sleeve)
    c.poly(capsule(el2, wr, r_fore + OUTLINE), pal.forearm_edge)
    c.poly(capsule(el2, wr, r_fore), pal.forearm)
    if not s.long_sleeves:  # a short sleeve's hem round the elbow end of the upper arm
        c.poly(ellipse(el, r_up * 0.95, r_up * 0.95, 0.0, 16), pal.sleeve)
    th_a, th_b = _thumb(arm, palm)
    hand_shape = ellipse(arm.hand, palm * 0.92, palm * 0.8, arm.fingers, 24)
    hand_edge = ellipse(arm.hand, palm * 0.92 + OUTLINE, palm * 0.8 + OUTLINE, arm.fingers, 24)
    c.poly(capsule(th_a, th_b, 0.22 * palm + OUTLINE, 6), pal.hand_edge)
    c.poly(hand_edge, pal.hand_edge)
    c.poly(capsule(fa, fb, fr + OUTLINE, 8), pal.hand_edge)
    c.poly(capsule(th_a, th_b, 0.22 * palm, 6), pal.hand)
    c.poly(hand_shape, pal.hand)
    c.poly(capsule(fa, fb, fr, 8), pal.hand)
    # Gaps between the fingers, so a close look shows a hand rather than a mitten.
    d = np.array(arm.direction)
    perp = np.array([-d[1], d[0]])
    knuckles = np.asarray(arm.hand) + d * palm * 0.75
    length = palm * finger_length(arm.curl) * 0.7
    for off in (-0.2, 0.0, 0.2):
        a = knuckles + perp * off * palm
        c.line(np.stack([a, a + d * length]), pal.finger_gap, 0.06 * palm)


def draw_person(c: Canvas, torso: Torso, arms: dict[str, Arm], order: tuple[str, ...]) -> None:
    pal = palette(torso.subject)
    draw_torso(c, torso, pal)
    draw_head(c, torso, pal)
    for side in order:
        draw_arm(c, arms[side], torso, pal)


def render_frame(
    scene: Scene,
    torso: Torso,
    arms: dict[str, Arm],
    order: tuple[str, ...],
    camera: Point,
    rng: np.random.Generator,
    behind: tuple[np.ndarray, Color] | None = None,
) -> np.ndarray:
    """One (size, size, 3) uint8 RGB frame. `camera` is the shake already added to torso;
    `behind` is a polygon (frame pixels) and its colour drawn over the background and
    under the person (the compositional preset's distractor)."""
    k = SUPERSAMPLE
    size = scene.size
    x0 = round(k * (MARGIN - camera[0]))
    y0 = round(k * (MARGIN - camera[1]))
    frame = scene.background.crop((x0, y0, x0 + k * size, y0 + k * size))
    canvas = Canvas(frame)
    if behind is not None:
        canvas.poly(*behind)
    draw_person(canvas, torso, arms, order)
    out = np.asarray(frame.reduce(k), dtype=np.float32)
    gain = scene.gain * (1.0 + scene.flicker * float(rng.uniform(-1, 1)))
    out *= np.float32(gain)
    out += np.asarray(scene.cast, np.float32)
    if scene.noise > 0:
        noise = rng.standard_normal(out.shape, dtype=np.float32)
        noise *= np.float32(scene.noise)
        out += noise
    np.rint(out, out=out)
    np.clip(out, 0, 255, out=out)
    return out.astype(np.uint8)


ARM_JOINTS = ("shoulder", "elbow", "wrist", "hand", "fingertips")


HIDDEN_MARGIN = 1.0  # pixels: a keypoint this close to a covering arm counts as hidden


def _occluders(arm: Arm, torso: Torso) -> list[tuple[str, Point, Point, float]]:
    """Everything an arm covers when drawn (capsules, thumb, outlines), grown by
    HIDDEN_MARGIN so that a visible keypoint's own pixel is untouched by the arm's
    anti-aliased edge."""
    palm = torso.subject.palm_r * torso.unit
    th_a, th_b = _thumb(arm, palm)
    parts = [*arm_parts(arm, torso), ("thumb", th_a, th_b, 0.22 * palm)]
    return [(name, a, b, r + OUTLINE + HIDDEN_MARGIN) for name, a, b, r in parts]


def visibility(
    points: np.ndarray, torso: Torso, arms: dict[str, Arm], order: tuple[str, ...], size: int
) -> np.ndarray:
    """(J,) 1.0 where a keypoint is inside the frame and not hidden behind an arm drawn
    over it, else 0.0. Face and neck points are behind both arms; an arm's joints are
    behind the arms drawn after it."""
    vis = np.ones(len(JOINTS), dtype=np.float32)
    parts = {side: _occluders(arms[side], torso) for side in order}
    for j, name in enumerate(JOINTS):
        x, y = points[j]
        if not (-0.5 <= x < size - 0.5 and -0.5 <= y < size - 0.5):
            vis[j] = 0.0
            continue
        side, _, part = name.partition("_")
        own = side if part in ARM_JOINTS else None
        occluders = order if own is None else order[order.index(own) + 1 :]
        p = (x + 0.5, y + 0.5)  # back to the continuous grid the parts live on
        for side in occluders:
            if any(in_capsule(p, a, b, r) for _, a, b, r in parts[side]):
                vis[j] = 0.0
                break
    return vis
