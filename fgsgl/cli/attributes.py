"""`fgsgl attributes DATASET OUT`: each clip's FG-Text attributes and where they came from."""

from __future__ import annotations

import argparse

HELP = """\
Write an attributes artifact: for every clip its initiator, receiver, direction and motion,
each with its source (annotated: the manifest's own; derived: estimated from the clip's
keypoints; class: the class table's typical value) and a confidence, or "unknown" with the
reason. `fgsgl encode-text --attributes OUT` then builds the fine-grained texts from it
(the pipeline does both: derive-attributes, then encode-text).

modes (--mode, the pipeline's fg_attributes):
  auto       the manifest's attributes where a clip has them, else derived from its
             keypoints, unknown ones filled from the class table where at least one
             was derived (the default; a clip with nothing to derive from keeps none)
  annotated  the manifest's attributes only
  derived    derived for every clip, the manifest's ignored; class table for the unknown
  class      the class table for every clip (class-level FG-Text)

Derivation (fgsgl/attributes/derive.py) reads the keypoints of the layouts fgsgl knows
(SynthMG, iMiGUE's OpenPose, SMG's Kinect V2, `fgsgl pose`'s), named by keypoints.json /
import.json beside the manifest. Class tables: SMG, iMiGUE and MA-52
(fgsgl/attributes/class_attributes.csv; ours, not the paper's). Prints how many clips have
a fine-grained text and the attribute counts by source, and the unknowns by reason."""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "attributes",
        help="FG-Text attributes per clip: annotated, derived from keypoints, or class tables",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("dataset", metavar="DATASET", help="dataset directory, gs:// or s3:// prefix")
    p.add_argument("out", metavar="OUT", help="the attributes artifact folder to write")
    p.add_argument(
        "--mode",
        default="auto",
        choices=("auto", "annotated", "derived", "class"),
        help="where the attributes come from (default: %(default)s)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run_attributes)


def run_attributes(args: argparse.Namespace) -> int:
    from fgsgl.attributes.artifact import derive_attributes, summary_line

    meta = derive_attributes(args.dataset, args.out, mode=args.mode, progress=not args.no_progress)
    counts = meta["counts"]
    print(f"wrote {args.out}")
    print(summary_line(counts, args.mode))
    for attribute, reasons in counts["unknown_reasons"].items():
        for reason, n in reasons.items():
            print(f"  {attribute} unknown in {n} clips: {reason}")
    for note in meta.get("notes", []):
        print(f"note: {note}")
    return 0
