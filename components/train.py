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


@dsl.component(base_image=GPU_IMAGE, install_kfp_package=False)
def train_stage1(
    frames: Input[Dataset],
    texts: Input[Dataset],
    backbone_weights: Input[Artifact],
    model: Output[Model],
    metrics: Output[Metrics],
    tensorboard: Output[Artifact],
    seed: int,
    backbone: str,
    mid_layer: int,
    temporal_pool: str,
    subtract_clip_mean: bool,
    lora_rank: int,
    lora_alpha: int,
    lora_dropout: float,
    proj_hidden: int,
    family: str,
    gradient_checkpointing: bool,
    trainable_mlp: str,
    tau: float,
    lambda_cp: float,
    cp_a: bool,
    stage1_epochs: int,
    stage1_lr: float,
    weight_decay: float,
    warmup_ratio: float,
    grad_clip: float,
    batch_size: int,
    grad_accum: int,
    pk_sampler: str,
    augment: bool,
    precision: str,
    deepspeed: str = "off",
) -> None:
    """Stage 1 of ML-CO: L_cls + lambda_cp * L_cp (L_cp only with cp_a), from the backbone.

    Args:
        frames: the frames artifact.
        texts: the texts artifact (class prototypes t_c for L_cp).
        backbone_weights: the backbone's fetched checkpoint (fetch-backbone).
        model: the best-validation model (docs/artifacts.md "model").
        metrics: best_val_top1 and best_epoch (the model selection), final_loss and
            final_loss_<term> (the last epoch's mean loss terms, this stage's only), epochs,
            seconds, samples_per_s (fgsgl.train.artifact.training_metrics).
        tensorboard: TensorBoard event files, written while training (per-step losses and
            learning rate, per-epoch accuracies; fgsgl.train.events): a log directory. Give
            its URI to `tensorboard --logdir` or to Kubeflow's Tensorboards app; on an
            object store it is mirrored there live, so the curves show before the task ends.
        seed: seed of every random source (data order, augmentation, initialisation).
        backbone: "tiny-clip", "clip:<path-or-id>" or "internvl:<path-or-id>".
        mid_layer: the layer f_mid is pooled from (counting from 1); 0 = the middle one.
        temporal_pool: pooling over the T frames, "mean" or "max".
        subtract_clip_mean: feed the backbone each frame minus its clip's mean frame (what
            moved; for backbones trained from scratch, e.g. tiny-clip on CPU).
        lora_rank: LoRA rank on the attention projections (pretrained backbones).
        lora_alpha: LoRA alpha.
        lora_dropout: LoRA dropout.
        proj_hidden: hidden width of the projection MLPs into the text space.
        family: the model family, "fgsgl" (or "clip_mg").
        gradient_checkpointing: trade compute for memory in the backbone.
        trainable_mlp: which MLPs train fully beside LoRA: "heads", "vit_mlp", "projector"
            (InternVL's), "all" or "auto" (projector where there is one).
        tau: temperature of the InfoNCE losses.
        lambda_cp: weight of L_cp (class-prototype alignment).
        cp_a: train L_cp at all (off in the no_cp_a variant).
        stage1_epochs: epochs of stage 1.
        stage1_lr: peak learning rate of stage 1.
        weight_decay: AdamW weight decay.
        warmup_ratio: share of the steps spent warming up (cosine schedule after).
        grad_clip: gradient-norm clipping; 0 = none.
        batch_size: clips per device and step.
        grad_accum: steps accumulated per optimiser step.
        pk_sampler: training batches of P classes x K clips each, "PxK" (or "P:K"), P x K =
            optim.batch_size: L_fg then contrasts clips of one class with different
            fine-grained texts, which random batches rarely hold (fgsgl.train.pk_sampler);
            "" = random batches.
        augment: light augmentation of the training clips.
        precision: "auto" (bf16 autocast on CUDA, fp32 on CPU), "bf16" or "fp32".
        deepspeed: "off", "on" (ZeRO-2, bf16 on CUDA) or a DeepSpeed config file in the
            image; several GPUs in the pod always train on DeepSpeed.
    """
    params = dict(locals())  # this component's parameters by name, before anything else
    import json
    from pathlib import Path

    from fgsgl.runtime.tasks import train_task
    from fgsgl.train.artifact import training_metrics

    model.metadata["summary"] = train_task(
        stage=1,
        frames=frames.path,
        texts=texts.path,
        out=model.path,
        out_uri=model.uri,
        weights=backbone_weights.path,
        params=params,
        deepspeed=deepspeed,
        tensorboard=tensorboard.path,
        tensorboard_uri=tensorboard.uri,
    )
    for key, value in training_metrics(model.path).items():
        metrics.log_metric(key, value)
    # kfp.local's cache drops an entry whose artifact files are missing (as in evaluate)
    Path(metrics.path).write_text(json.dumps(dict(metrics.metadata), indent=2))
    tensorboard.metadata["logdir"] = tensorboard.uri


@dsl.component(base_image=GPU_IMAGE, install_kfp_package=False)
def train_stage2(
    frames: Input[Dataset],
    texts: Input[Dataset],
    backbone_weights: Input[Artifact],
    model: Output[Model],
    metrics: Output[Metrics],
    tensorboard: Output[Artifact],
    init: Input[Model],
    seed: int,
    backbone: str,
    mid_layer: int,
    temporal_pool: str,
    subtract_clip_mean: bool,
    lora_rank: int,
    lora_alpha: int,
    lora_dropout: float,
    proj_hidden: int,
    family: str,
    gradient_checkpointing: bool,
    trainable_mlp: str,
    tau: float,
    lambda_cp: float,
    lambda_fg: float,
    fg_sa: bool,
    cp_a: bool,
    ml_co: bool,
    text_granularity: str,
    stage1_epochs: int,
    stage1_lr: float,
    stage2_epochs: int,
    stage2_lr: float,
    weight_decay: float,
    warmup_ratio: float,
    grad_clip: float,
    batch_size: int,
    grad_accum: int,
    pk_sampler: str,
    augment: bool,
    precision: str,
    selection: str,
    deepspeed: str = "off",
) -> None:
    """Stage 2 of ML-CO from the stage-1 model (`init`), adding lambda_fg * L_fg with fg_sa;
    or, with ml_co off (`init` the one-stage marker), the single stage with every loss from
    the start for stage1_epochs + stage2_epochs epochs.

    Args:
        frames: the frames artifact.
        texts: the texts artifact (t_fg per clip, or t_c with text_granularity "class").
        backbone_weights: the backbone's fetched checkpoint (fetch-backbone).
        model: the best-validation model (docs/artifacts.md "model").
        metrics: best_val_top1 and best_epoch (the model selection), final_loss and
            final_loss_<term> (the last epoch's mean loss terms, this stage's only), epochs,
            seconds, samples_per_s (fgsgl.train.artifact.training_metrics).
        tensorboard: TensorBoard event files, written while training (per-step losses and
            learning rate, per-epoch accuracies; fgsgl.train.events): a log directory. Give
            its URI to `tensorboard --logdir` or to Kubeflow's Tensorboards app; on an
            object store it is mirrored there live, so the curves show before the task ends.
        init: the stage-1 model; without ML-CO the one-stage branch's marker
            (start-one-stage), and training starts from the backbone.
        seed: seed of every random source (data order, augmentation, initialisation).
        backbone: "tiny-clip", "clip:<path-or-id>" or "internvl:<path-or-id>".
        mid_layer: the layer f_mid is pooled from (counting from 1); 0 = the middle one.
        temporal_pool: pooling over the T frames, "mean" or "max".
        subtract_clip_mean: feed the backbone each frame minus its clip's mean frame (what
            moved; for backbones trained from scratch, e.g. tiny-clip on CPU).
        lora_rank: LoRA rank on the attention projections (pretrained backbones).
        lora_alpha: LoRA alpha.
        lora_dropout: LoRA dropout.
        proj_hidden: hidden width of the projection MLPs into the text space.
        family: the model family, "fgsgl" (or "clip_mg").
        gradient_checkpointing: trade compute for memory in the backbone.
        trainable_mlp: which MLPs train fully beside LoRA: "heads", "vit_mlp", "projector"
            (InternVL's), "all" or "auto" (projector where there is one).
        tau: temperature of the InfoNCE losses.
        lambda_cp: weight of L_cp (class-prototype alignment).
        lambda_fg: weight of L_fg (fine-grained semantic alignment).
        fg_sa: train L_fg at all (off in the no_fg_sa variant).
        cp_a: train L_cp at all (off in the no_cp_a variant).
        ml_co: two stages (this one continues `init`); off: one stage from scratch.
        text_granularity: what L_fg aligns to: "fine" (T_fg) or "class" (T_c).
        stage1_epochs: epochs of stage 1 (added to stage2_epochs without ML-CO).
        stage1_lr: peak learning rate of stage 1 (the one stage's, without ML-CO).
        stage2_epochs: epochs of stage 2.
        stage2_lr: peak learning rate of stage 2.
        weight_decay: AdamW weight decay.
        warmup_ratio: share of the steps spent warming up (cosine schedule after).
        grad_clip: gradient-norm clipping; 0 = none.
        batch_size: clips per device and step.
        grad_accum: steps accumulated per optimiser step.
        pk_sampler: training batches of P classes x K clips each, "PxK" (or "P:K"), P x K =
            optim.batch_size: L_fg then contrasts clips of one class with different
            fine-grained texts, which random batches rarely hold (fgsgl.train.pk_sampler);
            "" = random batches.
        augment: light augmentation of the training clips.
        precision: "auto" (bf16 autocast on CUDA, fp32 on CPU), "bf16" or "fp32".
        selection: model selection by the best validation top-1 of this "stage", or of the
            whole "run" (the stage-1 model is kept when no stage-2 epoch beats it).
        deepspeed: "off", "on" or a DeepSpeed config file in the image.
    """
    params = dict(locals())  # this component's parameters by name, before anything else
    import json
    from pathlib import Path

    from fgsgl.runtime.tasks import train_task
    from fgsgl.train.artifact import training_metrics

    model.metadata["summary"] = train_task(
        stage=2,
        frames=frames.path,
        texts=texts.path,
        out=model.path,
        out_uri=model.uri,
        init=init.path,
        weights=backbone_weights.path,
        params=params,
        deepspeed=deepspeed,
        tensorboard=tensorboard.path,
        tensorboard_uri=tensorboard.uri,
    )
    for key, value in training_metrics(model.path).items():
        metrics.log_metric(key, value)
    # kfp.local's cache drops an entry whose artifact files are missing (as in evaluate)
    Path(metrics.path).write_text(json.dumps(dict(metrics.metadata), indent=2))
    tensorboard.metadata["logdir"] = tensorboard.uri
