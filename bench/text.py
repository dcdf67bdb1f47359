"""Benchmark: the encode-text step against naive per-clip encoding, in one process.

Two sets of texts:
- synthmg: the clips of a SynthMG dataset (generated here, default preset at a small frame
  size, which does not change the attributes; or --synthmg PATH);
- templated-5000: 5,000 clips whose attributes are random combinations, class by class, of
  the attribute values SynthMG uses, turned into sentences by fgsgl.text.templates (a few
  hundred distinct sentences, as a real annotated dataset has).

Baseline ("naive"): load the encoder, then one forward pass per clip for its T_fg and one
per class for T_c: no deduplication, no batching. Ours: `encode_texts` end to end (dataset
read, encoder load, deduplicated length-sorted batches, artifact written). Both include
loading the model, in the same warm process. Both are checked to give the same embedding
for every clip. Prints one row per set; the speedup is the last column and the last line.

    .venv/bin/python bench/text.py [--encoder minilm] [--clips 5000] [--synthmg PATH]
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from fgsgl.dataset import load_dataset, write_tables
from fgsgl.text.bank import load_texts
from fgsgl.text.encode import encode_texts
from fgsgl.text.encoders import build_encoder, l2_normalize
from fgsgl.text.templates import ATTRIBUTES

TARGET = 10.0


def synthmg_dataset(folder: Path) -> Path:
    from fgsgl.synth.config import PRESETS
    from fgsgl.synth.generate import generate

    config = dataclasses.replace(PRESETS["default"], size=32, frames=8)
    generate(folder, config, progress=False)
    return folder


def templated_dataset(synthmg: Path, folder: Path, clips: int, seed: int) -> Path:
    """`clips` clips: a random class each, and each attribute drawn independently from the
    values that class takes in SynthMG (so combinations SynthMG never drew appear too)."""
    ds = load_dataset(synthmg)
    vocab = {
        int(label): {a: sorted(group[a].unique()) for a in ATTRIBUTES}
        for label, group in ds.manifest.groupby("label")
    }
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(clips):
        label = int(rng.integers(len(vocab)))
        attrs = {a: str(rng.choice(vocab[label][a])) for a in ATTRIBUTES}
        rows.append(
            {
                "clip_id": f"t{i:05d}",
                "video": f"videos/t{i:05d}.mp4",
                "label": label,
                "split": "train",
                **attrs,
            }
        )
    write_tables(folder, pd.DataFrame(rows), ds.classes)
    return folder


def naive_per_clip(
    dataset: Path, args: argparse.Namespace
) -> tuple[float, list[int], np.ndarray, bool]:
    """Load the encoder, then one forward per clip (T_fg) and per class (T_c).

    With more clips than --naive-sample, the per-clip forwards are timed on a random
    sample and the total is extrapolated (load + per-clip time x clips): returns
    (seconds, the clips timed, their embeddings, whether it was extrapolated).
    """
    ds = load_dataset(dataset, need_fg_text=True)
    fg, class_texts = list(ds.fg_texts()), ds.class_texts
    picked = list(range(len(fg)))
    sampled = 0 < args.naive_sample < len(fg)
    if sampled:
        rng = np.random.default_rng(args.seed)
        picked = sorted(rng.choice(len(fg), args.naive_sample, replace=False).tolist())
    start = time.perf_counter()
    enc = build_encoder(args.encoder, device=args.device, dtype=args.dtype)
    loaded = time.perf_counter()
    per_clip = [enc.embed([fg[i]]).numpy()[0] for i in picked]
    clips_done = time.perf_counter()
    for t in class_texts:
        enc.embed([t])
    end = time.perf_counter()
    forwards = (clips_done - loaded) / len(picked) * len(fg)
    seconds = (loaded - start) + forwards + (end - clips_done)
    return seconds, picked, l2_normalize(np.stack(per_clip)), sampled


def ours(dataset: Path, out: Path, args: argparse.Namespace) -> tuple[float, dict, np.ndarray]:
    start = time.perf_counter()
    summary = encode_texts(
        str(dataset),
        str(out),
        encoder=args.encoder,
        batch_size=args.batch_size,
        device=args.device,
        dtype=args.dtype,
    )
    seconds = time.perf_counter() - start
    bank = load_texts(out)
    ids = list(bank.clips["clip_id"])
    return seconds, summary, bank.embeddings[bank.rows(ids, "fine")]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--encoder", default="minilm")
    p.add_argument("--clips", type=int, default=5000, help="clips in the templated set")
    p.add_argument("--synthmg", type=Path, default=None, help="an existing SynthMG dataset")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--device", default=None)
    p.add_argument("--dtype", default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--naive-sample",
        type=int,
        default=1000,
        help="time the naive per-clip forwards on this many clips and extrapolate (0: all clips)",
    )
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.threads:
        torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory(prefix="fgsgl-bench-text-") as tmp_s:
        tmp = Path(tmp_s)
        synthmg = args.synthmg or synthmg_dataset(tmp / "synthmg")
        sets = {
            "synthmg": synthmg,
            f"templated-{args.clips}": templated_dataset(
                synthmg, tmp / "templated", args.clips, args.seed
            ),
        }
        build_encoder(args.encoder, device=args.device, dtype=args.dtype).encode(["warm up"])
        header = (
            f"{'set':<16} {'clips':>6} {'texts':>6} {'dedup':>6} {'naive s':>8} "
            f"{'naive clips/s':>13} {'ours s':>7} {'ours clips/s':>12} {'texts/s':>8} "
            f"{'max|diff|':>9} {'speedup':>8}"
        )
        print(
            f"encoder {args.encoder}, batch size {args.batch_size}, "
            f"{torch.get_num_threads()} torch threads; both times include loading the model"
        )
        print(header)
        print("-" * len(header))
        last = 0.0
        notes: list[str] = []
        for name, dataset in sets.items():
            naive_s, picked, naive_vecs, sampled = naive_per_clip(dataset, args)
            ours_s, summary, our_vecs = ours(dataset, tmp / f"texts-{name}", args)
            diff = float(np.abs(naive_vecs - our_vecs[picked]).max())
            notes.append(
                f"{name}: naive timed on {len(picked)} clips"
                + (", extrapolated" if sampled else "")
            )
            clips = summary["clips"]
            last = naive_s / ours_s
            print(
                f"{name:<16} {clips:>6} {summary['encoded']:>6} {summary['dedup_ratio']:>6.1f} "
                f"{naive_s:>8.2f} {clips / naive_s:>13.0f} {ours_s:>7.2f} {clips / ours_s:>12.0f} "
                f"{summary['texts_per_s']:>8.0f} {diff:>9.1e} {last:>7.1f}x"
            )
        print("; ".join(notes))
        verdict = "meets" if last >= TARGET else "MISSES"
        print(
            f"speedup on the {args.clips}-clip set: {last:.1f}x "
            f"({verdict} the >= {TARGET:.0f}x target)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
