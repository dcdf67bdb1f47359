"""One clip from its seed: draw the instance's attributes, then render every frame.

An `Instance` is what varies inside a class: which hand(s), which side the receiver is
on, the motion pattern, speed and amplitude, where the hands rest, when the gesture
starts, and a small scatter of the contact point (the "subtlety" knob: it blurs the few
pixels that separate e.g. the eyes from the forehead). Its words (initiator, receiver,
direction, motion) go to the manifest and make the fine-grained text.

Everything is drawn from one numpy Generator per clip, seeded from (dataset seed, class,
clip number), so a clip does not change when other clips are added or rendered elsewhere.

Frames are drawn by `render_frames`, for a clip (one gesture filling the recording) and
for a long video (several gestures placed in one Setting, fgsgl.synth.long) alike.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from fgsgl.synth.body import (
    JOINTS,
    RECEIVERS,
    SIDES,
    Arm,
    Placement,
    Subject,
    Torso,
    keypoints,
    other,
    sample_subject,
    side_sign,
    solve_arm,
)
from fgsgl.synth.classes import GestureClass
from fgsgl.synth.motion import (
    AMPLITUDES,
    MOTIONS,
    SPEEDS,
    Timeline,
    direction_phrase,
    envelope,
    lerp_angle,
    min_jerk,
    motion_axis,
    timeline,
)
from fgsgl.synth.render import (
    MARGIN,
    SUPERSAMPLE,
    Scene,
    ellipse,
    make_scene,
    render_frame,
    visibility,
)
from fgsgl.synth.shortcut import Distractor, corner_grey, sample_distractor

SUBJECT_STREAM = 1_000_003  # spawn-key offset that keeps subject seeds apart from clips'


@dataclass(frozen=True)
class Instance:
    initiator: str  # "right hand" | "left hand" | "both hands"
    hands: tuple[str, ...]  # the moving hands' sides, in drawing order
    receiver_sides: dict[str, str]  # hand side -> side of the body its receiver is on
    receiver: str  # key into RECEIVERS
    motion: str  # key into MOTIONS
    speed: str
    amplitude: str | None  # None for held motions (touch, cover)
    rest: str
    timeline: Timeline
    cycles: float
    phase: float
    scatter: tuple[float, float]  # contact point offset, head radii
    drift: float  # held-still hands drift this much (head radii): the subtlety of "still"
    gain: float = 1.0  # the motion's amplitudes are scaled by this (compositional preset)

    def lags(self) -> dict[str, float]:
        """How much later (in clip lengths) each moving hand starts: two hands are not in
        perfect step."""
        return {h: (0.02 * i if len(self.hands) == 2 else 0.0) for i, h in enumerate(self.hands)}

    def receiver_text(self) -> str:
        r = RECEIVERS[self.receiver]
        if len(self.hands) == 2 and r.both_text:
            return r.both_text
        side = self.receiver_sides[self.hands[0]]
        return r.text.format(side=side)

    def motion_text(self) -> str:
        return MOTIONS[self.motion].phrase(self.speed, self.amplitude or "small")


def subject_for(seed: int, index: int, nuisance: float) -> Subject:
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(SUBJECT_STREAM, index)))
    return sample_subject(index, rng, nuisance)


def clip_rng(seed: int, label: int, number: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(label, number)))


def sample_instance(
    gc: GestureClass,
    rng: np.random.Generator,
    subtlety: float,
    *,
    across: float = 0.25,
    gain: float = 1.0,
    tempo: float = 1.0,
) -> Instance:
    """A clip's instance of class `gc`. `across`: how often a one-handed reach to a lateral
    receiver goes to the other side; `gain` and `tempo` scale the motion's amplitude and
    cycles (the compositional preset's; the defaults leave every draw and value as the
    classic presets have them)."""
    initiator = str(rng.choice(gc.hands))
    hands = ("right", "left") if initiator == "both hands" else (initiator.split()[0],)
    lateral = RECEIVERS[gc.receiver].lateral
    sides = {}
    for h in hands:
        if gc.receiver in ("arm", "upper arms"):
            sides[h] = other(h)  # a hand scratches or holds the other arm
        elif lateral and len(hands) == 1 and rng.random() < across:
            sides[h] = other(h)  # reaching across the body
        else:
            sides[h] = h
    kind = str(rng.choice(gc.motions))
    m = MOTIONS[kind]
    speed = str(rng.choice(SPEEDS))
    amplitude = str(rng.choice(AMPLITUDES)) if m.amplitudes else None
    start = float(rng.uniform(0.03, 0.13))
    tl = timeline(kind, speed, start, scale=float(rng.uniform(0.9, 1.1)))
    sigma = 0.06 * subtlety
    scatter = tuple(float(np.clip(rng.normal(0, sigma), -2 * sigma, 2 * sigma)) for _ in "xy")
    return Instance(
        initiator=initiator,
        hands=hands,
        receiver_sides=sides,
        receiver=gc.receiver,
        motion=kind,
        speed=speed,
        amplitude=amplitude,
        rest=str(rng.choice(("lap", "thighs", "armrests"))),
        timeline=tl,
        cycles=m.cycles[SPEEDS.index(speed)] * tempo,
        phase=float(rng.uniform(0, 2 * math.pi)),
        scatter=scatter,
        drift=0.05 * subtlety,
        gain=gain,
    )


@dataclass(frozen=True)
class Sway:
    """Idle motion of a seated person: slow body sway, head tilt and nodding, all small."""

    amp_x: float
    amp_y: float
    tilt: float
    freq: tuple[float, float, float]
    phase: tuple[float, float, float]

    @classmethod
    def sample(cls, rng: np.random.Generator, nuisance: float) -> Sway:
        return cls(
            amp_x=0.012 * nuisance * float(rng.uniform(0.3, 1.0)),
            amp_y=0.004 * nuisance * float(rng.uniform(0.3, 1.0)),
            tilt=math.radians(4.0) * nuisance * float(rng.uniform(0.2, 1.0)),
            freq=tuple(float(f) for f in rng.uniform(0.4, 1.6, 3)),  # cycles per clip
            phase=tuple(float(p) for p in rng.uniform(0, 2 * math.pi, 3)),
        )

    def at(self, t: float) -> tuple[float, float, float]:
        w = [2 * math.pi * f * t + p for f, p in zip(self.freq, self.phase, strict=True)]
        return self.amp_x * math.sin(w[0]), self.amp_y * math.sin(w[1]), self.tilt * math.sin(w[2])


@dataclass
class RenderedClip:
    frames: np.ndarray  # (T, S, S, 3) uint8
    keypoints: np.ndarray  # (T, J, 3) float32: x, y (pixel-index coordinates), visibility
    attributes: dict[str, str]
    contact: tuple[int, int]  # first and last frame of the act phase (inclusive)
    receiver_points: np.ndarray  # (T, H, 2) where each moving hand's receiver is
    hand_points: np.ndarray  # (T, H, 2) where each moving hand's palm centre is
    subject: Subject
    instance: Instance


@dataclass(frozen=True)
class Setting:
    """What stays the same through one recording, a clip or a long video: where the person
    sits, their idle sway and fidgeting, where their hands rest, the scene and the camera's
    path. A long video is one Setting with several gestures placed in it, which is what
    makes it continuous (no jump cuts)."""

    subject: Subject
    place: Placement
    sway: Sway
    scene: Scene
    camera: np.ndarray  # (frames, 2) pixels, already added to the body's position
    fidget: np.ndarray  # (2, 4) amplitudes and phases of the resting hands' fidget
    rest: str
    nuisance: float
    distractor: Distractor | None = None  # the compositional preset's shortcut


def sample_setting(
    subject: Subject,
    rng: np.random.Generator,
    *,
    size: int,
    frames: int,
    rest: str,
    nuisance: float,
    settle: int | None = None,
) -> Setting:
    """Draw a recording's setting of `frames` frames (see `camera_path` for `settle`)."""
    place = Placement.sample(subject, size, rng, nuisance)
    sway = Sway.sample(rng, nuisance)
    chair = (place.cx, place.shoulder_y - 0.1 * place.unit) if rng.random() < 0.6 else None
    scene = make_scene(size, rng, nuisance, chair)
    camera = camera_path(rng, frames, nuisance, settle)
    fidget = rng.normal(0, 1, (2, 4))  # resting hands move a little
    return Setting(subject, place, sway, scene, camera, fidget, rest, nuisance)


def camera_path(
    rng: np.random.Generator, frames: int, nuisance: float, settle: int | None = None
) -> np.ndarray:
    """(frames, 2) camera offsets in pixels: per-frame shake plus a slow drift.

    A clip's drift is a random walk (settle=None). Over a long recording a random walk
    would wander off the background's margin, so there the drift is pulled back towards
    the centre with a time constant of `settle` frames (one clip: it moves as much as a
    clip's does) and the path is kept inside the margin.
    """
    shake = rng.normal(0, 0.35 * nuisance, (frames, 2))
    steps = rng.normal(0, 0.12 * nuisance, (frames, 2))
    if settle is None:
        drift = np.cumsum(steps, axis=0)
        return shake + drift - drift.mean(axis=0)
    keep, at = 1.0 - 1.0 / settle, np.zeros(2)
    drift = np.empty_like(steps)
    for i, step in enumerate(steps):
        at = keep * at + step
        drift[i] = at
    return np.clip(shake + drift - drift.mean(axis=0), 0.5 - MARGIN, MARGIN - 0.5)


@dataclass
class Track:
    """One gesture placed in a recording, frames [start, start + frames), and what
    rendering it measured: each moving hand's receiver and palm centre, the direction."""

    instance: Instance
    start: int
    frames: int
    receivers: np.ndarray = field(init=False)  # (frames, H, 2)
    hands: np.ndarray = field(init=False)  # (frames, H, 2)
    direction: str = ""

    def __post_init__(self) -> None:
        self.receivers = np.empty((self.frames, len(self.instance.hands), 2))
        self.hands = np.empty((self.frames, len(self.instance.hands), 2))

    def contact(self, clip_frames: int) -> tuple[int, int]:
        """First and last frame of the act phase, counted from the track's start: every
        moving hand is on its receiver (frame j shows gesture time (j + .5) / clip_frames)."""
        a, b = self.instance.timeline.contact
        lag = max(self.instance.lags().values())
        return math.ceil((a + lag) * clip_frames - 0.5), math.floor(b * clip_frames - 0.5)

    def attributes(self) -> dict[str, str]:
        """The manifest's words for this gesture (direction is known once rendered)."""
        inst = self.instance
        return {
            "initiator": inst.initiator,
            "receiver": inst.receiver_text(),
            "direction": self.direction,
            "motion": inst.motion_text(),
            "speed": inst.speed,
            "amplitude": inst.amplitude or "",
            "pattern": inst.motion,
            "rest": inst.rest,
        }


def render_frames(
    setting: Setting,
    tracks: list[Track],
    frames: int,
    clip_frames: int,
    rng: np.random.Generator,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Render a recording frame by frame: yields ((S, S, 3) uint8 image, (J, 3) float32
    keypoints) and fills each track's measurements as it passes.

    Time runs in clip lengths (frame i shows time (i + .5) / clip_frames), so the idle
    sway and fidget go at a clip's pace however long the recording. Tracks must not
    overlap; outside them (and before or after a gesture's motion inside them) both
    hands are at their rest, so a recording passes from rest to gesture and back without
    a jump.
    """
    size = setting.scene.size
    place, sway, camera = setting.place, setting.sway, setting.camera
    starts = {track.start: track for track in tracks}
    track: Track | None = None
    for i in range(frames):
        if i in starts:
            track = starts[i]
        elif track is not None and i >= track.start + track.frames:
            track = None
        t = (i + 0.5) / clip_frames
        sx, sy, tilt = sway.at(t)
        cam = (float(camera[i, 0]), float(camera[i, 1]))
        torso = Torso(
            subject=setting.subject,
            cx=place.cx + sx * size + cam[0],
            shoulder_y=place.shoulder_y + sy * size + cam[1],
            unit=place.unit,
            head_angle=tilt,
            head_dx=0.3 * sx * size,
        )
        moving = () if track is None else track.instance.hands
        arms: dict[str, Arm] = {}
        for k, side in enumerate(SIDES):
            rest = _rest(torso, setting.rest, side, t, setting.fidget[k], setting.nuisance * size)
            if track is None or side not in moving:
                arms[side] = solve_arm(torso, side, *rest)
                continue
            inst, h, j = track.instance, moving.index(side), i - track.start
            tg = (j + 0.5) / clip_frames - inst.lags()[side]
            arms[side], track.receivers[j, h] = _moving_arm(torso, inst, side, tg, rest)
            track.hands[j, h] = arms[side].hand
            if j == 0 and h == 0:
                track.direction = direction_phrase(
                    rest[0], track.receivers[0, 0], torso.cx, side, torso.unit
                )
        order = tuple(s for s in SIDES if s not in moving) + moving
        behind = None
        if setting.distractor is not None:
            d = setting.distractor
            x, y = d.at(t)
            behind = (ellipse((x + cam[0], y + cam[1]), d.radius, d.radius, 0.0, 20), d.colour)
        image = render_frame(setting.scene, torso, arms, order, cam, rng, behind=behind)
        kp = np.empty((len(JOINTS), 3), np.float32)
        pts = keypoints(torso, arms)
        kp[:, :2] = pts
        kp[:, 2] = visibility(pts, torso, arms, order, size)
        yield image, kp


def render_clip(
    gc: GestureClass,
    subject: Subject,
    rng: np.random.Generator,
    *,
    size: int,
    frames: int,
    subtlety: float = 1.0,
    nuisance: float = 1.0,
    across: float = 0.25,
    gain: float = 1.0,
    tempo: float = 1.0,
    shortcut: int | None = None,
) -> RenderedClip:
    """One clip of class `gc`; `across`, `gain` and `tempo` as in `sample_instance`, and
    `shortcut` the cue (fgsgl/synth/shortcut.py) of the distractor drawn behind the person
    (None: none, as in the classic presets)."""
    inst = sample_instance(gc, rng, subtlety, across=across, gain=gain, tempo=tempo)
    setting = sample_setting(
        subject, rng, size=size, frames=frames, rest=inst.rest, nuisance=nuisance
    )
    if shortcut is not None:
        grey = corner_grey(setting.scene.background, shortcut, size, SUPERSAMPLE, MARGIN)
        setting = dataclasses.replace(
            setting, distractor=sample_distractor(shortcut, rng, size, grey)
        )
    track = Track(inst, start=0, frames=frames)
    out = np.empty((frames, size, size, 3), np.uint8)
    kps = np.empty((frames, len(JOINTS), 3), np.float32)
    for i, (image, kp) in enumerate(render_frames(setting, [track], frames, frames, rng)):
        out[i], kps[i] = image, kp
    return RenderedClip(
        out,
        kps,
        track.attributes(),
        track.contact(frames),
        track.receivers,
        track.hands,
        subject,
        inst,
    )


def _rest(
    torso: Torso, rest: str, side: str, t: float, fidget: np.ndarray, scale: float
) -> tuple[tuple[float, float], float, float]:
    """A resting hand (palm centre, finger angle, depth), fidgeting a little: `fidget`
    holds x and y amplitudes and their phases; `scale` is nuisance x frame size."""
    point, fingers, depth = torso.rest_point(side, rest)
    w = 2 * math.pi * t
    point = (
        point[0] + 0.006 * scale * fidget[0] * math.sin(w + fidget[2]),
        point[1] + 0.004 * scale * fidget[1] * math.sin(w + fidget[3]),
    )
    return point, fingers, depth


def _moving_arm(
    torso: Torso,
    inst: Instance,
    side: str,
    t: float,
    rest: tuple[tuple[float, float], float, float],
) -> tuple[Arm, tuple[float, float]]:
    """A gesturing arm at clip time t, and the point its receiver is at."""
    (point, palm), fingers, curl, depth = _contact(torso, inst, side, t)
    rest_point, rest_fingers, rest_depth = rest
    phase, s = inst.timeline.phase(t)
    if phase in ("rest", "home"):
        return solve_arm(torso, side, *rest), point
    if phase == "act":
        return solve_arm(torso, side, palm, fingers, depth, curl), point
    # Reaching (or returning): a minimum-jerk path that bulges outwards a little.
    s = min_jerk(s) if phase == "reach" else 1.0 - min_jerk(s)
    bulge = side_sign(side) * 0.05 * torso.unit * math.sin(math.pi * s)
    pos = (
        rest_point[0] + (point[0] - rest_point[0]) * s + bulge,
        rest_point[1] + (point[1] - rest_point[1]) * s,
    )
    arm = solve_arm(
        torso,
        side,
        pos,
        lerp_angle(rest_fingers, fingers, s),
        rest_depth + (depth - rest_depth) * s,
        0.2 + (curl - 0.2) * s,
    )
    return arm, point


def _contact(
    torso: Torso, inst: Instance, side: str, t: float
) -> tuple[tuple[tuple[float, float], tuple[float, float]], float, float, float]:
    """((receiver point, palm centre with the motion's offset), finger angle, curl, depth)."""
    point, fingers, depth = torso.receiver_point(
        inst.receiver, side, inst.receiver_sides[side], inst.rest
    )
    ry = torso.ry
    sign = side_sign(side)
    point = (point[0] + sign * inst.scatter[0] * ry, point[1] + inst.scatter[1] * ry)
    m = MOTIONS[inst.motion]
    phase, u = inst.timeline.phase(t)
    u = u if phase == "act" else 0.0
    amp = 0.0 if m.amplitudes is None else m.amplitudes[AMPLITUDES.index(inst.amplitude)]
    amp *= inst.gain
    axis = motion_axis(inst.motion, inst.receiver, inst.receiver_sides[side])
    dx, dy, curl = m.pattern(u, amp, inst.cycles, inst.phase, sign, axis)
    env = envelope(u)
    if m.held:  # a held hand is never perfectly still
        dx += inst.drift * math.sin(2 * math.pi * u + inst.phase)
        dy += inst.drift * math.cos(2 * math.pi * u + inst.phase)
    palm = (point[0] + env * dx * ry, point[1] + env * dy * ry)
    return (point, palm), fingers, curl, depth
