"""Class-level FG-Text attributes: the typical four attributes of each class (shipped data).

No public micro-gesture dataset ships FG-Text attributes, so class_attributes.csv holds our
own table for the classes of SMG, iMiGUE and MA-52, written from their class names and the
datasets' descriptions (not the paper's annotations). A clip whose attributes are unknown
takes its class's row, and the class-level FG-Text setting gives every clip its class's row.

A dataset is matched by its class names, not by which dataset it claims to be: an imported
SMG or iMiGUE, or any dataset that reuses their names, finds its rows.
"""

from __future__ import annotations

import functools
from importlib.resources import files

import pandas as pd

from fgsgl.text.templates import ATTRIBUTES

CSV = "class_attributes.csv"
COLUMNS = ("dataset", "class_id", "class_name", *ATTRIBUTES)
# Where one name is in several tables with different values, the first of these wins.
DATASETS = ("smg", "imigue", "ma52")


def table_rows() -> pd.DataFrame:
    """The packaged table, one row per class of each dataset (COLUMNS, `#` lines skipped)."""
    return _rows().copy()


@functools.cache
def _rows() -> pd.DataFrame:
    with files("fgsgl.attributes").joinpath(CSV).open("r", encoding="utf-8") as f:
        df = pd.read_csv(f, comment="#", dtype=str, keep_default_na=False)
    df["class_id"] = df["class_id"].astype(int)
    return df[list(COLUMNS)]


def _key(name: str) -> str:
    return " ".join(str(name).split()).lower()


@functools.cache
def _by_name() -> dict[str, dict[str, str]]:
    """normalized class name -> its attributes, the first dataset in DATASETS winning."""
    rows = _rows()
    order = {d: i for i, d in enumerate(DATASETS)}
    ranked = rows.assign(_rank=rows["dataset"].map(order).fillna(len(DATASETS)))
    ranked = ranked.sort_values(["_rank", "class_id"], kind="stable")
    out: dict[str, dict[str, str]] = {}
    for row in ranked.itertuples(index=False):
        out.setdefault(_key(row.class_name), {a: getattr(row, a) for a in ATTRIBUTES})
    return out


def class_attributes(class_names: list[str]) -> dict[int, dict[str, str]]:
    """class id (position in `class_names`) -> {initiator, receiver, direction, motion}.

    Names are matched case- and whitespace-insensitively against every table; a name no
    table has is left out (the caller decides what an untabled class gets). A name that two
    datasets' tables give different values takes the first of smg, imigue, ma52.
    """
    table = _by_name()
    out: dict[int, dict[str, str]] = {}
    for i, name in enumerate(class_names):
        found = table.get(_key(name))
        if found is not None:
            out[i] = dict(found)
    return out
