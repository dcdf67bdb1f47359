"""Planning-time checks: what would fail inside a pod is refused before any run starts.

run-local and submit call `check_runs` on the planned runs: every training setting is
valid; each backbone and text encoder names a checkpoint that exists in the form the step
will read it (a local folder of a layout fgsgl reads, a weights mirror that holds it, a hub
revision that exists when the hub can be asked); the model families' inputs are in the
dataset (CLIP-MG's keypoints). Every problem of every run is reported at once. What is
fine but worth saying (unpinned hub ids, where the weights will come from) comes back as
notes, which `submit --dry-run` prints.
"""

from __future__ import annotations

import functools
import json
import logging
from typing import Any

from fgsgl.errors import FgsglError
from fgsgl.pipelines.plan import PlannedRun

log = logging.getLogger("fgsgl")

PARTS = (("backbone", "vision"), ("text_encoder", "language"))


def check_runs(plans: list[PlannedRun], dataset: Any | None = None) -> list[str]:
    """Refuse runs that cannot work (one FgsglError listing every problem); return notes."""
    problems: list[str] = []
    notes: dict[str, None] = {}  # ordered, without repeats
    for plan in plans:
        problems += [f"run {plan.name}: {p}" for p in training_problems(plan.arguments)]
        for param, part in PARTS:
            found, said = checkpoint_problems(plan.arguments, param, part)
            problems += [f"run {plan.name}: {p}" for p in found]
            notes.update(dict.fromkeys(said))
    problems = list(dict.fromkeys(problems))
    if problems:
        raise FgsglError("these runs would fail in their pods; nothing was started", problems)
    if dataset is not None:
        check_keypoints(dataset, plans)
        check_fg_text(dataset, plans)
    return list(notes)


def training_problems(arguments: dict[str, Any]) -> list[str]:
    """Every bad training setting of one run (the trainer's own checks, run here)."""
    from fgsgl.runtime.parameters import training_overrides
    from fgsgl.settings import load_config

    try:
        load_config(overrides=training_overrides(arguments))
    except FgsglError as e:
        return e.problems or [e.message]
    return []


def checkpoint_problems(arguments: dict[str, Any], param: str, part: str) -> tuple[list, list]:
    """(problems, notes) for the checkpoint that parameter `param` names."""
    from fgsgl.hub import parse_ref
    from fgsgl.weights import checkpoint_of

    name = str(arguments[param])
    try:
        spec = checkpoint_of(name, part)
        ref = parse_ref(spec) if spec is not None else None
    except FgsglError as e:
        return [f"{param}: {e}"], []
    if ref is None:
        return [], []
    mirror = str(arguments.get("weights_mirror") or "")
    if ref.local is not None:
        where, config = f"the local folder {ref.local}", _read_config(str(ref.local))
        if config is None:
            return [f"{param} {name}: no config.json in {ref.local}"], []
    elif mirror:
        from fgsgl import storage

        root = storage.join(mirror, ref.mirror_name())
        where, config = f"the mirror {root}", _read_config(root)
        if config is None:
            return [
                f"{param} {name}: weights_mirror {mirror} has no {ref.mirror_name()}/config.json "
                "(the mirror holds each model as ORG/NAME@REVISION/, the hub snapshot's files)"
            ], []
    else:
        where, config = "the Hugging Face hub", None
        problem = _hub_revision_problem(ref)
        if problem:
            return [f"{param} {name}: {problem}"], []
    pin = f" at commit {ref.revision}" if ref.pinned and ref.revision else ""
    notes = [f"{param} {name}: the {part} part is fetched once from {where}{pin}"]
    if ref.local is None and not ref.pinned:
        notes.append(
            f"{param} {name}: not pinned to a commit; pin it as {ref.repo_id}@COMMIT so that "
            "reruns read the same weights (the fetch step logs the commit it got)"
        )
    problems = _layout_problems(config, name, arguments) if config and part == "vision" else []
    return [f"{param} {name}: {p}" for p in problems], notes


def _read_config(root: str) -> dict[str, Any] | None:
    from fgsgl import storage

    path = storage.join(root, "config.json")
    try:
        return json.loads(storage.read_bytes(path))
    except (FgsglError, OSError, ValueError):
        return None


def _layout_problems(config: dict[str, Any], name: str, arguments: dict[str, Any]) -> list[str]:
    """What the backbone builder would refuse, from config.json alone."""
    from fgsgl.model import internvl
    from fgsgl.model.backbones import TRAINABLE_MLP, wants_projector
    from fgsgl.runtime.parameters import training_overrides
    from fgsgl.settings import load_config

    if not name.startswith("internvl:"):
        return []
    try:
        layout = internvl.read_layout(config, name)
    except FgsglError as e:
        return e.problems or [e.message]
    cfg = load_config(overrides=training_overrides(arguments)).model
    reading = cfg.trainable_mlp
    if "projector" in TRAINABLE_MLP.get(reading, ()) and not (
        layout.projector and wants_projector(cfg)
    ):
        return [f"trainable_mlp {reading}: this checkpoint has no usable projector"]
    return []


@functools.cache
def _hub_revision_problem(ref: Any) -> str | None:
    """Whether the revision exists, when the hub can be asked (not with HF_HUB_OFFLINE);
    asked once per id and revision."""
    from huggingface_hub import HfApi, constants
    from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError

    if constants.HF_HUB_OFFLINE:
        return None
    try:
        HfApi().model_info(ref.repo_id, revision=ref.revision, timeout=10)
    except RevisionNotFoundError:
        return f"revision {ref.revision!r} of {ref.repo_id} does not exist on the hub"
    except RepositoryNotFoundError:
        return f"{ref.repo_id} is not on the Hugging Face hub (or it is private)"
    except Exception as e:  # no network here: the pod may have it; say so and go on
        log.warning("could not ask the hub about %s (%s); not checked", ref.spec, type(e).__name__)
    return None


def epoch_budget(arguments: dict[str, Any]) -> str:
    """One run's training schedule in a line: stages, epochs, total, model selection."""
    from fgsgl.runtime.parameters import training_overrides
    from fgsgl.settings import load_config
    from fgsgl.train.stages import plan_stage

    cfg = load_config(overrides=training_overrides(arguments))
    stages = (
        [plan_stage(cfg, 1), plan_stage(cfg, 2)] if cfg.ablation.ml_co else [plan_stage(cfg, 2)]
    )
    parts = [f"stage {p.stage} {p.epochs} ({' + '.join(p.weights)})" for p in stages]
    if not cfg.ablation.ml_co:
        parts = [f"one stage {stages[0].epochs} ({' + '.join(stages[0].weights)})"]
    scope = "each stage" if cfg.ablation.ml_co and cfg.selection == "stage" else "the whole run"
    total = sum(p.epochs for p in stages)
    return f"{' + '.join(parts)} = {total} epochs; best val top-1 of {scope} kept"


def needs_fg_text(arguments: dict[str, Any]) -> bool:
    """Whether a run trains L_fg on fine-grained texts T_fg (full, no_cp_a, no_ml_co)."""
    return bool(arguments["fg_sa"]) and arguments["text_granularity"] == "fine"


def check_fg_text(ds: Any, plans: list[PlannedRun]) -> None:
    """The runs that train on T_fg need fine-grained texts for most clips: refuse them
    before anything starts, naming them and the three ways to get such texts."""
    from fgsgl.attributes.coverage import coverage
    from fgsgl.text.encode import FG_WAYS, MIN_FG_SHARE

    refused: dict[str, str] = {}
    cover = None
    for plan in plans:
        if not needs_fg_text(plan.arguments):
            continue
        cover = cover or coverage(ds)
        mode = plan.arguments["fg_attributes"]
        if cover.usable(mode).sum() < MIN_FG_SHARE * cover.clips:
            refused[plan.name] = (
                f"fg_attributes={mode}: {cover.describe(mode)}, of {cover.clips} clips"
            )
    if refused:
        names = ", ".join(refused)
        raise FgsglError(
            f"run(s) {names} train FG-SA on fine-grained texts (T_fg), and fewer than "
            f"{MIN_FG_SHARE:.0%} of the clips of {ds.root} can have one; the variants without "
            "T_fg (no_fg_sa, class_text, clip_mg) can run on it",
            [f"{name}: {why}" for name, why in refused.items()]
            + [f"to get fine-grained texts: {way}" for way in FG_WAYS],
        )


def check_keypoints(ds: Any, plans: list[PlannedRun]) -> None:
    """The runs whose model family reads keypoints (CLIP-MG) need them for every clip of
    the dataset; one error naming the runs and the clips."""
    from fgsgl.model import family_class

    runs = [p.name for p in plans if family_class(p.arguments["family"]).needs_keypoints]
    missing = ds.manifest.loc[ds.manifest["keypoints"].isna(), "clip_id"].astype(str).tolist()
    if runs and missing:
        shown = ", ".join(missing[:10]) + (" ..." if len(missing) > 10 else "")
        raise FgsglError(
            f"run(s) {', '.join(runs)} need per-frame keypoints, and {len(missing)} of "
            f"{len(ds.manifest)} clips of {ds.root} have none: {shown}",
            [
                "SynthMG: generate it with `fgsgl synth --keypoints`; other datasets: a "
                "keypoints column in the manifest naming each clip's .npy file (F, J, 2|3)",
                "or leave those variants out (--variant full,no_fg_sa,...)",
            ],
        )
