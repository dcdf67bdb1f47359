"""Write components/train.py, the two training stage components, from the settings schema.

The stage components' signatures and `Args:` docstrings are what a KFP user reads as the
interface, so they stay plain typed Python in a committed file; their training parameters
are the schema's (fgsgl.settings.training_stage_settings), so they are generated:

    make components            (python -m fgsgl.components.generate)

tests/test_components_generated.py fails while the committed file is stale.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path

from fgsgl.settings import Setting, training_stage_settings

TARGET = Path(__file__).with_name("train.py")

HEADER = '''\
"""Training: stage 1 and stage 2 of ML-CO (fgsgl.train), each a component of its own.

GENERATED from the settings schema by `make components` (fgsgl.components.generate): edit
the training config's fields (fgsgl.train.config), not this file.

Two components rather than one used twice, so that each signature names exactly what its
stage depends on: stage 1 reads none of fg_sa, text_granularity, lambda_fg or stage2_*,
which keeps those out of its cache key, and the variants full, no_fg_sa and class_text
share one stage-1 run (fgsgl.train.stages.stage_keys is the library's statement of this).
Each body hands its own parameters to fgsgl.runtime.tasks.train_task by name; the table
between parameter names and training config keys is fgsgl.settings.TRAIN_KEYS.

Both stages output, beside the model, the same `metrics` (KFP Metrics) and `tensorboard`
(event files) artifacts, so every variant's training columns line up in the KFP compare
view, whichever branch trained it.
"""

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Metrics, Model, Output

from fgsgl.components.images import GPU_IMAGE
'''

STAGES = {
    1: {
        "summary": "Stage 1 of ML-CO: L_cls + lambda_cp * L_cp (L_cp only with cp_a), from "
        "the backbone.",
        "texts": "the texts artifact (class prototypes t_c for L_cp).",
        "deepspeed": '"off", "on" (ZeRO-2, bf16 on CUDA) or a DeepSpeed config file in the '
        "image; several GPUs in the pod always train on DeepSpeed.",
    },
    2: {
        "summary": "Stage 2 of ML-CO from the stage-1 model (`init`), adding lambda_fg * L_fg "
        "with fg_sa; or, with ml_co off (`init` the one-stage marker), the single stage with "
        "every loss from the start for stage1_epochs + stage2_epochs epochs.",
        "texts": 'the texts artifact (t_fg per clip, or t_c with text_granularity "class").',
        "deepspeed": '"off", "on" or a DeepSpeed config file in the image.',
        "init": (
            "init: Input[Model]",
            "the stage-1 model; without ML-CO the one-stage "
            "branch's marker (start-one-stage), and training starts from the backbone.",
        ),
    },
}
ARTIFACTS = [
    ("frames: Input[Dataset]", "the frames artifact."),
    ("backbone_weights: Input[Artifact]", "the backbone's fetched checkpoint (fetch-backbone)."),
    ("model: Output[Model]", 'the best-validation model (docs/artifacts.md "model").'),
    (
        "metrics: Output[Metrics]",
        "best_val_top1 and best_epoch (the model selection), final_loss and final_loss_<term> "
        "(the last epoch's mean loss terms, this stage's only), epochs, seconds, samples_per_s "
        "(fgsgl.train.artifact.training_metrics).",
    ),
    (
        "tensorboard: Output[Artifact]",
        "TensorBoard event files, written while training (per-step losses and learning rate, "
        "per-epoch accuracies; fgsgl.train.events): a log directory. Give its URI to "
        "`tensorboard --logdir` or to Kubeflow's Tensorboards app; on an object store it is "
        "mirrored there live, so the curves show before the task ends.",
    ),
]


def _arg(name: str, text: str) -> list[str]:
    """One `Args:` entry, wrapped at 92 columns with continuation lines indented."""
    text = " ".join(text.split())
    return textwrap.wrap(
        f"{name}: {text}",
        92,
        initial_indent=" " * 8,
        subsequent_indent=" " * 12,
        break_on_hyphens=False,
    )


def _help(s: Setting, stage: int) -> str:
    return s.stage2_help if stage == 2 and s.stage2_help else s.help


def component(stage: int) -> str:
    spec = STAGES[stage]
    settings = training_stage_settings(stage)
    artifacts = [ARTIFACTS[0], ("texts: Input[Dataset]", spec["texts"]), *ARTIFACTS[1:]]
    if "init" in spec:
        artifacts.append(spec["init"])
    sig = [f"    {a}," for a, _ in artifacts]
    sig += [f"    {s.name}: {s.base_type.__name__}," for s in settings]
    sig.append('    deepspeed: str = "off",')
    doc = textwrap.wrap(spec["summary"], 92, initial_indent='    """', subsequent_indent="    ")
    doc += ["", "    Args:"]
    for a, text in artifacts:
        doc += _arg(a.partition(":")[0], text)
    for s in settings:
        doc += _arg(s.name, _help(s, stage))
    doc += _arg("deepspeed", spec["deepspeed"])
    init = ["        init=init.path,"] if stage == 2 else []
    body = [
        "    params = dict(locals())  # this component's parameters by name, before anything else",
        "    import json",
        "    from pathlib import Path",
        "",
        "    from fgsgl.runtime.tasks import train_task",
        "    from fgsgl.train.artifact import training_metrics",
        "",
        '    model.metadata["summary"] = train_task(',
        f"        stage={stage},",
        "        frames=frames.path,",
        "        texts=texts.path,",
        "        out=model.path,",
        "        out_uri=model.uri,",
        *init,
        "        weights=backbone_weights.path,",
        "        params=params,",
        "        deepspeed=deepspeed,",
        "        tensorboard=tensorboard.path,",
        "        tensorboard_uri=tensorboard.uri,",
        "    )",
        "    for key, value in training_metrics(model.path).items():",
        "        metrics.log_metric(key, value)",
        "    # kfp.local's cache drops an entry whose artifact files are missing (as in evaluate)",
        "    Path(metrics.path).write_text(json.dumps(dict(metrics.metadata), indent=2))",
        '    tensorboard.metadata["logdir"] = tensorboard.uri',
    ]
    lines = [
        "@dsl.component(base_image=GPU_IMAGE, install_kfp_package=False)",
        f"def train_stage{stage}(",
        *sig,
        ") -> None:",
        *doc,
        '    """',
        *body,
    ]
    return "\n".join(lines) + "\n"


def source() -> str:
    return HEADER + "\n\n" + "\n\n".join(component(stage) for stage in STAGES)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m fgsgl.components.generate", description=__doc__)
    p.add_argument("--check", action="store_true", help="fail if the committed file is stale")
    args = p.parse_args(argv)
    text = source()
    if args.check:
        if TARGET.read_text() != text:
            print(f"{TARGET} is stale: run `make components`", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text)
    print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
