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

The compositional preset has its own table (COMPOSITIONAL_CLASSES): every pair of four
receivers and four motions is a class, so each receiver and each motion is shared by four
classes and two classes in a row or a column differ in exactly one attribute (scratching
neck / scratching cheek, scratching neck / stroking neck). The receivers are far enough
apart to tell at 64 px (forehead, cheek, neck, the other upper arm: 6-15 px), and every
motion reads naturally on every one of them; two of them are lateral (cheek: either side,
the arm: always the other one), so the receiver's side varies inside a class.
"""

from __future__ import annotations

from collections import Counter
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


def class_table(count: int, names: tuple[str, ...] | None = None) -> list[GestureClass]:
    """The first `count` classes (ids 0..count-1), or the classes `names` names, in that
    order (a subset: SynthConfig.class_names)."""
    if not MIN_CLASSES <= count <= MAX_CLASSES:
        raise ValueError(f"classes must be {MIN_CLASSES}..{MAX_CLASSES}, not {count}")
    if names is None:
        return list(CLASSES[:count])
    by_name = {c.name: c for c in CLASSES}
    return [by_name[n] for n in names]


# The compositional grid: class id = receiver index x len(motions) + motion index.
COMPOSITIONAL_RECEIVERS = ("forehead", "cheek", "neck", "arm")
COMPOSITIONAL_MOTIONS = ("touch", "rub_circle", "scratch", "stroke")
_RECEIVER_WORDS = {  # (in a class name, in a class text)
    "forehead": ("forehead", "their forehead"),
    "cheek": ("cheek", "one of their cheeks"),
    "neck": ("neck", "their neck"),
    "arm": ("arm", "the upper arm on the other side"),
}
_MOTION_WORDS = {  # (gerund, the class text's verb phrase around the receiver)
    "touch": ("touching", "touches {r} with one hand"),
    "rub_circle": ("rubbing", "rubs {r} in circles with one hand"),
    "scratch": ("scratching", "scratches {r} with one hand"),
    "stroke": ("stroking", "strokes {r} from side to side with one hand"),
}


def _grid_class(receiver: str, motion: str) -> GestureClass:
    name_word, text_word = _RECEIVER_WORDS[receiver]
    gerund, phrase = _MOTION_WORDS[motion]
    return GestureClass(
        f"{gerund} {name_word}",
        f"A person {phrase.format(r=text_word)}.",
        receiver,
        (motion,),
    )


COMPOSITIONAL_CLASSES: tuple[GestureClass, ...] = tuple(
    _grid_class(r, m) for r in COMPOSITIONAL_RECEIVERS for m in COMPOSITIONAL_MOTIONS
)


def low_shot_problems(low_shot: tuple[int, ...], classes: int) -> list[str]:
    """Why a set of low-shot class ids cannot be learnt from the other classes: each
    low-shot class's receiver and motion must each appear in at least two normal classes
    (that is what makes it learnable from attributes it shares)."""
    out = []
    bad = [c for c in low_shot if not 0 <= c < classes]
    if bad:
        return [f"compositional low_shot ids must be 0..{classes - 1}, not {bad}"]
    if len(set(low_shot)) != len(low_shot):
        out.append(f"compositional low_shot ids repeat: {list(low_shot)}")
    normal = [c for i, c in enumerate(COMPOSITIONAL_CLASSES) if i not in low_shot]
    receivers = Counter(c.receiver for c in normal)
    motions = Counter(c.motions[0] for c in normal)
    for i in sorted(set(low_shot)):
        c = COMPOSITIONAL_CLASSES[i]
        if receivers[c.receiver] < 2 or motions[c.motions[0]] < 2:
            out.append(
                f"compositional low-shot class {i} ({c.name}): its receiver and its motion "
                f"must each be in >= 2 normal classes (receiver in {receivers[c.receiver]}, "
                f"motion in {motions[c.motions[0]]})"
            )
    return out
