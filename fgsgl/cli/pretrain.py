"""`fgsgl pretrain-backbone OUT`: a tiny CLIP tower pretrained on a SynthMG corpus disjoint
from the compositional study's, as a Hugging Face checkpoint for `backbone: clip:OUT`."""

from __future__ import annotations

import argparse
import json

HELP = """\
Pretrain the config's tiny-clip vision tower on a SynthMG corpus that shares no class and
no subject with the compositional study (issue 21), and save it as a Hugging Face
checkpoint (config.json, model.safetensors, preprocessor_config.json, README.md,
pretrain.json) that `model.backbone: clip:OUT` loads, with LoRA
(configs/cpu-compositional-pretrained.yaml).

  corpus    the 12 classic classes whose receiver is not forehead, cheek, neck or arm;
            CLIPS clips each by SUBJECTS subjects, 64 px, 16 frames; seed 1000000 + SEED
            (the study's preset is seed 0, so every subject is another person)
  training  FG-SGL stage 1 (L_cls + L_cp) with the config's extraction, normalisation,
            frame residuals and optimiser, for EPOCHS epochs; the best-val epoch is kept

Cached: OUT/pretrain.json records the hash of the settings; the same settings return at
once, other settings rebuild (in OUT.work/, resumable; OUT is replaced only when the new
checkpoint is complete). Prints a JSON summary: val_top1, chance, seconds, cached."""


def register(sub: argparse._SubParsersAction) -> None:
    from fgsgl.train import pretrain as p_

    p = sub.add_parser(
        "pretrain-backbone",
        help="pretrain a tiny CLIP tower on a SynthMG corpus disjoint from the study's",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("out", metavar="OUT", help="checkpoint folder to write (or find)")
    p.add_argument(
        "--config",
        default=p_.DEFAULT_CONFIG,
        metavar="FILE|NAME",
        help=f"settings file or name: extraction and training as the study's ({p_.DEFAULT_CONFIG})",
    )
    p.add_argument(
        "--set",
        dest="items",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help="override one setting, e.g. --set stage1.lr=3e-4 (repeatable)",
    )
    p.add_argument("--seed", type=int, default=0, help="training seed; corpus seed 1000000 + it")
    p.add_argument("--epochs", type=int, default=p_.DEFAULT_EPOCHS, help=f"({p_.DEFAULT_EPOCHS})")
    p.add_argument(
        "--clips-per-class",
        type=int,
        default=p_.DEFAULT_CLIPS_PER_CLASS,
        help=f"({p_.DEFAULT_CLIPS_PER_CLASS})",
    )
    p.add_argument(
        "--subjects", type=int, default=p_.DEFAULT_SUBJECTS, help=f"({p_.DEFAULT_SUBJECTS})"
    )
    p.add_argument("--workers", type=int, help="synth and extraction processes (default: CPUs)")
    p.add_argument(
        "--keep-work", action="store_true", help="keep OUT.work/ (corpus, frames, the run)"
    )
    p.set_defaults(func=run_pretrain)


def run_pretrain(args: argparse.Namespace) -> int:
    from fgsgl.train.pretrain import pretrain_backbone

    record = pretrain_backbone(
        args.out,
        config=args.config,
        items=args.items,
        seed=args.seed,
        epochs=args.epochs,
        clips_per_class=args.clips_per_class,
        subjects=args.subjects,
        workers=args.workers,
        keep_work=args.keep_work,
    )
    keys = ("out", "cached", "val_top1", "chance", "best_epoch", "epochs", "seconds")
    print(json.dumps({k: record.get(k) for k in keys}, indent=2))
    return 0
