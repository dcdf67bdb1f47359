"""`fgsgl validate` and `fgsgl import`: check a dataset directory, or make one."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fgsgl.registry import Registry

VALIDATE_HELP = """\
Check a dataset directory (manifest.csv or manifest.parquet, and classes.csv; a local
path or a gs:// or s3:// prefix). Prints a summary (clips per split and class, subjects,
fine-grained attribute coverage) when it is valid; otherwise lists every problem with
its file and row number and exits 1."""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "validate",
        help="check a dataset directory and summarise it",
        description=VALIDATE_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("dataset", metavar="DATASET", help="dataset directory, gs:// or s3:// prefix")
    p.add_argument(
        "--need-fg-text",
        action="store_true",
        help="also require a fine-grained text for every clip (an fg_text, or all of "
        "initiator, receiver, direction and motion), as FG-SA training does",
    )
    p.add_argument(
        "--check-files",
        action="store_true",
        help="also check that every video (and keypoints) file exists, and that no local "
        "video is a partial copy (a file cut off while its container still promises every "
        "frame: a header read per video, some 15 ms, decoding nothing; docs/datasets.md)",
    )
    p.set_defaults(func=run_validate)
    register_import(sub)


def run_validate(args: argparse.Namespace) -> int:
    from fgsgl.dataset import DatasetError, load_dataset

    ds = load_dataset(args.dataset, need_fg_text=args.need_fg_text)
    if args.check_files:
        from fgsgl.dataset.contract import RowNamer
        from fgsgl.dataset.validate import partial_video_problems

        where = RowNamer(ds.manifest_file)
        problems = ds.missing_files() + partial_video_problems(ds.manifest, ds.root, where)
        if problems:
            count = f"{len(problems)} problem{'s' if len(problems) > 1 else ''}"
            raise DatasetError(f"{args.dataset}: {count} with the files it names", problems)
    from fgsgl.dataset.summary import summarise

    print(summarise(ds))
    print(f"\n{args.dataset}: valid")
    return 0


IMPORT_HELP = """\
Turn a public dataset layout into a dataset directory OUT (manifest.csv, classes.csv and
import.json, which records how it was made). Videos are neither copied nor cut: the
manifest points at them, and clips inside long videos keep their start/end frames.
Every problem is listed at once and nothing is written unless the import succeeds.
iMiGUE and SMG: --skeletons converts the skeleton files into keypoints/<video>.npy
(float32 (frames, joints, 3): x, y in the video's pixels, confidence; row = video frame) and
a manifest keypoints column, which `fgsgl extract` samples with the frames (CLIP-MG needs
them, FG-SGL ignores them)."""

IMIGUE_HELP = """\
iMiGUE: label files <VVVV>_label.csv (rows gestureID,startFrame,endFrame; ids 1..32, 99 =
non-gesture) and videos <VVVV>.mp4 found by id anywhere under SRC (or --videos DIR), e.g.
the MiGA release: imigue_skeleton_{train,validate}/<VVVV>/<VVVV>_label.csv and
imigue_rgb_phase1/{train_data,validation_data}/<VVVV>/<VVVV>.mp4. The split comes from the
folder names (train / validate / test) unless --split-file is given. Clip ids: <VVVV>_<row>.

--skeletons [DIR] also converts each video's OpenPose joints, found by id under DIR (default
SRC; MiGA keeps them beside the labels): <VVVV>_light_hand.csv (a frame number, then 35
joints x (x, y, confidence) in video pixels: BODY_25 order + 10 hand points; one line per
frame), else <VVVV>_light.csv (25 joints; its hand points stored as not found). Layout as
read by the MiGA organisers' iMiGUEaccessSample and challenge entries; a non-numeric first
line is skipped as a header."""

SMG_HELP = """\
SMG: SampleNNNN/SampleNNNN_finelabels.csv (rows label,startf,endf; labels 1..17) and each
sample's RGB video found by its id under SRC (or --videos DIR). Cross-subject split, by
default the official one (the MiGA release's): subjects 1-30 train, 31-35 val, 36-40 test,
FG-SGL's 2,452 / 637 / 610 clips. --test-subjects and --val-subjects/--val-fraction pick
others; --split-file CSV (video,split with video = SampleNNNN, or clip_id,split) gives each
sample's or clip's split. After the import, a table sets the clips per split beside the
paper's. Clip ids: SampleNNNN_<row>.

--skeletons [DIR] also converts each sample's Kinect V2 joints, found by id under DIR
(default SRC): SampleNNNN_skeleton.csv, no header, one line per frame, 25 joints x 11 values
(camera-space position 3, orientation 4, then two 2D pixel pairs), as read by the SMG
authors' SMGaccessSample and tools/smg_gendata.py. Which pair is the colour video's is not
documented: by default the one spreading wider over the body (colour space);
--smg-pixel-columns 7 or 9 picks one."""

LIST_HELP = """\
mmaction-style list files: lines `path label`, one file per split (--train/--val/--test,
or *.txt files in SRC or SRC/annotations named after the split). Paths are relative to
--data-prefix (default SRC). Clip ids: the path without extension. A split whose labels
are all one value while the classes are many (a test list whose labels are withheld) is
imported unlabelled: its labels are left empty and a warning says why (--unlabelled)."""

MA52_HELP = """\
MA-52 (Micro-Action-52) as its repository (VUT-HFUT/Micro-Action) lays it out:
label_name.txt (`id<TAB>name`, ids 0..51), {train,val,test}_list_videos.txt (lines
`NAME.mp4 label`, in SRC or SRC/annotations) and a video folder per split,
videos_{train,val,test}/ (or {train,val,test}/; --train-videos etc. name others). Train
and val names are PPPP_BB_NNNN.mp4: PPPP the participant (the subject column), BB the
body-level label 0..6 (the coarse_label column, checked against each label's body part).
The test list withholds its labels (all 0, names testNNNN.mp4): that split is imported
unlabelled and without subjects; `fgsgl evaluate` refuses it, `fgsgl predict` runs on it.
Clip ids: the file names without extension."""


@dataclass(frozen=True)
class ImporterCommand:
    """How `fgsgl import KIND` reads its own options and calls its importer."""

    description: str
    options: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace, dict[str, Any]], Any]  # -> Imported
    builtin_classes: bool = True  # has a built-in class list (else --classes is needed)
    val_default: str | None = None  # the val subjects it carves by default
    carves_val: str = "subjects (default 0.1) "  # what --val-fraction carves, for its help


IMPORTERS: Registry[ImporterCommand] = Registry("importer")


def register_import(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "import",
        help=f"make a dataset directory from a public layout ({', '.join(IMPORTERS)})",
        description=IMPORT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    kinds = p.add_subparsers(dest="kind", metavar="KIND", required=True)
    for entry in IMPORTERS.entries():
        k = kinds.add_parser(
            entry.name,
            help=entry.help,
            description=entry.value.description,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        k.add_argument("src", metavar="SRC", type=Path, help="the source folder")
        k.add_argument("out", metavar="OUT", type=Path, help="dataset directory to write")
        entry.value.options(k)
        _common_options(k, entry.name, entry.value)
        k.set_defaults(func=run_import)


def _video_tree_options(p: argparse.ArgumentParser, split_from: str) -> None:
    """The options of importers that find videos and skeleton files by id (iMiGUE, SMG)."""
    p.add_argument(
        "--videos", type=Path, metavar="DIR", help="look for the videos here instead of SRC"
    )
    p.add_argument(
        "--split-file",
        type=Path,
        metavar="CSV",
        help=f"splits from a CSV video,split (or clip_id,split) instead of {split_from}",
    )
    p.add_argument(
        "--skeletons",
        nargs="?",
        const="",
        type=str,
        metavar="DIR",
        help="also convert each video's skeleton file, found by id under DIR (default: "
        "SRC), into keypoints (CLIP-MG and `fgsgl attributes` read them)",
    )
    p.add_argument(
        "--missing-skeletons",
        choices=("error", "skip"),
        default="error",
        help="a video without a readable skeleton file: a problem (default), or import "
        "its clips without keypoints and say so in the notes",
    )


def _skeleton_arguments(args: argparse.Namespace) -> dict[str, Any]:
    if args.skeletons is None:
        return {}
    skeletons = Path(args.skeletons) if args.skeletons else args.src
    return {"skeletons": skeletons, "missing_skeletons": args.missing_skeletons}


def _imigue_options(p: argparse.ArgumentParser) -> None:
    _video_tree_options(p, "folder names")
    p.add_argument(
        "--non-gesture",
        choices=("error", "drop", "keep"),
        default="error",
        help="gesture id 99: report its rows (default), drop them, or keep them as an "
        "extra last class",
    )


def _run_imigue(args: argparse.Namespace, common: dict[str, Any]) -> Any:
    from fgsgl.dataset.importers import import_imigue

    return import_imigue(
        args.src,
        videos=args.videos,
        split_file=args.split_file,
        non_gesture=args.non_gesture,
        **_skeleton_arguments(args),
        **common,
    )


def _smg_options(p: argparse.ArgumentParser) -> None:
    _video_tree_options(p, "--test-subjects (video: SampleNNNN)")
    p.add_argument(
        "--smg-pixel-columns",
        choices=("auto", "7", "9"),
        default="auto",
        help="which 2D pair of each Kinect joint (values 7-8 or 9-10) is the colour "
        "video's pixels (default auto: the pair spreading wider over the body)",
    )
    p.add_argument(
        "--test-subjects",
        metavar="IDS",
        help="subjects of the test split, e.g. 36-40 or 3,7,12 (default: 36-40)",
    )


def _run_smg(args: argparse.Namespace, common: dict[str, Any]) -> Any:
    from fgsgl.dataset.importers import import_smg
    from fgsgl.dataset.importers.splits import parse_ids

    test = parse_ids(args.test_subjects, "--test-subjects") if args.test_subjects else None
    columns = None if args.smg_pixel_columns == "auto" else int(args.smg_pixel_columns)
    return import_smg(
        args.src,
        videos=args.videos,
        test_subjects=test,
        split_file=args.split_file,
        pixel_columns=columns,
        **_skeleton_arguments(args),
        **common,
    )


def _list_options(p: argparse.ArgumentParser) -> None:
    for split in ("train", "val", "test"):
        p.add_argument(f"--{split}", type=Path, metavar="FILE", help=f"the {split} list")
    p.add_argument(
        "--data-prefix", type=Path, metavar="DIR", help="folder the paths are relative to"
    )
    p.add_argument("--one-based", action="store_true", help="labels in the lists start at 1, not 0")
    p.add_argument(
        "--subject-pattern",
        metavar="REGEX",
        help="subject from each file name: the regex's first group, e.g. '^(\\d+)_'",
    )
    _unlabelled_option(p)
    p.add_argument(
        "--no-check-videos",
        action="store_true",
        help="do not check that every listed video exists",
    )


def _unlabelled_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--unlabelled",
        default="auto",
        metavar="SPLITS",
        help="splits to import without labels: auto (default: a split whose labels are all "
        "one value while the classes are many), none, or e.g. test",
    )


def _run_list(args: argparse.Namespace, common: dict[str, Any]) -> Any:
    from fgsgl.dataset.importers import import_list
    from fgsgl.dataset.importers.withheld import parse_unlabelled

    lists = {s: getattr(args, s) for s in ("train", "val", "test") if getattr(args, s)}
    return import_list(
        args.src,
        lists=lists or None,
        data_prefix=args.data_prefix,
        one_based=args.one_based,
        subject_pattern=args.subject_pattern,
        check_videos=not args.no_check_videos,
        unlabelled=parse_unlabelled(args.unlabelled),
        **common,
    )


def _ma52_options(p: argparse.ArgumentParser) -> None:
    for split in ("train", "val", "test"):
        p.add_argument(f"--{split}", type=Path, metavar="FILE", help=f"the {split} list")
        p.add_argument(
            f"--{split}-videos", type=Path, metavar="DIR", help=f"the {split} split's videos"
        )
    p.add_argument(
        "--subject-pattern",
        metavar="REGEX",
        help="subject from each file name: the regex's first group (default: the "
        "participant, PPPP of PPPP_BB_NNNN.mp4; '' for none); a split it matches nowhere "
        "is a warning",
    )
    _unlabelled_option(p)
    p.add_argument(
        "--no-check-videos",
        action="store_true",
        help="do not check that every listed video exists",
    )


def _run_ma52(args: argparse.Namespace, common: dict[str, Any]) -> Any:
    from fgsgl.dataset.importers.ma52 import import_ma52
    from fgsgl.dataset.importers.withheld import parse_unlabelled

    splits = ("train", "val", "test")
    lists = {s: getattr(args, s) for s in splits if getattr(args, s)}
    videos = {s: getattr(args, f"{s}_videos") for s in splits if getattr(args, f"{s}_videos")}
    pattern = {} if args.subject_pattern is None else {"subject_pattern": args.subject_pattern}
    return import_ma52(
        args.src,
        lists=lists or None,
        videos=videos,
        **pattern,
        unlabelled=parse_unlabelled(args.unlabelled),
        check_videos=not args.no_check_videos,
        **common,
    )


IMPORTERS.add(
    "imigue",
    ImporterCommand(IMIGUE_HELP, _imigue_options, _run_imigue),
    help="iMiGUE label files and videos",
)
IMPORTERS.add(
    "smg",
    ImporterCommand(
        SMG_HELP,
        _smg_options,
        _run_smg,
        val_default="31-35",
        carves_val="subjects instead of 31-35 ",
    ),
    help="SMG samples (cross-subject split)",
)
IMPORTERS.add(
    "list",
    ImporterCommand(LIST_HELP, _list_options, _run_list, builtin_classes=False),
    help="mmaction-style `path label` list files",
)
IMPORTERS.add(
    "ma52",
    ImporterCommand(MA52_HELP, _ma52_options, _run_ma52),
    help="MA-52 as released (lists, a video folder per split, label_name.txt)",
)


def _common_options(p: argparse.ArgumentParser, name: str, importer: ImporterCommand) -> None:
    p.add_argument(
        "--classes",
        type=Path,
        metavar="FILE",
        help="class names: a CSV id,name[,description], `id<TAB>name` lines, or one name "
        "per line" + (" (default: the built-in list)" if importer.builtin_classes else ""),
    )
    p.add_argument(
        "--fg-annotations",
        type=Path,
        metavar="CSV",
        help="join fine-grained attributes from a CSV clip_id,initiator,receiver,direction,"
        "motion (optional fg_text)",
    )
    p.add_argument(
        "--val-subjects",
        metavar="IDS",
        help="where the source has no val split: carve it from train with these subjects "
        "(videos where the source names no subjects), e.g. 31-35"
        + (f" ({name.upper()}'s default)" if importer.val_default else ""),
    )
    p.add_argument(
        "--val-fraction",
        type=float,
        metavar="F",
        help="where the source has no val split: carve this fraction of the training "
        + importer.carves_val
        + "(0: no val split)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed for drawing val subjects")
    p.add_argument("--force", action="store_true", help="replace OUT if it exists")


def run_import(args: argparse.Namespace) -> int:
    from fgsgl.dataset.importers import write_import
    from fgsgl.dataset.importers.base import read_class_names
    from fgsgl.dataset.importers.splits import compare_splits, parse_ids

    common = {
        "class_names": read_class_names(args.classes) if args.classes else None,
        "val_fraction": args.val_fraction,
        "val_subjects": parse_ids(args.val_subjects, "--val-subjects")
        if args.val_subjects
        else None,
        "seed": args.seed,
    }
    imported = IMPORTERS.get(args.kind).run(args, common)
    dataset = write_import(imported, args.out, fg_annotations=args.fg_annotations, force=args.force)
    from fgsgl.dataset.summary import summarise

    print(summarise(dataset))
    print("\nimport:")
    for note in imported.notes:
        print(f"  - {note}")
    if imported.reference is not None:
        print()
        print("\n".join(compare_splits(dataset.manifest["split"], imported.reference)))
    print(f"\nwrote {args.out}")
    return 0
