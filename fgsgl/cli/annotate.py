"""`fgsgl annotate export|import`: FG-Text by people, through Label Studio."""

from __future__ import annotations

import argparse
import json

ANNOTATE_HELP = """\
FG-Text by people, in Label Studio: export a project of a dataset's clips (pre-annotated
with the attributes derived from their keypoints), let several people label them, import
their exports: agreement (Krippendorff's alpha per attribute), a disagreement list to
adjudicate (`export --review`), and the consensus CSV for `fgsgl import --fg-annotations`.

  fgsgl annotate export DATASET project --split test --annotators 3
  (Label Studio: create a project from project/label_config.xml, add a local-files storage
   rooted at project/, import project/tasks.json; people label; export the JSON)
  fgsgl annotate import export.json agreement --dataset DATASET
  fgsgl annotate export DATASET review --review agreement/disagreements.csv
  fgsgl annotate import export.json review-export.json agreement --dataset DATASET"""


def register(sub: argparse._SubParsersAction) -> None:
    fmt = argparse.RawDescriptionHelpFormatter
    p = sub.add_parser(
        "annotate", help="Label Studio round trip for FG-Text", description=ANNOTATE_HELP,
        formatter_class=fmt,
    )  # fmt: skip
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)

    e = actions.add_parser(
        "export",
        help="write a Label Studio project for a dataset's clips",
        description="Write OUT/label_config.xml, OUT/tasks.json (one task per clip, with the "
        "derived attributes as predictions), OUT/videos/ (each clip's own video; segments of "
        "long recordings cut out) and OUT/project.json. The config and every prediction are "
        "validated with Label Studio's SDK (make labelstudio-venv) before anything is written.",
    )
    e.add_argument("dataset", metavar="DATASET", help="dataset directory (fgsgl import)")
    e.add_argument("out", metavar="OUT", help="project folder to write")
    e.add_argument("--split", action="append", help="only this split (repeatable)")
    e.add_argument("--clips", help="only these clip ids, joined by commas")
    e.add_argument(
        "--annotators", type=int, default=2, help="annotations per task (default %(default)s)"
    )
    e.add_argument(
        "--video-url",
        metavar="PREFIX",
        help="serve the videos from PREFIX/videos/... (a bucket your project's cloud storage "
        "reads) instead of Label Studio's local files",
    )
    e.add_argument(
        "--review", metavar="DISAGREEMENTS_CSV", help="a review project of these disputes"
    )
    e.add_argument("--no-validate", action="store_true", help="skip the SDK check")
    e.add_argument("--label-studio-python", metavar="PYTHON", help="the Python with the SDK")
    e.set_defaults(func=run_export)

    i = actions.add_parser(
        "import",
        help="consensus FG-Text and agreement from Label Studio exports",
        description="Read Label Studio JSON exports (full export, with completed_by) and "
        "write consensus.csv, disagreements.csv, agreement.csv, raters.csv, problems.csv, "
        "report.md and agreement.png to OUT.",
    )
    i.add_argument("paths", nargs="+", metavar="EXPORT... OUT", help="export files, then OUT")
    i.add_argument("--dataset", help="check the clip ids against this dataset")
    i.set_defaults(func=run_import)


def run_export(args: argparse.Namespace) -> int:
    from fgsgl.annotate.project import export_project

    summary = export_project(
        args.dataset,
        args.out,
        splits=args.split,
        clips=[c.strip() for c in args.clips.split(",") if c.strip()] if args.clips else None,
        annotators=args.annotators,
        video_url=args.video_url,
        review=args.review,
        validate=not args.no_validate,
        python=args.label_studio_python,
    )
    print(json.dumps(summary, indent=2))
    return 0


def run_import(args: argparse.Namespace) -> int:
    from fgsgl.annotate.collect import import_annotations
    from fgsgl.errors import UsageError

    if len(args.paths) < 2:
        raise UsageError("give one export file or more, then OUT")
    *exports, out = args.paths
    print(json.dumps(import_annotations(exports, out, dataset=args.dataset), indent=2))
    return 0
