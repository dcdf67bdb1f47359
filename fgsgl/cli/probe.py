"""`fgsgl probe MODEL FRAMES OUT`: linear probes of the attributes on a model's features."""

from __future__ import annotations

import argparse
import json

PROBE_HELP = """\
How decodable is each attribute from a trained model's frozen features? The mechanism check
of FG-SA: aligning f_mid with the fine-grained texts should make the attributes they name
more linearly decodable from f_mid than in a model trained without it.

For the clips of FRAMES (extracted with the model's preprocessing), the temporally pooled
f_mid and f_high as the heads see them (CLIP-MG: also `fused`, what its classifier reads)
are taken on --device (default cpu). For the class label (a sanity row), the FG attributes
of the frames index (initiator, receiver, direction, motion) and the dataset manifest's
extra text columns (SynthMG: speed, amplitude, pattern, rest; read by clip_id from the
dataset the frames came from, or --dataset), a multinomial logistic regression on the
standardised features is fitted on the train clips, its L2 penalty chosen on val, and
scored on the test clips beside chance (the majority rate on them). Within class: the same
probe given the true class as well, on the classes in which the attribute varies, beside
what the class alone gives (each test clip guessed its class's most common train value):
above it, the feature sees the attribute beyond the class.

OUT (replaced): probes.csv (attribute, layer, n_train, n_test, values, accuracy, chance,
val and within-class columns), probes.json (rows, skipped attributes and why, timing),
probes.md. Values with fewer than 2 train clips are left out (their clips in every split)
and named. Without --attribute, attributes that cannot be probed (fewer than 2 values left,
no val clip) are skipped and named; with it, refused. `subject` and numeric columns are
probed only when named."""

EXAMPLES = """\
examples:
  fgsgl probe runs/full/train-stage2/model runs/frames probes/full
  fgsgl probe MODEL FRAMES OUT --attribute initiator --attribute speed
  fgsgl probe MODEL FRAMES OUT --dataset data/synthmg --device cuda --batch-size 64"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "probe",
        help="linear probes of the attributes on a model's frozen f_mid / f_high",
        description=PROBE_HELP,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("model", metavar="MODEL", help="model artifact directory (`fgsgl train`)")
    p.add_argument("frames", metavar="FRAMES", help="frames artifact with train, val, test")
    p.add_argument("out", metavar="OUT", help="directory to write (replaced)")
    p.add_argument(
        "--attribute",
        action="append",
        metavar="COLUMN",
        help="probe only these (repeatable; `class` is the label); default: all",
    )
    p.add_argument(
        "--dataset",
        metavar="DIR",
        help="the dataset directory for the manifest's extra columns (default: the one the "
        "frames were extracted from)",
    )
    p.add_argument("--device", default="cpu", help="torch device (default: cpu)")
    p.add_argument("--batch-size", type=int, default=32, metavar="N", help="default: 32")
    p.add_argument(
        "--workers", type=int, default=0, metavar="N", help="data loader processes (default: 0)"
    )
    p.add_argument(
        "--weights",
        metavar="DIR",
        help="the backbone's checkpoint as a weights artifact (`fgsgl fetch-weights`)",
    )
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=run_probe)


def run_probe(args: argparse.Namespace) -> int:
    from fgsgl.evaluate.probe_run import PROBES_MD, probe

    summary = probe(
        args.model,
        args.frames,
        args.out,
        attributes=args.attribute,
        dataset=args.dataset,
        batch_size=args.batch_size,
        device=args.device,
        workers=args.workers,
        weights=args.weights,
    )
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    for r in summary["rows"]:
        within = ""
        if r["within_accuracy"] is not None:
            within = (
                f", within class {100 * r['within_accuracy']:.1f} % "
                f"(chance {100 * r['within_chance']:.1f} %)"
            )
        print(
            f"{r['attribute']:<12} {r['layer']:<7} test {100 * r['accuracy']:5.1f} % "
            f"(chance {100 * r['chance']:.1f} %){within}"
        )
    for attribute, values in summary["dropped"].items():
        print(f"left out: {attribute}: {len(values)} value(s) with fewer than 2 train clips")
    for why in summary["skipped"].values():
        print(f"not probed: {why}")
    print(f"report: {args.out}/{PROBES_MD}")
    return 0
