"""FG-Text templates: same attributes, same text; every paraphrase reads correctly."""

from __future__ import annotations

import subprocess
import sys

import pytest

from fgsgl.text.templates import ATTRIBUTES, FG_TEMPLATES, class_text, fg_text, template_index

EYES = {
    "initiator": "right hand",
    "receiver": "left eye",
    "direction": "upward and inward",
    "motion": "rubs quickly in small circles",
}


def attrs_for_template(k: int, **base: str) -> dict[str, str]:
    """Attributes (varying the direction wording) that select paraphrase k."""
    for i in range(1000):
        a = {**EYES, **base, "direction": f"upward {i}"}
        if template_index(a) == k:
            return a
    raise AssertionError(f"no attributes select template {k}")


def test_attribute_names_are_the_contract():
    assert ATTRIBUTES == ("initiator", "receiver", "direction", "motion")


def test_same_attributes_same_text_whatever_the_spacing_or_order():
    shuffled = {k: EYES[k] for k in reversed(ATTRIBUTES)}
    spaced = {k: f"  {v.replace(' ', '   ')} " for k, v in EYES.items()}
    assert fg_text(shuffled) == fg_text(EYES) == fg_text(spaced)
    assert fg_text({**EYES, "motion": EYES["motion"] + "."}) == fg_text(EYES)


def test_paraphrase_is_stable_across_processes():
    """The choice uses SHA-256, not Python's per-process salted hash()."""
    code = f"from fgsgl.text.templates import fg_text;print(fg_text({EYES!r}))"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert other.returncode == 0, other.stderr
    assert other.stdout.strip() == fg_text(EYES)


def test_known_sentence_one_template_by_default_the_hashed_paraphrase_on_request():
    assert fg_text(EYES) == (
        "A person moves the right hand upward and inward to the left eye and "
        "rubs quickly in small circles."
    )
    assert template_index(EYES) == 1
    assert fg_text(EYES, paraphrase=True) == (
        "Moving the right hand upward and inward, a person reaches the left eye and "
        "rubs quickly in small circles."
    )


@pytest.mark.parametrize("k", range(len(FG_TEMPLATES)))
def test_every_paraphrase_reads_correctly_for_both_hands_and_plural_receivers(k):
    a = attrs_for_template(k, initiator="both hands", receiver="palms", motion="rubs them together")
    text = fg_text(a, paraphrase=True)
    assert text.endswith("rubs them together.")
    assert "both hands" in text and "the both" not in text
    assert "the palms" in text
    assert text[0].isupper() and text.count(".") == 1


@pytest.mark.parametrize("k", range(len(FG_TEMPLATES)))
def test_every_paraphrase_holds_all_four_attributes(k):
    a = attrs_for_template(k)
    text = fg_text(a, paraphrase=True)
    for value in ("the right hand", "the left eye", a["direction"], a["motion"]):
        assert value in text


def test_every_paraphrase_is_used():
    seen = {template_index({**EYES, "direction": f"d{i}"}) for i in range(200)}
    assert seen == set(range(len(FG_TEMPLATES)))


def test_different_attributes_different_text():
    texts = {fg_text({**EYES, a: EYES[a] + " x"}) for a in ATTRIBUTES}
    assert len(texts) == 4 and fg_text(EYES) not in texts


def test_a_given_determiner_is_kept():
    text = fg_text({**EYES, "receiver": "their chin"})
    assert "their chin" in text and "the their" not in text


def test_missing_and_empty_attributes_are_refused():
    with pytest.raises(KeyError, match="motion"):
        fg_text({k: v for k, v in EYES.items() if k != "motion"})
    for empty in ("", "   ", None, float("nan"), "."):
        with pytest.raises(ValueError, match="motion"):
            fg_text({**EYES, "motion": empty})


def test_class_text_is_the_description_else_a_sentence_from_the_name():
    assert class_text("rubbing eyes", "A person rubs their eyes.") == "A person rubs their eyes."
    assert class_text("Rubbing  eyes") == "A person is rubbing eyes."
    assert class_text("rubbing eyes", "  ") == "A person is rubbing eyes."
    assert class_text("rubbing eyes", float("nan")) == "A person is rubbing eyes."
    assert class_text("arms akimbo") == "A person making the micro-gesture arms akimbo."
