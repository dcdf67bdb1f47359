"""Benchmark: the trainer's step against a minimal hand-written PyTorch loop, and the data
loader against what the step consumes, in one process on the same model and batches.

Inputs (made once, cached under --data): a SynthMG dataset (`fgsgl.synth`, 128 px videos)
extracted to a frames artifact (`fgsgl.video.extract`: T frames at --size px), as the
pipeline does. The text side of the losses uses random unit embeddings of the MiniLM
dimension (384): the step's cost does not depend on what the texts say.

(1) Step time, stage-2 losses (L_cls + L_cp + L_fg), the same preloaded batches, two copies
    of the same model (default tiny-clip, the demo and CI backbone):
    - minimal: forward, the three losses, backward, AdamW step, zero_grad; nothing else;
    - ours: `Trainer.train_epoch` with the PlainStepper (parameter groups, clipping,
      cosine schedule, NaN check, progress bar, per-loss metrics).
    Rounds alternate minimal / ours; the per-step time of each is its best round (other
    processes on a shared machine only ever add time), all rounds are printed.
(2) Loader: `make_loader` over the training clips (augmentation on, `data.workers`
    workers), clips/s after the first batch (worker start-up excluded), against the clips/s
    the step consumes (batch / our step time).

The ratios come last, with their targets: trainer/minimal <= 1.10; loader/consumption >= 5.

    .venv/bin/python bench/train.py [--backbone tiny-clip] [--batch 8] [--frames 8]
                                    [--size 224] [--steps 4] [--rounds 5] [--workers 2]
"""

from __future__ import annotations

import argparse
import copy
import logging
import time
from pathlib import Path

import numpy as np
import torch

from fgsgl.losses import classification_loss, fine_grained_loss, prototype_loss
from fgsgl.model import ModelConfig, build_model
from fgsgl.settings import load_config
from fgsgl.synth.generate import SynthConfig, generate
from fgsgl.train.data import ClipDataset, ClipTransform, make_loader
from fgsgl.train.optim import PlainStepper
from fgsgl.train.stages import plan_stage
from fgsgl.train.trainer import LossTargets, Trainer
from fgsgl.video.extract import extract
from fgsgl.video.frames import FramesArtifact

TEXT_DIM = 384


def make_frames(data: Path, *, frames: int, size: int) -> FramesArtifact:
    dataset, artifact = data / "synthmg", data / f"frames-{frames}x{size}"
    if not dataset.exists():
        config = SynthConfig(classes=12, clips_per_class=6, subjects=6)
        generate(dataset, config, workers=1, progress=False)
    if not (artifact / "metadata.json").exists():
        extract(str(dataset), str(artifact), frames=frames, size=size)
    return FramesArtifact.open(artifact)


class Preloaded:
    """The batches, already in memory: what both step timings iterate over."""

    class _Sampler:
        def __init__(self, n: int) -> None:
            self.n = n

        def set_epoch(self, epoch: int) -> None:
            pass

        def __len__(self) -> int:
            return self.n

    drop_last = False
    batch_size = None

    def __init__(self, batches: list) -> None:
        self.batches = batches
        self.sampler = self._Sampler(sum(len(b[1]) for b in batches))

    def __iter__(self):
        return iter(self.batches)

    def __len__(self) -> int:
        return len(self.batches)


def minimal_steps(model, batches, targets: LossTargets, tau: float, lr: float) -> float:
    """The hand-written loop; returns seconds for all batches."""
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr)
    model.train()
    start = time.perf_counter()
    for pixels, labels, idx in batches:
        rows = targets.text_rows[idx]
        out = model(pixels)
        loss = (
            classification_loss(out.logits, labels)
            + prototype_loss(out.z_high, targets.class_emb, labels, tau)
            + fine_grained_loss(out.z_mid, targets.text_emb[rows], rows, tau)
        )
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return time.perf_counter() - start


def our_steps(trainer: Trainer, epoch: int) -> float:
    from fgsgl.train.checkpoint import TrainState

    start = time.perf_counter()
    trainer.train_epoch(epoch, TrainState())
    return time.perf_counter() - start


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--backbone", default="tiny-clip")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--frames", type=int, default=8)
    p.add_argument("--size", type=int, default=224, help="frames artifact size S")
    p.add_argument("--steps", type=int, default=4, help="steps per round")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--data", type=Path, default=Path("build/bench-train"))
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    torch.manual_seed(0)

    frames = make_frames(args.data, frames=args.frames, size=args.size)
    cfg = load_config(
        overrides={
            "model.backbone": args.backbone,
            "optim.batch_size": args.batch,
            "data.workers": args.workers,
            "stage2.epochs": args.rounds + 1,
        }
    )
    plan = plan_stage(cfg, 2)
    model = build_model(ModelConfig(backbone=args.backbone), num_classes=12, text_dim=TEXT_DIM)
    transform = ClipTransform(model.image_size, model.image_mean, model.image_std)
    train_positions = np.flatnonzero(frames.index["split"] == "train")
    dataset = ClipDataset(frames, train_positions, transform=transform, augment=True, seed=0)
    n = len(dataset)
    rng = torch.Generator().manual_seed(0)
    emb = torch.nn.functional.normalize(torch.randn(n + 12, TEXT_DIM, generator=rng), dim=1)
    targets = LossTargets(
        class_emb=emb[n:], text_emb=emb[:n], text_rows=torch.randint(0, n, (n,), generator=rng)
    )

    # batches: the loader's own output, kept in memory
    loader = make_loader(dataset, batch_size=args.batch, train=True, seed=0, workers=0)
    batches = []
    while len(batches) < args.steps:
        loader.sampler.set_epoch(len(batches))
        batches += list(loader)
    batches = batches[: args.steps]

    ours_model, minimal_model = model, copy.deepcopy(model)
    stepper = PlainStepper(
        ours_model,
        lr=plan.lr,
        weight_decay=cfg.optim.weight_decay,
        grad_clip=cfg.optim.grad_clip,
        total_steps=args.steps * (args.rounds + 1),
        warmup_ratio=cfg.optim.warmup_ratio,
        device=torch.device("cpu"),
        autocast_dtype=None,
    )
    trainer = Trainer(
        plan=plan,
        tau=cfg.loss.tau,
        stepper=stepper,
        model=ours_model,
        train_loader=Preloaded(batches),
        val_loader=Preloaded([]),
        targets=targets,
        device=torch.device("cpu"),
        grad_accum=1,
        checkpointer=None,
    )
    # warm-up round (allocator, first-call costs), then alternating timed rounds
    minimal_steps(minimal_model, batches[:2], targets, cfg.loss.tau, plan.lr)
    our_steps(trainer, 0)
    minimal_times, our_times = [], []
    for r in range(args.rounds):
        minimal_times.append(minimal_steps(minimal_model, batches, targets, cfg.loss.tau, plan.lr))
        our_times.append(our_steps(trainer, r + 1))
    minimal_step = min(minimal_times) / args.steps
    our_step = min(our_times) / args.steps

    # the loader as training uses it: augmentation on, worker processes
    loader = make_loader(dataset, batch_size=args.batch, train=True, seed=0, workers=args.workers)
    clips, start = 0, None
    for epoch in range(100):
        loader.sampler.set_epoch(epoch)
        for _, labels, _ in loader:
            if start is None:  # after the first batch: workers are up
                start = time.perf_counter()
                continue
            clips += len(labels)
        if clips >= 20 * args.batch:
            break
    loader_rate = clips / (time.perf_counter() - start)
    consumption = args.batch / our_step

    threads = torch.get_num_threads()
    print(f"backbone {args.backbone}, batch {args.batch} x {args.frames} frames, "
          f"frames {args.size}px -> {model.image_size}px, {threads} threads")  # fmt: skip
    print(f"{'step (s)':<28}{'best':>10}   rounds")
    print(f"{'minimal PyTorch loop':<28}{minimal_step:>10.4f}   "
          + " ".join(f"{t / args.steps:.4f}" for t in minimal_times))  # fmt: skip
    print(f"{'fgsgl Trainer':<28}{our_step:>10.4f}   "
          + " ".join(f"{t / args.steps:.4f}" for t in our_times))  # fmt: skip
    print(f"loader ({args.workers} workers, augment): {loader_rate:.1f} clips/s; "
          f"the step consumes {consumption:.1f} clips/s")  # fmt: skip
    print(f"trainer/minimal step time: {our_step / minimal_step:.3f} (target <= 1.10)")
    print(f"loader/consumption: {loader_rate / consumption:.1f}x (target >= 5)")


if __name__ == "__main__":
    main()
