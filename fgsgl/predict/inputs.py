"""What `fgsgl predict` reads: each INPUT resolved into clips, every problem found at once.

An INPUT is one of:
- a video file (local path, gs:// or s3:// URI): one clip, the whole video;
- a folder: every video file under it (by suffix, recursively, sorted), one clip each;
- a dataset directory (manifest.csv / manifest.parquet): its clips (start/end frames,
  keypoints, labels where it has them, `--split` to pick one split); labels are optional;
- a frames artifact (`fgsgl extract`'s OUT): its extracted clips, used as they are, if
  made with the model's own frame settings (else refused, naming both settings).

Labels count only where the input's classes are the model's (same names in the same
order); otherwise the predictions are written without them and the summary says why.
A model that reads keypoints (CLIP-MG) refuses inputs without them: bare videos, a
dataset without a keypoints column, a frames artifact extracted without keypoints.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from fgsgl import storage
from fgsgl.errors import FgsglError
from fgsgl.predict.predictor import Preprocessing

VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")
FRAMES_KIND = "fgsgl.frames"
SHOWN = 10  # clip ids named in one problem


@dataclass(frozen=True)
class VideoClip:
    """One clip to decode: where it came from, its video and range, its label (-1: none)."""

    order: int  # position in predictions.csv
    input: str  # the INPUT argument it came from
    clip_id: str
    video: str  # as the user or the manifest wrote it
    uri: str  # resolved: local path, gs:// or s3:// URI
    start: int | None = None
    end: int | None = None
    keypoints: str | None = None  # resolved keypoints file
    label: int = -1
    split: str = ""


@dataclass
class FramesInput:
    """The selected rows of a frames artifact (index labels are positions)."""

    order: int  # predictions.csv position of the first row
    input: str
    artifact: Any  # fgsgl.video.frames.FramesArtifact
    rows: pd.DataFrame
    labelled: bool


@dataclass
class Inputs:
    videos: list[VideoClip] = field(default_factory=list)
    frames: list[FramesInput] = field(default_factory=list)
    kinds: dict[str, str] = field(default_factory=dict)  # INPUT -> video|folder|dataset|frames
    counts: dict[str, int] = field(default_factory=dict)  # INPUT -> clips
    notes: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.videos) + sum(len(f.rows) for f in self.frames)


def kind_of(path: str) -> str:
    """video | folder | dataset | frames | missing, from what is at `path`."""
    if storage.is_remote(path):
        if path.lower().endswith(VIDEO_SUFFIXES):
            return "video"
        for name in ("manifest.csv", "manifest.parquet"):
            if storage.exists(storage.join(path, name)):
                return "dataset"
        if storage.exists(storage.join(path, "metadata.json")):
            return "frames"
        return "folder"
    p = Path(path)
    if p.is_file():
        return "video"
    if not p.is_dir():
        return "missing"
    if (p / "manifest.csv").is_file() or (p / "manifest.parquet").is_file():
        return "dataset"
    meta = p / "metadata.json"
    if meta.is_file():
        try:
            if json.loads(meta.read_text()).get("kind") == FRAMES_KIND:
                return "frames"
        except (OSError, ValueError):
            pass
    return "folder"


def _names(ids: list[str]) -> str:
    return ", ".join(ids[:SHOWN]) + (f" and {len(ids) - SHOWN} more" if len(ids) > SHOWN else "")


class _Resolver:
    def __init__(
        self, pre: Preprocessing, class_names: list[str], split: str | None, family: str
    ) -> None:
        self.pre = pre
        self.class_names = class_names
        self.split = split
        self.family = family
        self.problems: list[str] = []
        self.out = Inputs()
        self.order = 0

    def _add_video(self, **values: Any) -> None:
        self.out.videos.append(VideoClip(order=self.order, **values))
        self.order += 1

    def resolve(self, path: str) -> None:
        kind = kind_of(path)
        self.out.kinds[path] = kind
        before = self.out.total
        if kind == "missing":
            self.problems.append(f"{path}: not found")
        elif kind == "video":
            self._video_file(path)
        elif kind == "folder":
            self._folder(path)
        elif kind == "dataset":
            self._dataset(path)
        else:
            self._frames(path)
        self.out.counts[path] = self.out.total - before

    # -- bare videos ------------------------------------------------------------------
    def _no_keypoints(self, path: str, what: str) -> bool:
        if not self.pre.keypoints:
            return False
        self.problems.append(
            f"{path}: {what}, without keypoints; the {self.family} model reads per-frame "
            "keypoints beside the pixels: give a dataset directory whose manifest names each "
            "clip's keypoints file (`fgsgl pose DATASET OUT` makes one), or a frames "
            "artifact extracted with keypoints"
        )
        return True

    def _video_file(self, path: str) -> None:
        if self._no_keypoints(path, "a video file"):
            return
        name = path.rstrip("/").rsplit("/", 1)[-1]
        stem = name.rsplit(".", 1)[0] if "." in name else name
        uri = path if storage.is_remote(path) else str(Path(path).resolve())
        self._add_video(input=path, clip_id=stem, video=path, uri=uri)

    def _folder(self, path: str) -> None:
        if storage.is_remote(path):
            names = sorted(
                n for n in storage.list_files(path) if n.lower().endswith(VIDEO_SUFFIXES)
            )
            files = [(n, storage.join(path, n)) for n in names]
        else:
            root = Path(path).resolve()
            found = sorted(
                p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES
            )
            files = [(p.relative_to(root).as_posix(), str(p)) for p in found]
        if not files:
            self.problems.append(
                f"{path}: a folder without video files (looked for {', '.join(VIDEO_SUFFIXES)}"
                " under it)"
            )
            return
        if self._no_keypoints(path, f"a folder of {len(files)} video files"):
            return
        stems = [n.rsplit(".", 1)[0] for n, _ in files]
        taken = {s for s in stems if stems.count(s) > 1}  # a.mp4 and a.avi keep suffixes
        for (name, uri), stem in zip(files, stems, strict=True):
            clip_id = name if stem in taken else stem
            self._add_video(input=path, clip_id=clip_id, video=name, uri=uri)

    # -- a dataset directory ----------------------------------------------------------
    def _labels_usable(self, path: str, names: list[str], labelled: bool) -> bool:
        if not labelled:
            return False
        if names == self.class_names:
            return True
        self.out.notes.append(
            f"{path}: labels not compared: its classes ({len(names)}: {', '.join(names[:5])}"
            f"{' ...' if len(names) > 5 else ''}) are not the model's ({len(self.class_names)}"
            f": {', '.join(self.class_names[:5])}{' ...' if len(self.class_names) > 5 else ''})"
        )
        return False

    def _select_split(self, path: str, splits: pd.Series) -> pd.Series:
        if self.split is None:
            return pd.Series(True, index=splits.index)
        keep = (splits == self.split).fillna(False).astype(bool)
        if not keep.any():
            counts = splits.fillna("(none)").value_counts().sort_index()
            have = ", ".join(f"{s} ({n} clips)" for s, n in counts.items()) or "none"
            self.problems.append(f"{path}: no clips of split {self.split!r}; splits: {have}")
        return keep

    def _dataset(self, path: str) -> None:
        from fgsgl.dataset import load_dataset

        try:
            ds = load_dataset(path, need_labels=False)
        except FgsglError as e:
            self.problems.append(f"{path}: {e.message}")
            self.problems.extend(f"{path}: {p}" for p in e.problems)
            return
        m = ds.manifest
        m = m[self._select_split(path, m["split"]).to_numpy()]
        if m.empty:
            return
        labelled = self._labels_usable(path, ds.class_names, bool((m["label"] >= 0).any()))
        if self.pre.keypoints:
            without = m["clip_id"][m["keypoints"].isna()].astype(str).tolist()
            if without:
                self.problems.append(
                    f"{path}: {len(without)} clip(s) without keypoints ({_names(without)}); the "
                    f"{self.family} model reads per-frame keypoints (a keypoints column naming "
                    "each clip's file; `fgsgl pose DATASET OUT` makes one)"
                )
                return
        for row in m.itertuples(index=False):
            kp = None if pd.isna(row.keypoints) else ds.keypoints_uri(row.keypoints)
            self._add_video(
                input=path,
                clip_id=str(row.clip_id),
                video=str(row.video),
                uri=ds.video_uri(row.video),
                start=None if pd.isna(row.start_frame) else int(row.start_frame),
                end=None if pd.isna(row.end_frame) else int(row.end_frame),
                keypoints=kp,
                label=int(row.label) if labelled else -1,
                split="" if pd.isna(row.split) else str(row.split),
            )

    # -- a frames artifact ------------------------------------------------------------
    def _frames(self, path: str) -> None:
        from fgsgl.train.data import missing_keypoints
        from fgsgl.video.frames import FramesArtifact

        try:
            art = FramesArtifact.open(path)
        except FgsglError as e:
            self.problems.append(str(e))
            return
        problem = self.pre.frames_problem(path, art.meta)
        if problem:
            self.problems.append(problem)
            return
        rows = art.index[self._select_split(path, art.index["split"]).to_numpy()]
        if rows.empty:
            return
        if self.pre.keypoints:
            if not art.has_keypoints:
                self.problems.append(
                    f"{path}: a frames artifact without keypoints; the {self.family} model "
                    "reads them (extract a dataset that has a keypoints column)"
                )
                return
            without = missing_keypoints(art, rows.index.to_numpy())
            if without:
                self.problems.append(
                    f"{path}: {len(without)} clip(s) without keypoints ({_names(without)})"
                )
                return
        labelled = self._labels_usable(path, art.class_names, True)
        self.out.frames.append(FramesInput(self.order, path, art, rows, labelled))
        self.order += len(rows)
        failed = len(art.failures())
        if failed:
            self.out.notes.append(
                f"{path}: {failed} clip(s) of the dataset failed extraction and are not in "
                "the artifact (its failures.csv)"
            )


def resolve_inputs(
    paths: list[str],
    pre: Preprocessing,
    *,
    class_names: list[str],
    family: str,
    split: str | None = None,
) -> Inputs:
    """Every INPUT as clips to predict, in argument order; FgsglError with every problem."""
    resolver = _Resolver(pre, class_names, split, family)
    for path in paths:
        resolver.resolve(str(path))
    if not resolver.problems and resolver.out.total == 0:
        resolver.problems.append("the inputs hold no clip to predict")
    if resolver.problems:
        n = len(resolver.problems)
        raise FgsglError(
            f"cannot predict on these inputs ({n} problem{'s' if n > 1 else ''})",
            resolver.problems,
        )
    return resolver.out
