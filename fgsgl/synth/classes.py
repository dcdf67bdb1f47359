"""SynthMG's gesture classes as plain data: what is touched, how, and with which hands.

The classes are modelled on iMiGUE and SMG categories (touching forehead, rubbing eyes,
covering mouth, scratching neck, folding arms, minaret gesture, ...). They are ordered so
that the first 12 (the default) already hold every kind of hard pair:

- target height only: touching forehead / rubbing eyes, touching nose / covering mouth,
  scratching head / touching ear: the hands land a few pixels apart on the face;
- motion pattern only: touching neck / scratching neck (same place, still vs. moving
  fingers), rubbing hands / minaret gesture (palms sliding vs. fingertips tapping);
- both a little: pulling shirt collar sits just below touching neck.

`receiver` and `motions` name entries of `fgsgl.synth.body.RECEIVERS` and
`fgsgl.synth.motion.MOTIONS`. `hands` lists the initiators a clip may draw from.
"""

from __future__ import annotations

from dataclasses import dataclass

ONE_HAND = ("right hand", "left hand")
ANY_HANDS = ("right hand", "left hand", "both hands")
BOTH_HANDS = ("both hands",)


@dataclass(frozen=True)
class GestureClass:
    name: str
    description: str  # the class-level text T_c
    receiver: str
    motions: tuple[str, ...]
    hands: tuple[str, ...] = ONE_HAND
    twin: str | None = None  # the class it is easiest to confuse with


CLASSES: tuple[GestureClass, ...] = (
    GestureClass(
        "touching forehead",
        "A person touches or rubs their forehead with one hand.",
        "forehead",
        ("touch", "rub_side"),
        twin="rubbing eyes",
    ),
    GestureClass(
        "rubbing eyes",
        "A person rubs their eyes with one or both hands.",
        "eye",
        ("rub_circle",),
        hands=ANY_HANDS,
        twin="touching forehead",
    ),
    GestureClass(
        "touching nose",
        "A person touches or rubs their nose with one hand.",
        "nose",
        ("touch", "rub_circle"),
        twin="covering mouth",
    ),
    GestureClass(
        "covering mouth",
        "A person covers their mouth with one hand.",
        "mouth",
        ("cover",),
        twin="touching nose",
    ),
    GestureClass(
        "scratching head",
        "A person scratches the side of their head with one hand.",
        "head",
        ("scratch",),
        twin="touching ear",
    ),
    GestureClass(
        "touching ear",
        "A person touches or tugs at one of their ears.",
        "ear",
        ("touch", "pull"),
        twin="scratching head",
    ),
    GestureClass(
        "touching neck",
        "A person touches their neck with one hand and holds it there.",
        "neck",
        ("touch",),
        twin="scratching neck",
    ),
    GestureClass(
        "scratching neck",
        "A person scratches their neck with one hand.",
        "neck",
        ("scratch",),
        twin="touching neck",
    ),
    GestureClass(
        "rubbing hands",
        "A person rubs their hands together in front of their body.",
        "hands",
        ("rub_hands",),
        hands=BOTH_HANDS,
        twin="minaret gesture",
    ),
    GestureClass(
        "minaret gesture",
        "A person presses their fingertips together in a steeple in front of their body.",
        "fingertips",
        ("steeple",),
        hands=BOTH_HANDS,
        twin="rubbing hands",
    ),
    GestureClass(
        "folding arms",
        "A person folds their arms across their chest.",
        "upper arms",
        ("fold",),
        hands=BOTH_HANDS,
    ),
    GestureClass(
        "pulling shirt collar",
        "A person pulls at the collar of their shirt with one hand.",
        "collar",
        ("pull",),
        twin="touching neck",
    ),
    GestureClass(
        "touching jaw",
        "A person touches or strokes their chin and jaw with one hand.",
        "chin",
        ("touch", "stroke"),
        twin="covering mouth",
    ),
    GestureClass(
        "scratching arm",
        "A person scratches or rubs the upper arm on the other side with one hand.",
        "arm",
        ("scratch", "rub_side"),
    ),
    GestureClass(
        "scratching chest",
        "A person scratches or rubs their chest with one hand.",
        "chest",
        ("scratch", "rub_circle"),
        twin="pulling shirt collar",
    ),
    GestureClass(
        "playing with hair",
        "A person strokes the hair at the side of their head with one hand.",
        "hair",
        ("stroke",),
        twin="scratching head",
    ),
)

MAX_CLASSES = len(CLASSES)
MIN_CLASSES = 2


def class_table(count: int) -> list[GestureClass]:
    """The first `count` classes (ids 0..count-1)."""
    if not MIN_CLASSES <= count <= MAX_CLASSES:
        raise ValueError(f"classes must be {MIN_CLASSES}..{MAX_CLASSES}, not {count}")
    return list(CLASSES[:count])
