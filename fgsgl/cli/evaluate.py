"""`fgsgl evaluate FRAMES MODEL OUT` and `fgsgl compare RUN...`."""

from __future__ import annotations

import argparse
import json

EVALUATE_HELP = """\
Evaluate a trained model (`fgsgl train`) on one split of a frames artifact (`fgsgl extract`)
of the same dataset, and write the evaluation artifact to OUT:

  metrics.json     top1, top5, macro_f1, mean_class_acc (fractions), clips, seconds, clips_per_s
  per_class.csv    support, correct, accuracy and F1 of every class
  confusion.json   class names and the confusion matrix (rows: true class, columns: predicted)
  predictions.csv  clip_id, label, prediction, top-5 and the scores of every clip
  report.md        the report to read: metrics, per-class table, most confused pairs with
                   example clips, confusion matrix and training curves (images embedded;
                   also confusion.png and curves.png)

The prediction is the classifier's. --with-prototypes ALPHA --texts TEXTS adds
ALPHA x cosine(z_high, class text embedding) / tau to its logits (the CP-A prototypes)."""

COMPARE_HELP = """\
Compare evaluation runs: each RUN is an evaluation directory (`fgsgl evaluate`) or a folder
to search for them (e.g. a `fgsgl run-local` root). Runs are grouped by variant (recorded by
the pipeline; otherwise named by their path); each variant's metrics are the mean ± std over
its seeds. Every variant is compared with the reference (`full` when present) by the paired
bootstrap over the shared test clips, and its difference is judged against seed noise.
With two or more seeds in common, a paired section adds the difference seed by seed and
clip by clip, its interval from the seed and clip variance components, and the minimum
detectable effect (80 % power). All runs must hold the same test clips.

Without --out, prints the tables as Markdown. With --out DIR, writes compare.md (tables,
sentences, chart), compare.png and compare.json there."""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate",
        help="evaluate a model on a split: metrics, confusion, predictions, report",
        description=EVALUATE_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("frames", metavar="FRAMES", help="frames artifact directory")
    p.add_argument("model", metavar="MODEL", help="model artifact directory (same dataset)")
    p.add_argument("out", metavar="OUT", help="evaluation directory to write (replaced)")
    p.add_argument("--split", default="test", help="split to evaluate (default: test)")
    p.add_argument(
        "--with-prototypes",
        type=float,
        metavar="ALPHA",
        help="add ALPHA x the class-prototype similarities to the classifier's scores",
    )
    p.add_argument("--texts", metavar="TEXTS", help="texts artifact (with --with-prototypes)")
    p.add_argument("--batch-size", type=int, default=32, metavar="N", help="default: 32")
    p.add_argument("--device", help="torch device (default: cuda when available, else cpu)")
    p.add_argument(
        "--workers", type=int, metavar="N", help="data loader processes (default: up to 4)"
    )
    p.add_argument("--variant", help="variant name recorded for `fgsgl compare`")
    p.add_argument(
        "--seed", type=int, help="seed recorded for `fgsgl compare` (default: the model's)"
    )
    p.add_argument(
        "--weights",
        metavar="DIR",
        help="the backbone's checkpoint as a weights artifact (`fgsgl fetch-weights`)",
    )
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=run_evaluate)

    c = sub.add_parser(
        "compare",
        help="compare evaluation runs: variant x metric, seeds, bootstrap CI, chart",
        description=COMPARE_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    c.add_argument("runs", metavar="RUN", nargs="+", help="evaluation directory or a root")
    c.add_argument("--out", metavar="DIR", help="write compare.md, compare.png, compare.json")
    c.add_argument(
        "--reference", metavar="VARIANT", help="variant to compare against (default: full)"
    )
    c.add_argument(
        "--bootstrap",
        type=int,
        default=2000,
        metavar="N",
        help="bootstrap resamples (default: 2000)",
    )
    c.add_argument("--level", type=float, default=0.95, help="interval level (default: 0.95)")
    c.set_defaults(func=run_compare)


def run_evaluate(args: argparse.Namespace) -> int:
    from fgsgl.evaluate.run import evaluate

    summary = evaluate(
        args.frames,
        args.model,
        args.out,
        split=args.split,
        with_prototypes=args.with_prototypes,
        texts=args.texts,
        batch_size=args.batch_size,
        variant=args.variant,
        seed=args.seed,
        device=args.device,
        workers=args.workers,
        weights=args.weights,
    )
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    print(
        f"{summary['split']}: {summary['clips']} clips in {summary['seconds']:.1f} s "
        f"({summary['clips_per_s']:.1f} clips/s)"
    )
    for key, label in (
        ("top1", "top-1"),
        ("top5", "top-5"),
        ("macro_f1", "macro-F1"),
        ("mean_class_acc", "mean class accuracy"),
    ):
        print(f"  {label:<20} {100 * summary[key]:6.2f} %")
    print(f"report: {summary['report']}")
    return 0


def run_compare(args: argparse.Namespace) -> int:
    from fgsgl.errors import UsageError
    from fgsgl.evaluate.compare_report import compare

    if args.bootstrap < 100:
        raise UsageError(f"--bootstrap {args.bootstrap}: use at least 100 resamples")
    if not 0 < args.level < 1:
        raise UsageError(f"--level {args.level}: must be between 0 and 1, e.g. 0.95")
    summary = compare(
        args.runs,
        args.out,
        reference=args.reference,
        replicates=args.bootstrap,
        level=args.level,
    )
    if args.out is None:
        print(summary["markdown"], end="")
    else:
        print(f"report: {summary['report']}")
    return 0
