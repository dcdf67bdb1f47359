"""`predict(model, inputs, out, ...)`: a trained model on new clips -> a predictions directory.

    OUT/predictions.csv  one row per clip predicted, in input order: where it came from
                         (input, clip_id, video, start/end frame, split, frame indices,
                         note), its label and whether the top class is right (where the
                         input has labels the model's classes share), the top-k class ids,
                         names and probabilities, and the scoring that made them
    OUT/failures.csv     input, clip_id, video, error: clips that could not be read
    OUT/summary.md       counts, top-1 where labelled, predicted classes, failures
    OUT/metadata.json    kind fgsgl.predictions: model, inputs, preprocessing, counts

Everything the model cannot use is refused before anything is decoded (fgsgl.predict.inputs);
a video that does not decode goes to failures.csv and the rest go on, as in extraction.
Videos are decoded in loader worker processes (extraction's code, one decoder thread each)
while the main process runs the model, so decoding overlaps the forward passes. OUT is
written through `staged_dir`: all files or none.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fgsgl import storage
from fgsgl.artifacts import METADATA, read_metadata, staged_dir, write_metadata
from fgsgl.errors import FgsglError, UsageError
from fgsgl.predict.inputs import FramesInput, VideoClip, resolve_inputs
from fgsgl.predict.predictor import Clip, Predictor, Preprocessing, open_video, read_clip
from fgsgl.progress import bar

log = logging.getLogger("fgsgl.predict")

KIND = "fgsgl.predictions"
PREDICTIONS = "predictions.csv"
FAILURES = "failures.csv"
SUMMARY = "summary.md"
FAILURE_COLUMNS = ("input", "clip_id", "video", "error")
CLIPS_PER_GROUP = 32  # clips of one video decoded by one loader item (one open)


@dataclass
class Decoded:
    """One clip back from a decoding worker: its frames, or why there are none."""

    job: VideoClip
    clip: Clip | None = None
    error: str | None = None


class VideoClips:
    """The clips to decode, as loader items: consecutive clips of one video form one item,
    so a video is opened (its packet index read) once for all of them. A loader worker
    returns each clip's frames or its error; it never raises for a bad video."""

    def __init__(self, jobs: list[VideoClip], pre: Preprocessing) -> None:
        self.pre = pre
        self.groups: list[list[VideoClip]] = []
        for job in jobs:
            last = self.groups[-1] if self.groups else None
            if last and last[0].uri == job.uri and len(last) < CLIPS_PER_GROUP:
                last.append(job)
            else:
                self.groups.append([job])

    def __len__(self) -> int:
        return len(self.groups)

    def __getitem__(self, g: int) -> list[Decoded]:
        from fgsgl.video.decode import VideoError
        from fgsgl.video.sampling import NoFramesError
        from fgsgl.video.worker import KeypointsError

        jobs = self.groups[g]
        with tempfile.TemporaryDirectory(prefix="fgsgl-predict-") as tmp:
            try:
                video = open_video(_local(jobs[0].uri, Path(tmp)), self.pre)
            except (VideoError, FgsglError) as e:
                return [Decoded(job, error=str(e)) for job in jobs]
            out = []
            for job in jobs:
                try:
                    points = None if job.keypoints is None else _local(job.keypoints, Path(tmp))
                    clip = read_clip(
                        video,
                        job.start,
                        job.end,
                        self.pre,
                        keypoints=points,
                        keypoints_name=job.keypoints,
                    )
                except (VideoError, NoFramesError, KeypointsError, FgsglError) as e:
                    out.append(Decoded(job, error=str(e)))
                else:
                    out.append(Decoded(job, clip=clip))
            return out


def _local(uri: str, tmp: Path) -> str:
    """A local path for `uri` (an object is downloaded into `tmp`)."""
    if not storage.is_remote(uri):
        return uri
    return str(storage.download(uri, tmp / uri.rstrip("/").rsplit("/", 1)[-1]))


def _as_is(item: Any) -> Any:
    return item


def check_out(out: str, inputs: Sequence[str], model: str) -> None:
    """OUT is replaced as a whole: it must be new, empty, or an earlier predictions output,
    and must not hold an input or the model."""
    if storage.is_remote(out):
        raise UsageError(f"OUT {out}: predictions are written to a local directory")
    target = Path(out).resolve()
    for other in [*inputs, model]:
        if storage.is_remote(other):
            continue
        src = Path(other).resolve()
        if src == target or target in src.parents:
            raise UsageError(f"OUT {out}: holds the input {other}; write the predictions elsewhere")
    if target.is_file():
        raise UsageError(
            f"OUT {out}: a file (a video given as the last argument?); OUT is a directory"
        )
    if target.is_dir() and any(target.iterdir()):
        if not (target / METADATA).is_file():
            raise UsageError(f"OUT {out}: a folder that is not empty; choose a new OUT")
        read_metadata(target, KIND)  # refuses another artifact's directory


def predict(
    model: str,
    inputs: Sequence[str],
    out: str,
    *,
    split: str | None = None,
    device: str = "auto",
    batch_size: int = 8,
    top_k: int = 5,
    workers: int | None = None,
    weights: str | None = None,
    texts: str | None = None,
    with_prototypes: float | None = None,
    windows: str | None = None,
    threshold: float = 0.5,
    min_frames: int = 1,
    score: bool = False,
    iou: float = 0.5,
) -> dict[str, Any]:
    """Run the model artifact `model` on `inputs` (video files, folders, dataset
    directories, frames artifacts) and write the predictions directory `out`.

    windows: LEN:STRIDE spots gestures in whole videos instead (fgsgl.predict.spot:
    segments.csv, timelines, spotting.md), a window holding no gesture below `threshold`;
    score: match the segments to the input's labelled ones at temporal IoU >= `iou`.

    split: only that split of datasets and frames artifacts; workers: decoding processes
    (default: one per CPU, up to 4; 0 decodes in this process; on the CPU, torch gets the
    cores the decoders leave, at least one thread). Returns a
    summary: clips, predicted, failed, labelled, top1, topk (None without labels),
    seconds, clips_per_s and the output paths."""
    from fgsgl.runtime.cpus import available_cpus, configure_torch_threads

    started = time.perf_counter()
    problems = []
    if not inputs:
        problems.append("no INPUT given: video files, folders, dataset directories or frames")
    if batch_size < 1:
        problems.append(f"--batch-size must be >= 1 (got {batch_size})")
    if top_k < 1:
        problems.append(f"--top-k must be >= 1 (got {top_k})")
    if workers is not None and workers < 0:
        problems.append(f"--workers must be >= 0 (got {workers})")
    spec = None
    if windows is not None:
        from fgsgl.predict.windows import parse_windows

        try:
            spec = parse_windows(windows)
        except UsageError as e:
            problems.append(str(e))
        if not 0.0 <= threshold <= 1.0:
            problems.append(f"--threshold must be a probability in [0, 1] (got {threshold})")
        if not 0.0 < iou <= 1.0:
            problems.append(f"--iou must be in (0, 1] (got {iou})")
    elif score:
        problems.append("--score scores spotted segments: give --windows LEN:STRIDE too")
    if problems:
        raise UsageError("invalid predict arguments", problems)
    check_out(out, inputs, model)
    configure_torch_threads()
    predictor = Predictor.open(
        model,
        device=device,
        batch_size=batch_size,
        weights=weights,
        texts=texts,
        with_prototypes=with_prototypes,
    )
    pre = predictor.preprocessing
    resolved = resolve_inputs(
        list(map(str, inputs)),
        pre,
        class_names=predictor.class_names,
        family=predictor.family,
        split=split,
    )
    for note in resolved.notes:
        log.info("predict: %s", note)
    if spec is not None:
        from fgsgl.predict.spot import spot_inputs

        return spot_inputs(
            predictor, resolved, out, spec, threshold=threshold, min_frames=min_frames,
            scored=score, iou=iou, model=model, kind=KIND,
        )  # fmt: skip
    cpus = available_cpus()
    if workers is None:
        workers = min(4, cpus) if resolved.videos else 0
    threads = cpus
    if resolved.videos and workers and predictor.device.type == "cpu":
        # decoders and the forward pass share the cores: one decoder process per core it
        # takes, the rest for torch's threads. Oversubscribed OpenMP threads spin against
        # the decoders (2 cores, tiny-clip: 1 decoder + 2 threads 3.7 s, 2 decoders + 1
        # thread 2.2 s for the same 216 clips; bench/predict.py)
        threads = max(1, cpus - workers)
    log.info(
        "predict: %d clips with %s (%s; %s) on %s",
        resolved.total,
        model,
        pre.describe(),
        predictor.scoring,
        predictor.device,
    )
    k = min(top_k, predictor.num_classes)
    writer = RowWriter(predictor, k)
    t0 = time.perf_counter()
    configure_torch_threads(threads)
    try:
        with bar(total=resolved.total, desc="predict", unit="clip") as progress:
            for source in resolved.frames:
                _predict_frames(predictor, source, writer, progress)
            _predict_videos(predictor, resolved.videos, writer, progress, workers)
    finally:
        configure_torch_threads(cpus)  # as every other step leaves torch
    predict_seconds = time.perf_counter() - t0
    predictions, failures = writer.tables()
    from fgsgl.predict.report import counts_of, summary_markdown

    counts = counts_of(predictions, failures, resolved, k)
    timing = {
        "predict_seconds": round(predict_seconds, 3),
        "clips_per_s": round(len(predictions) / max(predict_seconds, 1e-9), 2),
    }
    with staged_dir(out) as tmp:
        predictions.to_csv(tmp / PREDICTIONS, index=False, float_format="%.6g")
        failures.to_csv(tmp / FAILURES, index=False)
        timing["seconds"] = round(time.perf_counter() - started, 3)
        info = {
            "model": str(model),
            "model_run_fingerprint": predictor.meta.get("run_fingerprint"),
            "family": predictor.family,
            "inputs": [
                {"path": p, "kind": resolved.kinds[p], "clips": resolved.counts[p]}
                for p in resolved.kinds
            ],
            "split": split,
            "preprocessing": pre.as_dict(),
            "scoring": predictor.scoring,
            "top_k": k,
            "class_names": predictor.class_names,
            "class_ids": predictor.class_ids,
            "counts": counts,
            "notes": resolved.notes,
            "device": str(predictor.device),
            "batch_size": batch_size,
            "workers": workers,
            "timing": timing,
        }
        (tmp / SUMMARY).write_text(summary_markdown(info, predictions, failures, predictor))
        write_metadata(tmp, KIND, **info)
    summary = {
        **counts,
        **timing,
        "out": str(out),
        "predictions": str(Path(out) / PREDICTIONS),
        "failures_csv": str(Path(out) / FAILURES),
        "summary": str(Path(out) / SUMMARY),
        "scoring": predictor.scoring,
    }
    log.info(
        "predict: %d clips predicted, %d failed%s in %.1f s -> %s",
        counts["predicted"],
        counts["failed"],
        f" (see {FAILURES})" if counts["failed"] else "",
        timing["seconds"],
        out,
    )
    if counts["predicted"] == 0:
        raise FgsglError(
            f"no clip could be read ({counts['failed']} failed); see {Path(out) / FAILURES}"
        )
    return summary


class RowWriter:
    """Collects one predictions row per clip (and the failures), in input order."""

    def __init__(self, predictor: Predictor, k: int) -> None:
        self.predictor = predictor
        self.k = k
        self.rows: list[dict[str, Any]] = []
        self.failures: list[dict[str, Any]] = []

    def add(self, where: dict[str, Any], label: int, probs: np.ndarray) -> None:
        names, ids = self.predictor.class_names, self.predictor.class_ids
        top = np.argsort(-probs, kind="stable")[: self.k]
        row = dict(where)
        labelled = label >= 0
        row["label"] = label if labelled else None
        row["label_name"] = names[label] if labelled and label < len(names) else ""
        row["correct"] = bool(ids[top[0]] == label) if labelled else None
        for rank, c in enumerate(top, start=1):
            row[f"top{rank}_id"] = ids[c]
            row[f"top{rank}_name"] = names[c]
            row[f"top{rank}_prob"] = float(probs[c])
        row["scoring"] = self.predictor.scoring
        self.rows.append(row)

    def fail(self, job: VideoClip, error: str) -> None:
        self.failures.append(
            {
                "order": job.order,
                "input": job.input,
                "clip_id": job.clip_id,
                "video": job.video,
                "error": error,
            }
        )

    def tables(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        predictions = pd.DataFrame(self.rows)
        if not predictions.empty:
            predictions = predictions.sort_values("order", kind="stable").drop(columns="order")
            predictions["label"] = predictions["label"].astype("Int64")
            predictions["correct"] = predictions["correct"].astype("boolean")
            for column in ("start_frame", "end_frame"):
                predictions[column] = predictions[column].astype("Int64")
        failures = pd.DataFrame(self.failures, columns=["order", *FAILURE_COLUMNS])
        failures = failures.sort_values("order", kind="stable").drop(columns="order")
        return predictions.reset_index(drop=True), failures.reset_index(drop=True)


def _where(job: VideoClip, clip: Clip) -> dict[str, Any]:
    return {
        "order": job.order,
        "input": job.input,
        "clip_id": job.clip_id,
        "video": job.video,
        "start_frame": job.start,
        "end_frame": job.end,
        "split": job.split,
        "frame_indices": " ".join(map(str, clip.indices)),
        "note": clip.note,
    }


def _predict_frames(
    predictor: Predictor, source: FramesInput, writer: RowWriter, progress: Any
) -> None:
    """The clips of a frames artifact, as stored (nothing is decoded)."""
    art, rows = source.artifact, source.rows
    positions = rows.index.to_numpy()
    pose = predictor.preprocessing.keypoints
    size = predictor.batch_size
    for lo in range(0, len(positions), size):
        chunk = positions[lo : lo + size]
        frames = np.stack([art.array(int(i)) for i in chunk])
        points = np.stack([art.keypoints(int(i)) for i in chunk]) if pose else None
        probs = predictor.probabilities(frames, points)
        for j, (i, p) in enumerate(zip(chunk, probs, strict=True)):
            row = rows.loc[i]
            where = {
                "order": source.order + lo + j,
                "input": source.input,
                "clip_id": str(row["clip_id"]),
                "video": "",
                "start_frame": None,
                "end_frame": None,
                "split": str(row["split"]),
                "frame_indices": str(row["frame_indices"]),
                "note": str(row["note"]),
            }
            writer.add(where, int(row["label"]) if source.labelled else -1, p)
        progress.update(len(chunk))


def _predict_videos(
    predictor: Predictor, jobs: list[VideoClip], writer: RowWriter, progress: Any, workers: int
) -> None:
    """Decode in loader workers (extraction's sampling and resize), predict in batches."""
    if not jobs:
        return
    from torch.utils.data import DataLoader

    clips = VideoClips(jobs, predictor.preprocessing)
    workers = min(workers, len(clips))
    loader = DataLoader(
        clips,
        batch_size=None,
        shuffle=False,
        num_workers=workers,
        collate_fn=_as_is,
        prefetch_factor=4 if workers else None,
    )
    pending: list[Decoded] = []

    def flush() -> None:
        if not pending:
            return
        frames = np.stack([d.clip.frames for d in pending])
        points = None
        if predictor.preprocessing.keypoints:
            points = np.stack([d.clip.keypoints for d in pending])
        probs = predictor.probabilities(frames, points)
        for d, p in zip(pending, probs, strict=True):
            writer.add(_where(d.job, d.clip), d.job.label, p)
        progress.update(len(pending))
        pending.clear()

    failed = 0
    for group in loader:
        for decoded in group:
            if decoded.error is not None:
                writer.fail(decoded.job, decoded.error)
                failed += 1
                progress.update(1)
                progress.set_postfix(failed=failed, refresh=False)
                continue
            pending.append(decoded)
            if len(pending) >= predictor.batch_size:
                flush()
    flush()
