"""A contact sheet: one strip of frames per class, labelled, so a person can look at it.

It is made from the written dataset (decoded mp4s), not from the renderer's memory, so
it shows what every later step will see, and it works for any dataset directory
(`python -m fgsgl.synth.contact_sheet DATASET PNG`), imported ones included.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from fgsgl.errors import FgsglError

LABEL_WIDTH = 190
MIN_TILE = 128
GAP = 2


def pick_clips(manifest, num_classes: int) -> list[int | None]:
    """Row position of one clip per class: the first train clip, else the first at all."""
    picks: list[int | None] = []
    for label in range(num_classes):
        rows = np.flatnonzero(manifest["label"].to_numpy() == label)
        train = [r for r in rows if manifest["split"].iloc[r] == "train"]
        picks.append(int(train[0]) if train else (int(rows[0]) if len(rows) else None))
    return picks


def make_contact_sheet(dataset: str | Path, png: str | Path, *, frames: int = 8) -> Path:
    """Write a PNG with one labelled row of `frames` frames per class; returns its path."""
    import pandas as pd

    from fgsgl.dataset import load_dataset
    from fgsgl.synth.video import read_mp4
    from fgsgl.video.sampling import segment_middles

    ds = load_dataset(dataset)
    m = ds.manifest
    strips: list[tuple[str, list[np.ndarray]]] = []
    for label, row in enumerate(pick_clips(m, ds.num_classes)):
        name = f"{label}: {ds.class_names[label]}"
        if row is None:
            strips.append((name + " (no clips)", []))
            continue
        path = ds.video_uri(m["video"].iloc[row])
        try:
            video, _ = read_mp4(path)
        except Exception as e:  # a broken video should not hide the other classes
            strips.append((f"{name} (unreadable: {e})", []))
            continue
        start, end = m["start_frame"].iloc[row], m["end_frame"].iloc[row]
        lo = 0 if pd.isna(start) else int(start)
        hi = len(video) - 1 if pd.isna(end) else min(int(end), len(video) - 1)
        idx = segment_middles(lo, hi, frames)
        strips.append((f"{name}  [{m['clip_id'].iloc[row]}]", [video[i] for i in idx]))
    shapes = [f.shape for _, fs in strips for f in fs]
    if not shapes:
        raise FgsglError(f"{dataset}: no readable clips to put on a contact sheet")
    h, w = shapes[0][:2]
    scale = max(1, math.ceil(MIN_TILE / max(h, w)))
    tile_w, tile_h = w * scale, h * scale
    font = ImageFont.load_default(size=13)
    sheet = Image.new(
        "RGB",
        (LABEL_WIDTH + frames * (tile_w + GAP), len(strips) * (tile_h + GAP)),
        (255, 255, 255),
    )
    draw = ImageDraw.Draw(sheet)
    for r, (name, images) in enumerate(strips):
        y = r * (tile_h + GAP)
        _draw_label(draw, name, (6, y + tile_h // 2), font)
        for c, frame in enumerate(images):
            tile = Image.fromarray(frame).resize((tile_w, tile_h), Image.NEAREST)
            sheet.paste(tile, (LABEL_WIDTH + c * (tile_w + GAP), y))
    png = Path(png)
    png.parent.mkdir(parents=True, exist_ok=True)
    tmp = png.with_name(f".{png.name}.tmp-{os.getpid()}")
    sheet.save(tmp, format="PNG")
    os.replace(tmp, png)
    return png


def _draw_label(draw: ImageDraw.ImageDraw, text: str, at: tuple[int, int], font) -> None:
    """The class name, wrapped onto lines that fit the label column."""
    words, lines, line = text.split(), [], ""
    for word in words:
        trial = f"{line} {word}".strip()
        if draw.textlength(trial, font=font) > LABEL_WIDTH - 12 and line:
            lines.append(line)
            line = word
        else:
            line = trial
    lines.append(line)
    height = 16 * len(lines)
    for i, text_line in enumerate(lines):
        draw.text((at[0], at[1] - height // 2 + 16 * i), text_line, fill=(0, 0, 0), font=font)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m fgsgl.synth.contact_sheet",
        description="Write a PNG with one labelled strip of frames per class of a dataset.",
    )
    parser.add_argument("dataset", help="dataset directory (manifest.csv + classes.csv)")
    parser.add_argument("png", help="the PNG file to write")
    parser.add_argument("--frames", type=int, default=8, help="frames per strip (default 8)")
    args = parser.parse_args(argv)
    try:
        print(make_contact_sheet(args.dataset, args.png, frames=args.frames))
    except FgsglError as e:
        print(f"contact_sheet: error: {e}", file=sys.stderr)
        return e.exit_code
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
