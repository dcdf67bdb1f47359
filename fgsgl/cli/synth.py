"""`fgsgl synth OUT`: generate a SynthMG dataset (and optionally its contact sheet);
with --long N, long videos with several gestures each instead of one clip per gesture."""

from __future__ import annotations

import argparse
import dataclasses
import json

from fgsgl.errors import UsageError

DESCRIPTION = """\
Generate SynthMG, a procedural micro-gesture video benchmark: a seated person moves a
hand to a receiver (forehead, eyes, nose, mouth, ear, neck, collar, ...) and performs a
motion there (touches, rubs, scratches, tugs, ...). Classes come in hard pairs that
differ by a few pixels of target height or only by the motion. Each clip's initiator,
receiver, direction and motion are written to the manifest (the fine-grained text is
built from them). Split by subject. Videos are H.264 mp4; the same settings and seed
write the same bytes.

With --long N it writes N long videos instead: in each, one subject performs several
gestures with idle stretches (the body at rest, with its usual small motion) between
them, as one continuous recording. The manifest's clips are exactly the gesture segments
(start_frame/end_frame, 0-based and inclusive), and OUT/segments.csv holds the same
segments as a ground-truth table for spotting (video, clip_id, split, start_frame,
end_frame, label, class, fps, video_frames).

The dataset appears at OUT only when it is complete."""

EPILOG = """\
presets:
  default  12 classes x 30 clips, 10 subjects, 128 px, 24 frames at 12 fps (the demo and
           the ablation study; about a minute on 2 cores)
  mini     12 classes x 3 clips, 3 subjects, 64 px, 16 frames (tests, smoke runs; seconds)
  compositional
           16 classes = 4 receivers x 4 motions, hand / side / speed / amplitude varying
           inside each class and in the text, 3 low-shot classes (5 training clips;
           classes.csv low_shot), a background shortcut tied to the class in train/val
           only (manifest shortcut, shortcut_agrees); 470 / 640 / 2048 clips by 20 / 10 /
           20 subjects, 64 px, 16 frames (the study of issue 21; about a minute on 2
           cores). --classes, --clips-per-class, --subjects and --long do not apply.
Options given explicitly override the preset.

difficulty:
  --subtlety  scatter of the contact point and drift of "still" hands; higher makes the
              paired classes (forehead/eyes, nose/mouth, touching/scratching neck) overlap
  --nuisance  strength of everything meaningless: body proportions, position and scale,
              background texture, idle sway, camera shake, light, noise (0 = none)
Measure a dataset's difficulty with `python -m fgsgl.synth.calibrate OUT`.

long videos (--long N):
  video n is performed by subject n mod --subjects (split as the clips' subjects are);
  each holds --gestures-per-video gestures (default 4:6), classes dealt evenly, each as
  long as a clip (--frames, a few more where a slow gesture needs them to return to
  rest), with --idle-frames of rest before, between and after them (default half a clip
  to two clips: --frames/2 : 2 x --frames). --keypoints writes one file per video.
  e.g. fgsgl synth long-out --preset mini --long 6 --keypoints

prints a JSON summary: clips (with --long: videos and segments) per split, fingerprint,
seconds."""


def register(sub: argparse._SubParsersAction) -> None:
    from fgsgl.synth.config import PRESETS

    p = sub.add_parser(
        "synth",
        help="generate the SynthMG micro-gesture benchmark",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("out", metavar="OUT", help="dataset directory to write")
    p.add_argument(
        "--preset", choices=sorted(PRESETS), default="default", help="base settings (default)"
    )
    d = PRESETS["default"]
    p.add_argument("--classes", type=int, help=f"number of classes, 2..16 ({d.classes})")
    p.add_argument("--clips-per-class", type=int, help=f"clips of each class ({d.clips_per_class})")
    p.add_argument(
        "--subjects", type=int, help=f"people, split ~60/20/20 by subject ({d.subjects})"
    )
    p.add_argument("--size", type=int, help=f"frame width and height in pixels, even ({d.size})")
    p.add_argument("--frames", type=int, help=f"frames per clip ({d.frames})")
    p.add_argument(
        "--fps",
        type=int,
        help=f"frame rate written to the videos ({d.fps}); a gesture's timing is relative "
        "to the clip, so every clip holds one whole gesture whatever --frames and --fps",
    )
    p.add_argument("--seed", type=int, help=f"random seed ({d.seed})")
    p.add_argument(
        "--subtlety", type=float, help=f"how close the paired classes come, 0..5 ({d.subtlety})"
    )
    p.add_argument(
        "--nuisance", type=float, help=f"strength of meaningless variation, 0..5 ({d.nuisance})"
    )
    p.add_argument(
        "--keypoints",
        action="store_true",
        default=None,
        help="also write per-frame 2D keypoints of the drawn skeleton (keypoints/*.npy)",
    )
    p.add_argument(
        "--long",
        type=int,
        metavar="N",
        help="write N long videos with several gestures each (for spotting) instead of clips",
    )
    p.add_argument(
        "--gestures-per-video",
        type=frame_range,
        metavar="MIN[:MAX]",
        help="with --long: gestures in each video, drawn from MIN..MAX (4:6)",
    )
    p.add_argument(
        "--idle-frames",
        type=frame_range,
        metavar="MIN[:MAX]",
        help="with --long: frames at rest before, between and after gestures, drawn from "
        "MIN..MAX (--frames/2 : 2 x --frames)",
    )
    p.add_argument("--contact-sheet", metavar="PNG", help="also write a contact sheet PNG")
    p.add_argument("--workers", type=int, help="rendering processes (default: CPUs available)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing SynthMG OUT")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def frame_range(text: str) -> tuple[int, int]:
    """'4:6' -> (4, 6); '5' -> (5, 5)."""
    lo, sep, hi = text.partition(":")
    try:
        return int(lo), int(hi) if sep else int(lo)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected MIN:MAX or N (integers)") from None


def long_from_args(args: argparse.Namespace, problems: list[str]):
    """The LongConfig the options ask for (None without --long); adds misuse to problems."""
    from fgsgl.synth.config import LongConfig

    if args.long is None:
        for name in ("gestures_per_video", "idle_frames"):
            if getattr(args, name) is not None:
                problems.append(f"--{name.replace('_', '-')} needs --long N")
        return None
    if args.clips_per_class is not None:
        problems.append(
            "--clips-per-class does not apply with --long (the clips are the videos' "
            "gestures: see --gestures-per-video)"
        )
    return LongConfig(
        videos=args.long,
        gestures=args.gestures_per_video or LongConfig.gestures,
        idle=args.idle_frames,
    )


def config_from_args(args: argparse.Namespace):
    """The preset with every option the user gave put over it."""
    from fgsgl.synth.config import PRESETS

    base = PRESETS[args.preset]
    given = {
        f.name: getattr(args, f.name)
        for f in dataclasses.fields(base)
        if getattr(args, f.name, None) is not None
    }
    return dataclasses.replace(base, **given)


def run(args: argparse.Namespace) -> int:
    from fgsgl.synth.contact_sheet import make_contact_sheet
    from fgsgl.synth.generate import generate
    from fgsgl.synth.long import generate_long

    config = config_from_args(args)
    problems = config.problems()
    if config.compositional is not None and args.clips_per_class is not None:
        problems.append(
            "--clips-per-class does not apply to --preset compositional: its clips per class "
            "are set per split (see --help)"
        )
    long = long_from_args(args, problems)
    if long is not None:
        problems += long.problems(config)
    if args.workers is not None and args.workers < 1:
        problems.append(f"--workers must be at least 1, not {args.workers}")
    if args.contact_sheet and not args.contact_sheet.lower().endswith(".png"):
        problems.append(f"--contact-sheet {args.contact_sheet}: must name a .png file")
    if problems:
        raise UsageError("invalid options", problems)
    options = {
        "workers": args.workers,
        "overwrite": args.overwrite,
        "progress": not args.no_progress,
    }
    if long is None:
        summary = generate(args.out, config, **options)
    else:
        summary = generate_long(args.out, config, long, **options)
    if args.contact_sheet:
        summary["contact_sheet"] = str(make_contact_sheet(args.out, args.contact_sheet))
    print(json.dumps(summary, indent=2))
    return 0
