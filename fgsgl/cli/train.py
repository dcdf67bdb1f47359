"""`fgsgl train FRAMES TEXTS OUT --stage {1,2}`: one training stage."""

from __future__ import annotations

import argparse
import json

from fgsgl.settings import TRAINING, help_lines, of_step

TRAIN_HELP = """\
Train one FG-SGL stage on a frames artifact (`fgsgl extract`) and a texts artifact
(`fgsgl encode-text`) of the same dataset, and write the best-validation model to OUT.

  stage 1: L_cls + lambda_cp * L_cp                     (ML-CO's first stage)
  stage 2: stage 1's losses + lambda_fg * L_fg, from --init (the stage-1 model)

The ablation switches (ablation.fg_sa, cp_a, ml_co, text_granularity) change this table:
cp_a=false drops L_cp, fg_sa=false drops L_fg, text_granularity=class pulls f_mid towards
the class text instead of the clip's fine-grained text, and ml_co=false trains a single
`--stage 2` run with all losses from scratch (no --init) for stage1.epochs + stage2.epochs.

Each epoch ends with a validation top-1 and a checkpoint in OUT/checkpoints; rerunning the
same command after an interruption resumes from the last one. OUT receives the model
(LoRA adapter or backbone, heads), config.yaml (every value), history.json and
metadata.json; OUT/tensorboard the curves as they train (`tensorboard --logdir OUT`).

Several GPUs in one pod (one process per GPU; each reads RANK/LOCAL_RANK/WORLD_SIZE):
  deepspeed --num_gpus N --no_local_rank --module fgsgl train FRAMES TEXTS OUT ... --deepspeed
  torchrun --nproc-per-node N -m fgsgl train FRAMES TEXTS OUT ... --deepspeed"""

CONFIG_EPILOG = """\
training settings, with their defaults ([the pipeline parameter's name] where it differs;
--config FILE and --set KEY=VALUE override them; `fgsgl settings` lists every step's):
{keys}"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train stage 1 or 2 of FG-SGL (or an ablation)",
        description=TRAIN_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=CONFIG_EPILOG.format(keys="\n".join(help_lines(of_step(TRAINING)))),
    )
    p.add_argument("frames", metavar="FRAMES", help="frames artifact directory")
    p.add_argument("texts", metavar="TEXTS", help="texts artifact directory (same dataset)")
    p.add_argument("out", metavar="OUT", help="model artifact directory to write (or resume)")
    p.add_argument("--stage", type=int, choices=(1, 2), required=True, help="which stage")
    p.add_argument("--init", metavar="MODEL", help="stage 2: the stage-1 model artifact")
    p.add_argument(
        "--weights",
        metavar="DIR",
        help="the backbone's checkpoint as a weights artifact (`fgsgl fetch-weights`); "
        "default: read it from the name's folder or the Hugging Face cache/hub",
    )
    p.add_argument(
        "--tensorboard",
        metavar="DIR",
        help="where the TensorBoard event files go, written while training (per-step "
        "losses and learning rate, per-epoch accuracies); default: OUT/tensorboard",
    )
    p.add_argument("--config", metavar="FILE", help="training config YAML (nested or dotted)")
    p.add_argument(
        "--set",
        dest="overrides",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help="override one config key, e.g. --set stage1.epochs=3 (repeatable)",
    )
    p.add_argument(
        "--deepspeed",
        nargs="?",
        const="",
        default=None,
        metavar="CONFIG",
        help="train on a DeepSpeed engine: ZeRO-2, bf16 on CUDA by default, or the given "
        "DeepSpeed JSON/YAML config (batch size, accumulation and clipping still come "
        "from the training config)",
    )
    p.set_defaults(func=run_train)


def run_train(args: argparse.Namespace) -> int:
    from fgsgl.train.run import train

    summary = train(
        args.frames,
        args.texts,
        args.out,
        stage=args.stage,
        init=args.init,
        config=args.config,
        overrides=args.overrides,
        deepspeed=args.deepspeed,
        weights=args.weights,
        tensorboard=args.tensorboard,
    )
    if summary.get("out") is not None:
        print(json.dumps(summary, indent=2))
    return 0
