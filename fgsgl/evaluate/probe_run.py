"""The probe step: a trained model's frozen features of a frames artifact's clips, probed
for each attribute (`fgsgl probe MODEL FRAMES OUT`).

    probe(model, frames, out) -> summary dict (rows: one per attribute x layer)

What is probed, in this order: `class` (the label itself: a sanity row, it should be the
easiest), the four FG attributes of the frames index (initiator, receiver, direction,
motion), then the dataset manifest's extra per-clip columns (on SynthMG speed, amplitude,
pattern, rest; read from the dataset's manifest.csv by clip_id: the frames index carries
only the four). Extra columns are the manifest's columns outside the dataset contract,
except numeric ones (frame numbers, measurements) and those about an attribute
(`*_source`, `*_confidence`, `*_reason`); `subject` (and any numeric column) is probed
only when asked for by name (splits are by subject, so a subject probe cannot generalise).
A value with fewer than 2 train clips is left out (its clips in every split; named in the
output). Without `attributes`, an attribute that cannot be probed (fewer than 2 values
left, no val clip) is skipped and the reason recorded; one asked for by name is refused
instead. How the probes are fitted and what within-class accuracy means:
fgsgl.evaluate.probe.

Checked before any weight is read: the model artifact (the predictor's check), that the
frames were made with the model's preprocessing (T, S, resize, sampler), the attributes,
and keypoints where the family reads them. Output through `staged_dir` (all files or none):

    probes.csv     attribute, layer, n_train, n_test, values, accuracy, chance, then the val
                   and within-class columns (fgsgl.evaluate.probe.ProbeRow)
    probes.json    the rows, the values left out and the attributes skipped (with why),
                   inputs, timing
    probes.md      the table to read
    metadata.json  kind fgsgl.probes
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fgsgl.artifacts import staged_dir, write_json, write_metadata
from fgsgl.errors import FgsglError, UsageError
from fgsgl.evaluate.probe import COLUMNS, ProbeError, Target, probe_attribute
from fgsgl.text.templates import ATTRIBUTES

log = logging.getLogger("fgsgl.evaluate")

KIND = "fgsgl.probes"
PROBES_CSV, PROBES_JSON, PROBES_MD = "probes.csv", "probes.json", "probes.md"
CLASS = "class"
ABOUT_AN_ATTRIBUTE = ("_source", "_confidence", "_reason")
SPLITS = ("train", "val", "test")


def _numeric(column: pd.Series) -> bool:
    values = column.dropna()
    values = values[values.astype(str).str.strip() != ""]
    return bool(len(values)) and bool(pd.to_numeric(values, errors="coerce").notna().all())


def _load_manifest(frames: Any, dataset: str | None, need: bool) -> tuple[pd.DataFrame | None, str]:
    """(the dataset's manifest, or None with a note why): the dataset given, else the one
    the frames were extracted from, which must still be the same tables (fingerprint)."""
    from fgsgl.dataset import load_dataset

    root = dataset or frames.meta.get("dataset")
    if not root:
        if need:
            raise FgsglError(f"{frames.root}: records no dataset; pass --dataset DIR")
        return None, "the frames record no dataset: only the index's attributes"
    if dataset is None and not Path(str(root)).is_dir():
        if need:
            raise FgsglError(
                f"the dataset the frames were extracted from is not at {root} any more; "
                "pass --dataset DIR (its manifest.csv holds the attribute columns)"
            )
        return None, f"the dataset {root} is not there: only the index's attributes"
    ds = load_dataset(root)
    if ds.fingerprint() != frames.dataset_fingerprint:
        message = (
            f"{root}: not the dataset the frames {frames.root} were extracted from (its "
            f"tables' fingerprint {ds.fingerprint()[:16]}, the frames' "
            f"{frames.dataset_fingerprint[:16]}): its attribute columns may not be these clips'"
        )
        if need or dataset is not None:
            raise FgsglError(message)
        return None, message + ": only the index's attributes"
    return ds.manifest, ""


def attribute_table(
    frames: Any, *, dataset: str | None = None, attributes: Sequence[str] | None = None
) -> tuple[pd.DataFrame, list[str], list[str]]:
    """(table, attribute names, notes): one row per frames-index row with a column per
    attribute to probe (`class` included), in the order of the module docstring."""
    from fgsgl.dataset.contract import MANIFEST_COLUMNS

    index = frames.index
    names = np.array(frames.class_names, dtype=object)
    labels = index["label"].to_numpy()
    table = pd.DataFrame({CLASS: np.where(labels >= 0, names[np.maximum(labels, 0)], None)})
    for a in ATTRIBUTES:
        if a in index:
            table[a] = index[a].to_numpy()
    if "subject" in index:  # by name only: splits are by subject, so it never generalises
        table["subject"] = index["subject"].to_numpy()
    wanted = list(attributes) if attributes else None
    need = wanted is not None and any(a not in table for a in wanted)
    manifest, notes = None, []
    if wanted is None or need or dataset is not None:
        manifest, note = _load_manifest(frames, dataset, need)
        notes = [note] if note else []
    extras: list[str] = []
    if manifest is not None:
        others = [c for c in manifest.columns if c not in MANIFEST_COLUMNS and c not in table]
        by_id = manifest.set_index("clip_id").reindex(index["clip_id"])
        for column in others:
            table[column] = by_id[column].to_numpy()
        extras = [
            c for c in others if not c.endswith(ABOUT_AN_ATTRIBUTE) and not _numeric(manifest[c])
        ]
    if wanted is None:
        return table, [CLASS, *[a for a in ATTRIBUTES if a in table], *extras], notes
    unknown = [a for a in wanted if a not in table]
    if unknown:
        raise FgsglError(
            f"attribute column(s) not in the frames index or the dataset's manifest: "
            f"{', '.join(unknown)}; there are: {', '.join(table.columns)}"
        )
    return table, list(dict.fromkeys(wanted)), notes


def plan_targets(
    table: pd.DataFrame,
    names: list[str],
    split: np.ndarray,
    labels: np.ndarray,
    *,
    strict: bool,
) -> tuple[list[Target], dict[str, str]]:
    """(targets, skipped {attribute: why}); with `strict`, one FgsglError for them all."""
    targets, skipped = [], {}
    for name in names:
        within = None if name == CLASS else labels
        try:
            targets.append(Target.of(name, table[name].to_numpy(), split, within))
        except ProbeError as e:
            skipped[name] = e.message
    if strict and skipped:
        raise FgsglError("cannot probe these attributes", list(skipped.values()))
    return targets, skipped


def check_model(model: str, frames: Any) -> dict[str, Any]:
    """The model artifact's config.json, after the predictor's checks and the frames'
    preprocessing against the model's; FgsglError otherwise (no weight read yet)."""
    from fgsgl.predict.predictor import Preprocessing, check_artifact

    _, config = check_artifact(model)
    pre = Preprocessing.from_record(config.get("preprocessing"), f"{model}/config.json")
    problem = pre.frames_problem(str(frames.root), frames.meta)
    if problem:
        raise FgsglError(f"cannot probe {model} on {frames.root}", [problem])
    return config


def probe(
    model: str,
    frames: str,
    out: str | None = None,
    *,
    attributes: Sequence[str] | None = None,
    dataset: str | None = None,
    batch_size: int = 32,
    device: str | None = "cpu",
    workers: int | None = 0,
    weights: str | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Probe every attribute of `frames`'s clips on `model`'s frozen features; write OUT
    (probes.csv, probes.json, probes.md) when given. Returns the summary (what
    probes.json holds): `rows` (dicts of ProbeRow's fields; NaN as None), `skipped`,
    `layers`, `clips`, `timing`. device: "cpu" (default), "cuda", None = CUDA where there
    is one; workers: data loader processes (None: up to 4)."""
    from fgsgl.evaluate.features import clip_features
    from fgsgl.runtime.cpus import configure_torch_threads, loader_workers
    from fgsgl.runtime.device import autocast_dtype, resolve_device
    from fgsgl.train import load_model
    from fgsgl.train.data import check_keypoints
    from fgsgl.video.frames import FramesArtifact

    started = time.perf_counter()
    if batch_size < 1:
        raise UsageError(f"batch size must be >= 1, got {batch_size}")
    art = FramesArtifact.open(frames)
    config = check_model(model, art)
    split_all = art.index["split"].to_numpy(dtype=object)
    positions = np.flatnonzero(np.isin(split_all, SPLITS))
    table, names, notes = attribute_table(art, dataset=dataset, attributes=attributes)
    table = table.iloc[positions].reset_index(drop=True)
    split = split_all[positions]
    labels = art.index["label"].to_numpy()[positions]
    targets, skipped = plan_targets(table, names, split, labels, strict=bool(attributes))
    if not targets:
        raise FgsglError(f"nothing to probe in {frames}", [f"{a}: {w}" for a, w in skipped.items()])
    if (config.get("preprocessing") or {}).get("keypoints"):
        check_keypoints(art, positions, f"model family {config.get('family')!r}")

    configure_torch_threads()
    dev = resolve_device(device)
    net, cfg = load_model(model, weights=weights)
    workers = loader_workers(workers)
    t0 = time.perf_counter()
    features = clip_features(
        net,
        art,
        positions,
        batch_size=batch_size,
        device=dev,
        workers=workers,
        autocast=autocast_dtype(cfg.precision, dev),
        progress=progress,
    )
    feature_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    rows = [
        probe_attribute(target, layer, x).as_dict()
        for target in targets
        for layer, x in features.items()
    ]
    probe_seconds = time.perf_counter() - t0
    summary = {
        "model": str(model),
        "frames": str(frames),
        "family": config.get("family"),
        "layers": list(features),
        "dims": {layer: int(x.shape[1]) for layer, x in features.items()},
        "clips": {s: int((split == s).sum()) for s in SPLITS},
        "rows": [{k: _json(v) for k, v in r.items()} for r in rows],
        "skipped": skipped,
        "dropped": {t.attribute: t.dropped for t in targets if t.dropped},
        "notes": notes,
        "device": str(dev),
        "timing": {
            "features_seconds": round(feature_seconds, 3),
            "probe_seconds": round(probe_seconds, 3),
            "seconds": round(time.perf_counter() - started, 3),
        },
    }
    for r in rows:
        log.info(
            "probe %s on %s: test %.1f %% (chance %.1f %%)",
            r["attribute"],
            r["layer"],
            100 * r["accuracy"],
            100 * r["chance"],
        )
    if out is not None:
        write_probes(out, summary)
    return summary


def _json(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def write_probes(out: str | Path, summary: dict[str, Any]) -> None:
    """probes.csv, probes.json, probes.md and metadata.json: all of them or none."""
    with staged_dir(out) as tmp:
        pd.DataFrame(summary["rows"], columns=list(COLUMNS)).to_csv(tmp / PROBES_CSV, index=False)
        write_json(tmp / PROBES_JSON, summary)
        (tmp / PROBES_MD).write_text(render(summary))
        write_metadata(
            tmp,
            KIND,
            model=summary["model"],
            frames=summary["frames"],
            layers=summary["layers"],
            attributes=list(dict.fromkeys(r["attribute"] for r in summary["rows"])),
        )


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}"


def render(summary: dict[str, Any]) -> str:
    """probes.md: the table, what the columns mean, what was skipped."""
    clips = summary["clips"]
    lines = [
        "# Linear probes of the attributes",
        "",
        f"Model `{summary['model']}` ({summary['family']}), frames `{summary['frames']}`: "
        f"{clips['train']} train / {clips['val']} val / {clips['test']} test clips; "
        "features " + ", ".join(f"{k} ({d})" for k, d in summary["dims"].items()) + ".",
        "",
        "A multinomial logistic regression on the standardised frozen features, fitted on "
        "the train clips (L2 penalty chosen on val), scored on the test clips (%). Chance: "
        "the majority rate on those clips. Within class: the same probe given the true "
        "class too, on the classes in which the attribute varies; its chance is what the "
        "class alone gives, each test clip guessed its class's most common train value "
        "(above it, the feature sees the attribute beyond the class).",
        "",
        "| attribute | layer | values | train / test | test | chance | val | within class"
        " | within chance | classes |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in summary["rows"]:
        lines.append(
            f"| {r['attribute']} | {r['layer']} | {r['values']} | {r['n_train']} / "
            f"{r['n_test']} | {_pct(r['accuracy'])} | {_pct(r['chance'])} | "
            f"{_pct(r['val_accuracy'])} | {_pct(r['within_accuracy'])} | "
            f"{_pct(r['within_chance'])} | {r['within_classes'] or '–'} |"
        )
    if summary["dropped"]:
        lines += ["", "Left out (values with fewer than 2 train clips; clips in all splits):", ""]
        for attribute, values in summary["dropped"].items():
            shown = ", ".join(f"{v!r} ({n})" for v, n in list(values.items())[:8])
            more = f" and {len(values) - 8} more" if len(values) > 8 else ""
            lines.append(f"- {attribute}: {shown}{more}")
    if summary["skipped"]:
        lines += ["", "Not probed:", ""]
        lines += [f"- {why}" for why in summary["skipped"].values()]
    if summary["notes"]:
        lines += ["", *[f"Note: {n}." for n in summary["notes"]]]
    t = summary["timing"]
    n = sum(clips.values())
    lines += [
        "",
        f"{n} clips: features {t['features_seconds']:.1f} s on {summary['device']}, "
        f"probes {t['probe_seconds']:.1f} s.",
        "",
    ]
    return "\n".join(lines)
