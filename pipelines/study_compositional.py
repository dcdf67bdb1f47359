"""The compositional SynthMG study behind `make study` (issue 21): can this benchmark show
the paper's four claims, and which way do they fall?

The default-preset study (pipelines/study.py, docs/results/synthmg.md) could not tell any
ablation from `full`: its texts carry nothing beyond the class and its 72 test clips give
~4.4 points of noise. This one runs on `fgsgl synth --preset compositional` (classes as
receiver x motion, visible within-class attributes in the texts, a background shortcut in
train/val, low-shot classes, 2,048 test clips) and reports, for each claim, the paired
difference, its interval and the minimum detectable effect (fgsgl.evaluate.paired):

    claim                                      comparison (variant - full)
    FG-SA helps (Table II)                     no_fg_sa
    CP-A helps (Table II)                      no_cp_a
    two stages beat one, ML-CO (Table II)      no_ml_co
    fine-grained text beats class text (III)   class_text

Besides the headline top-1 it measures what the mechanisms predict: top-1 on the low-shot
classes (attributes learnt from other classes), the reliance on the shortcut (top-1 on
test clips whose distractor cue happens to be the class's own vs the rest), linear
probes of the attributes on frozen f_mid / f_high (fgsgl.evaluate.probe_run) for the
first `probe_seeds` seeds, and the texts' geometry (the texts artifact's record).

Every run goes through `fgsgl run-local` with one cache, so the seeds pair runs: full,
no_fg_sa and class_text share stage 1 per seed, and every run shares one extraction and
one text encoding.

    python -m fgsgl.pipelines.study_compositional [--out study-compositional]
        [--page docs/results/synthmg-compositional.md] [--seeds 0,1,2,3,4,5]
        [--baseline-seeds 0,1] [--config cpu-compositional] [--probe-seeds 0,1]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fgsgl.pipelines.study_page import render_page

ABLATIONS = ("full", "no_fg_sa", "no_cp_a", "no_ml_co", "class_text")
BASELINE = "clip_mg"
PROBED = ("class", "initiator", "receiver", "motion", "direction", "speed", "amplitude")
PRESET = "compositional"


@dataclasses.dataclass
class StudyRuns:
    """What the runs left: each run's record, and the shared artifacts."""

    records: list[Any]  # fgsgl.runtime.runs.RunRecord
    dataset: Path
    frames: str
    texts: str
    executed: int
    total: int


def run_runs(
    out: Path,
    *,
    seeds: Sequence[int],
    baseline_seeds: Sequence[int],
    config: str,
    variants: Sequence[str] = ABLATIONS,
) -> StudyRuns:
    """Generate the dataset (once) and run the ablations (`variants`, full among them) and
    the baseline through run-local into out/runs, sharing one cache."""
    from fgsgl.pipelines.local import run_local
    from fgsgl.synth.config import PRESETS
    from fgsgl.synth.generate import generate

    dataset = out / "synthmg"
    if not (dataset / "manifest.csv").is_file():
        generate(dataset, dataclasses.replace(PRESETS[PRESET], keypoints=True))
    results = [run_local(dataset, list(variants), out / "runs", seeds=seeds, config=config)]
    if baseline_seeds:
        results.append(
            run_local(dataset, BASELINE, out / "runs", seeds=baseline_seeds, config=config)
        )
    records = [r for result in results for r in result.runs]
    first = records[0]
    return StudyRuns(
        records=records,
        dataset=dataset,
        frames=first.task("extract_frames").outputs["frames"],
        texts=first.task("encode_text").outputs["texts"],
        executed=sum(len(result.executions) for result in results),
        total=sum(len(r.tasks) for r in records),
    )


def shortcut_reliance(runs: Sequence[Any], manifest: Any) -> dict[str, dict[str, list[float]]]:
    """Per variant, per run: top-1 on the test clips whose distractor cue is their own
    class's ("agrees") and on the others. In test the cue is independent of the class, so a
    model that ignores it scores the same on both; the gap is what it learnt to read."""
    agrees = dict(zip(manifest.clip_id, manifest.shortcut_agrees.astype(int), strict=True))
    out: dict[str, dict[str, list[float]]] = {}
    for run in runs:
        p = run.evaluation.predictions
        hit = (p.label == p.prediction).to_numpy()
        mask = p.clip_id.map(agrees).to_numpy() == 1
        row = out.setdefault(run.variant, {"agrees": [], "disagrees": [], "clips": []})
        row["agrees"].append(float(hit[mask].mean()))
        row["disagrees"].append(float(hit[~mask].mean()))
        row["clips"] = [int(mask.sum()), int((~mask).sum())]
    return out


def probe_runs(
    records: Sequence[Any], frames: str, dataset: Path, seeds: Sequence[int], out: Path
) -> list[dict[str, Any]]:
    """Probe the final model of every run whose seed is in `seeds`; each summary gains
    `variant` and `seed`. Cached in out/probes/RUN.json (a rerun of the page is cheap)."""
    from fgsgl.evaluate.probe_run import probe

    summaries, attributes = [], _probed(dataset)
    for record in records:
        if record.seed not in seeds:
            continue
        cached = out / "probes" / f"{record.name}.json"
        if cached.is_file():
            summaries.append(json.loads(cached.read_text()))
            continue
        model = record.task("train_stage2").outputs["model"]
        summary = probe(model, frames, dataset=str(dataset), attributes=attributes)
        summary = {"variant": record.variant, "seed": record.seed, **summary}
        cached.parent.mkdir(parents=True, exist_ok=True)
        cached.write_text(json.dumps(summary, default=str))
        summaries.append(summary)
    return summaries


def _probed(dataset: Path) -> list[str]:
    """The probed attributes the manifest has (every one on the compositional preset)."""
    import pandas as pd

    columns = set(pd.read_csv(dataset / "manifest.csv", nrows=1).columns)
    return [a for a in PROBED if a == "class" or a in columns]


def run_study(
    out: Path,
    page: Path,
    *,
    seeds: Sequence[int],
    baseline_seeds: Sequence[int],
    probe_seeds: Sequence[int],
    config: str,
    command: str,
    variants: Sequence[str] = ABLATIONS,
) -> Path:
    """Run the study into `out` and write the results page (claims whose ablation is not
    among `variants` read "not run")."""
    import pandas as pd

    from fgsgl.artifacts import read_metadata
    from fgsgl.evaluate.compare import load_runs
    from fgsgl.evaluate.paired import analyse_runs
    from fgsgl.synth.compositional import low_shot_classes

    started = time.perf_counter()
    done = run_runs(
        out, seeds=seeds, baseline_seeds=baseline_seeds, config=config, variants=variants
    )
    evaluations = [r.evaluation for r in done.records if r.evaluation]
    runs, _ = load_runs(evaluations)
    low_shot = low_shot_classes(done.dataset)
    analysis = analyse_runs(runs, metrics=("top1",))
    low = analyse_runs(runs, classes=low_shot, metrics=("top1",))
    manifest = pd.read_csv(done.dataset / "manifest.csv")
    reliance = shortcut_reliance(runs, manifest)
    probes = probe_runs(done.records, done.frames, done.dataset, probe_seeds, out)
    geometry = read_metadata(done.texts).get("geometry")
    text = render_page(
        command=command,
        config=config,
        seeds=seeds,
        baseline_seeds=baseline_seeds,
        probe_seeds=probe_seeds,
        done=done,
        analysis=analysis,
        low=low,
        reliance=reliance,
        probes=probes,
        geometry=geometry,
        manifest=manifest,
        page=page,
        wall=total_wall(out, time.perf_counter() - started, done.executed),
    )
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(text)
    return page


def total_wall(out: Path, seconds: float, executed: int) -> float:
    """What the numbers cost: the seconds of the invocations on `out` that executed tasks
    (a study interrupted and resumed adds up; a page redrawn from the cache adds nothing),
    kept in out/wall.json."""
    record = out / "wall.json"
    earlier = json.loads(record.read_text())["seconds"] if record.is_file() else None
    if earlier is not None and not executed:
        return earlier
    total = (earlier or 0.0) + seconds
    record.write_text(json.dumps({"seconds": total}))
    return total


def main(argv: list[str] | None = None) -> int:
    from fgsgl.pipelines.plan import parse_seeds

    p = argparse.ArgumentParser(
        prog="python -m fgsgl.pipelines.study_compositional",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--out", type=Path, default=Path("study-compositional"), help="work folder")
    p.add_argument("--page", type=Path, default=Path("docs/results/synthmg-compositional.md"))
    p.add_argument("--seeds", default="0,1,2,3,4,5", help="seeds of the five FG-SGL variants")
    p.add_argument("--baseline-seeds", default="0,1", help="seeds of CLIP-MG ('' = none)")
    p.add_argument("--probe-seeds", default="0,1", help="seeds whose models are probed ('' = none)")
    p.add_argument("--config", default="cpu-compositional", help="settings file or name")
    p.add_argument(
        "--variants",
        default=",".join(ABLATIONS),
        help="the FG-SGL variants to run, full among them (default: all five); e.g. "
        "full,no_fg_sa,class_text share stage 1, the cheapest subset",
    )
    args = p.parse_args(argv)
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = sorted(set(variants) - set(ABLATIONS))
    if unknown or "full" not in variants:
        p.error(
            f"--variants {args.variants!r}: FG-SGL variants of {', '.join(ABLATIONS)}, "
            f"full among them{f' (unknown: {unknown})' if unknown else ''}"
        )
    command = "python -m fgsgl.pipelines.study_compositional " + " ".join(
        argv if argv is not None else sys.argv[1:]
    )
    page = run_study(
        args.out,
        args.page,
        seeds=parse_seeds(args.seeds) or [0],
        baseline_seeds=parse_seeds(args.baseline_seeds) if args.baseline_seeds.strip() else [],
        probe_seeds=parse_seeds(args.probe_seeds) if args.probe_seeds.strip() else [],
        config=args.config,
        command=command.strip(),
        variants=variants,
    )
    print(page.read_text())
    print(f"written: {page}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
