"""The default-preset SynthMG study behind `make study-default`: every variant x seeds, one
page (the compositional study of `make study` is pipelines/study_compositional.py).

Why a module: the results page must say exactly how its numbers were made (command,
dataset parameters, versions, machine, wall time), so the code that runs the study also
writes the page. It generates SynthMG (or reuses it), runs every variant once per seed
through `fgsgl run-local` (extraction and text encoding are cached across variants and
seeds), and writes `fgsgl compare`'s table and chart to the page. A section headed
"## Reading" in an existing page is kept: that is the part a person writes.

    python -m fgsgl.pipelines.study [--out study-out] [--page docs/results/synthmg.md]
        [--seeds 0,1,2]
"""

from __future__ import annotations

import argparse
import dataclasses
import platform
import shutil
import sys
import time
from importlib.metadata import version
from pathlib import Path

from fgsgl.runtime.cpus import available_cpus

READING = "## Reading"
PACKAGES = ("fgsgl", "torch", "transformers", "peft", "kfp", "decord2", "numpy")


def run_study(
    out: Path,
    page: Path,
    *,
    variants: str = "all",
    seeds: list[int],
    config: str = "cpu-tiny",
    preset: str = "default",
    command: str = "",
) -> Path:
    """Run the study into `out` and write the results page (and its chart beside it)."""
    from fgsgl.evaluate.compare_report import CHART, compare
    from fgsgl.pipelines.local import run_local
    from fgsgl.synth.config import PRESETS
    from fgsgl.synth.generate import generate

    started = time.perf_counter()
    synth = dataclasses.replace(PRESETS[preset], keypoints=True)
    dataset = out / "synthmg"
    if not (dataset / "manifest.csv").is_file():
        generate(dataset, synth)
    result = run_local(dataset, variants, out / "runs", cache=True, seeds=seeds, config=config)
    evaluations = [r.evaluation for r in result.runs if r.evaluation]
    markdown = compare(evaluations)["markdown"]
    wall = time.perf_counter() - started

    page.parent.mkdir(parents=True, exist_ok=True)
    chart = page.with_suffix(".png")
    shutil.copyfile(out / "runs" / "compare" / CHART, chart)
    executed = len(result.executions)
    total = sum(len(r.tasks) for r in result.runs)
    header = [
        "# SynthMG ablation study: the default preset",
        "",
        "(The default-preset study; the study that can answer the paper's questions is",
        "[synthmg-compositional.md](synthmg-compositional.md), `make study`.)",
        "",
        f"Written by `{command or 'make study-default'}`; every number below is from that run.",
        "",
        f"- dataset: SynthMG preset `{preset}` with keypoints: "
        + ", ".join(f"{f.name}={getattr(synth, f.name)}" for f in dataclasses.fields(synth)),
        f"- settings: `--config {config}`; variants `{variants}`; seeds "
        f"{', '.join(map(str, seeds))}",
        f"- machine: {available_cpus()} CPUs available, no GPU; {platform.platform()}; "
        f"Python {platform.python_version()}",
        "- versions: " + ", ".join(f"{p} {_version(p)}" for p in PACKAGES),
        f"- code: commit {_commit()}",
        f"- wall time: {wall / 60:.1f} min ({executed} of {total} tasks executed, the rest "
        "from the cache)",
        "",
        "",
    ]
    body = markdown.split("\n", 2)[2] if markdown.startswith("# ") else markdown
    page.write_text(
        "\n".join(header)
        + body.rstrip()
        + f"\n\n![variants on SynthMG]({chart.name})\n\n"
        + _reading(page)
    )
    return page


def _commit() -> str:
    """The checkout's commit (and whether it had uncommitted changes), when there is one."""
    import subprocess

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], capture_output=True, text=True).stdout.strip()

    try:
        head = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except OSError:
        return "unknown (no git)"
    return f"{head}{' with uncommitted changes' if dirty else ''}" if head else "unknown"


def _version(package: str) -> str:
    try:
        return version(package)
    except Exception:
        return "not installed"


def _reading(page: Path) -> str:
    """The hand-written section of an existing page, or the heading that invites one."""
    if page.is_file():
        text = page.read_text()
        if READING in text:
            return text[text.index(READING) :].rstrip() + "\n"
    return f"{READING}\n\n(What the numbers say, and why, is written here by a person.)\n"


def main(argv: list[str] | None = None) -> int:
    from fgsgl.pipelines.plan import parse_seeds

    p = argparse.ArgumentParser(prog="python -m fgsgl.pipelines.study", description=__doc__)
    p.add_argument("--out", type=Path, default=Path("study-out"), help="work folder")
    p.add_argument("--page", type=Path, default=Path("docs/results/synthmg.md"))
    p.add_argument("--variants", default="all", help="variant names, comma-separated, or all")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--config", default="cpu-tiny", help="settings file or shipped name")
    p.add_argument("--preset", default="default", help="SynthMG preset")
    args = p.parse_args(argv)
    command = "python -m fgsgl.pipelines.study " + " ".join(
        argv if argv is not None else sys.argv[1:]
    )
    page = run_study(
        args.out,
        args.page,
        variants=args.variants,
        seeds=parse_seeds(args.seeds) or [0],
        config=args.config,
        preset=args.preset,
        command=command.strip(),
    )
    print(page.read_text())
    print(f"written: {page}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
