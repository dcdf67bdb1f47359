"""Writing a dataset directory: validate first, so that nothing invalid is ever written."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from fgsgl.dataset.contract import (
    CLASSES_CSV,
    CLASSES_REQUIRED,
    MANIFEST_CSV,
    MANIFEST_PARQUET,
    REQUIRED_COLUMNS,
    DatasetError,
)
from fgsgl.dataset.tables import write_csv, write_parquet
from fgsgl.dataset.validate import normalise_tables


def write_tables(
    directory: str | Path,
    manifest: pd.DataFrame,
    classes: pd.DataFrame,
    *,
    manifest_format: str = "csv",
) -> None:
    """Validate, then write manifest.csv (or .parquet) and classes.csv into `directory`.

    Raises DatasetError listing every problem before anything is written. Columns are
    written in the contract's order (extra columns after them); optional columns that are
    empty in every row are left out.
    """
    if manifest_format not in ("csv", "parquet"):
        raise ValueError(f"manifest_format must be csv or parquet, not {manifest_format!r}")
    manifest_n, classes_n, problems = normalise_tables(manifest, classes)
    if problems:
        raise DatasetError(f"{directory}: refusing to write an invalid dataset", problems)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    name, other = (MANIFEST_CSV, MANIFEST_PARQUET)
    if manifest_format == "parquet":
        name, other = other, name
    if (directory / other).exists():
        raise DatasetError(f"{directory}: already holds {other}; a dataset has one manifest")
    manifest_n = _drop_empty(manifest_n, keep=REQUIRED_COLUMNS)
    unlabelled = manifest_n["label"] < 0  # in memory -1; on disk an empty cell, never an id
    if unlabelled.any():
        manifest_n["label"] = manifest_n["label"].astype("Int64").mask(unlabelled)
    classes_n = _drop_empty(classes_n, keep=CLASSES_REQUIRED)
    if manifest_format == "parquet":
        write_parquet(manifest_n, directory / name)
    else:
        write_csv(manifest_n, directory / name)
    write_csv(classes_n, directory / CLASSES_CSV)


def _drop_empty(frame: pd.DataFrame, keep: tuple[str, ...]) -> pd.DataFrame:
    """Leave out optional columns with no value in any row: they read back the same."""
    empty = [
        c
        for c in frame.columns
        if c not in keep and (frame[c].isna() | (frame[c].astype("str") == "")).all()
    ]
    return frame.drop(columns=empty)
