"""What every importer returns, and writing it out as a dataset directory.

Importers only read: they return the tables (validated later, all problems at once), notes
for the user, and files made from the source that the dataset holds (keypoints converted
from skeleton files, in a scratch folder). `write_import` joins FG annotations, validates
and writes through a staged directory, so a failed import never leaves a partial OUT behind.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from fgsgl import __version__
from fgsgl.artifacts import staged_dir, write_json
from fgsgl.dataset.contract import CLASSES_COLUMNS, DatasetError, RowNamer
from fgsgl.dataset.dataset import Dataset, load_dataset
from fgsgl.dataset.importers.fg_annotations import join_fg_annotations
from fgsgl.dataset.importers.splits import ReferenceSplit
from fgsgl.dataset.tables import read_csv_table
from fgsgl.dataset.validate import normalise_classes
from fgsgl.dataset.write import write_tables

IMPORT_RECORD = "import.json"


@dataclass
class Imported:
    """An imported dataset before it is written: tables, notes and how it was made."""

    source: str
    importer: str
    manifest: pd.DataFrame
    classes: pd.DataFrame
    options: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)  # path in OUT -> file to copy there
    keypoints: dict[str, Any] | None = None  # import.json's record of converted skeletons
    scratch: tempfile.TemporaryDirectory | None = None  # holds `files` until written
    reference: ReferenceSplit | None = None  # published clips per split, printed beside ours


def classes_table(names: list[str] | tuple[str, ...]) -> pd.DataFrame:
    return pd.DataFrame({"id": range(len(names)), "name": list(names)})


def read_class_names(path: Path) -> list[str]:
    """Class names from a file: `id,name[,description]` CSV, `id<TAB>name` lines (MA-52's
    label_name.txt), or one name per line. A tab anywhere means `id<TAB>name` lines: a
    name never has a tab in it."""
    if not path.is_file():
        raise DatasetError(f"{path}: class list not found")
    data = path.read_bytes()
    first = data.decode("utf-8-sig", errors="replace").lstrip().split("\n", 1)[0]
    if first.replace(" ", "").startswith("id,name"):
        table = read_csv_table(data, path.name, CLASSES_COLUMNS)
        classes, problems = normalise_classes(table.frame, RowNamer(path.name, table.lines))
        if problems:
            raise DatasetError(f"{path}: bad class list", problems)
        return list(classes["name"])
    if b"\t" in data:
        return _id_tab_names(path, data.decode("utf-8-sig"))
    names = [line.strip() for line in data.decode("utf-8-sig").splitlines() if line.strip()]
    if not names:
        raise DatasetError(f"{path}: no class names")
    return names


def _id_tab_names(path: Path, text: str) -> list[str]:
    """Names from `id<TAB>name` lines, ids 0..C-1 in any order; every bad line named."""
    ids, names, lines, problems = [], [], [], []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        cid, tab, name = line.strip().partition("\t")
        if not tab or not cid.strip().isdigit() or not name.strip() or "\t" in name.strip():
            problems.append(f"{path.name} line {number}: {line.strip()!r} is not `id<TAB>name`")
            continue
        ids.append(cid.strip())
        names.append(name.strip())
        lines.append(number)
    if problems:
        raise DatasetError(f"{path}: bad class list (lines of `id<TAB>name`)", problems)
    table = pd.DataFrame({"id": ids, "name": names})
    classes, problems = normalise_classes(table, RowNamer(path.name, tuple(lines)))
    if problems:
        raise DatasetError(f"{path}: bad class list", problems)
    return list(classes["name"])


def write_import(
    imported: Imported,
    out: str | Path,
    *,
    fg_annotations: Path | None = None,
    force: bool = False,
) -> Dataset:
    """Join annotations, validate, then write OUT (manifest.csv, classes.csv, import.json).

    Refuses an existing OUT unless `force`. Raises DatasetError listing every problem
    before anything is written.
    """
    out = Path(out)
    if out.exists() and not force:
        raise DatasetError(f"{out} already exists; pass --force to replace it")
    manifest = imported.manifest
    notes = list(imported.notes)
    if fg_annotations is not None:
        manifest, note = join_fg_annotations(manifest, fg_annotations)
        notes.append(note)
    with staged_dir(out, overwrite=force) as tmp:
        write_tables(tmp, manifest, imported.classes)
        for rel, source in imported.files.items():
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, tmp / rel)
        write_json(
            tmp / IMPORT_RECORD,
            {
                "importer": imported.importer,
                "source": imported.source,
                "options": imported.options,
                "fg_annotations": str(fg_annotations) if fg_annotations else None,
                "notes": notes,
                "keypoints": imported.keypoints,
                "fgsgl_version": __version__,
            },
        )
    imported.notes = notes
    return load_dataset(out)
