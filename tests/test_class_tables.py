"""The class attribute tables: legal values, one row per built-in class, sentences that render."""

from __future__ import annotations

import pandas as pd
import pytest

from fgsgl.attributes import class_tables
from fgsgl.attributes.class_tables import COLUMNS, class_attributes, table_rows
from fgsgl.attributes.vocabulary import OTHER, vocabulary
from fgsgl.dataset.importers.class_names import (
    IMIGUE_CLASSES,
    MA52_BODY_PART_OF,
    MA52_BODY_PARTS,
    MA52_CLASSES,
    SMG_CLASSES,
)
from fgsgl.text.templates import ATTRIBUTES, FG_TEMPLATES, fg_text

TABLES = {"smg": SMG_CLASSES, "imigue": IMIGUE_CLASSES, "ma52": MA52_CLASSES}


@pytest.fixture(scope="module")
def rows() -> pd.DataFrame:
    return table_rows()


def test_columns_and_datasets(rows):
    assert tuple(rows.columns) == COLUMNS
    assert set(rows["dataset"]) == set(TABLES)
    assert rows[list(COLUMNS)].ne("").all().all()


def test_pandas_reads_the_packaged_csv_with_comment_lines():
    from importlib.resources import files

    path = files("fgsgl.attributes").joinpath("class_attributes.csv")
    assert path.read_text(encoding="utf-8").startswith("# ")
    with path.open("r", encoding="utf-8") as f:
        df = pd.read_csv(f, comment="#")
    assert list(df.columns) == list(COLUMNS)
    assert len(df) == 17 + 32 + 52


@pytest.mark.parametrize("attribute", ATTRIBUTES)
def test_every_value_is_in_the_vocabulary_and_none_is_other(rows, attribute):
    legal = set(vocabulary()[attribute])
    bad = sorted(set(rows[attribute]) - legal)
    assert bad == []
    assert OTHER not in set(rows[attribute])


@pytest.mark.parametrize("dataset", list(TABLES))
def test_one_row_per_class_with_its_id_and_exact_name(rows, dataset):
    names = TABLES[dataset]
    mine = rows[rows["dataset"] == dataset]
    assert len(mine) == len(names)
    assert sorted(mine["class_id"]) == list(range(len(names)))
    for i, name in enumerate(names):
        match = mine[mine["class_id"] == i]
        assert len(match) == 1
        assert match["class_name"].iloc[0] == name


@pytest.mark.parametrize("dataset", list(TABLES))
def test_classes_of_one_dataset_have_distinct_attributes(rows, dataset):
    """Two classes with the same four values would get one and the same T_fg."""
    mine = rows[rows["dataset"] == dataset]
    dup = mine[mine.duplicated(list(ATTRIBUTES), keep=False)]
    assert dup["class_name"].tolist() == []


def test_every_row_renders_in_every_template(rows):
    for row in rows.to_dict("records"):
        for k in range(len(FG_TEMPLATES)):
            text = fg_text(row, template=k)
            assert text.endswith(".") and "{" not in text
            assert row["receiver"] in text and row["initiator"] in text
    eyes = rows[(rows["dataset"] == "smg") & (rows["class_id"] == 1)].iloc[0].to_dict()
    assert fg_text(eyes) == (
        "A person moves the right hand upward and inward to the eyes and rubs it in circles."
    )


def test_lookup_finds_smg_in_another_order_and_case_and_leaves_unknown_out(rows):
    smg = rows[rows["dataset"] == "smg"].set_index("class_name")
    names = [f"  {n.upper()} " if i % 2 else n.lower() for i, n in enumerate(SMG_CLASSES)]
    names = [*names[::-1], "juggling three oranges"]
    found = class_attributes(names)
    assert sorted(found) == list(range(len(SMG_CLASSES)))  # the unknown last name is out
    for i, original in enumerate(reversed(SMG_CLASSES)):
        assert found[i] == {a: smg.loc[original, a] for a in ATTRIBUTES}
    assert class_attributes(["arms   AKIMBO"]) == {
        0: {
            "initiator": "both hands",
            "receiver": "waist",
            "direction": "downward and outward",
            "motion": "rests on it and holds still",
        }
    }
    assert class_attributes([]) == {}


def test_every_builtin_class_list_is_fully_covered():
    for names in TABLES.values():
        assert sorted(class_attributes(list(names))) == list(range(len(names)))


def test_a_name_in_two_tables_takes_the_first_dataset(monkeypatch):
    fake = pd.DataFrame(
        [
            ["ma52", 0, "waving", "right hand", "palms", "inward", "taps it"],
            ["imigue", 3, "Waving", "left hand", "chin", "forward", "grips it"],
            ["ma52", 1, "nodding", "head", "chest", "straight downward", "holds still"],
        ],
        columns=list(COLUMNS),
    )
    monkeypatch.setattr(class_tables, "_rows", lambda: fake)
    class_tables._by_name.cache_clear()
    try:
        found = class_attributes(["nodding", "WAVING"])
        assert found[1]["initiator"] == "left hand"  # imigue before ma52
        assert found[0]["motion"] == "holds still"
    finally:
        class_tables._by_name.cache_clear()


def test_ma52_body_parts_group_the_52_classes_in_order():
    assert len(MA52_CLASSES) == 52 and len(set(MA52_CLASSES)) == 52
    assert len(MA52_BODY_PARTS) == 7
    assert len(MA52_BODY_PART_OF) == 52
    assert list(MA52_BODY_PART_OF) == sorted(MA52_BODY_PART_OF)
    assert set(MA52_BODY_PART_OF) == set(range(7))
    part = dict(zip(MA52_CLASSES, MA52_BODY_PART_OF, strict=True))
    assert MA52_BODY_PARTS[part["nodding"]] == "head"
    assert MA52_BODY_PARTS[part["crossing legs"]] == "lower limb"
    assert MA52_BODY_PARTS[part["pushing glasses"]] == "head-hand"
    assert MA52_BODY_PARTS[part["scratching feet"]] == "leg-hand"
