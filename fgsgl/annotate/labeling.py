"""The Label Studio labeling config: the clip's video and one choice per FG-Text attribute.

The choices are the shipped vocabularies (fgsgl/attributes/vocabulary.yaml), so every
answer is a value the FG-Text templates read correctly, and every derived suggestion is a
legal answer. "other" opens a text box for a value the vocabulary lacks. Each attribute
has its own row of hotkeys (disjoint, so one key never means two things).
"""

from __future__ import annotations

from xml.etree import ElementTree as ET

from fgsgl.attributes.vocabulary import OTHER, vocabulary
from fgsgl.text.templates import ATTRIBUTES

VIDEO = "video"  # the Video tag's name: every control labels it
OTHER_SUFFIX = "_other"  # the free-text box of an attribute: initiator_other, ...
HOTKEYS = {
    "initiator": "1234567890",
    "direction": "qwertyuiop",
    "motion": "asdfghjkl",
    "receiver": "zxcvbnm",
}
QUESTIONS = {
    "initiator": "Initiator: which body part acts?",
    "receiver": "Receiver: what does it act on?",
    "direction": "Direction: which way does it move?",
    "motion": "Motion: what does it do?",
}


def other_name(attribute: str) -> str:
    return f"{attribute}{OTHER_SUFFIX}"


def labeling_config() -> str:
    """The labeling config XML (one `<Choices>` per attribute, `required`)."""
    view = ET.Element("View")
    ET.SubElement(view, "Header", value="$title")
    ET.SubElement(view, "Video", name=VIDEO, value="$video", framerate="$fps", height="360")
    for attribute in ATTRIBUTES:
        ET.SubElement(view, "Header", value=QUESTIONS[attribute], size="5")
        choices = ET.SubElement(
            view,
            "Choices",
            name=attribute,
            toName=VIDEO,
            choice="single-radio",
            showInline="true",
            required="true",
        )
        keys = iter(HOTKEYS[attribute])
        for value in vocabulary()[attribute]:
            attrs = {"value": value}
            key = next(keys, None)
            if key is not None:
                attrs["hotkey"] = key
            ET.SubElement(choices, "Choice", attrs)
        ET.SubElement(
            view,
            "TextArea",
            name=other_name(attribute),
            toName=VIDEO,
            placeholder=f"the {attribute}, in your words (you chose {OTHER})",
            maxSubmissions="1",
            visibleWhen="choice-selected",
            whenTagName=attribute,
            whenChoiceValue=OTHER,
        )
    ET.indent(view)
    return ET.tostring(view, encoding="unicode") + "\n"


def control_names() -> set[str]:
    """Every control this config has (what an export of one of its projects may name)."""
    return {*ATTRIBUTES, *(other_name(a) for a in ATTRIBUTES)}
