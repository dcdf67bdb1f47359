"""The model card: README.md of a model artifact, written by training from what it recorded.

A model directory travels on its own (copied off a cluster, uploaded to a hub, handed to a
colleague), so it says in words what it is: the data it learnt from (dataset name and
fingerprint), the variant's switches and the stage, the numbers training measured (best
validation top-1 and the curve), where the fine-grained texts came from, how to load and
run it, and what it is not for. Everything comes from the artifact's own metadata and
config, so the card never disagrees with them.

peft's `save_pretrained` writes a blank model-card template into `adapter/`; training
replaces it with a short pointer to this card (`adapter_readme`).
"""

from __future__ import annotations

import functools
from typing import Any

from fgsgl import __version__
from fgsgl.train.config import TrainConfig

FAMILY_TEXT = {
    "fgsgl": "FG-SGL (fine-grained semantic guidance learning, Wei et al., arXiv 2603.16269)",
    "clip_mg": "CLIP-MG (pose-guided semantic queries and gated fusion, Patapati et al., "
    "arXiv 2506.16385)",
}
LOSS_TEXT = {"cls": "L_cls", "cp": "L_cp (CP-A)", "fg": "L_fg (FG-SA)"}
HISTORY_ROWS = 20  # epochs shown in the card's curve table (first and last when more)


@functools.cache
def named_variants() -> dict[str, dict[str, Any]]:
    """The pipeline's named variants (pipelines/variants.yaml, shipped as fgsgl.pipelines),
    read as data: the card names the variant a config's switches are. {} if not shipped."""
    from importlib import resources

    import yaml

    try:
        text = resources.files("fgsgl.pipelines").joinpath("variants.yaml").read_text()
    except (ModuleNotFoundError, FileNotFoundError, OSError):
        return {}
    raw = yaml.safe_load(text) or {}
    return {name: dict((spec or {}).get("parameters") or {}) for name, spec in raw.items()}


def switches(cfg: TrainConfig) -> dict[str, Any]:
    a = cfg.ablation
    return {
        "family": cfg.model.family,
        "fg_sa": a.fg_sa,
        "cp_a": a.cp_a,
        "ml_co": a.ml_co,
        "text_granularity": a.text_granularity,
    }


def variant_name(cfg: TrainConfig) -> str | None:
    """The named variant whose parameters these switches are (None: a custom setting)."""
    ours = switches(cfg)
    for name, params in named_variants().items():
        wanted = {"family": "fgsgl", **params}
        if all(ours.get(k) == v for k, v in wanted.items() if k in ours):
            return name
    return None


def _percent(value: Any) -> str:
    return "n/a" if value is None else f"{100 * float(value):.1f} %"


def _short(digest: Any) -> str:
    return str(digest or "unknown")[:16]


def _dataset_line(fields: dict[str, Any]) -> str:
    ds = fields.get("dataset") or {}
    name = ds.get("name") or "an unnamed dataset"
    kind = f" ({ds['generator']}, synthetic)" if ds.get("generator") else ""
    where = f", directory `{ds['root']}`" if ds.get("root") else ""
    return f"**{name}**{kind}{where}, fingerprint `{_short(fields.get('dataset_fingerprint'))}`"


def _backbone_line(fields: dict[str, Any], cfg: TrainConfig) -> str:
    weights = fields.get("backbone_weights") or {}
    name = cfg.model.backbone
    if cfg.model.backbone.startswith("tiny-clip"):
        return f"`{name}`: a small CLIP vision tower, random init, trained fully from scratch"
    pin = weights.get("repo_id") or weights.get("name") or name
    commit = weights.get("commit") or weights.get("revision")
    if commit:
        where = f" at `{commit}`"
    elif weights.get("source") == "local":
        where = f" (a local folder; weights sha256 `{_short(weights.get('weights_sha256'))}`)"
    else:
        where = " (revision not recorded: unpinned)"
    return (
        f"`{name}`: pretrained weights `{pin}`{where}, frozen; LoRA rank "
        f"{cfg.model.lora_rank} (alpha {cfg.model.lora_alpha}) on attention; MLP trainable: "
        f"`{fields.get('trainable_mlp')}`"
    )


def _pk_text(cfg: TrainConfig) -> str:
    """How the training batches were drawn, when not at random (optim.pk_sampler)."""
    pk = cfg.optim.pk()
    return "" if pk is None else f" ({pk[0]} classes x {pk[1]} clips)"


def _stage_line(fields: dict[str, Any], cfg: TrainConfig) -> str:
    stage = fields.get("stage")
    losses = " + ".join(
        LOSS_TEXT.get(k, k) if w == 1.0 or k == "cls" else f"{w:g}·{LOSS_TEXT.get(k, k)}"
        for k, w in (fields.get("losses") or {}).items()
    )
    if not cfg.ablation.ml_co:
        what = "the one stage (no ML-CO curriculum: every loss from the start)"
    elif stage == 1:
        what = "stage 1 of the ML-CO curriculum (stage 2 adds L_fg and starts from this model)"
    else:
        what = "stage 2 of the ML-CO curriculum, continued from the stage-1 model"
    selected = fields.get("selected") or {}
    kept = ""
    if selected and selected.get("stage") != stage:
        kept = (
            f"; no stage-{stage} epoch beat stage {selected.get('stage')}'s best, so these "
            f"are its weights (epoch {selected.get('epoch')}, selection "
            f"`{selected.get('selection')}`)"
        )
    epochs = fields.get("epochs")
    return f"{what}; losses {losses}; {epochs} epoch{'' if epochs == 1 else 's'}{kept}"


def _fg_text_lines(fields: dict[str, Any]) -> list[str]:
    fg = fields.get("texts_fg") or {}
    attributes = fields.get("texts_attributes") or {}
    sources = fg.get("sources") or {}
    encoder = f"`{fields.get('texts_encoder')}` (frozen, dim {fields.get('text_dim')})"
    lines = [f"- Text encoder: {encoder}; class prototypes T_c from classes.csv."]
    if not fg.get("fine_grained"):
        lines.append(
            "- Fine-grained texts T_fg: none (the dataset had no attributes); the model used "
            "only class texts."
        )
    else:
        counts = ", ".join(f"{k} {v}" for k, v in sorted(sources.items())) or "not recorded"
        lines.append(f"- Source of each clip's T_fg (clips): {counts}.")
    if attributes.get("artifact"):
        lines.append(f"- Attributes artifact: `{attributes['artifact']}`.")
        by_source = (attributes.get("counts") or {}).get("by_source") or {}
        for attribute, counts in by_source.items():
            shown = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
            lines.append(f"  - {attribute}: {shown}")
    if attributes.get("paraphrase"):
        lines.append("- T_fg sentences: one of four paraphrases per attribute set (hashed).")
    return lines


def _history_table(history: list[dict[str, Any]]) -> list[str]:
    if not history:
        return []
    shown = history
    if len(history) > HISTORY_ROWS:
        half = HISTORY_ROWS // 2
        shown = [*history[:half], {}, *history[-half:]]
    lines = ["| epoch | loss | val top-1 |", "|---|---|---|"]
    for e in shown:
        if not e:
            lines.append("| ... | | |")
            continue
        loss = e.get("loss")
        lines.append(
            f"| {e.get('epoch')} | {'' if loss is None else f'{loss:.4f}'} | "
            f"{_percent(e.get('val_top1'))} |"
        )
    return lines


def _limits(fields: dict[str, Any], cfg: TrainConfig) -> list[str]:
    names = fields.get("class_names") or []
    ds = fields.get("dataset") or {}
    out = [
        f"- Intended use: research on micro-gesture recognition (affective computing, "
        f"interview analysis) on clips like its training data: the {len(names)} classes "
        f"below, filmed as that dataset was filmed.",
        "- A closed set: every clip gets one of these classes. There is no 'no gesture' "
        "answer unless the class list has such a class; a threshold on the top probability "
        "is the caller's choice.",
        "- A micro-gesture class is a movement, not a mental state: do not read its "
        "predictions as emotions, intentions or a diagnosis, and do not make decisions "
        "about people with it.",
        "- The validation top-1 below chose the epoch (model selection), so it is optimistic; "
        "`fgsgl evaluate` on the test split gives the number to report.",
    ]
    if ds.get("generator") == "SynthMG":
        out.append(
            "- Trained on SynthMG, rendered stick figures: what it learnt says nothing "
            "about real footage."
        )
    if cfg.model.backbone.startswith("tiny-clip"):
        out.append(
            "- The backbone is tiny and trained from scratch (CPU tests and demos), not a "
            "pretrained vision model."
        )
    if cfg.model.family == "clip_mg":
        out.append(
            "- Needs per-frame 2D keypoints of the same skeleton beside the pixels "
            f"({(fields.get('preprocessing') or {}).get('joints')} joints)."
        )
    return out


def model_card(
    fields: dict[str, Any],
    cfg: TrainConfig,
    history: list[dict[str, Any]],
    config: dict[str, Any],
) -> str:
    """The README.md of a model artifact, from its metadata fields, training config,
    history and config.json (`config`)."""
    family = cfg.model.family
    names = list(fields.get("class_names") or [])
    ids = list(fields.get("class_ids") or range(len(names)))
    variant = variant_name(cfg)
    pre = fields.get("preprocessing") or {}
    ds = fields.get("dataset") or {}
    title = ds.get("name") or "micro-gestures"
    sw = switches(cfg)
    variant_text = f"`{variant}`" if variant else "a custom setting (no named variant)"
    best_epoch = fields.get("best_epoch")
    keypoints = f", keypoints ({pre.get('joints')} joints)" if pre.get("keypoints") else ""
    lines = [
        f"# {FAMILY_TEXT.get(family, family).split(' (')[0]} micro-gesture classifier: {title}",
        "",
        f"{'An' if family == 'fgsgl' else 'A'} {FAMILY_TEXT.get(family, family)} model that "
        f"tells {len(names)} micro-gesture "
        f"classes apart from {pre.get('frames', fields.get('frames'))} frames of a clip. "
        f"Trained with `fgsgl train` (fgsgl {__version__}); a model artifact "
        "(docs/artifacts.md, model).",
        "",
        "## Training data",
        "",
        f"- Dataset: {_dataset_line(fields)}.",
        f"- Classes ({len(names)}): "
        + ", ".join(f"{i} {n}" for i, n in zip(ids, names, strict=False))
        + ".",
        "",
        "## Model",
        "",
        f"- Family: `{family}`; variant {variant_text}: "
        + ", ".join(f"{k} {v}" for k, v in sw.items() if k != "family")
        + ".",
        f"- Stage: {_stage_line(fields, cfg)}.",
        f"- Backbone: {_backbone_line(fields, cfg)}.",
        f"- Heads: {', '.join(sorted(config.get('heads') or {}))}; text space of dimension "
        f"{fields.get('text_dim')}.",
        f"- Optimiser: AdamW, lr stage 1 {cfg.stage1.lr:g} / stage 2 {cfg.stage2.lr:g}, "
        f"batch {cfg.optim.batch_size}{_pk_text(cfg)} x {cfg.optim.grad_accum}, weight decay "
        f"{cfg.optim.weight_decay:g}, seed {cfg.seed}, precision {cfg.precision}.",
        "",
        "## FG-Text (where the fine-grained texts came from)",
        "",
        *_fg_text_lines(fields),
        "",
        "## Metrics",
        "",
        f"- Best validation top-1: **{_percent(fields.get('best_val_top1'))}** "
        f"(epoch {best_epoch} of {fields.get('epochs')}; final training loss "
        f"{fields.get('final_loss', float('nan')):.4f}).",
        "- Test metrics are not part of training: `fgsgl evaluate FRAMES MODEL OUT`.",
        "",
        *_history_table(history),
        "",
        "## Preprocessing (what `fgsgl predict` applies to new videos)",
        "",
        f"- {pre.get('frames')} frames per clip, the middle frame of {pre.get('frames')} equal "
        f"segments ({pre.get('sampler')}), each resized to {pre.get('size')} x "
        f"{pre.get('size')} px ({pre.get('resize')}){keypoints}; then to "
        f"{pre.get('image_size')} px and normalised with the backbone's mean and std"
        + ("; each frame minus its clip's mean frame" if pre.get("subtract_clip_mean") else "")
        + ".",
        "",
        "## Use",
        "",
        "```",
        "fgsgl predict MODEL_DIR VIDEO_OR_FOLDER... OUT   # predictions.csv, summary.md",
        "```",
        "",
        "```python",
        "import fgsgl",
        "from fgsgl.predict import Predictor",
        'model = fgsgl.load_model("MODEL_DIR")          # the torch module, eval mode',
        'predictor = Predictor.open("MODEL_DIR")        # preprocessing read from here',
        'probs = predictor.probabilities(predictor.clip_frames("clip.mp4")[None])',
        "```",
        "",
        "## Intended use and limits",
        "",
        *_limits(fields, cfg),
        "",
        "config.json rebuilds the model (architecture, classes, preprocessing); metadata.json "
        "records how it was made; config.yaml is every training setting.",
        "",
    ]
    return "\n".join(lines)


def adapter_readme(fields: dict[str, Any]) -> str:
    """adapter/README.md: what this LoRA adapter is part of (peft's template replaced)."""
    return (
        "# LoRA adapter of an fgsgl model\n\n"
        f"The LoRA weights of the `{fields.get('backbone')}` backbone of the fgsgl model in "
        "the folder above (its model card: ../README.md). On its own it is not a classifier: "
        "load the whole model with `fgsgl.load_model(MODEL_DIR)`.\n"
    )
