"""mmaction-style list files (MA-52 and others): lines `path label`, one file per split.

Paths are relative to a data prefix (the source by default) or absolute; labels are
0-based class ids unless `one_based`. Clip ids are the paths without their extension.
Without an explicit file per split, list files are found in the source (and its
`annotations/` folder) by the split word in their name: `train_list_videos.txt`, ...
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path, PurePosixPath

import pandas as pd

from fgsgl.dataset.contract import SPLITS, DatasetError, split_word
from fgsgl.dataset.importers.base import Imported, classes_table
from fgsgl.dataset.importers.sources import existing_dir
from fgsgl.dataset.importers.splits import carve_val
from fgsgl.dataset.importers.withheld import AUTO, withheld_note, withheld_splits
from fgsgl.dataset.validate import escapes, parse_int

_WORD = re.compile(r"[A-Za-z]+")


def find_list_files(src: Path) -> dict[str, Path]:
    """The one `*.txt` per split named by a word in its name, in SRC or SRC/annotations."""
    found: dict[str, list[Path]] = {s: [] for s in SPLITS}
    for folder in (src, src / "annotations"):
        for path in sorted(folder.glob("*.txt")) if folder.is_dir() else []:
            named = {s for w in _WORD.findall(path.stem) if (s := split_word(w))}
            if len(named) == 1:
                found[named.pop()].append(path)
    problems = [
        f"several {split} list files in {src}: {', '.join(p.name for p in paths)}; "
        f"pass --{split} FILE"
        for split, paths in found.items()
        if len(paths) > 1
    ]
    if problems:
        raise DatasetError(f"{src}: cannot tell which list file is which", problems)
    lists = {split: paths[0] for split, paths in found.items() if paths}
    if not lists:
        raise DatasetError(
            f"{src}: no list files (*.txt named train/val/test) in it or its annotations/ "
            "folder; pass --train/--val/--test FILE"
        )
    return lists


def import_list(
    src: Path,
    *,
    lists: dict[str, Path] | None = None,
    data_prefix: Path | None = None,
    split_prefixes: dict[str, Path] | None = None,
    class_names: list[str] | None = None,
    one_based: bool = False,
    subject_pattern: str | None = None,
    check_videos: bool = True,
    val_fraction: float | None = None,
    val_subjects: list[str] | None = None,
    seed: int = 0,
    unlabelled: str | list[str] = AUTO,
) -> Imported:
    """Read list files; raises DatasetError listing every problem found.

    `split_prefixes`: a video folder per split (MA-52's videos_train, ...) instead of
    `data_prefix`. `unlabelled` (withheld.withheld_splits): the splits imported without
    labels. A --subject-pattern that matches none of a split's file names is a warning for
    that split (its clips get no subject); one that misses only some is a problem.
    """
    src = existing_dir(src, "SRC")
    prefix = existing_dir(data_prefix, "--data-prefix") if data_prefix else src
    split_prefixes = dict(split_prefixes or {})
    lists = {s: Path(p) for s, p in lists.items()} if lists else find_list_files(src)
    pattern = re.compile(subject_pattern) if subject_pattern else None
    problems: list[str] = []
    rows: list[dict] = []
    first_seen: dict[str, str] = {}
    no_subject: dict[str, list[tuple[str, str]]] = {}  # split -> (line, path) not matched
    for split, path in lists.items():
        root = split_prefixes.get(split, prefix)
        no_subject[split] = []
        if not path.is_absolute() and not path.exists():
            path = src / path  # a list file named relative to the source
        if not path.is_file():
            problems.append(f"--{split} {path}: list file not found")
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), 1):
            where = f"{path.name} line {number}"
            fields = line.split()
            if not fields or fields[0].startswith("#"):
                continue
            if len(fields) != 2:
                problems.append(f"{where}: {len(fields)} fields, expected `path label`")
                continue
            relative, raw_label = fields
            try:
                label = parse_int(raw_label)
            except ValueError:
                problems.append(f"{where}: label {raw_label!r} is not an integer class id")
                continue
            if escapes(relative):
                problems.append(
                    f"{where}: {relative} leads out of {root} (a listed path stays inside the "
                    "folder it is relative to)"
                )
                continue
            video = Path(relative) if Path(relative).is_absolute() else root / relative
            # `a/../b.mp4` is b: one clip id per video, so a video listed twice is found
            clip_id = str(PurePosixPath(posixpath.normpath(relative)).with_suffix(""))
            if clip_id in first_seen:
                problems.append(f"{where}: {relative} is listed again ({first_seen[clip_id]})")
                continue
            first_seen[clip_id] = where
            if check_videos and not video.is_file():
                problems.append(f"{where}: video {video} not found")
            subject = ""
            if pattern is not None:
                match = pattern.search(PurePosixPath(relative).name)
                if match is None:
                    no_subject[split].append((where, relative))
                else:
                    subject = match.group(1) if pattern.groups else match.group(0)
            rows.append(
                {
                    "clip_id": clip_id,
                    "video": str(video),
                    "label": label,
                    "split": split,
                    "subject": subject,
                }
            )
    notes: list[str] = []
    for split, missed in no_subject.items():
        listed = sum(r["split"] == split for r in rows)
        if missed and len(missed) == listed:
            notes.append(
                f"warning: --subject-pattern matches none of the {listed} {split} file names "
                f"(e.g. {missed[0][1]}): the {split} clips have no subject"
            )
        else:
            problems += [f"{w}: --subject-pattern does not match {r!r}" for w, r in missed]
    names = list(class_names) if class_names else None
    raw_top = max((r["label"] for r in rows), default=-1)
    by_split: dict[str, list[int]] = {}
    for r in rows:
        by_split.setdefault(r["split"], []).append(r["label"])
    withheld = withheld_splits(by_split, len(names) if names else raw_top + 1, unlabelled)
    for r in rows:
        if r["split"] in withheld:
            r["label"] = None
            continue
        raw, r["label"] = r["label"], r["label"] - int(one_based)
        if r["label"] < 0:
            problems.append(
                f"{first_seen[r['clip_id']]}: label {raw} is below {int(one_based)}"
                + ("" if one_based else " (pass --one-based for 1-based labels)")
            )
    labelled = [r for r in rows if r["label"] is not None and r["label"] >= 0]
    top = max((r["label"] for r in labelled), default=-1)
    if names is not None and top >= len(names):
        problems += [
            f"{first_seen[r['clip_id']]}: label {r['label']} is outside 0..{len(names) - 1} "
            f"(the class list has {len(names)} names)"
            for r in labelled
            if r["label"] >= len(names)
        ]
    if problems:
        raise DatasetError(
            f"{src}: cannot import the list files ({len(problems)} problems)", problems
        )
    if not rows:
        raise DatasetError(f"{src}: the list files hold no clips")
    notes.insert(
        0, f"{len(rows)} clips from {', '.join(f'{s}: {p.name}' for s, p in lists.items())}"
    )
    notes += [withheld_note(split, why) for split, why in withheld.items()]
    if names is None:
        names = [f"class {i}" for i in range(top + 1)]
        notes.append(
            f"no --classes: classes are named class 0..class {top}; pass --classes "
            "FILE for real names (the class texts T_c are made from them)"
        )
    if not one_based and labelled and all(r["label"] > 0 for r in labelled):
        notes.append("no clip has label 0: if the lists count classes from 1, pass --one-based")
    manifest = pd.DataFrame(rows).astype({"label": "Int64"})  # NA: an unlabelled split
    manifest, note = carve_val(manifest, fraction=val_fraction, subjects=val_subjects, seed=seed)
    if note:
        notes.append(note)
    return Imported(
        source=str(src),
        importer="list",
        manifest=manifest,
        classes=classes_table(names),
        options={
            "lists": {s: str(p) for s, p in lists.items()},
            "data_prefix": str(prefix),
            "split_prefixes": {s: str(p) for s, p in split_prefixes.items()},
            "unlabelled": {s: why for s, why in withheld.items()},
            "one_based": one_based,
            "subject_pattern": subject_pattern,
            "val_fraction": val_fraction,
            "val_subjects": val_subjects,
            "seed": seed,
        },
        notes=notes,
    )
