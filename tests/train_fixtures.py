"""Small frames and texts artifacts for the training tests, written in the exact layouts of
docs/artifacts.md and read back through the real readers (FramesArtifact, load_texts).

The clips are drawn so that the class is visible: a bright square whose position depends on
the class and that moves along a class-dependent direction, over noise. A tiny model learns
it in a few epochs, which is what "learns" in the tests needs; the SynthMG test uses the real
`fgsgl synth` -> extract -> encode-text chain instead.
"""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd

from fgsgl.artifacts import write_metadata
from fgsgl.text.bank import KIND as TEXTS_KIND
from fgsgl.video.frames import INDEX_COLUMNS
from fgsgl.video.frames import KIND as FRAMES_KIND

CLASS_NAMES = ("touching nose", "rubbing eyes", "scratching neck", "folding arms")


# the demo's training (configs/cpu-tiny.yaml: tiny-clip, frame residuals) at test size
TINY_DEMO = {
    "model.backbone": "tiny-clip:image=32,patch=8,width=32,layers=2",
    "model.subtract_clip_mean": True,
    "model.proj_hidden": 32,
    "optim.batch_size": 4,
    "data.workers": 0,
    "stage1.epochs": 2,
    "stage2.epochs": 1,
    "stage1.lr": 3e-3,
    "stage2.lr": 1e-3,
}


def box_track(label: int, frames: int, size: int) -> list[tuple[int, int]]:
    """The top-left corner (y, x) of the class's square in each frame."""
    box = size // 4
    y0 = (label // 2) * (size // 2) + size // 8
    x0 = (label % 2) * (size // 2) + size // 8
    dy, dx = [(0, 1), (1, 0), (0, -1), (-1, 0)][label % 4]
    return [
        (int(np.clip(y0 + dy * t, 0, size - box)), int(np.clip(x0 + dx * t, 0, size - box)))
        for t in range(frames)
    ]


def draw_clip(rng: np.random.Generator, label: int, frames: int, size: int) -> np.ndarray:
    clip = rng.integers(0, 60, size=(frames, size, size, 3), dtype=np.uint8)
    box = size // 4
    for t, (y, x) in enumerate(box_track(label, frames, size)):
        clip[t, y : y + box, x : x + box] = (220, 200 - 40 * label, 40 * label)
    return clip


def track_keypoints(label: int, frames: int, size: int) -> np.ndarray:
    """(T, 3, 3) keypoints of a clip, as the frames artifact stores them: joint 0 the
    square's centre, joint 1 the frame's centre, joint 2 absent (confidence 0)."""
    points = np.zeros((frames, 3, 3), np.float32)
    half = (size // 4 - 1) / 2
    for t, (y, x) in enumerate(box_track(label, frames, size)):
        points[t, 0] = (x + half, y + half, 1.0)
        points[t, 1] = ((size - 1) / 2, (size - 1) / 2, 0.9)
    return points


def make_artifacts(
    root: Path,
    *,
    per_class: dict[str, int] | None = None,
    frames: int = 4,
    size: int = 32,
    seed: int = 0,
    fingerprint: str = "a" * 64,
    drop_texts_of: tuple[str, ...] = (),
    dim: int = 16,
    keypoints: bool = False,
    no_keypoints_for: tuple[str, ...] = (),
) -> tuple[Path, Path]:
    """(frames_dir, texts_dir) under `root`; `per_class` clips per split and class, texts
    embedded as random unit vectors of `dim` (a stand-in encoder). `keypoints`: also the
    keypoints/ files (`track_keypoints`), zero for the clips of `no_keypoints_for`."""
    per_class = per_class or {"train": 6, "val": 3, "test": 2}
    rng = np.random.default_rng(seed)
    rows, clips = [], []
    for split, n in per_class.items():
        for label in range(len(CLASS_NAMES)):
            for k in range(n):
                hand = ("left hand", "right hand")[k % 2]
                rows.append(
                    {
                        "clip_id": f"{split}-{label}-{k}",
                        "label": label,
                        "split": split,
                        "fg_text": f"the {hand} does {CLASS_NAMES[label]}",
                    }
                )
                clips.append(draw_clip(rng, label, frames, size))
    frames_dir, texts_dir = root / "frames", root / "texts"
    points = None
    if keypoints:
        points = np.stack(
            [
                np.zeros((frames, 3, 3), np.float32)
                if r["clip_id"] in no_keypoints_for
                else track_keypoints(r["label"], frames, size)
                for r in rows
            ]
        )
    _write_frames(frames_dir, rows, np.stack(clips), fingerprint, points)
    _write_texts(texts_dir, rows, rng, fingerprint, drop_texts_of, dim)
    return frames_dir, texts_dir


def _write_frames(
    out: Path, rows: list[dict], clips: np.ndarray, fingerprint: str, points: np.ndarray | None
) -> None:
    (out / "shards").mkdir(parents=True)
    np.save(out / "shards" / "00000.npy", clips)
    if points is not None:
        (out / "keypoints").mkdir()
        np.save(out / "keypoints" / "00000.npy", points)
    index = pd.DataFrame(rows)
    for column in INDEX_COLUMNS:
        if column not in index:
            index[column] = ""
    index["shard"] = 0
    index["offset"] = np.arange(len(rows))
    index[list(INDEX_COLUMNS)].to_csv(out / "index.csv", index=False)
    pd.DataFrame({"id": range(len(CLASS_NAMES)), "name": CLASS_NAMES}).to_csv(
        out / "classes.csv", index=False
    )
    pd.DataFrame(columns=["clip_id", "video", "error"]).to_csv(out / "failures.csv", index=False)
    n, t, s = clips.shape[:3]
    write_metadata(
        out,
        FRAMES_KIND,
        frames=t,
        size=s,
        resize="squash",
        dataset_fingerprint=fingerprint,
        num_classes=len(CLASS_NAMES),
        class_names=list(CLASS_NAMES),
        counts={"planned": n, "extracted": n, "failed": 0},
        shards=[{"name": "00000", "clips": n}],
        keypoints=None if points is None else {"joints": 3, "coordinates": "output pixels"},
    )


def _write_texts(
    out: Path,
    rows: list[dict],
    rng: np.random.Generator,
    fingerprint: str,
    drop: tuple[str, ...],
    dim: int,
) -> None:
    out.mkdir(parents=True)
    texts = sorted({r["fg_text"] for r in rows})
    table = [{"kind": "fg", "class_id": -1, "text": t} for t in texts]
    table += [{"kind": "class", "class_id": c, "text": n} for c, n in enumerate(CLASS_NAMES)]
    frame = pd.DataFrame(table)
    frame.insert(0, "row", range(len(frame)))
    frame.to_csv(out / "texts.csv", index=False)
    emb = rng.normal(size=(len(frame), dim)).astype(np.float32)
    np.save(out / "embeddings.npy", emb / np.linalg.norm(emb, axis=1, keepdims=True))
    fg_row = {t: i for i, t in enumerate(texts)}
    clips = pd.DataFrame(
        [
            {
                "clip_id": r["clip_id"],
                "label": r["label"],
                "fg_row": fg_row[r["fg_text"]],
                "class_row": len(texts) + r["label"],
            }
            for r in rows
            if r["clip_id"] not in drop
        ]
    )
    clips.to_csv(out / "clips.csv", index=False)
    write_metadata(
        out,
        TEXTS_KIND,
        encoder="random-test",
        encoder_revision="0",
        dim=dim,
        pooling="mean",
        normalization="l2",
        dataset_fingerprint=fingerprint,
        num_classes=len(CLASS_NAMES),
        counts={"clips": len(clips), "unique_fg": len(texts), "classes": len(CLASS_NAMES)},
    )


def tiny_clip_backbone(folder: Path) -> str:
    """A 32 px CLIP vision checkpoint with 4 layers of width 32 (random weights, saved by
    the test): the `clip:` backbone name of a model that trains in seconds on a CPU."""
    from tiny_checkpoints import clip_full

    folder.mkdir(parents=True, exist_ok=True)
    return f"clip:{clip_full(folder)}"


def kill_after_first_epoch(cmd: list[str], out: Path) -> None:
    """Run `cmd`, SIGKILL it as soon as it logs the end of epoch 1 (its checkpoint is
    written before that line), and check it was cut short."""
    seen = []
    with subprocess.Popen(
        cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True
    ) as proc:
        for line in proc.stderr:
            seen.append(line)
            if "[fgsgl] epoch 1/3:" in line:
                proc.send_signal(signal.SIGKILL)
                break
        proc.wait(timeout=120)
    assert proc.returncode == -signal.SIGKILL, "".join(seen)[-3000:]
    assert (out / "checkpoints" / "last.pt").is_file()
    assert not (out / "metadata.json").exists()


def read_scalars(logdir: Path) -> dict[str, list[tuple[int, float]]]:
    """TensorBoard tag -> [(step, value)] of the event files in `logdir`, read back by
    TensorBoard's own loader (which applies a resumed run's purge marker)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(logdir), size_guidance={"scalars": 0})
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}
