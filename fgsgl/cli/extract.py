"""`fgsgl extract`: a dataset directory -> a frames artifact (and `--merge` of parts)."""

from __future__ import annotations

import argparse

from fgsgl.settings import BY_NAME

# the extraction settings' defaults, declared once in fgsgl.settings
DEFAULTS = {
    n: BY_NAME[n].default
    for n in ("num_frames", "frame_size", "resize", "max_failure_ratio", "keep_partial")
}

EXTRACT_HELP = """\
Sample T frames of every clip (the middle frame of T equal segments of its frame range)
with decord, resize them to S x S while decoding, and write a frames artifact to OUT:
fixed-shape uint8 clips in memory-mappable shards, index.csv, failures.csv and
metadata.json (docs/artifacts.md). DATASET and OUT may be local paths, gs:// or s3:// URIs.

A bad clip (missing, empty, corrupt, truncated, no frames) goes to failures.csv with the
decoder's message and the rest goes on; if more than --max-failure-ratio of the clips
fail, the command exits 1 after writing everything good. Rerunning into the same OUT
resumes: shards already complete (verified by content) are kept, the rest is redone, and
failed clips are tried again.

A partial video (a copy cut off, whose container still promises every frame; found from
its header, docs/datasets.md) fails the clips that need frames it lacks, a whole-video
clip included, and failures.csv says what was promised and what the file holds. A clip
wholly inside what it holds is kept, with a note in index.csv. --keep-partial keeps the
others too, sampled over what the file holds, with the note.

With --shard i/n, n machines each extract one slice (whole shards) into their own OUT;
`fgsgl extract --merge PART... OUT` joins them into the single run's artifact."""

EXAMPLES = """\
examples:
  fgsgl extract data/synthmg frames/                 # T=8, 448 x 448, all cores
  fgsgl extract gs://bucket/smg gs://bucket/frames --size 224 --resize center-crop
  fgsgl extract data/imigue part0 --shard 0/4        # on 4 machines: 0/4 .. 3/4, then
  fgsgl extract --merge part0 part1 part2 part3 frames/"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "extract",
        help="sample the frames of every clip into a frames artifact",
        description=EXTRACT_HELP,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="DATASET OUT; with --merge: PART... OUT",
    )
    frames, size = DEFAULTS["num_frames"], DEFAULTS["frame_size"]
    p.add_argument(
        "--frames",
        type=int,
        default=frames,
        metavar="T",
        help=f"frames per clip (default {frames})",
    )
    p.add_argument(
        "--size",
        type=int,
        default=size,
        metavar="S",
        help=f"output frames are S x S (default {size})",
    )
    p.add_argument(
        "--resize",
        choices=("squash", "center-crop"),
        default=DEFAULTS["resize"],
        help=f"squash: scale the whole frame to S x S; center-crop: scale the shorter side "
        f"to S and keep the middle (default {DEFAULTS['resize']})",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="decoding processes, one decoder thread each (default: the cores available)",
    )
    p.add_argument(
        "--shard",
        default=None,
        metavar="i/n",
        help="extract only slice i of n (0-based) of the clips, as a part for --merge",
    )
    p.add_argument(
        "--max-failure-ratio",
        type=float,
        default=DEFAULTS["max_failure_ratio"],
        metavar="R",
        help="exit 1 when more than this fraction of the clips fail "
        f"(default {DEFAULTS['max_failure_ratio']})",
    )
    p.add_argument(
        "--keep-partial",
        action="store_true",
        default=DEFAULTS["keep_partial"],
        help="keep the clips of partial videos that need frames the file lacks, sampled "
        "over what it holds, with a note in index.csv (default: they fail)",
    )
    p.add_argument(
        "--clips-per-shard",
        type=int,
        default=None,
        metavar="N",
        help="clips per shard file (default: about 256 MiB per shard)",
    )
    p.add_argument(
        "--merge",
        action="store_true",
        help="join the parts PART... of a --shard run into OUT instead of extracting",
    )
    p.set_defaults(func=run_extract)


def run_extract(args: argparse.Namespace) -> int:
    from fgsgl.errors import UsageError

    if args.merge:
        if len(args.paths) < 2:
            raise UsageError("--merge needs PART... OUT (at least one part and the output)")
        extract_only = [
            name
            for name, value, default in (
                ("--shard", args.shard, None),
                ("--workers", args.workers, None),
                ("--clips-per-shard", args.clips_per_shard, None),
                ("--keep-partial", args.keep_partial, False),
            )
            if value != default
        ]
        if extract_only:
            raise UsageError(f"--merge takes no {', '.join(extract_only)}")
        from fgsgl.video.extract import merge

        summary = merge(args.paths[:-1], args.paths[-1])
        print(
            f"merged {summary['parts']} parts into {summary['out']}: "
            f"{summary['extracted']} clips extracted, {summary['failed']} failed, "
            f"{summary['shards']} shards"
        )
        return 0
    if len(args.paths) != 2:
        raise UsageError(f"expected DATASET OUT, got {len(args.paths)} paths: {args.paths}")
    from fgsgl.video.extract import extract

    dataset, out = args.paths
    summary = extract(
        dataset,
        out,
        frames=args.frames,
        size=args.size,
        resize=args.resize,
        workers=args.workers,
        shard=args.shard,
        max_failure_ratio=args.max_failure_ratio,
        clips_per_shard=args.clips_per_shard,
        keep_partial=args.keep_partial,
    )
    failed = summary["failed"]
    print(
        f"extracted {summary['extracted']} of {summary['planned']} clips into {summary['out']}"
        + (f" ({failed} failed: see failures.csv)" if failed else "")
        + f"; {summary['skipped_shards']} of {summary['shards']} shards were already complete; "
        f"{summary['seconds']:.1f} s"
    )
    return 0
