"""`fgsgl pretrain-backbone OUT`: a tiny CLIP vision tower pretrained on a SynthMG corpus
that shares no class and no subject with the compositional study, saved as a Hugging Face
checkpoint that `model.backbone: clip:OUT` loads (with LoRA, as the clip builder applies
it). Issue 21, item 6: the paper adapts a pretrained tower with LoRA; a tiny ViT trained
from scratch is another regime, and this puts the study's tiny tower in the paper's.

The corpus (`corpus_config`):
- classes: the classic SynthMG classes whose receiver is none of the compositional grid's
  (classes.COMPOSITIONAL_RECEIVERS: forehead, cheek, neck, arm), i.e. 12 of the 16
  (`corpus_classes`). The motions are shared (touch, rub, scratch, stroke are motions of
  both tables): what transfers is how hands and motions look, not the study's classes.
- subjects: a subject's appearance is drawn from (dataset seed, subject index) alone
  (synth.clip.subject_for: SeedSequence(seed, spawn_key=(SUBJECT_STREAM, index))), and the
  study's preset is seed 0. The corpus uses seed CORPUS_SEED_OFFSET + seed, so each of
  its subjects comes from another SeedSequence than every subject of the study: an
  independent stream (tests/test_pretrain.py checks that no continuous appearance
  parameter of any corpus subject equals any of the 50 study subjects'; the categorical
  ones, skin tone or hair style out of a handful, repeat by chance, as between any people).
- videos as the study's preset makes them (64 px, 16 frames at 12 fps), split by subject
  (the classic ~60/20/20).

Training reuses FG-SGL's stage 1 (fgsgl.train.train: L_cls + lambda_cp L_cp on the
corpus's class texts) rather than a classification loop of its own: it is the same data
path as the study (the config's extraction, its normalisation and its
`subtract_clip_mean` residuals, read from the one config file both use), the same
augmentation, model selection on the corpus's val split, resume after a kill; and L_cp
aligns f_high with the class texts, i.e. vision-language pretraining in miniature, which
is what the paper's backbone had. The best-val tower of that run is exported with
`save_pretrained` (config.json, model.safetensors), beside preprocessor_config.json (the
size and normalisation it was trained with), pretrain.json (the settings, their hash, the
val top-1 and the cost) and a model card (README.md).

Because the tower was trained on frame residuals, a config that loads it must keep
`model.subtract_clip_mean: true` (configs/cpu-compositional-pretrained.yaml does).

Cached: OUT's pretrain.json holds the hash of every setting that changes the checkpoint
(corpus, extraction, text encoder, the stage-1 training keys); the same settings return
at once. Otherwise the work (corpus, frames, texts, the stage-1 run) goes to
OUT.work/HASH/, where a killed run resumes, the checkpoint is written in a temp folder
beside OUT and renamed into place, and the work folder is removed (unless keep_work).
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from fgsgl.errors import FgsglError, UsageError
from fgsgl.hashing import sha256_json, short
from fgsgl.locks import locks_output

log = logging.getLogger("fgsgl.train")

PRETRAIN_FILE = "pretrain.json"
PREPROCESSOR_FILE = "preprocessor_config.json"
FORMAT = 1  # of pretrain.json
# far above any seed a study's dataset uses (the compositional preset: 0)
CORPUS_SEED_OFFSET = 1_000_000
DEFAULT_CONFIG = "cpu-compositional"
DEFAULT_EPOCHS = 30
DEFAULT_CLIPS_PER_CLASS = 48
DEFAULT_SUBJECTS = 20
EXTRACT_KEYS = ("extract.num_frames", "extract.frame_size", "extract.resize")
PHASES = ("synth", "extract", "texts", "train")  # in the order they run
TEXT_KEYS = ("text.encoder", "text.pooling", "text.dtype", "text.trust_remote_code")


def corpus_classes() -> tuple[str, ...]:
    """The classic classes whose receiver is not one of the compositional grid's."""
    from fgsgl.synth.classes import CLASSES, COMPOSITIONAL_RECEIVERS

    return tuple(c.name for c in CLASSES if c.receiver not in COMPOSITIONAL_RECEIVERS)


def corpus_config(*, seed: int, clips_per_class: int, subjects: int) -> Any:
    """The pretraining corpus's SynthConfig: `corpus_classes`, the study preset's video
    size, length and rate, seed CORPUS_SEED_OFFSET + seed (other subjects than the study's)."""
    from fgsgl.synth.config import PRESETS, classic_subset_config

    study = PRESETS["compositional"]
    return classic_subset_config(
        corpus_classes(),
        clips_per_class=clips_per_class,
        subjects=subjects,
        size=study.size,
        frames=study.frames,
        fps=study.fps,
        seed=CORPUS_SEED_OFFSET + seed,
    )


def pretrain_settings(
    config: str,
    items: Sequence[str],
    *,
    seed: int,
    epochs: int,
    clips_per_class: int,
    subjects: int,
) -> tuple[dict[str, Any], Any, Any]:
    """(the settings that make the checkpoint, the training config, the corpus config);
    FgsglError for options, a config or a backbone that cannot make one."""
    from fgsgl.settings import BY_KEY, load_config, read
    from fgsgl.synth.generate import GENERATOR_VERSION
    from fgsgl.train.stages import stage_keys

    problems = []
    if epochs < 1:
        problems.append(f"--epochs must be at least 1, not {epochs}")
    if seed < 0:
        problems.append(f"--seed must be >= 0, not {seed}")
    if problems:
        raise UsageError("invalid pretrain-backbone options", problems)
    values = read(items, config=config)
    cfg = load_config(config, [*items, f"stage1.epochs={epochs}", f"seed={seed}"])
    if not cfg.model.backbone.startswith("tiny-clip"):
        raise FgsglError(
            f"{config}: model.backbone is {cfg.model.backbone!r}; pretrain-backbone trains a "
            "tiny-clip tower from scratch (name a config whose backbone is tiny-clip[:SPEC], "
            f"e.g. {DEFAULT_CONFIG})"
        )
    if cfg.model.family != "fgsgl":
        raise FgsglError(f"{config}: model.family {cfg.model.family!r}; pretraining uses fgsgl")
    synth = corpus_config(seed=seed, clips_per_class=clips_per_class, subjects=subjects)
    synth_problems = synth.problems()
    if synth_problems:
        raise UsageError("invalid corpus settings", synth_problems)
    flat = cfg.flat()
    settings = {
        "format": FORMAT,
        "corpus": {
            **{k: v for k, v in asdict(synth).items() if k != "compositional"},
            "generator_version": GENERATOR_VERSION,
        },
        "extract": {k: values.get(k, BY_KEY[k].default) for k in EXTRACT_KEYS},
        "text": {k: values.get(k, BY_KEY[k].default) for k in TEXT_KEYS},
        "train": {k: flat[k] for k in stage_keys(cfg, 1)},
    }
    return json.loads(json.dumps(settings)), cfg, synth  # tuples as lists, as in the file


def cached(out: Path, digest: str) -> dict[str, Any] | None:
    """OUT's pretrain.json when it records these settings, else None; refuses an OUT that
    is not a pretrained checkpoint (nothing else is overwritten)."""
    record = out / PRETRAIN_FILE
    if not out.exists():
        return None
    if not out.is_dir():
        raise FgsglError(f"{out}: exists and is not a directory")
    if not record.is_file():
        if any(out.iterdir()):
            raise FgsglError(
                f"{out}: not empty and not a pretrain-backbone checkpoint (no {PRETRAIN_FILE}); "
                "refusing to replace it"
            )
        return None
    try:
        meta = json.loads(record.read_text())
    except json.JSONDecodeError as e:
        raise FgsglError(f"{record}: not valid JSON ({e})") from e
    return meta if meta.get("settings_sha256") == digest else None


@locks_output("out")
def pretrain_backbone(
    out: str | Path,
    *,
    config: str = DEFAULT_CONFIG,
    items: Sequence[str] = (),
    seed: int = 0,
    epochs: int = DEFAULT_EPOCHS,
    clips_per_class: int = DEFAULT_CLIPS_PER_CLASS,
    subjects: int = DEFAULT_SUBJECTS,
    workers: int | None = None,
    keep_work: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Make (or find) the pretrained checkpoint at `out`; returns its pretrain.json record
    with `cached` (True: found, nothing trained) and `out`. `config` and `items` (`--set
    KEY=VALUE`) give the extraction and training settings, as they give the study's;
    `epochs` and `seed` override stage1.epochs and seed. `workers`: synth and extraction
    processes (cannot change the result)."""
    out = Path(out)
    settings, cfg, synth = pretrain_settings(
        config, items, seed=seed, epochs=epochs, clips_per_class=clips_per_class, subjects=subjects
    )
    digest = sha256_json(settings)
    hit = cached(out, digest)
    if hit is not None:
        log.info("%s: already made with these settings (%s)", out, short(digest))
        return {**hit, "out": str(out), "cached": True}
    started = time.perf_counter()
    work_root = out.with_name(f"{out.name}.work")
    work = work_root / short(digest)
    if work_root.is_dir():  # what a killed run of other settings left
        for stale in work_root.iterdir():
            if stale != work:
                shutil.rmtree(stale, ignore_errors=True)
    phases: dict[str, float] = {}
    summary = _build(work, settings, config, items, cfg, synth, workers, progress, phases)
    export(work / "stage1", out, settings, digest, summary, phases, started)
    if not keep_work:
        shutil.rmtree(work_root, ignore_errors=True)
    record = json.loads((out / PRETRAIN_FILE).read_text())
    log.info(
        "pretrained %s: val top1 %.4f (chance %.4f) in %.0f s -> %s",
        cfg.model.backbone,
        record["val_top1"],
        1 / synth.classes,
        record["seconds"],
        out,
    )
    return {**record, "out": str(out), "cached": False, "work": str(work) if keep_work else None}


class _timed:
    """Add the seconds of a `with` block to phases[name]."""

    def __init__(self, phases: dict[str, float], name: str) -> None:
        self.phases, self.name = phases, name

    def __enter__(self) -> None:
        self.t0 = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        self.phases[self.name] = round(time.perf_counter() - self.t0, 2)


def _build(
    work: Path,
    settings: dict[str, Any],
    config: str,
    items: Sequence[str],
    cfg: Any,
    synth: Any,
    workers: int | None,
    progress: bool,
    phases: dict[str, float],
) -> dict[str, Any]:
    """Corpus -> frames -> texts -> stage 1 in `work`, each step skipped when its output is
    complete (a rerun after a kill resumes); returns the stage-1 summary."""
    from fgsgl.synth.generate import INFO_FILE, generate
    from fgsgl.text.encode import encode_texts
    from fgsgl.train.run import train
    from fgsgl.video.extract import extract

    corpus, frames, texts = work / "corpus", work / "frames", work / "texts"
    work.mkdir(parents=True, exist_ok=True)
    with _timed(phases, "synth"):
        if not (corpus / INFO_FILE).is_file():
            log.info(
                "corpus: %d classes x %d clips -> %s", synth.classes, synth.clips_per_class, corpus
            )
            generate(corpus, synth, workers=workers, progress=progress)
    ex = settings["extract"]
    with _timed(phases, "extract"):
        if not (frames / "metadata.json").is_file():
            extract(
                str(corpus),
                str(frames),
                frames=ex["extract.num_frames"],
                size=ex["extract.frame_size"],
                resize=ex["extract.resize"],
                workers=workers,
            )
    tx = settings["text"]
    with _timed(phases, "texts"):
        if not (texts / "metadata.json").is_file():
            encode_texts(
                str(corpus),
                str(texts),
                encoder=tx["text.encoder"],
                pooling=tx["text.pooling"] or None,
                dtype=tx["text.dtype"] or None,
                trust_remote_code=tx["text.trust_remote_code"],
            )
    with _timed(phases, "train"):
        overrides = [*items, f"stage1.epochs={cfg.stage1.epochs}", f"seed={cfg.seed}"]
        return train(
            str(frames),
            str(texts),
            str(work / "stage1"),
            stage=1,
            config=config,
            overrides=overrides,
        )


def export(
    run: Path,
    out: Path,
    settings: dict[str, Any],
    digest: str,
    summary: dict[str, Any],
    phases: dict[str, float],
    started: float,
) -> None:
    """The best-val tower of the stage-1 model artifact `run` as a Hugging Face checkpoint
    at `out` (written beside it, then renamed into place)."""
    from fgsgl.artifacts import staged_dir, write_json
    from fgsgl.train.artifact import load_model

    model, _ = load_model(run)
    backbone = model.backbone
    tower = backbone.hf_model()
    with staged_dir(out) as tmp:
        tower.save_pretrained(tmp, safe_serialization=True)
        size, resize = backbone.image_size, settings["extract"]["extract.resize"]
        write_json(tmp / PREPROCESSOR_FILE, preprocessor_config(size, resize, backbone))
        record = {
            "format": FORMAT,
            "settings": settings,
            "settings_sha256": digest,
            "backbone": model.config.backbone,
            "classes": list(settings["corpus"]["class_names"]),
            "val_top1": summary["best_val_top1"],
            "best_epoch": summary["best_epoch"],
            "epochs": summary["epochs"],
            "chance": 1 / len(settings["corpus"]["class_names"]),
            "input": {
                "frames": settings["extract"]["extract.num_frames"],
                "size": size,
                "subtract_clip_mean": model.config.subtract_clip_mean,
                "image_mean": list(backbone.image_mean),
                "image_std": list(backbone.image_std),
            },
            "phases_seconds": dict(phases),
            "seconds": round(time.perf_counter() - started, 1),
        }
        write_json(tmp / PRETRAIN_FILE, record)
        (tmp / "README.md").write_text(model_card(record))


def preprocessor_config(size: int, resize: str, backbone: Any) -> dict[str, Any]:
    """A CLIPImageProcessor config for the tower's input: the size it was trained at (a
    squash resize to size x size, or shortest side + centre crop) and its normalisation
    (fgsgl's clip builder reads image_mean / image_std from it)."""
    crop = resize == "center-crop"
    return {
        "image_processor_type": "CLIPImageProcessor",
        "do_convert_rgb": True,
        "do_resize": True,
        "size": {"shortest_edge": size} if crop else {"height": size, "width": size},
        "resample": 2,  # bilinear, as fgsgl resizes
        "do_center_crop": crop,
        "crop_size": {"height": size, "width": size},
        "do_rescale": True,
        "rescale_factor": 1 / 255,
        "do_normalize": True,
        "image_mean": list(backbone.image_mean),
        "image_std": list(backbone.image_std),
    }


def model_card(record: dict[str, Any]) -> str:
    s = record["settings"]
    corpus, train = s["corpus"], s["train"]
    inp = record["input"]
    spent = record["phases_seconds"]
    phases = ", ".join(f"{k} {spent[k]:.0f} s" for k in PHASES if k in spent)
    residual = (
        "each frame minus its clip's mean frame (`model.subtract_clip_mean: true`: keep it "
        "on in any config that loads this tower)"
        if inp["subtract_clip_mean"]
        else "the frames themselves"
    )
    classes = ", ".join(record["classes"])
    return f"""---
library_name: transformers
pipeline_tag: image-feature-extraction
tags: [clip, fgsgl, synthmg]
---
# Tiny CLIP vision tower pretrained on SynthMG (fgsgl pretrain-backbone)

A `CLIPVisionModel` ({record["backbone"]}), trained from scratch by FG-SGL's stage 1
(L_cls + L_cp on the class texts), for the compositional SynthMG study to adapt with LoRA:
`model.backbone: clip:THIS_FOLDER` (issue 21, item 6).

- corpus: SynthMG, the {len(record["classes"])} classic classes whose receiver is none of the \
compositional study's (forehead, cheek, neck, arm): {classes}; \
{corpus["clips_per_class"]} clips per class by {corpus["subjects"]} subjects, split by subject; \
{corpus["size"]} px, {corpus["frames"]} frames at {corpus["fps"]} fps; seed {corpus["seed"]} \
(the study's preset is seed 0: other subjects)
- input: {inp["frames"]} frames per clip at {inp["size"]} px, normalised with mean \
{inp["image_mean"]} and std {inp["image_std"]}; the tower sees {residual}
- training: seed {train["seed"]}, {record["epochs"]} epochs at lr {train["stage1.lr"]}, \
batch {train["optim.batch_size"]}; best epoch {record["best_epoch"]}
- val top-1 on the corpus: {record["val_top1"]:.4f} (chance {record["chance"]:.4f})
- cost: {record["seconds"]:.0f} s ({phases})

pretrain.json holds the settings and their hash: `fgsgl pretrain-backbone` with the same
settings returns at once.
"""
