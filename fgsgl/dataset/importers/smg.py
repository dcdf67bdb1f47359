"""SMG: `SampleNNNN/SampleNNNN_finelabels.csv` (label,startf,endf; labels 1..17), one
sample per participant, and the sample's RGB video found by its id under the source.

Clip ids are `SampleNNNN_<k>`, k the 0-based row of the label file. The subject is the
sample number ("36" for Sample0036). The split is cross-subject and by default the official
one: subjects 36-40 test (the SMG authors' tools/smg_gendata.py), 31-35 val and 1-30 train
(the MiGA challenge release's smg_*_validate / _train folders), which gives FG-SGL's 2,452 /
637 / 610 clips (`PAPER_SPLIT`; sources in docs/datasets.md). Other subjects can be named,
val drawn instead, or every sample's (or clip's) split read from a split file.

With `skeletons` (a folder; the release keeps `SampleNNNN_skeleton.csv` beside the labels),
each sample's Kinect V2 joints become `keypoints/SampleNNNN.npy` and the manifest's
`keypoints` column: see `skeleton_formats` for the layout, where it was learned, and which
of its two 2D pairs is taken (`pixel_columns`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from fgsgl.dataset.contract import SPLITS, DatasetError
from fgsgl.dataset.importers.base import Imported, classes_table
from fgsgl.dataset.importers.class_names import SMG_CLASSES
from fgsgl.dataset.importers.segments import read_segments
from fgsgl.dataset.importers.skeleton_formats import smg_kinect
from fgsgl.dataset.importers.skeletons import attach_requested
from fgsgl.dataset.importers.sources import VideoIndex, existing_dir, find_one_video
from fgsgl.dataset.importers.splits import ReferenceSplit, SplitFile, carve_val, load_split_file
from fgsgl.errors import UsageError

LABEL_FILE = re.compile(r"(Sample(\d+))_finelabels\.csv")
DEFAULT_TEST_SUBJECTS = tuple(str(s) for s in range(36, 41))
DEFAULT_VAL_SUBJECTS = tuple(str(s) for s in range(31, 36))
# What FG-SGL (Wei et al., arXiv 2603.16269) reports for SMG; `fgsgl import smg` prints an
# import's counts beside these. They are the default split's (subjects 1-30 / 31-35 / 36-40).
PAPER_SPLIT = ReferenceSplit(
    "paper",
    "the FG-SGL paper (Wei et al., arXiv 2603.16269)",
    {"train": 2452, "val": 637, "test": 610},
)


def import_smg(
    src: Path,
    *,
    videos: Path | None = None,
    test_subjects: Sequence[str] | None = None,
    split_file: Path | None = None,
    class_names: list[str] | None = None,
    val_fraction: float | None = None,
    val_subjects: list[str] | None = None,
    seed: int = 0,
    skeletons: Path | None = None,
    missing_skeletons: str = "error",
    pixel_columns: int | None = None,
) -> Imported:
    """Read an SMG tree; raises DatasetError listing every problem found.

    test_subjects: the test split (None: 36-40); split_file: a CSV `video,split` (video =
    sample id, e.g. Sample0031) or `clip_id,split` giving every clip's split instead.
    Without val_subjects or val_fraction, val is subjects 31-35 where train has them (else
    drawn as `carve_val` does). skeletons: a folder to find `SampleNNNN_skeleton.csv` in and
    convert to keypoints; missing_skeletons: "error" (a sample without a readable one is a
    problem) or "skip" (its clips get no keypoints); pixel_columns: 7 or 9, the 2D pair to
    take (None: the wider one, see `skeleton_formats`).
    """
    if split_file is not None and test_subjects is not None:
        raise UsageError("--split-file and --test-subjects both set the test split; pass one")
    src = existing_dir(src, "SRC")
    video_root = existing_dir(videos, "--videos") if videos else src
    names = list(class_names or SMG_CLASSES)
    if len(names) != len(SMG_CLASSES):
        raise DatasetError(f"--classes: SMG has 17 classes, the list has {len(names)}")
    label_files = sorted(p for p in src.rglob("*_finelabels.csv") if LABEL_FILE.fullmatch(p.name))
    if not label_files:
        raise DatasetError(f"{src}: no SMG label files (SampleNNNN_finelabels.csv) under it")
    table = load_split_file(split_file) if split_file else None
    index = VideoIndex([video_root])
    test = set() if table else {_subject_id(s) for s in test_subjects or DEFAULT_TEST_SUBJECTS}
    problems: list[str] = []
    rows: list[dict] = []
    row_samples: list[str] = []
    seen: dict[str, str] = {}
    clip_ids: set[str] = set()  # every labelled clip, valid label or not
    subject_keys: dict[str, list[str]] = {}  # subject -> split-file keys naming its clips
    for path in label_files:
        match = LABEL_FILE.fullmatch(path.name)
        assert match is not None
        sample, subject = match.group(1), str(int(match.group(2)))
        name = str(path.relative_to(src))
        if sample in seen:
            problems.append(f"{name}: {sample} also has {seen[sample]}")
            continue
        seen[sample] = name
        video = find_one_video(index, sample, video_root, name, problems)
        segments, found = read_segments(path, name)
        problems += found
        if table is not None and table.key == "video" and sample not in table.splits:
            problems.append(f"{table.path}: no split for {sample} ({name})")
        unsplit: list[int] = []  # rows of the clips the split file does not name
        for seg in segments:
            clip_id = f"{sample}_{seg.row}"
            clip_ids.add(clip_id)
            if not 1 <= seg.label <= len(SMG_CLASSES):
                problems.append(f"{name} line {seg.line}: label {seg.label} is outside 1..17")
                continue
            if table is None:
                split = "test" if subject in test else "train"
            else:
                key = sample if table.key == "video" else clip_id
                split = table.splits.get(key)
                if split is None:
                    unsplit.append(seg.row)
                else:
                    subject_keys.setdefault(subject, []).append(key)
            rows.append(
                {
                    "clip_id": clip_id,
                    "video": str(video) if video else "",
                    "label": seg.label - 1,
                    "split": split,
                    "subject": subject,
                    "start_frame": seg.start,
                    "end_frame": seg.end,
                }
            )
            row_samples.append(sample)
        if table is not None and table.key == "clip_id" and unsplit:
            what = (
                f"any clip of {sample}"
                if len(unsplit) == len(segments)
                else f"{len(unsplit)} of the {len(segments)} clips of {sample}: "
                f"{sample}_{_ranges(unsplit)}"
            )
            problems.append(f"{table.path}: no split for {what} ({name})")
    if table is not None:
        problems += _split_file_problems(table, set(seen), clip_ids, subject_keys, src)
    converted, skeleton_options = attach_requested(
        rows, row_samples, skeletons, smg_kinect(pixel_columns), missing_skeletons
    )
    problems += converted.problems if converted else []
    if problems:
        raise DatasetError(f"{src}: cannot import SMG ({len(problems)} problems)", problems)
    if not rows:
        raise DatasetError(f"{src}: the label files hold no clips")
    manifest = pd.DataFrame(rows)
    subjects = set(manifest["subject"])
    notes = [f"{len(label_files)} samples, {len(manifest)} clips from {src}"]
    if table is not None:
        notes.append(f"splits from {table.path} (by {table.key})")
    absent = sorted(test - subjects, key=_natural)
    if absent:
        notes.append(f"test subjects not in the source: {', '.join(absent)}")
    if val_subjects is not None:
        val_subjects = [_subject_id(s) for s in val_subjects]
    elif val_fraction is None and not (manifest["split"] == "val").any():
        val_subjects, note = _default_val_subjects(manifest)
        notes += [note] if note else []
    manifest, note = carve_val(manifest, fraction=val_fraction, subjects=val_subjects, seed=seed)
    if note:
        notes.append(note)
    if converted is not None:
        notes += converted.notes
    return Imported(
        source=str(src),
        importer="smg",
        manifest=manifest,
        classes=classes_table(names),
        options={
            "videos": str(video_root),
            "test_subjects": sorted(test, key=_natural) if table is None else None,
            "split_file": str(split_file) if split_file else None,
            "val_fraction": val_fraction,
            "val_subjects": val_subjects,
            "seed": seed,
            **skeleton_options,
            "pixel_columns": pixel_columns if skeletons else None,
        },
        notes=notes,
        reference=PAPER_SPLIT,
        **(converted.imported_fields() if converted else {}),
    )


def _split_file_problems(
    table: SplitFile,
    samples: set[str],
    clip_ids: set[str],
    subject_keys: dict[str, list[str]],
    src: Path,
) -> list[str]:
    """The file's bad rows, rows naming no sample (or clip) of the source, and subjects
    given several splits."""
    known, what = (samples, "sample") if table.key == "video" else (clip_ids, "clip")
    problems = list(table.problems)
    problems += [
        f"{table.rows_of([k])}: {table.key} {k!r} is not a {what} of {src}"
        for k in table.splits
        if k not in known
    ]
    for subject, keys in sorted(subject_keys.items(), key=lambda item: _natural(item[0])):
        named = {table.splits[k] for k in keys}
        if len(named) > 1:
            order = [s for s in SPLITS if s in named]
            problems.append(
                f"{table.rows_of(list(dict.fromkeys(keys)))}: subject {subject} is in "
                f"{len(order)} splits ({', '.join(order)}); a cross-subject split keeps "
                "each subject in one"
            )
    return problems


def _default_val_subjects(manifest: pd.DataFrame) -> tuple[list[str] | None, str | None]:
    """The official val subjects (31-35) that train holds, and a note where some are not."""
    train = set(manifest.loc[manifest["split"] == "train", "subject"])
    chosen = [s for s in DEFAULT_VAL_SUBJECTS if s in train]
    if not chosen:
        return None, (
            "none of the default val subjects (31-35) is in train: val is drawn instead, "
            "so the split is not the paper's"
        )
    missing = [s for s in DEFAULT_VAL_SUBJECTS if s not in train]
    note = f"default val subjects not in train: {', '.join(missing)}" if missing else None
    return chosen, note


def _ranges(numbers: list[int]) -> str:
    """[3, 4, 5, 9] -> '3-5, 9': a long run of clips named in a few characters."""
    runs: list[list[int]] = []
    for n in sorted(numbers):
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)


def _subject_id(text: str) -> str:
    """'036' -> '36', as subjects are named from sample numbers; other ids as written."""
    text = text.strip()
    return str(int(text)) if text.isdigit() else text


def _natural(text: str) -> tuple[int, str]:
    return (int(text), "") if text.isdigit() else (1 << 30, text)
