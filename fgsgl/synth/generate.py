"""The SynthMG dataset: plan the clips, split by subject, render in parallel, write it.

Layout of the written dataset directory (a valid fgsgl dataset, see docs/artifacts.md):

    manifest.csv     clip_id, video, label, split, subject, initiator, receiver, direction,
                     motion, [keypoints], and beside them speed, amplitude, pattern, rest,
                     contact_start, contact_end (the first/last frame the hand is on its
                     receiver), for analysis
    classes.csv      id, name, description (the class text T_c)
    (--preset compositional adds manifest shortcut, shortcut_agrees and classes.csv
    low_shot; see compositional.py)
    videos/<clip_id>.mp4        H.264, yuv420p, `frames` frames of size x size at `fps`
    keypoints/<clip_id>.npy     with --keypoints: float32 (frames, J, 3) = x, y, visibility
    synthmg.json     the generator's settings, joint names and bones, keypoint convention

Determinism: a clip is a function of (seed, class id, clip number, its subject's seed and
the settings), never of the worker that rendered it or of the order clips finish in, and
the videos are encoded bit-exactly (see video.py), so the same command writes the same
bytes: manifest, videos and keypoints (checked by the tests; with other versions of
numpy, Pillow, PyAV or x264 the pixels may differ; the manifest depends only on
numpy's random streams and float geometry).

Splits are by subject: subjects are shuffled with the seed, ~20% go to test, ~20% to val,
the rest to train. Clip k of class c belongs to subject (k + c) mod subjects, so every
subject performs every class about equally often, and each split sees every class as
long as clips_per_class >= subjects.

Difficulty knobs, and what they do to `python -m fgsgl.synth.calibrate` (logistic
regression on 8 frames at 16x16 grey; top-1 val / test, chance 8.3%; default size,
seed 0; measured on the 2-core dev machine):

    setting            |frame diffs|   signed diffs   frames       keypoints (pose probe)
    defaults           47.2 / 44.4     23.6 / 19.4    18.1 / 19.4  75.0 / 68.1
    --nuisance 0       73.6 / 77.8     37.5 / 45.8    43.1 / 45.8  77.8 / 75.0
    --nuisance 2       25.0 / 25.0     19.4 / 20.8     9.7 / 11.1  72.2 / 59.7
    --subtlety 0       50.0 / 48.6     25.0 / 20.8    18.1 / 20.8  86.1 / 76.4
    --subtlety 3       33.3 / 43.1     25.0 / 22.2    13.9 / 19.4  63.9 / 56.9

- `nuisance` (default 1.0) scales everything that varies without meaning anything:
  proportions between subjects, position and scale, background texture contrast, idle
  sway and head tilt, camera shake and drift, light and colour cast, sensor noise, the
  fidgeting of resting hands. It is the main lever for pixel-based learners (above: 78%
  -> 44% -> 25% for the motion baseline). 0 gives a flat background, a still camera and
  exact colours (the tests use it).
- `subtlety` (default 1.0) scatters each clip's contact point by N(0, 0.06 x subtlety)
  head radii (clipped at 2 sigma) and lets "still" hands drift by 0.05 x subtlety head
  radii. The paired classes are 0.3-0.45 head radii apart (forehead/eyes, nose/mouth: 4-5
  px at 128 px) or differ only in motion (touching/scratching neck), so raising it makes
  the pairs overlap: it is the lever for pose-aware models (keypoint probe 86% -> 68% ->
  57% test at 0 / 1 / 3) and barely moves the pixel baselines.
- `clips_per_class` (default 30) and `subjects` (default 10): fewer clips or fewer
  training subjects make the task harder for a learner without changing any single clip;
  the test split has clips_per_class x classes / 5 clips (72 by default), so halving the
  clips also doubles the sampling noise of a top-1 (about +-5.5 points at 72 clips).

The compositional preset (`--preset compositional`, fgsgl/synth/compositional.py: 16
receiver x motion classes, 3 low-shot, a shortcut in train/val, 470 / 640 / 2048 clips at
64 px, chance 6.2%) measures, val / test: |frame diffs| 52.5 / 18.0 (23.3 / 23.7 without
the shortcut; on test clips whose cue agrees / disagrees with the class 51.6 / 15.8),
signed diffs 41.6 / 10.3, frames 25.0 / 13.5, keypoints 37.7 / 35.5.

Why the defaults: 12 classes x 30 clips (216 train / 72 val / 72 test, 6/2/2 subjects)
of 24 frames at 128 px and 12 fps keep generation near a minute and extraction plus five
ablation variants x 3 seeds of a tiny ViT on CPU inside the hour (issue 8), while 128 px
still draws a face whose eyes, nose and mouth are 2-4 px features. At these settings a
linear model on motion energy sits at ~45% (5x chance) and even perfect pose at ~70%:
neither trivial nor hopeless.

For a learner that is harder than these numbers suggest: a ViT trained from scratch on raw
frames (the tiny backbone) fits the 216 training clips' subjects and backgrounds and stays
near chance on unseen subjects; on frame residuals (`subtract_clip_mean`, see
configs/cpu-tiny.yaml) it reaches 25-35% test top-1. The defaults were kept: lowering the
nuisance would make SynthMG easier for every method at once and hide the very gap between
appearance and motion that micro-gestures are about.
"""

from __future__ import annotations

import dataclasses
import logging
import signal
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fgsgl.errors import FgsglError, UsageError
from fgsgl.runtime.cpus import available_cpus
from fgsgl.synth.config import SynthConfig
from fgsgl.synth.tasks import ClipTask, subject_name, subject_splits

if TYPE_CHECKING:
    import pandas as pd

    from fgsgl.synth.classes import GestureClass

log = logging.getLogger("fgsgl")

GENERATOR = "synthmg"
GENERATOR_VERSION = 1
INFO_FILE = "synthmg.json"


def classes_for(config: SynthConfig) -> list[GestureClass]:
    """The classes a dataset made with `config` has (ids 0..C-1)."""
    from fgsgl.synth.classes import COMPOSITIONAL_CLASSES, class_table

    if config.compositional is not None:
        return list(COMPOSITIONAL_CLASSES)
    return class_table(config.classes, config.class_names)


def plan(config: SynthConfig, out: str | Path) -> list[ClipTask]:
    """Every clip to render, in the manifest's order."""
    if config.compositional is not None:
        from fgsgl.synth.compositional import plan_compositional

        return plan_compositional(config, out)
    splits = subject_splits(config.subjects, config.seed)
    tasks = []
    for label in range(config.classes):
        for number in range(config.clips_per_class):
            subject = (number + label) % config.subjects
            tasks.append(
                ClipTask(
                    clip_id=f"c{label:02d}_{subject_name(subject)}_{number:03d}",
                    label=label,
                    number=number,
                    subject=subject,
                    split=splits[subject],
                    config=config,
                    out=str(out),
                )
            )
    return tasks


def render_task(task: ClipTask) -> dict[str, Any]:
    """Render one clip, write its video (and keypoints), return its manifest row."""
    from fgsgl.synth.clip import clip_rng, render_clip, subject_for
    from fgsgl.synth.video import write_mp4

    cfg = task.config
    comp = cfg.compositional
    style = {} if comp is None else {"across": comp.across, "gain": comp.gain, "tempo": comp.tempo}
    clip = render_clip(
        classes_for(cfg)[task.label],
        subject_for(cfg.seed, task.subject, cfg.nuisance),
        clip_rng(cfg.seed, task.label, task.number),
        size=cfg.size,
        frames=cfg.frames,
        subtlety=cfg.subtlety,
        nuisance=cfg.nuisance,
        shortcut=task.shortcut,
        **style,
    )
    video = f"videos/{task.clip_id}.mp4"
    write_mp4(Path(task.out) / video, clip.frames, cfg.fps)
    row: dict[str, Any] = {
        "clip_id": task.clip_id,
        "video": video,
        "label": task.label,
        "split": task.split,
        "subject": subject_name(task.subject),
        **{k: clip.attributes[k] for k in ("initiator", "receiver", "direction", "motion")},
    }
    if cfg.keypoints:
        kp = f"keypoints/{task.clip_id}.npy"
        np.save(Path(task.out) / kp, clip.keypoints.astype(np.float32))
        row["keypoints"] = kp
    row.update({k: clip.attributes[k] for k in ("speed", "amplitude", "pattern", "rest")})
    row["contact_start"], row["contact_end"] = clip.contact
    if task.shortcut is not None:
        row["shortcut"] = task.shortcut
        row["shortcut_agrees"] = int(task.shortcut == task.label)
    return row


def _ignore_sigint() -> None:
    """Worker initializer: Ctrl-C is the main process's to handle (it stops the pool and
    removes the staging directory); workers finish the clip in hand and are told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _render_all(
    tasks: list[Any],
    workers: int,
    progress: bool,
    render: Callable[[Any], Any] | None = None,
    unit: str = "clip",
) -> list[Any]:
    """`render` (a top-level function: worker processes are spawned, not forked; default
    render_task) of every task, in the tasks' order whatever order they finish in."""
    from fgsgl.progress import bar

    render = render or render_task

    rows: list[Any] = [None] * len(tasks)
    with bar(total=len(tasks), desc="synth", unit=unit, disable=not progress) as b:
        if workers == 1:
            for i, task in enumerate(tasks):
                rows[i] = render(task)
                b.update()
        else:
            # spawn, not fork: the parent may hold threads (tqdm's monitor, BLAS pools).
            pool = ProcessPoolExecutor(
                workers, mp_context=get_context("spawn"), initializer=_ignore_sigint
            )
            with pool:
                futures = {pool.submit(render, t): i for i, t in enumerate(tasks)}
                try:
                    for future in as_completed(futures):
                        rows[futures[future]] = future.result()
                        b.update()
                except BaseException:
                    pool.shutdown(wait=True, cancel_futures=True)
                    raise
    return [r for r in rows if r is not None]


def info(config: SynthConfig) -> dict[str, Any]:
    """synthmg.json: how the dataset was made, and how to read its keypoints."""
    from fgsgl.synth.body import EDGES, JOINTS

    settings = dataclasses.asdict(config)
    if config.compositional is None:
        settings.pop("compositional")  # the classic presets' record is as it always was
    if config.class_names is None:
        settings.pop("class_names")
    else:
        settings["class_names"] = list(config.class_names)
    record = {
        "generator": GENERATOR,
        "generator_version": GENERATOR_VERSION,
        "config": settings,
        "classes": [
            {
                "id": i,
                "name": c.name,
                "receiver": c.receiver,
                "motions": list(c.motions),
                "initiators": list(c.hands),
                "twin": c.twin,
            }
            for i, c in enumerate(classes_for(config))
        ],
        "keypoints": {
            "joints": list(JOINTS),
            "edges": [list(e) for e in EDGES],
            "shape": "(frames, joints, 3): x, y, visibility",
            "coordinates": (
                "pixels of the video frame, x right, y down, pixel centres at integers "
                f"(0..{config.size - 1}); left/right are the subject's"
            ),
            "visibility": "1 = drawn and unoccluded, 0 = hidden behind an arm or outside",
        },
    }
    if config.compositional is not None:
        from fgsgl.synth.compositional import compositional_info

        compositional_info(config, record)
    return record


def classes_table(config: SynthConfig) -> pd.DataFrame:
    """classes.csv: id, name and the class text T_c of the dataset's classes (and, in the
    compositional layout, low_shot: 1 for the classes with few training clips)."""
    import pandas as pd

    chosen = classes_for(config)
    table = pd.DataFrame(
        {
            "id": range(len(chosen)),
            "name": [c.name for c in chosen],
            "description": [c.description for c in chosen],
        }
    )
    if config.compositional is not None:
        low = set(config.compositional.low_shot)
        table["low_shot"] = [int(i in low) for i in range(len(chosen))]
    return table


def _prepare_out(out: Path, overwrite: bool) -> None:
    if not out.exists():
        return
    if not out.is_dir():
        raise FgsglError(f"{out}: exists and is not a directory")
    if not any(out.iterdir()):
        return
    if not overwrite:
        raise FgsglError(f"{out}: already exists and is not empty (pass --overwrite to replace)")
    if not (out / INFO_FILE).is_file():
        raise FgsglError(
            f"{out}: not a SynthMG dataset (no {INFO_FILE}); refusing to replace it even with "
            "--overwrite"
        )


def generate(
    out: str | Path,
    config: SynthConfig,
    *,
    workers: int | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Write a SynthMG dataset directory at `out`; returns a summary.

    The directory appears only when it is complete (written inside `staged_dir`); an
    error or an interrupt leaves nothing behind.
    """
    import pandas as pd

    from fgsgl.artifacts import staged_dir, write_json
    from fgsgl.dataset import load_dataset, write_tables

    problems = config.problems()
    if workers is not None and workers < 1:
        problems.append(f"--workers must be at least 1, not {workers}")
    if problems:
        raise UsageError("invalid synth settings", problems)
    out = Path(out)
    _prepare_out(out, overwrite)
    tasks = plan(config, out)
    workers = min(workers or available_cpus(), len(tasks))
    started = time.monotonic()
    with staged_dir(out, overwrite=True) as tmp:
        (tmp / "videos").mkdir()
        if config.keypoints:
            (tmp / "keypoints").mkdir()
        tasks = [dataclasses.replace(t, out=str(tmp)) for t in tasks]
        rows = _render_all(tasks, workers, progress)
        write_tables(tmp, pd.DataFrame(rows), classes_table(config))
        write_json(tmp / INFO_FILE, info(config))
    dataset = load_dataset(out)
    by_split = dataset.manifest["split"].value_counts().to_dict()
    return {
        "out": str(out),
        "clips": len(dataset.manifest),
        "classes": config.classes,
        "subjects": config.subjects,
        "by_split": {s: int(by_split.get(s, 0)) for s in ("train", "val", "test")},
        "size": config.size,
        "frames": config.frames,
        "fps": config.fps,
        "keypoints": config.keypoints,
        "fingerprint": dataset.fingerprint(),
        "seconds": round(time.monotonic() - started, 2),
        "workers": workers,
    }
