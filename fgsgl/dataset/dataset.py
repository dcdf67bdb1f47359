"""A loaded, validated dataset: the tables plus what the steps ask of them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from fgsgl import storage
from fgsgl.dataset.contract import (
    CLASSES_COLUMNS,
    CLASSES_CSV,
    MANIFEST_COLUMNS,
    MANIFEST_CSV,
    MANIFEST_PARQUET,
    DatasetError,
    RowNamer,
)
from fgsgl.dataset.fingerprint import files_fingerprint, tables_fingerprint
from fgsgl.dataset.tables import RawTable, read_csv_table, read_parquet_table
from fgsgl.dataset.validate import (
    fg_text_problems,
    missing_file_problems,
    normalise_classes,
    normalise_manifest,
)
from fgsgl.errors import FgsglError
from fgsgl.text.templates import ATTRIBUTES, class_text, fg_text

# Files beside the manifest that record how its keypoints were made (the pose step's, an
# importer's, SynthMG's), searched in this order for `keypoints.joints`.
KEYPOINT_RECORDS = ("keypoints.json", "import.json", "synthmg.json")


@dataclass(frozen=True, eq=False)
class Dataset:
    """A dataset directory that passed validation; tables have the contract's dtypes.

    `root` is an absolute local path or a gs:// / s3:// prefix (no trailing slash); manifest rows
    keep the file's order, classes are sorted by id.
    """

    root: str
    manifest: pd.DataFrame
    classes: pd.DataFrame
    manifest_file: str = MANIFEST_CSV  # the file the manifest came from, for messages

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def class_names(self) -> list[str]:
        return list(self.classes["name"])

    @property
    def class_texts(self) -> list[str]:
        """T_c by class id: the description, else a sentence made from the name."""
        return [
            class_text(name, None if pd.isna(desc) else desc)
            for name, desc in zip(self.classes["name"], self.classes["description"], strict=True)
        ]

    def unlabelled_splits(self) -> list[str]:
        """The splits whose labels are missing (empty in the manifest: withheld by the
        source); evaluation refuses them, prediction runs on them."""
        m = self.manifest
        splits = m["split"].dropna().unique()
        return [s for s in splits if (m.loc[m["split"] == s, "label"] < 0).all()]

    def resolve(self, path: str) -> str:
        """A manifest path as an absolute local path, gs:// or s3:// URI (relative to the root)."""
        if storage.is_remote(path) or Path(path).is_absolute():
            return path
        return storage.join(self.root, path)

    def video_uri(self, video: str) -> str:
        return self.resolve(video)

    def keypoints_uri(self, keypoints: str) -> str:
        return self.resolve(keypoints)

    def annotated(self) -> pd.Series:
        """Per clip (manifest order): whether the manifest gives it a fine-grained text (an
        fg_text, or all four attributes)."""
        m = self.manifest
        return m[list(ATTRIBUTES)].notna().all(axis=1) | m["fg_text"].notna()

    @property
    def has_fg_attributes(self) -> bool:
        """Whether every clip has a fine-grained text (given, or all four attributes)."""
        return bool(self.annotated().all())

    def fg_texts(self) -> pd.Series:
        """T_fg per clip (index clip_id): the fg_text column where given, else the template.

        Raises DatasetError naming every row that has neither.
        """
        if not self.has_fg_attributes:
            problems = fg_text_problems(self.manifest, RowNamer(self.manifest_file))
            raise DatasetError(f"{self.root}: clips lack fine-grained attributes", problems)
        return self.annotated_fg_texts()

    def annotated_fg_texts(self, *, paraphrase: bool = False) -> pd.Series:
        """T_fg per clip from the manifest itself (the fg_text column, else the template of
        its four attributes), None for a clip that has neither (index clip_id)."""
        m = self.manifest
        # One template call per distinct set of attributes, not per clip.
        columns = m[list(ATTRIBUTES)]
        keys = list(columns.astype(object).where(columns.notna(), None).itertuples(False, None))
        complete = {k for k in keys if None not in k}
        built = {
            k: fg_text(dict(zip(ATTRIBUTES, k, strict=True)), paraphrase=paraphrase)
            for k in complete
        }
        texts = [
            given if isinstance(given, str) else built.get(key)
            for given, key in zip(m["fg_text"], keys, strict=True)
        ]
        return pd.Series(texts, index=pd.Index(m["clip_id"], name="clip_id"), name="fg_text")

    def keypoint_joints(self) -> list[str] | None:
        """The joint names of the dataset's keypoints, as the file that made them records
        them (keypoints.json, import.json or synthmg.json: `keypoints.joints`)."""
        import json

        for name in KEYPOINT_RECORDS:
            uri = storage.join(self.root, name)
            if storage.exists(uri):
                record = json.loads(storage.read_bytes(uri))
                joints = (record.get("keypoints") or {}).get("joints")
                if joints:
                    return [str(j) for j in joints]
        return None

    def fingerprint(self, *, videos: bool = False) -> str:
        """Full SHA-256 hex over the canonical tables (16 characters are shown to people).

        videos=True adds each video's (and keypoints file's) size and mtime, or the
        object's version in a store, so that a cache key changes when a video is replaced.
        """
        digest = tables_fingerprint(self.manifest, self.classes)
        if not videos:
            return digest
        paths = [self.video_uri(v) for v in self.manifest["video"]]
        paths += [self.keypoints_uri(k) for k in self.manifest["keypoints"].dropna()]
        return files_fingerprint(digest, paths)

    def missing_files(self) -> list[str]:
        """Problems naming each row whose video or keypoints file does not exist."""
        return missing_file_problems(self.manifest, self.root, RowNamer(self.manifest_file))


def _root(root: str | Path) -> str:
    text = str(root)
    if storage.is_remote(text):
        return text.rstrip("/")
    path = Path(text).expanduser().resolve()
    if not path.is_dir():
        raise DatasetError(f"{root}: {'not a directory' if path.exists() else 'not found'}")
    return str(path)


def _read(uri: str, file: str, known: tuple[str, ...]) -> RawTable:
    data = storage.read_bytes(uri)
    if file.endswith(".parquet"):
        return read_parquet_table(data, file)
    return read_csv_table(data, file, known, exact=("clip_id",))


def _manifest_file(root: str) -> str:
    present = [f for f in (MANIFEST_CSV, MANIFEST_PARQUET) if storage.exists(storage.join(root, f))]
    if len(present) == 2:
        raise DatasetError(
            f"{root}: holds both {MANIFEST_CSV} and {MANIFEST_PARQUET}; keep only one"
        )
    if not present:
        raise DatasetError(f"{root}: no {MANIFEST_CSV} or {MANIFEST_PARQUET}: not a dataset")
    return present[0]


def load_dataset(
    root: str | Path, *, need_fg_text: bool = False, need_labels: bool = True
) -> Dataset:
    """Read and validate a dataset directory (local, gs:// or s3://).

    Raises DatasetError whose `.problems` lists every problem found in both tables, each
    naming the file and row. `need_labels=False` (prediction on new footage) accepts a
    manifest without labels or splits (label -1) and a directory without classes.csv.
    """
    root_s = _root(root)
    manifest_file = _manifest_file(root_s)
    problems: list[str] = []
    tables: dict[str, RawTable] = {}
    files = [(manifest_file, MANIFEST_COLUMNS)]
    if need_labels or storage.exists(storage.join(root_s, CLASSES_CSV)):
        files.append((CLASSES_CSV, CLASSES_COLUMNS))
    for file, known in files:
        try:
            tables[file] = _read(storage.join(root_s, file), file, known)
        except FgsglError as e:  # a missing or malformed file: report it with the rest
            problems.extend(e.problems or [e.message])
    classes = None
    num_classes = None
    if CLASSES_CSV in tables:
        raw = tables[CLASSES_CSV]
        classes, found = normalise_classes(raw.frame, RowNamer(CLASSES_CSV, raw.lines))
        problems.extend(found)
        num_classes = len(classes) or None
    if manifest_file in tables:
        raw = tables[manifest_file]
        manifest, found = normalise_manifest(
            raw.frame,
            RowNamer(manifest_file, raw.lines),
            num_classes=num_classes,
            need_fg_text=need_fg_text,
            need_labels=need_labels,
        )
        problems.extend(found)
    if problems:
        count = f"{len(problems)} problem{'s' if len(problems) > 1 else ''}"
        raise DatasetError(f"{root}: not a valid dataset ({count})", problems)
    if classes is None:  # need_labels=False and no classes.csv
        classes, _ = normalise_classes(pd.DataFrame(columns=list(CLASSES_COLUMNS)), RowNamer(""))
    return Dataset(root=root_s, manifest=manifest, classes=classes, manifest_file=manifest_file)
