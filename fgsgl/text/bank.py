"""The texts artifact, read back: one embedding row per unique text, and each clip's rows.

Training asks for a batch's text rows by clip id; the class granularity (every clip's text
is its class text T_c, the `class_text` ablation) is a second view of the same rows, so it
never needs a second encoding. Equal rows mean equal texts: FG-SA uses that to keep
identical descriptions of other clips out of a clip's negatives.

Layout (docs/artifacts.md, "texts"):
    metadata.json   kind fgsgl.texts; encoder, encoder_revision, dim, pooling,
                    normalization, dataset_fingerprint, num_classes, counts, geometry
                    (fgsgl.text.geometry: how far the T_fg spread inside a class)
    texts.csv       row, kind (fg|class), class_id (-1 for fg rows), text
    embeddings.npy  float32 (rows, dim), L2-normalised, row i = texts.csv row i
    clips.csv       clip_id, label, fg_row (its class row for a clip without a T_fg of its
                    own; -1 in a class-texts-only artifact), class_row, fg_source
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fgsgl.artifacts import read_metadata
from fgsgl.errors import FgsglError

KIND = "fgsgl.texts"
TEXTS_CSV = "texts.csv"
CLIPS_CSV = "clips.csv"
EMBEDDINGS = "embeddings.npy"
GRANULARITIES = ("fine", "class")
TEXT_COLUMNS = ("row", "kind", "class_id", "text")
CLIP_COLUMNS = ("clip_id", "label", "fg_row", "class_row")
_NORM_TOLERANCE = 1e-3


@dataclass(frozen=True, eq=False)
class TextBank:
    """A loaded texts artifact. `embeddings` row i is the text in `texts` row i."""

    path: str
    meta: dict[str, Any]
    texts: pd.DataFrame
    clips: pd.DataFrame
    embeddings: np.ndarray

    @property
    def dim(self) -> int:
        return int(self.embeddings.shape[1])

    @property
    def encoder(self) -> str:
        return str(self.meta["encoder"])

    @property
    def dataset_fingerprint(self) -> str:
        return str(self.meta["dataset_fingerprint"])

    @property
    def num_classes(self) -> int:
        return int(self.meta["num_classes"])

    @property
    def fine_grained(self) -> bool:
        """Whether the clips have fine-grained texts (False: class texts only, the artifact
        of a dataset without attributes; metadata `fine_grained_missing` says why)."""
        return bool(self.meta.get("fine_grained", True))

    def class_rows(self) -> np.ndarray:
        """The embedding row of each class text, by class id."""
        classes = self.texts[self.texts["kind"] == "class"].sort_values("class_id")
        return classes["row"].to_numpy(dtype=np.int64)

    def class_embeddings(self) -> np.ndarray:
        """(C, dim) float32: the class text embeddings t_c, row c for class id c."""
        return self.embeddings[self.class_rows()]

    def rows(self, clip_ids: Iterable[object], granularity: str = "fine") -> np.ndarray:
        """Embedding rows of these clips' texts: T_fg ("fine") or their class's T_c ("class")."""
        if granularity not in GRANULARITIES:
            raise FgsglError(
                f"text granularity {granularity!r}: not one of {', '.join(GRANULARITIES)}"
            )
        ids = [str(c) for c in clip_ids]
        index = pd.Index(self.clips["clip_id"])
        found = index.get_indexer(ids)
        if (found < 0).any():
            missing = [c for c, f in zip(ids, found, strict=True) if f < 0]
            shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
            raise FgsglError(
                f"{self.path}: {len(missing)} clip id(s) have no text here: {shown} "
                "(were the texts encoded from another dataset?)"
            )
        if granularity == "fine" and not self.fine_grained:
            raise FgsglError(
                f"{self.path}: no fine-grained texts (FG-Text) in this texts artifact: "
                f"{self.meta.get('fine_grained_missing') or 'class texts only'}"
            )
        column = "fg_row" if granularity == "fine" else "class_row"
        return self.clips[column].to_numpy(dtype=np.int64)[found]

    def text(self, row: int) -> str:
        return str(self.texts["text"].iat[int(row)])


def _read_csv(path: Path, columns: tuple[str, ...], problems: list[str]) -> pd.DataFrame | None:
    if not path.is_file():
        problems.append(f"{path.name} is missing")
        return None
    # Texts and clip ids stay strings exactly as written ("NA" is a text, "007" an id).
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    lacking = [c for c in columns if c not in frame.columns]
    if lacking:
        problems.append(f"{path.name}: missing column(s) {', '.join(lacking)}")
        return None
    for c in columns:
        if c in ("row", "class_id", "label", "fg_row", "class_row"):
            try:
                frame[c] = frame[c].astype(np.int64)
            except ValueError:
                problems.append(f"{path.name}: column {c} holds a value that is not an integer")
                return None
    return frame


def _check(
    meta: dict[str, Any], texts: pd.DataFrame, clips: pd.DataFrame, emb: np.ndarray
) -> list[str]:
    """Every inconsistency between the files, so a damaged artifact fails here, not in training."""
    problems = []
    n = len(texts)
    if emb.dtype != np.float32 or emb.ndim != 2:
        problems.append(f"{EMBEDDINGS}: expected 2-D float32, found {emb.dtype} {emb.shape}")
        return problems
    if emb.shape != (n, meta.get("dim")):
        problems.append(
            f"{EMBEDDINGS}: shape {emb.shape}, but {TEXTS_CSV} has {n} rows and dim is "
            f"{meta.get('dim')}"
        )
    if not np.array_equal(texts["row"].to_numpy(), np.arange(n)):
        problems.append(f"{TEXTS_CSV}: rows must be numbered 0..{n - 1} in order")
    bad_kind = sorted(set(texts["kind"]) - {"fg", "class"})
    if bad_kind:
        problems.append(f"{TEXTS_CSV}: unknown kind(s) {', '.join(bad_kind)}")
    classes = texts[texts["kind"] == "class"]
    num_classes = meta.get("num_classes")
    if sorted(classes["class_id"]) != list(range(num_classes or 0)):
        problems.append(f"{TEXTS_CSV}: expected one class row for each class id 0..{num_classes}-1")
    elif len(clips):
        class_row = classes.set_index("class_id")["row"]
        labels = clips["label"].to_numpy()
        if ((labels < 0) | (labels >= num_classes)).any():
            problems.append(f"{CLIPS_CSV}: labels outside 0..{num_classes - 1}")
        elif not np.array_equal(clips["class_row"].to_numpy(), class_row.loc[labels].to_numpy()):
            problems.append(f"{CLIPS_CSV}: class_row does not match the class row of each label")
    fg_rows = set(texts.loc[texts["kind"] == "fg", "row"])
    fg = clips["fg_row"].to_numpy()
    if not meta.get("fine_grained", True):
        if (fg != -1).any():
            problems.append(f"{CLIPS_CSV}: fg_row must be -1 in a class-texts-only artifact")
    elif not (np.isin(fg, list(fg_rows)) | (fg == clips["class_row"].to_numpy())).all():
        # a clip without a fine-grained text of its own points at its class text
        problems.append(
            f"{CLIPS_CSV}: fg_row values that are neither fg rows of {TEXTS_CSV} nor the "
            "clip's class row"
        )
    if clips["clip_id"].duplicated().any():
        problems.append(f"{CLIPS_CSV}: duplicate clip ids")
    if n and emb.shape[0] == n:
        norms = np.linalg.norm(emb, axis=1)
        if np.abs(norms - 1).max() > _NORM_TOLERANCE:
            problems.append(f"{EMBEDDINGS}: rows are not L2-normalised")
    return problems


def load_texts(path: str | Path) -> TextBank:
    """Open a texts artifact written by `fgsgl encode-text`, refusing anything inconsistent."""
    directory = Path(path)
    meta = read_metadata(directory, KIND)
    problems: list[str] = []
    texts = _read_csv(directory / TEXTS_CSV, TEXT_COLUMNS, problems)
    clips = _read_csv(directory / CLIPS_CSV, CLIP_COLUMNS, problems)
    emb_path = directory / EMBEDDINGS
    emb = None
    if not emb_path.is_file():
        problems.append(f"{EMBEDDINGS} is missing")
    else:
        try:
            emb = np.load(emb_path, allow_pickle=False)
        except ValueError as e:
            problems.append(f"{EMBEDDINGS}: not a readable .npy array ({e})")
    if texts is not None and clips is not None and emb is not None:
        problems.extend(_check(meta, texts, clips, emb))
    if problems:
        raise FgsglError(f"{directory}: not a valid texts artifact", problems)
    return TextBank(str(directory), meta, texts, clips, emb)
