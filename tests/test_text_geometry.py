"""Text geometry (fgsgl.text.geometry): pair means over clips by hand, the paraphrases' share
of the within-class spread, and the cases where that share is not computable."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest

from fgsgl.text.geometry import describe_geometry, one_template_texts, text_geometry
from fgsgl.text.templates import FG_TEMPLATES


def _unit(deg: float) -> list[float]:
    return [math.cos(math.radians(deg)), math.sin(math.radians(deg))]


# class 0: text a (0 deg) on two clips, text b (60 deg) on one; class 1: text c (90 deg) twice
FG = np.array([_unit(0), _unit(0), _unit(60), _unit(90), _unit(90)])
LABELS = [0, 0, 0, 1, 1]
TEXT_IDS = ["a", "a", "b", "c", "c"]
CLASSES = np.array([_unit(0), _unit(90)])
# with one template, b moves to 30 deg: half as far from a
ONE = np.array([_unit(0), _unit(0), _unit(30), _unit(90), _unit(90)])


def test_geometry_by_hand():
    g = text_geometry(2.0 * FG, LABELS, CLASSES, TEXT_IDS, ONE)  # normalised inside
    c30, c60 = math.cos(math.radians(30)), 0.5
    # same-class clip pairs: (a,a)=1, (a,b)=cos 60 twice; (c,c)=1
    assert g["same_class_cos"] == pytest.approx((1 + c60 + c60 + 1) / 4, abs=1e-6)
    # of those, the pairs with different texts: (a,b) twice
    assert g["same_class_distinct_cos"] == pytest.approx(c60, abs=1e-6)
    # 3 x 2 cross pairs: a.c = 0 four times, b.c = cos 30 twice
    assert g["different_class_cos"] == pytest.approx(2 * c30 / 6, abs=1e-6)
    # a, a -> class 0: 1; b -> class 0: cos 60; c, c -> class 1: 1
    assert g["fg_to_class_cos"] == pytest.approx((4 + c60) / 5, abs=1e-6)
    assert g["unique_fg_per_class"] == {"min": 1, "mean": 1.5, "max": 2, "per_class": [2, 1]}
    spread = 1 - (2 + 2 * c60) / 4
    spread_one = 1 - (2 + 2 * c30) / 4
    assert g["within_class_spread"] == pytest.approx(spread, abs=1e-6)
    assert g["within_class_spread_one_template"] == pytest.approx(spread_one, abs=1e-6)
    assert g["template_share"] == pytest.approx((spread - spread_one) / spread, abs=1e-6)
    assert g["weighting"] == "clip pairs"


def test_geometry_matches_the_definition_on_random_vectors():
    """The linear-time sums against a plain loop over every pair of distinct clips."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, 40)
    ids = rng.integers(0, 12, 40) * 10 + labels  # texts shared inside a class
    table = rng.normal(size=(200, 8))
    fg = table[ids] / np.linalg.norm(table[ids], axis=1, keepdims=True)
    classes = rng.normal(size=(4, 8))
    g = text_geometry(fg, labels, classes, ids)
    same, distinct, different = [], [], []
    for i, j in itertools.combinations(range(40), 2):
        cos = float(fg[i] @ fg[j])
        if labels[i] != labels[j]:
            different.append(cos)
        else:
            same.append(cos)
            if ids[i] != ids[j]:
                distinct.append(cos)
    assert g["same_class_cos"] == pytest.approx(np.mean(same), abs=1e-5)
    assert g["same_class_distinct_cos"] == pytest.approx(np.mean(distinct), abs=1e-5)
    assert g["different_class_cos"] == pytest.approx(np.mean(different), abs=1e-5)
    unit_classes = classes / np.linalg.norm(classes, axis=1, keepdims=True)
    expected = np.mean([fg[i] @ unit_classes[labels[i]] for i in range(40)])
    assert g["fg_to_class_cos"] == pytest.approx(expected, abs=1e-5)
    assert g["unique_fg_per_class"]["per_class"] == [len(set(ids[labels == c])) for c in range(4)]
    assert g["template_share"] is None and g["within_class_spread_one_template"] is None


def test_no_spread_or_no_pairs_is_not_computable():
    same_text = text_geometry(
        FG[[0, 1, 3, 4]], [0, 0, 1, 1], CLASSES, ["a", "a", "c", "c"], ONE[[0, 1, 3, 4]]
    )
    assert same_text["within_class_spread"] == pytest.approx(0.0, abs=1e-9)
    assert same_text["template_share"] is None
    assert "each class are all the same" in describe_geometry(same_text)[2]
    alone = text_geometry(FG[[0, 3]], [0, 1], CLASSES, ["a", "c"], ONE[[0, 3]])
    assert alone["same_class_cos"] is None and alone["template_share"] is None
    assert "no class has two clips" in describe_geometry(alone)[2]
    assert "same class n/a" in describe_geometry(alone)[0]


def test_describe_prints_every_number():
    lines = describe_geometry(text_geometry(FG, LABELS, CLASSES, TEXT_IDS, ONE))
    assert len(lines) == 3
    assert "same class 0.750 (different texts 0.500), different classes 0.289" in lines[0]
    assert "T_fg to its class text 0.900" in lines[0]
    assert "unique fine-grained texts per class: min 1 / mean 1.5 / max 2" in lines[1]
    assert lines[2].startswith("paraphrase templates make 73% of the within-class spread")
    hand = describe_geometry(text_geometry(FG, LABELS, CLASSES, TEXT_IDS))
    assert "not computable (the texts do not all come from the four attributes)" in hand[2]


ATTRS = {
    "initiator": ["right hand", "left hand", "right hand"],
    "receiver": ["left eye", "neck", "left eye"],
    "direction": ["upward", "upward and inward", "upward"],
    "motion": ["rubs it", "touches it briefly", "rubs it"],
}


def test_one_template_texts_use_one_paraphrase_for_every_clip():
    texts = one_template_texts(pd.DataFrame({**ATTRS, "fg_text": [None] * 3}))
    assert texts is not None and texts[0] == texts[2] != texts[1]
    assert texts[0] == FG_TEMPLATES[0].format(
        initiator="the right hand", receiver="the left eye", direction="upward", motion="rubs it"
    )


def test_one_template_texts_need_the_attributes_behind_every_text():
    by_hand = pd.DataFrame({**ATTRS, "fg_text": ["A person rubs an eye.", None, None]})
    assert one_template_texts(by_hand) is None
    missing = pd.DataFrame({**ATTRS, "fg_text": [None] * 3})
    missing.loc[1, "motion"] = None
    assert one_template_texts(missing) is None
    assert one_template_texts(pd.DataFrame({"fg_text": ["x", "y"]})) is None
