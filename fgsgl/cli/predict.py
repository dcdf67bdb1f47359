"""`fgsgl predict MODEL INPUT... OUT`: a trained model on new videos, folders, datasets or
frames artifacts."""

from __future__ import annotations

import argparse
import json

PREDICT_HELP = """\
Run a trained model (`fgsgl train`'s OUT) on new clips and write OUT:

  predictions.csv  one row per clip, in input order: input, clip_id, video, start/end
                   frame, split, frame_indices, note, label, label_name, correct (where
                   the input has labels of the model's classes), top1_id, top1_name,
                   top1_prob ... top{K}_*, scoring
  failures.csv     input, clip_id, video, error: videos or clips that could not be read
                   (the rest go on)
  summary.md       counts per input, top-1 where labelled, predicted classes, failures
  metadata.json    how it was made (model, inputs, preprocessing, counts)

Each INPUT is a video file, a folder of videos (searched recursively), a dataset directory
(manifest.csv; any split, labels optional; --split picks one) or a frames artifact
(`fgsgl extract`'s OUT). The preprocessing is the model's own, read from its artifact:
T frames sampled as in extraction, S x S with its resize mode, keypoints for CLIP-MG. An
input the model cannot use is refused by name before anything runs: a frames artifact
made with other frame settings (both settings are named), videos without keypoints for a
CLIP-MG model, a model artifact with missing files or from a newer fgsgl.

Scores: the softmax of the classifier's logits; --with-prototypes ALPHA --texts TEXTS adds
ALPHA x cosine(z_high, class text) / tau first, as `fgsgl evaluate` does.

Long videos (--windows LEN:STRIDE, frames or seconds: 48:12, 2s:0.5s): spot gestures in
each whole video instead. A window of LEN frames every STRIDE frames is sampled as a
training clip (T segment middles); it holds no gesture when its top probability is below
--threshold, or when its top class is the model's non-gesture class (iMiGUE's 99, imported
with --non-gesture keep); consecutive windows of one class merge into a segment. Each
video is decoded once, in order. OUT then holds segments.csv (video, start/end frame and
seconds, class, score), windows.csv, timelines/*.png (class bands over time, the labelled
segments beside them) and spotting.md. With --score and a labelled dataset (an imported
iMiGUE or SMG, `fgsgl synth --long`), segments are matched to the labelled ones at
temporal IoU >= --iou: precision, recall and F1 per class and overall."""

EXAMPLES = """\
examples:
  fgsgl predict runs/full/model clips/ out/                  # every video under clips/
  fgsgl predict runs/full/model a.mp4 b.mp4 out/ --top-k 3
  fgsgl predict runs/full/model data/synthmg out/ --split test   # labelled: top-1 too
  fgsgl predict runs/full/model frames/ out/ --device cuda --batch-size 32
  fgsgl predict runs/full/model data/synthmg-long out/ --split test --windows 24:6 --score"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "predict",
        help="run a trained model on new videos, folders, datasets or frames",
        usage="fgsgl predict [options] MODEL INPUT... OUT",
        description=PREDICT_HELP,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("model", metavar="MODEL", help="model artifact directory (`fgsgl train`)")
    p.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="video files, folders, dataset directories or frames artifacts; then OUT, the "
        "directory to write (new, or an earlier predictions output, which is replaced)",
    )
    p.add_argument("--split", help="only this split of datasets and frames artifacts")
    p.add_argument(
        "--top-k", type=int, default=5, metavar="K", help="classes per clip (default: 5)"
    )
    p.add_argument(
        "--batch-size", type=int, default=8, metavar="N", help="clips per forward pass (default: 8)"
    )
    p.add_argument(
        "--device",
        default="auto",
        help="torch device: auto (cuda when available, else cpu), cpu, cuda, cuda:1 ...",
    )
    p.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="decoding processes (default: one per CPU, up to 4; 0: decode in the main one)",
    )
    p.add_argument(
        "--weights",
        metavar="DIR",
        help="the backbone's checkpoint as a weights artifact (`fgsgl fetch-weights`)",
    )
    p.add_argument(
        "--with-prototypes",
        type=float,
        metavar="ALPHA",
        help="add ALPHA x the class-prototype similarities to the classifier's logits",
    )
    p.add_argument("--texts", metavar="TEXTS", help="texts artifact (with --with-prototypes)")
    p.add_argument(
        "--windows",
        metavar="LEN:STRIDE",
        help="spot gestures in whole videos with sliding windows (frames, or seconds: 2s:0.5s)",
    )
    p.add_argument(
        "--threshold",
        type=float,
        default=0.5,
        metavar="P",
        help="with --windows: a window whose top probability is below P holds no gesture "
        "(default: %(default)s)",
    )
    p.add_argument(
        "--min-frames",
        type=int,
        default=1,
        metavar="N",
        help="with --windows: drop segments shorter than N frames (default: %(default)s)",
    )
    p.add_argument(
        "--score",
        action="store_true",
        help="with --windows: score the segments against the dataset's labelled ones",
    )
    p.add_argument(
        "--iou",
        type=float,
        default=0.5,
        help="with --score: the temporal IoU a match needs (default: %(default)s)",
    )
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=run_predict)


def run_predict(args: argparse.Namespace) -> int:
    from fgsgl.errors import UsageError
    from fgsgl.predict.run import predict

    if len(args.paths) < 2:
        raise UsageError("fgsgl predict MODEL INPUT... OUT: give at least one INPUT and OUT")
    *inputs, out = args.paths
    summary = predict(
        args.model,
        inputs,
        out,
        split=args.split,
        device=args.device,
        batch_size=args.batch_size,
        top_k=args.top_k,
        workers=args.workers,
        weights=args.weights,
        texts=args.texts,
        with_prototypes=args.with_prototypes,
        windows=args.windows,
        threshold=args.threshold,
        min_frames=args.min_frames,
        score=args.score,
        iou=args.iou,
    )
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    if args.windows:
        print(
            f"{summary['segments']} segments in {summary['videos']} videos"
            f" ({summary['failed']} failed); windows {summary['windows']}, threshold "
            f"{summary['threshold']:g}"
        )
        if "f1" in summary:
            print(
                f"  segment F1 {summary['f1']:.3f}  precision {summary['precision']:.3f}  "
                f"recall {summary['recall']:.3f}  (temporal IoU >= {summary['iou']:g})"
            )
        print(f"segments: {summary['segments_csv']}")
        print(f"report: {summary['report']}")
        return 0
    failed = f", {summary['failed']} failed (see {summary['failures_csv']})"
    print(
        f"{summary['predicted']} of {summary['clips']} clips predicted"
        f"{failed if summary['failed'] else ''} in {summary['seconds']:.1f} s "
        f"({summary['clips_per_s']:.1f} clips/s); scoring: {summary['scoring']}"
    )
    if summary["labelled"]:
        print(
            f"  top-1 {100 * summary['top1']:6.2f} %   top-{summary['k']} "
            f"{100 * summary['topk']:6.2f} %   ({summary['labelled']} labelled clips)"
        )
    print(f"predictions: {summary['predictions']}")
    print(f"summary: {summary['summary']}")
    return 0
