"""Spotting: a trained model over whole videos, windows -> segments, scored where labelled.

    spot(predictor, videos, out, spec, ...) -> summary dict

Writes into `out`:
    segments.csv    video, start_frame, end_frame (inclusive), start_s, end_s, label,
                    class_name, score: one row per gesture found
    windows.csv     every window: video, start_frame, end_frame, label (top class), prob
    timelines/      one PNG per video: predicted class bands over time, the labelled ones
                    beside them where the input has labels
    spotting.md     the settings, per video what was found, and with `truth` the segment
                    precision / recall / F1 per class and overall, with the matching rule
    failures.csv    videos that could not be read (the others go on)

Each video is opened once and decoded once, in order (fgsgl.predict.windows); windows go
to the model in batches.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fgsgl.errors import FgsglError, UsageError
from fgsgl.predict.scoring import score
from fgsgl.predict.spotting import NO_GESTURE, Segment, decide, segments
from fgsgl.predict.windows import WindowSpec, plan_windows

log = logging.getLogger("fgsgl.predict")

SEGMENTS_CSV = "segments.csv"
WINDOWS_CSV = "windows.csv"
TIMELINES = "timelines"
REPORT = "spotting.md"
FAILURES_CSV = "failures.csv"


@dataclass(frozen=True)
class LongVideo:
    """A video to spot in: its name in the outputs, where it is, and its labelled
    segments (start, end inclusive, class id) when the input has them."""

    name: str
    path: str
    truth: tuple[tuple[int, int | None, int], ...] = ()  # end None: to the video's end
    error: str = ""  # why it could not be fetched (it goes to the failures)


def non_gesture_class(class_ids: Sequence[int], class_names: Sequence[str]) -> int | None:
    """The model's own non-gesture class (iMiGUE's id 99, kept at import), if it has one."""
    from fgsgl.dataset.importers.class_names import (
        IMIGUE_NON_GESTURE_ID,
        IMIGUE_NON_GESTURE_NAME,
    )

    for cid, name in zip(class_ids, class_names, strict=True):
        if cid == IMIGUE_NON_GESTURE_ID and name == IMIGUE_NON_GESTURE_NAME:
            return cid
    return None


def spot(
    predictor: Any,
    videos: Sequence[LongVideo],
    out: str | Path,
    spec: WindowSpec,
    *,
    threshold: float = 0.5,
    min_frames: int = 1,
    iou: float = 0.5,
    scored: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Find gestures in `videos` with `predictor` (fgsgl.predict.predictor.Predictor)."""
    from fgsgl.progress import bar
    from fgsgl.video.decode import VideoError, VideoFile

    pre = predictor.preprocessing
    if pre.keypoints:
        raise UsageError(
            "--windows: this model reads keypoints (CLIP-MG); spotting slides windows over "
            "the video's frames only, so it needs a vision model (a fgsgl family model)"
        )
    if scored and not any(v.truth for v in videos):
        raise UsageError("--score: the input has no labelled segments to score against")
    out = Path(out)
    (out / TIMELINES).mkdir(parents=True, exist_ok=True)
    names = dict(zip(predictor.class_ids, predictor.class_names, strict=True))
    silent = non_gesture_class(predictor.class_ids, predictor.class_names)
    found: list[Segment] = []
    truth: list[Segment] = []
    window_rows: list[dict[str, Any]] = []
    failures: list[dict[str, str]] = []
    durations: dict[str, tuple[int, float]] = {}
    notes: list[str] = []
    timing = {"decode_seconds": 0.0, "decode_wait_seconds": 0.0, "model_seconds": 0.0}
    for video in bar(videos, desc="spotting", unit="video", disable=not progress):
        if video.error:
            failures.append({"video": video.name, "error": video.error})
            continue
        try:
            reader = VideoFile(video.path, size=pre.size, resize=pre.resize)
            length, stride = spec.in_frames(reader.fps)
            windows, note = plan_windows(reader.frame_count, length, stride, pre.frames)
            probs = _window_probabilities(predictor, reader, windows, timing)
        except (VideoError, OSError, ValueError) as e:  # unreadable, or no frames at all
            failures.append({"video": video.name, "error": str(e)})
            log.warning("%s: %s", video.name, e)
            continue
        if note:
            notes.append(f"{video.name}: {note}")
        fps = reader.fps or 0.0
        durations[video.name] = (reader.frame_count, fps)
        labels, scores = decide(probs, predictor.class_ids, threshold=threshold, non_gesture=silent)
        for w, label, p in zip(windows, labels, scores, strict=True):
            window_rows.append(
                {"video": video.name, "start_frame": w.start, "end_frame": w.end,
                 "label": int(label), "prob": round(float(p), 6)}
            )  # fmt: skip
        found += segments(video.name, windows, labels, scores, reader.frame_count,
                          min_frames=min_frames)  # fmt: skip
        last = reader.frame_count - 1
        truth += [Segment(video.name, s, last if e is None else min(e, last), c, 1.0)
                  for s, e, c in video.truth]  # fmt: skip
    result = score(found, truth, iou=iou) if scored else None
    _write_tables(out, found, window_rows, failures, names, durations)
    images = _write_timelines(out, found, truth, names, durations)
    summary = {
        "videos": len(videos),
        "failed": len(failures),
        "segments": len(found),
        "windows": str(spec),
        "threshold": threshold,
        "non_gesture_class": silent,
        "notes": notes,
        **{k: round(v, 3) for k, v in timing.items()},
    }
    if result is not None:
        overall = result["overall"]
        summary |= {"precision": overall.precision, "recall": overall.recall, "f1": overall.f1,
                    "macro_f1": result["macro_f1"], "iou": iou}  # fmt: skip
    (out / REPORT).write_text(_report(summary, result, names, images))
    return summary


def spot_inputs(
    predictor: Any,
    resolved: Any,
    out: str | Path,
    spec: WindowSpec,
    *,
    threshold: float,
    min_frames: int,
    scored: bool,
    iou: float,
    model: str,
    kind: str,
) -> dict[str, Any]:
    """`fgsgl predict --windows`: the resolved inputs' videos, whole, each once; a
    dataset's labelled clips in them are the truth. OUT is written all or nothing, as an
    artifact of `kind` (fgsgl.predict.run's, so that OUT can be written again)."""
    import tempfile

    from fgsgl import storage
    from fgsgl.artifacts import staged_dir, write_metadata

    if resolved.frames:
        names = ", ".join(f.input for f in resolved.frames)
        raise UsageError(
            f"--windows slides over whole videos; {names}: a frames artifact holds sampled "
            "clips only: give the videos, their folder or the dataset directory"
        )
    videos: dict[str, dict[str, Any]] = {}
    for clip in resolved.videos:
        entry = videos.setdefault(clip.uri, {"name": clip.video, "truth": []})
        if clip.label >= 0:
            start = 0 if clip.start is None else clip.start
            entry["truth"].append((start, clip.end, clip.label))
    with tempfile.TemporaryDirectory(prefix="fgsgl-spot-") as tmp_videos:
        longs = []
        for k, (uri, entry) in enumerate(videos.items()):
            path, error = uri, ""
            if storage.is_remote(uri):  # decord reads local files: one video at a time
                path = str(Path(tmp_videos) / f"{k:05d}-{Path(uri).name}")
                try:
                    storage.download(uri, path)
                except FgsglError as e:
                    error = str(e)
            longs.append(LongVideo(entry["name"], path, tuple(entry["truth"]), error))
        with staged_dir(out) as tmp:
            summary = spot(
                predictor, longs, tmp, spec, threshold=threshold, min_frames=min_frames,
                iou=iou, scored=scored,
            )  # fmt: skip
            write_metadata(
                tmp, kind, model=str(model), mode="spotting",
                preprocessing=predictor.preprocessing.as_dict(),
                class_names=predictor.class_names, class_ids=predictor.class_ids, **summary,
            )  # fmt: skip
    out = Path(out)
    summary |= {"out": str(out), "segments_csv": str(out / SEGMENTS_CSV),
                "report": str(out / REPORT), "failures_csv": str(out / FAILURES_CSV)}  # fmt: skip
    return summary


def _window_probabilities(
    predictor: Any, reader: Any, windows: list, timing: dict[str, float]
) -> np.ndarray:
    """N x C probabilities of the windows. Where the model's frame features depend on the
    frame alone, each decoded frame goes through the backbone once and every window is
    pooled from its frames' features; otherwise each window is a clip through the model.
    The next chunks decode in a thread while the model runs (fgsgl.runtime.prefetch).
    `timing` gains the seconds spent decoding (the decoder's own), waiting for decoded
    frames (the decoding the model did not hide), and in the model."""
    import time

    from fgsgl.predict.windows import decoded_frames, last_uses
    from fgsgl.runtime.prefetch import Prefetched

    clock = time.perf_counter
    shared = predictor.frames_independent
    last_use = last_uses(windows)
    cache: dict[int, Any] = {}  # frame index -> its features, or its pixels
    out: list[np.ndarray] = []
    done = 0  # windows scored so far

    def score(upto: int) -> None:  # windows [done, upto): all their frames are cached
        nonlocal done
        started = clock()
        for lo in range(done, upto, max(1, predictor.batch_size)):
            group = windows[lo : min(upto, lo + predictor.batch_size)]
            if shared:
                mid = _stack([[cache[i][0] for i in w.indices] for w in group])
                high = _stack([[cache[i][1] for i in w.indices] for w in group])
                out.append(predictor.clip_probabilities(mid, high))
            else:
                out.append(predictor.probabilities(
                    np.stack([np.stack([cache[i] for i in w.indices]) for w in group])
                ))  # fmt: skip
            for k, w in enumerate(group, start=lo):
                for i in set(w.indices):
                    if last_use[i] == k:
                        del cache[i]
        done = upto
        timing["model_seconds"] += clock() - started

    with Prefetched(decoded_frames(reader, windows)) as frames:
        while True:
            started = clock()
            indices, batch = next(frames, (None, None))
            timing["decode_wait_seconds"] += clock() - started
            if indices is None:
                break
            if shared:
                started = clock()
                mids, highs = predictor.frame_features(batch)
                cache.update(zip(indices, zip(mids, highs, strict=True), strict=True))
                timing["model_seconds"] += clock() - started
            else:
                cache.update(zip(indices, batch, strict=True))
            ready = done
            while ready < len(windows) and max(windows[ready].indices) <= indices[-1]:
                ready += 1
            score(ready)
        timing["decode_seconds"] += frames.busy_seconds
    score(len(windows))
    return np.concatenate(out)


def _stack(rows: list[list[Any]]) -> Any:
    import torch

    return torch.stack([torch.stack(row) for row in rows])


def _seconds(frame: int, fps: float) -> float | None:
    return round(frame / fps, 3) if fps else None


def _write_tables(
    out: Path,
    found: list[Segment],
    window_rows: list[dict[str, Any]],
    failures: list[dict[str, str]],
    names: dict[int, str],
    durations: dict[str, tuple[int, float]],
) -> None:
    rows = []
    for s in found:
        fps = durations[s.video][1]
        rows.append(
            {"video": s.video, "start_frame": s.start, "end_frame": s.end,
             "start_s": _seconds(s.start, fps), "end_s": _seconds(s.end + 1, fps),
             "label": s.label, "class_name": names[s.label], "score": round(s.score, 6)}
        )  # fmt: skip
    columns = ["video", "start_frame", "end_frame", "start_s", "end_s", "label", "class_name"]
    pd.DataFrame(rows, columns=[*columns, "score"]).to_csv(out / SEGMENTS_CSV, index=False)
    windows = pd.DataFrame(window_rows, columns=["video", "start_frame", "end_frame", "label",
                                                 "prob"])  # fmt: skip
    windows["class_name"] = windows["label"].map(lambda c: names.get(c, "no gesture"))
    windows.to_csv(out / WINDOWS_CSV, index=False)
    pd.DataFrame(failures, columns=["video", "error"]).to_csv(out / FAILURES_CSV, index=False)


def _write_timelines(
    out: Path,
    found: list[Segment],
    truth: list[Segment],
    names: dict[int, str],
    durations: dict[str, tuple[int, float]],
) -> dict[str, str]:
    from fgsgl.evaluate.charts import timeline_chart

    images = {}
    for k, (video, (frames, fps)) in enumerate(durations.items()):
        rate = fps or 1.0  # no frame rate: the axis counts frames

        def bands(segs: list[Segment], video: str = video, rate: float = rate) -> list:
            return [(s.start / rate, (s.end + 1) / rate, names.get(s.label, str(s.label)))
                    for s in segs if s.video == video]  # fmt: skip

        rows = {"predicted": bands(found)}
        if any(s.video == video for s in truth):
            rows["labelled"] = bands(truth)
        name = f"{k:04d}-{Path(video).stem}.png"
        (out / TIMELINES / name).write_bytes(timeline_chart(Path(video).name, frames / rate, rows))
        images[video] = f"{TIMELINES}/{name}"
    return images


def _report(
    summary: dict[str, Any], result: dict[str, Any] | None, names: dict[int, str],
    images: dict[str, str],
) -> str:  # fmt: skip
    lines = [
        "# Spotting",
        "",
        f"Windows {summary['windows']} (LEN:STRIDE), each sampled as a training clip; a window "
        f"holds no gesture when its top probability is below {summary['threshold']:g}"
        + (" or its top class is the non-gesture class" if summary["non_gesture_class"] else "")
        + "; consecutive windows of one class merge into a segment.",
        "",
        f"{summary['videos']} videos ({summary['failed']} failed), "
        f"{summary['segments']} segments found.",
    ]
    if result is not None:
        overall = result["overall"]
        lines += [
            "",
            f"**Segment F1 {overall.f1:.3f}** (precision {overall.precision:.3f}, recall "
            f"{overall.recall:.3f}; macro F1 over classes {result['macro_f1']:.3f}) at temporal "
            f"IoU >= {summary['iou']:g}.",
            "",
            f"Matching: {result['rule']}.",
            "",
            "| class | labelled | found | TP | FP | FN | precision | recall | F1 |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for cid, c in result["per_class"].items():
            lines.append(
                f"| {names.get(cid, cid)} | {c.tp + c.fn} | {c.tp + c.fp} | {c.tp} | {c.fp} | "
                f"{c.fn} | {c.precision:.3f} | {c.recall:.3f} | {c.f1:.3f} |"
            )
    for note in summary["notes"]:
        lines += ["", f"- {note}"]
    lines += ["", "## Timelines", ""]
    lines += [f"![{video}]({path})" for video, path in images.items()]
    return "\n".join(lines) + "\n"


__all__ = ["NO_GESTURE", "LongVideo", "spot"]
