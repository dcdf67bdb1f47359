"""Every run setting, declared once: its pipeline parameter name, which step reads it, and
(for the training ones) its training config key.

The pipeline's run parameters (their order, names, types and defaults), the table between
flat parameter names and dotted training keys (fgsgl.pipeline_params) and what a config
file may name all come from SETTINGS. A training setting's type and default are its
training config field's (fgsgl.train.config), so they are not written here; every other
setting's are. This module imports nothing of fgsgl's, so every part can read it.

Adding a training setting: a field in fgsgl.train.config, a `train(...)` line here, and the
argument in the components that read it (components/train.py; their code is part of KFP's
cache key, so they are written by hand; tests/test_settings.py names what is missing).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

REQUIRED: Any = object()  # the default of a parameter every run must give
NO_NULL: Any = object()


@dataclass(frozen=True)
class Setting:
    name: str  # the pipeline (KFP) parameter: flat, as the KFP UI lines runs up by it
    step: str  # the step or part of the run that reads it
    key: str | None = None  # training config key (dotted): its type and default are there
    type: type | None = None  # the others': their type and default
    default: Any = REQUIRED
    null: Any = NO_NULL  # the value that stands for null (KFP cannot pass a null locally)


def train(name: str, key: str | None = None, *, null: Any = NO_NULL) -> Setting:
    return Setting(name, "training", key=key or name, null=null)


def other(name: str, step: str, type_: type, default: Any = REQUIRED) -> Setting:
    return Setting(name, step, type=type_, default=default)


EXTRACTION = "extraction"
TEXT = "text encoding"
GPU = "GPU placement"

SETTINGS: tuple[Setting, ...] = (
    other("dataset", "the run", str),
    other("dataset_fingerprint", "the run", str),
    other("variant", "the run", str, "full"),
    # the ablation switches (the paper's variant table)
    train("fg_sa", "ablation.fg_sa"),
    train("cp_a", "ablation.cp_a"),
    train("ml_co", "ablation.ml_co"),
    train("text_granularity", "ablation.text_granularity"),
    # frame extraction
    other("num_frames", EXTRACTION, int, 8),
    other("frame_size", EXTRACTION, int, 448),
    other("resize", EXTRACTION, str, "squash"),
    other("max_failure_ratio", EXTRACTION, float, 0.05),
    # text encoding ("": the encoder's default)
    other("text_encoder", TEXT, str, "minilm"),
    other("text_pooling", TEXT, str, ""),
    other("text_dtype", TEXT, str, ""),
    other("text_trust_remote_code", TEXT, bool, False),
    other("text_paraphrases", TEXT, bool, False),
    # FG-Text attributes: auto | annotated | derived | class (fgsgl.attributes.artifact)
    other("fg_attributes", "the attributes step", str, "auto"),
    # the weights fetch steps: "" = the Hugging Face hub, else a folder / gs:// mirror
    other("weights_mirror", "the weights fetch steps", str, ""),
    # training (fgsgl.train.config)
    train("seed"),
    train("backbone", "model.backbone"),
    train("mid_layer", "model.mid_layer", null=0),  # 0: the middle layer (layers count from 1)
    train("temporal_pool", "model.temporal_pool"),
    train("subtract_clip_mean", "model.subtract_clip_mean"),
    train("lora_rank", "model.lora_rank"),
    train("lora_alpha", "model.lora_alpha"),
    train("lora_dropout", "model.lora_dropout"),
    train("proj_hidden", "model.proj_hidden"),
    train("family", "model.family"),
    train("gradient_checkpointing", "model.gradient_checkpointing"),
    train("trainable_mlp", "model.trainable_mlp"),
    train("tau", "loss.tau"),
    train("lambda_cp", "loss.lambda_cp"),
    train("lambda_fg", "loss.lambda_fg"),
    train("stage1_epochs", "stage1.epochs"),
    train("stage1_lr", "stage1.lr"),
    train("stage2_epochs", "stage2.epochs"),
    train("stage2_lr", "stage2.lr"),
    train("weight_decay", "optim.weight_decay"),
    train("warmup_ratio", "optim.warmup_ratio"),
    train("grad_clip", "optim.grad_clip"),
    train("batch_size", "optim.batch_size"),
    train("grad_accum", "optim.grad_accum"),
    train("augment", "data.augment"),
    train("precision"),
    train("selection"),
    other("deepspeed", "the training launcher (fgsgl train --deepspeed)", str, "off"),
    # evaluation
    other("eval_split", "evaluation", str, "test"),
    other("prototype_weight", "evaluation", float, 0.0),
    # the GPU node pool
    other("gpu_type", GPU, str, "nvidia.com/gpu"),
    other("gpus", GPU, int, 1),
    other("gpu_node_selector", GPU, dict, {"cloud.google.com/gke-accelerator": "nvidia-l4"}),
    other(
        "gpu_tolerations",
        GPU,
        list,
        [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
    ),
)

# Training config keys that are deliberately not run parameters, and why.
NOT_PARAMETERS: dict[str, str] = {
    "data.workers": "cannot change a result (augmentation is seeded per clip), so it stays "
    "out of the cache key; the trainer's default is used",
}

BY_NAME: dict[str, Setting] = {s.name: s for s in SETTINGS}
# flat pipeline / component parameter -> training config key
TRAIN_KEYS: dict[str, str] = {s.name: s.key for s in SETTINGS if s.key is not None}
# the run parameters that are not training settings -> the step each configures
OTHER_PARAMETERS: dict[str, str] = {s.name: s.step for s in SETTINGS if s.key is None}
# parameters whose library value may be null -> the value that stands for null
NULL_SENTINELS: dict[str, Any] = {s.name: s.null for s in SETTINGS if s.null is not NO_NULL}
KEY_TO_PARAM: dict[str, str] = {key: name for name, key in TRAIN_KEYS.items()}
