"""FG-Text templates: the sentence T_fg from the four attributes, and the class text T_c.

One sentence per attribute set by default (FG_TEMPLATES[0]): on SynthMG the paraphrases
made a third of the within-class spread of MiniLM's embeddings (fgsgl.text.geometry), a
difference that is not in the video. With `paraphrase=True` one of a few paraphrases is
chosen by a hash of the attributes themselves, not of the clip, so that the same
attributes always give the same text: identical descriptions then map to one embedding
row, and FG-SA can tell true duplicates from different texts.

The attributes are phrases, as SynthMG and the importers write them:
- initiator: the moving body part ("right hand", "both hands"),
- receiver: what it goes to ("left eye", "palms", "shirt collar"),
- direction: an adverbial ("upward and inward", "across the body", "forward"),
- motion: a verb phrase in the third person ("rubs quickly in small circles",
  "covers it briefly").
The person is always the subject and the body parts stay objects, so every template reads
correctly for one hand or both, a singular receiver or a plural one.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping

ATTRIBUTES = ("initiator", "receiver", "direction", "motion")

FG_TEMPLATES = (
    "A person moves {initiator} {direction} to {receiver} and {motion}.",
    "Moving {initiator} {direction}, a person reaches {receiver} and {motion}.",
    "A person reaches {direction} to {receiver} with {initiator} and {motion}.",
    "With {initiator}, a person reaches {direction} to {receiver} and {motion}.",
)

# A phrase that starts with one of these already has its determiner: no "the" is added.
_DETERMINER = re.compile(
    r"(the|a|an|both|one|each|either|his|her|their|its|my|your|our|this|that|these|those)\b",
    re.IGNORECASE,
)


def _clean(value: object) -> str:
    return " ".join(str(value).strip().split())


def _noun_phrase(phrase: str) -> str:
    """'right hand' -> 'the right hand'; 'both hands' and 'their chin' stay as they are."""
    return phrase if _DETERMINER.match(phrase) else f"the {phrase}"


def _motion(phrase: str) -> str:
    """The verb phrase without a final full stop (the template ends the sentence)."""
    return phrase.rstrip(". ")


def template_index(attributes: Mapping[str, object]) -> int:
    """Which paraphrase a set of attributes gets: stable across runs and machines."""
    key = "\x1f".join(_clean(attributes[a]).lower() for a in ATTRIBUTES)
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big") % len(FG_TEMPLATES)


def fg_text(
    attributes: Mapping[str, object], *, template: int | None = None, paraphrase: bool = False
) -> str:
    """T_fg: one sentence from initiator, receiver, direction and motion.

    The first template, or with `paraphrase` the one the attributes' hash picks; `template`
    forces one (an index into FG_TEMPLATES): fgsgl.text.geometry uses it to tell the
    paraphrases' share of the text spread.
    Raises KeyError naming the missing attribute; empty values are refused (ValueError),
    since a sentence with a hole in it would still embed without complaint.
    """
    values = {}
    for a in ATTRIBUTES:
        if a not in attributes:
            raise KeyError(a)
        v = _clean(attributes[a]) if attributes[a] is not None else ""
        if a == "motion":
            v = _motion(v)
        if not v or v.lower() == "nan":
            raise ValueError(f"attribute {a!r} is empty")
        values[a] = v
    if template is None:
        template = template_index(values) if paraphrase else 0
    chosen = FG_TEMPLATES[template]
    return chosen.format(
        initiator=_noun_phrase(values["initiator"]),
        receiver=_noun_phrase(values["receiver"]),
        direction=values["direction"],
        motion=values["motion"],
    )


def class_text(name: str, description: str | None = None) -> str:
    """T_c: the class description from classes.csv, else a sentence made from the name.

    "rubbing eyes" -> "A person is rubbing eyes."; a name that is not a gerund phrase
    ("arms akimbo") -> "A person making the micro-gesture arms akimbo."
    """
    desc = _clean(description) if description is not None else ""
    if desc and desc.lower() != "nan":
        return desc
    phrase = _clean(name).lower()
    if phrase.split(" ", 1)[0].endswith("ing"):
        return f"A person is {phrase}."
    return f"A person making the micro-gesture {phrase}."
