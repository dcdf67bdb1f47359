"""Each clip's attributes from several people's answers, and how each was decided.

Per clip and attribute, in this order: an adjudication (an answer in a review project)
wins; two or more answers that all agree are unanimous; more than half agreeing is a
majority; one answer is a single annotator's. Where people disagree with no majority the
attribute is disputed: listed for adjudication, its value the derived suggestion in the
meantime (empty without one). An attribute nobody answered takes the derived suggestion
(decided "derived").
"""

from __future__ import annotations

from collections import Counter

import pandas as pd

from fgsgl.text.templates import ATTRIBUTES

DECISIONS = ("unanimous", "majority", "adjudicated", "single annotator", "derived", "disputed")


def decide(values: list[str], adjudicated: list[str]) -> tuple[str | None, str]:
    """(value, how it was decided) of one clip's attribute."""
    if adjudicated:
        return adjudicated[-1], "adjudicated"
    if not values:
        return None, "no answer"
    if len(values) == 1:
        return values[0], "single annotator"
    top, n = Counter(values).most_common(1)[0]
    if n == len(values):
        return top, "unanimous"
    if n * 2 > len(values):
        return top, "majority"
    return None, "disputed"


def consensus(answers: pd.DataFrame, suggestions: pd.DataFrame) -> pd.DataFrame:
    """One row per annotated clip: clip_id, the four attributes, A_decided, A_other."""
    suggested = {(r.clip_id, r.attribute): r.value for r in suggestions.itertuples()}
    keys = ["clip_id", "attribute"]
    said = answers[~answers["review"]].groupby(keys)["value"].agg(list).to_dict()
    adjudicated = answers[answers["review"]].groupby(keys)["value"].agg(list).to_dict()
    texts = answers[answers["other"].astype(bool)]
    other = texts.groupby([*keys, "value"])["other"].first().to_dict()
    rows = []
    for clip in sorted(answers["clip_id"].unique()):
        row: dict[str, str | None] = {"clip_id": clip}
        for a in ATTRIBUTES:
            value, how = decide(said.get((clip, a), []), adjudicated.get((clip, a), []))
            if value is None:  # disputed, or nobody answered it: the derived suggestion
                value = suggested.get((clip, a))
                how = "derived" if how == "no answer" else how
            row[a] = value
            row[f"{a}_decided"] = how
            row[f"{a}_other"] = other.get((clip, a, value), "")
        rows.append(row)
    columns = ["clip_id", *ATTRIBUTES]
    columns += [f"{a}_{k}" for a in ATTRIBUTES for k in ("decided", "other")]
    return pd.DataFrame(rows, columns=columns)


def disagreements(answers: pd.DataFrame, decided: pd.DataFrame) -> pd.DataFrame:
    """clip_id, attribute, annotator, value for every attribute people disagreed on and
    nobody adjudicated (what `fgsgl annotate export --review` takes)."""
    disputed = {
        (clip, a)
        for a in ATTRIBUTES
        for clip in decided.loc[decided[f"{a}_decided"] == "disputed", "clip_id"]
    }
    people = answers[~answers["review"]]
    pairs = zip(people["clip_id"], people["attribute"], strict=True)
    out = people.loc[[p in disputed for p in pairs], ["clip_id", "attribute", "annotator", "value"]]
    return out.sort_values(["clip_id", "attribute", "annotator"]).reset_index(drop=True)
